/*
** test_storage.c — the storage of sqlite-es in a real SQLite file (DESIGN §2, §7): created in
** `main` by the first accepted command only (es_events, es_commands, es_meta with format 2 and the
** last position given, twelve es_* triggers), positions gapless and in commit order across aggregates and connections,
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
    "table|es_snapshots|es_snapshots\n"
    "trigger|es_commands_columns|es_commands\n"
    "trigger|es_commands_insert_guard|es_commands\n"
    "trigger|es_commands_no_delete|es_commands\n"
    "trigger|es_commands_no_update|es_commands\n"
    "trigger|es_events_columns|es_events\n"
    "trigger|es_events_insert_guard|es_events\n"
    "trigger|es_events_no_delete|es_events\n"
    "trigger|es_events_no_update|es_events\n"
    "trigger|es_meta_columns|es_meta\n"
    "trigger|es_meta_insert_guard|es_meta\n"
    "trigger|es_meta_no_delete|es_meta\n"
    "trigger|es_meta_update_guard|es_meta\n"
    "trigger|es_snapshots_columns|es_snapshots\n"
    "trigger|es_snapshots_insert_guard|es_snapshots\n"
    "trigger|es_snapshots_update_guard|es_snapshots\n";

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
  sdb_rows_are(f->db, "SELECT key, value, typeof(value) FROM es_meta ORDER BY key",
               "format|2|integer\nlast_position|1|integer\n");
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
  sdb_rows_are(f->db, "SELECT key, value FROM es_meta ORDER BY key", "format|2\nlast_position|3\n");
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
  sdb_exec_fails(plain, "UPDATE es_meta SET value = 2", SQLITE_ERROR, "no such function: es_internal_write");
  sdb_exec_fails(plain, "DELETE FROM es_meta", SQLITE_CONSTRAINT_TRIGGER,
                 "es: protected: es_meta describes the storage format: DELETE is refused");
  sdb_close(plain);
  sdb_dump_is(f->db, before);
  free(before);
}

/* ----------------------- refused storage ----------------------- */

/* A database written by a newer sqlite-es (format 3) is refused, and left untouched. */
static void test_newer_format_refused(void **state) {
  fx *f = *state;
  assert_int_equal(sdb_int(f->db, OPEN_ACC1), 1);
  /* Only possible without the extension: drop the guard, change the format, restore the guard. */
  char *trigger = sdb_text(f->db, "SELECT sql FROM sqlite_schema WHERE name = 'es_meta_update_guard'");
  assert_non_null(trigger);
  char *sql = sqlite3_mprintf("DROP TRIGGER es_meta_update_guard; UPDATE es_meta SET value = 3 WHERE key = 'format'; %s",
                              trigger);
  exec_without_es(f, sql);
  sqlite3_free(sql);
  free(trigger);

  reopen(f);
  sdb_rows_are(f->db, ES_SCHEMA, full_schema);
  sdb_rows_are(f->db, "SELECT key, value FROM es_meta ORDER BY key", "format|3\nlast_position|1\n");
  char *before = sdb_dump(f->db);
  const char *msg = "es: storage: this database has sqlite-es storage format 3; this build of sqlite-es ("
                    ES_VERSION_STRING ") reads format 2: upgrade sqlite-es";
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

/* Defect: guards were recognised by name only; one recreated as a no-op left the log writable. */
static void test_changed_guard_refused(void **state) {
  fx *f = *state;
  assert_int_equal(sdb_int(f->db, OPEN_ACC1), 1);
  sdb_exec(f->db, "DROP TRIGGER es_events_no_update;"
                  "CREATE TRIGGER es_events_no_update BEFORE UPDATE ON es_events WHEN 0 BEGIN"
                  " SELECT RAISE(ABORT, 'es: protected: es_events is the append-only event log: UPDATE is refused'); END");
  const char *msg = "es: protected: trigger es_events_no_update is not the guard sqlite-es installed (it was changed), so"
                    " the log is not protected; restore it with SELECT es_protect()";
  char *before = sdb_dump(f->db);
  sdb_exec_fails(f->db, DEPOSIT_ACC1, SQLITE_CONSTRAINT_TRIGGER, msg);
  sdb_exec_fails(f->db, "SELECT es_try_submit('account', 'acc-1', 'Deposit', '{\"amount\":10}')",
                 SQLITE_CONSTRAINT_TRIGGER, msg);
  sdb_dump_is(f->db, before);
  free(before);
  assert_int_equal(sdb_int(f->db, "SELECT es_protect()"), 1);
  sdb_exec_fails(f->db, "UPDATE es_events SET data = '{}'", SQLITE_CONSTRAINT_TRIGGER,
                 "es: protected: es_events is the append-only event log: UPDATE is refused");
  assert_int_equal(sdb_int(f->db, DEPOSIT_ACC1), 2);
  assert_int_equal(sdb_int(f->db, "SELECT es_protect()"), 0);

  /* Rewritten through writable_schema on a connection with DEFENSIVE off: found when the schema is read. */
  sqlite3 *plain = sdb_open_with(f->path, 0, 0);
  sdb_exec(plain, "PRAGMA writable_schema = ON;"
                  "UPDATE sqlite_schema SET sql = replace(sql, 'SELECT RAISE', 'SELECT 1, RAISE')"
                  " WHERE name = 'es_meta_no_delete';"
                  "PRAGMA writable_schema = OFF");
  sdb_close(plain);
  reopen(f);
  sdb_exec_fails(f->db, DEPOSIT_ACC1, SQLITE_CONSTRAINT_TRIGGER,
                 "es: protected: trigger es_meta_no_delete is not the guard sqlite-es installed (it was changed), so"
                 " the log is not protected; restore it with SELECT es_protect()");
  assert_int_equal(sdb_int(f->db, "SELECT es_protect()"), 1);
  assert_int_equal(sdb_int(f->db, DEPOSIT_ACC1), 3);
}

/* Defect: after the last event was deleted (guard dropped) and es_protect(), the next command got
** its position and version again, and a consumer that had acknowledged it never saw the new one. */
static void test_positions_never_given_twice(void **state) {
  fx *f = *state;
  assert_int_equal(sdb_int(f->db, OPEN_ACC1), 1);
  assert_int_equal(sdb_int(f->db, DEPOSIT_ACC1), 2);
  assert_int_equal(sdb_int(f->db, "SELECT es_create_consumer('mailer')"), 1);
  assert_int_equal(sdb_int(f->db, "SELECT es_ack('mailer', 2)"), 2);
  exec_without_es(f, "DROP TRIGGER es_events_no_delete; DELETE FROM es_events WHERE position = 2");
  reopen(f);
  assert_int_equal(sdb_int(f->db, "SELECT es_protect()"), 1);
  const char *msg = "es: protected: the log has lost events: position 2 was given, but es_events ends at position 1"
                    " (events were deleted while a guard was missing); a position is never given twice, so nothing"
                    " more is appended: restore the database from a backup (SELECT * FROM es_integrity_check lists"
                    " the damage)";
  char *before = sdb_dump(f->db);
  sdb_exec_fails(f->db, DEPOSIT_ACC1, SQLITE_CONSTRAINT_TRIGGER, msg);
  sdb_exec_fails(f->db, "SELECT es_submit('account', 'acc-2', 'OpenAccount', '{\"owner\":\"bob\"}')",
                 SQLITE_CONSTRAINT_TRIGGER, msg);
  sdb_dump_is(f->db, before);
  free(before);
  /* A rejected command appends nothing, so it is still decided and reported as rejected. */
  sdb_exec_fails(f->db, "SELECT es_submit('account', 'acc-1', 'Withdraw', '{\"amount\":1000}')",
                 SQLITE_CONSTRAINT_FUNCTION, "es: rejected (insufficient_funds): balance 0 is less than 1000");
}

/* An event appended behind sqlite-es's back is refused the same way. */
static void test_event_appended_behind_its_back(void **state) {
  fx *f = *state;
  assert_int_equal(sdb_int(f->db, OPEN_ACC1), 1);
  exec_without_es(f, "DROP TRIGGER es_events_insert_guard;"
                     "INSERT INTO es_events(aggregate_type, aggregate_id, version, type, data, recorded_at)"
                     " VALUES ('account', 'acc-1', 2, 'Deposited', '{\"amount\":1000}', 'now')");
  reopen(f);
  assert_int_equal(sdb_int(f->db, "SELECT es_protect()"), 1);
  char *before = sdb_dump(f->db);
  sdb_exec_fails(f->db, DEPOSIT_ACC1, SQLITE_CONSTRAINT_TRIGGER,
                 "es: protected: es_events holds events that sqlite-es did not append (position 2, after the last"
                 " it gave, 1): they bypassed every aggregate's decision: restore the database from a backup (SELECT *"
                 " FROM es_integrity_check lists the damage)");
  sdb_dump_is(f->db, before);
  free(before);
}

/* Defect: the guards of es_checkpoints and of the SQL definitions were never checked nor restored. */
static void test_every_guarded_table_checked(void **state) {
  fx *f = *state;
  sdb_exec(f->db, "SELECT es_submit('account', 'acc-1', 'OpenAccount', '{\"owner\":\"ada\"}');"
                  "SELECT es_create_consumer('mailer');"
                  "SELECT es_create_aggregate('box', '{}', '[\"Filled\"]');"
                  "CREATE VIEW box_fill AS SELECT 'Filled' AS type, '{}' AS data FROM es_command;"
                  "SELECT es_create_decider('box', 'Fill', 'box_fill');"
                  "CREATE TABLE opened(id TEXT PRIMARY KEY);"
                  "CREATE VIEW opened_feed AS SELECT position, aggregate_id AS id, type FROM es_events;"
                  "CREATE TRIGGER opened_on INSTEAD OF INSERT ON opened_feed WHEN NEW.type = 'AccountOpened' BEGIN"
                  " INSERT INTO opened VALUES (NEW.id); END;"
                  "SELECT es_create_view('opened', 'opened_feed');");
  static const struct {
    const char *trigger, *what;
  } guards[] = {
      {"es_checkpoints_insert_guard", "es_checkpoints"},
      {"es_checkpoints_update_guard", "es_checkpoints"},
      {"es_checkpoints_delete_guard", "es_checkpoints"},
      {"es_checkpoints_columns", "es_checkpoints"},
      {"es_sql_aggregates_insert_guard", "es_sql_aggregates"},
      {"es_sql_aggregates_update_guard", "es_sql_aggregates"},
      {"es_sql_aggregates_delete_guard", "es_sql_aggregates"},
      {"es_sql_aggregates_columns", "es_sql_aggregates"},
      {"es_sql_handlers_insert_guard", "es_sql_handlers"},
      {"es_sql_handlers_update_guard", "es_sql_handlers"},
      {"es_sql_handlers_delete_guard", "es_sql_handlers"},
      {"es_sql_handlers_columns", "es_sql_handlers"},
      {"es_views_insert_guard", "the list of read models"},
      {"es_views_update_guard", "the list of read models"},
      {"es_views_delete_guard", "the list of read models"},
      {"es_views_columns", "the list of read models"},
      {"es_view_opened_insert", "read model opened"},
      {"es_view_opened_update", "read model opened"},
      {"es_view_opened_delete", "read model opened"},
      {"es_view_opened_columns", "read model opened"},
  };
  int version = 1;
  for (size_t i = 0; i < sizeof(guards) / sizeof(*guards); i++) {
    char *drop = sqlite3_mprintf("DROP TRIGGER %s", guards[i].trigger);
    exec_without_es(f, drop);
    sqlite3_free(drop);
    reopen(f);
    char *msg = sqlite3_mprintf("es: protected: trigger %s is missing, so %s is not protected; restore it with SELECT"
                                " es_protect()",
                                guards[i].trigger, guards[i].what);
    sdb_exec_fails(f->db, DEPOSIT_ACC1, SQLITE_CONSTRAINT_TRIGGER, msg);
    sdb_exec_fails(f->db, "SELECT es_ack('mailer', 1)", SQLITE_CONSTRAINT_TRIGGER, msg);
    sdb_exec_fails(f->db, "SELECT es_submit('box', 'b1', 'Fill')", SQLITE_CONSTRAINT_TRIGGER, msg);
    sqlite3_free(msg);
    assert_int_equal(sdb_int(f->db, "SELECT es_protect()"), 1);
    assert_int_equal(sdb_int(f->db, DEPOSIT_ACC1), ++version);
  }
  /* Restored, each refuses the writes it refused before. */
  sdb_exec_fails(f->db, "UPDATE es_checkpoints SET position = 1000", SQLITE_CONSTRAINT_TRIGGER,
                 "es: protected: es_checkpoints holds the checkpoints of consumers: change them with es_create_consumer"
                 " and es_ack");
  sdb_exec_fails(f->db, "DELETE FROM es_sql_handlers", SQLITE_CONSTRAINT_TRIGGER,
                 "es: protected: es_sql_handlers holds aggregate definitions: change them with es_create_aggregate,"
                 " es_create_decider and es_create_evolver");
  sdb_exec_fails(f->db, "DELETE FROM es_views", SQLITE_CONSTRAINT_TRIGGER,
                 "es: protected: es_views lists the read models: forget one with es_drop_view()");
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
                 "es: invalid_argument: unknown setting 'nope' (known: defensive, max_payload_bytes, snapshot_every, state_cache)");
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
      T(test_changed_guard_refused),
      T(test_positions_never_given_twice),
      T(test_event_appended_behind_its_back),
      T(test_every_guarded_table_checked),
      T(test_protect_without_storage),
      T(test_defensive_on_at_load),
#undef T
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
