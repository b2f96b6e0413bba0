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

typedef struct view_work {
  view_op op;
  const char *name, *feed;
  int64_t *applied;
} view_work;

static es_status view_step(es_conn *c, void *arg, es_error *err) {
  view_work *w = arg;
  if (w->op == VIEW_CREATE) return es_views_define_sql(c->store, c->registry, w->name, w->feed, w->applied, err);
  if (w->op == VIEW_REBUILD) return es_views_rebuild(c->store, c->registry, w->name, w->applied, err);
  return es_views_drop(c->store, w->name, err);
}

/* Run one view operation in its own unit of work; *applied counts the events fed. */
static es_status run_view_op(es_conn *c, const char *fname, view_op op, const char *name, const char *feed,
                             int64_t *applied, es_error *err) {
  view_work w = {op, name, feed, applied};
  return es_conn_atomic(c, fname, 1, view_step, &w, err);
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

static es_status catch_up(es_conn *c, void *arg, es_error *err) {
  (void)arg;
  return es_views_catch_up(c->store, c->registry, err);
}

es_status es_attach_views_now(es_conn *c, es_error *err) {
  if (sqlite3_db_readonly(c->db, "main") != 0) return ES_OK; /* attached by the first write instead */
  /* A storage that may not be written (a guard missing, a table altered) refuses every command
  ** until it is repaired: the view is attached then; es_integrity_check can still compare it. */
  es_error ignored = {0};
  int damaged = es_store_open(c->store, ES_OPEN_READ, &ignored) == ES_OK && es_store_damage(c->store);
  es_error_clear(&ignored);
  if (damaged) return ES_OK;
  return es_conn_atomic(c, "registering a view", 1, catch_up, 0, err);
}
