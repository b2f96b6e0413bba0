/*
** consumers.c — durable consumers of the log: a named checkpoint (the position of the last event
** the consumer acknowledged) with an optional category and consumer-group split, stored in
** es_checkpoints and shown with their lag by the es_consumers view. Reading the next batch goes
** through the log query struct; acknowledging moves the checkpoint forward only, in the caller's
** transaction, so a consumer that writes its results to the same database acknowledges them
** atomically (exactly once there).
*/
#include <string.h>

#include "store_internal.h"

static int consumers_table_exists(es_store *s) { return es_table_exists(s, ES_TABLE_CHECKPOINTS); }

es_status es_consumer_create(es_store *s, const char *name, const char *aggregate_type, int64_t member, int64_t size,
                             es_error *err) {
  if (size < 0 || (size == 0 && member != 0) || (size > 0 && (member < 0 || member >= size)))
    return es_error_set(err, ES_INVALID_ARGUMENT,
                        "consumer group member must be 0 to size - 1 (member %lld, size %lld)", (long long)member,
                        (long long)size);
  es_status rc = s->exists ? ES_OK : es_store_create(s, err);
  if (rc == ES_OK) rc = es_table_ensure(s, ES_TABLE_CHECKPOINTS, err);
  if (rc != ES_OK) return rc;
  sqlite3_stmt *st = es_store_cached(
      s,
      sqlite3_mprintf("INSERT INTO main.es_checkpoints(name, aggregate_type, group_member, group_size, position, updated_at)"
                      " VALUES (?1, ?2, ?3, ?4, 0, strftime('%%Y-%%m-%%dT%%H:%%M:%%fZ','now'))"
                      " ON CONFLICT(name) DO UPDATE SET aggregate_type = excluded.aggregate_type,"
                      " group_member = excluded.group_member, group_size = excluded.group_size"),
      err);
  if (!st) return err->status;
  sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
  if (aggregate_type) sqlite3_bind_text(st, 2, aggregate_type, -1, SQLITE_STATIC);
  else sqlite3_bind_null(st, 2);
  sqlite3_bind_int64(st, 3, member);
  sqlite3_bind_int64(st, 4, size);
  s->wrote = 1;
  es_store_arm(s, "es_checkpoints");
  int src = sqlite3_step(st);
  es_store_arm(s, 0);
  sqlite3_reset(st);
  sqlite3_clear_bindings(st);
  return src == SQLITE_DONE ? ES_OK : es_store_error(s->db, src, "recording a consumer", err);
}

es_status es_consumer_find(es_store *s, const char *name, es_consumer *out, es_error *err) {
  memset(out, 0, sizeof(*out));
  if (!s->exists || !consumers_table_exists(s))
    return es_error_set(err, ES_INVALID_ARGUMENT, "no consumer named '%s': create it with es_create_consumer", name);
  sqlite3_stmt *q = es_store_cached(
      s, sqlite3_mprintf("SELECT aggregate_type, group_member, group_size, position FROM main.es_checkpoints WHERE name = ?1"),
      err);
  if (!q) return err->status;
  sqlite3_bind_text(q, 1, name, -1, SQLITE_STATIC);
  int src = sqlite3_step(q);
  es_status rc = ES_OK;
  if (src == SQLITE_ROW) {
    const char *t = (const char *)sqlite3_column_text(q, 0);
    if (t) sqlite3_snprintf((int)sizeof(out->aggregate_type), out->aggregate_type, "%s", t);
    out->has_aggregate_type = t != 0;
    out->group_member = sqlite3_column_int64(q, 1);
    out->group_size = sqlite3_column_int64(q, 2);
    out->position = sqlite3_column_int64(q, 3);
  } else if (src == SQLITE_DONE) {
    rc = es_error_set(err, ES_INVALID_ARGUMENT, "no consumer named '%s': create it with es_create_consumer", name);
  } else {
    rc = es_store_error(s->db, src, "reading a consumer", err);
  }
  sqlite3_reset(q);
  sqlite3_clear_bindings(q);
  return rc;
}

es_status es_consumer_ack(es_store *s, const char *name, int64_t position, es_error *err) {
  es_consumer c;
  int64_t end = 0;
  if (es_consumer_find(s, name, &c, err) != ES_OK) return err->status;
  sqlite3_stmt *q = es_store_cached(s, sqlite3_mprintf("SELECT coalesce(max(position), 0) FROM main.es_events"), err);
  if (!q) return err->status;
  if (sqlite3_step(q) == SQLITE_ROW) end = sqlite3_column_int64(q, 0);
  sqlite3_reset(q);
  if (position < c.position)
    return es_error_set(err, ES_INVALID_ARGUMENT,
                        "consumer '%s' is at position %lld: an acknowledgement never moves it back (got %lld)", name,
                        (long long)c.position, (long long)position);
  if (position > end)
    return es_error_set(err, ES_INVALID_ARGUMENT, "consumer '%s': position %lld is past the end of the log (%lld)", name,
                        (long long)position, (long long)end);
  sqlite3_stmt *st = es_store_cached(
      s,
      sqlite3_mprintf("UPDATE main.es_checkpoints SET position = ?1, updated_at = strftime('%%Y-%%m-%%dT%%H:%%M:%%fZ','now')"
                      " WHERE name = ?2"),
      err);
  if (!st) return err->status;
  sqlite3_bind_int64(st, 1, position);
  sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
  s->wrote = 1;
  es_store_arm(s, "es_checkpoints");
  int src = sqlite3_step(st);
  es_store_arm(s, 0);
  sqlite3_reset(st);
  sqlite3_clear_bindings(st);
  return src == SQLITE_DONE ? ES_OK : es_store_error(s->db, src, "acknowledging", err);
}
