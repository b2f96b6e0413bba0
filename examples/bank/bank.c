/*
** bank.c — the bank account aggregate, written in C as its own loadable extension.
** Load sqlite-es first, then this: `.load ./dist/es` then `.load ./dist/bank`.
** It registers through the es_api struct (es.h) and never sees sqlite3* in its callbacks.
**
** Commands: OpenAccount {owner}, Deposit {amount}, Withdraw {amount}, CloseAccount {}.
** Events:   AccountOpened {owner}, Deposited {amount}, Withdrawn {amount}, AccountClosed {}.
*/
#include <sqlite3ext.h>
SQLITE_EXTENSION_INIT1

#include <stdint.h>
#include <string.h>

#include "es.h"
#include "es_fetch_api.h"

#define OWNER_MAX 100

typedef enum { ACCOUNT_NONE, ACCOUNT_OPEN, ACCOUNT_CLOSED } account_status;

typedef struct account {
  account_status status;
  int64_t balance;
  char owner[OWNER_MAX + 1];
} account;

/* ---- decide: validate against the current state, emit facts or reject ---- */

static es_status require_open(const account *a, es_emitter *out) {
  if (a->status == ACCOUNT_NONE) return es_reject(out, "not_open", "the account is not open");
  if (a->status == ACCOUNT_CLOSED) return es_reject(out, "account_closed", "the account is closed");
  return ES_OK;
}

/* The amount of a Deposit or Withdraw: an integer in the payload, and positive. */
static es_status read_amount(const es_command *cmd, es_emitter *out, int64_t *amount) {
  es_status rc = es_payload_int(cmd, "amount", amount);
  if (rc != ES_OK) return rc;
  if (*amount <= 0) return es_reject(out, "invalid_amount", "amount must be positive, got %lld", (long long)*amount);
  return ES_OK;
}

static es_status open_account(void *user, const void *state, const es_command *cmd, es_emitter *out) {
  const account *a = state;
  const char *owner;
  (void)user;
  es_status rc = es_payload_text(cmd, "owner", &owner);
  if (rc != ES_OK) return rc;
  if (a->status != ACCOUNT_NONE) return es_reject(out, "already_open", "account %s is already open", es_command_aggregate_id(cmd));
  size_t n = strlen(owner);
  if (n == 0 || n > OWNER_MAX) return es_reject(out, "invalid_owner", "owner must be 1 to %d bytes", OWNER_MAX);
  return es_set_text(es_emit(out, "AccountOpened"), "owner", owner);
}

static es_status deposit(void *user, const void *state, const es_command *cmd, es_emitter *out) {
  int64_t amount;
  (void)user;
  const account *a = state;
  es_status rc = require_open(a, out);
  if (rc == ES_OK) rc = read_amount(cmd, out, &amount);
  if (rc != ES_OK) return rc;
  if (amount > INT64_MAX - a->balance)
    return es_reject(out, "balance_overflow", "a deposit of %lld would take the balance past %lld", (long long)amount,
                     (long long)INT64_MAX);
  return es_set_int(es_emit(out, "Deposited"), "amount", amount);
}

static es_status withdraw(void *user, const void *state, const es_command *cmd, es_emitter *out) {
  const account *a = state;
  int64_t amount;
  (void)user;
  es_status rc = require_open(a, out);
  if (rc == ES_OK) rc = read_amount(cmd, out, &amount);
  if (rc != ES_OK) return rc;
  if (amount > a->balance)
    return es_reject(out, "insufficient_funds", "balance %lld is less than %lld", (long long)a->balance,
                     (long long)amount);
  return es_set_int(es_emit(out, "Withdrawn"), "amount", amount);
}

static es_status close_account(void *user, const void *state, const es_command *cmd, es_emitter *out) {
  const account *a = state;
  (void)user, (void)cmd;
  es_status rc = require_open(a, out);
  if (rc != ES_OK) return rc;
  if (a->balance != 0)
    return es_reject(out, "balance_not_zero", "balance is %lld; withdraw it before closing", (long long)a->balance);
  es_emit(out, "AccountClosed");
  return ES_OK;
}

/* ---- evolve: apply a fact to the state; never refuses a valid event ---- */

static es_status opened(void *user, void *state, const es_event *ev) {
  account *a = state;
  const char *owner;
  (void)user;
  es_status rc = es_event_text(ev, "owner", &owner);
  if (rc != ES_OK) return rc;
  a->status = ACCOUNT_OPEN;
  strncpy(a->owner, owner, OWNER_MAX);
  a->owner[OWNER_MAX] = 0;
  return ES_OK;
}

static es_status deposited(void *user, void *state, const es_event *ev) {
  int64_t amount;
  (void)user;
  es_status rc = es_event_int(ev, "amount", &amount);
  if (rc == ES_OK) ((account *)state)->balance += amount;
  return rc;
}

static es_status withdrawn(void *user, void *state, const es_event *ev) {
  int64_t amount;
  (void)user;
  es_status rc = es_event_int(ev, "amount", &amount);
  if (rc == ES_OK) ((account *)state)->balance -= amount;
  return rc;
}

static es_status closed(void *user, void *state, const es_event *ev) {
  (void)user, (void)ev;
  ((account *)state)->status = ACCOUNT_CLOSED;
  return ES_OK;
}

/* ---- state as JSON, for es_state() and snapshots ---- */

static es_status to_json(void *user, const void *state, es_builder *out) {
  const account *a = state;
  static const char *const names[] = {"none", "open", "closed"};
  (void)user;
  es_set_text(out, "status", names[a->status]);
  if (a->status != ACCOUNT_NONE) es_set_text(out, "owner", a->owner);
  return es_set_int(out, "balance", a->balance);
}

/* A snapshot's state, as to_json wrote it. */
static es_status from_json(void *user, void *state, const es_object *in) {
  static const char *const names[] = {"none", "open", "closed"};
  account *a = state;
  const char *status, *owner = "";
  (void)user;
  es_status rc = es_get_text(in, "status", &status, 0);
  if (rc == ES_OK) rc = es_get_int(in, "balance", &a->balance);
  if (rc == ES_OK && es_has(in, "owner")) rc = es_get_text(in, "owner", &owner, 0);
  if (rc != ES_OK) return rc;
  if (strlen(owner) > OWNER_MAX) return ES_INVALID_PAYLOAD;
  a->status = ACCOUNT_NONE;
  for (int i = 0; i < 3; i++)
    if (strcmp(status, names[i]) == 0) a->status = (account_status)i;
  memcpy(a->owner, owner, strlen(owner) + 1);
  return ES_OK;
}

static const es_command_handler commands[] = {
    {"OpenAccount", open_account},
    {"Deposit", deposit},
    {"Withdraw", withdraw},
    {"CloseAccount", close_account},
};

static const es_event_handler events[] = {
    {"AccountOpened", opened},
    {"Deposited", deposited},
    {"Withdrawn", withdrawn},
    {"AccountClosed", closed},
};

static const es_aggregate_type account_type = {
    .iVersion = 2,
    .name = "account",
    .state_size = sizeof(account),
    .commands = commands,
    .n_commands = sizeof(commands) / sizeof(commands[0]),
    .events = events,
    .n_events = sizeof(events) / sizeof(events[0]),
    .xStateToJson = to_json,
    .xStateFromJson = from_json,
    .state_version = "1", /* change it whenever evolve or the state changes: older snapshots are then unused */
};

ES_API int sqlite3_bank_init(sqlite3 *db, char **pzErrMsg, const sqlite3_api_routines *pApi) {
  SQLITE_EXTENSION_INIT2(pApi);
  es_api *api = es_fetch_api(db);
  if (!api || api->iVersion < 1) {
    *pzErrMsg = sqlite3_mprintf("bank: load sqlite-es first (.load ./dist/es)");
    return SQLITE_ERROR;
  }
  if (api->xRegisterAggregate(api, &account_type, 0, 0) != ES_OK) {
    *pzErrMsg = sqlite3_mprintf("bank: %s", api->xErrmsg(api));
    return SQLITE_ERROR;
  }
  return SQLITE_OK;
}
