/*
** test_snapshots.c — snapshots against a real SQLite: a connection with nothing cached folds only
** the events after the stream's latest snapshot (taken every es_config('snapshot_every') events,
** in the command's transaction); a snapshot is used only under the fingerprint of the code that
** took it (state_version, events, state size; a SQL aggregate's evolvers) and when it is not ahead
** of the stream; a corrupted, deleted or stale snapshot only costs a fold from the start; a type
** without state_version takes none; es_snapshots is written by sqlite-es only, and anyone may delete
** from it; es_integrity_check is ok with snapshots present.
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

typedef struct tally_user {
  int evolves;
} tally_user;

static tally_user users[4]; /* the registry outlives each test function */

static es_status add(void *user, const void *state, const es_command *cmd, es_emitter *out) {
  int64_t n;
  (void)user, (void)state;
  es_status rc = es_payload_int(cmd, "n", &n);
  return rc != ES_OK ? rc : es_set_int(es_emit(out, "Added"), "n", n);
}

static es_status added(void *user, void *state, const es_event *ev) {
  int64_t n;
  ((tally_user *)user)->evolves++;
  es_status rc = es_event_int(ev, "n", &n);
  if (rc == ES_OK) *(int64_t *)state += n;
  return rc;
}

static es_status to_json(void *user, const void *state, es_builder *out) {
  (void)user;
  return es_set_int(out, "total", *(const int64_t *)state);
}

static es_status from_json(void *user, void *state, const es_object *in) {
  (void)user;
  return es_get_int(in, "total", (int64_t *)state);
}

static const es_command_handler commands[] = {{"Add", add}};
static const es_event_handler events[] = {{"Added", added}};

static es_aggregate_type tally(const char *state_version) {
  es_aggregate_type t = {.iVersion = 2,
                         .name = "tally",
                         .state_size = sizeof(int64_t),
                         .commands = commands,
                         .n_commands = 1,
                         .events = events,
                         .n_events = 1,
                         .xStateToJson = to_json,
                         .xStateFromJson = from_json,
                         .state_version = state_version};
  return t;
}

static void register_tally(sqlite3 *db, tally_user *u, const char *state_version) {
  es_api *api = es_api_from_db(db);
  es_aggregate_type t = tally(state_version);
  assert_non_null(api);
  assert_int_equal(api->xRegisterAggregate(api, &t, u, 0), ES_OK);
}

static int setup(void **state) {
  memset(users, 0, sizeof(users));
  return sdb_setup(state);
}

#define ADD "SELECT es_submit('tally', 't1', 'Add', '{\"n\":1}')"
#define TOTAL "SELECT json_extract(es_state('tally', 't1'), '$.total')"
#define SNAPSHOTS "SELECT aggregate_type, aggregate_id, version, state FROM es_snapshots ORDER BY 1, 2"

/* A new connection to the database: nothing cached. */
static sqlite3 *cold(fx *f, tally_user *u, const char *state_version) {
  if (f->db2) sdb_close(f->db2);
  f->db2 = 0;
  sqlite3 *db = sdb_second(f);
  register_tally(db, u, state_version);
  return db;
}

static void adds(sqlite3 *db, int n) {
  sdb_exec(db, "BEGIN");
  for (int i = 0; i < n; i++) sdb_exec(db, ADD);
  sdb_exec(db, "COMMIT");
}

static void test_cold_start_folds_from_the_snapshot(void **state) {
  fx *f = *state;
  register_tally(f->db, &users[0], "1");
  assert_int_equal(sdb_int(f->db, "SELECT es_config('snapshot_every')"), 100);
  adds(f->db, 250);
  sdb_rows_are(f->db, SNAPSHOTS, "tally|t1|200|{\"total\":200}\n");
  sqlite3 *db = cold(f, &users[1], "1");
  assert_int_equal(sdb_int(db, ADD), 251);
  assert_int_equal(users[1].evolves, 51); /* 201..250 from the log, then its own */
  assert_int_equal(sdb_int(db, TOTAL), 251);
  sdb_text_is(db, "SELECT kind FROM es_integrity_check", "ok");
}

static void test_snapshot_in_the_commands_transaction(void **state) {
  fx *f = *state;
  register_tally(f->db, &users[0], "1");
  adds(f->db, 99);
  sdb_exec(f->db, "BEGIN");
  assert_int_equal(sdb_int(f->db, ADD), 100);
  sdb_rows_are(f->db, "SELECT version FROM es_snapshots", "100\n");
  sdb_exec(f->db, "ROLLBACK");
  sdb_rows_are(f->db, "SELECT version FROM es_snapshots", "");
  assert_int_equal(sdb_int(f->db, ADD), 100);
  sdb_rows_are(f->db, "SELECT version FROM es_snapshots", "100\n");
}

static void test_other_code_never_uses_it(void **state) {
  fx *f = *state;
  register_tally(f->db, &users[0], "1");
  adds(f->db, 150);
  sqlite3 *db = cold(f, &users[1], "2"); /* the evolve changed: the old snapshot is not its own */
  assert_int_equal(sdb_int(db, ADD), 151);
  assert_int_equal(users[1].evolves, 151);
  assert_int_equal(sdb_int(db, "SELECT count(*) FROM es_snapshots"), 1); /* version 100 under "1" */
  adds(db, 49);
  assert_int_equal(sdb_int(db, "SELECT count(*) FROM es_snapshots"), 2); /* version 200 under "2" */
  db = cold(f, &users[2], 0); /* no state_version: no snapshot is used, none is taken */
  adds(db, 100);
  assert_int_equal(users[2].evolves, 300);
  assert_int_equal(sdb_int(db, "SELECT count(*) FROM es_snapshots"), 2);
}

static void test_stale_or_corrupt_snapshots_only_cost_time(void **state) {
  fx *f = *state;
  register_tally(f->db, &users[0], "1");
  adds(f->db, 120);
  /* ahead of the stream, and then unreadable: through a connection with the guard dropped */
  sqlite3 *plain = sdb_open_with(f->path, 0, 0);
  sdb_exec(plain, "DROP TRIGGER es_snapshots_update_guard; UPDATE es_snapshots SET version = 500, state = '{\"total\":500}'");
  sdb_close(plain);
  sqlite3 *db = cold(f, &users[1], "1");
  assert_int_equal(sdb_int(db, "SELECT es_protect()"), 1);
  assert_int_equal(sdb_int(db, ADD), 121);
  assert_int_equal(users[1].evolves, 121); /* ahead of the stream: not used */
  assert_int_equal(sdb_int(db, TOTAL), 121);
  plain = sdb_open_with(f->path, 0, 0);
  sdb_exec(plain, "DROP TRIGGER es_snapshots_update_guard; UPDATE es_snapshots SET version = 100, state = 'not json'");
  sdb_close(plain);
  db = cold(f, &users[2], "1");
  assert_int_equal(sdb_int(db, "SELECT es_protect()"), 1);
  assert_int_equal(sdb_int(db, ADD), 122);
  assert_int_equal(users[2].evolves, 122);
  plain = sdb_open_with(f->path, 0, 0);
  sdb_exec(plain, "DROP TRIGGER es_snapshots_update_guard; UPDATE es_snapshots SET state = '{\"total\":\"many\"}'");
  sdb_close(plain);
  db = cold(f, &users[3], "1");
  assert_int_equal(sdb_int(db, "SELECT es_protect()"), 1);
  assert_int_equal(sdb_int(db, ADD), 123);
  assert_int_equal(users[3].evolves, 123);
  assert_int_equal(sdb_int(db, TOTAL), 123);
}

static void test_deleting_snapshots(void **state) {
  fx *f = *state;
  register_tally(f->db, &users[0], "1");
  adds(f->db, 100);
  const char *msg = "es: protected: es_snapshots holds snapshots of aggregate states: sqlite-es takes them (delete them"
                    " at will: they only save time)";
  sdb_exec_fails(f->db, "INSERT INTO es_snapshots VALUES ('tally', 't1', 'x', 1, '{}', 'now')", SQLITE_CONSTRAINT_TRIGGER,
                 msg);
  sdb_exec_fails(f->db, "UPDATE es_snapshots SET version = 1", SQLITE_CONSTRAINT_TRIGGER, msg);
  sdb_exec(f->db, "DELETE FROM es_snapshots"); /* anyone may: they only save time */
  sqlite3 *db = cold(f, &users[1], "1");
  assert_int_equal(sdb_int(db, ADD), 101);
  assert_int_equal(users[1].evolves, 101);
  assert_int_equal(sdb_int(db, TOTAL), 101);
}

static void test_snapshot_every(void **state) {
  fx *f = *state;
  register_tally(f->db, &users[0], "1");
  assert_int_equal(sdb_int(f->db, "SELECT es_config('snapshot_every', 0)"), 0);
  adds(f->db, 150);
  assert_int_equal(sdb_int(f->db, "SELECT count(*) FROM es_snapshots"), 0);
  assert_int_equal(sdb_int(f->db, "SELECT es_config('snapshot_every', 1)"), 1);
  sdb_exec(f->db, ADD);
  sdb_rows_are(f->db, "SELECT version FROM es_snapshots", "151\n");
  sdb_exec_fails(f->db, "SELECT es_config('snapshot_every', -1)", SQLITE_ERROR,
                 "es: invalid_argument: es_config('snapshot_every', \xE2\x80\xA6) takes 0 to 1000000000 (events)");
}

/* A SQL aggregate's fingerprint covers its evolvers: redefined, its old snapshots go unused. */
static void test_sql_aggregate_redefined(void **state) {
  fx *f = *state;
  sdb_exec(f->db, "SELECT es_config('snapshot_every', 2);"
                  "SELECT es_create_aggregate('box', '{\"n\":0}', '[\"Filled\"]');"
                  "CREATE VIEW box_fill AS SELECT 'Filled' AS type, json_object('seen', json_extract(state, '$.n')) AS data"
                  " FROM es_command;"
                  "SELECT es_create_decider('box', 'Fill', 'box_fill');"
                  "CREATE VIEW box_one AS SELECT json_set(state, '$.n', json_extract(state, '$.n') + 1) AS state FROM es_event;"
                  "CREATE VIEW box_ten AS SELECT json_set(state, '$.n', json_extract(state, '$.n') + 10) AS state FROM es_event;"
                  "SELECT es_create_evolver('box', 'box_one');");
  for (int i = 1; i <= 4; i++) assert_int_equal(sdb_int(f->db, "SELECT es_submit('box', 'b', 'Fill')"), i);
  sdb_rows_are(f->db, "SELECT version, state FROM es_snapshots WHERE aggregate_type = 'box'", "4|{\"n\":4}\n");
  sdb_exec(f->db, "SELECT es_create_evolver('box', 'box_ten'); SELECT es_config('state_cache', 0)");
  assert_int_equal(sdb_int(f->db, "SELECT es_submit('box', 'b', 'Fill')"), 5);
  sdb_rows_are(f->db, "SELECT json_extract(data, '$.seen') FROM es_events WHERE version = 5", "40\n");
  sdb_rows_are(f->db, "SELECT count(*) FROM es_snapshots WHERE aggregate_type = 'box'", "1\n");
  assert_int_equal(sdb_int(f->db, "SELECT es_submit('box', 'b', 'Fill')"), 6);
  sdb_rows_are(f->db, "SELECT version, state FROM es_snapshots WHERE aggregate_type = 'box' ORDER BY version",
               "4|{\"n\":4}\n6|{\"n\":60}\n");
}

int main(void) {
  const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, sdb_teardown)
      T(test_cold_start_folds_from_the_snapshot),
      T(test_snapshot_in_the_commands_transaction),
      T(test_other_code_never_uses_it),
      T(test_stale_or_corrupt_snapshots_only_cost_time),
      T(test_deleting_snapshots),
      T(test_snapshot_every),
      T(test_sql_aggregate_redefined),
#undef T
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
