/*
** snapshot_store.h — the port through which the domain reads and writes snapshots: an aggregate's
** state as JSON at some version, taken under a fingerprint of the code that folded it
** (registry.h). A snapshot is only ever an optimisation: the domain uses one only when its
** fingerprint is the type's and its version is not ahead of the stream, and folds the events after
** it; a snapshot that is missing, deleted or unreadable only costs a fold from the start. The
** SQLite adapter is ext/store/snapshots.c; unit tests use a fake.
*/
#ifndef ES_PORTS_SNAPSHOT_STORE_H
#define ES_PORTS_SNAPSHOT_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "../domain/error.h"

typedef struct es_snapshot_store {
  void *self;
  /* The stream's snapshot taken under fingerprint: *found, its version and its state (JSON text,
  ** es_mem_alloc'd, the caller frees it). */
  es_status (*load)(void *self, const char *aggregate_type, const char *aggregate_id, const char *fingerprint,
                    int *found, int64_t *version, char **state, size_t *len, es_error *err);
  /* Keep this state as the stream's snapshot under fingerprint (replacing an older one), in the
  ** command's unit of work. */
  es_status (*save)(void *self, const char *aggregate_type, const char *aggregate_id, const char *fingerprint,
                    int64_t version, const char *state, size_t len, es_error *err);
} es_snapshot_store;

#endif
