/*
** submit.c — es_submit and es_try_submit: SQL arguments in, one command decided and applied
** atomically (domain/command.c inside txn_policy.c's unit of work), the version or a JSON
** outcome out.
*/
#include <string.h>

#include "../domain/command.h"
#include "../domain/json.h"
#include "../domain/mem.h"
#include "conn.h"
#include "errors.h"
#include "submit.h"

static const char *const arg_names[] = {"aggregate_type", "aggregate_id", "command_type", "payload", "options"};

/* An id argument: text without NUL characters, then the domain's checks (in argument order). */
static es_status text_arg(sqlite3_value *v, int i, const char **out, es_error *err) {
  *out = 0;
  if (sqlite3_value_type(v) != SQLITE_TEXT)
    return es_error_set(err, ES_INVALID_ARGUMENT, "%s must be text, got %s", arg_names[i], es_value_type_name(v));
  *out = (const char *)sqlite3_value_text(v);
  if (!*out) return es_error_set(err, ES_NOMEM, 0);
  if (strlen(*out) != (size_t)sqlite3_value_bytes(v))
    return es_error_set(err, ES_INVALID_ARGUMENT, "%s must not contain NUL characters", arg_names[i]);
  return es_check_id(arg_names[i], *out, err);
}

/* A JSON argument: text, or NULL for "absent". */
static es_status json_arg(sqlite3_value *v, int i, const char **out, size_t *len, es_error *err) {
  *out = 0;
  *len = 0;
  if (sqlite3_value_type(v) == SQLITE_NULL) return ES_OK;
  if (sqlite3_value_type(v) != SQLITE_TEXT)
    return es_error_set(err, ES_INVALID_ARGUMENT, "%s must be JSON text, got %s", arg_names[i], es_value_type_name(v));
  *out = (const char *)sqlite3_value_text(v);
  if (!*out) return es_error_set(err, ES_NOMEM, 0);
  *len = (size_t)sqlite3_value_bytes(v);
  return ES_OK;
}

static es_status read_args(const char *fname, int argc, sqlite3_value **argv, es_command_request *req, es_error *err) {
  memset(req, 0, sizeof(*req));
  if (argc < 3 || argc > 5)
    return es_error_set(err, ES_INVALID_ARGUMENT,
                        "%s takes 3 to 5 arguments (aggregate_type, aggregate_id, command_type [, payload [, options]]),"
                        " got %d",
                        fname, argc);
  if (text_arg(argv[0], 0, &req->aggregate_type, err) || text_arg(argv[1], 1, &req->aggregate_id, err) ||
      text_arg(argv[2], 2, &req->command_type, err))
    return err->status;
  if (argc > 3 && json_arg(argv[3], 3, &req->payload, &req->payload_len, err)) return err->status;
  if (argc > 4 && json_arg(argv[4], 4, &req->options, &req->options_len, err)) return err->status;
  return ES_OK;
}

typedef struct submit_work {
  es_command_request req;
  es_command_result *res;
} submit_work;

/* Decide and append, then bring the read models up to date: one unit of work. */
static es_status run_command(es_conn *c, void *arg, es_error *err) {
  submit_work *w = arg;
  es_event_store port = es_store_port(c->store);
  es_snapshot_store snapshots = es_store_snapshot_port(c->store);
  es_command_env env = {.cache = c->cache, .snapshots = &snapshots, .snapshot_every = c->snapshot_every};
  es_status rc = es_command_run_with(c->registry, &port, &env, &w->req, w->res, err);
  if (rc == ES_OK && w->res->n_events)
    rc = es_views_apply(c->store, c->registry, w->res->position - w->res->n_events, w->res->position, err);
  return rc;
}

es_status es_sql_submit(es_conn *c, const char *fname, int argc, sqlite3_value **argv, es_command_result *res,
                        es_error *err) {
  submit_work w = {.res = res};
  es_command_request *req = &w.req;
  memset(res, 0, sizeof(*res));
  if (read_args(fname, argc, argv, req, err)) return err->status;
  req->max_payload_bytes = (size_t)c->max_payload_bytes;
  es_conn_ensure_close_hook(c);
  if (es_conn_enter(c, fname, err)) return err->status;
  es_status rc = es_sql_aggregates_sync(c, err); /* definitions stored in the database */
  if (rc == ES_OK) rc = es_command_check(c->registry, req, err); /* cheap refusals take no lock */
  if (rc == ES_OK) rc = es_conn_atomic_entered(c, fname, 1, run_command, &w, err);
  es_conn_leave(c);
  return rc;
}

void es_submit_fn(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  es_conn *c = sqlite3_user_data(ctx);
  es_error err = {0};
  es_command_result res;
  if (es_sql_submit(c, "es_submit", argc, argv, &res, &err) == ES_OK) sqlite3_result_int64(ctx, res.version);
  else es_result_error(ctx, &err);
  es_error_clear(&err);
}

/* Outcomes of the command itself are reported as JSON; failures of the machinery still raise. */
static int is_domain_outcome(es_status s) {
  switch (s) {
    case ES_REJECTED:
    case ES_CONFLICT:
    case ES_UNKNOWN_AGGREGATE:
    case ES_UNKNOWN_COMMAND:
    case ES_INVALID_ARGUMENT:
    case ES_INVALID_PAYLOAD:
    case ES_UNDECLARED_EVENT:
      return 1;
    default:
      return 0;
  }
}

void es_try_submit_fn(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  es_conn *c = sqlite3_user_data(ctx);
  es_error err = {0};
  es_command_result res;
  es_jbuf b;
  es_jbuf_init(&b);
  es_status rc = es_sql_submit(c, "es_try_submit", argc, argv, &res, &err);
  if (rc == ES_OK) {
    es_jbuf_appendz(&b, "{\"ok\":true,\"version\":");
    es_jbuf_int(&b, res.version);
    es_jbuf_appendz(&b, ",\"position\":");
    if (res.position) es_jbuf_int(&b, res.position);
    else es_jbuf_appendz(&b, "null");
    es_jbuf_appendz(&b, ",\"events\":");
    es_jbuf_int(&b, res.n_events);
    if (res.duplicate) es_jbuf_appendz(&b, ",\"duplicate\":true");
    es_jbuf_appendz(&b, "}");
  } else if (is_domain_outcome(rc)) {
    es_jbuf_appendz(&b, "{\"ok\":false,\"error\":");
    es_jbuf_string(&b, es_status_name(rc), strlen(es_status_name(rc)));
    es_jbuf_appendz(&b, ",\"reason\":");
    if (err.reason) es_jbuf_string(&b, err.reason, strlen(err.reason));
    else es_jbuf_appendz(&b, "null");
    es_jbuf_appendz(&b, ",\"message\":");
    const char *m = err.message ? err.message : es_status_name(rc);
    es_jbuf_string(&b, m, strlen(m));
    es_jbuf_appendz(&b, "}");
  } else {
    es_result_error(ctx, &err);
    goto done;
  }
  size_t n = 0;
  char *z = es_jbuf_take(&b, &n);
  if (z) sqlite3_result_text64(ctx, z, n, es_mem_free, SQLITE_UTF8);
  else sqlite3_result_error_nomem(ctx);
done:
  es_jbuf_reset(&b);
  es_error_clear(&err);
}

