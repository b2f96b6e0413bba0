/*
** views.c — the SQL functions of read models: es_create_view(name, feed) defines a view in SQL,
** es_rebuild(name) builds one again from the whole log, es_drop_view(name) forgets one. Each runs
** atomically under the transaction policy, like a command.
*/
#include <string.h>

#include "../domain/command.h"
#include "conn.h"
#include "errors.h"
#include "functions.h"

/* A name argument: text, 1 to ES_MAX_ID_BYTES of valid UTF-8. */
static es_status name_arg(sqlite3_value *v, const char *what, const char **out, es_error *err) {
  *out = 0;
  if (sqlite3_value_type(v) != SQLITE_TEXT)
    return es_error_set(err, ES_INVALID_ARGUMENT, "%s must be text, got %s", what, es_value_type_name(v));
  *out = (const char *)sqlite3_value_text(v);
  if (!*out) return es_error_set(err, ES_NOMEM, 0);
  return es_check_id(what, *out, err);
}

typedef enum { VIEW_CREATE, VIEW_REBUILD, VIEW_DROP } view_op;

/* Run one view operation in its own unit of work; *applied counts the events fed. */
static es_status run_view_op(es_conn *c, const char *fname, view_op op, const char *name, const char *feed,
                             int64_t *applied, es_error *err) {
  es_txn_kind kind;
  es_conn_ensure_close_hook(c);
  if (es_txn_begin(&c->txn, fname, &kind, err)) return err->status;
  if (kind == ES_TXN_TOP) es_store_settle(c->store);
  es_store_begin_call(c->store);
  c->in_command = 1;
  es_status rc = es_store_open(c->store, 1, err);
  if (rc == ES_OK && op == VIEW_CREATE) rc = es_views_define_sql(c->store, c->registry, name, feed, applied, err);
  if (rc == ES_OK && op == VIEW_REBUILD) rc = es_views_rebuild(c->store, c->registry, name, applied, err);
  if (rc == ES_OK && op == VIEW_DROP) rc = es_views_drop(c->store, name, err);
  c->in_command = 0;
  if (rc == ES_OK) return es_txn_commit(&c->txn, kind, err);
  es_txn_rollback(&c->txn, kind, es_store_wrote(c->store));
  es_txn_explain_busy(kind, err);
  return rc;
}

/* es_create_view(name, feed): returns the number of events fed to the new view. */
void es_create_view_fn(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  es_conn *c = sqlite3_user_data(ctx);
  es_error err = {0};
  const char *name, *feed;
  int64_t applied = 0;
  (void)argc;
  if (name_arg(argv[0], "view name", &name, &err) == ES_OK && name_arg(argv[1], "feed", &feed, &err) == ES_OK &&
      run_view_op(c, "es_create_view", VIEW_CREATE, name, feed, &applied, &err) == ES_OK)
    sqlite3_result_int64(ctx, applied);
  else
    es_result_error(ctx, &err);
  es_error_clear(&err);
}

/* es_rebuild(name): returns the number of events applied. */
void es_rebuild_fn(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  es_conn *c = sqlite3_user_data(ctx);
  es_error err = {0};
  const char *name;
  int64_t applied = 0;
  (void)argc;
  if (name_arg(argv[0], "view name", &name, &err) == ES_OK &&
      run_view_op(c, "es_rebuild", VIEW_REBUILD, name, 0, &applied, &err) == ES_OK)
    sqlite3_result_int64(ctx, applied);
  else
    es_result_error(ctx, &err);
  es_error_clear(&err);
}

/* es_drop_view(name): returns 1. */
void es_drop_view_fn(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  es_conn *c = sqlite3_user_data(ctx);
  es_error err = {0};
  const char *name;
  (void)argc;
  if (name_arg(argv[0], "view name", &name, &err) == ES_OK &&
      run_view_op(c, "es_drop_view", VIEW_DROP, name, 0, 0, &err) == ES_OK)
    sqlite3_result_int(ctx, 1);
  else
    es_result_error(ctx, &err);
  es_error_clear(&err);
}

es_status es_attach_views_now(es_conn *c, es_error *err) {
  if (sqlite3_db_readonly(c->db, "main") != 0) return ES_OK; /* attached by the first write instead */
  es_txn_kind kind;
  es_conn_ensure_close_hook(c);
  if (es_txn_begin(&c->txn, "registering a view", &kind, err)) return err->status;
  if (kind == ES_TXN_TOP) es_store_settle(c->store);
  es_store_begin_call(c->store);
  c->in_command = 1;
  es_status rc = es_store_open(c->store, 1, err);
  if (rc == ES_OK) rc = es_views_catch_up(c->store, c->registry, err);
  c->in_command = 0;
  if (rc == ES_OK) return es_txn_commit(&c->txn, kind, err);
  es_txn_rollback(&c->txn, kind, es_store_wrote(c->store));
  return rc;
}
