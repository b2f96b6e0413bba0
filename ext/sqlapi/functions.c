/*
** functions.c — the SQL functions other than submitting: reading one aggregate (es_stream_version,
** es_state), the extension's identity (es_version, es_debug), settings (es_config), protection
** (es_internal_write, es_protect) and the es_api hand-off.
*/
#include <string.h>

#include "../domain/command.h"
#include "../domain/mem.h"
#include "../domain/query.h"
#include "conn.h"
#include "errors.h"
#include "functions.h"

#ifndef ES_BUILD_DATE
#define ES_BUILD_DATE "unknown"
#endif
#ifndef ES_BUILD_COMMIT
#define ES_BUILD_COMMIT "unknown"
#endif
#ifndef ES_BUILD_FLAGS
#define ES_BUILD_FLAGS "unknown"
#endif

/* Both ids of an aggregate, as text. */
static es_status id_args(sqlite3_value **argv, const char **type, const char **id, es_error *err) {
  const char *names[2] = {"aggregate_type", "aggregate_id"};
  const char **out[2] = {type, id};
  for (int i = 0; i < 2; i++) {
    *out[i] = 0;
    if (sqlite3_value_type(argv[i]) != SQLITE_TEXT)
      return es_error_set(err, ES_INVALID_ARGUMENT, "%s must be text, got %s", names[i], es_value_type_name(argv[i]));
    *out[i] = (const char *)sqlite3_value_text(argv[i]);
    if (!*out[i]) return es_error_set(err, ES_NOMEM, 0);
    if (es_check_id(names[i], *out[i], err)) return err->status;
  }
  return ES_OK;
}

void es_stream_version_fn(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  es_conn *c = sqlite3_user_data(ctx);
  es_error err = {0};
  const char *type, *id;
  int64_t v = 0;
  (void)argc;
  es_conn_ensure_close_hook(c);
  if (id_args(argv, &type, &id, &err) == ES_OK && es_store_open(c->store, 0, &err) == ES_OK &&
      es_store_stream_version(c->store, type, id, &v, &err) == ES_OK)
    sqlite3_result_int64(ctx, v);
  else
    es_result_error(ctx, &err);
  es_error_clear(&err);
}

void es_state_fn(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  es_conn *c = sqlite3_user_data(ctx);
  es_error err = {0};
  const char *type, *id;
  char *json = 0;
  (void)argc;
  es_conn_ensure_close_hook(c);
  es_event_store port = es_store_port(c->store);
  if (es_conn_enter(c, "es_state", &err) == ES_OK) {
    es_status rc = es_sql_aggregates_sync(c, &err);
    if (rc == ES_OK) rc = id_args(argv, &type, &id, &err);
    if (rc == ES_OK) rc = es_store_open(c->store, 0, &err);
    if (rc == ES_OK) es_aggregate_state_json(c->registry, &port, type, id, &json, 0, &err);
    es_conn_leave(c);
  }
  if (err.status == ES_OK) {
    sqlite3_result_text(ctx, json, -1, es_mem_free);
    json = 0;
  } else {
    es_result_error(ctx, &err);
  }
  es_mem_free(json);
  es_error_clear(&err);
}

void es_version_fn(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  (void)argc, (void)argv;
  sqlite3_result_text(ctx, ES_VERSION_STRING, -1, SQLITE_STATIC);
}

void es_debug_fn(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  (void)argc, (void)argv;
  char *z = sqlite3_mprintf("Version: %s\nDate: %s\nCommit: %s\nSQLite: %s (built against %s)\n"
                            "Storage format: %d\nBuild flags: %s",
                            ES_VERSION_STRING, ES_BUILD_DATE, ES_BUILD_COMMIT, sqlite3_libversion(),
                            SQLITE_VERSION, ES_STORAGE_FORMAT, ES_BUILD_FLAGS);
  if (z) sqlite3_result_text(ctx, z, -1, sqlite3_free);
  else sqlite3_result_error_nomem(ctx);
}

/* es_hash(text): the consumer-group hash of an aggregate id (domain/query.c). */
void es_hash_fn(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  (void)argc;
  if (sqlite3_value_type(argv[0]) == SQLITE_NULL) return;
  const char *z = (const char *)sqlite3_value_text(argv[0]);
  if (!z) {
    sqlite3_result_error_nomem(ctx);
    return;
  }
  sqlite3_result_int64(ctx, es_group_hash(z, (size_t)sqlite3_value_bytes(argv[0])));
}

/* es_config(name [, value]): read or change a per-connection setting; returns its value. */
void es_config_fn(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  es_conn *c = sqlite3_user_data(ctx);
  const char *name = (const char *)sqlite3_value_text(argv[0]);
  int set = argc > 1;
  if (sqlite3_value_type(argv[0]) != SQLITE_TEXT) {
    es_result_errorf(ctx, ES_INVALID_ARGUMENT, "es_config name must be text, got %s", es_value_type_name(argv[0]));
    return;
  }
  if (set && sqlite3_value_type(argv[1]) != SQLITE_INTEGER) {
    es_result_errorf(ctx, ES_INVALID_ARGUMENT, "es_config value must be an integer, got %s",
                     es_value_type_name(argv[1]));
    return;
  }
  sqlite3_int64 v = set ? sqlite3_value_int64(argv[1]) : 0;
  if (name && strcmp(name, "defensive") == 0) {
    int now = 0;
    if (set && v != 0 && v != 1) {
      es_result_errorf(ctx, ES_INVALID_ARGUMENT, "es_config('defensive', …) takes 0 or 1");
      return;
    }
    sqlite3_db_config(c->db, SQLITE_DBCONFIG_DEFENSIVE, set ? (int)v : -1, &now);
    sqlite3_result_int(ctx, now);
  } else if (name && strcmp(name, "max_payload_bytes") == 0) {
    if (set && (v < 2 || v > 1000000000)) {
      es_result_errorf(ctx, ES_INVALID_ARGUMENT, "es_config('max_payload_bytes', …) takes 2 to 1000000000");
      return;
    }
    if (set) c->max_payload_bytes = v;
    sqlite3_result_int64(ctx, c->max_payload_bytes);
  } else if (name && strcmp(name, "snapshot_every") == 0) {
    if (set && (v < 0 || v > 1000000000)) {
      es_result_errorf(ctx, ES_INVALID_ARGUMENT, "es_config('snapshot_every', …) takes 0 to 1000000000 (events)");
      return;
    }
    if (set) c->snapshot_every = v;
    sqlite3_result_int64(ctx, c->snapshot_every);
  } else if (name && strcmp(name, "state_cache") == 0) {
    if (set && (v < 0 || v > 1000000000)) {
      es_result_errorf(ctx, ES_INVALID_ARGUMENT, "es_config('state_cache', …) takes 0 to 1000000000 (aggregate states kept)");
      return;
    }
    es_state_cache_stats stats;
    if (set) es_state_cache_set_limit(c->cache, (size_t)v);
    es_state_cache_stats_get(c->cache, &stats);
    sqlite3_result_int64(ctx, (sqlite3_int64)stats.limit);
  } else {
    es_result_errorf(ctx, ES_INVALID_ARGUMENT, "unknown setting '%s' (known: defensive, max_payload_bytes, snapshot_every, state_cache)",
                     name ? name : "");
  }
}

/* The guard in the protection triggers: 1 only for the one row the store is writing. */
void es_internal_write_fn(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  es_conn *c = sqlite3_user_data(ctx);
  (void)argc;
  sqlite3_result_int(ctx, es_store_guard_consume(c->store, (const char *)sqlite3_value_text(argv[0])));
}

/* es_protect(): recreate missing protection triggers; returns how many were. */
static es_status protect_step(es_conn *c, void *arg, es_error *err) { return es_store_protect(c->store, arg, err); }

void es_protect_fn(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  es_conn *c = sqlite3_user_data(ctx);
  es_error err = {0};
  int created = 0;
  (void)argc, (void)argv;
  es_conn_atomic(c, "es_protect", 0, protect_step, &created, &err); /* not guarded: it repairs the guards */
  if (err.status == ES_OK) sqlite3_result_int(ctx, created);
  else es_result_error(ctx, &err);
  es_error_clear(&err);
}

/* es_api(?1): write this connection's es_api* into the pointer bound as "es_api_ptr". */
void es_api_fn(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  es_conn *c = sqlite3_user_data(ctx);
  (void)argc;
  es_api **out = sqlite3_value_pointer(argv[0], "es_api_ptr");
  if (!out) {
    es_result_errorf(ctx, ES_INVALID_ARGUMENT,
                     "es_api(?1) needs a pointer bound with sqlite3_bind_pointer(…, \"es_api_ptr\", …)");
    return;
  }
  *out = &c->api.pub;
  sqlite3_result_null(ctx);
}
