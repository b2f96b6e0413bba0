/*
** log_rows.h — what es_log, es_stream and es_next share: a cursor over a translated log query
** (the first member of each of their cursors), stepping it, its end, and its rowid (the position,
** the query's first column).
*/
#ifndef ES_SQLAPI_LOG_ROWS_H
#define ES_SQLAPI_LOG_ROWS_H

#include "../sqlite_ext.h"

typedef struct es_log_rows {
  sqlite3_vtab_cursor base; /* must be first */
  sqlite3_stmt *st;          /* NULL when there is nothing to read (no log yet, nothing can match) */
  int eof;
} es_log_rows;

/* Forget the previous query: no statement, at the end. */
void es_log_rows_reset(es_log_rows *r);
/* xNext, xEof, xRowid of the three tables. */
int es_log_rows_next(sqlite3_vtab_cursor *cur);
int es_log_rows_eof(sqlite3_vtab_cursor *cur);
int es_log_rows_rowid(sqlite3_vtab_cursor *cur, sqlite3_int64 *rowid);

#endif
