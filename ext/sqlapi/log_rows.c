/* log_rows.c — the cursor part es_log, es_stream and es_next share (log_rows.h). */
#include "../store/store.h"
#include "errors.h"
#include "log_rows.h"

void es_log_rows_reset(es_log_rows *r) {
  sqlite3_finalize(r->st);
  r->st = 0;
  r->eof = 1;
}

int es_log_rows_next(sqlite3_vtab_cursor *cur) {
  es_log_rows *r = (es_log_rows *)cur;
  int rc = r->st ? sqlite3_step(r->st) : SQLITE_DONE;
  if (rc == SQLITE_ROW) return SQLITE_OK;
  r->eof = 1;
  if (rc == SQLITE_DONE) return SQLITE_OK;
  es_error err = {0};
  es_store_error(sqlite3_db_handle(r->st), rc, "reading the log", &err);
  return es_vtab_error(cur->pVtab, &err);
}

int es_log_rows_eof(sqlite3_vtab_cursor *cur) { return ((es_log_rows *)cur)->eof; }

int es_log_rows_rowid(sqlite3_vtab_cursor *cur, sqlite3_int64 *rowid) {
  *rowid = sqlite3_column_int64(((es_log_rows *)cur)->st, 0);
  return SQLITE_OK;
}
