/*
** test_command.c — es_test_command(aggregate_type, given_events, command_type [, payload]): a
** given-when-then test of an aggregate from SQL. Given these events (a JSON array of
** {"type": …, "data": {…}}), when this command, then the JSON result says which events it emits
** and the state after them, or why it fails. It runs the same command loop as es_submit, against
** an in-memory store: the real log is never touched.
**
**   SELECT es_test_command('account', '[{"type":"AccountOpened","data":{"owner":"ada"}}]',
**                          'Withdraw', '{"amount":5}');
**   → {"ok":false,"error":"rejected","reason":"insufficient_funds","message":"balance 0 is less than 5"}
*/
#include <string.h>

#include "../domain/command.h"
#include "../domain/given_store.h"
#include "../domain/json.h"
#include "../domain/mem.h"
#include "conn.h"
#include "errors.h"
#include "functions.h"

#define TEST_AGGREGATE_ID "test"

/* {"ok":true,"events":[…],"state":{…}|null} from what the command appended to the given store. */
static es_status success_json(es_conn *c, es_given_store *g, const char *aggregate_type, es_jbuf *b, es_error *err) {
  es_jbuf_appendz(b, "{\"ok\":true,\"events\":[");
  for (size_t i = g->n_given; i < g->n; i++) {
    if (i > g->n_given) es_jbuf_appendz(b, ",");
    es_jbuf_appendz(b, "{\"type\":");
    es_jbuf_string(b, g->events[i].type, strlen(g->events[i].type));
    es_jbuf_appendz(b, ",\"data\":");
    es_jbuf_append(b, g->events[i].data, g->events[i].data_len);
    es_jbuf_appendz(b, "}");
  }
  es_jbuf_appendz(b, "],\"state\":");
  char *state = 0;
  es_event_store port = es_given_store_port(g);
  es_error state_err = {0};
  es_status rc = es_aggregate_state_json(c->registry, &port, aggregate_type, TEST_AGGREGATE_ID, &state, 0, &state_err);
  if (rc == ES_OK) es_jbuf_appendz(b, state);
  else if (rc == ES_INVALID_ARGUMENT) es_jbuf_appendz(b, "null"); /* no xStateToJson */
  else es_error_set(err, rc, "%s", state_err.message ? state_err.message : "the state could not be computed");
  es_mem_free(state);
  es_error_clear(&state_err);
  es_jbuf_appendz(b, "}");
  return err->status;
}

static void failure_json(const es_error *e, es_jbuf *b) {
  const char *kind = es_status_name(e->status), *msg = e->message ? e->message : kind;
  es_jbuf_appendz(b, "{\"ok\":false,\"error\":");
  es_jbuf_string(b, kind, strlen(kind));
  es_jbuf_appendz(b, ",\"reason\":");
  if (e->reason) es_jbuf_string(b, e->reason, strlen(e->reason));
  else es_jbuf_appendz(b, "null");
  es_jbuf_appendz(b, ",\"message\":");
  es_jbuf_string(b, msg, strlen(msg));
  es_jbuf_appendz(b, "}");
}

void es_test_command_fn(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  es_conn *c = sqlite3_user_data(ctx);
  es_error err = {0}, outcome = {0};
  es_given_store g;
  es_command_result res;
  es_jbuf b;
  memset(&g, 0, sizeof(g));
  es_jbuf_init(&b);
  const char *names[3] = {"aggregate_type", "given events", "command_type"};
  for (int i = 0; i < 3; i++)
    if (sqlite3_value_type(argv[i]) != SQLITE_TEXT) {
      es_error_set(&err, ES_INVALID_ARGUMENT, "%s must be text, got %s", names[i], es_value_type_name(argv[i]));
      goto done;
    }
  if (argc > 3 && sqlite3_value_type(argv[3]) != SQLITE_TEXT && sqlite3_value_type(argv[3]) != SQLITE_NULL) {
    es_error_set(&err, ES_INVALID_ARGUMENT, "payload must be JSON text, got %s", es_value_type_name(argv[3]));
    goto done;
  }
  es_command_request req = {.aggregate_type = (const char *)sqlite3_value_text(argv[0]),
                            .aggregate_id = TEST_AGGREGATE_ID,
                            .command_type = (const char *)sqlite3_value_text(argv[2]),
                            .max_payload_bytes = (size_t)c->max_payload_bytes};
  if (argc > 3 && sqlite3_value_type(argv[3]) == SQLITE_TEXT) {
    req.payload = (const char *)sqlite3_value_text(argv[3]);
    req.payload_len = (size_t)sqlite3_value_bytes(argv[3]);
  }
  if (es_conn_enter(c, "es_test_command", &err) != ES_OK) goto done;
  es_status rc = es_sql_aggregates_sync(c, &err);
  if (rc == ES_OK &&
      es_given_store_init(&g, (const char *)sqlite3_value_text(argv[1]), (size_t)sqlite3_value_bytes(argv[1]), &err) ==
          ES_OK) {
    es_event_store port = es_given_store_port(&g);
    rc = es_command_run(c->registry, &port, &req, &res, &outcome);
    if (rc == ES_OK) success_json(c, &g, req.aggregate_type, &b, &err);
  }
  es_conn_leave(c);
  if (err.status != ES_OK) goto done;
  if (rc == ES_BUSY || rc == ES_STORAGE || rc == ES_NOMEM || rc == ES_MISUSE) { /* the machinery, not the command */
    err = outcome;
    memset(&outcome, 0, sizeof(outcome));
  } else if (rc != ES_OK) {
    failure_json(&outcome, &b);
  }
done:
  if (err.status == ES_OK) {
    size_t n = 0;
    char *z = es_jbuf_take(&b, &n);
    if (z) sqlite3_result_text64(ctx, z, n, es_mem_free, SQLITE_UTF8);
    else sqlite3_result_error_nomem(ctx);
  } else {
    es_result_error(ctx, &err);
  }
  es_jbuf_reset(&b);
  es_given_store_clear(&g);
  es_error_clear(&err);
  es_error_clear(&outcome);
}
