/*
** test_transactions.c — es_submit / es_try_submit in every calling context, against a real
** SQLite file (WAL) with the static variant of sqlite-es and the bank example (DESIGN §6):
** autocommit (committed at once), inside the caller's BEGIN (kept by COMMIT, gone by ROLLBACK,
** storage included), inside the caller's savepoints (ROLLBACK TO / RELEASE, never touched by the
** call), over the rows of a SELECT, from triggers and writing statements (refused before writing),
** rejected and late-failing commands (nothing kept, the caller's transaction still usable),
** last_insert_rowid, extended error codes, and the write lock (busy_timeout honoured).
*/
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "support_db.h"

/* ----------------------- fixture ----------------------- */

typedef sdb_fx fx; /* support_db.h: sdb_setup makes it (dir, path, db), sdb_teardown removes it */

static void assert_no_transaction(sqlite3 *db) {
  assert_int_equal(sqlite3_get_autocommit(db), 1);
  assert_int_equal(sqlite3_txn_state(db, "main"), SQLITE_TXN_NONE);
  assert_int_equal(sqlite3_txn_state(db, 0), SQLITE_TXN_NONE);
}

#define OPEN_ACC1 "SELECT es_submit('account', 'acc-1', 'OpenAccount', '{\"owner\":\"ada\"}')"
#define DEPOSIT_ACC1(n) "SELECT es_submit('account', 'acc-1', 'Deposit', '{\"amount\":" #n "}')"
#define WITHDRAW_ACC1(n) "SELECT es_submit('account', 'acc-1', 'Withdraw', '{\"amount\":" #n "}')"
#define VERSION_ACC1 "SELECT es_stream_version('account', 'acc-1')"
#define LOG "SELECT position, aggregate_type, aggregate_id, version, type, data FROM es_events ORDER BY position"

static const char misuse_submit[] =
    "es: misuse: es_submit cannot be atomic inside a statement that writes (INSERT \xE2\x80\xA6 SELECT, UPDATE \xE2\x80\xA6"
    " SET, a trigger): call it from a plain SELECT";
static const char misuse_try_submit[] =
    "es: misuse: es_try_submit cannot be atomic inside a statement that writes (INSERT \xE2\x80\xA6 SELECT, UPDATE"
    " \xE2\x80\xA6 SET, a trigger): call it from a plain SELECT";
static const char insufficient_500[] = "es: rejected (insufficient_funds): balance 100 is less than 500";

/* ----------------------- autocommit ----------------------- */

/* In autocommit the call is its own transaction: committed when it returns, nothing left open. */
static void test_autocommit_commits_at_once(void **state) {
  fx *f = *state;
  assert_int_equal(sdb_int(f->db, OPEN_ACC1), 1);
  assert_no_transaction(f->db);
  sdb_rows_are(sdb_second(f), LOG, "1|account|acc-1|1|AccountOpened|{\"owner\":\"ada\"}\n");

  /* Committed before the caller even finishes its statement. */
  sqlite3_stmt *st = 0;
  assert_int_equal(sqlite3_prepare_v2(f->db, DEPOSIT_ACC1(100), -1, &st, 0), SQLITE_OK);
  assert_int_equal(sqlite3_step(st), SQLITE_ROW);
  assert_int_equal(sqlite3_column_int64(st, 0), 2);
  assert_int_equal(sdb_int(f->db2, "SELECT count(*) FROM es_events"), 2);
  assert_int_equal(sqlite3_step(st), SQLITE_DONE);
  sqlite3_finalize(st);
  assert_no_transaction(f->db);

  /* A failing call in autocommit leaves no transaction either. */
  sdb_exec_fails(f->db, WITHDRAW_ACC1(500), SQLITE_CONSTRAINT_FUNCTION, insufficient_500);
  assert_no_transaction(f->db);
  sdb_text_is(f->db, "SELECT es_try_submit('account', 'acc-1', 'Deposit', '{\"amount\":1}')",
              "{\"ok\":true,\"version\":3,\"position\":3,\"events\":1}");
  assert_no_transaction(f->db);
  assert_int_equal(sdb_int(f->db2, VERSION_ACC1), 3);
}

/* ----------------------- the caller's BEGIN ----------------------- */

static void test_begin_commit_keeps(void **state) {
  fx *f = *state;
  sqlite3 *other = sdb_second(f);
  sdb_exec(f->db, "BEGIN");
  assert_int_equal(sdb_int(f->db, OPEN_ACC1), 1);
  assert_int_equal(sdb_int(f->db, DEPOSIT_ACC1(100)), 2);
  assert_int_equal(sqlite3_get_autocommit(f->db), 0);
  assert_int_equal(sqlite3_txn_state(f->db, "main"), SQLITE_TXN_WRITE);
  /* Nothing is visible elsewhere until the caller commits: not even the storage. */
  assert_int_equal(sdb_es_objects(other), 0);
  sdb_exec(f->db, "COMMIT");
  assert_no_transaction(f->db);
  sdb_rows_are(other, LOG,
               "1|account|acc-1|1|AccountOpened|{\"owner\":\"ada\"}\n"
               "2|account|acc-1|2|Deposited|{\"amount\":100}\n");
}

/* ROLLBACK of the caller's transaction undoes the commands, and the storage their first one made. */
static void test_begin_rollback_removes_everything(void **state) {
  fx *f = *state;
  sdb_exec(f->db, "CREATE TABLE t(x); INSERT INTO t VALUES (1)");
  char *before = sdb_dump(f->db);
  sdb_exec(f->db, "BEGIN; INSERT INTO t VALUES (2)");
  assert_int_equal(sdb_int(f->db, OPEN_ACC1), 1);
  assert_int_equal(sdb_int(f->db, DEPOSIT_ACC1(100)), 2);
  assert_int_equal(sdb_int(f->db, VERSION_ACC1), 2);
  assert_int_equal(sdb_es_objects(f->db), 21); /* 4 tables, 2 indexes, 15 triggers */
  sdb_exec(f->db, "ROLLBACK");
  assert_no_transaction(f->db);
  sdb_dump_is(f->db, before);
  assert_int_equal(sdb_es_objects(f->db), 0);

  /* The connection notices its storage is gone and starts again from nothing. */
  assert_int_equal(sdb_int(f->db, VERSION_ACC1), 0);
  sdb_text_is(f->db, "SELECT es_state('account', 'acc-1')", "{\"status\":\"none\",\"balance\":0}");
  assert_int_equal(sdb_int(f->db, OPEN_ACC1), 1);
  sdb_rows_are(sdb_second(f), LOG, "1|account|acc-1|1|AccountOpened|{\"owner\":\"ada\"}\n");
  free(before);
}

/* With the storage already there, ROLLBACK removes only the rolled-back events; positions stay gapless. */
static void test_begin_rollback_with_existing_storage(void **state) {
  fx *f = *state;
  assert_int_equal(sdb_int(f->db, OPEN_ACC1), 1);
  char *before = sdb_dump(f->db);
  sdb_exec(f->db, "BEGIN");
  assert_int_equal(sdb_int(f->db, DEPOSIT_ACC1(100)), 2);
  assert_int_equal(sdb_int(f->db, DEPOSIT_ACC1(50)), 3);
  sdb_exec(f->db, "ROLLBACK");
  sdb_dump_is(f->db, before);
  assert_int_equal(sdb_int(f->db, DEPOSIT_ACC1(7)), 2);
  sdb_rows_are(sdb_second(f), LOG,
               "1|account|acc-1|1|AccountOpened|{\"owner\":\"ada\"}\n"
               "2|account|acc-1|2|Deposited|{\"amount\":7}\n");
  free(before);
}

/* ----------------------- the caller's savepoints ----------------------- */

static void test_savepoint_rollback_to(void **state) {
  fx *f = *state;
  char *before = sdb_dump(f->db);

  /* A savepoint outside BEGIN is the transaction itself. */
  sdb_exec(f->db, "SAVEPOINT sp");
  assert_int_equal(sdb_int(f->db, OPEN_ACC1), 1);
  assert_int_equal(sqlite3_get_autocommit(f->db), 0);
  sdb_exec(f->db, "ROLLBACK TO sp");
  assert_int_equal(sdb_int(f->db, VERSION_ACC1), 0);
  sdb_exec(f->db, "RELEASE sp");
  assert_no_transaction(f->db);
  sdb_dump_is(f->db, before);

  /* Nested in BEGIN: only what follows the savepoint goes. */
  sdb_exec(f->db, "BEGIN");
  assert_int_equal(sdb_int(f->db, OPEN_ACC1), 1);
  sdb_exec(f->db, "SAVEPOINT sp");
  assert_int_equal(sdb_int(f->db, DEPOSIT_ACC1(100)), 2);
  sdb_exec(f->db, "ROLLBACK TO sp; RELEASE sp");
  assert_int_equal(sdb_int(f->db, VERSION_ACC1), 1);
  assert_int_equal(sqlite3_get_autocommit(f->db), 0);
  sdb_exec(f->db, "COMMIT");
  sdb_rows_are(sdb_second(f), LOG, "1|account|acc-1|1|AccountOpened|{\"owner\":\"ada\"}\n");
  free(before);
}

static void test_savepoint_release_keeps(void **state) {
  fx *f = *state;
  sqlite3 *other = sdb_second(f);
  sdb_exec(f->db, "SAVEPOINT sp");
  assert_int_equal(sdb_int(f->db, OPEN_ACC1), 1);
  assert_int_equal(sdb_int(f->db, DEPOSIT_ACC1(100)), 2);
  assert_int_equal(sqlite3_get_autocommit(f->db), 0);
  assert_int_equal(sdb_es_objects(other), 0);
  sdb_exec(f->db, "RELEASE sp");
  assert_no_transaction(f->db);
  assert_int_equal(sdb_int(other, VERSION_ACC1), 2);

  /* Released into an enclosing BEGIN: kept by its COMMIT. */
  sdb_exec(f->db, "BEGIN; SAVEPOINT a");
  assert_int_equal(sdb_int(f->db, DEPOSIT_ACC1(5)), 3);
  sdb_exec(f->db, "RELEASE a");
  assert_int_equal(sqlite3_get_autocommit(f->db), 0);
  assert_int_equal(sdb_int(other, VERSION_ACC1), 2);
  sdb_exec(f->db, "COMMIT");
  assert_int_equal(sdb_int(other, VERSION_ACC1), 3);
}

/* The call never releases, rolls back or commits anything of the caller's, whatever it returns. */
static void test_caller_savepoints_untouched(void **state) {
  fx *f = *state;
  sdb_exec(f->db, "CREATE TABLE t(x)");
  char *before = sdb_dump(f->db);
  sdb_exec(f->db, "BEGIN; INSERT INTO t VALUES ('before a'); SAVEPOINT a; SAVEPOINT b");
  assert_int_equal(sdb_int(f->db, OPEN_ACC1), 1);
  assert_int_equal(sqlite3_get_autocommit(f->db), 0);
  sdb_exec_fails(f->db, WITHDRAW_ACC1(5), SQLITE_CONSTRAINT_FUNCTION,
                 "es: rejected (insufficient_funds): balance 0 is less than 5");
  sdb_exec_fails(f->db, "SELECT es_submit('account', 'acc-1', 'Nope')", SQLITE_ERROR,
                 "es: unknown_command: aggregate type 'account' has no command 'Nope'");
  assert_int_equal(sqlite3_get_autocommit(f->db), 0);
  assert_int_equal(sdb_int(f->db, "SELECT es_try_submit('account', 'acc-1', 'Withdraw', '{\"amount\":5}') ->> 'ok'"),
                   0);
  sdb_exec(f->db, "RELEASE b"); /* still there: "no such savepoint: b" if the call had released it */
  assert_int_equal(sdb_int(f->db, DEPOSIT_ACC1(10)), 2);
  sdb_exec(f->db, "ROLLBACK TO a");
  assert_int_equal(sdb_int(f->db, VERSION_ACC1), 0);
  sdb_rows_are(f->db, "SELECT x FROM t", "before a\n");
  assert_int_equal(sdb_int(f->db, OPEN_ACC1), 1);
  assert_int_equal(sqlite3_get_autocommit(f->db), 0);
  sdb_exec(f->db, "ROLLBACK");
  assert_no_transaction(f->db);
  sdb_dump_is(f->db, before);

  /* Even a caller's savepoint with the extension's own savepoint name is left alone. */
  sdb_exec(f->db, "BEGIN; SAVEPOINT es_call; INSERT INTO t VALUES ('in es_call')");
  assert_int_equal(sdb_int(f->db, OPEN_ACC1), 1);
  sdb_exec_fails(f->db, WITHDRAW_ACC1(5), SQLITE_CONSTRAINT_FUNCTION,
                 "es: rejected (insufficient_funds): balance 0 is less than 5");
  assert_int_equal(sdb_int(f->db, DEPOSIT_ACC1(10)), 2);
  sdb_exec(f->db, "ROLLBACK TO es_call");
  assert_int_equal(sdb_int(f->db, VERSION_ACC1), 0);
  sdb_exec(f->db, "RELEASE es_call");
  assert_int_equal(sqlite3_get_autocommit(f->db), 0);
  sdb_exec(f->db, "COMMIT");
  sdb_dump_is(f->db, before);
  free(before);
}

/* ----------------------- over the rows of a SELECT ----------------------- */

static void make_inbox(sqlite3 *db) {
  sdb_exec(db,
           "CREATE TABLE inbox(id INTEGER PRIMARY KEY, aid TEXT, cmd TEXT, payload TEXT);"
           "INSERT INTO inbox VALUES"
           " (1, 'acc-1', 'OpenAccount', '{\"owner\":\"ada\"}'),"
           " (2, 'acc-2', 'OpenAccount', '{\"owner\":\"bob\"}'),"
           " (3, 'acc-1', 'Deposit', '{\"amount\":10}'),"
           " (4, 'acc-1', 'Deposit', '{\"amount\":5}'),"
           " (5, 'acc-2', 'Deposit', '{\"amount\":7}')");
}

static const char inbox_log[] =
    "1|account|acc-1|1|AccountOpened|{\"owner\":\"ada\"}\n"
    "2|account|acc-2|1|AccountOpened|{\"owner\":\"bob\"}\n"
    "3|account|acc-1|2|Deposited|{\"amount\":10}\n"
    "4|account|acc-1|3|Deposited|{\"amount\":5}\n"
    "5|account|acc-2|2|Deposited|{\"amount\":7}\n";

/* Each row is its own command, applied in row order, in autocommit too. */
static void test_select_from_table_autocommit(void **state) {
  fx *f = *state;
  make_inbox(f->db);
  sdb_rows_are(f->db, "SELECT id, es_submit('account', aid, cmd, payload) FROM inbox ORDER BY id",
               "1|1\n2|1\n3|2\n4|3\n5|2\n");
  assert_no_transaction(f->db);
  sdb_rows_are(sdb_second(f), LOG, inbox_log);
  sdb_text_is(f->db, "SELECT es_state('account', 'acc-1')", "{\"status\":\"open\",\"owner\":\"ada\",\"balance\":15}");
}

/* The documented batch form: inside the application's BEGIN IMMEDIATE. */
static void test_select_from_table_in_transaction(void **state) {
  fx *f = *state;
  make_inbox(f->db);
  sdb_exec(f->db, "BEGIN IMMEDIATE");
  sdb_rows_are(f->db, "SELECT id, es_try_submit('account', aid, cmd, payload) FROM inbox ORDER BY id",
               "1|{\"ok\":true,\"version\":1,\"position\":1,\"events\":1}\n"
               "2|{\"ok\":true,\"version\":1,\"position\":2,\"events\":1}\n"
               "3|{\"ok\":true,\"version\":2,\"position\":3,\"events\":1}\n"
               "4|{\"ok\":true,\"version\":3,\"position\":4,\"events\":1}\n"
               "5|{\"ok\":true,\"version\":2,\"position\":5,\"events\":1}\n");
  assert_int_equal(sdb_es_objects(sdb_second(f)), 0);
  sdb_exec(f->db, "COMMIT");
  sdb_rows_are(f->db2, LOG, inbox_log);
}

/* es_try_submit over rows: a rejected row is reported and skipped, the others are kept. */
static void test_try_submit_rows_with_rejection(void **state) {
  fx *f = *state;
  sdb_exec(f->db,
           "CREATE TABLE inbox(id INTEGER PRIMARY KEY, cmd TEXT, payload TEXT);"
           "INSERT INTO inbox VALUES (1, 'OpenAccount', '{\"owner\":\"ada\"}'), (2, 'Withdraw', '{\"amount\":500}'),"
           " (3, 'Deposit', '{\"amount\":10}'), (4, 'Deposit', '{\"amount\":\"ten\"}'), (5, 'Withdraw', '{\"amount\":4}')");
  sdb_rows_are(f->db, "SELECT id, es_try_submit('account', 'acc-1', cmd, payload) FROM inbox ORDER BY id",
               "1|{\"ok\":true,\"version\":1,\"position\":1,\"events\":1}\n"
               "2|{\"ok\":false,\"error\":\"rejected\",\"reason\":\"insufficient_funds\",\"message\":\"balance 0 is less"
               " than 500\"}\n"
               "3|{\"ok\":true,\"version\":2,\"position\":2,\"events\":1}\n"
               "4|{\"ok\":false,\"error\":\"invalid_payload\",\"reason\":null,\"message\":\"payload field 'amount' must"
               " be an integer, got string\"}\n"
               "5|{\"ok\":true,\"version\":3,\"position\":3,\"events\":1}\n");
  assert_no_transaction(f->db);
  sdb_rows_are(sdb_second(f), LOG,
               "1|account|acc-1|1|AccountOpened|{\"owner\":\"ada\"}\n"
               "2|account|acc-1|2|Deposited|{\"amount\":10}\n"
               "3|account|acc-1|3|Withdrawn|{\"amount\":4}\n");
}

/* ----------------------- refused contexts ----------------------- */

/* Triggers cannot call the writers at all (SQLITE_DIRECTONLY), so nothing is written. */
static void test_trigger_refused(void **state) {
  fx *f = *state;
  sdb_exec(f->db,
           "CREATE TABLE t(x);"
           "CREATE TRIGGER t_submit AFTER INSERT ON t BEGIN"
           " SELECT es_submit('account', 'acc-1', 'OpenAccount', '{\"owner\":\"ada\"}'); END;"
           "CREATE TABLE u(x); INSERT INTO u VALUES (1);"
           "CREATE TRIGGER u_try BEFORE UPDATE ON u BEGIN"
           " SELECT es_try_submit('account', 'acc-1', 'OpenAccount', '{\"owner\":\"ada\"}'); END;");
  char *before = sdb_dump(f->db);
  sdb_exec_fails(f->db, "INSERT INTO t VALUES (1)", SQLITE_ERROR, "unsafe use of es_submit()");
  sdb_exec_fails(f->db, "UPDATE u SET x = 2", SQLITE_ERROR, "unsafe use of es_try_submit()");
  assert_no_transaction(f->db);
  sdb_dump_is(f->db, before);

  /* Inside the caller's transaction: refused the same way, the transaction stays open. */
  sdb_exec(f->db, "BEGIN");
  sdb_exec_fails(f->db, "INSERT INTO t VALUES (1)", SQLITE_ERROR, "unsafe use of es_submit()");
  assert_int_equal(sqlite3_get_autocommit(f->db), 0);
  sdb_exec(f->db, "COMMIT");
  sdb_dump_is(f->db, before);

  /* With the storage already there. */
  assert_int_equal(sdb_int(f->db, OPEN_ACC1), 1);
  free(before);
  before = sdb_dump(f->db);
  sdb_exec_fails(f->db, "INSERT INTO t VALUES (1)", SQLITE_ERROR, "unsafe use of es_submit()");
  sdb_dump_is(f->db, before);
  free(before);
}

/* A writing statement cannot contain the call: misuse, before anything is written. */
static void test_writing_statement_misuse(void **state) {
  fx *f = *state;
  sdb_exec(f->db, "CREATE TABLE t(x)");
  char *before = sdb_dump(f->db);
  /* No storage yet: none is created. */
  sdb_exec_fails(f->db, "INSERT INTO t SELECT es_submit('account', 'acc-1', 'OpenAccount', '{\"owner\":\"ada\"}')",
                 SQLITE_MISUSE, misuse_submit);
  sdb_dump_is(f->db, before);
  assert_no_transaction(f->db);
  free(before);

  assert_int_equal(sdb_int(f->db, OPEN_ACC1), 1);
  sdb_exec(f->db, "INSERT INTO t VALUES (0)");
  before = sdb_dump(f->db);
  const char *submit_in[] = {
      "INSERT INTO t SELECT es_submit('account', 'acc-1', 'Deposit', '{\"amount\":1}')",
      "INSERT INTO t VALUES (es_submit('account', 'acc-1', 'Deposit', '{\"amount\":1}'))",
      "UPDATE t SET x = es_submit('account', 'acc-1', 'Deposit', '{\"amount\":1}')",
      "DELETE FROM t WHERE x = es_submit('account', 'acc-1', 'Deposit', '{\"amount\":1}')",
      "WITH c(v) AS (SELECT es_submit('account', 'acc-1', 'Deposit', '{\"amount\":1}')) INSERT INTO t SELECT v FROM c",
      "INSERT INTO t SELECT es_submit('account', 'acc-1', 'Withdraw', '{\"amount\":1000}')", /* would be rejected */
  };
  for (size_t i = 0; i < sizeof(submit_in) / sizeof(*submit_in); i++) {
    sdb_exec_fails(f->db, submit_in[i], SQLITE_MISUSE, misuse_submit);
    assert_no_transaction(f->db);
    sdb_dump_is(f->db, before);
  }
  sdb_exec_fails(f->db, "UPDATE t SET x = es_try_submit('account', 'acc-1', 'Deposit', '{\"amount\":1}')",
                 SQLITE_MISUSE, misuse_try_submit);
  sdb_dump_is(f->db, before);

  /* Inside the caller's transaction: the same refusal, and the transaction goes on. */
  sdb_exec(f->db, "BEGIN; INSERT INTO t VALUES (1)");
  char *mid = sdb_dump(f->db);
  for (size_t i = 0; i < sizeof(submit_in) / sizeof(*submit_in); i++) {
    sdb_exec_fails(f->db, submit_in[i], SQLITE_MISUSE, misuse_submit);
    assert_int_equal(sqlite3_get_autocommit(f->db), 0);
    sdb_dump_is(f->db, mid);
  }
  assert_int_equal(sdb_int(f->db, DEPOSIT_ACC1(3)), 2);
  sdb_exec(f->db, "COMMIT");
  sdb_rows_are(f->db, "SELECT x FROM t ORDER BY x", "0\n1\n");
  assert_int_equal(sdb_int(f->db, VERSION_ACC1), 2);
  free(mid);
  free(before);
}

/* ----------------------- failures leave nothing behind ----------------------- */

typedef struct failing {
  const char *sql;
  int code;
  const char *msg;
} failing;

static const failing failures[] = {
    {WITHDRAW_ACC1(500), SQLITE_CONSTRAINT_FUNCTION, insufficient_500},
    {OPEN_ACC1, SQLITE_CONSTRAINT_FUNCTION, "es: rejected (already_open): account acc-1 is already open"},
    {DEPOSIT_ACC1(0), SQLITE_CONSTRAINT_FUNCTION, "es: rejected (invalid_amount): amount must be positive, got 0"},
    {"SELECT es_submit('account', 'acc-1', 'Deposit', '{\"amount\":1}', '{\"expected_version\":7}')", SQLITE_CONSTRAINT,
     "es: conflict: expected version 7 of account 'acc-1', actual 2"},
    {"SELECT es_submit('account', 'acc-1', 'Deposit', '{\"amount\":1}', '{\"expected_version\":\"no_stream\"}')",
     SQLITE_CONSTRAINT, "es: conflict: expected no stream for account 'acc-1', actual version 2"},
    {"SELECT es_submit('account', 'acc-1', 'Deposit', '{\"amount\":\"x\"}')", SQLITE_MISMATCH,
     "es: invalid_payload: payload field 'amount' must be an integer, got string"},
    {"SELECT es_submit('account', 'acc-1', 'Deposit', '[1]')", SQLITE_MISMATCH,
     "es: invalid_payload: payload must be a JSON object, got array"},
    {"SELECT es_submit('account', 'acc-9', 'Deposit', '{\"amount\":1}')", SQLITE_CONSTRAINT_FUNCTION,
     "es: rejected (not_open): the account is not open"},
    {"SELECT es_submit('nope', 'acc-1', 'Deposit')", SQLITE_ERROR,
     "es: unknown_aggregate: no aggregate type 'nope' is registered on this connection"},
    {"SELECT es_submit('account', 'acc-1', 'Nope')", SQLITE_ERROR,
     "es: unknown_command: aggregate type 'account' has no command 'Nope'"},
    {"SELECT es_submit('account', 'acc-1', 'Withdraw', '{\"amount\":1}', '{\"command_id\":\"c1\"}')", SQLITE_ERROR,
     "es: invalid_argument: command_id 'c1' was already used by command 'Deposit' on account 'acc-1'"},
    {"SELECT es_submit('account', 'acc-1', 'Deposit', '{\"amount\":1}', '{\"bogus\":1}')", SQLITE_ERROR,
     "es: invalid_argument: unknown option 'bogus' (known: expected_version, command_id, metadata)"},
    {"SELECT es_submit('account', NULL, 'Deposit')", SQLITE_ERROR,
     "es: invalid_argument: aggregate_id must be text, got null"},
};

/* Every failed command leaves the database byte-for-byte as it was (compared as a full dump). */
static void test_failures_leave_dump_identical(void **state) {
  fx *f = *state;
  sdb_exec(f->db, "CREATE TABLE t(x); INSERT INTO t VALUES ('user data')");
  char *fresh = sdb_dump(f->db);
  /* A rejected first command does not even create the storage. */
  sdb_exec_fails(f->db, WITHDRAW_ACC1(5), SQLITE_CONSTRAINT_FUNCTION, "es: rejected (not_open): the account is not open");
  sdb_dump_is(f->db, fresh);
  free(fresh);

  assert_int_equal(sdb_int(f->db, OPEN_ACC1), 1);
  assert_int_equal(sdb_int(f->db, "SELECT es_submit('account', 'acc-1', 'Deposit', '{\"amount\":100}',"
                                  " '{\"command_id\":\"c1\",\"metadata\":{\"user\":\"u1\"}}')"),
                   2);
  char *before = sdb_dump(f->db);
  for (size_t i = 0; i < sizeof(failures) / sizeof(*failures); i++) {
    sdb_exec_fails(f->db, failures[i].sql, failures[i].code, failures[i].msg);
    assert_no_transaction(f->db);
    sdb_dump_is(f->db, before);
  }
  /* The same inside the caller's transaction, which stays open and usable. */
  sdb_exec(f->db, "BEGIN; INSERT INTO t VALUES ('in transaction')");
  char *mid = sdb_dump(f->db);
  for (size_t i = 0; i < sizeof(failures) / sizeof(*failures); i++) {
    sdb_exec_fails(f->db, failures[i].sql, failures[i].code, failures[i].msg);
    assert_int_equal(sqlite3_get_autocommit(f->db), 0);
    sdb_dump_is(f->db, mid);
  }
  sdb_exec(f->db, "COMMIT");
  sdb_dump_is(f->db, mid);
  free(mid);
  free(before);
}

/* The exact codes through sqlite3_step on a prepared statement (what drivers see). */
static void test_extended_error_codes(void **state) {
  fx *f = *state;
  assert_int_equal(sdb_int(f->db, OPEN_ACC1), 1);
  static const struct {
    const char *sql;
    int code;
    const char *msg;
  } cases[] = {
      {WITHDRAW_ACC1(5), SQLITE_CONSTRAINT_FUNCTION, "es: rejected (insufficient_funds): balance 0 is less than 5"},
      {"SELECT es_submit('account', 'acc-1', 'Deposit', '{\"amount\":1}', '{\"expected_version\":0}')",
       SQLITE_CONSTRAINT, "es: conflict: expected version 0 of account 'acc-1', actual 1"},
      {"SELECT es_submit('account', 'acc-1', 'Deposit', '{\"amount\":1.5}')", SQLITE_MISMATCH,
       "es: invalid_payload: payload field 'amount' must be an integer, got 1.5"},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
    sqlite3_stmt *st = 0;
    assert_int_equal(sqlite3_prepare_v2(f->db, cases[i].sql, -1, &st, 0), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), cases[i].code);
    assert_int_equal(sqlite3_errcode(f->db), cases[i].code); /* extended codes are on */
    assert_int_equal(sqlite3_extended_errcode(f->db), cases[i].code);
    assert_string_equal(sqlite3_errmsg(f->db), cases[i].msg);
    assert_int_equal(sqlite3_finalize(st), cases[i].code);
  }
  /* es_try_submit reports the same outcomes as JSON, without raising. */
  sdb_text_is(f->db, "SELECT es_try_submit('account', 'acc-1', 'Deposit', '{\"amount\":1}', '{\"expected_version\":0}')",
              "{\"ok\":false,\"error\":\"conflict\",\"reason\":null,\"message\":\"expected version 0 of account 'acc-1',"
              " actual 1\"}");
  assert_int_equal(sdb_int(f->db, VERSION_ACC1), 1);
}

/* A failure after events were appended (here: a user trigger on es_commands) undoes them too. */
static void test_late_failure_rolls_back(void **state) {
  fx *f = *state;
  sdb_exec(f->db, "CREATE TABLE t(x)");
  assert_int_equal(sdb_int(f->db, OPEN_ACC1), 1);
  sdb_exec(f->db, "CREATE TRIGGER boom BEFORE INSERT ON es_commands BEGIN SELECT RAISE(ABORT, 'boom'); END");
  const char *with_id = "SELECT es_submit('account', 'acc-1', 'Deposit', '{\"amount\":100}', '{\"command_id\":\"c1\"}')";
  const char *late_msg = "es: storage: recording the command_id: boom (1811)";
  char *before = sdb_dump(f->db);
  sdb_exec_fails(f->db, with_id, SQLITE_CONSTRAINT_TRIGGER, late_msg);
  assert_no_transaction(f->db);
  sdb_dump_is(f->db, before);
  free(before);

  /* Inside the caller's transaction: the command is undone, the caller's work is not. */
  sdb_exec(f->db, "BEGIN; INSERT INTO t VALUES (1)");
  assert_int_equal(sdb_int(f->db, DEPOSIT_ACC1(10)), 2);
  char *mid = sdb_dump(f->db);
  sdb_exec_fails(f->db, with_id, SQLITE_CONSTRAINT_TRIGGER, late_msg);
  assert_int_equal(sqlite3_get_autocommit(f->db), 0);
  sdb_dump_is(f->db, mid);
  /* es_try_submit raises for storage failures: they are not outcomes of the command. */
  sdb_exec_fails(f->db,
                 "SELECT es_try_submit('account', 'acc-1', 'Deposit', '{\"amount\":100}', '{\"command_id\":\"c2\"}')",
                 SQLITE_CONSTRAINT_TRIGGER, late_msg);
  assert_int_equal(sqlite3_get_autocommit(f->db), 0);
  sdb_dump_is(f->db, mid);
  assert_int_equal(sdb_int(f->db, DEPOSIT_ACC1(5)), 3); /* the caller's transaction is still usable */
  sdb_exec(f->db, "COMMIT");
  sqlite3 *other = sdb_second(f);
  sdb_rows_are(other, "SELECT position, version, type, data, command_id FROM es_events ORDER BY position",
               "1|1|AccountOpened|{\"owner\":\"ada\"}|NULL\n"
               "2|2|Deposited|{\"amount\":10}|NULL\n"
               "3|3|Deposited|{\"amount\":5}|NULL\n");
  sdb_rows_are(other, "SELECT x FROM t", "1\n");
  assert_int_equal(sdb_int(other, "SELECT count(*) FROM es_commands"), 0);
  free(mid);
}

/* Disk full while appending (max_page_count): everything of the command is undone. */
static void limit_to_current_size(sqlite3 *db) {
  sqlite3_int64 pages = sdb_int(db, "PRAGMA page_count");
  char sql[128];
  snprintf(sql, sizeof sql, "PRAGMA max_page_count = %lld", (long long)pages);
  assert_int_equal(sdb_int(db, sql), pages);
}

static void test_disk_full_rolls_back(void **state) {
  fx *f = *state;
  sdb_exec(f->db, "CREATE TABLE t(x)");
  /* The first command cannot even create the storage: nothing of it is left. */
  limit_to_current_size(f->db);
  char *fresh = sdb_dump(f->db);
  sdb_exec_fails(f->db, OPEN_ACC1, SQLITE_FULL,
                 "es: storage: creating the sqlite-es storage: database or disk is full (13)");
  assert_no_transaction(f->db);
  sdb_dump_is(f->db, fresh);
  free(fresh);
  sdb_exec(f->db, "PRAGMA max_page_count = 1000000");
  assert_int_equal(sdb_int(f->db, OPEN_ACC1), 1);
  limit_to_current_size(f->db);
  /* Metadata that needs overflow pages the file may not grow to hold. */
  const char *grow =
      "SELECT es_submit('account', 'acc-2', 'OpenAccount', json_object('owner', 'bob'), json_object('metadata',"
      " json_object('blob', printf('%.20000c', 'm'))))";
  char *before = sdb_dump(f->db);
  sdb_exec_fails(f->db, grow, SQLITE_FULL, "es: storage: appending an event: database or disk is full (13)");
  assert_no_transaction(f->db);
  sdb_dump_is(f->db, before);

  /* Inside the caller's transaction. */
  sdb_exec(f->db, "BEGIN; INSERT INTO t VALUES (1)");
  char *mid = sdb_dump(f->db);
  sdb_exec_fails(f->db, grow, SQLITE_FULL, "es: storage: appending an event: database or disk is full (13)");
  assert_int_equal(sqlite3_get_autocommit(f->db), 0);
  sdb_dump_is(f->db, mid);
  assert_int_equal(sdb_int(f->db, DEPOSIT_ACC1(5)), 2);
  sdb_exec(f->db, "COMMIT");
  sdb_rows_are(f->db, "SELECT x FROM t", "1\n");
  assert_int_equal(sdb_int(f->db, VERSION_ACC1), 2);
  assert_int_equal(sdb_int(f->db, "SELECT count(*) FROM es_events"), 2);
  free(mid);
  free(before);
}

/* The caller's last_insert_rowid() is theirs: a submit (or a failed one) never changes it. */
static void test_last_insert_rowid_unchanged(void **state) {
  fx *f = *state;
  sdb_exec(f->db, "CREATE TABLE t(x); INSERT INTO t(rowid, x) VALUES (42, 'a')");
  assert_int_equal(sqlite3_last_insert_rowid(f->db), 42);
  assert_int_equal(sdb_int(f->db, OPEN_ACC1), 1); /* creates the storage too */
  assert_int_equal(sqlite3_last_insert_rowid(f->db), 42);
  assert_int_equal(sdb_int(f->db, "SELECT last_insert_rowid()"), 42);
  assert_int_equal(
      sdb_int(f->db, "SELECT es_submit('account', 'acc-1', 'Deposit', '{\"amount\":100}', '{\"command_id\":\"c1\"}')"),
      2);
  assert_int_equal(sqlite3_last_insert_rowid(f->db), 42);
  sdb_exec_fails(f->db, WITHDRAW_ACC1(500), SQLITE_CONSTRAINT_FUNCTION, insufficient_500);
  assert_int_equal(sqlite3_last_insert_rowid(f->db), 42);
  sdb_exec(f->db, "BEGIN; INSERT INTO t(rowid, x) VALUES (43, 'b')");
  assert_int_equal(sdb_int(f->db, DEPOSIT_ACC1(1)), 3);
  assert_int_equal(sqlite3_last_insert_rowid(f->db), 43);
  sdb_exec(f->db, "CREATE TRIGGER boom BEFORE INSERT ON es_commands BEGIN SELECT RAISE(ABORT, 'boom'); END");
  sdb_exec_fails(f->db, "SELECT es_submit('account', 'acc-1', 'Deposit', '{\"amount\":1}', '{\"command_id\":\"c2\"}')",
                 SQLITE_CONSTRAINT_TRIGGER, "es: storage: recording the command_id: boom (1811)");
  assert_int_equal(sqlite3_last_insert_rowid(f->db), 43);
  sdb_exec(f->db, "COMMIT");
  assert_int_equal(sqlite3_last_insert_rowid(f->db), 43);
}

/* ----------------------- the write lock ----------------------- */

/* Another connection holds the write lock: after busy_timeout, a busy error naming BEGIN IMMEDIATE. */
static void test_busy_with_small_timeout(void **state) {
  fx *f = *state;
  sqlite3 *holder = sdb_second(f);
  assert_int_equal(sdb_int(f->db, OPEN_ACC1), 1);
  sdb_exec(holder, "BEGIN IMMEDIATE");
  sqlite3_busy_timeout(f->db, 10);
  char *before = sdb_dump(f->db);
  sdb_exec_fails(f->db, DEPOSIT_ACC1(1), SQLITE_BUSY, "es: busy: BEGIN IMMEDIATE: database is locked (5)");
  assert_no_transaction(f->db);
  /* busy is not an outcome of the command: es_try_submit raises it too. */
  sdb_exec_fails(f->db, "SELECT es_try_submit('account', 'acc-1', 'Deposit', '{\"amount\":1}')", SQLITE_BUSY,
                 "es: busy: BEGIN IMMEDIATE: database is locked (5)");
  assert_no_transaction(f->db);
  sdb_exec(holder, "COMMIT");
  sdb_dump_is(f->db, before);
  assert_int_equal(sdb_int(f->db, DEPOSIT_ACC1(1)), 2);
  free(before);
}

/*
** To know that the submitting connection is really waiting for the lock (without sleeping to
** guess), it is opened through a VFS that wraps the default one and reports every xSleep: the
** busy handler of busy_timeout sleeps through the VFS between attempts.
*/
static sqlite3_vfs sleep_vfs;
static sqlite3_vfs *base_vfs;
static pthread_mutex_t sleep_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t sleep_cv = PTHREAD_COND_INITIALIZER;
static int sleeps;    /* xSleep calls seen */
static int give_up;   /* the submitting side finished without sleeping */

static int reporting_sleep(sqlite3_vfs *vfs, int micros) {
  (void)vfs;
  pthread_mutex_lock(&sleep_mu);
  sleeps++;
  pthread_cond_broadcast(&sleep_cv);
  pthread_mutex_unlock(&sleep_mu);
  return base_vfs->xSleep(base_vfs, micros);
}

static void register_sleep_vfs(void) {
  if (base_vfs) return;
  base_vfs = sqlite3_vfs_find(0);
  assert_non_null(base_vfs);
  sleep_vfs = *base_vfs;
  sleep_vfs.zName = "es_test_sleep";
  sleep_vfs.xSleep = reporting_sleep;
  assert_int_equal(sqlite3_vfs_register(&sleep_vfs, 0), SQLITE_OK);
}

typedef struct holder_arg {
  sqlite3 *db;
  int rc;
} holder_arg;

/* Commit the held write transaction once the other connection has started waiting for it. */
static void *holder_main(void *p) {
  holder_arg *a = p;
  pthread_mutex_lock(&sleep_mu);
  while (sleeps == 0 && !give_up) pthread_cond_wait(&sleep_cv, &sleep_mu);
  pthread_mutex_unlock(&sleep_mu);
  a->rc = sqlite3_exec(a->db, "INSERT INTO t VALUES ('holder'); COMMIT", 0, 0, 0);
  return 0;
}

/* With a long busy_timeout the call waits for the holder's COMMIT, then succeeds. */
static void test_busy_waits_for_holder(void **state) {
  fx *f = *state;
  register_sleep_vfs();
  sqlite3 *waiter = sdb_open_with(f->path, SDB_ES | SDB_BANK | SDB_WAL, "es_test_sleep");
  sqlite3 *holder = sdb_second(f);
  sdb_exec(f->db, "CREATE TABLE t(x)");
  assert_int_equal(sdb_int(waiter, OPEN_ACC1), 1);
  sqlite3_busy_timeout(waiter, 60000);
  sdb_exec(holder, "BEGIN IMMEDIATE");
  pthread_mutex_lock(&sleep_mu);
  sleeps = 0;
  give_up = 0;
  pthread_mutex_unlock(&sleep_mu);
  holder_arg arg = {holder, -1};
  pthread_t th;
  assert_int_equal(pthread_create(&th, 0, holder_main, &arg), 0);

  sqlite3_stmt *st = 0;
  assert_int_equal(sqlite3_prepare_v2(waiter, DEPOSIT_ACC1(100), -1, &st, 0), SQLITE_OK);
  int rc = sqlite3_step(st);
  sqlite3_int64 version = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
  char msg[512];
  snprintf(msg, sizeof msg, "%s", sqlite3_errmsg(waiter));
  sqlite3_finalize(st);

  pthread_mutex_lock(&sleep_mu);
  give_up = 1;
  pthread_cond_broadcast(&sleep_cv);
  int slept = sleeps;
  pthread_mutex_unlock(&sleep_mu);
  assert_int_equal(pthread_join(th, 0), 0);

  if (rc != SQLITE_ROW) fail_msg("the submit did not wait for the lock (%d): %s", rc, msg);
  assert_int_equal(version, 2);
  assert_true(slept > 0); /* it did wait: the busy handler slept before the holder committed */
  assert_int_equal(arg.rc, SQLITE_OK);
  assert_no_transaction(waiter);
  sdb_rows_are(holder, "SELECT x FROM t", "holder\n");
  assert_int_equal(sdb_int(holder, VERSION_ACC1), 2);
  sdb_close(waiter);
}

/* A batch in autocommit cannot wait for the lock; the error says to use BEGIN IMMEDIATE. */
static void test_busy_in_autocommit_batch(void **state) {
  fx *f = *state;
  sqlite3 *holder = sdb_second(f);
  make_inbox(f->db);
  sdb_exec(holder, "BEGIN IMMEDIATE");
  sqlite3_busy_timeout(f->db, 10);
  char *before = sdb_dump(f->db);
  sdb_exec_fails(f->db, "SELECT es_submit('account', aid, cmd, payload) FROM inbox ORDER BY id", SQLITE_BUSY,
                 "es: busy: creating the sqlite-es storage: database is locked (5); a batch (SELECT \xE2\x80\xA6 FROM a"
                 " table) in autocommit mode cannot wait for the write lock: run it inside BEGIN IMMEDIATE \xE2\x80\xA6"
                 " COMMIT");
  assert_no_transaction(f->db);
  sdb_exec(holder, "COMMIT");
  sdb_dump_is(f->db, before);
  free(before);
}

/* ----------------------- test list ----------------------- */

int main(void) {
  const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, sdb_setup, sdb_teardown)
      T(test_autocommit_commits_at_once),
      T(test_begin_commit_keeps),
      T(test_begin_rollback_removes_everything),
      T(test_begin_rollback_with_existing_storage),
      T(test_savepoint_rollback_to),
      T(test_savepoint_release_keeps),
      T(test_caller_savepoints_untouched),
      T(test_select_from_table_autocommit),
      T(test_select_from_table_in_transaction),
      T(test_try_submit_rows_with_rejection),
      T(test_trigger_refused),
      T(test_writing_statement_misuse),
      T(test_failures_leave_dump_identical),
      T(test_extended_error_codes),
      T(test_late_failure_rolls_back),
      T(test_disk_full_rolls_back),
      T(test_last_insert_rowid_unchanged),
      T(test_busy_with_small_timeout),
      T(test_busy_waits_for_holder),
      T(test_busy_in_autocommit_batch),
#undef T
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
