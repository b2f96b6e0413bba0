/*
** integrity_vtab.c — es_integrity_check, the event store's PRAGMA integrity_check: a read-only
** table-valued function with one row per problem (kind, object, problem in plain words), or the
** single row ('ok', NULL, 'ok'). `es_integrity_check('quick')` skips folding the read models.
**
**   SELECT * FROM es_integrity_check;
**   SELECT problem FROM es_integrity_check('quick') WHERE kind <> 'ok';
**
** Run it from a plain SELECT of its own: it folds each read model into a TEMP copy inside a
** savepoint and rolls that back, which aborts any other statement of the connection reading a
** table at that moment (SQLite's rule for a ROLLBACK TO that undoes a schema change).
*/
#include <string.h>

#include "../domain/integrity.h"
#include "conn.h"
#include "errors.h"
#include "vtabs.h"

enum { COL_KIND, COL_OBJECT, COL_PROBLEM, COL_MODE };

typedef struct ic_vtab {
  sqlite3_vtab base; /* must be first */
  es_conn *conn;
} ic_vtab;

typedef struct ic_cursor {
  sqlite3_vtab_cursor base; /* must be first */
  es_integrity_report report;
  size_t i;
} ic_cursor;

static int ic_connect(sqlite3 *db, void *aux, int argc, const char *const *argv, sqlite3_vtab **out, char **err) {
  (void)argc, (void)argv, (void)err;
  int rc = sqlite3_declare_vtab(db, "CREATE TABLE x(kind TEXT, object TEXT, problem TEXT, mode TEXT HIDDEN)");
  if (rc != SQLITE_OK) return rc;
  ic_vtab *v = sqlite3_malloc64(sizeof(*v));
  if (!v) return SQLITE_NOMEM;
  memset(v, 0, sizeof(*v));
  v->conn = aux;
  es_conn_ref(v->conn);
  *out = &v->base;
  return SQLITE_OK;
}

static int ic_disconnect(sqlite3_vtab *p) {
  es_conn_unref(((ic_vtab *)p)->conn);
  sqlite3_free(p);
  return SQLITE_OK;
}

/* idxNum 1: the mode is given (argv[0]). */
static int ic_best_index(sqlite3_vtab *p, sqlite3_index_info *info) {
  (void)p;
  info->idxNum = 0;
  for (int i = 0; i < info->nConstraint; i++) {
    const struct sqlite3_index_constraint *c = &info->aConstraint[i];
    if (c->iColumn != COL_MODE || c->op != SQLITE_INDEX_CONSTRAINT_EQ) continue;
    if (!c->usable) return SQLITE_CONSTRAINT;
    info->aConstraintUsage[i].argvIndex = 1;
    info->aConstraintUsage[i].omit = 1;
    info->idxNum = 1;
  }
  info->estimatedCost = 1e9; /* it walks the whole database */
  return SQLITE_OK;
}

static int ic_open(sqlite3_vtab *p, sqlite3_vtab_cursor **out) {
  (void)p;
  ic_cursor *c = sqlite3_malloc64(sizeof(*c));
  if (!c) return SQLITE_NOMEM;
  memset(c, 0, sizeof(*c));
  *out = &c->base;
  return SQLITE_OK;
}

static int ic_close(sqlite3_vtab_cursor *cur) {
  es_integrity_clear(&((ic_cursor *)cur)->report);
  sqlite3_free(cur);
  return SQLITE_OK;
}

static int ic_filter(sqlite3_vtab_cursor *cur, int idx, const char *idxs, int argc, sqlite3_value **argv) {
  ic_cursor *c = (ic_cursor *)cur;
  es_conn *conn = ((ic_vtab *)cur->pVtab)->conn;
  es_error err = {0};
  int quick = 0;
  (void)idxs, (void)argc;
  es_integrity_clear(&c->report);
  c->i = 0;
  if (idx == 1) {
    const char *mode = (const char *)sqlite3_value_text(argv[0]);
    if (sqlite3_value_type(argv[0]) != SQLITE_TEXT || (strcmp(mode, "full") != 0 && strcmp(mode, "quick") != 0)) {
      es_error_set(&err, ES_INVALID_ARGUMENT, "es_integrity_check takes 'full' (the default) or 'quick'");
      return es_vtab_error(cur->pVtab, &err);
    }
    quick = strcmp(mode, "quick") == 0;
  }
  es_conn_ensure_close_hook(conn);
  if (es_conn_enter(conn, "es_integrity_check", &err) == ES_OK) { /* read models' handlers run: no command may */
    es_store_integrity_check(conn->store, conn->registry, quick, &c->report, &err);
    es_conn_leave(conn);
  }
  return err.status == ES_OK ? SQLITE_OK : es_vtab_error(cur->pVtab, &err);
}

static int ic_next(sqlite3_vtab_cursor *cur) {
  ((ic_cursor *)cur)->i++;
  return SQLITE_OK;
}

static int ic_eof(sqlite3_vtab_cursor *cur) {
  ic_cursor *c = (ic_cursor *)cur;
  return c->i >= c->report.n;
}

static int ic_column(sqlite3_vtab_cursor *cur, sqlite3_context *ctx, int col) {
  ic_cursor *c = (ic_cursor *)cur;
  const es_integrity_row *row = &c->report.rows[c->i];
  switch (col) {
    case COL_KIND: sqlite3_result_text(ctx, es_integrity_kind_name(row->kind), -1, SQLITE_STATIC); break;
    case COL_OBJECT:
      if (row->object) sqlite3_result_text(ctx, row->object, -1, SQLITE_TRANSIENT);
      break;
    case COL_PROBLEM: sqlite3_result_text(ctx, row->problem, -1, SQLITE_TRANSIENT); break;
    default: break;
  }
  return SQLITE_OK;
}

static int ic_rowid(sqlite3_vtab_cursor *cur, sqlite3_int64 *rowid) {
  *rowid = (sqlite3_int64)((ic_cursor *)cur)->i + 1;
  return SQLITE_OK;
}

static const sqlite3_module ic_module = {
    .iVersion = 0,
    .xConnect = ic_connect,
    .xBestIndex = ic_best_index,
    .xDisconnect = ic_disconnect,
    .xOpen = ic_open,
    .xClose = ic_close,
    .xFilter = ic_filter,
    .xNext = ic_next,
    .xEof = ic_eof,
    .xColumn = ic_column,
    .xRowid = ic_rowid,
};

int es_register_integrity_vtab(sqlite3 *db, es_conn *c) {
  es_conn_ref(c);
  return sqlite3_create_module_v2(db, "es_integrity_check", &ic_module, c, es_conn_unref);
}
