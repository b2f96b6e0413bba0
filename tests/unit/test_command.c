/*
** test_command.c — unit tests of the domain's command loop (ext/domain/command.h) against the
** in-memory event store (fake_store.c) and the sample aggregates (sample_aggregates.c):
** es_command_run, es_command_check and es_aggregate_state_json. Accepted commands (versions,
** positions, what reaches the port), rejections, conflicts for every expected_version form,
** unknown aggregate or command, undeclared events, evolve order over replay and new events,
** typed port errors passed through unchanged, command_id idempotency, metadata, payload and id
** errors, corrupt streams, and out-of-memory at every allocation. Every failure must leave the
** store exactly as it was, and every test ends with nothing leaked (fake_mem).
*/
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../ext/domain/command.h"
#include "../../ext/domain/json.h"
#include "../../ext/domain/mem.h"
#include "../../ext/domain/registry.h"
#include "fake_mem.h"
#include "fake_store.h"
#include "sample_aggregates.h"
#include "unit_support.h"

/* ----------------------- Fixture ----------------------- */

static struct {
  es_registry *reg;
  fake_store *fs;
  sample_user user;  /* of "account" */
  sample_user cuser; /* of "counter" */
} F;

/* A registry with both sample types and an empty store. */
static void fx_open(void) {
  es_error err = {0};
  memset(&F, 0, sizeof(F));
  sample_log_reset();
  F.reg = es_registry_new();
  assert_non_null(F.reg);
  assert_int_equal(es_registry_add(F.reg, sample_account_type(), &F.user, sample_user_destroy, &err), ES_OK);
  assert_int_equal(es_registry_add(F.reg, sample_counter_type(), &F.cuser, sample_user_destroy, &err), ES_OK);
  assert_int_equal(err.status, ES_OK);
  F.fs = fake_store_new();
  assert_non_null(F.fs);
}

static void fx_close(void) {
  fake_store_free(F.fs);
  es_registry_free(F.reg);
  assert_int_equal(F.user.destroyed, 1);
  assert_int_equal(F.cuser.destroyed, 1);
  assert_int_equal(F.user.inits, F.user.clears); /* every state that was made was cleared */
  F.fs = 0;
  F.reg = 0;
}

static int setup(void **state) {
  unit_setup(state);
  fx_open();
  return 0;
}

static int teardown(void **state) {
  fake_mem_fail_after(-1); /* the fixture is freed with a working allocator */
  fx_close();
  return unit_teardown(state);
}

/* ----------------------- Helpers ----------------------- */

static es_status run_req(const es_command_request *req, es_command_result *res, es_error *err) {
  return es_command_run(F.reg, &F.fs->port, req, res, err);
}

static es_status run(const char *type, const char *id, const char *cmd, const char *payload, const char *options,
                     es_command_result *res, es_error *err) {
  es_command_request req = {.aggregate_type = type,
                            .aggregate_id = id,
                            .command_type = cmd,
                            .payload = payload,
                            .payload_len = payload ? strlen(payload) : 0,
                            .options = options,
                            .options_len = options ? strlen(options) : 0};
  return run_req(&req, res, err);
}

/* Run a command that must be accepted; returns its result. */
static es_command_result ok(const char *type, const char *id, const char *cmd, const char *payload,
                            const char *options) {
  es_command_result res;
  es_error err = {0};
  es_status rc = run(type, id, cmd, payload, options, &res, &err);
  if (rc != ES_OK)
    fail_msg("%s on %s '%s' failed: %s: %s", cmd, type, id, es_status_name(err.status),
             err.message ? err.message : "-");
  assert_int_equal(err.status, ES_OK);
  assert_null(err.message);
  assert_null(err.reason);
  return res;
}

static void assert_result(es_command_result r, int64_t version, int64_t position, int64_t n_events, int duplicate) {
  if (r.version != version || r.position != position || r.n_events != n_events || r.duplicate != duplicate)
    fail_msg("result {version %lld, position %lld, events %lld, duplicate %d}, expected {%lld, %lld, %lld, %d}",
             (long long)r.version, (long long)r.position, (long long)r.n_events, r.duplicate, (long long)version,
             (long long)position, (long long)n_events, duplicate);
}

/* The error must be exactly this (then it is cleared). */
static void assert_error(es_error *err, es_status status, const char *reason, const char *message) {
  if (err->status != status)
    fail_msg("status %s (%s), expected %s", es_status_name(err->status), err->message ? err->message : "-",
             es_status_name(status));
  assert_str(err->reason, reason);
  assert_str(err->message, message);
  es_error_clear(err);
}

/* The log and the command records, to compare before and after a failure. */
typedef struct snap {
  size_t n_events, n_commands;
  int64_t last_position;
  int appends;
} snap;

static snap snap_take(void) {
  snap s = {F.fs->n_events, F.fs->n_commands, F.fs->last_position, F.fs->calls[FAKE_APPEND]};
  return s;
}

/* Nothing was appended, and append was not even called. */
static void assert_untouched(snap s) {
  assert_int_equal(F.fs->n_events, s.n_events);
  assert_int_equal(F.fs->n_commands, s.n_commands);
  assert_int_equal(F.fs->last_position, s.last_position);
  assert_int_equal(F.fs->calls[FAKE_APPEND], s.appends);
}

/* A command that must fail with exactly this error, appending nothing; the result stays zeroed. */
static void refused(const char *type, const char *id, const char *cmd, const char *payload, const char *options,
                    es_status status, const char *reason, const char *message) {
  es_command_result res;
  es_error err = {0};
  snap s = snap_take();
  memset(&res, 0x5a, sizeof(res));
  es_status rc = run(type, id, cmd, payload, options, &res, &err);
  assert_int_equal(rc, err.status);
  assert_error(&err, status, reason, message);
  assert_result(res, 0, 0, 0, 0);
  assert_untouched(s);
}

static const fake_event *ev_at(size_t i) {
  assert_true(i < F.fs->n_events);
  return &F.fs->events[i];
}

static void assert_event(size_t i, int64_t position, const char *type, const char *id, int64_t version,
                         const char *ev_type, const char *data) {
  const fake_event *e = ev_at(i);
  assert_int_equal(e->position, position);
  assert_str(e->aggregate_type, type);
  assert_str(e->aggregate_id, id);
  assert_int_equal(e->version, version);
  assert_str(e->type, ev_type);
  assert_str(e->data, data);
  assert_int_equal(e->data_len, strlen(data));
}

static void open_account(const char *id, const char *owner) {
  char payload[256];
  snprintf(payload, sizeof(payload), "{\"owner\":\"%s\"}", owner);
  ok("account", id, "Open", payload, NULL);
}

static char *state_json(const char *type, const char *id, int64_t *version) {
  char *json = 0;
  es_error err = {0};
  es_status rc = es_aggregate_state_json(F.reg, &F.fs->port, type, id, &json, version, &err);
  if (rc != ES_OK) fail_msg("state of %s '%s': %s", type, id, err.message ? err.message : "-");
  assert_non_null(json);
  return json;
}

static void assert_state(const char *type, const char *id, const char *want, int64_t want_version) {
  int64_t version = -1;
  char *json = state_json(type, id, &version);
  assert_str(json, want);
  assert_int_equal(version, want_version);
  es_mem_free(json);
}

/* A string of n copies of c, es_mem_alloc'd. */
static char *repeat(char c, size_t n) {
  char *s = es_mem_alloc(n + 1);
  assert_non_null(s);
  memset(s, c, n);
  s[n] = 0;
  return s;
}

/* ----------------------- Accepted ----------------------- */

static void test_accepted_one_event(void **state) {
  (void)state;
  es_command_result r = ok("account", "a1", "Open", "{\"owner\":\"ada\"}", NULL);
  assert_result(r, 1, 1, 1, 0);
  assert_int_equal(F.fs->n_events, 1);
  assert_event(0, 1, "account", "a1", 1, "Opened", "{\"owner\":\"ada\"}");
  assert_null(ev_at(0)->metadata);
  assert_null(ev_at(0)->command_id);
  /* What reached the port. */
  assert_int_equal(F.fs->calls[FAKE_APPEND], 1);
  assert_int_equal(F.fs->calls[FAKE_READ_STREAM], 1);
  assert_int_equal(F.fs->calls[FAKE_FIND_COMMAND], 0); /* no command_id */
  assert_str(F.fs->last_read_type, "account");
  assert_str(F.fs->last_read_id, "a1");
  assert_int_equal(F.fs->last_read_after, 0);
  const fake_append_copy *a = &F.fs->last_append;
  assert_true(a->valid);
  assert_str(a->aggregate_type, "account");
  assert_str(a->aggregate_id, "a1");
  assert_str(a->command_type, "Open");
  assert_int_equal(a->first_version, 1);
  assert_int_equal(a->n_events, 1);
  assert_str(a->types[0], "Opened");
  assert_str(a->datas[0], "{\"owner\":\"ada\"}");
  assert_int_equal(a->data_lens[0], strlen("{\"owner\":\"ada\"}"));
  assert_null(a->metadata);
  assert_null(a->command_id);

  r = ok("account", "a1", "Deposit", "{\"amount\":100}", NULL);
  assert_result(r, 2, 2, 1, 0);
  assert_event(1, 2, "account", "a1", 2, "Deposited", "{\"amount\":100}");
  assert_int_equal(F.fs->last_append.first_version, 2);
  assert_str(F.fs->last_append.command_type, "Deposit");
  assert_int_equal(F.user.decides, 2);
}

static void test_accepted_several_events(void **state) {
  (void)state;
  open_account("a1", "ada");
  es_command_result r = ok("account", "a1", "Split", "{\"amount\":5,\"parts\":3}", NULL);
  assert_result(r, 4, 4, 3, 0);
  assert_int_equal(F.fs->last_append.first_version, 2);
  assert_int_equal(F.fs->last_append.n_events, 3);
  for (size_t i = 1; i <= 3; i++) assert_event(i, (int64_t)i + 1, "account", "a1", (int64_t)i + 1, "Deposited", "{\"amount\":5}");

  /* Positions are global and gapless; versions are per aggregate. */
  r = ok("counter", "c1", "Increment", NULL, NULL);
  assert_result(r, 1, 5, 1, 0);
  assert_event(4, 5, "counter", "c1", 1, "Incremented", "{}");
  r = ok("account", "a2", "Open", "{\"owner\":\"bob\"}", NULL);
  assert_result(r, 1, 6, 1, 0);
  r = ok("account", "a1", "Withdraw", "{\"amount\":15}", NULL);
  assert_result(r, 5, 7, 1, 0);
  assert_event(6, 7, "account", "a1", 5, "Withdrawn", "{\"amount\":15}");
  /* The same id under another aggregate type is another stream. */
  r = ok("counter", "a1", "Increment", "{}", NULL);
  assert_result(r, 1, 8, 1, 0);
  assert_int_equal(fake_store_stream_version(F.fs, "account", "a1"), 5);
  assert_int_equal(fake_store_stream_version(F.fs, "counter", "a1"), 1);
}

static void test_accepted_zero_events(void **state) {
  (void)state;
  es_command_result r = ok("account", "a1", "Touch", "{}", NULL);
  assert_result(r, 0, 0, 0, 0);
  assert_int_equal(F.fs->n_events, 0);
  open_account("a1", "ada");
  fake_store_reset_calls(F.fs);
  r = ok("account", "a1", "Touch", NULL, NULL);
  assert_result(r, 1, 0, 0, 0);
  assert_int_equal(F.fs->n_events, 1);
  assert_int_equal(F.fs->last_position, 1);
  /* If the port is asked at all, it is asked to append nothing. */
  if (F.fs->last_append.valid) {
    assert_str(F.fs->last_append.command_type, "Touch");
    assert_int_equal(F.fs->last_append.n_events, 0);
  }
}

static void test_payload_is_an_empty_object_by_default(void **state) {
  (void)state;
  ok("account", "a1", "Touch", NULL, NULL);
  open_account("a1", "ada");
  refused("account", "a1", "Deposit", NULL, NULL, ES_INVALID_PAYLOAD, NULL, "payload field 'amount' is missing");
}

static void test_payload_len_is_respected(void **state) {
  (void)state;
  open_account("a1", "ada");
  const char *text = "{\"amount\":7}{\"amount\":9}";
  es_command_request req = {.aggregate_type = "account", .aggregate_id = "a1", .command_type = "Deposit",
                            .payload = text, .payload_len = 12};
  es_command_result res;
  es_error err = {0};
  assert_int_equal(run_req(&req, &res, &err), ES_OK);
  assert_event(1, 2, "account", "a1", 2, "Deposited", "{\"amount\":7}");
  const char *opts = "{\"expected_version\":2}garbage";
  req.options = opts;
  req.options_len = 22;
  assert_int_equal(run_req(&req, &res, &err), ES_OK);
  assert_result(res, 3, 3, 1, 0);
}

static void test_noted_event_has_no_evolve(void **state) {
  (void)state;
  open_account("a1", "ada");
  es_command_result r = ok("account", "a1", "Note", "{\"text\":\"caf\\u00e9 \\\"quoted\\\"\"}", NULL);
  assert_result(r, 2, 2, 1, 0);
  assert_event(1, 2, "account", "a1", 2, "Noted", "{\"text\":\"caf\xc3\xa9 \\\"quoted\\\"\"}");
  sample_log_reset();
  r = ok("account", "a1", "Deposit", "{\"amount\":1}", NULL);
  assert_result(r, 3, 3, 1, 0);
  assert_str(sample_log(), "Opened@1,Deposited@3"); /* Noted@2 has no evolve, but counts as a version */
  assert_state("account", "a1", "{\"owner\":\"ada\",\"open\":true,\"balance\":1,\"applied\":2}", 3);
}

/* ----------------------- Rejected ----------------------- */

static void test_rejected(void **state) {
  (void)state;
  open_account("a1", "ada");
  ok("account", "a1", "Deposit", "{\"amount\":100}", NULL);
  int decides = F.user.decides;
  es_command_result res;
  es_error err = {0};
  snap s = snap_take();
  assert_int_equal(run("account", "a1", "Withdraw", "{\"amount\":500}", NULL, &res, &err), ES_REJECTED);
  char *text = es_error_format(&err);
  assert_str(text, "es: rejected (insufficient_funds): balance 100 is less than 500");
  es_mem_free(text);
  assert_error(&err, ES_REJECTED, "insufficient_funds", "balance 100 is less than 500");
  assert_result(res, 0, 0, 0, 0);
  assert_untouched(s);
  assert_int_equal(F.user.decides, decides + 1);

  refused("account", "a1", "Open", "{\"owner\":\"eve\"}", NULL, ES_REJECTED, "already_open",
          "account 'a1' is already open");
  refused("account", "a2", "Deposit", "{\"amount\":5}", NULL, ES_REJECTED, "not_open", "account 'a2' is not open");
  refused("account", "a1", "Deposit", "{\"amount\":-5}", NULL, ES_REJECTED, "invalid_amount",
          "amount must be positive, got -5");
  refused("account", "a1", "Withdraw", "{\"amount\":0}", NULL, ES_REJECTED, "invalid_amount",
          "amount must be positive, got 0");
  /* Returning ES_REJECTED without es_reject, and es_reject with no reason nor message. */
  refused("account", "a1", "RejectPlain", NULL, NULL, ES_REJECTED, "rejected", "command 'RejectPlain' was rejected");
  refused("account", "a1", "RejectDefault", NULL, NULL, ES_REJECTED, "rejected", "command rejected");
  /* The state was not changed by any of it. */
  assert_state("account", "a1", "{\"owner\":\"ada\",\"open\":true,\"balance\":100,\"applied\":2}", 2);
}

/* ----------------------- Conflicts ----------------------- */

static void test_conflict_integer(void **state) {
  (void)state;
  ok("account", "a1", "Open", "{\"owner\":\"ada\"}", "{\"expected_version\":0}");
  ok("account", "a1", "Deposit", "{\"amount\":1}", "{\"expected_version\":1}");
  int decides = F.user.decides;
  refused("account", "a1", "Deposit", "{\"amount\":1}", "{\"expected_version\":1}", ES_CONFLICT, NULL,
          "expected version 1 of account 'a1', actual 2");
  refused("account", "a1", "Deposit", "{\"amount\":1}", "{\"expected_version\":0}", ES_CONFLICT, NULL,
          "expected version 0 of account 'a1', actual 2");
  refused("account", "a1", "Deposit", "{\"amount\":1}", "{\"expected_version\":9223372036854775807}", ES_CONFLICT,
          NULL, "expected version 9223372036854775807 of account 'a1', actual 2");
  refused("account", "a9", "Open", "{\"owner\":\"x\"}", "{\"expected_version\":3}", ES_CONFLICT, NULL,
          "expected version 3 of account 'a9', actual 0");
  assert_int_equal(F.user.decides, decides); /* decide never ran */
  es_command_result r = ok("account", "a1", "Deposit", "{\"amount\":1}", "{\"expected_version\":2}");
  assert_result(r, 3, 3, 1, 0);
}

static void test_conflict_no_stream(void **state) {
  (void)state;
  ok("account", "a1", "Open", "{\"owner\":\"ada\"}", "{\"expected_version\":\"no_stream\"}");
  refused("account", "a1", "Open", "{\"owner\":\"ada\"}", "{\"expected_version\":\"no_stream\"}", ES_CONFLICT, NULL,
          "expected no stream for account 'a1', actual version 1");
  /* A stream with only a command that emitted nothing still has no events. */
  ok("account", "a2", "Touch", NULL, "{\"expected_version\":\"no_stream\"}");
  ok("account", "a2", "Touch", NULL, "{\"expected_version\":\"no_stream\"}");
}

static void test_conflict_exists(void **state) {
  (void)state;
  refused("account", "a1", "Touch", NULL, "{\"expected_version\":\"exists\"}", ES_CONFLICT, NULL,
          "expected account 'a1' to exist, it has no events");
  open_account("a1", "ada");
  es_command_result r = ok("account", "a1", "Deposit", "{\"amount\":3}", "{\"expected_version\":\"exists\"}");
  assert_result(r, 2, 2, 1, 0);
  /* Another aggregate type with the same id does not make it exist. */
  refused("counter", "a1", "Increment", NULL, "{\"expected_version\":\"exists\"}", ES_CONFLICT, NULL,
          "expected counter 'a1' to exist, it has no events");
}

static void test_expected_any(void **state) {
  (void)state;
  ok("account", "a1", "Open", "{\"owner\":\"ada\"}", "{\"expected_version\":\"any\"}");
  es_command_result r = ok("account", "a1", "Deposit", "{\"amount\":3}", "{\"expected_version\":\"any\"}");
  assert_result(r, 2, 2, 1, 0);
  r = ok("account", "a1", "Deposit", "{\"amount\":3}", "{}");
  assert_result(r, 3, 3, 1, 0);
}

/* ----------------------- Unknown aggregate or command ----------------------- */

static void test_unknown_aggregate_and_command(void **state) {
  (void)state;
  refused("nope", "a1", "Open", "{}", NULL, ES_UNKNOWN_AGGREGATE, NULL,
          "no aggregate type 'nope' is registered on this connection");
  refused("Account", "a1", "Open", "{}", NULL, ES_UNKNOWN_AGGREGATE, NULL,
          "no aggregate type 'Account' is registered on this connection");
  refused("account", "a1", "Fly", "{}", NULL, ES_UNKNOWN_COMMAND, NULL, "aggregate type 'account' has no command 'Fly'");
  refused("account", "a1", "deposit", "{}", NULL, ES_UNKNOWN_COMMAND, NULL,
          "aggregate type 'account' has no command 'deposit'");
  /* An event type is not a command. */
  refused("account", "a1", "Opened", "{}", NULL, ES_UNKNOWN_COMMAND, NULL,
          "aggregate type 'account' has no command 'Opened'");
  refused("counter", "a1", "Deposit", "{}", NULL, ES_UNKNOWN_COMMAND, NULL,
          "aggregate type 'counter' has no command 'Deposit'");
  /* Checked before the payload or the options are looked at, and before the store is. */
  refused("nope", "a1", "Open", "not json", "not json either", ES_UNKNOWN_AGGREGATE, NULL,
          "no aggregate type 'nope' is registered on this connection");
  for (int op = 0; op < FAKE_N_OPS; op++) assert_int_equal(F.fs->calls[op], 0);
}

/* ----------------------- Undeclared event types ----------------------- */

static void test_undeclared_event(void **state) {
  (void)state;
  open_account("a1", "ada");
  sample_log_reset();
  /* Sneaky emits a valid Deposited first, then Stolen, and returns ES_OK. */
  refused("account", "a1", "Sneaky", NULL, NULL, ES_UNDECLARED_EVENT, NULL,
          "aggregate type 'account' emitted undeclared event type 'Stolen'");
  assert_str(sample_log(), "Opened@1"); /* the replay only: no new event was evolved */
  refused("account", "a1", "EmitNull", NULL, NULL, ES_UNDECLARED_EVENT, NULL,
          "aggregate type 'account' emitted undeclared event type '(null)'");
  assert_state("account", "a1", "{\"owner\":\"ada\",\"open\":true,\"balance\":0,\"applied\":1}", 1);
}

/* ----------------------- Evolve order ----------------------- */

static void test_evolve_in_order(void **state) {
  (void)state;
  open_account("a1", "ada");
  ok("account", "a1", "Split", "{\"amount\":5,\"parts\":2}", NULL);
  ok("counter", "a1", "Increment", NULL, NULL); /* another stream, in between */
  ok("account", "a1", "Withdraw", "{\"amount\":3}", NULL);
  sample_log_reset();
  es_command_result r = ok("account", "a1", "Split", "{\"amount\":1,\"parts\":2}", NULL);
  assert_result(r, 6, 7, 2, 0);
  /* The replay of versions 1–4, then the two new events, each evolved before anything is appended. */
  assert_str(sample_log(), "Opened@1,Deposited@2,Deposited@3,Withdrawn@4,Deposited@5,Deposited@6");
  sample_log_reset();
  assert_state("account", "a1", "{\"owner\":\"ada\",\"open\":true,\"balance\":9,\"applied\":6}", 6);
  assert_str(sample_log(), "Opened@1,Deposited@2,Deposited@3,Withdrawn@4,Deposited@5,Deposited@6");
  /* decide sees the replayed state. */
  refused("account", "a1", "Withdraw", "{\"amount\":10}", NULL, ES_REJECTED, "insufficient_funds",
          "balance 9 is less than 10");
}

static void test_evolve_failure_on_new_event(void **state) {
  (void)state;
  open_account("a1", "ada");
  F.user.evolve_fail_version = 3;
  F.user.evolve_fail_status = ES_MISUSE;
  sample_log_reset();
  refused("account", "a1", "Split", "{\"amount\":1,\"parts\":3}", NULL, ES_MISUSE, NULL,
          "evolving event 'Deposited' version 3 of account 'a1': the evolve callback failed");
  assert_str(sample_log(), "Opened@1,Deposited@2,Deposited@3");
  F.user.evolve_fail_status = ES_NOMEM;
  refused("account", "a1", "Split", "{\"amount\":1,\"parts\":3}", NULL, ES_NOMEM, NULL, NULL);
  F.user.evolve_fail_version = 0;
  es_command_result r = ok("account", "a1", "Split", "{\"amount\":1,\"parts\":3}", NULL);
  assert_result(r, 4, 4, 3, 0);
}

static void test_init_failure(void **state) {
  (void)state;
  F.user.init_status = ES_STORAGE;
  refused("account", "a1", "Open", "{\"owner\":\"ada\"}", NULL, ES_STORAGE, NULL,
          "initial state of aggregate type 'account' failed");
  assert_int_equal(F.user.inits, 1);
  assert_int_equal(F.user.clears, 1); /* what xInit allocated was released */
  assert_int_equal(F.fs->calls[FAKE_READ_STREAM], 0);
}

/* ----------------------- What decide returns ----------------------- */

static void test_decide_returns_any_status(void **state) {
  (void)state;
  open_account("a1", "ada");
  static const es_status statuses[] = {ES_CONFLICT, ES_UNKNOWN_AGGREGATE, ES_UNKNOWN_COMMAND, ES_INVALID_ARGUMENT,
                                       ES_INVALID_PAYLOAD, ES_UNDECLARED_EVENT, ES_PROTECTED, ES_BUSY, ES_STORAGE,
                                       ES_MISUSE};
  for (size_t i = 0; i < sizeof(statuses) / sizeof(statuses[0]); i++) {
    char payload[64];
    snprintf(payload, sizeof(payload), "{\"status\":%d}", (int)statuses[i]);
    refused("account", "a1", "Fail", payload, NULL, statuses[i], NULL,
            "decide of command 'Fail' on aggregate type 'account' failed");
  }
  char payload[64];
  snprintf(payload, sizeof(payload), "{\"status\":%d}", (int)ES_NOMEM);
  refused("account", "a1", "Fail", payload, NULL, ES_NOMEM, NULL, NULL);
  /* ES_OK keeps what it emitted. */
  es_command_result r = ok("account", "a1", "Fail", "{\"status\":0}", NULL);
  assert_result(r, 2, 2, 1, 0);
  assert_event(1, 2, "account", "a1", 2, "Noted", "{\"text\":\"before failing\"}");
}

static void test_bad_event_data(void **state) {
  (void)state;
  open_account("a1", "ada");
  refused("account", "a1", "BadData", NULL, NULL, ES_INVALID_ARGUMENT, NULL,
          "data of event 'Noted' from command on account 'a1': a field was set with no key or invalid JSON");
}

/*
** Event data that es_set_text wrote from text that is not UTF-8 must not reach the log as invalid
** JSON (the port promises "a JSON object, already checked", and replay would refuse it forever):
** either the command fails and nothing is appended, or what is appended is valid JSON.
*/
static void test_set_text_not_utf8_never_reaches_the_log(void **state) {
  (void)state;
  es_command_result res;
  es_error err = {0};
  snap s = snap_take();
  es_status rc = run("account", "a1", "Mangle", NULL, NULL, &res, &err);
  if (rc != ES_OK) {
    assert_int_equal(rc, err.status);
    es_error_clear(&err);
    assert_untouched(s);
    return;
  }
  assert_int_equal(F.fs->n_events, 1);
  assert_str(ev_at(0)->type, "Noted");
  es_json_doc *doc = 0;
  char *msg = 0;
  es_status prc = es_json_parse(ev_at(0)->data, ev_at(0)->data_len, &doc, &msg);
  es_json_free(doc);
  if (prc != ES_OK) {
    print_error("the appended data is not JSON: %s\n", msg ? msg : "-");
    es_mem_free(msg);
    fail();
  }
}

/* ----------------------- Typed errors from the port ----------------------- */

/* The command fails with exactly the port's error and appends nothing. */
static void port_error_case(fake_op op, es_status status, int native, const char *message, const char *options) {
  es_command_result res;
  es_error err = {0};
  snap s = snap_take();
  fake_store_fail(F.fs, op, status, native, message);
  es_status rc = run("account", "a1", "Deposit", "{\"amount\":5}", options, &res, &err);
  fake_store_fail(F.fs, op, ES_OK, 0, NULL);
  assert_int_equal(rc, status);
  assert_int_equal(err.native_code, native);
  assert_error(&err, status, NULL, message);
  assert_result(res, 0, 0, 0, 0);
  assert_int_equal(F.fs->n_events, s.n_events);
  assert_int_equal(F.fs->n_commands, s.n_commands);
  assert_int_equal(F.fs->last_position, s.last_position);
  if (op != FAKE_APPEND) assert_int_equal(F.fs->calls[FAKE_APPEND], s.appends);
}

static void test_port_errors_propagate(void **state) {
  (void)state;
  open_account("a1", "ada");
  port_error_case(FAKE_READ_STREAM, ES_BUSY, 5, "database is locked", NULL);
  port_error_case(FAKE_READ_STREAM, ES_STORAGE, 266, "reading a stream: disk I/O error (266)", NULL);
  port_error_case(FAKE_READ_STREAM, ES_NOMEM, 7, NULL, NULL);
  port_error_case(FAKE_FIND_COMMAND, ES_STORAGE, 11, "looking up a command_id: database disk image is malformed (11)",
                  "{\"command_id\":\"k1\"}");
  port_error_case(FAKE_FIND_COMMAND, ES_BUSY, 6, "database table is locked", "{\"command_id\":\"k1\"}");
  assert_str(F.fs->last_find_id, "k1");
  port_error_case(FAKE_APPEND, ES_PROTECTED, 1811, "appending an event: es: protected: nope (1811)", NULL);
  port_error_case(FAKE_APPEND, ES_BUSY, 517, "appending an event: database is locked (517)", NULL);
  port_error_case(FAKE_APPEND, ES_STORAGE, 13, "appending an event: database or disk is full (13)",
                  "{\"command_id\":\"k2\",\"metadata\":{\"a\":1}}");
  assert_str(F.fs->last_append.command_id, "k2"); /* the append that failed was asked for */
  assert_str(F.fs->last_append.metadata, "{\"a\":1}");
  /* Even a status no port should return goes through as it is. */
  port_error_case(FAKE_APPEND, ES_CONFLICT, 0, "a conflict found by the store", NULL);
  /* And after all that, the stream is still at version 1. */
  es_command_result r = ok("account", "a1", "Deposit", "{\"amount\":5}", NULL);
  assert_result(r, 2, 2, 1, 0);
}

static void test_port_error_in_the_middle_of_a_stream(void **state) {
  (void)state;
  open_account("a1", "ada");
  ok("account", "a1", "Deposit", "{\"amount\":5}", NULL);
  ok("account", "a1", "Deposit", "{\"amount\":5}", NULL);
  sample_log_reset();
  fake_store_fail(F.fs, FAKE_READ_STREAM, ES_STORAGE, 266, "disk I/O error");
  fake_store_fail_after_events(F.fs, 2);
  snap s = snap_take();
  es_command_result res;
  es_error err = {0};
  assert_int_equal(run("account", "a1", "Deposit", "{\"amount\":5}", NULL, &res, &err), ES_STORAGE);
  assert_int_equal(err.native_code, 266);
  assert_error(&err, ES_STORAGE, NULL, "disk I/O error");
  assert_str(sample_log(), "Opened@1,Deposited@2");
  assert_untouched(s);
  /* The state reader reports it the same way. */
  char *json = (char *)&json;
  int64_t version = -1;
  assert_int_equal(es_aggregate_state_json(F.reg, &F.fs->port, "account", "a1", &json, &version, &err), ES_STORAGE);
  assert_null(json);
  assert_int_equal(err.native_code, 266);
  assert_error(&err, ES_STORAGE, NULL, "disk I/O error");
}

/* ----------------------- command_id ----------------------- */

static void test_command_id_idempotency(void **state) {
  (void)state;
  open_account("a1", "ada");
  es_command_result r = ok("account", "a1", "Deposit", "{\"amount\":5}", "{\"command_id\":\"c-1\"}");
  assert_result(r, 2, 2, 1, 0);
  assert_str(ev_at(1)->command_id, "c-1");
  assert_str(F.fs->last_append.command_id, "c-1");
  const fake_command *c = fake_store_find(F.fs, "c-1");
  assert_non_null(c);
  assert_int_equal(c->version, 2);
  assert_int_equal(c->position, 2);
  ok("account", "a1", "Deposit", "{\"amount\":7}", NULL);
  ok("account", "a2", "Open", "{\"owner\":\"bob\"}", NULL);

  /* The same command again: its first result, nothing appended, decide not called. */
  snap s = snap_take();
  int decides = F.user.decides;
  r = ok("account", "a1", "Deposit", "{\"amount\":5}", "{\"command_id\":\"c-1\"}");
  assert_result(r, 2, 2, 0, 1);
  assert_untouched(s);
  assert_int_equal(F.user.decides, decides);
  /* Even when its expected version no longer holds, or with another payload. */
  r = ok("account", "a1", "Deposit", "{\"amount\":99}", "{\"command_id\":\"c-1\",\"expected_version\":1}");
  assert_result(r, 2, 2, 0, 1);
  assert_untouched(s);

  /* Another command, aggregate id or aggregate type with that id is refused. */
  refused("account", "a1", "Withdraw", "{\"amount\":5}", "{\"command_id\":\"c-1\"}", ES_INVALID_ARGUMENT, NULL,
          "command_id 'c-1' was already used by command 'Deposit' on account 'a1'");
  refused("account", "a2", "Deposit", "{\"amount\":5}", "{\"command_id\":\"c-1\"}", ES_INVALID_ARGUMENT, NULL,
          "command_id 'c-1' was already used by command 'Deposit' on account 'a1'");
  refused("counter", "a1", "Increment", NULL, "{\"command_id\":\"c-1\"}", ES_INVALID_ARGUMENT, NULL,
          "command_id 'c-1' was already used by command 'Deposit' on account 'a1'");
  assert_int_equal(F.user.decides, decides);

  /* A rejected command records nothing: the id can be used again. */
  refused("account", "a1", "Withdraw", "{\"amount\":500}", "{\"command_id\":\"c-2\"}", ES_REJECTED,
          "insufficient_funds", "balance 12 is less than 500");
  assert_null(fake_store_find(F.fs, "c-2"));
  r = ok("account", "a1", "Withdraw", "{\"amount\":2}", "{\"command_id\":\"c-2\"}");
  assert_result(r, 4, 5, 1, 0);
}

static void test_command_id_without_events(void **state) {
  (void)state;
  open_account("a1", "ada");
  es_command_result r = ok("account", "a1", "Touch", NULL, "{\"command_id\":\"t-1\"}");
  assert_result(r, 1, 0, 0, 0);
  /* The port is asked to remember the id although there is no event. */
  assert_true(F.fs->last_append.valid);
  assert_int_equal(F.fs->last_append.n_events, 0);
  assert_str(F.fs->last_append.command_id, "t-1");
  assert_int_equal(F.fs->n_events, 1);
  ok("account", "a1", "Deposit", "{\"amount\":1}", NULL);
  r = ok("account", "a1", "Touch", NULL, "{\"command_id\":\"t-1\"}");
  assert_result(r, 1, 0, 0, 1);
  /* A null command_id is no command_id. */
  r = ok("account", "a1", "Touch", NULL, "{\"command_id\":null}");
  assert_result(r, 2, 0, 0, 0);
}

/* ----------------------- Metadata ----------------------- */

static void test_metadata_reaches_every_event(void **state) {
  (void)state;
  open_account("a1", "ada");
  const char *meta = "{\"user\":\"ada\", \"trace\":[1,2], \"nested\":{\"x\":null}}";
  char options[256];
  snprintf(options, sizeof(options), "{\"metadata\":%s,\"command_id\":\"m-1\"}", meta);
  es_command_result r = ok("account", "a1", "Split", "{\"amount\":2,\"parts\":2}", options);
  assert_result(r, 3, 3, 2, 0);
  assert_str(F.fs->last_append.metadata, meta);
  assert_str(ev_at(1)->metadata, meta);
  assert_str(ev_at(2)->metadata, meta);
  assert_str(ev_at(2)->command_id, "m-1");
  assert_null(ev_at(0)->metadata);
  ok("account", "a1", "Deposit", "{\"amount\":1}", "{\"metadata\":null}");
  assert_null(F.fs->last_append.metadata);
  assert_null(ev_at(3)->metadata);
  ok("account", "a1", "Deposit", "{\"amount\":1}", "{\"metadata\":{}}");
  assert_str(ev_at(4)->metadata, "{}");
}

static void test_options_errors(void **state) {
  (void)state;
  open_account("a1", "ada");
  refused("account", "a1", "Deposit", "{\"amount\":1}", "{\"expected\":1}", ES_INVALID_ARGUMENT, NULL,
          "unknown option 'expected' (known: expected_version, command_id, metadata)");
  refused("account", "a1", "Deposit", "{\"amount\":1}", "[]", ES_INVALID_ARGUMENT, NULL,
          "options must be a JSON object, got array");
  refused("account", "a1", "Deposit", "{\"amount\":1}", "{\"metadata\":[1]}", ES_INVALID_ARGUMENT, NULL,
          "option metadata must be a JSON object, got array");
  /* The metadata limit is the payload limit. */
  es_command_request req = {.aggregate_type = "account", .aggregate_id = "a1", .command_type = "Deposit",
                            .payload = "{\"amount\":1}", .payload_len = 12,
                            .options = "{\"metadata\":{\"k\":\"0123456789abc\"}}", .max_payload_bytes = 20};
  req.options_len = strlen(req.options);
  es_command_result res;
  es_error err = {0};
  snap s = snap_take();
  assert_int_equal(run_req(&req, &res, &err), ES_INVALID_ARGUMENT);
  assert_error(&err, ES_INVALID_ARGUMENT, NULL, "option metadata is 21 bytes; the limit is 20");
  assert_untouched(s);
}

/* ----------------------- Payload errors ----------------------- */

static void test_payload_errors(void **state) {
  (void)state;
  open_account("a1", "ada");
  refused("account", "a1", "Deposit", "{\"amount\":}", NULL, ES_INVALID_PAYLOAD, NULL,
          "payload: malformed JSON at offset 10: unexpected character '}'");
  refused("account", "a1", "Deposit", "{\"amount\":1} x", NULL, ES_INVALID_PAYLOAD, NULL,
          "payload: malformed JSON at offset 13: trailing characters after the value");
  refused("account", "a1", "Deposit", "", NULL, ES_INVALID_PAYLOAD, NULL,
          "payload: malformed JSON at offset 0: unexpected end of input");
  refused("account", "a1", "Deposit", "[1]", NULL, ES_INVALID_PAYLOAD, NULL, "payload must be a JSON object, got array");
  refused("account", "a1", "Deposit", "\"x\"", NULL, ES_INVALID_PAYLOAD, NULL,
          "payload must be a JSON object, got string");
  refused("account", "a1", "Deposit", "null", NULL, ES_INVALID_PAYLOAD, NULL, "payload must be a JSON object, got null");
  refused("account", "a1", "Deposit", "5", NULL, ES_INVALID_PAYLOAD, NULL, "payload must be a JSON object, got integer");
  /* Wrongly typed and missing fields: the getter's message, which decide passed on. */
  refused("account", "a1", "Deposit", "{\"amount\":\"5\"}", NULL, ES_INVALID_PAYLOAD, NULL,
          "payload field 'amount' must be an integer, got string");
  refused("account", "a1", "Deposit", "{\"amount\":1.5}", NULL, ES_INVALID_PAYLOAD, NULL,
          "payload field 'amount' must be an integer, got 1.5");
  refused("account", "a1", "Deposit", "{\"amount\":true}", NULL, ES_INVALID_PAYLOAD, NULL,
          "payload field 'amount' must be an integer, got boolean");
  refused("account", "a1", "Deposit", "{\"amount\":null}", NULL, ES_INVALID_PAYLOAD, NULL,
          "payload field 'amount' must be an integer, got null");
  refused("account", "a1", "Deposit", "{\"amount\":{}}", NULL, ES_INVALID_PAYLOAD, NULL,
          "payload field 'amount' must be an integer, got object");
  refused("account", "a1", "Deposit", "{\"Amount\":5}", NULL, ES_INVALID_PAYLOAD, NULL,
          "payload field 'amount' is missing");
  refused("account", "a2", "Open", "{\"owner\":42}", NULL, ES_INVALID_PAYLOAD, NULL,
          "payload field 'owner' must be a string, got integer");
  /* Integral numbers in other spellings are integers. */
  es_command_result r = ok("account", "a1", "Deposit", "{\"amount\":1e2}", NULL);
  assert_result(r, 2, 2, 1, 0);
  assert_event(1, 2, "account", "a1", 2, "Deposited", "{\"amount\":100}");
  ok("account", "a1", "Deposit", "{\"amount\":100.0}", NULL);
  assert_state("account", "a1", "{\"owner\":\"ada\",\"open\":true,\"balance\":200,\"applied\":3}", 3);
}

static void test_payload_size_limit(void **state) {
  (void)state;
  open_account("a1", "ada");
  es_command_request req = {.aggregate_type = "account", .aggregate_id = "a1", .command_type = "Deposit",
                            .payload = "{\"amount\":1}      ", .max_payload_bytes = 12};
  es_command_result res;
  es_error err = {0};
  snap s = snap_take();
  req.payload_len = 13;
  assert_int_equal(run_req(&req, &res, &err), ES_INVALID_PAYLOAD);
  assert_error(&err, ES_INVALID_PAYLOAD, NULL, "payload is 13 bytes; the limit is 12");
  assert_untouched(s);
  assert_int_equal(F.fs->calls[FAKE_READ_STREAM], 1); /* only the Open's */
  req.payload_len = 12; /* exactly the limit */
  assert_int_equal(run_req(&req, &res, &err), ES_OK);
  assert_result(res, 2, 2, 1, 0);

  /* The default limit is ES_DEFAULT_MAX_PAYLOAD_BYTES. */
  size_t n = ES_DEFAULT_MAX_PAYLOAD_BYTES + 1;
  char *big = repeat(' ', n);
  memcpy(big, "{\"amount\":1}", 12);
  req.payload = big;
  req.payload_len = n;
  req.max_payload_bytes = 0;
  s = snap_take();
  assert_int_equal(run_req(&req, &res, &err), ES_INVALID_PAYLOAD);
  assert_error(&err, ES_INVALID_PAYLOAD, NULL, "payload is 1048577 bytes; the limit is 1048576");
  assert_untouched(s);
  req.payload_len = n - 1;
  assert_int_equal(run_req(&req, &res, &err), ES_OK);
  assert_result(res, 3, 3, 1, 0);
  /* A 10 MB payload. */
  es_mem_free(big);
  n = 10 * 1024 * 1024;
  big = repeat(' ', n);
  memcpy(big, "{\"amount\":1}", 12);
  req.payload = big;
  req.payload_len = n;
  assert_int_equal(run_req(&req, &res, &err), ES_INVALID_PAYLOAD);
  assert_error(&err, ES_INVALID_PAYLOAD, NULL, "payload is 10485760 bytes; the limit is 1048576");
  es_mem_free(big);
}

/* ----------------------- Ids ----------------------- */

static void test_id_checks(void **state) {
  (void)state;
  char *long_id = repeat('x', ES_MAX_ID_BYTES + 1);
  static const char *const fields[] = {"aggregate_type", "aggregate_id", "command_type"};
  for (int f = 0; f < 3; f++) {
    const char *v[3] = {"account", "a1", "Touch"};
    char msg[128];
    v[f] = NULL;
    snprintf(msg, sizeof(msg), "%s must be text, got null", fields[f]);
    refused(v[0], v[1], v[2], NULL, NULL, ES_INVALID_ARGUMENT, NULL, msg);
    v[f] = "";
    snprintf(msg, sizeof(msg), "%s must not be empty", fields[f]);
    refused(v[0], v[1], v[2], NULL, NULL, ES_INVALID_ARGUMENT, NULL, msg);
    v[f] = long_id;
    snprintf(msg, sizeof(msg), "%s is 1001 bytes; the limit is 1000", fields[f]);
    refused(v[0], v[1], v[2], NULL, NULL, ES_INVALID_ARGUMENT, NULL, msg);
  }
  for (int op = 0; op < FAKE_N_OPS; op++) assert_int_equal(F.fs->calls[op], 0);
  /* The first id that is wrong is named. */
  refused(NULL, "", NULL, NULL, NULL, ES_INVALID_ARGUMENT, NULL, "aggregate_type must be text, got null");
  /* 1000 bytes is allowed. */
  long_id[ES_MAX_ID_BYTES] = 0;
  es_command_result r = ok("account", long_id, "Open", "{\"owner\":\"ada\"}", NULL);
  assert_result(r, 1, 1, 1, 0);
  assert_str(ev_at(0)->aggregate_id, long_id);
  es_mem_free(long_id);
}

static void test_command_check(void **state) {
  (void)state;
  es_error err = {0};
  es_command_request req = {.aggregate_type = "account", .aggregate_id = "a1", .command_type = "Deposit",
                            .payload = "not even json", .payload_len = 13};
  assert_int_equal(es_command_check(F.reg, &req, &err), ES_OK); /* the payload is not parsed here */
  assert_int_equal(err.status, ES_OK);
  req.max_payload_bytes = 12;
  assert_int_equal(es_command_check(F.reg, &req, &err), ES_INVALID_PAYLOAD);
  assert_error(&err, ES_INVALID_PAYLOAD, NULL, "payload is 13 bytes; the limit is 12");
  req.command_type = "Nope";
  assert_int_equal(es_command_check(F.reg, &req, &err), ES_UNKNOWN_COMMAND);
  assert_error(&err, ES_UNKNOWN_COMMAND, NULL, "aggregate type 'account' has no command 'Nope'");
  req.aggregate_type = "nope";
  assert_int_equal(es_command_check(F.reg, &req, &err), ES_UNKNOWN_AGGREGATE);
  assert_error(&err, ES_UNKNOWN_AGGREGATE, NULL, "no aggregate type 'nope' is registered on this connection");
  req.aggregate_id = "";
  assert_int_equal(es_command_check(F.reg, &req, &err), ES_INVALID_ARGUMENT);
  assert_error(&err, ES_INVALID_ARGUMENT, NULL, "aggregate_id must not be empty");
  assert_int_equal(es_check_id("view", "v", &err), ES_OK);
  assert_int_equal(es_check_id("view", NULL, &err), ES_INVALID_ARGUMENT);
  assert_error(&err, ES_INVALID_ARGUMENT, NULL, "view must be text, got null");
  for (int op = 0; op < FAKE_N_OPS; op++) assert_int_equal(F.fs->calls[op], 0);
}

/* ----------------------- Corrupt streams ----------------------- */

static void put(const char *id, int64_t version, const char *type, const char *data) {
  assert_int_equal(fake_store_put(F.fs, "account", id, version, type, data), ES_OK);
}

/* Replay of this stream fails, for a command and for the state reader, with this error. */
static void replay_fails(const char *id, es_status status, const char *message) {
  refused("account", id, "Deposit", "{\"amount\":1}", NULL, status, NULL, message);
  es_error err = {0};
  char *json = 0;
  assert_int_equal(es_aggregate_state_json(F.reg, &F.fs->port, "account", id, &json, NULL, &err), status);
  assert_null(json);
  assert_error(&err, status, NULL, message);
}

static void test_corrupt_streams(void **state) {
  (void)state;
  /* Each stream as stored (up to two events, in this order), and how its replay fails. */
  static const struct {
    const char *id;
    struct {
      int64_t version;
      const char *type, *data;
    } events[2];
    es_status status;
    const char *message;
  } cases[] = {
      {"u", {{1, "Opened", "{\"owner\":\"ada\"}"}, {2, "Ghost", "{}"}}, ES_UNDECLARED_EVENT,
       "event type 'Ghost' (version 2 of account 'u') is not declared by aggregate type 'account'"},
      {"gap", {{1, "Opened", "{\"owner\":\"ada\"}"}, {3, "Deposited", "{\"amount\":1}"}}, ES_STORAGE,
       "stream account 'gap' jumps from version 1 to 3"},
      {"late", {{2, "Opened", "{\"owner\":\"ada\"}"}}, ES_STORAGE, "stream account 'late' jumps from version 0 to 2"},
      {"twice", {{1, "Opened", "{\"owner\":\"ada\"}"}, {1, "Opened", "{\"owner\":\"ada\"}"}}, ES_STORAGE,
       "stream account 'twice' jumps from version 1 to 1"},
      {"bad", {{1, "Opened", "{\"owner\":\"ada\"}"}, {2, "Deposited", "{\"amount\":"}}, ES_INVALID_PAYLOAD,
       "evolving event 'Deposited' version 2 of account 'bad': malformed JSON at offset 10: unexpected end of input"},
      {"arr", {{1, "Opened", "[\"ada\"]"}}, ES_INVALID_PAYLOAD,
       "evolving event 'Opened' version 1 of account 'arr': event data is not a JSON object"},
      {"typed", {{1, "Opened", "{\"owner\":\"ada\"}"}, {2, "Deposited", "{\"amount\":\"lots\"}"}}, ES_INVALID_PAYLOAD,
       "evolving event 'Deposited' version 2 of account 'typed': event data field 'amount' must be an integer, got string"},
      {"missing", {{1, "Opened", "{}"}}, ES_INVALID_PAYLOAD,
       "evolving event 'Opened' version 1 of account 'missing': event data field 'owner' is missing"},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    for (size_t e = 0; e < 2 && cases[i].events[e].type; e++)
      put(cases[i].id, cases[i].events[e].version, cases[i].events[e].type, cases[i].events[e].data);
    replay_fails(cases[i].id, cases[i].status, cases[i].message);
  }
  /* A stream that is fine, beside them, still works. */
  put("fine", 1, "Opened", "{\"owner\":\"ada\"}");
  put("fine", 2, "Deposited", "{\"amount\":4}");
  es_command_result r = ok("account", "fine", "Deposit", "{\"amount\":1}", NULL);
  assert_result(r, 3, F.fs->last_position, 1, 0);
}

/* ----------------------- State as JSON ----------------------- */

static void test_state_json(void **state) {
  (void)state;
  assert_state("account", "new", "{\"owner\":null,\"open\":false,\"balance\":0,\"applied\":0}", 0);
  ok("account", "a1", "Open", "{\"owner\":\"ada \\\"the\\\" first\"}", NULL);
  ok("account", "a1", "Deposit", "{\"amount\":40}", NULL);
  ok("account", "a1", "Withdraw", "{\"amount\":15}", NULL);
  assert_state("account", "a1", "{\"owner\":\"ada \\\"the\\\" first\",\"open\":true,\"balance\":25,\"applied\":3}", 3);
  assert_int_equal(F.fs->calls[FAKE_APPEND], 3); /* reading appends nothing */

  es_error err = {0};
  char *json = 0;
  int64_t version = -1;
  ok("counter", "c1", "Increment", NULL, NULL);
  assert_int_equal(es_aggregate_state_json(F.reg, &F.fs->port, "counter", "c1", &json, &version, &err),
                   ES_INVALID_ARGUMENT);
  assert_null(json);
  assert_error(&err, ES_INVALID_ARGUMENT, NULL, "aggregate type 'counter' has no xStateToJson callback");
  assert_int_equal(es_aggregate_state_json(F.reg, &F.fs->port, "nope", "c1", &json, &version, &err),
                   ES_UNKNOWN_AGGREGATE);
  assert_error(&err, ES_UNKNOWN_AGGREGATE, NULL, "no aggregate type 'nope' is registered on this connection");
  assert_int_equal(es_aggregate_state_json(F.reg, &F.fs->port, "account", NULL, &json, &version, &err),
                   ES_INVALID_ARGUMENT);
  assert_error(&err, ES_INVALID_ARGUMENT, NULL, "aggregate_id must be text, got null");
  assert_int_equal(es_aggregate_state_json(F.reg, &F.fs->port, "", "a1", &json, &version, &err),
                   ES_INVALID_ARGUMENT);
  assert_error(&err, ES_INVALID_ARGUMENT, NULL, "aggregate_type must not be empty");
  assert_null(json);
}

/* ----------------------- Out of memory ----------------------- */

/* One scenario of the OOM loop: seeds the fresh fixture (allocator working), then the call. */
typedef struct oom_case {
  const char *name;
  void (*seed)(void);
  const char *type, *id, *cmd, *payload, *options;
  int state_json; /* call es_aggregate_state_json instead of es_command_run */
} oom_case;

static void seed_account(void) {
  open_account("a1", "ada");
  ok("account", "a1", "Deposit", "{\"amount\":100}", NULL);
  ok("counter", "a1", "Increment", NULL, NULL);
}

static void seed_with_command_id(void) {
  seed_account();
  ok("account", "a1", "Split", "{\"amount\":7,\"parts\":3}",
     "{\"expected_version\":2,\"command_id\":\"oom-1\",\"metadata\":{\"who\":\"ada\"}}");
}

static void seed_corrupt(void) {
  seed_account();
  put("a1", 3, "Deposited", "{\"amount\":\"x\"}");
}

static const oom_case oom_cases[] = {
    {"accepted", seed_account, "account", "a1", "Split", "{\"amount\":7,\"parts\":3}",
     "{\"expected_version\":2,\"command_id\":\"oom-1\",\"metadata\":{\"who\":\"ada\"}}", 0},
    {"first event", NULL, "account", "a1", "Open", "{\"owner\":\"ada\"}", NULL, 0},
    {"no event", seed_account, "account", "a1", "Touch", NULL, "{\"command_id\":\"t\"}", 0},
    {"duplicate", seed_with_command_id, "account", "a1", "Split", "{\"amount\":7,\"parts\":3}",
     "{\"command_id\":\"oom-1\"}", 0},
    {"command_id reused", seed_with_command_id, "account", "a1", "Deposit", "{\"amount\":1}",
     "{\"command_id\":\"oom-1\"}", 0},
    {"rejected", seed_account, "account", "a1", "Withdraw", "{\"amount\":1000}", NULL, 0},
    {"rejected plainly", seed_account, "account", "a1", "RejectPlain", NULL, NULL, 0},
    {"wrongly typed field", seed_account, "account", "a1", "Deposit", "{\"amount\":\"x\"}", NULL, 0},
    {"missing field", seed_account, "account", "a1", "Deposit", "{}", NULL, 0},
    {"malformed payload", seed_account, "account", "a1", "Deposit", "{\"amount\":", NULL, 0},
    {"bad option", seed_account, "account", "a1", "Deposit", "{\"amount\":1}", "{\"nope\":1}", 0},
    {"conflict", seed_account, "account", "a1", "Deposit", "{\"amount\":1}", "{\"expected_version\":9}", 0},
    {"undeclared", seed_account, "account", "a1", "Sneaky", NULL, NULL, 0},
    {"unknown command", seed_account, "account", "a1", "Fly", NULL, NULL, 0},
    {"corrupt stream", seed_corrupt, "account", "a1", "Deposit", "{\"amount\":1}", NULL, 0},
    {"state json", seed_account, "account", "a1", NULL, NULL, NULL, 1},
};

typedef struct oom_outcome {
  es_status rc;
  char message[512];
  char reason[64];
  es_command_result res;
  char *json;
  int64_t version;
  /* The log after the call. */
  size_t n_events, n_commands;
  int64_t last_position;
  long allocations;
} oom_outcome;

static oom_outcome oom_run(const oom_case *c, long fail_after) {
  oom_outcome o;
  es_error err = {0};
  memset(&o, 0, sizeof(o));
  fx_open();
  if (c->seed) c->seed();
  snap before = snap_take();
  int inits = F.user.inits;
  long count = fake_mem_count();
  fake_mem_fail_after(fail_after);
  if (c->state_json)
    o.rc = es_aggregate_state_json(F.reg, &F.fs->port, c->type, c->id, &o.json, &o.version, &err);
  else
    o.rc = run(c->type, c->id, c->cmd, c->payload, c->options, &o.res, &err);
  fake_mem_fail_after(-1);
  o.allocations = fake_mem_count() - count;
  assert_int_equal(o.rc, err.status);
  snprintf(o.message, sizeof(o.message), "%s", err.message ? err.message : "(NULL)");
  snprintf(o.reason, sizeof(o.reason), "%s", err.reason ? err.reason : "(NULL)");
  es_error_clear(&err);
  o.n_events = F.fs->n_events;
  o.n_commands = F.fs->n_commands;
  o.last_position = F.fs->last_position;
  if (o.rc != ES_OK) {
    /* Nothing kept: the log is as it was, and append was not called or it failed. */
    assert_int_equal(F.fs->n_events, before.n_events);
    assert_int_equal(F.fs->n_commands, before.n_commands);
    assert_int_equal(F.fs->last_position, before.last_position);
    if (F.fs->calls[FAKE_APPEND] != before.appends) assert_int_not_equal(F.fs->last_status[FAKE_APPEND], ES_OK);
    assert_null(o.json);
  }
  assert_true(F.user.inits >= inits);
  if (o.json) {
    /* Copy out of es_mem, so the fixture can be checked for leaks. */
    char *copy = strdup(o.json);
    es_mem_free(o.json);
    o.json = copy;
  }
  fx_close(); /* checks that every state made was cleared */
  assert_int_equal(fake_mem_live(), live_at_start);
  return o;
}

static void oom_check(const oom_case *c) {
  oom_outcome want = oom_run(c, -1);
  if (want.allocations < 1) fail_msg("%s: only %ld allocations", c->name, want.allocations);
  if (getenv("OOM_VERBOSE")) print_message("%s: %ld allocations, %s\n", c->name, want.allocations, want.message);
  for (long n = 0; n <= want.allocations; n++) {
    oom_outcome got = oom_run(c, n);
    int same = got.rc == want.rc && strcmp(got.message, want.message) == 0 && strcmp(got.reason, want.reason) == 0 &&
               memcmp(&got.res, &want.res, sizeof(got.res)) == 0 && got.n_events == want.n_events &&
               got.n_commands == want.n_commands && got.last_position == want.last_position &&
               (!want.json || (got.json && strcmp(got.json, want.json) == 0));
    if (n == want.allocations && !same)
      fail_msg("%s: with every allocation succeeding: %s (%s), expected %s (%s)", c->name, es_status_name(got.rc),
               got.message, es_status_name(want.rc), want.message);
    if (n < want.allocations && got.rc != ES_NOMEM && !same)
      fail_msg("%s: allocation %ld failing gave %s (%s), expected nomem or %s (%s)", c->name, n + 1,
               es_status_name(got.rc), got.message, es_status_name(want.rc), want.message);
    free(got.json);
  }
  free(want.json);
}

static void test_oom(void **state) {
  (void)state;
  fx_close(); /* each run makes its own fixture */
  for (size_t i = 0; i < sizeof(oom_cases) / sizeof(oom_cases[0]); i++) oom_check(&oom_cases[i]);
  fx_open();
}

int main(void) {
  const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
      T(test_accepted_one_event),
      T(test_accepted_several_events),
      T(test_accepted_zero_events),
      T(test_payload_is_an_empty_object_by_default),
      T(test_payload_len_is_respected),
      T(test_noted_event_has_no_evolve),
      T(test_rejected),
      T(test_conflict_integer),
      T(test_conflict_no_stream),
      T(test_conflict_exists),
      T(test_expected_any),
      T(test_unknown_aggregate_and_command),
      T(test_undeclared_event),
      T(test_evolve_in_order),
      T(test_evolve_failure_on_new_event),
      T(test_init_failure),
      T(test_decide_returns_any_status),
      T(test_bad_event_data),
      T(test_set_text_not_utf8_never_reaches_the_log),
      T(test_port_errors_propagate),
      T(test_port_error_in_the_middle_of_a_stream),
      T(test_command_id_idempotency),
      T(test_command_id_without_events),
      T(test_metadata_reaches_every_event),
      T(test_options_errors),
      T(test_payload_errors),
      T(test_payload_size_limit),
      T(test_id_checks),
      T(test_command_check),
      T(test_corrupt_streams),
      T(test_state_json),
      T(test_oom),
#undef T
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
