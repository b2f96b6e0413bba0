/*
** aggregates_vtab.c — es_aggregates: the aggregate types registered on this connection, with
** their command and event types as JSON arrays. Read-only and eponymous. SQL aggregates are
** loaded from the database first, so a new connection lists them before its first command.
**
** It is also the connection's close hook. sqlite3_close() refuses to close while prepared
** statements exist, and function destructors run only after that check, but it disconnects
** virtual tables first. So the connected instance's xDisconnect finalizes the cached statements.
*/
#include <string.h>

#include "../domain/json.h"
#include "../domain/mem.h"
#include "conn.h"
#include "errors.h"
#include "vtabs.h"

typedef struct agg_vtab {
  sqlite3_vtab base; /* must be first */
  es_conn *conn;
} agg_vtab;

typedef struct agg_cursor {
  sqlite3_vtab_cursor base; /* must be first */
  size_t i;
} agg_cursor;

static int agg_connect(sqlite3 *db, void *aux, int argc, const char *const *argv, sqlite3_vtab **out, char **err) {
  (void)argc, (void)argv, (void)err;
  int rc = sqlite3_declare_vtab(db, "CREATE TABLE x(name TEXT, commands TEXT, events TEXT)");
  if (rc != SQLITE_OK) return rc;
  agg_vtab *v = sqlite3_malloc64(sizeof(*v));
  if (!v) return SQLITE_NOMEM;
  memset(v, 0, sizeof(*v));
  v->conn = aux;
  es_conn_ref(v->conn);
  v->conn->close_hook_connected = 1;
  sqlite3_vtab_config(db, SQLITE_VTAB_INNOCUOUS);
  *out = &v->base;
  return SQLITE_OK;
}

static int agg_disconnect(sqlite3_vtab *p) {
  agg_vtab *v = (agg_vtab *)p;
  v->conn->close_hook_connected = 0;
  es_conn_flush(v->conn);
  es_conn_unref(v->conn);
  sqlite3_free(v);
  return SQLITE_OK;
}

static int agg_open(sqlite3_vtab *p, sqlite3_vtab_cursor **out) {
  (void)p;
  agg_cursor *c = sqlite3_malloc64(sizeof(*c));
  if (!c) return SQLITE_NOMEM;
  memset(c, 0, sizeof(*c));
  *out = &c->base;
  return SQLITE_OK;
}

static int agg_close(sqlite3_vtab_cursor *c) {
  sqlite3_free(c);
  return SQLITE_OK;
}

static int agg_best_index(sqlite3_vtab *p, sqlite3_index_info *info) {
  (void)p;
  info->estimatedCost = 10;
  info->estimatedRows = 10;
  return SQLITE_OK;
}

static int agg_filter(sqlite3_vtab_cursor *c, int idx, const char *idxs, int argc, sqlite3_value **argv) {
  agg_vtab *v = (agg_vtab *)c->pVtab;
  es_error err = {0};
  (void)idx, (void)idxs, (void)argc, (void)argv;
  ((agg_cursor *)c)->i = 0;
  /* Inside a running call (a decider reading es_aggregates) the definitions are already loaded,
  ** and the registry must not change under it. */
  if (v->conn->running) return SQLITE_OK;
  if (es_conn_enter(v->conn, "es_aggregates", &err) == ES_OK) {
    es_sql_aggregates_sync(v->conn, &err);
    es_conn_leave(v->conn);
  }
  return err.status == ES_OK ? SQLITE_OK : es_vtab_error(c->pVtab, &err);
}

static int agg_next(sqlite3_vtab_cursor *c) {
  ((agg_cursor *)c)->i++;
  return SQLITE_OK;
}

static int agg_eof(sqlite3_vtab_cursor *c) {
  agg_vtab *v = (agg_vtab *)c->pVtab;
  return ((agg_cursor *)c)->i >= es_registry_count(v->conn->registry);
}

static int agg_rowid(sqlite3_vtab_cursor *c, sqlite3_int64 *rowid) {
  *rowid = (sqlite3_int64)((agg_cursor *)c)->i + 1;
  return SQLITE_OK;
}

/* A JSON array of the command (or event) type names of one aggregate type. */
static void result_names(sqlite3_context *ctx, const es_agg *a, int events) {
  es_jbuf b;
  es_jbuf_init(&b);
  es_jbuf_appendz(&b, "[");
  int n = events ? a->def.n_events : a->def.n_commands;
  for (int i = 0; i < n; i++) {
    const char *name = events ? a->def.events[i].event_type : a->def.commands[i].command_type;
    if (i) es_jbuf_appendz(&b, ",");
    es_jbuf_string(&b, name, strlen(name));
  }
  es_jbuf_appendz(&b, "]");
  size_t len = 0;
  char *z = es_jbuf_take(&b, &len);
  if (z) sqlite3_result_text64(ctx, z, len, es_mem_free, SQLITE_UTF8);
  else sqlite3_result_error_nomem(ctx);
}

static int agg_column(sqlite3_vtab_cursor *c, sqlite3_context *ctx, int col) {
  agg_vtab *v = (agg_vtab *)c->pVtab;
  const es_agg *a = es_registry_at(v->conn->registry, ((agg_cursor *)c)->i);
  if (!a) return SQLITE_OK;
  if (col == 0) sqlite3_result_text(ctx, a->def.name, -1, SQLITE_TRANSIENT);
  else result_names(ctx, a, col == 2);
  return SQLITE_OK;
}

static const sqlite3_module agg_module = {
    .iVersion = 0,
    .xConnect = agg_connect,
    .xBestIndex = agg_best_index,
    .xDisconnect = agg_disconnect,
    .xOpen = agg_open,
    .xClose = agg_close,
    .xFilter = agg_filter,
    .xNext = agg_next,
    .xEof = agg_eof,
    .xColumn = agg_column,
    .xRowid = agg_rowid,
};

int es_register_aggregates_vtab(sqlite3 *db, es_conn *c) {
  es_conn_ref(c);
  return sqlite3_create_module_v2(db, "es_aggregates", &agg_module, c, es_conn_unref);
}
