/* conn.c — creating and freeing the per-connection state (conn.h). */
#include <string.h>

#include "../domain/command.h"
#include "conn.h"

es_conn *es_conn_new(sqlite3 *db) {
  es_conn *c = sqlite3_malloc64(sizeof(*c));
  if (!c) return 0;
  memset(c, 0, sizeof(*c));
  c->db = db;
  c->refs = 1;
  c->max_payload_bytes = ES_DEFAULT_MAX_PAYLOAD_BYTES;
  c->snapshot_every = ES_DEFAULT_SNAPSHOT_EVERY;
  c->registry = es_registry_new();
  c->cache = es_state_cache_new(ES_DEFAULT_STATE_CACHE_ENTRIES);
  c->store = es_store_new(db);
  es_txn_policy_init(&c->txn, db);
  es_api_init(c);
  if (!c->registry || !c->cache || !c->store) {
    es_conn_unref(c);
    return 0;
  }
  return c;
}

void es_conn_ref(es_conn *c) { c->refs++; }

void es_conn_flush(es_conn *c) {
  es_store_flush(c->store);
  es_txn_policy_flush(&c->txn);
}

void es_conn_unref(void *p) {
  es_conn *c = p;
  if (!c || --c->refs > 0) return;
  if (c->store) es_conn_flush(c);
  es_state_cache_free(c->cache); /* before the registry: states are freed by their types' xClear */
  es_registry_free(c->registry);
  es_store_free(c->store);
  es_api_clear(c);
  es_sql_clear_outcome(c);
  sqlite3_free(c);
}

es_status es_conn_enter(es_conn *c, const char *fname, es_error *err) {
  if (c->running)
    return es_error_set(err, ES_MISUSE,
                        "%s cannot run while %s is running on this connection (a decider, an evolver or a view handler"
                        " called it): run it after %s returns",
                        fname, c->running, c->running);
  c->running = fname;
  es_store_call(c->store, 1);
  return ES_OK;
}

void es_conn_leave(es_conn *c) {
  c->running = 0;
  es_store_call(c->store, 0);
}

void es_conn_registry_changing(es_conn *c) { es_state_cache_clear(c->cache); }

/* Inside the unit of work (the lock is held): states cached under another data version may miss
** what another connection or process wrote since, so they are forgotten. */
static es_status validate_cache(es_conn *c, es_error *err) {
  int64_t version = 0;
  if (es_store_data_version(c->store, &version, err) != ES_OK) return err->status;
  if (version != c->cache_data_version) es_state_cache_clear(c->cache);
  c->cache_data_version = version;
  return ES_OK;
}

es_status es_conn_atomic(es_conn *c, const char *fname, int guarded, es_work_fn work, void *arg, es_error *err) {
  if (es_conn_enter(c, fname, err)) return err->status;
  es_status rc = es_conn_atomic_entered(c, fname, guarded, work, arg, err);
  es_conn_leave(c);
  return rc;
}

es_status es_conn_atomic_entered(es_conn *c, const char *fname, int guarded, es_work_fn work, void *arg,
                                 es_error *err) {
  es_txn_kind kind;
  es_conn_ensure_close_hook(c);
  if (es_txn_begin(&c->txn, fname, &kind, err)) return err->status;
  es_store_begin_call(c->store);
  es_status rc = es_store_open(c->store, guarded ? ES_OPEN_WRITE : ES_OPEN_REPAIR, err);
  if (rc == ES_OK) rc = validate_cache(c, err);
  if (rc == ES_OK) rc = work(c, arg, err);
  if (rc == ES_OK) { /* es_txn_commit rolls back itself when it fails */
    rc = es_txn_commit(&c->txn, kind, err);
    if (rc == ES_OK) es_state_cache_commit(c->cache);
    else es_state_cache_abort(c->cache);
    return rc;
  }
  es_state_cache_abort(c->cache);
  es_txn_rollback(&c->txn, kind, es_store_wrote(c->store));
  es_txn_explain_busy(kind, err);
  return rc;
}

/* Make sure the close hook (aggregates_vtab.c) is connected before statements are cached, so
** sqlite3_close() finds none left unfinalized. */
void es_conn_ensure_close_hook(es_conn *c) {
  if (c->close_hook_connected) return;
  sqlite3_stmt *st = 0;
  if (sqlite3_prepare_v2(c->db, "SELECT 1 FROM es_aggregates", -1, &st, 0) == SQLITE_OK) sqlite3_finalize(st);
}
