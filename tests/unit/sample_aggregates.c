/*
** sample_aggregates.c — the "account" and "counter" aggregate types of the unit tests
** (sample_aggregates.h), written only against ext/es.h, as an aggregate author would.
*/
#include <stdio.h>
#include <string.h>

#include "../../ext/domain/mem.h"
#include "sample_aggregates.h"

/* ----------------------- The evolve log ----------------------- */

static char log_text[8192];
static size_t log_len, log_count;

void sample_log_reset(void) {
  log_text[0] = 0;
  log_len = log_count = 0;
}

const char *sample_log(void) { return log_text; }
size_t sample_log_count(void) { return log_count; }

static void log_evolve(const es_event *ev) {
  int n = snprintf(log_text + log_len, sizeof(log_text) - log_len, "%s%s@%lld", log_count ? "," : "",
                   es_event_type(ev), (long long)es_event_version(ev));
  if (n > 0 && (size_t)n < sizeof(log_text) - log_len) log_len += (size_t)n;
  log_count++;
}

void sample_user_destroy(void *user) { ((sample_user *)user)->destroyed++; }

/* How every account evolve begins: the event is logged, then fails if the test asked it to. */
static es_status account_evolve_begin(const sample_user *u, const es_event *ev) {
  log_evolve(ev);
  if (u && u->evolve_fail_version && es_event_version(ev) == u->evolve_fail_version) return u->evolve_fail_status;
  return ES_OK;
}

/* ----------------------- account ----------------------- */

static es_status account_init(void *user, void *state) {
  sample_user *u = user;
  account_state *s = state;
  u->inits++;
  if (!(s->tag = es_mem_strdup("account-state"))) return ES_NOMEM;
  return u->init_status;
}

static void account_clear(void *user, void *state) {
  sample_user *u = user;
  account_state *s = state;
  u->clears++;
  es_mem_free(s->tag);
  es_mem_free(s->owner);
  s->tag = s->owner = 0;
}

static es_status decide_open(void *user, const void *state, const es_command *cmd, es_emitter *out) {
  const account_state *s = state;
  const char *owner;
  ((sample_user *)user)->decides++;
  if (s->open) return es_reject(out, "already_open", "account '%s' is already open", es_command_aggregate_id(cmd));
  es_status rc = es_payload_text(cmd, "owner", &owner);
  if (rc != ES_OK) return rc;
  return es_set_text(es_emit(out, "Opened"), "owner", owner);
}

/* Reads a positive amount, or says why not. */
static es_status read_amount(const account_state *s, const es_command *cmd, es_emitter *out, int64_t *amount) {
  es_status rc = es_payload_int(cmd, "amount", amount);
  if (rc != ES_OK) return rc;
  if (!s->open) return es_reject(out, "not_open", "account '%s' is not open", es_command_aggregate_id(cmd));
  if (*amount <= 0) return es_reject(out, "invalid_amount", "amount must be positive, got %lld", (long long)*amount);
  return ES_OK;
}

static es_status decide_deposit(void *user, const void *state, const es_command *cmd, es_emitter *out) {
  int64_t amount = 0;
  ((sample_user *)user)->decides++;
  es_status rc = read_amount(state, cmd, out, &amount);
  if (rc != ES_OK) return rc;
  return es_set_int(es_emit(out, "Deposited"), "amount", amount);
}

static es_status decide_withdraw(void *user, const void *state, const es_command *cmd, es_emitter *out) {
  const account_state *s = state;
  int64_t amount;
  ((sample_user *)user)->decides++;
  es_status rc = read_amount(s, cmd, out, &amount);
  if (rc != ES_OK) return rc;
  if (amount > s->balance)
    return es_reject(out, "insufficient_funds", "balance %lld is less than %lld", (long long)s->balance,
                     (long long)amount);
  return es_set_int(es_emit(out, "Withdrawn"), "amount", amount);
}

static es_status decide_split(void *user, const void *state, const es_command *cmd, es_emitter *out) {
  int64_t amount = 0, parts = 0;
  ((sample_user *)user)->decides++;
  es_status rc = read_amount(state, cmd, out, &amount);
  if (rc == ES_OK) rc = es_payload_int(cmd, "parts", &parts);
  for (int64_t i = 0; rc == ES_OK && i < parts; i++) rc = es_set_int(es_emit(out, "Deposited"), "amount", amount);
  return rc;
}

static es_status decide_touch(void *user, const void *state, const es_command *cmd, es_emitter *out) {
  (void)state, (void)cmd, (void)out;
  ((sample_user *)user)->decides++;
  return ES_OK;
}

static es_status decide_note(void *user, const void *state, const es_command *cmd, es_emitter *out) {
  const char *text;
  (void)state;
  ((sample_user *)user)->decides++;
  es_status rc = es_payload_text(cmd, "text", &text);
  if (rc != ES_OK) return rc;
  return es_set_text(es_emit(out, "Noted"), "text", text);
}

static es_status decide_sneaky(void *user, const void *state, const es_command *cmd, es_emitter *out) {
  (void)state, (void)cmd;
  ((sample_user *)user)->decides++;
  es_set_int(es_emit(out, "Deposited"), "amount", 1);
  es_set_int(es_emit(out, "Stolen"), "amount", 1000000); /* NULL builder: the setter is a no-op */
  return ES_OK;
}

static es_status decide_emit_null(void *user, const void *state, const es_command *cmd, es_emitter *out) {
  (void)state, (void)cmd;
  ((sample_user *)user)->decides++;
  es_emit(out, NULL);
  return ES_OK;
}

static es_status decide_fail(void *user, const void *state, const es_command *cmd, es_emitter *out) {
  int64_t status;
  (void)state;
  ((sample_user *)user)->decides++;
  es_status rc = es_payload_int(cmd, "status", &status);
  if (rc != ES_OK) return rc;
  es_set_text(es_emit(out, "Noted"), "text", "before failing");
  return (es_status)status;
}

static es_status decide_reject_plain(void *user, const void *state, const es_command *cmd, es_emitter *out) {
  (void)state, (void)cmd, (void)out;
  ((sample_user *)user)->decides++;
  return ES_REJECTED;
}

static es_status decide_reject_default(void *user, const void *state, const es_command *cmd, es_emitter *out) {
  (void)state, (void)cmd;
  ((sample_user *)user)->decides++;
  return es_reject(out, NULL, NULL);
}

static es_status decide_bad_data(void *user, const void *state, const es_command *cmd, es_emitter *out) {
  (void)state, (void)cmd;
  ((sample_user *)user)->decides++;
  es_builder *b = es_emit(out, "Noted");
  es_set_text(b, "text", "fine");
  es_set_json(b, "extra", "{\"unclosed\":");
  return ES_OK; /* ignores what the setter said */
}

static es_status decide_mangle(void *user, const void *state, const es_command *cmd, es_emitter *out) {
  (void)state, (void)cmd;
  ((sample_user *)user)->decides++;
  es_set_text(es_emit(out, "Noted"), "text", "caf\xff"); /* Noted has no evolve: nothing parses it */
  return ES_OK;
}

static es_status evolve_opened(void *user, void *state, const es_event *ev) {
  account_state *s = state;
  const char *owner;
  es_status rc = account_evolve_begin(user, ev);
  if (rc == ES_OK) rc = es_event_text(ev, "owner", &owner);
  if (rc != ES_OK) return rc;
  char *copy = es_mem_strdup(owner);
  if (!copy) return ES_NOMEM;
  es_mem_free(s->owner);
  s->owner = copy;
  s->open = 1;
  s->applied++;
  return ES_OK;
}

static es_status evolve_deposited(void *user, void *state, const es_event *ev) {
  account_state *s = state;
  int64_t amount;
  es_status rc = account_evolve_begin(user, ev);
  if (rc == ES_OK) rc = es_event_int(ev, "amount", &amount);
  if (rc != ES_OK) return rc;
  s->balance += amount;
  s->applied++;
  return ES_OK;
}

static es_status evolve_withdrawn(void *user, void *state, const es_event *ev) {
  account_state *s = state;
  int64_t amount;
  es_status rc = account_evolve_begin(user, ev);
  if (rc == ES_OK) rc = es_get_int(es_event_data(ev), "amount", &amount);
  if (rc != ES_OK) return rc;
  s->balance -= amount;
  s->applied++;
  return ES_OK;
}

static es_status account_to_json(void *user, const void *state, es_builder *out) {
  const account_state *s = state;
  (void)user;
  es_status rc = s->owner ? es_set_text(out, "owner", s->owner) : es_set_null(out, "owner");
  if (rc == ES_OK) rc = es_set_bool(out, "open", s->open);
  if (rc == ES_OK) rc = es_set_int(out, "balance", s->balance);
  if (rc == ES_OK) rc = es_set_int(out, "applied", s->applied);
  return rc;
}

/* The state back from account_to_json's JSON (snapshots). */
static es_status account_from_json(void *user, void *state, const es_object *in) {
  account_state *s = state;
  const char *owner = 0;
  (void)user;
  if (es_has(in, "owner") && es_get_text(in, "owner", &owner, 0) != ES_OK) owner = 0; /* null: no owner yet */
  es_status rc = es_get_bool(in, "open", &s->open);
  if (rc == ES_OK) rc = es_get_int(in, "balance", &s->balance);
  if (rc == ES_OK) rc = es_get_int(in, "applied", &s->applied);
  if (rc == ES_OK && owner && !(s->owner = es_mem_strdup(owner))) rc = ES_NOMEM;
  return rc;
}

static const es_command_handler account_commands[] = {
    {"Open", decide_open},
    {"Deposit", decide_deposit},
    {"Withdraw", decide_withdraw},
    {"Split", decide_split},
    {"Touch", decide_touch},
    {"Note", decide_note},
    {"Sneaky", decide_sneaky},
    {"EmitNull", decide_emit_null},
    {"Fail", decide_fail},
    {"RejectPlain", decide_reject_plain},
    {"RejectDefault", decide_reject_default},
    {"BadData", decide_bad_data},
    {"Mangle", decide_mangle},
};

static const es_event_handler account_events[] = {
    {"Opened", evolve_opened},
    {"Deposited", evolve_deposited},
    {"Withdrawn", evolve_withdrawn},
    {"Noted", NULL},
};

static const es_aggregate_type account_type = {
    .iVersion = 2,
    .name = "account",
    .state_size = sizeof(account_state),
    .xInit = account_init,
    .xClear = account_clear,
    .commands = account_commands,
    .n_commands = (int)(sizeof(account_commands) / sizeof(account_commands[0])),
    .events = account_events,
    .n_events = (int)(sizeof(account_events) / sizeof(account_events[0])),
    .xStateToJson = account_to_json,
    .xStateFromJson = account_from_json,
    .state_version = "1",
};

const es_aggregate_type *sample_account_type(void) { return &account_type; }

/* ----------------------- counter ----------------------- */

static es_status decide_increment(void *user, const void *state, const es_command *cmd, es_emitter *out) {
  (void)state, (void)cmd;
  ((sample_user *)user)->decides++;
  return es_emit(out, "Incremented") ? ES_OK : ES_NOMEM;
}

static es_status evolve_incremented(void *user, void *state, const es_event *ev) {
  (void)user;
  log_evolve(ev);
  (*(int64_t *)state)++;
  return ES_OK;
}

static const es_command_handler counter_commands[] = {{"Increment", decide_increment}};
static const es_event_handler counter_events[] = {{"Incremented", evolve_incremented}};

static const es_aggregate_type counter_type = {
    .iVersion = 1,
    .name = "counter",
    .state_size = sizeof(int64_t),
    .commands = counter_commands,
    .n_commands = 1,
    .events = counter_events,
    .n_events = 1,
};

const es_aggregate_type *sample_counter_type(void) { return &counter_type; }
