/*
** command.h — the command loop: load state → decide → evolve → append. Pure domain: storage is
** reached through the event-store port, and the caller owns the unit of work around it
** (ext/sqlapi/txn_policy.c): it commits on ES_OK and rolls back on anything else.
*/
#ifndef ES_DOMAIN_COMMAND_H
#define ES_DOMAIN_COMMAND_H

#include <stddef.h>
#include <stdint.h>

#include "../ports/event_store.h"
#include "../ports/snapshot_store.h"
#include "registry.h"
#include "state_cache.h"

#define ES_MAX_ID_BYTES 1000                 /* aggregate types, ids, command types */
#define ES_DEFAULT_MAX_PAYLOAD_BYTES 1048576 /* payload and metadata */
#define ES_OPTIONS_SLACK_BYTES 4096          /* options may exceed that limit by this much */
#define ES_DEFAULT_SNAPSHOT_EVERY 100        /* a snapshot each time a stream passes a multiple of it */

typedef struct es_command_request {
  const char *aggregate_type;
  const char *aggregate_id;
  const char *command_type;
  const char *payload; /* JSON object text; NULL means {} */
  size_t payload_len;
  const char *options; /* JSON object text; NULL means none */
  size_t options_len;
  size_t max_payload_bytes; /* 0 means ES_DEFAULT_MAX_PAYLOAD_BYTES */
} es_command_request;

typedef struct es_command_result {
  int64_t version;  /* the aggregate's version after the command */
  int64_t position; /* position of its last event; 0 when it appended none */
  int64_t n_events; /* events appended */
  int duplicate;    /* 1 when command_id had already succeeded: nothing was appended */
} es_command_result;

/* Check arguments that need no storage (ids, aggregate, command, payload size). */
es_status es_command_check(const es_registry *reg, const es_command_request *req, es_error *err);

/* Decide and append one command. On failure nothing must be kept: the caller rolls back. */
es_status es_command_run(const es_registry *reg, const es_event_store *store,
                         const es_command_request *req, es_command_result *res, es_error *err);
/* What makes a command fast, all optional: a state cache (the state comes from it when it can, and
** the state the command leaves is staged in it; the caller commits or aborts the cache with its unit
** of work), and snapshots (read when the cache has nothing, taken every snapshot_every events). */
typedef struct es_command_env {
  es_state_cache *cache;
  const es_snapshot_store *snapshots;
  int64_t snapshot_every; /* 0: take none */
} es_command_env;
es_status es_command_run_with(const es_registry *reg, const es_event_store *store, const es_command_env *env,
                              const es_command_request *req, es_command_result *res, es_error *err);

/* The current state of an aggregate as JSON, and its version. */
es_status es_aggregate_state_json(const es_registry *reg, const es_event_store *store,
                                  const char *aggregate_type, const char *aggregate_id, char **json,
                                  int64_t *version, es_error *err);

/* Check an id argument: text of 1 to ES_MAX_ID_BYTES bytes ("aggregate_id must …"). */
es_status es_check_id(const char *what, const char *value, es_error *err);

#endif
