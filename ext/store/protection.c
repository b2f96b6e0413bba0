/*
** protection.c — what keeps the log append-only and written only by the append step
** (DESIGN §7). Ordinary tables guarded by triggers: UPDATE and DELETE always raise; INSERT raises
** unless es_internal_write(table) returns 1, which it does for exactly one row the store has
** armed. Without the extension loaded, es_internal_write does not exist, so every INSERT fails.
*/
#include <string.h>

#include "store_internal.h"

/* Triggers per table: no_update / no_delete always refuse, insert_guard needs the armed guard. */
#define ES_GUARDS(tbl, why)                                                                       \
  "CREATE TRIGGER IF NOT EXISTS main." tbl "_no_update BEFORE UPDATE ON " tbl " BEGIN "           \
  "SELECT RAISE(ABORT, 'es: protected: " tbl " " why ": UPDATE is refused'); END;"               \
  "CREATE TRIGGER IF NOT EXISTS main." tbl "_no_delete BEFORE DELETE ON " tbl " BEGIN "           \
  "SELECT RAISE(ABORT, 'es: protected: " tbl " " why ": DELETE is refused'); END;"               \
  "CREATE TRIGGER IF NOT EXISTS main." tbl "_insert_guard BEFORE INSERT ON " tbl                  \
  " WHEN es_internal_write('" tbl "') IS NOT 1 BEGIN "                                           \
  "SELECT RAISE(ABORT, 'es: protected: " tbl " " why ": only es_submit() writes it'); END;"

const char es_protection_sql[] =
    ES_GUARDS("es_events", "is the append-only event log")
    ES_GUARDS("es_commands", "records commands that succeeded")
    ES_GUARDS("es_meta", "describes the storage format");

#define ES_TRIGGER_NAMES                                                                     \
  "'es_events_no_update','es_events_no_delete','es_events_insert_guard',"                    \
  "'es_commands_no_update','es_commands_no_delete','es_commands_insert_guard',"              \
  "'es_meta_no_update','es_meta_no_delete','es_meta_insert_guard'"

const char *const es_protection_triggers[] = {
    "es_events_no_update",   "es_events_no_delete",   "es_events_insert_guard",
    "es_commands_no_update", "es_commands_no_delete", "es_commands_insert_guard",
    "es_meta_no_update",     "es_meta_no_delete",     "es_meta_insert_guard",
    0};

int es_store_guard_consume(es_store *s, const char *table) {
  if (!s->armed_table || !table || strcmp(s->armed_table, table) != 0) return 0;
  if (!s->armed_sticky) s->armed_table = 0;
  return 1;
}

void es_store_arm(es_store *s, const char *table) { es_store_arm_table(s, table); }

void es_store_arm_table(es_store *s, const char *table) {
  s->armed_table = table;
  s->armed_sticky = table != 0;
}

es_status es_store_guarded_insert(es_store *s, sqlite3_stmt *st, const char *table, const char *doing,
                                  es_error *err) {
  s->wrote = 1;
  s->armed_table = table;
  s->armed_sticky = 0;
  int rc = sqlite3_step(st);
  s->armed_table = 0; /* a statement that failed before its trigger ran must not leave it armed */
  if (rc != SQLITE_DONE) return es_store_error(s->db, rc, doing, err);
  /* A trigger of the application's with RAISE(IGNORE) would skip the row silently. */
  if (sqlite3_changes(s->db) != 1)
    return es_error_set(err, ES_PROTECTED, "a trigger on %s skipped a row the store wrote (RAISE(IGNORE)): %s failed",
                        table, doing);
  return ES_OK;
}

es_status es_store_protect(es_store *s, int *created, es_error *err) {
  sqlite3_stmt *q = 0;
  *created = 0;
  es_status rc = es_store_open(s, 0, err); /* refuses a newer format or an incomplete storage */
  if (rc != ES_OK) return rc;
  int src = sqlite3_prepare_v2(s->db, "SELECT count(*) FILTER (WHERE type='table' AND name='es_events'),"
                               " count(*) FILTER (WHERE type='trigger' AND name IN (" ES_TRIGGER_NAMES "))"
                               " FROM main.sqlite_schema", -1, &q, 0);
  if (src == SQLITE_OK && (src = sqlite3_step(q)) == SQLITE_ROW) src = SQLITE_OK;
  if (src != SQLITE_OK) {
    rc = es_store_error(s->db, src, "checking protection", err);
    goto done;
  }
  int has_log = sqlite3_column_int(q, 0), present = sqlite3_column_int(q, 1);
  int total = (int)(sizeof(es_protection_triggers) / sizeof(*es_protection_triggers)) - 1;
  if (!has_log) goto done; /* nothing to protect yet */
  sqlite3_finalize(q);
  q = 0;
  if (present < total) s->wrote = 1; /* a failure must roll back what it recreated */
  if (present < total && (src = sqlite3_exec(s->db, es_protection_sql, 0, 0, 0)) != SQLITE_OK) {
    rc = es_store_error(s->db, src, "restoring protection", err);
    goto done;
  }
  int views = 0;
  if ((rc = es_views_protect(s, &views, err)) != ES_OK) goto done;
  *created = total - present + views;
  s->schema_cookie = -1;
done:
  sqlite3_finalize(q);
  return rc;
}
