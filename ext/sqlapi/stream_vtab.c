/*
** stream_vtab.c — es_stream(aggregate_type, aggregate_id [, after_version]): the events of one
** aggregate, in version order, as a table-valued function over es_events.
**
** Plan (idxNum bits): 1 = aggregate_type given, 2 = aggregate_id given, 4 = after_version given;
** argv holds them in that order. Both ids are required: a plan without them is costed out of
** reach and refused in xFilter with a clear message.
*/
#include <string.h>

#include "../domain/command.h"
#include "../domain/mem.h"
#include "../domain/query.h"
#include "conn.h"
#include "errors.h"
#include "log_rows.h"
#include "vtabs.h"

enum { COL_POSITION, COL_VERSION, COL_TYPE, COL_DATA, COL_METADATA, COL_COMMAND_ID, COL_RECORDED_AT,
       COL_AGGREGATE_TYPE, COL_AGGREGATE_ID, COL_AFTER_VERSION };

typedef struct stream_vtab {
  sqlite3_vtab base; /* must be first */
  es_conn *conn;
} stream_vtab;

typedef struct stream_cursor {
  es_log_rows rows; /* must be first */
  sqlite3_value *args[3];
} stream_cursor;

static int stream_connect(sqlite3 *db, void *aux, int argc, const char *const *argv, sqlite3_vtab **out,
                          char **err) {
  (void)argc, (void)argv, (void)err;
  int rc = sqlite3_declare_vtab(db,
                                "CREATE TABLE x(position INTEGER, version INTEGER, type TEXT, data TEXT,"
                                " metadata TEXT, command_id TEXT, recorded_at TEXT, aggregate_type TEXT HIDDEN,"
                                " aggregate_id TEXT HIDDEN, after_version INTEGER HIDDEN)");
  if (rc != SQLITE_OK) return rc;
  stream_vtab *v = sqlite3_malloc64(sizeof(*v));
  if (!v) return SQLITE_NOMEM;
  memset(v, 0, sizeof(*v));
  v->conn = aux;
  es_conn_ref(v->conn);
  sqlite3_vtab_config(db, SQLITE_VTAB_INNOCUOUS);
  *out = &v->base;
  return SQLITE_OK;
}

static int stream_disconnect(sqlite3_vtab *p) {
  stream_vtab *v = (stream_vtab *)p;
  es_conn_unref(v->conn);
  sqlite3_free(v);
  return SQLITE_OK;
}

static int stream_best_index(sqlite3_vtab *p, sqlite3_index_info *info) {
  (void)p;
  int slot[3] = {-1, -1, -1};
  for (int i = 0; i < info->nConstraint; i++) {
    const struct sqlite3_index_constraint *c = &info->aConstraint[i];
    int k = c->iColumn - COL_AGGREGATE_TYPE;
    if (k < 0 || k > 2 || c->op != SQLITE_INDEX_CONSTRAINT_EQ) continue;
    if (!c->usable) return SQLITE_CONSTRAINT; /* an argument that is not available yet: try another order */
    slot[k] = i;
  }
  int mask = 0, argn = 0;
  for (int k = 0; k < 3; k++) {
    if (slot[k] < 0) continue;
    mask |= 1 << k;
    info->aConstraintUsage[slot[k]].argvIndex = ++argn;
    info->aConstraintUsage[slot[k]].omit = 1;
  }
  info->idxNum = mask;
  if ((mask & 3) == 3) {
    info->estimatedCost = 20;
    info->estimatedRows = 100;
  } else {
    info->estimatedCost = 1e12;
  }
  /* Rows come in version order, which within one stream is also position order. */
  if (info->nOrderBy == 1 && !info->aOrderBy[0].desc &&
      (info->aOrderBy[0].iColumn == COL_VERSION || info->aOrderBy[0].iColumn == COL_POSITION))
    info->orderByConsumed = 1;
  return SQLITE_OK;
}

static int stream_open(sqlite3_vtab *p, sqlite3_vtab_cursor **out) {
  (void)p;
  stream_cursor *c = sqlite3_malloc64(sizeof(*c));
  if (!c) return SQLITE_NOMEM;
  memset(c, 0, sizeof(*c));
  *out = &c->rows.base;
  return SQLITE_OK;
}

static void cursor_reset(stream_cursor *c) {
  es_log_rows_reset(&c->rows);
  for (int i = 0; i < 3; i++) {
    sqlite3_value_free(c->args[i]);
    c->args[i] = 0;
  }
}

static int stream_close(sqlite3_vtab_cursor *cur) {
  cursor_reset((stream_cursor *)cur);
  sqlite3_free(cur);
  return SQLITE_OK;
}

static int stream_filter(sqlite3_vtab_cursor *cur, int mask, const char *idxs, int argc, sqlite3_value **argv) {
  stream_cursor *c = (stream_cursor *)cur;
  stream_vtab *v = (stream_vtab *)cur->pVtab;
  es_error err = {0};
  const char *names[2] = {"aggregate_type", "aggregate_id"};
  (void)idxs;
  cursor_reset(c);
  c->rows.eof = 0;
  if ((mask & 3) != 3) {
    es_error_set(&err, ES_INVALID_ARGUMENT, "es_stream(aggregate_type, aggregate_id [, after_version]) needs both ids");
    goto fail;
  }
  for (int i = 0; i < argc && i < 3; i++) c->args[i] = sqlite3_value_dup(argv[i]);
  for (int i = 0; i < 2; i++) {
    if (sqlite3_value_type(argv[i]) != SQLITE_TEXT) {
      es_error_set(&err, ES_INVALID_ARGUMENT, "%s must be text, got %s", names[i], es_value_type_name(argv[i]));
      goto fail;
    }
    if (es_check_id(names[i], (const char *)sqlite3_value_text(argv[i]), &err)) goto fail;
  }
  if ((mask & 4) && sqlite3_value_type(argv[2]) != SQLITE_INTEGER) {
    es_error_set(&err, ES_INVALID_ARGUMENT, "after_version must be an integer, got %s", es_value_type_name(argv[2]));
    goto fail;
  }
  es_conn_ensure_close_hook(v->conn); /* es_store_open caches statements */
  if (es_store_open(v->conn->store, 0, &err) != ES_OK) goto fail;
  if (!es_store_exists(v->conn->store)) {
    c->rows.eof = 1;
    return SQLITE_OK;
  }
  /* The same machinery as es_log: a query struct, translated by the storage layer. */
  es_log_query q;
  memset(&q, 0, sizeof(q));
  es_query_list_add(&q.aggregate_types, (const char *)sqlite3_value_text(argv[0]));
  es_query_list_add(&q.aggregate_ids, (const char *)sqlite3_value_text(argv[1]));
  q.after_version = (mask & 4) ? sqlite3_value_int64(argv[2]) : 0;
  if (!(c->rows.st = es_store_prepare_query(v->conn->store, &q, &err))) goto fail;
  return es_log_rows_next(cur);
fail:
  c->rows.eof = 1;
  return es_vtab_error(cur->pVtab, &err);
}

static int stream_column(sqlite3_vtab_cursor *cur, sqlite3_context *ctx, int col) {
  stream_cursor *c = (stream_cursor *)cur;
  if (col >= COL_AGGREGATE_TYPE) {
    sqlite3_value *a = c->args[col - COL_AGGREGATE_TYPE];
    if (a) sqlite3_result_value(ctx, a);
    else if (col == COL_AFTER_VERSION) sqlite3_result_int(ctx, 0);
    return SQLITE_OK;
  }
  /* The translated query's columns: position, aggregate_type, aggregate_id, version, type, data,
  ** metadata, command_id, recorded_at. */
  static const int from[] = {[COL_POSITION] = 0, [COL_VERSION] = 3, [COL_TYPE] = 4, [COL_DATA] = 5,
                             [COL_METADATA] = 6, [COL_COMMAND_ID] = 7, [COL_RECORDED_AT] = 8};
  sqlite3_result_value(ctx, sqlite3_column_value(c->rows.st, from[col]));
  return SQLITE_OK;
}

static const sqlite3_module stream_module = {
    .iVersion = 0,
    .xConnect = stream_connect,
    .xBestIndex = stream_best_index,
    .xDisconnect = stream_disconnect,
    .xOpen = stream_open,
    .xClose = stream_close,
    .xFilter = stream_filter,
    .xNext = es_log_rows_next,
    .xEof = es_log_rows_eof,
    .xColumn = stream_column,
    .xRowid = es_log_rows_rowid,
};

int es_register_stream_vtab(sqlite3 *db, es_conn *c) {
  es_conn_ref(c);
  return sqlite3_create_module_v2(db, "es_stream", &stream_module, c, es_conn_unref);
}
