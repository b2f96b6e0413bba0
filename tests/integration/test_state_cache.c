/*
** test_state_cache.c — the state cache against a real SQLite: a state is never used where it could
** be stale. A command rolled back by the caller (ROLLBACK, ROLLBACK TO a savepoint), another
** connection writing between two commands of this one (another process: tests/lang/python), a SQL aggregate
** redefined by another connection, a C aggregate registered anew: each next command decides on the
** state the log holds. With the cache on, a command folds only its own events; with
** es_config('state_cache', 0) it folds the whole stream, and the results are the same.
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

/* ----------------------- a tally that counts its evolves ----------------------- */

typedef struct tally_user {
  int evolves;
  int64_t add_bonus; /* what each Added adds beyond its n (to tell two registrations apart) */
} tally_user;

static tally_user users[4]; /* not on a test's stack: the registry outlives the test function */

static es_status add(void *user, const void *state, const es_command *cmd, es_emitter *out) {
  int64_t n;
  (void)user, (void)state;
  es_status rc = es_payload_int(cmd, "n", &n);
  return rc != ES_OK ? rc : es_set_int(es_emit(out, "Added"), "n", n);
}

static es_status sub(void *user, const void *state, const es_command *cmd, es_emitter *out) {
  int64_t n, total = *(const int64_t *)state;
  (void)user;
  es_status rc = es_payload_int(cmd, "n", &n);
  if (rc != ES_OK) return rc;
  if (n > total) return es_reject(out, "too_much", "total %lld is less than %lld", (long long)total, (long long)n);
  return es_set_int(es_emit(out, "Subtracted"), "n", n);
}

static es_status evolve_added(void *user, void *state, const es_event *ev) {
  tally_user *u = user;
  int64_t n;
  u->evolves++;
  es_status rc = es_event_int(ev, "n", &n);
  if (rc == ES_OK) *(int64_t *)state += n + u->add_bonus;
  return rc;
}

static es_status evolve_subtracted(void *user, void *state, const es_event *ev) {
  int64_t n;
  ((tally_user *)user)->evolves++;
  es_status rc = es_event_int(ev, "n", &n);
  if (rc == ES_OK) *(int64_t *)state -= n;
  return rc;
}

static es_status tally_json(void *user, const void *state, es_builder *out) {
  (void)user;
  return es_set_int(out, "total", *(const int64_t *)state);
}

static const es_command_handler tally_commands[] = {{"Add", add}, {"Sub", sub}};
static const es_event_handler tally_events[] = {{"Added", evolve_added}, {"Subtracted", evolve_subtracted}};
static const es_aggregate_type tally_type = {.iVersion = 1,
                                             .name = "tally",
                                             .state_size = sizeof(int64_t),
                                             .commands = tally_commands,
                                             .n_commands = 2,
                                             .events = tally_events,
                                             .n_events = 2,
                                             .xStateToJson = tally_json};

static void register_tally(sqlite3 *db, tally_user *u) {
  es_api *api = es_api_from_db(db);
  assert_non_null(api);
  assert_int_equal(api->xRegisterAggregate(api, &tally_type, u, 0), ES_OK);
}

static int setup(void **state) {
  memset(users, 0, sizeof(users));
  int rc = sdb_setup(state);
  if (rc == 0) register_tally(((fx *)*state)->db, &users[0]);
  return rc;
}

#define ADD(n) "SELECT es_submit('tally', 't1', 'Add', '{\"n\":" #n "}')"
#define SUB(n) "SELECT es_submit('tally', 't1', 'Sub', '{\"n\":" #n "}')"
#define TOTAL "SELECT json_extract(es_state('tally', 't1'), '$.total')"

static void too_much(sqlite3 *db, const char *sql, const char *msg) {
  sdb_exec_fails(db, sql, SQLITE_CONSTRAINT_FUNCTION, msg);
}

/* ----------------------- tests ----------------------- */

static void test_cached_state_folds_only_new_events(void **state) {
  fx *f = *state;
  for (int i = 1; i <= 20; i++) assert_int_equal(sdb_int(f->db, ADD(1)), i);
  assert_int_equal(users[0].evolves, 20); /* each event once: the state after it was cached */
  users[0].evolves = 0;
  assert_int_equal(sdb_int(f->db, "SELECT es_config('state_cache', 0)"), 0);
  assert_int_equal(sdb_int(f->db, ADD(1)), 21);
  assert_int_equal(users[0].evolves, 21); /* no cache: the whole stream */
  assert_int_equal(sdb_int(f->db, "SELECT es_config('state_cache', 5)"), 5);
  sdb_exec_fails(f->db, "SELECT es_config('state_cache', -1)", SQLITE_ERROR,
                 "es: invalid_argument: es_config('state_cache', \xE2\x80\xA6) takes 0 to 1000000000 (aggregate states kept)");
}

static void test_caller_rollback(void **state) {
  fx *f = *state;
  assert_int_equal(sdb_int(f->db, ADD(1)), 1);
  sdb_exec(f->db, "BEGIN");
  assert_int_equal(sdb_int(f->db, ADD(100)), 2);
  sdb_exec(f->db, "ROLLBACK");
  too_much(f->db, SUB(50), "es: rejected (too_much): total 1 is less than 50");
  assert_int_equal(sdb_int(f->db, ADD(2)), 2);
  assert_int_equal(sdb_int(f->db, TOTAL), 3);
}

static void test_savepoint_rollback(void **state) {
  fx *f = *state;
  assert_int_equal(sdb_int(f->db, ADD(1)), 1);
  sdb_exec(f->db, "BEGIN; SAVEPOINT mine");
  assert_int_equal(sdb_int(f->db, ADD(100)), 2);
  sdb_exec(f->db, "ROLLBACK TO mine; RELEASE mine");
  too_much(f->db, SUB(50), "es: rejected (too_much): total 1 is less than 50");
  assert_int_equal(sdb_int(f->db, ADD(5)), 2); /* the same version again, with other content */
  sdb_exec(f->db, "COMMIT");
  assert_int_equal(sdb_int(f->db, TOTAL), 6);
}

static void test_another_connection_writes(void **state) {
  fx *f = *state;
  sqlite3 *other = sdb_second(f);
  register_tally(other, &users[1]);
  assert_int_equal(sdb_int(f->db, ADD(100)), 1);   /* cached here: 100 */
  assert_int_equal(sdb_int(other, SUB(100)), 2);   /* there: 0 */
  too_much(f->db, SUB(50), "es: rejected (too_much): total 0 is less than 50");
  assert_int_equal(sdb_int(other, ADD(7)), 3);
  assert_int_equal(sdb_int(f->db, SUB(7)), 4);
  assert_int_equal(sdb_int(f->db, TOTAL), 0);
}

/* A C aggregate registered anew on the connection never meets the states of the old one. */
static void test_c_aggregate_registered_anew(void **state) {
  fx *f = *state;
  assert_int_equal(sdb_int(f->db, ADD(1)), 1);
  assert_int_equal(sdb_int(f->db, ADD(1)), 2);
  users[3].add_bonus = 10; /* the new code folds Added differently */
  register_tally(f->db, &users[3]);
  assert_int_equal(sdb_int(f->db, ADD(1)), 3);
  assert_int_equal(users[3].evolves, 3); /* folded from the start by the new code */
  assert_int_equal(sdb_int(f->db, TOTAL), 33);
}

/* A SQL aggregate redefined by another connection: the next command folds with the new evolver. */
static void test_sql_aggregate_redefined_elsewhere(void **state) {
  fx *f = *state;
  sdb_exec(f->db, "SELECT es_create_aggregate('box', '{\"n\":0}', '[\"Filled\"]');"
                  "CREATE VIEW box_fill AS SELECT 'Filled' AS type, json_object('seen', json_extract(state, '$.n')) AS data"
                  " FROM es_command;"
                  "SELECT es_create_decider('box', 'Fill', 'box_fill');"
                  "CREATE VIEW box_one AS SELECT json_set(state, '$.n', json_extract(state, '$.n') + 1) AS state FROM es_event;"
                  "CREATE VIEW box_ten AS SELECT json_set(state, '$.n', json_extract(state, '$.n') + 10) AS state FROM es_event;"
                  "SELECT es_create_evolver('box', 'box_one');");
  assert_int_equal(sdb_int(f->db, "SELECT es_submit('box', 'b', 'Fill')"), 1);
  assert_int_equal(sdb_int(f->db, "SELECT es_submit('box', 'b', 'Fill')"), 2); /* saw n = 1, cached n = 2 */
  sdb_exec(sdb_second(f), "SELECT es_create_evolver('box', 'box_ten')");
  assert_int_equal(sdb_int(f->db, "SELECT es_submit('box', 'b', 'Fill')"), 3);
  sdb_rows_are(f->db, "SELECT version, json_extract(data, '$.seen') FROM es_events WHERE aggregate_id = 'b'",
               "1|0\n2|1\n3|20\n");
}

/* Random commands on 7 streams from two connections, some rolled back by the caller, on a database
** with the cache on (limit 3: evictions too) and on another with it off: the same logs, the same
** states. Returns the log and the states as text. */
static char *random_run(const char *path, int limit) {
  sqlite3 *db = sdb_open(path), *other = sdb_open(path);
  register_tally(db, &users[1]);
  register_tally(other, &users[2]);
  char setting[64];
  snprintf(setting, sizeof setting, "SELECT es_config('state_cache', %d)", limit);
  sdb_exec(db, setting);
  sdb_exec(other, setting);
  unsigned seed = 7;
  for (int i = 0; i < 600; i++) {
    seed = seed * 1103515245u + 12345u;
    char sql[200];
    snprintf(sql, sizeof sql, "SELECT es_try_submit('tally', 't%u', '%s', '{\"n\":%u}')", (seed >> 8) % 7,
             (seed >> 4) % 3 ? "Add" : "Sub", (seed >> 12) % 50);
    sqlite3 *c = (seed >> 20) % 5 ? db : other;
    int rolled_back = (seed >> 16) % 11 == 0;
    if (rolled_back) sdb_exec(c, "BEGIN");
    free(sdb_text(c, sql));
    if (rolled_back) sdb_exec(c, "ROLLBACK");
  }
  char *log = sdb_rows(db, "SELECT * FROM (SELECT position, aggregate_id, version, type, data FROM es_events"
                           " UNION ALL SELECT 0, aggregate_id, count(*), es_state('tally', aggregate_id), NULL"
                           " FROM es_events GROUP BY aggregate_id) ORDER BY 1, 2");
  sdb_close(other);
  sdb_close(db);
  return log;
}

static void test_same_results_with_and_without(void **state) {
  fx *f = *state;
  char *on_path = sdb_join(f->dir, "on.db"), *off_path = sdb_join(f->dir, "off.db");
  char *on = random_run(on_path, 3), *off = random_run(off_path, 0);
  assert_string_equal(on, off);
  assert_true(strlen(on) > 1000);
  free(on);
  free(off);
  free(on_path);
  free(off_path);
}

int main(void) {
  const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, sdb_teardown)
      T(test_cached_state_folds_only_new_events),
      T(test_caller_rollback),
      T(test_savepoint_rollback),
      T(test_another_connection_writes),
      T(test_c_aggregate_registered_anew),
      T(test_sql_aggregate_redefined_elsewhere),
      T(test_same_results_with_and_without),
#undef T
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
