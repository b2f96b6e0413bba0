/*
** es.c — the entry point of sqlite-es: sqlite3_es_init checks the SQLite version, switches
** SQLITE_DBCONFIG_DEFENSIVE on, and registers every SQL function and virtual table from one
** table, sharing one per-connection state (sqlapi/conn.h).
*/
#include <string.h>

#ifdef SQLITE_CORE
#include <sqlite3.h>
#else
#include <sqlite3ext.h>
SQLITE_EXTENSION_INIT1
#endif

#include "es.h"
#include "es_fetch_api.h"
#include "sqlapi/conn.h"
#include "sqlapi/functions.h"
#include "sqlapi/submit.h"
#include "sqlapi/vtabs.h"

/* UPSERT without a conflict target (views) needs 3.35; sqlite3_txn_state 3.34; DIRECTONLY 3.31. */
#define ES_MIN_SQLITE_VERSION_NUMBER 3035000
#define ES_MIN_SQLITE_VERSION "3.35.0"

/* Writers may not run from views, triggers or schema (DIRECTONLY), and are not deterministic. */
#define ES_WRITER (SQLITE_UTF8 | SQLITE_DIRECTONLY)
/* Pure readers of the extension itself. */
#define ES_PURE (SQLITE_UTF8 | SQLITE_INNOCUOUS | SQLITE_DETERMINISTIC)
/* Readers of the database: their result depends on its content, so not deterministic. */
#define ES_READER (SQLITE_UTF8 | SQLITE_INNOCUOUS)

static const struct {
  const char *name;
  int n_arg;
  int flags;
  void (*fn)(sqlite3_context *, int, sqlite3_value **);
} es_functions[] = {
    {"es_submit", -1, ES_WRITER, es_submit_fn},
    {"es_try_submit", -1, ES_WRITER, es_try_submit_fn},
    {"es_stream_version", 2, ES_READER, es_stream_version_fn},
    {"es_state", 2, ES_READER, es_state_fn},
    {"es_version", 0, ES_PURE, es_version_fn},
    {"es_debug", 0, ES_PURE, es_debug_fn},
    {"es_hash", 1, ES_PURE, es_hash_fn},
    {"es_create_consumer", 1, ES_WRITER, es_create_consumer_fn},
    {"es_create_consumer", 2, ES_WRITER, es_create_consumer_fn},
    {"es_create_consumer", 4, ES_WRITER, es_create_consumer_fn},
    {"es_ack", 2, ES_WRITER, es_ack_fn},
    {"es_config", 1, ES_WRITER, es_config_fn},
    {"es_config", 2, ES_WRITER, es_config_fn},
    {"es_protect", 0, ES_WRITER, es_protect_fn},
    {"es_api", 1, ES_WRITER, es_api_fn},
    {"es_create_view", 2, ES_WRITER, es_create_view_fn},
    {"es_rebuild", 1, ES_WRITER, es_rebuild_fn},
    {"es_drop_view", 1, ES_WRITER, es_drop_view_fn},
    {"es_create_aggregate", 3, ES_WRITER, es_create_aggregate_fn},
    {"es_create_decider", 3, ES_WRITER, es_create_decider_fn},
    {"es_create_evolver", 2, ES_WRITER, es_create_evolver_fn},
    {"es_create_evolver", 3, ES_WRITER, es_create_evolver_fn},
    /* Used inside decider views, so not DIRECTONLY. Audited INNOCUOUS: it returns 1 or raises an
    ** error, and records the rejection only for the decider running on this connection. */
    {"es_require", 3, SQLITE_UTF8 | SQLITE_INNOCUOUS, es_require_fn},
    {"es_payload_int", 1, SQLITE_UTF8 | SQLITE_INNOCUOUS, es_payload_int_fn},
    {"es_payload_text", 1, SQLITE_UTF8 | SQLITE_INNOCUOUS, es_payload_text_fn},
    /* Runs deciders and evolvers against events in memory: it writes nothing. */
    {"es_test_command", 3, SQLITE_UTF8, es_test_command_fn},
    {"es_test_command", 4, SQLITE_UTF8, es_test_command_fn},
    /* Called by the protection triggers, so it cannot be DIRECTONLY; INNOCUOUS so the triggers
    ** also work under trusted_schema=OFF. Audited: outside the append step it returns 0 and does
    ** nothing; it only ever consumes the one write the store armed. */
    {"es_internal_write", 1, SQLITE_UTF8 | SQLITE_INNOCUOUS, es_internal_write_fn},
};

/* Already loaded on this connection? Then keep its state (and its registered aggregates). */
static int already_loaded(sqlite3 *db) {
  es_api *api = es_fetch_api(db);
  /* On a first load the probe fails ("no such function"); leave no error on the connection:
  ** sqlite3_open_v2 checks it after running auto-extensions. */
  sqlite3_exec(db, "", 0, 0, 0);
  return api && api->iVersion >= 1 && api->xRegisterAggregate;
}

ES_API int sqlite3_es_init(sqlite3 *db, char **pzErrMsg, const sqlite3_api_routines *pApi) {
  es_conn *c = 0;
  int rc = SQLITE_OK;
#ifndef SQLITE_CORE
  SQLITE_EXTENSION_INIT2(pApi);
#else
  (void)pApi;
#endif
  if (sqlite3_libversion_number() < ES_MIN_SQLITE_VERSION_NUMBER) {
    if (pzErrMsg)
      *pzErrMsg = sqlite3_mprintf("es: sqlite-es %s needs SQLite %s or newer; this is SQLite %s", ES_VERSION_STRING,
                                  ES_MIN_SQLITE_VERSION, sqlite3_libversion());
    return SQLITE_ERROR;
  }
  if (already_loaded(db)) return SQLITE_OK;
  sqlite3_db_config(db, SQLITE_DBCONFIG_DEFENSIVE, 1, (int *)0);
  c = es_conn_new(db);
  if (!c) return SQLITE_NOMEM;
  for (size_t i = 0; i < sizeof(es_functions) / sizeof(es_functions[0]) && rc == SQLITE_OK; i++) {
    es_conn_ref(c);
    rc = sqlite3_create_function_v2(db, es_functions[i].name, es_functions[i].n_arg, es_functions[i].flags, c,
                                    es_functions[i].fn, 0, 0, es_conn_unref);
    if (rc != SQLITE_OK && pzErrMsg)
      *pzErrMsg = sqlite3_mprintf("es: cannot register %s: %s", es_functions[i].name, sqlite3_errmsg(db));
  }
  if (rc == SQLITE_OK && (rc = es_register_stream_vtab(db, c)) != SQLITE_OK && pzErrMsg)
    *pzErrMsg = sqlite3_mprintf("es: cannot register es_stream: %s", sqlite3_errmsg(db));
  if (rc == SQLITE_OK && (rc = es_register_aggregates_vtab(db, c)) != SQLITE_OK && pzErrMsg)
    *pzErrMsg = sqlite3_mprintf("es: cannot register es_aggregates: %s", sqlite3_errmsg(db));
  if (rc == SQLITE_OK && (rc = es_register_next_vtab(db, c)) != SQLITE_OK && pzErrMsg)
    *pzErrMsg = sqlite3_mprintf("es: cannot register es_next: %s", sqlite3_errmsg(db));
  if (rc == SQLITE_OK && (rc = es_register_log_vtab(db, c)) != SQLITE_OK && pzErrMsg)
    *pzErrMsg = sqlite3_mprintf("es: cannot register es_log: %s", sqlite3_errmsg(db));
  if (rc == SQLITE_OK && (rc = es_register_integrity_vtab(db, c)) != SQLITE_OK && pzErrMsg)
    *pzErrMsg = sqlite3_mprintf("es: cannot register es_integrity_check: %s", sqlite3_errmsg(db));
  if (rc == SQLITE_OK && (rc = es_register_context_vtabs(db, c)) != SQLITE_OK && pzErrMsg)
    *pzErrMsg = sqlite3_mprintf("es: cannot register es_command and es_event: %s", sqlite3_errmsg(db));
  es_conn_unref(c); /* the registrations hold the references now */
  return rc;
}
