/*
** test_sql_aggregate_context.c — what a SQL aggregate's views see and return, against a real SQLite
** (and under ASan and valgrind, where a view reading freed memory fails the run): es_command and
** es_event show the context without copying it, for as long as the view runs (a second row
** included, a sort or a materialized subquery included); an evolver that returns two rows, the
** second reading the state, is refused with its message and changes nothing; es_payload_int and
** es_payload_text read the payload the command loop parsed, as often as a decider asks; a stream
** whose events differ in size replays to the state its commands left.
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

/* An aggregate 'notes': Add appends text to the state's list (the evolver rebuilds it through a
** sort, so the state passes through a sorter), Echo returns two events built from everything the
** decider sees, Check reads the payload many times and may reject. */
static const char *const notes_sql =
    "SELECT es_create_aggregate('notes', '{\"items\":[],\"n\":0}', '[\"Added\", \"Echoed\", \"Noted\"]');"
    "CREATE VIEW notes_add AS SELECT 'Added' AS type, json_object('text', es_payload_text('text')) AS data"
    "  FROM es_command;"
    "SELECT es_create_decider('notes', 'Add', 'notes_add');"
    "CREATE VIEW notes_echo AS"
    "  SELECT 'Echoed' AS type, json_object('state', json(state), 'payload', json(payload), 'id', aggregate_id,"
    "                                       'command', command_type, 'version', version) AS data FROM es_command"
    "  UNION ALL SELECT 'Echoed', json_object('again', json(state)) FROM es_command;"
    "SELECT es_create_decider('notes', 'Echo', 'notes_echo');"
    "CREATE VIEW notes_check AS"
    "  SELECT 'Noted' AS type, json_object('n', es_payload_int('n'), 'text', es_payload_text('text')) AS data"
    "  FROM es_command"
    "  WHERE es_require(es_payload_int('n') > 0, 'not_positive', 'n is ' || es_payload_int('n'))"
    "    AND es_require(length(es_payload_text('text')) < 10, 'too_long', es_payload_text('text') || ' is too long');"
    "SELECT es_create_decider('notes', 'Check', 'notes_check');"
    "CREATE VIEW notes_evolve AS"
    "  SELECT CASE type WHEN 'Added' THEN json_set(s, '$.items[#]', data ->> 'text', '$.n', (s ->> 'n') + 1)"
    "                   ELSE json_set(s, '$.n', (s ->> 'n') + 1) END AS state"
    "  FROM (SELECT type, data, state AS s FROM es_event ORDER BY position);"
    "SELECT es_create_evolver('notes', 'notes_evolve');";

static int setup(void **state) {
  if (sdb_setup(state)) return -1;
  fx *f = *state;
  sdb_exec(f->db, notes_sql);
  return 0;
}

/* The text of one es_try_submit. */
static void submit_is(sqlite3 *db, const char *args, const char *want) {
  char *sql = sqlite3_mprintf("SELECT es_try_submit('notes', %s)", args);
  sdb_text_is(db, sql, want);
  sqlite3_free(sql);
}

/* ----------------------- tests ----------------------- */

/* Long texts and a state that grows: what the views read is what the log and the state hold. */
static void test_views_see_the_context(void **state) {
  fx *f = *state;
  char big[3001];
  memset(big, 'x', sizeof big - 1);
  big[sizeof big - 1] = 0;
  char *args = sqlite3_mprintf("'n1', 'Add', json_object('text', '%s')", big);
  submit_is(f->db, "'n1', 'Add', '{\"text\":\"caf\xC3\xA9 \\\"q\\\"\"}'",
            "{\"ok\":true,\"version\":1,\"position\":1,\"events\":1}");
  char *sql = sqlite3_mprintf("SELECT es_try_submit('notes', %s)", args);
  sdb_text_is(f->db, sql, "{\"ok\":true,\"version\":2,\"position\":2,\"events\":1}");
  sqlite3_free(sql);
  sqlite3_free(args);
  submit_is(f->db, "'n1', 'Echo', '{\"k\":[1,{\"z\":null}]}'", "{\"ok\":true,\"version\":4,\"position\":4,\"events\":2}");
  char *want = sqlite3_mprintf("{\"state\":{\"items\":[\"caf\xC3\xA9 \\\"q\\\"\",\"%s\"],\"n\":2},"
                               "\"payload\":{\"k\":[1,{\"z\":null}]},\"id\":\"n1\",\"command\":\"Echo\",\"version\":2}",
                               big);
  sdb_text_is(f->db, "SELECT data FROM es_events WHERE version = 3", want);
  sqlite3_free(want);
  want = sqlite3_mprintf("{\"items\":[\"caf\xC3\xA9 \\\"q\\\"\",\"%s\"],\"n\":4}", big);
  sdb_text_is(f->db, "SELECT es_state('notes', 'n1')", want);
  /* the same state folded from the log alone, on another connection */
  sdb_text_is(sdb_second(f), "SELECT es_state('notes', 'n1')", want);
  sqlite3_free(want);
}

/* An evolver returning a second row that reads the state (the old one, still in place) is refused,
** by a command and by es_state; nothing is appended, and a working evolver finds the state intact. */
static void test_evolver_with_two_rows(void **state) {
  fx *f = *state;
  submit_is(f->db, "'n2', 'Add', '{\"text\":\"a\"}'", "{\"ok\":true,\"version\":1,\"position\":1,\"events\":1}");
  sdb_exec(f->db, "CREATE VIEW notes_two AS"
                  "  SELECT json_set(state, '$.n', 100) AS state FROM es_event"
                  "  UNION ALL SELECT json_set(state, '$.m', length(state)) FROM es_event;"
                  "SELECT es_create_evolver('notes', 'notes_two', 'Noted');");
  submit_is(f->db, "'n2', 'Check', '{\"n\":1,\"text\":\"b\"}'",
            "{\"ok\":false,\"error\":\"invalid_argument\",\"reason\":null,\"message\":\"evolving event 'Noted' version 2"
            " of notes 'n2': evolver notes_two returned more than one row for event 'Noted'\"}");
  sdb_text_is(f->db, "SELECT count(*) FROM es_events", "1");
  sdb_text_is(f->db, "SELECT es_state('notes', 'n2')", "{\"items\":[\"a\"],\"n\":1}");
  /* on replay: a Noted event in the log (appended under the working evolver) meets notes_two */
  sdb_exec(f->db, "SELECT es_create_evolver('notes', 'notes_evolve', 'Noted')");
  submit_is(f->db, "'n2', 'Check', '{\"n\":1,\"text\":\"b\"}'", "{\"ok\":true,\"version\":2,\"position\":2,\"events\":1}");
  sdb_exec(f->db, "SELECT es_create_evolver('notes', 'notes_two', 'Noted')");
  sdb_exec_fails(f->db, "SELECT es_state('notes', 'n2')", SQLITE_ERROR,
                 "es: invalid_argument: evolving event 'Noted' version 2 of notes 'n2': evolver notes_two returned"
                 " more than one row for event 'Noted'");
  sdb_exec(f->db, "SELECT es_create_evolver('notes', 'notes_evolve', 'Noted')");
  sdb_text_is(f->db, "SELECT es_state('notes', 'n2')", "{\"items\":[\"a\"],\"n\":2}");
}

/* es_payload_int and es_payload_text, read several times in one decider, with their checks. */
static void test_payload_read_many_times(void **state) {
  fx *f = *state;
  submit_is(f->db, "'n3', 'Check', '{\"text\":\"\\u00e9\\n\",\"n\":3}'",
            "{\"ok\":true,\"version\":1,\"position\":1,\"events\":1}");
  sdb_text_is(f->db, "SELECT data FROM es_events", "{\"n\":3,\"text\":\"\xC3\xA9\\n\"}");
  submit_is(f->db, "'n3', 'Check', '{\"text\":\"b\",\"n\":0}'",
            "{\"ok\":false,\"error\":\"rejected\",\"reason\":\"not_positive\",\"message\":\"n is 0\"}");
  submit_is(f->db, "'n3', 'Check', '{\"text\":\"0123456789\",\"n\":1}'",
            "{\"ok\":false,\"error\":\"rejected\",\"reason\":\"too_long\",\"message\":\"0123456789 is too long\"}");
  submit_is(f->db, "'n3', 'Check', '{\"text\":\"b\",\"n\":\"1\"}'",
            "{\"ok\":false,\"error\":\"invalid_payload\",\"reason\":null,\"message\":\"payload field 'n' must be an"
            " integer, got string\"}");
  submit_is(f->db, "'n3', 'Check', '{\"n\":1}'",
            "{\"ok\":false,\"error\":\"invalid_payload\",\"reason\":null,\"message\":\"payload field 'text' is"
            " missing\"}");
  sdb_text_is(f->db, "SELECT count(*) FROM es_events", "1");
}

/* Events of very different sizes, one after another, replay to the state the commands left. */
static void test_replay_of_events_of_every_size(void **state) {
  fx *f = *state;
  sdb_exec(f->db, "SELECT es_config('state_cache', 0)");
  for (int i = 0; i < 60; i++) {
    int len = i % 3 == 0 ? 1 : i % 3 == 1 ? 200 + i : 5000 + i;
    char *sql = sqlite3_mprintf("SELECT es_submit('notes', 'n4', 'Add', json_object('text', printf('%%.*c', %d, 'a')))",
                                len);
    sdb_exec(f->db, sql);
    sqlite3_free(sql);
  }
  char *folded = sdb_text(f->db, "SELECT es_state('notes', 'n4')");
  char *want = sdb_text(f->db, "SELECT json_object('items', json((SELECT json_group_array(data ->> 'text') FROM"
                               " (SELECT data FROM es_events WHERE aggregate_id = 'n4' ORDER BY version))), 'n', 60)");
  char *other = sdb_text(sdb_second(f), "SELECT es_state('notes', 'n4')");
  assert_true(strlen(want) > 100000);
  assert_string_equal(folded, want);
  assert_string_equal(other, want);
  free(other);
  free(want);
  free(folded);
}

int main(void) {
  const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, sdb_teardown)
      T(test_views_see_the_context),
      T(test_evolver_with_two_rows),
      T(test_payload_read_many_times),
      T(test_replay_of_events_of_every_size),
#undef T
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
