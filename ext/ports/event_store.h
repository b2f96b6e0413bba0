/*
** event_store.h — the port through which the domain reads and appends events. The SQLite
** adapter is ext/store/event_store.c; unit tests use an in-memory fake. Every function returns
** an es_status and, on failure, fills err (kind, message, native code).
**
** The caller (ext/sqlapi/) opens the unit of work before the domain runs and commits or rolls
** it back after, so the port holds no transaction policy. The state cache lives in the domain
** (state_cache.h); snapshots will get a port of their own beside this one.
*/
#ifndef ES_PORTS_EVENT_STORE_H
#define ES_PORTS_EVENT_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "../domain/error.h"

/* One stored event, valid only during the callback. */
typedef struct es_stored_event {
  int64_t position;
  int64_t version;
  const char *type;
  const char *data; /* JSON object text */
  size_t data_len;
} es_stored_event;

typedef es_status (*es_stored_event_fn)(void *arg, const es_stored_event *ev, es_error *err);

/* An event to append: its type and data (a JSON object, already checked). */
typedef struct es_new_event {
  const char *type;
  const char *data;
  size_t data_len;
} es_new_event;

typedef struct es_append_request {
  const char *aggregate_type;
  const char *aggregate_id;
  const char *command_type;
  int64_t first_version; /* the version the first event gets: stream version + 1 */
  const es_new_event *events;
  size_t n_events;
  const char *metadata;   /* JSON object text, or NULL */
  const char *command_id; /* idempotency key, or NULL */
} es_append_request;

typedef struct es_append_result {
  int64_t last_position; /* position of the last event appended; 0 when none was */
} es_append_result;

/* What the store remembers of a command that succeeded with a command_id. */
typedef struct es_command_record {
  char *aggregate_type; /* es_mem_alloc'd; es_command_record_clear frees */
  char *aggregate_id;
  char *command_type;
  int64_t version;  /* stream version after the command */
  int64_t position; /* last position it appended, 0 if none */
} es_command_record;

void es_command_record_clear(es_command_record *r);

typedef struct es_event_store {
  void *self;
  /* Events of one stream with version > after_version, in version order. */
  es_status (*read_stream)(void *self, const char *aggregate_type, const char *aggregate_id,
                           int64_t after_version, es_stored_event_fn fn, void *arg, es_error *err);
  /* The stream's version: its highest, 0 when it has no events (a cached state is checked against it). */
  es_status (*stream_version)(void *self, const char *aggregate_type, const char *aggregate_id, int64_t *version,
                              es_error *err);
  /* *found = 0 when no command with that id succeeded. */
  es_status (*find_command)(void *self, const char *command_id, es_command_record *out, int *found,
                            es_error *err);
  /* Append events (and remember command_id, even when no event is appended). */
  es_status (*append)(void *self, const es_append_request *req, es_append_result *out, es_error *err);
} es_event_store;

#endif
