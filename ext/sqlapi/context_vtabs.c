/*
** context_vtabs.c — es_command and es_event: one-row eponymous tables that show a SQL decider
** (or evolver) the command (or event) it is handling and the aggregate's state before it. Outside
** a decider or evolver they are empty.
**
**   es_command(aggregate_type, aggregate_id, command_type, payload, state, version)
**   es_event(aggregate_type, aggregate_id, type, version, position, data, state)
*/
#include <string.h>

#include "conn.h"
#include "vtabs.h"

typedef struct ctx_vtab {
  sqlite3_vtab base; /* must be first */
  es_conn *conn;
  es_ctx_kind kind;
} ctx_vtab;

typedef struct ctx_cursor {
  sqlite3_vtab_cursor base; /* must be first */
  const es_sql_context *ctx; /* the context of this scan, or NULL once done */
} ctx_cursor;

static const char *const ctx_schemas[3] = {
    0,
    "CREATE TABLE x(aggregate_type TEXT, aggregate_id TEXT, command_type TEXT, payload TEXT, state TEXT,"
    " version INTEGER)",
    "CREATE TABLE x(aggregate_type TEXT, aggregate_id TEXT, type TEXT, version INTEGER, position INTEGER,"
    " data TEXT, state TEXT)"};

static int ctx_connect(sqlite3 *db, void *aux, es_ctx_kind kind, sqlite3_vtab **out) {
  int rc = sqlite3_declare_vtab(db, ctx_schemas[kind]);
  if (rc != SQLITE_OK) return rc;
  ctx_vtab *v = sqlite3_malloc64(sizeof(*v));
  if (!v) return SQLITE_NOMEM;
  memset(v, 0, sizeof(*v));
  v->conn = aux;
  v->kind = kind;
  es_conn_ref(v->conn);
  sqlite3_vtab_config(db, SQLITE_VTAB_INNOCUOUS); /* deciders and evolvers are views */
  *out = &v->base;
  return SQLITE_OK;
}

static int command_connect(sqlite3 *db, void *aux, int argc, const char *const *argv, sqlite3_vtab **out, char **err) {
  (void)argc, (void)argv, (void)err;
  return ctx_connect(db, aux, ES_CTX_COMMAND, out);
}

static int event_connect(sqlite3 *db, void *aux, int argc, const char *const *argv, sqlite3_vtab **out, char **err) {
  (void)argc, (void)argv, (void)err;
  return ctx_connect(db, aux, ES_CTX_EVENT, out);
}

static int ctx_disconnect(sqlite3_vtab *p) {
  ctx_vtab *v = (ctx_vtab *)p;
  es_conn_unref(v->conn);
  sqlite3_free(v);
  return SQLITE_OK;
}

static int ctx_best_index(sqlite3_vtab *p, sqlite3_index_info *info) {
  (void)p;
  info->estimatedCost = 1;
  info->estimatedRows = 1;
  info->idxFlags = SQLITE_INDEX_SCAN_UNIQUE;
  return SQLITE_OK;
}

static int ctx_open(sqlite3_vtab *p, sqlite3_vtab_cursor **out) {
  (void)p;
  ctx_cursor *c = sqlite3_malloc64(sizeof(*c));
  if (!c) return SQLITE_NOMEM;
  memset(c, 0, sizeof(*c));
  *out = &c->base;
  return SQLITE_OK;
}

static int ctx_close(sqlite3_vtab_cursor *c) {
  sqlite3_free(c);
  return SQLITE_OK;
}

static int ctx_filter(sqlite3_vtab_cursor *cur, int idx, const char *idxs, int argc, sqlite3_value **argv) {
  ctx_vtab *v = (ctx_vtab *)cur->pVtab;
  const es_sql_context *ctx = v->conn->sql_context;
  (void)idx, (void)idxs, (void)argc, (void)argv;
  ((ctx_cursor *)cur)->ctx = ctx && ctx->kind == v->kind ? ctx : 0;
  return SQLITE_OK;
}

static int ctx_next(sqlite3_vtab_cursor *cur) {
  ((ctx_cursor *)cur)->ctx = 0;
  return SQLITE_OK;
}

static int ctx_eof(sqlite3_vtab_cursor *cur) { return ((ctx_cursor *)cur)->ctx == 0; }

static int ctx_rowid(sqlite3_vtab_cursor *cur, sqlite3_int64 *rowid) {
  (void)cur;
  *rowid = 1;
  return SQLITE_OK;
}

/* The text is not copied (SQLITE_STATIC): the decider or evolver that set the context keeps it
** unchanged until its statement is reset (sql_aggregates.c), and the values only live in that
** statement (a row it returns is read before the reset). */
static int ctx_column(sqlite3_vtab_cursor *cur, sqlite3_context *out, int col) {
  const es_sql_context *c = ((ctx_cursor *)cur)->ctx;
  /* Both layouts start with aggregate_type, aggregate_id, type; then they differ. */
  static const int command_cols[] = {0, 1, 2, 3, 4, 5}, event_cols[] = {0, 1, 2, 5, 6, 3, 4};
  int which = c->kind == ES_CTX_COMMAND ? command_cols[col] : event_cols[col];
  switch (which) {
    case 0: sqlite3_result_text(out, c->aggregate_type, -1, SQLITE_STATIC); break;
    case 1: sqlite3_result_text(out, c->aggregate_id, -1, SQLITE_STATIC); break;
    case 2: sqlite3_result_text(out, c->type, -1, SQLITE_STATIC); break;
    case 3: sqlite3_result_text64(out, c->data, c->data_len, SQLITE_STATIC, SQLITE_UTF8); break;
    case 4: sqlite3_result_text64(out, c->state, c->state_len, SQLITE_STATIC, SQLITE_UTF8); break;
    case 5: sqlite3_result_int64(out, c->version); break;
    case 6: sqlite3_result_int64(out, c->position); break;
  }
  return SQLITE_OK;
}

#define CTX_MODULE(connect_fn)                                                                        \
  {                                                                                                   \
    .iVersion = 0, .xConnect = connect_fn, .xBestIndex = ctx_best_index, .xDisconnect = ctx_disconnect, \
    .xOpen = ctx_open, .xClose = ctx_close, .xFilter = ctx_filter, .xNext = ctx_next, .xEof = ctx_eof,  \
    .xColumn = ctx_column, .xRowid = ctx_rowid                                                        \
  }

static const sqlite3_module command_module = CTX_MODULE(command_connect);
static const sqlite3_module event_module = CTX_MODULE(event_connect);

int es_register_context_vtabs(sqlite3 *db, es_conn *c) {
  es_conn_ref(c);
  int rc = sqlite3_create_module_v2(db, "es_command", &command_module, c, es_conn_unref);
  if (rc != SQLITE_OK) return rc;
  es_conn_ref(c);
  return sqlite3_create_module_v2(db, "es_event", &event_module, c, es_conn_unref);
}
