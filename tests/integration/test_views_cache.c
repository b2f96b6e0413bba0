/*
** test_views_cache.c — what a command keeps between calls to bring read models up to date
** (ext/store/views.c, view_writer.c), against a real SQLite: es_views is read once and kept while
** it is known to be current, each SQL view's feed statement is prepared once, and none of it is
** ever used where it could be stale. A view defined, redefined or dropped in a transaction (or
** savepoint) that is rolled back — without any DDL, so no schema change tells — is fed by the next
** command as the database holds it, also inside the same transaction; es_views dropped by DDL, also
** in a transaction rolled back before other DDL reaches the same schema version, is read again; a
** redefinition is used at once by the commands after it in its own transaction; another
** connection defining, redefining
** (no DDL either: only PRAGMA data_version tells) or dropping a view between two commands is
** seen; a C view attached in a rolled-back transaction or savepoint is attached again; a view's table
** recreated with another primary key is written under its new key.
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

#define OPEN(id) "SELECT es_submit('account', '" id "', 'OpenAccount', '{\"owner\":\"ada\"}')"
#define DEPOSIT(id, n) "SELECT es_submit('account', '" id "', 'Deposit', '{\"amount\":" #n "}')"

/*
** The read model `tags`: one row per event, saying which feed fed it. Two feeds, each with one
** handler, so that redefining tags from one to the other changes es_views and nothing else.
*/
static const char tags_sql[] =
    "CREATE TABLE tags(position INTEGER PRIMARY KEY, via TEXT NOT NULL);"
    "CREATE VIEW tags_f1 AS SELECT position, type FROM es_events;"
    "CREATE VIEW tags_f2 AS SELECT position, type FROM es_events;"
    "CREATE TRIGGER tags_f1_on INSTEAD OF INSERT ON tags_f1 BEGIN"
    "  INSERT INTO tags(position, via) VALUES (NEW.position, 'f1'); END;"
    "CREATE TRIGGER tags_f2_on INSTEAD OF INSERT ON tags_f2 BEGIN"
    "  INSERT INTO tags(position, via) VALUES (NEW.position, 'f2'); END;";

#define TAGS "SELECT position, via FROM tags ORDER BY position"
#define FEEDS "SELECT name, kind FROM es_projections ORDER BY name"

/* The bank's storage with one event, and the tables and feeds of `tags` (not defined yet). */
static void prepare(sqlite3 *db) {
  assert_int_equal(sdb_int(db, OPEN("a1")), 1);
  sdb_exec(db, tags_sql);
}

static sqlite3_int64 schema_version(sqlite3 *db) { return sdb_int(db, "PRAGMA main.schema_version"); }

/* ----------------------- rolled back without DDL ----------------------- */

/* A definition rolled back (ROLLBACK, ROLLBACK TO): the next command feeds nothing to it. */
static void test_rolled_back_definition_is_not_fed(void **state) {
  fx *f = *state;
  prepare(f->db);
  assert_int_equal(sdb_int(f->db, DEPOSIT("a1", 1)), 2); /* es_views read (no view) before the definition */
  sdb_exec(f->db, "BEGIN");
  assert_int_equal(sdb_int(f->db, "SELECT es_create_view('tags', 'tags_f1')"), 2);
  sdb_exec(f->db, "ROLLBACK");
  assert_int_equal(sdb_int(f->db, DEPOSIT("a1", 1)), 3);
  sdb_rows_are(f->db, TAGS, "");
  assert_int_equal(sdb_int(f->db, "SELECT count(*) FROM sqlite_schema WHERE name = 'es_views'"), 0);

  sdb_exec(f->db, "BEGIN; SAVEPOINT a");
  assert_int_equal(sdb_int(f->db, "SELECT es_create_view('tags', 'tags_f1')"), 3);
  assert_int_equal(sdb_int(f->db, DEPOSIT("a1", 1)), 4); /* fed: the definition stands so far */
  sdb_rows_are(f->db, TAGS, "1|f1\n2|f1\n3|f1\n4|f1\n");
  sdb_exec(f->db, "ROLLBACK TO a; RELEASE a");
  assert_int_equal(sdb_int(f->db, DEPOSIT("a1", 1)), 4);
  sdb_exec(f->db, "COMMIT");
  sdb_rows_are(f->db, TAGS, "");
  assert_int_equal(sdb_int(f->db, "SELECT count(*) FROM sqlite_schema WHERE name = 'es_views'"), 0);
}

/* A redefinition changes one row of es_views and no schema: rolled back, the next command (in
** the same transaction or not) feeds the old definition; kept, every command after it feeds the
** new one. */
static void test_rolled_back_redefinition(void **state) {
  fx *f = *state;
  prepare(f->db);
  assert_int_equal(sdb_int(f->db, "SELECT es_create_view('tags', 'tags_f1')"), 1);
  assert_int_equal(sdb_int(f->db, DEPOSIT("a1", 1)), 2);
  sdb_rows_are(f->db, TAGS, "1|f1\n2|f1\n");
  sqlite3_int64 version = schema_version(f->db);

  /* ROLLBACK, then a command outside any transaction */
  sdb_exec(f->db, "BEGIN");
  assert_int_equal(sdb_int(f->db, "SELECT es_create_view('tags', 'tags_f2')"), 2);
  assert_int_equal(schema_version(f->db), version); /* no DDL: nothing but es_views changed */
  sdb_rows_are(f->db, TAGS, "1|f2\n2|f2\n");
  sdb_exec(f->db, "ROLLBACK");
  assert_int_equal(sdb_int(f->db, DEPOSIT("a1", 1)), 3);
  sdb_rows_are(f->db, TAGS, "1|f1\n2|f1\n3|f1\n");

  /* ROLLBACK after a command fed the new definition, then a command outside any transaction */
  sdb_exec(f->db, "BEGIN");
  assert_int_equal(sdb_int(f->db, "SELECT es_create_view('tags', 'tags_f2')"), 3);
  assert_int_equal(sdb_int(f->db, DEPOSIT("a1", 1)), 4);
  sdb_rows_are(f->db, TAGS, "1|f2\n2|f2\n3|f2\n4|f2\n");
  sdb_exec(f->db, "ROLLBACK");
  assert_int_equal(schema_version(f->db), version);
  assert_int_equal(sdb_int(f->db, DEPOSIT("a1", 1)), 4);
  sdb_rows_are(f->db, TAGS, "1|f1\n2|f1\n3|f1\n4|f1\n");

  /* ROLLBACK TO after a command fed the new definition, then a command in the same transaction */
  sdb_exec(f->db, "BEGIN; SAVEPOINT a");
  assert_int_equal(sdb_int(f->db, "SELECT es_create_view('tags', 'tags_f2')"), 4);
  assert_int_equal(sdb_int(f->db, DEPOSIT("a1", 1)), 5);
  sdb_rows_are(f->db, TAGS, "1|f2\n2|f2\n3|f2\n4|f2\n5|f2\n");
  sdb_exec(f->db, "ROLLBACK TO a; RELEASE a");
  assert_int_equal(schema_version(f->db), version);
  assert_int_equal(sdb_int(f->db, DEPOSIT("a1", 1)), 5);
  assert_int_equal(sdb_int(f->db, DEPOSIT("a1", 1)), 6);
  sdb_exec(f->db, "COMMIT");
  sdb_rows_are(f->db, TAGS, "1|f1\n2|f1\n3|f1\n4|f1\n5|f1\n6|f1\n");

  /* kept: the commands after it in its transaction, and after the commit, feed the new one */
  sdb_exec(f->db, "BEGIN");
  assert_int_equal(sdb_int(f->db, "SELECT es_create_view('tags', 'tags_f2')"), 6);
  assert_int_equal(sdb_int(f->db, DEPOSIT("a1", 1)), 7);
  sdb_exec(f->db, "COMMIT");
  assert_int_equal(sdb_int(f->db, DEPOSIT("a1", 1)), 8);
  sdb_rows_are(f->db, TAGS, "1|f2\n2|f2\n3|f2\n4|f2\n5|f2\n6|f2\n7|f2\n8|f2\n");
  sdb_rows_are(f->db, "SELECT name, kind, position, lag FROM es_projections", "tags|sql|8|0\n");
}

/* A view dropped in a transaction or savepoint that is rolled back is fed again. */
static void test_rolled_back_drop(void **state) {
  fx *f = *state;
  prepare(f->db);
  assert_int_equal(sdb_int(f->db, "SELECT es_create_view('tags', 'tags_f1')"), 1);
  assert_int_equal(sdb_int(f->db, DEPOSIT("a1", 1)), 2);
  sdb_exec(f->db, "BEGIN");
  assert_int_equal(sdb_int(f->db, "SELECT es_drop_view('tags')"), 1);
  assert_int_equal(sdb_int(f->db, DEPOSIT("a1", 1)), 3); /* not fed: it is forgotten so far */
  sdb_exec(f->db, "ROLLBACK");
  assert_int_equal(sdb_int(f->db, DEPOSIT("a1", 1)), 3);
  sdb_rows_are(f->db, TAGS, "1|f1\n2|f1\n3|f1\n");

  sdb_exec(f->db, "BEGIN; SAVEPOINT a");
  assert_int_equal(sdb_int(f->db, "SELECT es_drop_view('tags')"), 1);
  sdb_exec(f->db, "ROLLBACK TO a; RELEASE a");
  assert_int_equal(sdb_int(f->db, DEPOSIT("a1", 1)), 4);
  sdb_exec(f->db, "COMMIT");
  sdb_rows_are(f->db, TAGS, "1|f1\n2|f1\n3|f1\n4|f1\n");
  sdb_rows_are(f->db, FEEDS, "tags|sql\n");
}

/* ----------------------- DDL ----------------------- */

/*
** es_views dropped by DDL of this connection: the next command feeds nothing. Dropped in a
** transaction that is rolled back, then other DDL that brings the schema version back to the
** number it had in that transaction: only the re-prepare count tells, and the view is fed again.
*/
static void test_schema_change_rereads(void **state) {
  fx *f = *state;
  prepare(f->db);
  assert_int_equal(sdb_int(f->db, "SELECT es_create_view('tags', 'tags_f1')"), 1);
  assert_int_equal(sdb_int(f->db, DEPOSIT("a1", 1)), 2);
  sqlite3_int64 version = schema_version(f->db);
  sdb_exec(f->db, "BEGIN; DROP TABLE es_views");
  assert_int_equal(sdb_int(f->db, DEPOSIT("a1", 1)), 3); /* no view: es_views is gone */
  assert_int_equal(schema_version(f->db), version + 1);
  sdb_exec(f->db, "ROLLBACK; CREATE TABLE unrelated(x)");
  assert_int_equal(schema_version(f->db), version + 1);
  assert_int_equal(sdb_int(f->db, DEPOSIT("a1", 1)), 3);
  sdb_rows_are(f->db, TAGS, "1|f1\n2|f1\n3|f1\n");
  sdb_exec(f->db, "DROP TABLE es_views");
  assert_int_equal(sdb_int(f->db, DEPOSIT("a1", 1)), 4);
  sdb_rows_are(f->db, TAGS, "1|f1\n2|f1\n3|f1\n");
}

/* ----------------------- another connection ----------------------- */

/* Another connection redefines (no DDL: only the data version tells), drops and defines again a
** view between two commands of this one: each next command feeds what the database says. */
static void test_other_connection_changes_views(void **state) {
  fx *f = *state;
  sqlite3 *other = sdb_second(f);
  prepare(f->db);
  assert_int_equal(sdb_int(f->db, "SELECT es_create_view('tags', 'tags_f1')"), 1);
  assert_int_equal(sdb_int(f->db, DEPOSIT("a1", 1)), 2);
  sqlite3_int64 version = schema_version(f->db);

  assert_int_equal(sdb_int(other, "SELECT es_create_view('tags', 'tags_f2')"), 2);
  assert_int_equal(schema_version(f->db), version);
  assert_int_equal(sdb_int(f->db, DEPOSIT("a1", 1)), 3);
  sdb_rows_are(f->db, TAGS, "1|f2\n2|f2\n3|f2\n");

  assert_int_equal(sdb_int(other, "SELECT es_drop_view('tags')"), 1);
  assert_int_equal(sdb_int(f->db, DEPOSIT("a1", 1)), 4);
  sdb_rows_are(f->db, TAGS, "1|f2\n2|f2\n3|f2\n");

  assert_int_equal(sdb_int(other, "SELECT es_create_view('tags', 'tags_f1')"), 4);
  assert_int_equal(sdb_int(f->db, DEPOSIT("a1", 1)), 5);
  sdb_rows_are(f->db, TAGS, "1|f1\n2|f1\n3|f1\n4|f1\n5|f1\n");
  sdb_rows_are(other, FEEDS, "tags|sql\n");
}

/* ----------------------- C views ----------------------- */

/* kv: the last deposit of each account, upserted by the table's primary key. */
static es_status kv_fold(void *user, const es_event *ev, es_view_writer *out) {
  int64_t amount;
  (void)user;
  es_status rc = es_event_int(ev, "amount", &amount);
  if (rc != ES_OK) return rc;
  es_builder *b = es_view_row(out);
  es_set_text(b, "k", es_event_aggregate_id(ev));
  es_set_int(b, "n", amount);
  return es_view_upsert(out);
}

static const char *const deposited[] = {"Deposited"};

static const es_view_type kv_view = {
    .iVersion = 1,
    .name = "kv",
    .columns = "k TEXT PRIMARY KEY, n INTEGER NOT NULL",
    .event_types = deposited,
    .n_event_types = 1,
    .fold = kv_fold,
};

/* kv2: the same fold, another table. */
static const es_view_type kv2_view = {
    .iVersion = 1,
    .name = "kv2",
    .columns = "k TEXT PRIMARY KEY, n INTEGER NOT NULL",
    .event_types = deposited,
    .n_event_types = 1,
    .fold = kv_fold,
};

static void register_kv2(sqlite3 *db) {
  es_api *api = es_api_from_db(db);
  assert_non_null(api);
  assert_int_equal(api->xRegisterView(api, &kv2_view, 0, 0), ES_OK);
}

static void register_kv(sqlite3 *db, es_status want) {
  es_api *api = es_api_from_db(db);
  assert_non_null(api);
  assert_int_equal(api->xRegisterView(api, &kv_view, 0, 0), want);
}

/* A C view attached inside a transaction that is rolled back: the next command attaches it again
** and builds it from the whole log. */
static void test_attach_rolled_back(void **state) {
  fx *f = *state;
  prepare(f->db);
  assert_int_equal(sdb_int(f->db, DEPOSIT("a1", 5)), 2);
  sdb_exec(f->db, "BEGIN");
  register_kv(f->db, ES_OK);
  sdb_rows_are(f->db, "SELECT k, n FROM kv", "a1|5\n");
  sdb_exec(f->db, "ROLLBACK");
  assert_int_equal(sdb_int(f->db, "SELECT count(*) FROM sqlite_schema WHERE name = 'kv'"), 0);
  assert_int_equal(sdb_int(f->db, DEPOSIT("a1", 7)), 3);
  sdb_rows_are(f->db, "SELECT k, n FROM kv", "a1|7\n");
  sdb_rows_are(f->db, "SELECT name, kind, position FROM es_projections", "kv|c|3\n");
}

/*
** A C view attached in a savepoint (its table and guards are DDL) and a command after it, then
** ROLLBACK TO: es_views as the command after the attach read it is not used again (the rollback
** of DDL expired every statement): the next command, in the same transaction, attaches it again.
*/
static void test_attach_rolled_back_in_transaction(void **state) {
  fx *f = *state;
  prepare(f->db);
  assert_int_equal(sdb_int(f->db, DEPOSIT("a1", 5)), 2);
  sdb_exec(f->db, "BEGIN; SAVEPOINT a");
  register_kv(f->db, ES_OK);
  assert_int_equal(sdb_int(f->db, DEPOSIT("a1", 6)), 3);
  assert_int_equal(sdb_int(f->db, DEPOSIT("a1", 7)), 4);
  sdb_rows_are(f->db, "SELECT k, n FROM kv", "a1|7\n");
  sdb_exec(f->db, "ROLLBACK TO a; RELEASE a");
  assert_int_equal(sdb_int(f->db, "SELECT count(*) FROM sqlite_schema WHERE name = 'kv'"), 0);
  assert_int_equal(sdb_int(f->db, DEPOSIT("a1", 8)), 3);
  sdb_exec(f->db, "COMMIT");
  sdb_rows_are(f->db, "SELECT k, n FROM kv", "a1|8\n");
  sdb_rows_are(f->db, "SELECT name, kind, position FROM es_projections", "kv|c|3\n");
}

/* The table of a C view recreated with another primary key (then protected again): the view
** writer forgets the key it had read, and the upsert is refused for the key it now lacks. */
static void test_table_recreated_with_another_key(void **state) {
  fx *f = *state;
  prepare(f->db);
  register_kv(f->db, ES_OK);
  assert_int_equal(sdb_int(f->db, DEPOSIT("a1", 5)), 2);
  assert_int_equal(sdb_int(f->db, DEPOSIT("a1", 6)), 3);
  sdb_rows_are(f->db, "SELECT k, n FROM kv", "a1|6\n");
  sdb_exec(f->db, "DROP TABLE kv; CREATE TABLE kv(k TEXT, n INTEGER NOT NULL, id INTEGER, PRIMARY KEY(id))");
  assert_int_equal(sdb_int(f->db, "SELECT es_protect()"), 4);
  sdb_exec_fails(f->db, DEPOSIT("a1", 8), SQLITE_ERROR,
                 "es: invalid_argument: view 'kv' failed on event 'Deposited' (position 4, account 'a1' version 4):"
                 " upsert on kv needs every primary key column set");
  sdb_rows_are(f->db, "SELECT k, n FROM kv", "");
}

/* ----------------------- read once, prepared once ----------------------- */

typedef struct trace_count {
  int views_reads; /* runs of the statement reading es_views */
  int event_reads; /* runs of the statement reading a command's events */
} trace_count;

static int count_statements(unsigned type, void *ctx, void *p, void *x) {
  trace_count *t = ctx;
  const char *sql = x;
  (void)type, (void)p;
  if (strncmp(sql, "-- ", 3) == 0) sql += 3; /* run inside another statement (es_submit's) */
  if (strcmp(sql, "SELECT name, kind, feed FROM main.es_views ORDER BY name") == 0) t->views_reads++;
  if (strncmp(sql, "SELECT position, version, aggregate_type, aggregate_id, type, recorded_at, data, metadata FROM",
              strlen("SELECT position, version, aggregate_type, aggregate_id, type, recorded_at, data, metadata FROM")) == 0)
    t->event_reads++;
  return 0;
}

/* The connection's prepared statements whose text is sql (at most 8 kept in found). */
static int statements_of(sqlite3 *db, const char *sql, sqlite3_stmt **found) {
  int n = 0;
  for (sqlite3_stmt *st = sqlite3_next_stmt(db, 0); st; st = sqlite3_next_stmt(db, st))
    if (strcmp(sqlite3_sql(st), sql) == 0 && n < 8) found[n++] = st;
  return n;
}

#define FEED_ONE(feed) "INSERT INTO main.\"" feed "\" SELECT * FROM main.\"" feed "\" WHERE position = ?1"

/*
** With a C view and a SQL view, es_views is read by the first command and by none after it; the
** events are read once per command; the SQL view's feed statement is prepared once (the same
** statements exist after more commands; es_create_view's build left one of its own in the
** statement cache). Redefined in a transaction, es_views is read by each command of that
** transaction (a rollback could take the definition back), then once more after the commit, and
** then no more; the old feed's statement is finalized with its definition.
*/
static void test_read_once_prepared_once(void **state) {
  fx *f = *state;
  trace_count t = {0};
  sqlite3_stmt *before[8], *after[8];
  prepare(f->db);
  register_kv(f->db, ES_OK);
  assert_int_equal(sdb_int(f->db, "SELECT es_create_view('tags', 'tags_f1')"), 1);
  assert_int_equal(sdb_int(f->db, DEPOSIT("a1", 1)), 2);
  sqlite3_trace_v2(f->db, SQLITE_TRACE_STMT, count_statements, &t);
  int n = statements_of(f->db, FEED_ONE("tags_f1"), before);
  assert_int_equal(n, 2);
  for (int i = 0; i < 5; i++) assert_int_equal(sdb_int(f->db, DEPOSIT("a1", 1)), 3 + i);
  assert_int_equal(t.views_reads, 0);
  assert_int_equal(t.event_reads, 5);
  assert_int_equal(statements_of(f->db, FEED_ONE("tags_f1"), after), n);
  assert_memory_equal(before, after, sizeof(*before) * (size_t)n);

  sdb_exec(f->db, "BEGIN");
  assert_int_equal(sdb_int(f->db, "SELECT es_create_view('tags', 'tags_f2')"), 7);
  t.views_reads = 0;
  for (int i = 0; i < 3; i++) assert_int_equal(sdb_int(f->db, DEPOSIT("a1", 1)), 8 + i);
  assert_int_equal(t.views_reads, 3);
  sdb_exec(f->db, "COMMIT");
  t.views_reads = 0;
  for (int i = 0; i < 3; i++) assert_int_equal(sdb_int(f->db, DEPOSIT("a1", 1)), 11 + i);
  assert_int_equal(t.views_reads, 1);
  assert_int_equal(statements_of(f->db, FEED_ONE("tags_f1"), after), n - 1); /* its own, finalized */
  assert_int_equal(statements_of(f->db, FEED_ONE("tags_f2"), after), 2); /* its own, and the build's */

  /* a definition that changed the schema (a new view's guards): a rollback of it would expire
  ** every statement, so es_views is read once after it, and not again in the same transaction */
  sdb_exec(f->db, "BEGIN");
  register_kv2(f->db);
  t.views_reads = 0;
  assert_int_equal(sdb_int(f->db, DEPOSIT("a1", 2)), 14);
  int reads = t.views_reads; /* the schema changed: the storage's verification reads it too */
  assert_true(reads >= 1);
  for (int i = 0; i < 2; i++) assert_int_equal(sdb_int(f->db, DEPOSIT("a1", 2)), 15 + i);
  assert_int_equal(t.views_reads, reads);
  sdb_exec(f->db, "COMMIT");
  sqlite3_trace_v2(f->db, 0, 0, 0);
  sdb_rows_are(f->db, "SELECT count(*), min(via), max(via) FROM tags", "16|f2|f2\n");
  sdb_rows_are(f->db, "SELECT k, n FROM kv", "a1|2\n");
  sdb_rows_are(f->db, "SELECT k, n FROM kv2", "a1|2\n");
}

int main(void) {
  const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, sdb_setup, sdb_teardown)
      T(test_rolled_back_definition_is_not_fed),
      T(test_rolled_back_redefinition),
      T(test_rolled_back_drop),
      T(test_schema_change_rereads),
      T(test_other_connection_changes_views),
      T(test_attach_rolled_back),
      T(test_attach_rolled_back_in_transaction),
      T(test_table_recreated_with_another_key),
      T(test_read_once_prepared_once),
#undef T
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
