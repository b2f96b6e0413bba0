/*
** test_c_api.c — the C API of es.h against a real SQLite, with the static variant: the es_api
** hand-off (SELECT es_api(?1) with sqlite3_bind_pointer, es_api_from_db), registering a custom
** aggregate defined here and submitting commands to it (accessors, builder, several events, no
** event, state JSON, xMalloc/xFree'd state), refused registrations with their exact messages,
** replacement and connection close calling xDestroy, sqlite3_close() succeeding after use,
** typed failures from callbacks (undeclared event, nomem, storage, …) writing nothing, es_state,
** and loading sqlite-es twice.
*/
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "es.h"
#include "support_db.h"

/* ----------------------- a test aggregate: counter ----------------------- */

/* What the callbacks saw: counted per registration (its user pointer). */
typedef struct counter_user {
  es_api *api;
  int destroyed; /* xDestroy calls */
  int inits, clears;
  int decides;
  char trace[256]; /* "type@version " of the events evolved by the last command's render */
} counter_user;

typedef struct counter_state {
  int64_t total;
  int64_t n;
  char *notes; /* owned: api->xMalloc'd, freed by xClear */
} counter_state;

static es_status counter_init(void *user, void *state) {
  counter_user *u = user;
  counter_state *s = state;
  u->inits++;
  s->notes = u->api->xMalloc(u->api, 1);
  if (!s->notes) return ES_NOMEM;
  s->notes[0] = 0;
  return ES_OK;
}

static void counter_clear(void *user, void *state) {
  counter_user *u = user;
  counter_state *s = state;
  u->clears++;
  u->api->xFree(u->api, s->notes);
  s->notes = 0;
}

static void trace(counter_user *u, const es_event *ev) {
  size_t n = strlen(u->trace);
  snprintf(u->trace + n, sizeof(u->trace) - n, "%s@%lld ", es_event_type(ev), (long long)es_event_version(ev));
}

static es_status add(void *user, const void *state, const es_command *cmd, es_emitter *out) {
  int64_t by;
  (void)state;
  ((counter_user *)user)->decides++;
  es_status rc = es_payload_int(cmd, "by", &by);
  if (rc != ES_OK) return rc;
  if (by == 0) return es_reject(out, "zero", "adding %d changes nothing", 0);
  return es_set_int(es_emit(out, "Added"), "by", by);
}

static es_status add_twice(void *user, const void *state, const es_command *cmd, es_emitter *out) {
  es_status rc = add(user, state, cmd, out);
  return rc == ES_OK ? add(user, state, cmd, out) : rc;
}

/* Every accessor and setter: the event carries back what the command held. */
static es_status note(void *user, const void *state, const es_command *cmd, es_emitter *out) {
  const es_object *p = es_command_payload(cmd);
  const char *text, *extra;
  size_t text_len, extra_len;
  double weight;
  int flag;
  (void)user, (void)state;
  es_status rc = es_get_text(p, "text", &text, &text_len);
  if (rc == ES_OK) rc = es_get_real(p, "weight", &weight);
  if (rc == ES_OK) rc = es_get_bool(p, "flag", &flag);
  if (rc == ES_OK) rc = es_get_json(p, "extra", &extra, &extra_len);
  if (rc != ES_OK) return rc;
  if (es_has(p, "missing") || !es_has(p, "text") || text_len != strlen(text)) return ES_STORAGE;
  char extra_copy[256];
  snprintf(extra_copy, sizeof extra_copy, "%.*s", (int)extra_len, extra);
  es_builder *b = es_emit(out, "Noted");
  es_set_text(b, "text", text);
  es_set_real(b, "weight", weight);
  es_set_bool(b, "flag", flag);
  es_set_null(b, "nothing");
  es_set_json(b, "extra", extra_copy);
  es_set_text(b, "id", es_command_aggregate_id(cmd));
  es_set_text(b, "cmd", es_command_type(cmd));
  return es_set_text(b, "text", "last value wins");
}

static es_status nothing(void *user, const void *state, const es_command *cmd, es_emitter *out) {
  (void)user, (void)state, (void)cmd, (void)out;
  return ES_OK;
}

static es_status bogus(void *user, const void *state, const es_command *cmd, es_emitter *out) {
  (void)user, (void)state, (void)cmd;
  es_set_int(es_emit(out, "Added"), "by", 1);
  es_set_int(es_emit(out, "Bogus"), "by", 1); /* NULL builder: the setter is a harmless no-op */
  return ES_OK;
}

static es_status no_mem(void *user, const void *state, const es_command *cmd, es_emitter *out) {
  (void)user, (void)state, (void)cmd;
  es_set_int(es_emit(out, "Added"), "by", 1);
  return ES_NOMEM;
}

static es_status storage(void *user, const void *state, const es_command *cmd, es_emitter *out) {
  (void)user, (void)state, (void)cmd;
  es_set_int(es_emit(out, "Added"), "by", 1);
  return ES_STORAGE;
}

static es_status plain_reject(void *user, const void *state, const es_command *cmd, es_emitter *out) {
  (void)user, (void)state, (void)cmd, (void)out;
  return ES_REJECTED;
}

static es_status bad_json(void *user, const void *state, const es_command *cmd, es_emitter *out) {
  (void)user, (void)state, (void)cmd;
  es_set_json(es_emit(out, "Added"), "by", "{not json");
  return ES_OK;
}

static es_status poison(void *user, const void *state, const es_command *cmd, es_emitter *out) {
  (void)user, (void)state, (void)cmd;
  es_set_int(es_emit(out, "Added"), "by", 1);
  es_emit(out, "Poisoned");
  return ES_OK;
}

static es_status added(void *user, void *state, const es_event *ev) {
  counter_state *s = state;
  int64_t by;
  trace(user, ev);
  es_status rc = es_event_int(ev, "by", &by);
  if (rc != ES_OK) return rc;
  s->total += by;
  s->n++;
  return ES_OK;
}

static es_status noted(void *user, void *state, const es_event *ev) {
  counter_user *u = user;
  counter_state *s = state;
  const char *text;
  trace(user, ev);
  es_status rc = es_event_text(ev, "text", &text);
  if (rc != ES_OK) return rc;
  size_t n = strlen(s->notes) + strlen(text) + 2;
  char *p = u->api->xMalloc(u->api, n);
  if (!p) return ES_NOMEM;
  snprintf(p, n, "%s%s;", s->notes, text);
  u->api->xFree(u->api, s->notes);
  s->notes = p;
  return ES_OK;
}

static es_status poisoned(void *user, void *state, const es_event *ev) {
  (void)state;
  trace(user, ev);
  return ES_INVALID_PAYLOAD;
}

static es_status counter_to_json(void *user, const void *state, es_builder *out) {
  const counter_state *s = state;
  (void)user;
  es_set_int(out, "total", s->total);
  es_set_int(out, "n", s->n);
  return es_set_text(out, "notes", s->notes);
}

static const es_command_handler counter_commands[] = {
    {"Add", add},       {"AddTwice", add_twice}, {"Note", note},       {"Nothing", nothing},
    {"Bogus", bogus},   {"NoMem", no_mem},       {"Storage", storage}, {"PlainReject", plain_reject},
    {"BadJson", bad_json}, {"Poison", poison},
};

static const es_event_handler counter_events[] = {
    {"Added", added}, {"Noted", noted}, {"Poisoned", poisoned}, {"Silent", 0},
};

static const es_aggregate_type counter_type = {
    .iVersion = 1,
    .name = "counter",
    .state_size = sizeof(counter_state),
    .xInit = counter_init,
    .xClear = counter_clear,
    .commands = counter_commands,
    .n_commands = sizeof(counter_commands) / sizeof(counter_commands[0]),
    .events = counter_events,
    .n_events = sizeof(counter_events) / sizeof(counter_events[0]),
    .xStateToJson = counter_to_json,
};

static void counter_destroy(void *user) { ((counter_user *)user)->destroyed++; }

/* ----------------------- fixture and helpers ----------------------- */

typedef sdb_fx fx; /* support_db.h: sdb_setup makes it (dir, path, db), sdb_teardown removes it */

/* The FTS5-style hand-off, checked step by step. */
static es_api *fetch_api(sqlite3 *db) {
  es_api *api = 0;
  sqlite3_stmt *st = 0;
  assert_int_equal(sqlite3_prepare_v2(db, "SELECT es_api(?1)", -1, &st, 0), SQLITE_OK);
  assert_int_equal(sqlite3_bind_pointer(st, 1, (void *)&api, "es_api_ptr", 0), SQLITE_OK);
  assert_int_equal(sqlite3_step(st), SQLITE_ROW);
  assert_int_equal(sqlite3_column_type(st, 0), SQLITE_NULL);
  assert_int_equal(sqlite3_step(st), SQLITE_DONE);
  assert_int_equal(sqlite3_finalize(st), SQLITE_OK);
  assert_non_null(api);
  return api;
}

static void register_counter(sqlite3 *db, counter_user *u) {
  u->api = fetch_api(db);
  es_status rc = u->api->xRegisterAggregate(u->api, &counter_type, u, counter_destroy);
  if (rc != ES_OK) fail_msg("registering counter failed: %s", u->api->xErrmsg(u->api));
}

#define COUNTER_LOG "SELECT position, aggregate_id, version, type, data FROM es_events ORDER BY position"

/* ----------------------- the hand-off ----------------------- */

/* Opening through the auto-extension is clean: no error is left on the new connection. */
static void test_auto_extension_open_is_clean(void **state) {
  fx *f = *state;
  sqlite3 *db = 0;
  char *path = sdb_join(f->dir, "other.db");
  int rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, 0);
  char msg[512];
  snprintf(msg, sizeof msg, "%s", db ? sqlite3_errmsg(db) : "no connection");
  if (rc != SQLITE_OK) {
    sqlite3_close(db);
    free(path);
    fail_msg("sqlite3_open_v2 with sqlite-es as auto-extension returned %d: %s", rc, msg);
  }
  assert_int_equal(sqlite3_errcode(db), SQLITE_OK);
  assert_string_equal(sqlite3_errmsg(db), "not an error");
  sdb_text_is(db, "SELECT es_version()", ES_VERSION_STRING);
  assert_int_equal(sqlite3_close(db), SQLITE_OK);
  free(path);
}

static void test_es_api_handoff(void **state) {
  fx *f = *state;
  es_api *api = fetch_api(f->db);
  assert_int_equal(api->iVersion, 1);
  assert_non_null(api->xRegisterAggregate);
  assert_non_null(api->xErrmsg);
  assert_non_null(api->xMalloc);
  assert_non_null(api->xFree);
  assert_ptr_equal(api, es_api_from_db(f->db));
  assert_ptr_equal(api, fetch_api(f->db)); /* one per connection, stable */
  assert_string_equal(api->xErrmsg(api), "not an error");

  /* Another connection has its own api and its own registrations. */
  char *other_path = sdb_join(f->dir, "other.db");
  sqlite3 *other = sdb_open_with(other_path, SDB_ES, 0);
  es_api *api2 = fetch_api(other);
  assert_ptr_not_equal(api, api2);
  assert_ptr_equal(api2, es_api_from_db(other));
  sdb_rows_are(other, "SELECT name FROM es_aggregates", "");
  sdb_exec_fails(other, "SELECT es_submit('account', 'acc-1', 'OpenAccount', '{\"owner\":\"ada\"}')", SQLITE_ERROR,
                 "es: unknown_aggregate: no aggregate type 'account' is registered on this connection");
  sdb_close(other);
  free(other_path);

  /* A connection without sqlite-es has no api. */
  char *plain_path = sdb_join(f->dir, "plain.db");
  sqlite3 *plain = sdb_open_with(plain_path, 0, 0);
  assert_null(es_api_from_db(plain));
  sdb_close(plain);
  free(plain_path);
}

/* es_api(?1) without the right pointer is refused, with the way to do it right. */
static void test_es_api_without_pointer(void **state) {
  fx *f = *state;
  const char *msg =
      "es: invalid_argument: es_api(?1) needs a pointer bound with sqlite3_bind_pointer(\xE2\x80\xA6, \"es_api_ptr\","
      " \xE2\x80\xA6)";
  sdb_exec_fails(f->db, "SELECT es_api(1)", SQLITE_ERROR, msg);
  sdb_exec_fails(f->db, "SELECT es_api(NULL)", SQLITE_ERROR, msg);
  sdb_exec_fails(f->db, "SELECT es_api('es_api_ptr')", SQLITE_ERROR, msg);

  /* A pointer of another type is not handed the api. */
  es_api *api = 0;
  sqlite3_stmt *st = 0;
  assert_int_equal(sqlite3_prepare_v2(f->db, "SELECT es_api(?1)", -1, &st, 0), SQLITE_OK);
  assert_int_equal(sqlite3_bind_pointer(st, 1, (void *)&api, "other_ptr", 0), SQLITE_OK);
  assert_int_equal(sqlite3_step(st), SQLITE_ERROR);
  assert_string_equal(sqlite3_errmsg(f->db), msg);
  sqlite3_finalize(st);
  assert_null(api);
}

/* ----------------------- a custom aggregate ----------------------- */

static void test_custom_aggregate(void **state) {
  fx *f = *state;
  counter_user u = {0};
  register_counter(f->db, &u);
  assert_string_equal(u.api->xErrmsg(u.api), "not an error");
  sdb_rows_are(f->db, "SELECT name, commands, events FROM es_aggregates ORDER BY name",
               "account|[\"OpenAccount\",\"Deposit\",\"Withdraw\",\"CloseAccount\"]|[\"AccountOpened\",\"Deposited\","
               "\"Withdrawn\",\"AccountClosed\"]\n"
               "counter|[\"Add\",\"AddTwice\",\"Note\",\"Nothing\",\"Bogus\",\"NoMem\",\"Storage\",\"PlainReject\","
               "\"BadJson\",\"Poison\"]|[\"Added\",\"Noted\",\"Poisoned\",\"Silent\"]\n");

  assert_int_equal(sdb_int(f->db, "SELECT es_submit('counter', 'c1', 'Add', '{\"by\":5}')"), 1);
  assert_string_equal(u.trace, "Added@1 ");
  u.trace[0] = 0;
  assert_int_equal(sdb_int(f->db, "SELECT es_submit('counter', 'c1', 'Add', '{\"by\":7}')"), 2);
  assert_string_equal(u.trace, "Added@2 "); /* the state after version 1 was cached: only the new event */
  u.trace[0] = 0;
  sdb_text_is(f->db, "SELECT es_try_submit('counter', 'c1', 'AddTwice', '{\"by\":1e1}')",
              "{\"ok\":true,\"version\":4,\"position\":4,\"events\":2}");
  assert_string_equal(u.trace, "Added@3 Added@4 ");
  /* Without the cache, every command folds its whole stream again. */
  assert_int_equal(sdb_int(f->db, "SELECT es_config('state_cache', 0)"), 0);
  assert_int_equal(u.inits, u.clears); /* the cached states were cleared on the way out */
  u.trace[0] = 0;
  sdb_text_is(f->db, "SELECT es_try_submit('counter', 'c1', 'Nothing')", "{\"ok\":true,\"version\":4,\"position\":null,\"events\":0}");
  assert_string_equal(u.trace, "Added@1 Added@2 Added@3 Added@4 ");
  assert_int_equal(sdb_int(f->db, "SELECT es_config('state_cache', 10000)"), 10000);
  /* Another aggregate of the same type interleaves; positions go on across both. */
  assert_int_equal(sdb_int(f->db, "SELECT es_submit('counter', 'c2', 'Add', '{\"by\":-3}')"), 1);
  sdb_rows_are(f->db, COUNTER_LOG,
               "1|c1|1|Added|{\"by\":5}\n"
               "2|c1|2|Added|{\"by\":7}\n"
               "3|c1|3|Added|{\"by\":10}\n"
               "4|c1|4|Added|{\"by\":10}\n"
               "5|c2|1|Added|{\"by\":-3}\n");
  sdb_text_is(f->db, "SELECT es_state('counter', 'c1')", "{\"total\":32,\"n\":4,\"notes\":\"\"}");
  sdb_text_is(f->db, "SELECT es_state('counter', 'c2')", "{\"total\":-3,\"n\":1,\"notes\":\"\"}");
  sdb_text_is(f->db, "SELECT es_state('counter', 'nobody')", "{\"total\":0,\"n\":0,\"notes\":\"\"}");

  /* A command may emit no event: the version stays, nothing is appended. */
  sdb_text_is(f->db, "SELECT es_try_submit('counter', 'c1', 'Nothing')",
              "{\"ok\":true,\"version\":4,\"position\":null,\"events\":0}");
  assert_int_equal(sdb_int(f->db, "SELECT es_submit('counter', 'c9', 'Nothing')"), 0);
  assert_int_equal(sdb_int(f->db, "SELECT count(*) FROM es_events"), 5);

  /* Rejection through es_reject, with its reason and formatted message. */
  sdb_exec_fails(f->db, "SELECT es_submit('counter', 'c1', 'Add', '{\"by\":0}')", SQLITE_CONSTRAINT_FUNCTION,
                 "es: rejected (zero): adding 0 changes nothing");
  /* A getter's complaint becomes the invalid_payload message. */
  sdb_exec_fails(f->db, "SELECT es_submit('counter', 'c1', 'Add', '{\"by\":1.5}')", SQLITE_MISMATCH,
                 "es: invalid_payload: payload field 'by' must be an integer, got 1.5");
  sdb_exec_fails(f->db, "SELECT es_submit('counter', 'c1', 'Add')", SQLITE_MISMATCH,
                 "es: invalid_payload: payload field 'by' is missing");
  assert_true(u.decides >= 6);
  assert_int_equal(u.destroyed, 0);
  assert_int_equal(sdb_int(f->db, "SELECT es_config('state_cache', 0)"), 0); /* cached states cleared */
  assert_int_equal(u.inits, u.clears); /* every state's memory was released */
}

/* Every payload accessor and every builder setter, through one command and its event. */
static void test_accessors_and_builder(void **state) {
  fx *f = *state;
  counter_user u = {0};
  register_counter(f->db, &u);
  assert_int_equal(sdb_int(f->db, "SELECT es_submit('counter', 'n-1', 'Note', '{\"text\":\"h\\u00e9 \\\"q\\\"\","
                                  "\"weight\":2.5,\"flag\":true,\"extra\":[1, {\"a\" : null}]}')"),
                   1);
  sdb_rows_are(f->db, "SELECT data FROM es_events",
               "{\"text\":\"last value wins\",\"weight\":2.5,\"flag\":true,\"nothing\":null,\"extra\":[1, {\"a\" : null}],"
               "\"id\":\"n-1\",\"cmd\":\"Note\"}\n");
  assert_int_equal(sdb_int(f->db, "SELECT es_submit('counter', 'n-1', 'Note', '{\"text\":\"b\",\"weight\":3,"
                                  "\"flag\":false,\"extra\":\"s\"}')"),
                   2);
  sdb_text_is(f->db, "SELECT es_state('counter', 'n-1')",
              "{\"total\":0,\"n\":0,\"notes\":\"last value wins;last value wins;\"}");
  sdb_exec_fails(f->db, "SELECT es_submit('counter', 'n-1', 'Note', '{\"text\":\"b\",\"weight\":\"heavy\"}')",
                 SQLITE_MISMATCH, "es: invalid_payload: payload field 'weight' must be a number, got string");
  sdb_exec_fails(f->db, "SELECT es_submit('counter', 'n-1', 'Note', '{\"text\":\"b\",\"weight\":1,\"flag\":1}')",
                 SQLITE_MISMATCH, "es: invalid_payload: payload field 'flag' must be a boolean, got integer");
  sdb_exec_fails(f->db, "SELECT es_submit('counter', 'n-1', 'Note', '{\"text\":\"b\",\"weight\":1,\"flag\":true}')",
                 SQLITE_MISMATCH, "es: invalid_payload: payload field 'extra' is missing");
  sdb_exec_fails(f->db, "SELECT es_submit('counter', 'n-1', 'Note', '{\"text\":null}')", SQLITE_MISMATCH,
                 "es: invalid_payload: payload field 'text' must be a string, got null");
  assert_int_equal(sdb_int(f->db, "SELECT es_config('state_cache', 0)"), 0); /* cached states cleared */
  assert_int_equal(u.inits, u.clears);
}

/* Failures reported by callbacks: each with its kind and message, and nothing written. */
static void test_callback_failures_write_nothing(void **state) {
  fx *f = *state;
  counter_user u = {0};
  register_counter(f->db, &u);
  assert_int_equal(sdb_int(f->db, "SELECT es_submit('counter', 'c1', 'Add', '{\"by\":1}')"), 1);
  char *before = sdb_dump(f->db);
  static const struct {
    const char *sql;
    int code;
    const char *msg;
  } cases[] = {
      {"SELECT es_submit('counter', 'c1', 'Bogus')", SQLITE_ERROR,
       "es: undeclared_event: aggregate type 'counter' emitted undeclared event type 'Bogus'"},
      {"SELECT es_submit('counter', 'c1', 'Storage')", SQLITE_ERROR,
       "es: storage: decide of command 'Storage' on aggregate type 'counter' failed"},
      {"SELECT es_submit('counter', 'c1', 'PlainReject')", SQLITE_CONSTRAINT_FUNCTION,
       "es: rejected (rejected): command 'PlainReject' was rejected"},
      {"SELECT es_submit('counter', 'c1', 'BadJson')", SQLITE_ERROR,
       "es: invalid_argument: data of event 'Added' from command on counter 'c1': a field was set with no key or"
       " invalid JSON"},
      {"SELECT es_submit('counter', 'c1', 'Poison')", SQLITE_MISMATCH,
       "es: invalid_payload: evolving event 'Poisoned' version 3 of counter 'c1': the evolve callback failed"},
      {"SELECT es_submit('counter', 'c1', 'NoMem')", SQLITE_NOMEM, "out of memory"},
  };
  for (int in_txn = 0; in_txn < 2; in_txn++) {
    for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
      if (in_txn) sdb_exec(f->db, "BEGIN");
      sdb_exec_fails(f->db, cases[i].sql, cases[i].code, cases[i].msg);
      if (in_txn && cases[i].code != SQLITE_NOMEM) { /* SQLite itself may end a transaction on NOMEM */
        assert_int_equal(sqlite3_get_autocommit(f->db), 0);
        sdb_dump_is(f->db, before);
      }
      if (!sqlite3_get_autocommit(f->db)) sdb_exec(f->db, "COMMIT");
      sdb_dump_is(f->db, before);
    }
  }
  /* es_try_submit reports the domain outcomes as JSON and raises the rest. */
  sdb_text_is(f->db, "SELECT es_try_submit('counter', 'c1', 'Bogus')",
              "{\"ok\":false,\"error\":\"undeclared_event\",\"reason\":null,\"message\":\"aggregate type 'counter'"
              " emitted undeclared event type 'Bogus'\"}");
  sdb_exec_fails(f->db, "SELECT es_try_submit('counter', 'c1', 'Storage')", SQLITE_ERROR,
                 "es: storage: decide of command 'Storage' on aggregate type 'counter' failed");
  sdb_exec_fails(f->db, "SELECT es_try_submit('counter', 'c1', 'NoMem')", SQLITE_NOMEM, "out of memory");
  sdb_dump_is(f->db, before);
  /* The connection is fine afterwards. */
  assert_int_equal(sdb_int(f->db, "SELECT es_submit('counter', 'c1', 'Add', '{\"by\":1}')"), 2);
  assert_int_equal(sdb_int(f->db, "SELECT es_config('state_cache', 0)"), 0); /* cached states cleared */
  assert_int_equal(u.inits, u.clears);
  free(before);
}

/* ----------------------- registration ----------------------- */

static es_status dummy_decide(void *user, const void *state, const es_command *cmd, es_emitter *out) {
  (void)user, (void)state, (void)cmd, (void)out;
  return ES_OK;
}

static void count_destroy(void *user) { (*(int *)user)++; }

/* Definitions that could never work are refused with a message naming the culprit. */
static void test_invalid_registrations(void **state) {
  fx *f = *state;
  es_api *api = fetch_api(f->db);
  static const es_command_handler twice[] = {{"A", dummy_decide}, {"B", dummy_decide}, {"A", dummy_decide}};
  static const es_command_handler no_decide[] = {{"A", 0}};
  static const es_command_handler unnamed[] = {{"A", dummy_decide}, {"", dummy_decide}};
  static const es_command_handler ok_cmds[] = {{"A", dummy_decide}};
  static const es_event_handler ev_twice[] = {{"E", 0}, {"E", 0}};
  static const es_event_handler ev_unnamed[] = {{0, 0}};
  char long_name[202];
  memset(long_name, 'n', 201);
  long_name[201] = 0;
  struct {
    es_aggregate_type def;
    const char *msg;
  } cases[] = {
      {{.iVersion = 1, .name = "x", .commands = twice, .n_commands = 3},
       "es: invalid_argument: aggregate type 'x': command 'A' is declared twice"},
      {{.iVersion = 0, .name = "x", .commands = ok_cmds, .n_commands = 1},
       "es: invalid_argument: aggregate type iVersion must be at least 1"},
      {{.iVersion = 1, .name = "", .commands = ok_cmds, .n_commands = 1},
       "es: invalid_argument: aggregate type name must be 1 to 200 bytes with no control characters"},
      {{.iVersion = 1, .name = 0, .commands = ok_cmds, .n_commands = 1},
       "es: invalid_argument: aggregate type name must be 1 to 200 bytes with no control characters"},
      {{.iVersion = 1, .name = "a\tb", .commands = ok_cmds, .n_commands = 1},
       "es: invalid_argument: aggregate type name must be 1 to 200 bytes with no control characters"},
      {{.iVersion = 1, .name = long_name, .commands = ok_cmds, .n_commands = 1},
       "es: invalid_argument: aggregate type name must be 1 to 200 bytes with no control characters"},
      {{.iVersion = 1, .name = "x", .commands = no_decide, .n_commands = 1},
       "es: invalid_argument: aggregate type 'x': command 'A' has no decide callback"},
      {{.iVersion = 1, .name = "x", .commands = unnamed, .n_commands = 2},
       "es: invalid_argument: aggregate type 'x': command 1 has no valid name"},
      {{.iVersion = 1, .name = "x", .commands = 0, .n_commands = 1},
       "es: invalid_argument: aggregate type 'x': bad handler arrays"},
      {{.iVersion = 1, .name = "x", .commands = ok_cmds, .n_commands = -1},
       "es: invalid_argument: aggregate type 'x': bad handler arrays"},
      {{.iVersion = 1, .name = "x", .commands = ok_cmds, .n_commands = 1, .events = 0, .n_events = 2},
       "es: invalid_argument: aggregate type 'x': bad handler arrays"},
      {{.iVersion = 1, .name = "x", .commands = ok_cmds, .n_commands = 1, .events = ev_twice, .n_events = 2},
       "es: invalid_argument: aggregate type 'x': event 'E' is declared twice"},
      {{.iVersion = 1, .name = "x", .commands = ok_cmds, .n_commands = 1, .events = ev_unnamed, .n_events = 1},
       "es: invalid_argument: aggregate type 'x': event 0 has no valid name"},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
    int destroyed = 0;
    assert_int_equal(api->xRegisterAggregate(api, &cases[i].def, &destroyed, count_destroy), ES_INVALID_ARGUMENT);
    assert_string_equal(api->xErrmsg(api), cases[i].msg);
    assert_int_equal(destroyed, 1); /* the user data is released on failure too */
  }
  int destroyed = 0;
  assert_int_equal(api->xRegisterAggregate(api, 0, &destroyed, count_destroy), ES_INVALID_ARGUMENT);
  assert_string_equal(api->xErrmsg(api), "es: invalid_argument: aggregate type definition is NULL");
  assert_int_equal(destroyed, 1);
  /* Nothing of the refused definitions was registered. */
  sdb_rows_are(f->db, "SELECT name FROM es_aggregates", "account\n");

  /* A valid one afterwards clears the message; its definition is copied, so it may be temporary. */
  char name[8];
  snprintf(name, sizeof name, "%s", "tmp");
  es_command_handler cmds[1] = {{"A", dummy_decide}};
  es_aggregate_type def = {.iVersion = 1, .name = name, .commands = cmds, .n_commands = 1};
  assert_int_equal(api->xRegisterAggregate(api, &def, 0, 0), ES_OK);
  assert_string_equal(api->xErrmsg(api), "not an error");
  memset(name, 'z', sizeof name - 1);
  cmds[0].command_type = "Changed";
  sdb_rows_are(f->db, "SELECT name, commands, events FROM es_aggregates ORDER BY name", "account|[\"OpenAccount\","
               "\"Deposit\",\"Withdraw\",\"CloseAccount\"]|[\"AccountOpened\",\"Deposited\",\"Withdrawn\","
               "\"AccountClosed\"]\ntmp|[\"A\"]|[]\n");
  assert_int_equal(sdb_int(f->db, "SELECT es_submit('tmp', 't1', 'A')"), 0);
  /* A type without xStateToJson has no es_state. */
  sdb_exec_fails(f->db, "SELECT es_state('tmp', 't1')", SQLITE_ERROR,
                 "es: invalid_argument: aggregate type 'tmp' has no xStateToJson callback");
}

/* Registering a type again replaces it: the old user data is destroyed, the new callbacks run. */
static void test_replace_calls_old_destroy(void **state) {
  fx *f = *state;
  counter_user u1 = {0}, u2 = {0};
  register_counter(f->db, &u1);
  assert_int_equal(sdb_int(f->db, "SELECT es_submit('counter', 'c1', 'Add', '{\"by\":2}')"), 1);
  register_counter(f->db, &u2);
  assert_int_equal(u1.destroyed, 1);
  assert_int_equal(u2.destroyed, 0);
  int decides1 = u1.decides;
  assert_int_equal(sdb_int(f->db, "SELECT es_submit('counter', 'c1', 'Add', '{\"by\":3}')"), 2);
  assert_int_equal(u1.decides, decides1);
  assert_int_equal(u2.decides, 1);
  sdb_text_is(f->db, "SELECT es_state('counter', 'c1')", "{\"total\":5,\"n\":2,\"notes\":\"\"}");
  sdb_rows_are(f->db, "SELECT name FROM es_aggregates ORDER BY name", "account\ncounter\n");
  /* Replacing the bank's type with a refused definition keeps the old one. */
  es_api *api = fetch_api(f->db);
  es_aggregate_type bad = counter_type;
  bad.n_commands = -1;
  int destroyed = 0;
  assert_int_equal(api->xRegisterAggregate(api, &bad, &destroyed, count_destroy), ES_INVALID_ARGUMENT);
  assert_int_equal(destroyed, 1);
  assert_int_equal(u2.destroyed, 0);
  assert_int_equal(sdb_int(f->db, "SELECT es_submit('counter', 'c1', 'Add', '{\"by\":3}')"), 3);
  sdb_close(f->db);
  f->db = 0;
  assert_int_equal(u1.destroyed, 1);
  assert_int_equal(u2.destroyed, 1);
  assert_int_equal(u1.inits + u2.inits, u1.clears + u2.clears);
}

/* xDestroy runs when the connection closes, with sqlite3_close_v2 … */
static void test_destroy_at_close_v2(void **state) {
  fx *f = *state;
  counter_user u = {0};
  register_counter(f->db, &u);
  assert_int_equal(sdb_int(f->db, "SELECT es_submit('counter', 'c1', 'Add', '{\"by\":2}')"), 1);
  assert_int_equal(u.destroyed, 0);
  assert_int_equal(sqlite3_close_v2(f->db), SQLITE_OK);
  f->db = 0;
  assert_int_equal(u.destroyed, 1);
}

/*
** … and plain sqlite3_close() succeeds after every kind of use: the statements sqlite-es keeps
** cached must be finalized by the extension itself when the connection closes.
*/
static void test_plain_close_after_use(void **state) {
  fx *f = *state;
  counter_user u = {0};
  register_counter(f->db, &u);
  assert_int_equal(sdb_int(f->db, "SELECT es_submit('counter', 'c1', 'Add', '{\"by\":2}', '{\"command_id\":\"x\"}')"), 1);
  assert_int_equal(sdb_int(f->db, "SELECT es_submit('counter', 'c1', 'Add', '{\"by\":2}', '{\"command_id\":\"x\"}')"), 1);
  assert_int_equal(sdb_int(f->db, "SELECT es_submit('account', 'acc-1', 'OpenAccount', '{\"owner\":\"ada\"}')"), 1);
  sdb_exec_fails(f->db, "SELECT es_submit('counter', 'c1', 'Add', '{\"by\":0}')", SQLITE_CONSTRAINT_FUNCTION,
                 "es: rejected (zero): adding 0 changes nothing");
  sdb_exec(f->db, "BEGIN; SELECT es_submit('counter', 'c1', 'Add', '{\"by\":2}'); ROLLBACK");
  sdb_text_is(f->db, "SELECT es_state('counter', 'c1')", "{\"total\":2,\"n\":1,\"notes\":\"\"}");
  assert_int_equal(sdb_int(f->db, "SELECT es_stream_version('counter', 'c1')"), 1);
  sdb_rows_are(f->db, "SELECT version, type FROM es_stream('counter', 'c1')", "1|Added\n");
  assert_int_equal(sdb_int(f->db, "SELECT es_protect()"), 0);
  assert_int_equal(sqlite3_close(f->db), SQLITE_OK);
  f->db = 0;
  assert_int_equal(u.destroyed, 1);
  assert_int_equal(u.inits, u.clears);

  /* Reading only, on a fresh connection, then closing. */
  sqlite3 *db = sdb_open(f->path);
  assert_int_equal(sdb_int(db, "SELECT es_stream_version('account', 'acc-1')"), 1);
  assert_int_equal(sqlite3_close(db), SQLITE_OK);
  db = sdb_open(f->path);
  sdb_text_is(db, "SELECT es_state('account', 'acc-1')", "{\"status\":\"open\",\"owner\":\"ada\",\"balance\":0}");
  assert_int_equal(sqlite3_close(db), SQLITE_OK);
  /* After a schema change on the connection (which may disconnect virtual tables). */
  db = sdb_open(f->path);
  assert_int_equal(sdb_int(db, "SELECT es_submit('account', 'acc-1', 'Deposit', '{\"amount\":5}')"), 2);
  sdb_exec(db, "CREATE TABLE t(x); DROP TABLE t");
  assert_int_equal(sdb_int(db, "SELECT es_submit('account', 'acc-1', 'Deposit', '{\"amount\":5}')"), 3);
  sdb_exec(db, "CREATE TABLE t2(x)");
  assert_int_equal(sqlite3_close(db), SQLITE_OK);
}

/* ----------------------- es_state ----------------------- */

static void test_es_state(void **state) {
  fx *f = *state;
  sdb_text_is(f->db, "SELECT es_state('account', 'acc-1')", "{\"status\":\"none\",\"balance\":0}");
  assert_int_equal(sdb_int(f->db, "SELECT es_submit('account', 'acc-1', 'OpenAccount', '{\"owner\":\"ada\"}')"), 1);
  assert_int_equal(sdb_int(f->db, "SELECT es_submit('account', 'acc-1', 'Deposit', '{\"amount\":100}')"), 2);
  sdb_text_is(f->db, "SELECT es_state('account', 'acc-1')", "{\"status\":\"open\",\"owner\":\"ada\",\"balance\":100}");
  assert_int_equal(sdb_int(f->db, "SELECT es_submit('account', 'acc-1', 'Withdraw', '{\"amount\":100}')"), 3);
  assert_int_equal(sdb_int(f->db, "SELECT es_submit('account', 'acc-1', 'CloseAccount')"), 4);
  sdb_text_is(f->db, "SELECT es_state('account', 'acc-1')", "{\"status\":\"closed\",\"owner\":\"ada\",\"balance\":0}");
  sdb_text_is(f->db, "SELECT json_valid(es_state('account', 'acc-1'))", "1");
  sdb_exec_fails(f->db, "SELECT es_state('nope', 'acc-1')", SQLITE_ERROR,
                 "es: unknown_aggregate: no aggregate type 'nope' is registered on this connection");
  sdb_exec_fails(f->db, "SELECT es_state(NULL, 'acc-1')", SQLITE_ERROR,
                 "es: invalid_argument: aggregate_type must be text, got null");
  sdb_exec_fails(f->db, "SELECT es_state('account', 7)", SQLITE_ERROR,
                 "es: invalid_argument: aggregate_id must be text, got integer");
  sdb_exec_fails(f->db, "SELECT es_state('account', '')", SQLITE_ERROR,
                 "es: invalid_argument: aggregate_id must not be empty");
}

/* ----------------------- loading twice ----------------------- */

/* Loading sqlite-es again on a connection keeps its state and its registrations. */
static void test_load_twice_keeps_registrations(void **state) {
  fx *f = *state;
  counter_user u = {0};
  register_counter(f->db, &u);
  assert_int_equal(sdb_int(f->db, "SELECT es_submit('counter', 'c1', 'Add', '{\"by\":2}')"), 1);
  es_api *api = fetch_api(f->db);
  char *err = 0;
  assert_int_equal(sqlite3_es_init(f->db, &err, 0), SQLITE_OK);
  assert_null(err);
  assert_int_equal(sqlite3_errcode(f->db), SQLITE_OK);
  assert_ptr_equal(fetch_api(f->db), api);
  assert_int_equal(u.destroyed, 0);
  sdb_rows_are(f->db, "SELECT name FROM es_aggregates ORDER BY name", "account\ncounter\n");
  assert_int_equal(sdb_int(f->db, "SELECT es_submit('counter', 'c1', 'Add', '{\"by\":2}')"), 2);
  assert_int_equal(sdb_int(f->db, "SELECT es_submit('account', 'acc-1', 'OpenAccount', '{\"owner\":\"ada\"}')"), 1);
  /* The bank example registering again replaces its type with an identical one. */
  assert_int_equal(sqlite3_bank_init(f->db, &err, 0), SQLITE_OK);
  assert_int_equal(sdb_int(f->db, "SELECT es_submit('account', 'acc-1', 'Deposit', '{\"amount\":1}')"), 2);
  sdb_close(f->db);
  f->db = 0;
  assert_int_equal(u.destroyed, 1);
}

/* ----------------------- test list ----------------------- */

int main(void) {
  const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, sdb_setup, sdb_teardown)
      T(test_auto_extension_open_is_clean),
      T(test_es_api_handoff),
      T(test_es_api_without_pointer),
      T(test_custom_aggregate),
      T(test_accessors_and_builder),
      T(test_callback_failures_write_nothing),
      T(test_invalid_registrations),
      T(test_replace_calls_old_destroy),
      T(test_destroy_at_close_v2),
      T(test_plain_close_after_use),
      T(test_es_state),
      T(test_load_twice_keeps_registrations),
#undef T
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
