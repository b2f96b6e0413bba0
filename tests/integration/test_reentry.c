/*
** test_reentry.c — a sqlite-es call made while another runs on the same connection: an
** application function called from a SQL decider, an evolver or a view handler (a TEMP trigger on
** a feed) that calls es_submit, es_state, a definition or a consumer function. Each such call is
** refused up front with `misuse`, saying why, and never disturbs the running command: when the
** application swallows the refusal the outer command completes; when it raises it, the outer
** command fails as misuse too, with nothing written.
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

typedef sdb_fx fx;

#define REFUSED_IN(inner, outer)                                                                            \
  "es: misuse: " inner " cannot run while " outer " is running on this connection (a decider, an evolver or a" \
  " view handler called it): run it after " outer " returns"
#define REFUSED(inner) REFUSED_IN(inner, "es_submit")

/* app_call(sql, raise): run sql on the same connection; return its first value, or its error
** message (raise = 0), or raise that error with its code (raise = 1). */
static void inner_fn(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  sqlite3 *db = sqlite3_context_db_handle(ctx);
  sqlite3_stmt *st = 0;
  (void)argc;
  int rc = sqlite3_prepare_v2(db, (const char *)sqlite3_value_text(argv[0]), -1, &st, 0);
  if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
    sqlite3_result_value(ctx, sqlite3_column_value(st, 0));
  } else if (rc != SQLITE_DONE) {
    if (sqlite3_value_int(argv[1])) {
      sqlite3_result_error(ctx, sqlite3_errmsg(db), -1);
      sqlite3_result_error_code(ctx, sqlite3_extended_errcode(db));
    } else {
      sqlite3_result_text(ctx, sqlite3_errmsg(db), -1, SQLITE_TRANSIENT);
    }
  }
  sqlite3_finalize(st);
}

/* The box aggregate in SQL: Fill's event records what app_call() returned for the SQL in the payload. */
static void define_box(sqlite3 *db) {
  assert_int_equal(sqlite3_create_function(db, "app_call", 2, SQLITE_UTF8, 0, inner_fn, 0, 0), SQLITE_OK);
  sdb_exec(db, "SELECT es_create_aggregate('box', '{\"n\":0,\"note\":null}', '[\"Filled\"]');"
               "CREATE VIEW box_fill AS SELECT 'Filled' AS type,"
               " json_object('note', app_call(json_extract(payload, '$.sql'), json_extract(payload, '$.raise'))) AS data"
               " FROM es_command;"
               "SELECT es_create_decider('box', 'Fill', 'box_fill');"
               "CREATE VIEW box_evolve AS SELECT json_set(state, '$.n', json_extract(state, '$.n') + 1,"
               " '$.note', CASE WHEN json_extract(data, '$.note') LIKE 'SELECT%' THEN"
               " app_call(json_extract(data, '$.note'), 0) END) AS state FROM es_event;"
               "SELECT es_create_evolver('box', 'box_evolve');");
}

/* Submit Fill with app_call() running sql; returns the note the event recorded (malloc'd). */
static char *fill(sqlite3 *db, const char *sql) {
  char *cmd = sqlite3_mprintf("SELECT es_submit('box', 'b1', 'Fill', json_object('sql', %Q, 'raise', 0))", sql);
  sqlite3_int64 before = sdb_int(db, "SELECT count(*) FROM es_events");
  sqlite3_int64 v = sdb_int(db, cmd);
  sqlite3_free(cmd);
  assert_true(v >= 1);
  assert_int_equal(sdb_int(db, "SELECT count(*) FROM es_events"), before + 1); /* the nested call wrote nothing */
  return sdb_text(db, "SELECT json_extract(data, '$.note') FROM es_events ORDER BY position DESC LIMIT 1");
}

static void note_is(sqlite3 *db, const char *sql, const char *want) {
  char *got = fill(db, sql);
  if (!got || strcmp(got, want) != 0) {
    char msg[1024];
    snprintf(msg, sizeof msg, "%s", got ? got : "(null)");
    free(got);
    fail_msg("inner %s\n  got:  %s\n  want: %s", sql, msg, want);
  }
  free(got);
}

static void test_calls_from_a_decider_are_refused(void **state) {
  fx *f = *state;
  define_box(f->db);
  note_is(f->db, "SELECT es_submit('account', 'a9', 'OpenAccount', '{\"owner\":\"x\"}')", REFUSED("es_submit"));
  note_is(f->db, "SELECT es_try_submit('account', 'a9', 'OpenAccount', '{\"owner\":\"x\"}')", REFUSED("es_try_submit"));
  note_is(f->db, "SELECT es_state('box', 'b1')", REFUSED("es_state"));
  note_is(f->db, "SELECT es_test_command('box', '[]', 'Fill', '{}')", REFUSED("es_test_command"));
  note_is(f->db, "SELECT es_protect()", REFUSED("es_protect"));
  note_is(f->db, "SELECT es_create_consumer('c1')", REFUSED("es_create_consumer"));
  note_is(f->db, "SELECT es_create_aggregate('other', '{}', '[\"E\"]')", REFUSED("es_create_aggregate"));
  note_is(f->db, "SELECT es_rebuild('nothing')", REFUSED("es_rebuild"));
  note_is(f->db, "SELECT es_drop_view('nothing')", REFUSED("es_drop_view"));
  /* reading the log is fine */
  note_is(f->db, "SELECT es_stream_version('box', 'b1')", "9"); /* … as of before this command */
  sdb_rows_are(f->db, "SELECT count(*) FROM es_events WHERE aggregate_type <> 'box'", "0\n");
  sdb_rows_are(f->db, "SELECT count(*) FROM sqlite_schema WHERE name = 'es_checkpoints'", "0\n");
  assert_int_equal(sdb_int(f->db, "SELECT es_stream_version('box', 'b1')"), 10);
}

static void test_a_raised_refusal_fails_the_outer_command(void **state) {
  fx *f = *state;
  define_box(f->db);
  char *before = sdb_dump(f->db);
  sdb_exec_fails(f->db,
                 "SELECT es_submit('box', 'b1', 'Fill', json_object('sql', 'SELECT es_submit(''account'', ''a9'',"
                 " ''OpenAccount'', ''{\"owner\":\"x\"}'')', 'raise', 1))",
                 SQLITE_MISUSE, REFUSED("es_submit"));
  /* misuse is a failure of the machinery, not an outcome of the command: es_try_submit raises it */
  sdb_exec_fails(f->db,
                 "SELECT es_try_submit('box', 'b1', 'Fill', json_object('sql', 'SELECT es_ack(''c'', 1)', 'raise', 1))",
                 SQLITE_MISUSE, REFUSED_IN("es_ack", "es_try_submit"));
  sdb_dump_is(f->db, before);
  free(before);
}

static void test_calls_from_an_evolver_are_refused(void **state) {
  fx *f = *state;
  define_box(f->db);
  /* the evolver runs app_call(note) when the note is SQL: on this command and on every replay */
  const char *cmd = "SELECT es_submit('box', 'b1', 'Fill', json_object('sql',"
                    " 'SELECT ''SELECT es_state(''''box'''', ''''b1'''')''', 'raise', 0))";
  assert_int_equal(sdb_int(f->db, cmd), 1);
  sdb_text_is(f->db, "SELECT json_extract(es_state('box', 'b1'), '$.note')", REFUSED_IN("es_state", "es_state"));
  /* while es_submit ran, the evolver got the refusal naming es_submit: the state it recorded then is gone,
  ** es_state recomputes it; a second command folds the first event again, under es_submit */
  assert_int_equal(sdb_int(f->db, cmd), 2);
}

/* Defect: a TEMP trigger as a feed's handler calling es_submit was reported as storage. */
static void test_a_view_handler_calling_es_submit(void **state) {
  fx *f = *state;
  sdb_exec(f->db, "CREATE TABLE opened(id TEXT PRIMARY KEY);"
                  "CREATE VIEW opened_feed AS SELECT position, aggregate_id AS id, type FROM es_events;"
                  "CREATE TRIGGER opened_on INSTEAD OF INSERT ON opened_feed WHEN NEW.type = 'AccountOpened' BEGIN"
                  " INSERT INTO opened VALUES (NEW.id); END;"
                  "SELECT es_create_view('opened', 'opened_feed');"
                  "CREATE TEMP TRIGGER opened_echo INSTEAD OF INSERT ON main.opened_feed BEGIN"
                  " SELECT es_submit('account', 'echo', 'OpenAccount', '{\"owner\":\"x\"}'); END;");
  char *before = sdb_dump(f->db);
  sdb_exec_fails(f->db, "SELECT es_submit('account', 'a1', 'OpenAccount', '{\"owner\":\"ada\"}')", SQLITE_MISUSE,
                 "es: misuse: view 'opened' failed on event 'AccountOpened' (position 1, account 'a1' version 1): "
                 "es_submit cannot run while es_submit is running on this connection (a decider, an evolver or a view"
                 " handler called it): run it after es_submit returns");
  sdb_dump_is(f->db, before);
  free(before);
  sdb_exec(f->db, "DROP TRIGGER temp.opened_echo");
  assert_int_equal(sdb_int(f->db, "SELECT es_submit('account', 'a1', 'OpenAccount', '{\"owner\":\"ada\"}')"), 1);
  sdb_rows_are(f->db, "SELECT id FROM opened", "a1\n");
}

int main(void) {
  const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, sdb_setup, sdb_teardown)
      T(test_calls_from_a_decider_are_refused),
      T(test_a_raised_refusal_fails_the_outer_command),
      T(test_calls_from_an_evolver_are_refused),
      T(test_a_view_handler_calling_es_submit),
#undef T
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
