/*
** snapshots.c — the SQLite adapter of the snapshot port (ports/snapshot_store.h): es_snapshots
** keeps one state per stream and fingerprint, replaced as the stream grows. The table is created
** with the log (a snapshot is taken inside a command, where creating it could make a rollback abort
** a batch's scan); a database without it takes no snapshots. Only sqlite-es writes it; anyone may
** delete from it: a snapshot only saves time.
*/
#include <string.h>

#include "../domain/mem.h"
#include "store_internal.h"

static es_status snap_load(void *self, const char *aggregate_type, const char *aggregate_id, const char *fingerprint,
                           int *found, int64_t *version, char **state, size_t *len, es_error *err) {
  es_store *s = self;
  *found = 0;
  *state = 0;
  *len = 0;
  if (!es_table_exists(s, ES_TABLE_SNAPSHOTS)) return ES_OK;
  sqlite3_stmt *q = es_store_cached(s,
                                    sqlite3_mprintf("SELECT version, state FROM main.es_snapshots WHERE aggregate_type = ?1"
                                                    " AND aggregate_id = ?2 AND fingerprint = ?3"),
                                    err);
  if (!q) return err->status;
  sqlite3_bind_text(q, 1, aggregate_type, -1, SQLITE_STATIC);
  sqlite3_bind_text(q, 2, aggregate_id, -1, SQLITE_STATIC);
  sqlite3_bind_text(q, 3, fingerprint, -1, SQLITE_STATIC);
  es_status rc = ES_OK;
  int src = sqlite3_step(q);
  if (src == SQLITE_ROW && sqlite3_column_type(q, 0) == SQLITE_INTEGER && sqlite3_column_type(q, 1) == SQLITE_TEXT) {
    *len = (size_t)sqlite3_column_bytes(q, 1);
    *state = es_mem_strndup((const char *)sqlite3_column_text(q, 1), *len);
    *version = sqlite3_column_int64(q, 0);
    *found = *state != 0;
    if (!*state) rc = es_error_set(err, ES_NOMEM, 0);
  } else if (src != SQLITE_ROW && src != SQLITE_DONE) {
    rc = es_store_error(s->db, src, "reading a snapshot", err);
  }
  sqlite3_reset(q);
  sqlite3_clear_bindings(q);
  return rc;
}

static es_status snap_save(void *self, const char *aggregate_type, const char *aggregate_id, const char *fingerprint,
                           int64_t version, const char *state, size_t len, es_error *err) {
  es_store *s = self;
  if (!es_table_exists(s, ES_TABLE_SNAPSHOTS)) return ES_OK;
  sqlite3_stmt *st = es_store_cached(
      s,
      sqlite3_mprintf("INSERT INTO main.es_snapshots(aggregate_type, aggregate_id, fingerprint, version, state, recorded_at)"
                      " VALUES (?1, ?2, ?3, ?4, ?5, strftime('%%Y-%%m-%%dT%%H:%%M:%%fZ','now'))"
                      " ON CONFLICT(aggregate_type, aggregate_id, fingerprint) DO UPDATE SET version = excluded.version,"
                      " state = excluded.state, recorded_at = excluded.recorded_at"),
      err);
  if (!st) return err->status;
  sqlite3_bind_text(st, 1, aggregate_type, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, aggregate_id, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 3, fingerprint, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 4, version);
  sqlite3_bind_text64(st, 5, state, len, SQLITE_STATIC, SQLITE_UTF8);
  s->wrote = 1;
  es_store_arm_table(s, "es_snapshots"); /* an upsert runs the INSERT guard, then maybe the UPDATE one */
  es_status rc = es_store_run(s, st, "taking a snapshot", err);
  es_store_arm_table(s, 0);
  return rc;
}

es_snapshot_store es_store_snapshot_port(es_store *s) {
  es_snapshot_store p = {.self = s, .load = snap_load, .save = snap_save};
  return p;
}
