/*
** test_storage.c — the storage of sqlite-es in a real SQLite file (DESIGN §2, §7): created in
** `main` by the first accepted command only (es_events, es_commands, es_meta with format 1, nine
** es_* triggers), positions gapless and in commit order across aggregates and connections,
** UNIQUE(aggregate_type, aggregate_id, version), a newer format or an incomplete storage refused,
** a missing trigger refused until es_protect() restores it, and DEFENSIVE switched on at load with
** es_config('defensive', 0) to opt out.
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

/* ----------------------- fixture ----------------------- */

typedef sdb_fx fx; /* support_db.h: sdb_setup makes it (dir, path, db), sdb_teardown removes it */

/* Close the test's connection and open it again (schema read afresh). */
static void reopen(fx *f) {
  sdb_close(f->db);
  f->db = sdb_open(f->path);
}

/* Run sql on a connection to the same file that has no sqlite-es loaded. */
static void exec_without_es(fx *f, const char *sql) {
  sqlite3 *plain = sdb_open_with(f->path, 0, 0);
  sdb_exec(plain, sql);
  sdb_close(plain);
}

#define OPEN_ACC1 "SELECT es_submit('account', 'acc-1', 'OpenAccount', '{\"owner\":\"ada\"}')"
#define DEPOSIT_ACC1 "SELECT es_submit('account', 'acc-1', 'Deposit', '{\"amount\":10}')"
#define ES_SCHEMA "SELECT type, name, tbl_name FROM main.sqlite_schema WHERE name GLOB 'es_*' ORDER BY type, name"

static const char full_schema[] =
    "index|es_events_by_category|es_events\n"
    "index|es_events_by_type|es_events\n"
    "table|es_commands|es_commands\n"
    "table|es_events|es_events\n"
    "table|es_meta|es_meta\n"
    "trigger|es_commands_insert_guard|es_commands\n"
    "trigger|es_commands_no_delete|es_commands\n"
    "trigger|es_commands_no_update|es_commands\n"
    "trigger|es_events_insert_guard|es_events\n"
    "trigger|es_events_no_delete|es_events\n"
    "trigger|es_events_no_update|es_events\n"
    "trigger|es_meta_insert_guard|es_meta\n"
    "trigger|es_meta_no_delete|es_meta\n"
    "trigger|es_meta_no_update|es_meta\n";

/* ----------------------- creation ----------------------- */

static void test_schema_created_on_first_accepted_command(void **state) {
  fx *f = *state;
  char *other = sdb_join(f->dir, "aux.db");
  char *attach = sqlite3_mprintf("ATTACH %Q AS aux", other);
  sdb_exec(f->db, attach);
  sqlite3_free(attach);

  /* Reading, and commands that fail, create nothing. */
  assert_int_equal(sdb_int(f->db, "SELECT es_stream_version('account', 'acc-1')"), 0);
  sdb_text_is(f->db, "SELECT es_state('account', 'acc-1')", "{\"status\":\"none\",\"balance\":0}");
  sdb_rows_are(f->db, "SELECT * FROM es_stream('account', 'acc-1')", "");
  sdb_exec_fails(f->db, DEPOSIT_ACC1, SQLITE_CONSTRAINT_FUNCTION, "es: rejected (not_open): the account is not open");
  sdb_exec_fails(f->db, "SELECT es_submit('account', 'acc-1', 'Nope')", SQLITE_ERROR,
                 "es: unknown_command: aggregate type 'account' has no command 'Nope'");
  assert_int_equal(sdb_es_objects(f->db), 0);

  assert_int_equal(sdb_int(f->db, OPEN_ACC1), 1);
  sdb_rows_are(f->db, ES_SCHEMA, full_schema);
  sdb_rows_are(f->db, "SELECT key, value, typeof(value) FROM es_meta", "format|1|integer\n");
  sdb_rows_are(f->db, "SELECT name, type, \"notnull\", pk FROM pragma_table_info('es_events')",
               "position|INTEGER|0|1\n"
               "aggregate_type|TEXT|1|0\n"
               "aggregate_id|TEXT|1|0\n"
               "version|INTEGER|1|0\n"
               "type|TEXT|1|0\n"
               "data|TEXT|1|0\n"
               "metadata|TEXT|0|0\n"
               "command_id|TEXT|0|0\n"
               "recorded_at|TEXT|1|0\n");
  sdb_rows_are(f->db, "SELECT name, type, \"notnull\", pk FROM pragma_table_info('es_commands')",
               "command_id|TEXT|1|1\n"
               "aggregate_type|TEXT|1|0\n"
               "aggregate_id|TEXT|1|0\n"
               "command_type|TEXT|1|0\n"
               "version|INTEGER|1|0\n"
               "position|INTEGER|1|0\n"
               "recorded_at|TEXT|1|0\n");
  /* In main only: the attached database got nothing. */
  assert_int_equal(sdb_int(f->db, "SELECT count(*) FROM aux.sqlite_schema"), 0);
  /* A second command, and a new connection, create nothing more. */
  assert_int_equal(sdb_int(f->db, DEPOSIT_ACC1), 2);
  reopen(f);
  assert_int_equal(sdb_int(f->db, DEPOSIT_ACC1), 3);
  sdb_rows_are(f->db, ES_SCHEMA, full_schema);
  sdb_rows_are(f->db, "SELECT key, value FROM es_meta", "format|1\n");
  free(other);
}

/* What one event row holds: ids, version, type, data, metadata, command_id, a UTC timestamp. */
static void test_event_rows(void **state) {
  fx *f = *state;
  assert_int_equal(sdb_int(f->db, "SELECT es_submit('account', 'acc-1', 'OpenAccount', '{\"owner\":\"ada\"}',"
                                  " '{\"command_id\":\"cmd-1\",\"metadata\":{\"user\":\"u1\",\"n\":[1,2]}}')"),
                   1);
  assert_int_equal(sdb_int(f->db, DEPOSIT_ACC1), 2);
  sdb_rows_are(f->db,
               "SELECT position, aggregate_type, aggregate_id, version, type, data, metadata, command_id"
               " FROM es_events ORDER BY position",
               "1|account|acc-1|1|AccountOpened|{\"owner\":\"ada\"}|{\"user\":\"u1\",\"n\":[1,2]}|cmd-1\n"
               "2|account|acc-1|2|Deposited|{\"amount\":10}|NULL|NULL\n");
  assert_int_equal(sdb_int(f->db, "SELECT count(*) FROM es_events WHERE recorded_at GLOB"
                                  " '[0-9][0-9][0-9][0-9]-[0-1][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-6][0-9].[0-9][0-9][0-9]Z'"
                                  " AND abs(julianday(recorded_at) - julianday('now')) < 1"),
                   2);
  sdb_rows_are(f->db, "SELECT command_id, aggregate_type, aggregate_id, command_type, version, position FROM es_commands",
               "cmd-1|account|acc-1|OpenAccount|1|1\n");
  /* The same command_id again: its original result, nothing appended. */
  char *before = sdb_dump(f->db);
  sdb_text_is(f->db, "SELECT es_try_submit('account', 'acc-1', 'OpenAccount', '{\"owner\":\"ada\"}',"
                     " '{\"command_id\":\"cmd-1\"}')",
              "{\"ok\":true,\"version\":1,\"position\":1,\"events\":0,\"duplicate\":true}");
  sdb_dump_is(f->db, before);
  free(before);
}

/* ----------------------- positions ----------------------- */

/* Positions are 1..n with no gap, in the order commands committed, across aggregates and
** connections, whatever failed or was rolled back in between. */
static void test_positions_gapless_in_commit_order(void **state) {
  fx *f = *state;
  sqlite3 *b = sdb_open(f->path);
  sqlite3 *conns[2] = {f->db, b};
  char expected[4096] = "";
  int versions[3] = {0, 0, 0};
  int n = 0;
  for (int round = 0; round < 12; round++) {
    sqlite3 *db = conns[round % 2];
    int acc = (round * 7) % 3;
    char sql[256], line[64];
    if (versions[acc] == 0)
      snprintf(sql, sizeof sql, "SELECT es_submit('account', 'acc-%d', 'OpenAccount', '{\"owner\":\"o%d\"}')", acc, acc);
    else
      snprintf(sql, sizeof sql, "SELECT es_submit('account', 'acc-%d', 'Deposit', '{\"amount\":%d}')", acc, round + 1);
    assert_int_equal(sdb_int(db, sql), ++versions[acc]);
    snprintf(line, sizeof line, "%d|acc-%d|%d\n", ++n, acc, versions[acc]);
    strcat(expected, line);

    /* Between commands: a rejection, and a transaction rolled back after appending. */
    snprintf(sql, sizeof sql, "SELECT es_try_submit('account', 'acc-%d', 'Withdraw', '{\"amount\":1000000}')", acc);
    char *r = sdb_text(db, sql);
    assert_non_null(strstr(r, "\"error\":\"rejected\""));
    free(r);
    if (round % 3 == 1) {
      sdb_exec(db, "BEGIN");
      snprintf(sql, sizeof sql, "SELECT es_submit('account', 'acc-%d', 'Deposit', '{\"amount\":1}')", acc);
      assert_int_equal(sdb_int(db, sql), versions[acc] + 1);
      sdb_exec(db, "ROLLBACK");
    }
  }
  /* Inside one transaction of the other connection, too. */
  sdb_exec(b, "BEGIN IMMEDIATE");
  for (int acc = 2; acc >= 0; acc--) {
    char sql[256], line[64];
    snprintf(sql, sizeof sql, "SELECT es_submit('account', 'acc-%d', 'Deposit', '{\"amount\":2}')", acc);
    assert_int_equal(sdb_int(b, sql), ++versions[acc]);
    snprintf(line, sizeof line, "%d|acc-%d|%d\n", ++n, acc, versions[acc]);
    strcat(expected, line);
  }
  sdb_exec(b, "COMMIT");
  sdb_rows_are(f->db, "SELECT position, aggregate_id, version FROM es_events ORDER BY position", expected);
  sdb_rows_are(b, "SELECT min(position), max(position), count(*) FROM es_events", "1|15|15\n");
  /* Every aggregate's versions are 1..n in position order. */
  assert_int_equal(sdb_int(f->db, "SELECT count(*) FROM es_events e WHERE version <> (SELECT count(*) FROM es_events"
                                  " p WHERE p.aggregate_id = e.aggregate_id AND p.position <= e.position)"),
                   0);
  sdb_close(b);
}

/* ----------------------- uniqueness ----------------------- */

static void test_unique_type_id_version(void **state) {
  fx *f = *state;
  assert_int_equal(sdb_int(f->db, OPEN_ACC1), 1);
  /* Declared: exactly one unique index over (aggregate_type, aggregate_id, version), in that order. */
  char *idx = sdb_text(f->db, "SELECT name FROM pragma_index_list('es_events') WHERE \"unique\" AND origin = 'u'");
  assert_non_null(idx);
  char *sql = sqlite3_mprintf("SELECT group_concat(name, ',') FROM (SELECT name FROM pragma_index_info(%Q) ORDER BY seqno)",
                              idx);
  sdb_text_is(f->db, sql, "aggregate_type,aggregate_id,version");
  sqlite3_free(sql);
  free(idx);
  assert_int_equal(sdb_int(f->db, "SELECT count(*) FROM pragma_index_list('es_events') WHERE \"unique\" AND origin = 'u'"),
                   1);

  /* Enforced, even when the guard that normally stops direct inserts is gone. */
  exec_without_es(f, "DROP TRIGGER es_events_insert_guard");
  sqlite3 *plain = sdb_open_with(f->path, 0, 0);
  sdb_exec_fails(plain,
                 "INSERT INTO es_events(aggregate_type, aggregate_id, version, type, data, recorded_at)"
                 " VALUES ('account', 'acc-1', 1, 'AccountOpened', '{}', 'now')",
                 SQLITE_CONSTRAINT_UNIQUE,
                 "UNIQUE constraint failed: es_events.aggregate_type, es_events.aggregate_id, es_events.version");
  sdb_close(plain);
  assert_int_equal(sdb_int(f->db, "SELECT es_protect()"), 1);
  assert_int_equal(sdb_int(f->db, DEPOSIT_ACC1), 2);
  sdb_rows_are(f->db, "SELECT position, version, type FROM es_events ORDER BY position",
               "1|1|AccountOpened\n2|2|Deposited\n");
}

/* Without sqlite-es loaded the log stays readable and cannot be written. */
static void test_storage_without_extension(void **state) {
  fx *f = *state;
  assert_int_equal(sdb_int(f->db, OPEN_ACC1), 1);
  char *before = sdb_dump(f->db);
  sqlite3 *plain = sdb_open_with(f->path, 0, 0);
  sdb_rows_are(plain, "SELECT position, type FROM es_events", "1|AccountOpened\n");
  sdb_exec_fails(plain,
                 "INSERT INTO es_events(aggregate_type, aggregate_id, version, type, data, recorded_at)"
                 " VALUES ('account', 'acc-1', 2, 'Deposited', '{}', 'now')",
                 SQLITE_ERROR, "no such function: es_internal_write");
  sdb_exec_fails(plain, "UPDATE es_events SET data = '{}'", SQLITE_CONSTRAINT_TRIGGER,
                 "es: protected: es_events is the append-only event log: UPDATE is refused");
  sdb_exec_fails(plain, "DELETE FROM es_events", SQLITE_CONSTRAINT_TRIGGER,
                 "es: protected: es_events is the append-only event log: DELETE is refused");
  sdb_exec_fails(plain, "UPDATE es_meta SET value = 2", SQLITE_CONSTRAINT_TRIGGER,
                 "es: protected: es_meta describes the storage format: UPDATE is refused");
  sdb_close(plain);
  sdb_dump_is(f->db, before);
  free(before);
}

/* ----------------------- refused storage ----------------------- */

/* A database written by a newer sqlite-es (format 2) is refused, and left untouched. */
static void test_newer_format_refused(void **state) {
  fx *f = *state;
  assert_int_equal(sdb_int(f->db, OPEN_ACC1), 1);
  /* Only possible without the extension: drop the guard, change the format, restore the guard. */
  char *trigger = sdb_text(f->db, "SELECT sql FROM sqlite_schema WHERE name = 'es_meta_no_update'");
  assert_non_null(trigger);
  char *sql = sqlite3_mprintf("DROP TRIGGER es_meta_no_update; UPDATE es_meta SET value = 2 WHERE key = 'format'; %s",
                              trigger);
  exec_without_es(f, sql);
  sqlite3_free(sql);
  free(trigger);

  reopen(f);
  sdb_rows_are(f->db, ES_SCHEMA, full_schema);
  sdb_rows_are(f->db, "SELECT key, value FROM es_meta", "format|2\n");
  char *before = sdb_dump(f->db);
  const char *msg = "es: storage: this database has sqlite-es storage format 2; this build of sqlite-es ("
                    ES_VERSION_STRING ") reads format 1: upgrade sqlite-es";
  sdb_exec_fails(f->db, DEPOSIT_ACC1, SQLITE_ERROR, msg);
  sdb_exec_fails(f->db, "SELECT es_submit('account', 'acc-2', 'OpenAccount', '{\"owner\":\"bob\"}')", SQLITE_ERROR,
                 msg);
  sdb_exec_fails(f->db, "SELECT es_try_submit('account', 'acc-1', 'Deposit', '{\"amount\":10}')", SQLITE_ERROR, msg);
  sdb_exec_fails(f->db, "SELECT es_stream_version('account', 'acc-1')", SQLITE_ERROR, msg);
  sdb_exec_fails(f->db, "SELECT es_state('account', 'acc-1')", SQLITE_ERROR, msg);
  assert_int_equal(sqlite3_get_autocommit(f->db), 1);
  sdb_dump_is(f->db, before);
  free(before);
}

/* A storage missing one of its tables is refused rather than repaired. */
static void test_incomplete_storage_refused(void **state) {
  fx *f = *state;
  assert_int_equal(sdb_int(f->db, OPEN_ACC1), 1);
  exec_without_es(f, "DROP TABLE es_commands");
  reopen(f);
  char *before = sdb_dump(f->db);
  sdb_exec_fails(f->db, DEPOSIT_ACC1, SQLITE_ERROR,
                 "es: storage: the sqlite-es storage in this database is incomplete (2 of its 3 tables)");
  sdb_dump_is(f->db, before);
  free(before);
}

/* A protection trigger dropped (here, by the same connection) stops every command until es_protect(). */
static void test_missing_trigger_protected(void **state) {
  fx *f = *state;
  assert_int_equal(sdb_int(f->db, OPEN_ACC1), 1);
  sdb_exec(f->db, "DROP TRIGGER es_events_no_delete");
  char *before = sdb_dump(f->db);
  const char *msg = "es: protected: trigger es_events_no_delete is missing, so the log is not protected; restore it"
                    " with SELECT es_protect()";
  sdb_exec_fails(f->db, DEPOSIT_ACC1, SQLITE_CONSTRAINT_TRIGGER, msg);
  sdb_exec_fails(f->db, "SELECT es_try_submit('account', 'acc-1', 'Deposit', '{\"amount\":10}')",
                 SQLITE_CONSTRAINT_TRIGGER, msg);
  sdb_dump_is(f->db, before);
  free(before);

  assert_int_equal(sdb_int(f->db, "SELECT es_protect()"), 1);
  sdb_rows_are(f->db, ES_SCHEMA, full_schema);
  assert_int_equal(sdb_int(f->db, DEPOSIT_ACC1), 2);
  sdb_exec_fails(f->db, "DELETE FROM es_events", SQLITE_CONSTRAINT_TRIGGER,
                 "es: protected: es_events is the append-only event log: DELETE is refused");
  assert_int_equal(sdb_int(f->db, "SELECT es_protect()"), 0);

  /* Dropped by a connection without the extension: the first missing one is named. */
  exec_without_es(f, "DROP TRIGGER es_meta_insert_guard; DROP TRIGGER es_commands_no_update");
  reopen(f);
  sdb_exec_fails(f->db, DEPOSIT_ACC1, SQLITE_CONSTRAINT_TRIGGER,
                 "es: protected: trigger es_commands_no_update is missing, so the log is not protected; restore it"
                 " with SELECT es_protect()");
  assert_int_equal(sdb_int(f->db, "SELECT es_protect()"), 2);
  sdb_rows_are(f->db, ES_SCHEMA, full_schema);
  assert_int_equal(sdb_int(f->db, "SELECT es_submit('account', 'acc-1', 'Deposit', '{\"amount\":1}',"
                                  " '{\"command_id\":\"k\"}')"),
                   3);
  sdb_exec_fails(f->db, "UPDATE es_commands SET version = 0", SQLITE_CONSTRAINT_TRIGGER,
                 "es: protected: es_commands records commands that succeeded: UPDATE is refused");
}

/* es_protect() on a database without storage creates nothing. */
static void test_protect_without_storage(void **state) {
  fx *f = *state;
  assert_int_equal(sdb_int(f->db, "SELECT es_protect()"), 0);
  assert_int_equal(sdb_es_objects(f->db), 0);
}

/* ----------------------- DEFENSIVE ----------------------- */

static int defensive(sqlite3 *db) {
  int v = -1;
  assert_int_equal(sqlite3_db_config(db, SQLITE_DBCONFIG_DEFENSIVE, -1, &v), SQLITE_OK);
  return v;
}

static void test_defensive_on_at_load(void **state) {
  fx *f = *state;
  assert_int_equal(defensive(f->db), 1);
  assert_int_equal(sdb_int(f->db, "SELECT es_config('defensive')"), 1);
  sqlite3 *plain = sdb_open_with(f->path, 0, 0);
  assert_int_equal(defensive(plain), 0); /* SQLite's default: the extension switched it on */
  sdb_close(plain);

  /* On: the schema cannot be rewritten to disarm the triggers. */
  assert_int_equal(sdb_int(f->db, OPEN_ACC1), 1);
  char *before = sdb_dump(f->db);
  sdb_exec(f->db, "PRAGMA writable_schema = ON");
  sdb_exec_fails(f->db,
                 "UPDATE sqlite_schema SET sql = replace(sql, 'RAISE', 'printf') WHERE name = 'es_events_no_update'",
                 SQLITE_ERROR, "table sqlite_master may not be modified");
  sdb_exec(f->db, "PRAGMA writable_schema = OFF");
  sdb_dump_is(f->db, before);
  free(before);

  /* The documented opt-out, and back. */
  assert_int_equal(sdb_int(f->db, "SELECT es_config('defensive', 0)"), 0);
  assert_int_equal(defensive(f->db), 0);
  assert_int_equal(sdb_int(f->db, "SELECT es_config('defensive')"), 0);
  assert_int_equal(sdb_int(f->db, "SELECT es_config('defensive', 1)"), 1);
  assert_int_equal(defensive(f->db), 1);
  sdb_exec_fails(f->db, "SELECT es_config('defensive', 2)", SQLITE_ERROR,
                 "es: invalid_argument: es_config('defensive', \xE2\x80\xA6) takes 0 or 1");
  sdb_exec_fails(f->db, "SELECT es_config('defensive', 'off')", SQLITE_ERROR,
                 "es: invalid_argument: es_config value must be an integer, got text");
  sdb_exec_fails(f->db, "SELECT es_config('nope')", SQLITE_ERROR,
                 "es: invalid_argument: unknown setting 'nope' (known: defensive, max_payload_bytes)");
  assert_int_equal(defensive(f->db), 1);
}

/* ----------------------- test list ----------------------- */

int main(void) {
  const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, sdb_setup, sdb_teardown)
      T(test_schema_created_on_first_accepted_command),
      T(test_event_rows),
      T(test_positions_gapless_in_commit_order),
      T(test_unique_type_id_version),
      T(test_storage_without_extension),
      T(test_newer_format_refused),
      T(test_incomplete_storage_refused),
      T(test_missing_trigger_protected),
      T(test_protect_without_storage),
      T(test_defensive_on_at_load),
#undef T
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
