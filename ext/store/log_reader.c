/* log_reader.c — a log query struct, translated (query_translate.c), prepared and bound. */
#include "query_translate.h"
#include "store_internal.h"

sqlite3_stmt *es_store_prepare_query(es_store *s, const es_log_query *q, es_error *err) {
  es_translated t;
  sqlite3_stmt *st = 0;
  if (es_translate_log_query(q, &t, err) != ES_OK) return 0;
  int rc = sqlite3_prepare_v2(s->db, t.sql, -1, &st, 0);
  for (int i = 0; rc == SQLITE_OK && i < t.n_binds; i++)
    rc = t.binds[i].kind == ES_BIND_INT ? sqlite3_bind_int64(st, i + 1, t.binds[i].i)
                                        : sqlite3_bind_text(st, i + 1, t.binds[i].text, -1, SQLITE_TRANSIENT);
  es_translated_clear(&t);
  if (rc != SQLITE_OK) {
    es_store_error(s->db, rc, "reading the log", err);
    sqlite3_finalize(st);
    st = 0;
  }
  return st;
}
