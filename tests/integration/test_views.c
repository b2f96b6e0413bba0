/*
** test_views.c — C views (read models) against a real SQLite, with the static variant and the
** bank's C views (examples/bank/bank_views.c): registering them on a database that already has
** events builds them at once; they are updated in the command's transaction (a second connection
** never sees events without their view rows, BEGIN/ROLLBACK removes both); a fold that fails makes
** the command fail with a message naming the view and the event and changes nothing; a
** registration whose build fails is refused and leaves nothing registered; xUnregisterView; a
** connection without a C view the database knows is refused (ES_UNKNOWN_VIEW) until es_drop_view;
** the writer's insert, upsert, delete and find end to end; the view tables refused to SQL writes;
** sqlite3_close() succeeding after views ran; es_rebuild; es_projections' position and lag; and
** after many random commands, every view equal to the fold of the whole log computed in SQL.
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

/* The bank's C views, compiled in (examples/bank/bank_views.c under SQLITE_CORE). */
int sqlite3_bankviews_init(sqlite3 *db, char **pzErrMsg, const sqlite3_api_routines *pApi);

typedef sdb_fx fx; /* support_db.h: sdb_setup makes it (dir, path, db), sdb_teardown removes it */

/* ----------------------- test views ----------------------- */

typedef struct vuser vuser;
typedef es_status (*step_fn)(vuser *u, const es_event *ev, es_view_writer *out);

struct vuser {
  int destroyed;
  int folds;            /* fold calls */
  int64_t fail_amount;  /* picky: the fold gives up on a deposit of this amount (0: never) */
  int64_t null_amount;  /* picky: the fold writes a NULL amount for this one (NOT NULL fails) */
  step_fn step;         /* notes: what the fold does */
  char seen[512];       /* what a step read */
};

static void vuser_destroy(void *user) { ((vuser *)user)->destroyed++; }

/*
** The users of the views a test registers. Not on the test's stack: a view registered on the
** fixture's connection lives until sdb_teardown closes it, after the test has returned (or failed
** out of it), and its xDestroy writes here. Emptied by setup, once the last test's teardown is over.
*/
static vuser users[16];
static int n_users;

static vuser *new_user(void) {
  assert_true(n_users < (int)(sizeof(users) / sizeof(*users)));
  vuser *u = &users[n_users++];
  memset(u, 0, sizeof(*u));
  return u;
}

static int setup(void **state) {
  memset(users, 0, sizeof(users));
  n_users = 0;
  return sdb_setup(state);
}

static void seen(vuser *u, const char *fmt, ...) {
  size_t n = strlen(u->seen);
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(u->seen + n, sizeof(u->seen) - n, fmt, ap);
  va_end(ap);
}

/* picky: one row per deposit (position, amount); its fold can be told to fail. */
static es_status picky_fold(void *user, const es_event *ev, es_view_writer *out) {
  vuser *u = user;
  int64_t amount;
  const char *text;
  u->folds++;
  es_status rc = es_event_int(ev, "amount", &amount);
  if (rc != ES_OK) return rc;
  if (u->fail_amount && amount == u->fail_amount) return es_event_text(ev, "amount", &text); /* gives up */
  es_builder *b = es_view_row(out);
  es_set_int(b, "position", es_event_position(ev));
  if (u->null_amount && amount == u->null_amount) es_set_null(b, "amount");
  else es_set_int(b, "amount", amount);
  return es_view_insert(out);
}

static const char *const deposited_only[] = {"Deposited"};

static const es_view_type picky_view = {
    .iVersion = 1,
    .name = "picky",
    .columns = "position INTEGER PRIMARY KEY, amount INTEGER NOT NULL",
    .event_types = deposited_only,
    .n_event_types = 1,
    .fold = picky_fold,
};

/* notes: each deposit runs the step the test chose. */
static es_status notes_fold(void *user, const es_event *ev, es_view_writer *out) {
  vuser *u = user;
  u->folds++;
  return u->step ? u->step(u, ev, out) : ES_OK;
}

static const es_view_type notes_view = {
    .iVersion = 1,
    .name = "notes",
    .columns = "k TEXT PRIMARY KEY, tag TEXT, v INTEGER NOT NULL, w",
    .event_types = deposited_only,
    .n_event_types = 1,
    .fold = notes_fold,
};

/* ----------------------- helpers ----------------------- */

static es_api *api_of(sqlite3 *db) {
  es_api *api = es_api_from_db(db);
  assert_non_null(api);
  assert_true(api->iVersion >= 1);
  assert_non_null(api->xRegisterView);
  assert_non_null(api->xUnregisterView);
  return api;
}

static void register_view(sqlite3 *db, const es_view_type *t, vuser *u) {
  es_api *api = api_of(db);
  if (api->xRegisterView(api, t, u, vuser_destroy) != ES_OK)
    fail_msg("registering view %s failed: %s", t->name, api->xErrmsg(api));
  assert_string_equal(api->xErrmsg(api), "not an error");
}

/* The rows of two queries must be the same. */
static void same_rows(sqlite3 *db, const char *sql, const char *reference_sql) {
  char *want = sdb_rows(db, reference_sql);
  sdb_rows_are(db, sql, want);
  free(want);
}

static void load_bank_views(sqlite3 *db) {
  char *err = 0;
  int rc = sqlite3_bankviews_init(db, &err, 0);
  if (rc != SQLITE_OK) {
    char msg[1024];
    snprintf(msg, sizeof msg, "%s", err ? err : "?");
    sqlite3_free(err);
    fail_msg("sqlite3_bankviews_init returned %d: %s", rc, msg);
  }
  assert_null(err);
}

#define OPEN(id, owner) "SELECT es_submit('account', '" id "', 'OpenAccount', '{\"owner\":\"" owner "\"}')"
#define DEPOSIT(id, n) "SELECT es_submit('account', '" id "', 'Deposit', '{\"amount\":" #n "}')"
#define WITHDRAW(id, n) "SELECT es_submit('account', '" id "', 'Withdraw', '{\"amount\":" #n "}')"
#define CLOSE(id) "SELECT es_submit('account', '" id "', 'CloseAccount')"

#define BALANCES \
  "SELECT account_id, owner, balance, status, events, last_version FROM account_balances ORDER BY account_id"
#define HISTORY "SELECT position, account_id, type, amount, balance_after FROM account_history ORDER BY position"
#define PROJECTIONS "SELECT name, table_name, kind, position, lag FROM es_projections ORDER BY name"

/* The whole log folded in SQL: what each bank view must hold. */
#define AMOUNT_DELTA \
  "CASE type WHEN 'Deposited' THEN data ->> 'amount' WHEN 'Withdrawn' THEN -(data ->> 'amount') ELSE 0 END"
#define BALANCES_FROM_LOG                                                                                    \
  "SELECT aggregate_id, max(CASE WHEN type = 'AccountOpened' THEN data ->> 'owner' END), sum(" AMOUNT_DELTA \
  "), CASE WHEN sum(type = 'AccountClosed') > 0 THEN 'closed' ELSE 'open' END, count(*), max(version)"       \
  " FROM es_events WHERE aggregate_type = 'account' GROUP BY aggregate_id ORDER BY aggregate_id"
#define HISTORY_FROM_LOG                                                                                   \
  "SELECT position, aggregate_id, type, data ->> 'amount', sum(" AMOUNT_DELTA                             \
  ") OVER (PARTITION BY aggregate_id ORDER BY position) FROM es_events WHERE aggregate_type = 'account'" \
  " ORDER BY position"

/* Seven events on two accounts, and one rejected command. */
static void bank_scenario(sqlite3 *db) {
  assert_int_equal(sdb_int(db, OPEN("a1", "alice")), 1);
  assert_int_equal(sdb_int(db, DEPOSIT("a1", 100)), 2);
  assert_int_equal(sdb_int(db, OPEN("b2", "bob")), 1);
  assert_int_equal(sdb_int(db, WITHDRAW("a1", 30)), 3);
  sdb_exec_fails(db, WITHDRAW("a1", 1000), SQLITE_CONSTRAINT_FUNCTION,
                 "es: rejected (insufficient_funds): balance 70 is less than 1000");
  assert_int_equal(sdb_int(db, DEPOSIT("b2", 5)), 2);
  assert_int_equal(sdb_int(db, WITHDRAW("b2", 5)), 3);
  assert_int_equal(sdb_int(db, CLOSE("b2")), 4);
}

static const char scenario_balances[] = "a1|alice|70|open|3|3\n"
                                        "b2|bob|0|closed|4|4\n";
static const char scenario_history[] = "1|a1|AccountOpened|NULL|0\n"
                                       "2|a1|Deposited|100|100\n"
                                       "3|b2|AccountOpened|NULL|0\n"
                                       "4|a1|Withdrawn|30|70\n"
                                       "5|b2|Deposited|5|5\n"
                                       "6|b2|Withdrawn|5|0\n"
                                       "7|b2|AccountClosed|NULL|0\n";

/* ----------------------- building at registration ----------------------- */

/* Registering the bank views on a database with events builds them at once, in one transaction. */
static void test_register_builds_existing_events(void **state) {
  fx *f = *state;
  bank_scenario(f->db);
  sqlite3_int64 changes_before = sqlite3_total_changes(f->db);
  load_bank_views(f->db);
  assert_true(sqlite3_total_changes(f->db) > changes_before);
  assert_int_equal(sqlite3_get_autocommit(f->db), 1); /* nothing left open */
  sdb_rows_are(f->db, BALANCES, scenario_balances);
  sdb_rows_are(f->db, HISTORY, scenario_history);
  same_rows(f->db, BALANCES, BALANCES_FROM_LOG);
  same_rows(f->db, HISTORY, HISTORY_FROM_LOG);
  sdb_rows_are(f->db, PROJECTIONS, "account_balances|account_balances|c|7|0\n"
                                   "account_history|account_history|c|7|0\n");
  /* Committed: another connection sees the tables. */
  sdb_rows_are(sdb_second(f), BALANCES, scenario_balances);
  sdb_rows_are(sdb_second(f), HISTORY, scenario_history);

  /* Registering them again (the same definitions) changes nothing. */
  char *before = sdb_dump(f->db);
  load_bank_views(f->db);
  sdb_dump_is(f->db, before);
  free(before);

  /* And the next command updates both. */
  assert_int_equal(sdb_int(f->db, DEPOSIT("a1", 5)), 4);
  sdb_rows_are(f->db, BALANCES, "a1|alice|75|open|4|4\n"
                                "b2|bob|0|closed|4|4\n");
  sdb_rows_are(f->db, "SELECT * FROM account_history WHERE position = 8", "8|a1|Deposited|5|75\n");
}

/* Registered on an empty database: the first command creates the tables and fills them. */
static void test_register_before_any_event(void **state) {
  fx *f = *state;
  load_bank_views(f->db);
  bank_scenario(f->db);
  sdb_rows_are(f->db, BALANCES, scenario_balances);
  sdb_rows_are(f->db, HISTORY, scenario_history);
  sdb_rows_are(f->db, PROJECTIONS, "account_balances|account_balances|c|7|0\n"
                                   "account_history|account_history|c|7|0\n");
}

/* ----------------------- the same transaction ----------------------- */

#define COUNTS                                                                                          \
  "SELECT (SELECT count(*) FROM es_events) || ' events, ' || (SELECT count(*) FROM account_history) || " \
  "' history, balance ' || coalesce((SELECT balance FROM account_balances WHERE account_id = 'a1'), '-')"

static void test_same_transaction(void **state) {
  fx *f = *state;
  load_bank_views(f->db);
  assert_int_equal(sdb_int(f->db, OPEN("a1", "alice")), 1);
  sqlite3 *db2 = sdb_second(f); /* reads only: it has not registered the C views */
  sdb_text_is(db2, COUNTS, "1 events, 1 history, balance 0");

  /* Autocommit: the command's events and view rows are committed together. */
  assert_int_equal(sdb_int(f->db, DEPOSIT("a1", 100)), 2);
  sdb_text_is(db2, COUNTS, "2 events, 2 history, balance 100");

  /* Inside the caller's transaction: the caller sees both, the other connection neither. */
  sdb_exec(f->db, "BEGIN");
  assert_int_equal(sdb_int(f->db, DEPOSIT("a1", 10)), 3);
  assert_int_equal(sdb_int(f->db, WITHDRAW("a1", 1)), 4);
  sdb_text_is(f->db, COUNTS, "4 events, 4 history, balance 109");
  sdb_text_is(db2, COUNTS, "2 events, 2 history, balance 100");
  sdb_exec(f->db, "ROLLBACK"); /* removes both */
  sdb_text_is(f->db, COUNTS, "2 events, 2 history, balance 100");
  sdb_text_is(db2, COUNTS, "2 events, 2 history, balance 100");
  sdb_rows_are(f->db, HISTORY, "1|a1|AccountOpened|NULL|0\n2|a1|Deposited|100|100\n");

  sdb_exec(f->db, "BEGIN");
  assert_int_equal(sdb_int(f->db, DEPOSIT("a1", 10)), 3);
  sdb_text_is(db2, COUNTS, "2 events, 2 history, balance 100");
  sdb_exec(f->db, "COMMIT");
  sdb_text_is(db2, COUNTS, "3 events, 3 history, balance 110");

  /* A savepoint rolled back takes its command's view rows with it. */
  sdb_exec(f->db, "BEGIN; SAVEPOINT s");
  assert_int_equal(sdb_int(f->db, DEPOSIT("a1", 1)), 4);
  sdb_exec(f->db, "ROLLBACK TO s; RELEASE s");
  assert_int_equal(sdb_int(f->db, DEPOSIT("a1", 2)), 4);
  sdb_exec(f->db, "COMMIT");
  sdb_text_is(db2, COUNTS, "4 events, 4 history, balance 112");

  /* A reader's snapshot holds both the log and the views still while a command commits. */
  sdb_exec(db2, "BEGIN");
  sdb_text_is(db2, COUNTS, "4 events, 4 history, balance 112");
  assert_int_equal(sdb_int(f->db, WITHDRAW("a1", 12)), 5);
  sdb_text_is(db2, COUNTS, "4 events, 4 history, balance 112");
  sdb_exec(db2, "COMMIT");
  sdb_text_is(db2, COUNTS, "5 events, 5 history, balance 100");
  same_rows(db2, BALANCES, BALANCES_FROM_LOG);
  same_rows(db2, HISTORY, HISTORY_FROM_LOG);
}

/* ----------------------- a fold that fails ----------------------- */

static const char fail13_msg[] =
    "es: invalid_payload: view 'picky' failed on event 'Deposited' (position 3, account 'a1' version 3): event data"
    " field 'amount' must be a string, got integer";

static void test_failing_fold_changes_nothing(void **state) {
  fx *f = *state;
  vuser *u = new_user();
  u->fail_amount = 13;
  u->null_amount = 17;
  load_bank_views(f->db);
  register_view(f->db, &picky_view, u);
  assert_int_equal(sdb_int(f->db, OPEN("a1", "alice")), 1);
  assert_int_equal(sdb_int(f->db, DEPOSIT("a1", 5)), 2);
  assert_int_equal(u->folds, 1); /* AccountOpened is not picky's: its fold did not run */
  sdb_rows_are(f->db, "SELECT * FROM picky", "2|5\n");

  char *before = sdb_dump(f->db);
  sdb_exec_fails(f->db, DEPOSIT("a1", 13), SQLITE_MISMATCH, fail13_msg);
  sdb_dump_is(f->db, before); /* the event too */
  sdb_dump_is(sdb_second(f), before);
  /* es_try_submit reports it as the command's outcome. */
  sdb_text_is(f->db, "SELECT es_try_submit('account', 'a1', 'Deposit', '{\"amount\":13}')",
              "{\"ok\":false,\"error\":\"invalid_payload\",\"reason\":null,\"message\":\"view 'picky' failed on event"
              " 'Deposited' (position 3, account 'a1' version 3): event data field 'amount' must be a string, got"
              " integer\"}");
  sdb_dump_is(f->db, before);
  /* A write the table refuses (NOT NULL): a storage error with SQLite's code, naming the view and event. */
  sdb_exec_fails(f->db, DEPOSIT("a1", 17), SQLITE_CONSTRAINT_NOTNULL,
                 "es: storage: view 'picky' failed on event 'Deposited' (position 3, account 'a1' version 3): writing"
                 " a row: NOT NULL constraint failed: picky.amount (1299)");
  sdb_dump_is(f->db, before);

  /* Inside the caller's transaction: the failed command is undone, the caller's earlier work stays. */
  sdb_exec(f->db, "BEGIN");
  assert_int_equal(sdb_int(f->db, DEPOSIT("a1", 7)), 3);
  sdb_exec_fails(f->db, DEPOSIT("a1", 13), SQLITE_MISMATCH,
                 "es: invalid_payload: view 'picky' failed on event 'Deposited' (position 4, account 'a1' version 4):"
                 " event data field 'amount' must be a string, got integer");
  assert_int_equal(sqlite3_get_autocommit(f->db), 0);
  sdb_exec(f->db, "COMMIT");
  free(before);
  sdb_rows_are(f->db, "SELECT position, version, type, data FROM es_events ORDER BY position",
               "1|1|AccountOpened|{\"owner\":\"alice\"}\n"
               "2|2|Deposited|{\"amount\":5}\n"
               "3|3|Deposited|{\"amount\":7}\n");
  sdb_rows_are(f->db, "SELECT * FROM picky", "2|5\n3|7\n");
  sdb_rows_are(f->db, BALANCES, "a1|alice|12|open|3|3\n");
  sdb_rows_are(f->db, PROJECTIONS, "account_balances|account_balances|c|3|0\n"
                                   "account_history|account_history|c|3|0\n"
                                   "picky|picky|c|3|0\n");
  /* The guard was disarmed after the failure: SQL still cannot write the view tables. */
  sdb_exec_fails(f->db, "INSERT INTO picky VALUES (99, 1)", SQLITE_CONSTRAINT_TRIGGER,
                 "es: protected: picky is a read model: only its view handlers write it, from the events in es_events"
                 " (rebuild it with SELECT es_rebuild('picky'))");
  assert_int_equal(u->destroyed, 0);
}

/* Registration whose initial build fails: refused with the fold's error, nothing registered. */
static void test_failing_registration(void **state) {
  fx *f = *state;
  load_bank_views(f->db);
  assert_int_equal(sdb_int(f->db, OPEN("a1", "alice")), 1);
  assert_int_equal(sdb_int(f->db, DEPOSIT("a1", 5)), 2);
  assert_int_equal(sdb_int(f->db, DEPOSIT("a1", 13)), 3);
  char *before = sdb_dump(f->db);

  es_api *api = api_of(f->db);
  vuser *u = new_user();
  u->fail_amount = 13;
  assert_int_equal(api->xRegisterView(api, &picky_view, u, vuser_destroy), ES_INVALID_PAYLOAD);
  assert_string_equal(api->xErrmsg(api), fail13_msg);
  assert_int_equal(u->folds, 2);
  assert_int_equal(u->destroyed, 1); /* let go: the extension that registered it may be unloaded */
  assert_int_equal(sqlite3_get_autocommit(f->db), 1);
  sdb_dump_is(f->db, before); /* no table, no es_views row */
  sdb_rows_are(f->db, PROJECTIONS, "account_balances|account_balances|c|3|0\n"
                                   "account_history|account_history|c|3|0\n");
  assert_int_equal(sdb_int(f->db, "SELECT count(*) FROM sqlite_schema WHERE name = 'picky'"), 0);
  assert_int_equal(api->xUnregisterView(api, "picky"), ES_UNKNOWN_VIEW); /* not registered */

  /* Later commands work, and the views still follow. */
  assert_int_equal(sdb_int(f->db, DEPOSIT("a1", 1)), 4);
  assert_int_equal(u->folds, 2);
  sdb_rows_are(f->db, BALANCES, "a1|alice|19|open|4|4\n");
  sdb_rows_are(f->db, PROJECTIONS, "account_balances|account_balances|c|4|0\n"
                                   "account_history|account_history|c|4|0\n");
  assert_string_equal(api->xErrmsg(api), fail13_msg); /* until the next registration call */

  /* Registered with a fold that copes, it is built and the error is forgotten. */
  vuser *ok = new_user();
  register_view(f->db, &picky_view, ok);
  sdb_rows_are(f->db, "SELECT * FROM picky", "2|5\n3|13\n4|1\n");
  assert_int_equal(ok->folds, 3);
  free(before);

  /* The same refusal inside the caller's transaction: the caller's work stays. */
  vuser *u2 = new_user();
  u2->fail_amount = 1;
  sdb_exec(f->db, "BEGIN");
  assert_int_equal(sdb_int(f->db, WITHDRAW("a1", 2)), 5);
  static const es_view_type other = {.iVersion = 1, .name = "picky2", .columns = "position INTEGER PRIMARY KEY,"
                                     " amount INTEGER NOT NULL", .event_types = deposited_only, .n_event_types = 1,
                                     .fold = picky_fold};
  assert_int_equal(api->xRegisterView(api, &other, u2, vuser_destroy), ES_INVALID_PAYLOAD);
  assert_string_equal(api->xErrmsg(api),
                      "es: invalid_payload: view 'picky2' failed on event 'Deposited' (position 4, account 'a1'"
                      " version 4): event data field 'amount' must be a string, got integer");
  assert_int_equal(u2->destroyed, 1);
  assert_int_equal(sqlite3_get_autocommit(f->db), 0);
  sdb_exec(f->db, "COMMIT");
  sdb_rows_are(f->db, BALANCES, "a1|alice|17|open|5|5\n");
  assert_int_equal(sdb_int(f->db, "SELECT count(*) FROM sqlite_schema WHERE name = 'picky2'"), 0);
  sdb_rows_are(f->db, "SELECT name FROM es_views ORDER BY name", "account_balances\naccount_history\npicky\n");
}

/* Refused definitions: the registry's message, through the api, with xDestroy called. */
static void test_refused_view_definitions(void **state) {
  fx *f = *state;
  es_api *api = api_of(f->db);
  static const struct {
    const char *name;
    const char *msg;
  } cases[] = {
      {"", "es: invalid_argument: view name must be 1 to 200 bytes with no control characters"},
      {"es_views", "es: invalid_argument: view 'es_views': names starting with es_ or sqlite_ are reserved"},
      {"sqlite_sequence",
       "es: invalid_argument: view 'sqlite_sequence': names starting with es_ or sqlite_ are reserved"},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
    vuser *u = new_user();
    es_view_type t = picky_view;
    t.name = cases[i].name;
    assert_int_equal(api->xRegisterView(api, &t, u, vuser_destroy), ES_INVALID_ARGUMENT);
    assert_string_equal(api->xErrmsg(api), cases[i].msg);
    assert_int_equal(u->destroyed, 1);
  }
  vuser *u = new_user();
  assert_int_equal(api->xRegisterView(api, 0, u, vuser_destroy), ES_INVALID_ARGUMENT);
  assert_string_equal(api->xErrmsg(api), "es: invalid_argument: view type definition is NULL");
  assert_int_equal(u->destroyed, 1);
}

/*
** SQLite's names are case-insensitive: a view named ES_EVENTS would own the log's table. It must
** be refused like es_events, and the log must stay as it was.
*/
static void test_reserved_names_any_case(void **state) {
  fx *f = *state;
  bank_scenario(f->db);
  es_api *api = api_of(f->db);
  static const char *const names[] = {"ES_EVENTS", "Es_Views", "ES_COMMANDS", "SQLITE_master", "Es_Projections"};
  char wrong[4096] = "";
  for (size_t i = 0; i < sizeof(names) / sizeof(*names); i++) {
    char *before = sdb_dump(f->db);
    vuser *u = new_user();
    es_view_type t = picky_view;
    t.name = names[i];
    char want[256];
    snprintf(want, sizeof want, "es: invalid_argument: view '%s': names starting with es_ or sqlite_ are reserved",
             names[i]);
    es_status rc = api->xRegisterView(api, &t, u, vuser_destroy);
    if (rc != ES_INVALID_ARGUMENT || strcmp(api->xErrmsg(api), want) != 0) {
      size_t n = strlen(wrong);
      snprintf(wrong + n, sizeof wrong - n, "\n  %s: status %d, <%s>", names[i], rc, api->xErrmsg(api));
    }
    /* Whatever the message, nothing registered and nothing changed: the log is untouched. */
    assert_int_equal(u->destroyed, 1);
    assert_int_equal(api->xUnregisterView(api, names[i]), ES_UNKNOWN_VIEW);
    sdb_dump_is(f->db, before);
    assert_int_equal(sdb_int(f->db, DEPOSIT("a1", 1)), 4 + (int)i);
    free(before);
  }
  if (wrong[0]) fail_msg("not refused as reserved names:%s", wrong);
}

/* ----------------------- unregistering and other connections ----------------------- */

static void test_unregister(void **state) {
  fx *f = *state;
  es_api *api = api_of(f->db);
  vuser *u = new_user();
  register_view(f->db, &picky_view, u);
  assert_int_equal(sdb_int(f->db, OPEN("a1", "alice")), 1);
  assert_int_equal(sdb_int(f->db, DEPOSIT("a1", 5)), 2);
  sdb_rows_are(f->db, "SELECT * FROM picky", "2|5\n");

  assert_int_equal(api->xUnregisterView(api, "picky"), ES_OK);
  assert_int_equal(u->destroyed, 1);
  assert_int_equal(api->xUnregisterView(api, "picky"), ES_UNKNOWN_VIEW);
  assert_int_equal(api->xUnregisterView(api, "nothing"), ES_UNKNOWN_VIEW);
  assert_int_equal(api->xUnregisterView(api, 0), ES_MISUSE);
  assert_int_equal(u->destroyed, 1);

  /* The database still knows the view: this connection may no longer append. */
  char *before = sdb_dump(f->db);
  sdb_exec_fails(f->db, DEPOSIT("a1", 6), SQLITE_ERROR,
                 "es: unknown_view: view 'picky' is a C view that is not registered on this connection: load the"
                 " extension that defines it, or forget it with SELECT es_drop_view('picky')");
  sdb_dump_is(f->db, before);
  free(before);
  assert_int_equal(u->folds, 1);
  /* A command that appends nothing still works. */
  sdb_exec_fails(f->db, OPEN("a1", "x"), SQLITE_CONSTRAINT_FUNCTION,
                 "es: rejected (already_open): account a1 is already open");

  /* es_drop_view: the database forgets it; its table stays, an ordinary table now. */
  assert_int_equal(sdb_int(f->db, "SELECT es_drop_view('picky')"), 1);
  assert_int_equal(sdb_int(f->db, DEPOSIT("a1", 6)), 3);
  sdb_rows_are(f->db, "SELECT * FROM picky", "2|5\n");
  sdb_rows_are(f->db, "SELECT name FROM es_views", "");
  assert_int_equal(sdb_int(f->db, "SELECT count(*) FROM sqlite_schema WHERE type = 'trigger' AND tbl_name = 'picky'"),
                   0);
  sdb_exec(f->db, "INSERT INTO picky VALUES (100, 1); DELETE FROM picky WHERE position = 100");
  sdb_exec_fails(f->db, "SELECT es_drop_view('picky')", SQLITE_ERROR,
                 "es: unknown_view: no view named 'picky' in this database");

  /* Registered again: rebuilt from the whole log. */
  vuser *u2 = new_user();
  register_view(f->db, &picky_view, u2);
  sdb_rows_are(f->db, "SELECT * FROM picky", "2|5\n3|6\n");
  sdb_rows_are(f->db, "SELECT name, position, lag FROM es_projections", "picky|3|0\n");
  sdb_close(f->db);
  f->db = 0;
  assert_int_equal(u2->destroyed, 1);
}

static const char unknown_balances[] =
    "es: unknown_view: view 'account_balances' is a C view that is not registered on this connection: load the"
    " extension that defines it, or forget it with SELECT es_drop_view('account_balances')";

/* A connection without the C views the database knows cannot append, until it drops them. */
static void test_connection_without_the_view(void **state) {
  fx *f = *state;
  load_bank_views(f->db);
  bank_scenario(f->db);
  sqlite3 *db2 = sdb_second(f); /* sqlite-es and the bank, not the bank's views */
  char *before = sdb_dump(f->db);
  sdb_exec_fails(db2, DEPOSIT("a1", 1), SQLITE_ERROR, unknown_balances);
  sdb_exec_fails(db2, "SELECT es_try_submit('account', 'a1', 'Deposit', '{\"amount\":1}')", SQLITE_ERROR,
                 unknown_balances);
  sdb_exec_fails(db2, "SELECT es_rebuild('account_balances')", SQLITE_ERROR, unknown_balances);
  sdb_dump_is(f->db, before);
  /* Reading is fine, and so are commands that append nothing. */
  sdb_rows_are(db2, BALANCES, scenario_balances);
  sdb_exec_fails(db2, DEPOSIT("b2", 1), SQLITE_CONSTRAINT_FUNCTION,
                 "es: rejected (account_closed): the account is closed");
  sdb_dump_is(f->db, before);
  free(before);

  /* Dropping one view is not enough: the other is named next. */
  assert_int_equal(sdb_int(db2, "SELECT es_drop_view('account_balances')"), 1);
  sdb_exec_fails(db2, DEPOSIT("a1", 1), SQLITE_ERROR,
                 "es: unknown_view: view 'account_history' is a C view that is not registered on this connection:"
                 " load the extension that defines it, or forget it with SELECT es_drop_view('account_history')");
  assert_int_equal(sdb_int(db2, "SELECT es_drop_view('account_history')"), 1);
  assert_int_equal(sdb_int(db2, DEPOSIT("a1", 1)), 4);
  sdb_rows_are(db2, "SELECT name FROM es_views", "");
  sdb_rows_are(db2, BALANCES, scenario_balances); /* forgotten: not updated */

  /* The first connection still has them registered: its next command attaches them again, rebuilt. */
  assert_int_equal(sdb_int(f->db, DEPOSIT("a1", 2)), 5);
  sdb_rows_are(f->db, BALANCES, "a1|alice|73|open|5|5\n"
                                "b2|bob|0|closed|4|4\n");
  same_rows(f->db, HISTORY, HISTORY_FROM_LOG);
  sdb_rows_are(f->db, PROJECTIONS, "account_balances|account_balances|c|9|0\n"
                                   "account_history|account_history|c|9|0\n");
  sdb_exec_fails(db2, DEPOSIT("a1", 1), SQLITE_ERROR, unknown_balances);
}

/* ----------------------- the writer, end to end ----------------------- */

static es_status step_insert(vuser *u, const es_event *ev, es_view_writer *out) {
  es_status rc;
  (void)u, (void)ev;
  es_builder *b = es_view_row(out);
  es_set_text(b, "k", "a");
  es_set_text(b, "tag", "x");
  es_set_int(b, "v", 1);
  es_set_text(b, "w", "first");
  if ((rc = es_view_insert(out)) != ES_OK) return rc;
  b = es_view_row(out);
  es_set_text(b, "k", "b");
  es_set_text(b, "tag", "x");
  es_set_int(b, "v", 2);
  if ((rc = es_view_insert(out)) != ES_OK) return rc;
  b = es_view_row(out);
  es_set_text(b, "k", "t");
  es_set_null(b, "tag");
  es_set_bool(b, "v", 1);
  es_set_real(b, "w", 2.5);
  if ((rc = es_view_insert(out)) != ES_OK) return rc;
  b = es_view_row(out);
  es_set_text(b, "k", "j");
  es_set_int(b, "v", 0);
  es_set_json(b, "w", "[1, {\"a\": 2}]");
  return es_view_insert(out);
}

static es_status step_upsert(vuser *u, const es_event *ev, es_view_writer *out) {
  es_status rc;
  (void)u, (void)ev;
  es_builder *b = es_view_row(out);
  es_set_text(b, "k", "a"); /* an existing key: only v changes */
  es_set_int(b, "v", 10);
  if ((rc = es_view_upsert(out)) != ES_OK) return rc;
  b = es_view_row(out);
  es_set_text(b, "k", "c"); /* a new key: inserted */
  es_set_text(b, "tag", "y");
  es_set_int(b, "v", 3);
  if ((rc = es_view_upsert(out)) != ES_OK) return rc;
  b = es_view_row(out);
  es_set_text(b, "k", "b"); /* an existing key without the NOT NULL column: an update needs none */
  es_set_text(b, "w", "bee");
  return es_view_upsert(out);
}

/* Upsert with only the key set, on a row that exists: nothing to update, and no error. */
static es_status step_upsert_key_only(vuser *u, const es_event *ev, es_view_writer *out) {
  (void)u, (void)ev;
  es_set_text(es_view_row(out), "k", "a");
  return es_view_upsert(out);
}

static es_status step_find(vuser *u, const es_event *ev, es_view_writer *out) {
  const es_object *row = 0;
  const char *k = 0, *w = 0;
  int64_t v = 0;
  es_status rc;
  (void)ev;
  es_set_text(es_view_row(out), "tag", "x"); /* a and b: the most recent row is b */
  if ((rc = es_view_find(out, &row)) != ES_OK) return rc;
  if (!row || es_get_text(row, "k", &k, 0) || es_get_int(row, "v", &v) || es_get_text(row, "w", &w, 0))
    return ES_MISUSE;
  seen(u, "%s/%lld/%s ", k, (long long)v, w);
  es_set_text(es_view_row(out), "tag", "none");
  if ((rc = es_view_find(out, &row)) != ES_OK) return rc;
  seen(u, "%s ", row ? "found" : "none");
  es_set_text(es_view_row(out), "k", "a");
  if ((rc = es_view_find(out, &row)) != ES_OK) return rc;
  if (!row || es_get_text(row, "k", &k, 0) || es_get_int(row, "v", &v) || es_get_text(row, "w", &w, 0))
    return ES_MISUSE;
  seen(u, "%s/%lld/%s ", k, (long long)v, w);
  es_set_text(es_view_row(out), "k", "c"); /* w is NULL: present, as JSON null */
  if ((rc = es_view_find(out, &row)) != ES_OK) return rc;
  if (!row) return ES_MISUSE;
  seen(u, "c.w:%s/%d ", es_has(row, "w") ? "has" : "lacks", (int)es_get_text(row, "w", &w, 0));
  es_set_null(es_view_row(out), "tag"); /* IS NULL: t and j, the most recent is j */
  if ((rc = es_view_find(out, &row)) != ES_OK) return rc;
  if (!row || es_get_text(row, "k", &k, 0)) return ES_MISUSE;
  seen(u, "%s ", k);
  es_set_real(es_view_row(out), "w", 2.5); /* typed values compare as SQL values */
  if ((rc = es_view_find(out, &row)) != ES_OK) return rc;
  double r = 0;
  if (!row || es_get_text(row, "k", &k, 0) || es_get_real(row, "w", &r)) return ES_MISUSE;
  seen(u, "%s/%g", k, r);
  return ES_OK;
}

static es_status step_delete(vuser *u, const es_event *ev, es_view_writer *out) {
  es_status rc;
  (void)u, (void)ev;
  es_builder *b = es_view_row(out);
  es_set_text(b, "tag", "x"); /* every set column must match: a, not b */
  es_set_text(b, "k", "a");
  if ((rc = es_view_delete(out)) != ES_OK) return rc;
  es_set_text(es_view_row(out), "tag", "zzz"); /* no row: fine */
  if ((rc = es_view_delete(out)) != ES_OK) return rc;
  es_set_null(es_view_row(out), "tag"); /* t and j */
  return es_view_delete(out);
}

/* The step's deposit; its fold ran exactly once. */
static void run_step(fx *f, vuser *u, step_fn step, int version) {
  char sql[256];
  int folds = u->folds;
  u->step = step;
  snprintf(sql, sizeof sql, "SELECT es_submit('account', 'w1', 'Deposit', '{\"amount\":1}')");
  assert_int_equal(sdb_int(f->db, sql), version);
  assert_int_equal(u->folds, folds + 1);
}

#define NOTES "SELECT k, quote(tag), v, typeof(v), quote(w), typeof(w) FROM notes ORDER BY rowid"

static void test_writer_end_to_end(void **state) {
  fx *f = *state;
  vuser *u = new_user();
  register_view(f->db, &notes_view, u);
  assert_int_equal(sdb_int(f->db, OPEN("w1", "wanda")), 1);
  assert_int_equal(u->folds, 0);

  run_step(f, u, step_insert, 2);
  sdb_rows_are(f->db, NOTES, "a|'x'|1|integer|'first'|text\n"
                             "b|'x'|2|integer|NULL|null\n"
                             "t|NULL|1|integer|2.5|real\n"
                             "j|NULL|0|integer|'[1, {\"a\": 2}]'|text\n");
  run_step(f, u, step_upsert, 3);
  sdb_rows_are(f->db, NOTES, "a|'x'|10|integer|'first'|text\n"
                             "b|'x'|2|integer|'bee'|text\n"
                             "t|NULL|1|integer|2.5|real\n"
                             "j|NULL|0|integer|'[1, {\"a\": 2}]'|text\n"
                             "c|'y'|3|integer|NULL|null\n");
  run_step(f, u, step_find, 4);
  assert_string_equal(u->seen, "b/2/bee none a/10/first c.w:has/6 j t/2.5");
  run_step(f, u, step_delete, 5);
  sdb_rows_are(f->db, NOTES, "b|'x'|2|integer|'bee'|text\n"
                             "c|'y'|3|integer|NULL|null\n");

  /* Inserting a key that exists: the table's constraint, naming the view and the event. */
  char *before = sdb_dump(f->db);
  u->step = step_insert;
  sdb_exec_fails(f->db, "SELECT es_submit('account', 'w1', 'Deposit', '{\"amount\":1}')", SQLITE_CONSTRAINT_PRIMARYKEY,
                 "es: storage: view 'notes' failed on event 'Deposited' (position 6, account 'w1' version 6): writing a"
                 " row: UNIQUE constraint failed: notes.k (1555)");
  sdb_dump_is(f->db, before);
  free(before);
}

static es_status keys_fold(void *user, const es_event *ev, es_view_writer *out) {
  ((vuser *)user)->folds++;
  es_set_text(es_view_row(out), "k", es_event_aggregate_id(ev));
  return es_view_upsert(out);
}

static void test_upsert_key_only(void **state) {
  fx *f = *state;
  vuser *u = new_user();
  register_view(f->db, &notes_view, u);
  assert_int_equal(sdb_int(f->db, OPEN("w1", "wanda")), 1);
  run_step(f, u, step_insert, 2);
  u->step = step_upsert_key_only;
  sqlite3_stmt *st = 0;
  assert_int_equal(sqlite3_prepare_v2(f->db, DEPOSIT("w1", 1), -1, &st, 0), SQLITE_OK);
  int rc = sqlite3_step(st);
  char msg[512];
  snprintf(msg, sizeof msg, "%s", sqlite3_errmsg(f->db));
  sqlite3_finalize(st);
  if (rc != SQLITE_ROW) fail_msg("upsert of an existing key with no other column failed: %s", msg);
  sdb_rows_are(f->db, NOTES, "a|'x'|1|integer|'first'|text\n"
                             "b|'x'|2|integer|NULL|null\n"
                             "t|NULL|1|integer|2.5|real\n"
                             "j|NULL|0|integer|'[1, {\"a\": 2}]'|text\n");

  /* The same on a table whose other columns may be NULL: one row per account, no error. */
  static const es_view_type keys = {.iVersion = 1, .name = "keys", .columns = "k TEXT PRIMARY KEY, n INTEGER",
                                    .event_types = deposited_only, .n_event_types = 1, .fold = keys_fold};
  vuser *ku = new_user();
  register_view(f->db, &keys, ku);
  sdb_rows_are(f->db, "SELECT k, quote(n) FROM keys", "w1|NULL\n"); /* built from two deposits */
  assert_int_equal(ku->folds, 2);
  assert_int_equal(sdb_int(f->db, DEPOSIT("w1", 1)), 4); /* the notes step is a key-only upsert too */
  assert_int_equal(ku->folds, 3);
  sdb_rows_are(f->db, "SELECT k, quote(n) FROM keys", "w1|NULL\n");
  sdb_rows_are(f->db, "SELECT k FROM notes ORDER BY rowid", "a\nb\nt\nj\n");
}

/* find and upsert on a WITHOUT ROWID table (created by the application before the view). */
static es_status wr_fold(void *user, const es_event *ev, es_view_writer *out) {
  const es_object *row = 0;
  int64_t amount, total = 0;
  es_status rc;
  ((vuser *)user)->folds++;
  if ((rc = es_event_int(ev, "amount", &amount)) != ES_OK) return rc;
  es_set_text(es_view_row(out), "k", es_event_aggregate_id(ev));
  if ((rc = es_view_find(out, &row)) != ES_OK) return rc;
  if (row && (rc = es_get_int(row, "total", &total)) != ES_OK) return rc;
  es_builder *b = es_view_row(out);
  es_set_text(b, "k", es_event_aggregate_id(ev));
  es_set_int(b, "total", total + amount);
  return es_view_upsert(out);
}

static void test_without_rowid_table(void **state) {
  fx *f = *state;
  assert_int_equal(sdb_int(f->db, OPEN("a1", "alice")), 1);
  assert_int_equal(sdb_int(f->db, DEPOSIT("a1", 5)), 2);
  assert_int_equal(sdb_int(f->db, OPEN("b2", "bob")), 1);
  sdb_exec(f->db, "CREATE TABLE totals(k TEXT PRIMARY KEY, total INTEGER NOT NULL) WITHOUT ROWID;"
                  "INSERT INTO totals VALUES ('stale', 1)");
  static const es_view_type totals = {.iVersion = 1, .name = "totals", .columns = "k TEXT PRIMARY KEY, total INTEGER",
                                      .event_types = deposited_only, .n_event_types = 1, .fold = wr_fold};
  vuser *u = new_user();
  register_view(f->db, &totals, u);
  sdb_rows_are(f->db, "SELECT * FROM totals ORDER BY k", "a1|5\n"); /* built from the log, the old rows gone */
  assert_int_equal(sdb_int(f->db, DEPOSIT("a1", 7)), 3);
  assert_int_equal(sdb_int(f->db, DEPOSIT("b2", 1)), 2);
  sdb_rows_are(f->db, "SELECT * FROM totals ORDER BY k", "a1|12\nb2|1\n");
  assert_int_equal(u->folds, 3);
}

/* ----------------------- the statement cache ----------------------- */

/* shapes: every deposit writes its position and a different subset of seven columns (70 shapes),
** so each write is a statement of its own text and the store's statement cache overflows while
** the catch-up's read of the log is still being stepped. No unique key: an event applied twice
** would show as a second row. */
static es_status shapes_fold(void *user, const es_event *ev, es_view_writer *out) {
  vuser *u = user;
  static const char *const cols[7] = {"c0", "c1", "c2", "c3", "c4", "c5", "c6"};
  int64_t p = es_event_position(ev);
  unsigned subset = (unsigned)(p % 70) + 1; /* 1..70: a non-empty subset of the seven columns */
  u->folds++;
  es_builder *b = es_view_row(out);
  es_set_int(b, "position", p);
  for (int i = 0; i < 7; i++)
    if (subset & (1u << i)) es_set_int(b, cols[i], p);
  return es_view_insert(out);
}

static const es_view_type shapes_view = {
    .iVersion = 1,
    .name = "shapes",
    .columns = "position INTEGER NOT NULL, c0, c1, c2, c3, c4, c5, c6",
    .event_types = deposited_only,
    .n_event_types = 1,
    .fold = shapes_fold,
};

/* Defect: the cache finalized its oldest statement when full, even the log read being stepped. */
static void test_cache_never_finalizes_a_running_statement(void **state) {
  fx *f = *state;
  assert_int_equal(sdb_int(f->db, OPEN("a1", "alice")), 1);
  sdb_exec(f->db, "BEGIN");
  for (int i = 0; i < 199; i++) sdb_exec(f->db, DEPOSIT("a1", 1));
  sdb_exec(f->db, "COMMIT");
  vuser *u = new_user();
  register_view(f->db, &shapes_view, u); /* builds from the 200 events at once */
  assert_int_equal(u->folds, 199);
  sdb_rows_are(f->db, "SELECT count(*), count(DISTINCT position), min(position), max(position) FROM shapes",
               "199|199|2|200\n");
  sdb_rows_are(f->db, "SELECT count(*) FROM shapes WHERE coalesce(c0, c1, c2, c3, c4, c5, c6) IS NOT position", "0\n");
  /* and the commands after it: the cache keeps working */
  for (int i = 0; i < 80; i++) assert_int_equal(sdb_int(f->db, DEPOSIT("a1", 1)), 201 + i);
  sdb_rows_are(f->db, "SELECT count(*), count(DISTINCT position), max(position) FROM shapes", "279|279|280\n");
  assert_int_equal(sdb_int(f->db, "SELECT es_rebuild('shapes')"), 279);
  sdb_rows_are(f->db, "SELECT count(*), count(DISTINCT position) FROM shapes", "279|279\n");
}

/* ----------------------- protection, closing ----------------------- */

static void protected_msg(char *buf, size_t n, const char *table) {
  snprintf(buf, n,
           "es: protected: %s is a read model: only its view handlers write it, from the events in es_events (rebuild"
           " it with SELECT es_rebuild('%s'))",
           table, table);
}

static void test_view_tables_refuse_sql_writes(void **state) {
  fx *f = *state;
  vuser *u = new_user();
  load_bank_views(f->db);
  register_view(f->db, &picky_view, u);
  bank_scenario(f->db);
  char *before = sdb_dump(f->db);
  static const char *const writes[] = {
      "INSERT INTO account_balances VALUES ('z9', 'eve', 1000000, 'open', 1, 1)",
      "INSERT OR REPLACE INTO account_balances VALUES ('a1', 'eve', 1000000, 'open', 1, 1)",
      "UPDATE account_balances SET balance = 1000000 WHERE account_id = 'a1'",
      "DELETE FROM account_balances",
      "INSERT INTO account_history VALUES (100, 'a1', 'Deposited', 1, 71)",
      "UPDATE account_history SET balance_after = 0",
      "DELETE FROM account_history WHERE position = 1",
      "INSERT INTO picky VALUES (100, 1)",
      "UPDATE picky SET amount = 0",
      "DELETE FROM picky",
  };
  static const char *const tables[] = {"account_balances", "account_balances", "account_balances", "account_balances",
                                       "account_history",  "account_history",  "account_history",  "picky",
                                       "picky",            "picky"};
  char msg[512];
  for (int conn = 0; conn < 2; conn++) {
    sqlite3 *db = conn ? sdb_second(f) : f->db; /* the second has not registered the views */
    for (size_t i = 0; i < sizeof(writes) / sizeof(*writes); i++) {
      protected_msg(msg, sizeof msg, tables[i]);
      sdb_exec_fails(db, writes[i], SQLITE_CONSTRAINT_TRIGGER, msg);
    }
    /* Not from inside a transaction either, and the transaction goes on. */
    sdb_exec(db, "BEGIN");
    protected_msg(msg, sizeof msg, "account_history");
    sdb_exec_fails(db, "DELETE FROM account_history", SQLITE_CONSTRAINT_TRIGGER, msg);
    sdb_exec(db, "COMMIT");
    sdb_dump_is(f->db, before);
  }
  /* Without the extension loaded, the guards cannot even be evaluated: the write cannot run. */
  sqlite3 *plain = sdb_open_with(f->path, 0, 0);
  for (size_t i = 0; i < sizeof(writes) / sizeof(*writes); i++)
    sdb_exec_fails(plain, writes[i], SQLITE_ERROR, "no such function: es_internal_write");
  sdb_rows_are(plain, BALANCES, scenario_balances);
  sdb_close(plain);
  sdb_dump_is(f->db, before);
  free(before);
}

/* Plain sqlite3_close() succeeds after views ran: their cached statements are finalized. */
static void test_plain_close_after_views(void **state) {
  fx *f = *state;
  char *path = sdb_join(f->dir, "close.db");
  for (int round = 0; round < 3; round++) {
    sqlite3 *db = sdb_open_with(path, SDB_ES | SDB_BANK | SDB_WAL, 0);
    vuser *u = new_user(), *n = new_user();
    u->fail_amount = 13;
    load_bank_views(db);
    register_view(db, &picky_view, u);
    register_view(db, &notes_view, n);
    if (round == 0) {
      n->step = step_insert;
      assert_int_equal(sdb_int(db, OPEN("a1", "alice")), 1);
      assert_int_equal(sdb_int(db, DEPOSIT("a1", 5)), 2);
      n->step = 0;
      sdb_exec_fails(db, DEPOSIT("a1", 13), SQLITE_MISMATCH,
                     "es: invalid_payload: view 'picky' failed on event 'Deposited' (position 3, account 'a1' version"
                     " 3): event data field 'amount' must be a string, got integer");
      assert_int_equal(sdb_int(db, DEPOSIT("a1", 6)), 3);
      assert_int_equal(n->folds, 3);
    } else if (round == 1) {
      assert_int_equal(sdb_int(db, "SELECT es_rebuild('account_history')"), 3);
      assert_int_equal(sdb_int(db, "SELECT es_rebuild('picky')"), 2);
    } else {
      es_api *api = api_of(db);
      assert_int_equal(api->xUnregisterView(api, "notes"), ES_OK);
      assert_int_equal(sdb_int(db, "SELECT es_drop_view('notes')"), 1);
      n->step = step_upsert;
      assert_int_equal(sdb_int(db, WITHDRAW("a1", 1)), 4);
    }
    assert_int_equal(sqlite3_close(db), SQLITE_OK);
    assert_int_equal(u->destroyed, 1);
    assert_int_equal(n->destroyed, 1);
  }
  free(path);
}

/* ----------------------- rebuild, projections, many commands ----------------------- */

/* A fixed pseudo-random sequence of bank commands (accepted and rejected) through es_try_submit. */
static void random_commands(sqlite3 *db, int n, unsigned seed) {
  sqlite3_stmt *st = 0;
  assert_int_equal(sqlite3_prepare_v2(db, "SELECT es_try_submit('account', ?1, ?2, ?3) ->> 'ok'", -1, &st, 0),
                   SQLITE_OK);
  unsigned x = seed;
  int ok = 0;
  for (int i = 0; i < n; i++) {
    x = x * 1103515245u + 12345u;
    unsigned r = x >> 8;
    char id[16], payload[64];
    const char *cmd;
    snprintf(id, sizeof id, "acc-%u", r % 7);
    switch ((r / 7) % 10) {
      case 0:
        cmd = "OpenAccount";
        snprintf(payload, sizeof payload, "{\"owner\":\"owner %u\"}", r % 7);
        break;
      case 1: case 2: case 3: case 4:
        cmd = "Deposit";
        snprintf(payload, sizeof payload, "{\"amount\":%u}", (r / 70) % 100 + 1);
        break;
      case 5: case 6: case 7: case 8:
        cmd = "Withdraw";
        snprintf(payload, sizeof payload, "{\"amount\":%u}", (r / 70) % 150 + 1);
        break;
      default:
        cmd = "CloseAccount";
        snprintf(payload, sizeof payload, "{}");
    }
    sqlite3_bind_text(st, 1, id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, cmd, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, payload, -1, SQLITE_TRANSIENT);
    if (sqlite3_step(st) != SQLITE_ROW) fail_msg("es_try_submit raised: %s", sqlite3_errmsg(db));
    ok += sqlite3_column_int(st, 0);
    sqlite3_reset(st);
  }
  sqlite3_finalize(st);
  assert_true(ok > n / 4);     /* a real mix: */
  assert_true(ok < n - n / 10); /* accepted and rejected */
}

static void test_rebuild_and_fold_from_scratch(void **state) {
  fx *f = *state;
  vuser *u = new_user();
  load_bank_views(f->db);
  register_view(f->db, &picky_view, u);
  random_commands(f->db, 400, 7);
  sqlite3_int64 events = sdb_int(f->db, "SELECT count(*) FROM es_events");
  sqlite3_int64 deposits = sdb_int(f->db, "SELECT count(*) FROM es_events WHERE type = 'Deposited'");
  assert_int_equal(u->folds, deposits); /* picky's fold ran for its type only */

  /* Every view equals the fold of the whole log. */
  char *balances = sdb_rows(f->db, BALANCES), *history = sdb_rows(f->db, HISTORY);
  char *picky = sdb_rows(f->db, "SELECT * FROM picky ORDER BY position");
  sdb_rows_are(f->db, BALANCES_FROM_LOG, balances);
  sdb_rows_are(f->db, HISTORY_FROM_LOG, history);
  sdb_rows_are(f->db, "SELECT position, data ->> 'amount' FROM es_events WHERE type = 'Deposited' ORDER BY position",
               picky);

  /* es_rebuild: the number of events applied, and the same rows. */
  assert_int_equal(sdb_int(f->db, "SELECT es_rebuild('account_balances')"), events);
  assert_int_equal(sdb_int(f->db, "SELECT es_rebuild('account_history')"), events);
  assert_int_equal(sdb_int(f->db, "SELECT es_rebuild('picky')"), deposits);
  assert_int_equal(u->folds, 2 * deposits);
  sdb_rows_are(f->db, BALANCES, balances);
  sdb_rows_are(f->db, HISTORY, history);
  sdb_rows_are(f->db, "SELECT * FROM picky ORDER BY position", picky);
  sdb_exec_fails(f->db, "SELECT es_rebuild('nope')", SQLITE_ERROR,
                 "es: unknown_view: no view named 'nope' in this database");
  /* Inside the caller's transaction, rolled back with it. */
  sdb_exec(f->db, "BEGIN");
  assert_int_equal(sdb_int(f->db, "SELECT es_rebuild('picky')"), deposits);
  sdb_exec(f->db, "ROLLBACK");
  sdb_rows_are(f->db, "SELECT * FROM picky ORDER BY position", picky);

  /* The same commands on a database without views, then the views defined: the same tables. */
  char *path = sdb_join(f->dir, "later.db");
  sqlite3 *later = sdb_open_with(path, SDB_ES | SDB_BANK | SDB_WAL, 0);
  random_commands(later, 400, 7);
  load_bank_views(later);
  vuser *u2 = new_user();
  register_view(later, &picky_view, u2);
  sdb_rows_are(later, BALANCES, balances);
  sdb_rows_are(later, HISTORY, history);
  sdb_rows_are(later, "SELECT * FROM picky ORDER BY position", picky);
  sdb_close(later);
  free(path);
  free(balances);
  free(history);
  free(picky);
}

static void test_projections(void **state) {
  fx *f = *state;
  vuser *u = new_user();
  load_bank_views(f->db);
  register_view(f->db, &picky_view, u);
  assert_int_equal(sdb_int(f->db, OPEN("a1", "alice")), 1);
  sdb_rows_are(f->db, PROJECTIONS, "account_balances|account_balances|c|1|0\n"
                                   "account_history|account_history|c|1|0\n"
                                   "picky|picky|c|1|0\n"); /* at the end of the log, though picky saw nothing */
  assert_int_equal(sdb_int(f->db, DEPOSIT("a1", 10)), 2);
  assert_int_equal(sdb_int(f->db, WITHDRAW("a1", 3)), 3);
  sdb_rows_are(f->db, PROJECTIONS, "account_balances|account_balances|c|3|0\n"
                                   "account_history|account_history|c|3|0\n"
                                   "picky|picky|c|3|0\n");
  sdb_exec_fails(f->db, "INSERT INTO es_projections VALUES ('x', 'x', 'c', 0, 0)", SQLITE_ERROR,
                 "cannot modify es_projections because it is a view");

  /* An event appended behind sqlite-es's back (guard dropped, no extension): the views lag. */
  sqlite3 *plain = sdb_open_with(f->path, 0, 0);
  sdb_exec(plain, "DROP TRIGGER es_events_insert_guard;"
                  "INSERT INTO es_events(aggregate_type, aggregate_id, version, type, data, recorded_at)"
                  " VALUES ('account', 'a1', 4, 'Deposited', '{\"amount\":1000}', '2020-01-01T00:00:00.000Z')");
  sdb_rows_are(plain, PROJECTIONS, "account_balances|account_balances|c|3|1\n"
                                   "account_history|account_history|c|3|1\n"
                                   "picky|picky|c|3|1\n");
  sdb_close(plain);
  sdb_rows_are(f->db, PROJECTIONS, "account_balances|account_balances|c|3|1\n"
                                   "account_history|account_history|c|3|1\n"
                                   "picky|picky|c|3|1\n");
  /* The guard restored, the next command is refused: the event bypassed every decision. The views
  ** stay where they were; es_integrity_check names both. */
  assert_int_equal(sdb_int(f->db, "SELECT es_protect()"), 1);
  sdb_exec_fails(f->db, DEPOSIT("a1", 1), SQLITE_CONSTRAINT_TRIGGER,
                 "es: protected: es_events holds events that sqlite-es did not append (position 4, after the last it"
                 " gave, 3): they bypassed every aggregate's decision: restore the database from a backup (SELECT *"
                 " FROM es_integrity_check lists the damage)");
  sdb_rows_are(f->db, PROJECTIONS, "account_balances|account_balances|c|3|1\n"
                                   "account_history|account_history|c|3|1\n"
                                   "picky|picky|c|3|1\n");
  sdb_rows_are(f->db, "SELECT kind, problem FROM es_integrity_check WHERE kind <> 'view'",
               "positions|es_events holds position 4, which sqlite-es never gave (the last it gave is 3): events were"
               " appended behind its back\n");
}

/* ----------------------- test list ----------------------- */

int main(void) {
  const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, sdb_teardown)
      T(test_register_builds_existing_events),
      T(test_register_before_any_event),
      T(test_same_transaction),
      T(test_failing_fold_changes_nothing),
      T(test_failing_registration),
      T(test_refused_view_definitions),
      T(test_reserved_names_any_case),
      T(test_unregister),
      T(test_connection_without_the_view),
      T(test_writer_end_to_end),
      T(test_upsert_key_only),
      T(test_without_rowid_table),
      T(test_cache_never_finalizes_a_running_statement),
      T(test_view_tables_refuse_sql_writes),
      T(test_plain_close_after_views),
      T(test_rebuild_and_fold_from_scratch),
      T(test_projections),
#undef T
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
