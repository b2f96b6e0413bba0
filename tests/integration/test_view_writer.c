/*
** test_view_writer.c — the view-writer port in SQLite (ext/store/view_writer.c), called directly
** the way the domain calls it: typed fields from a builder. A statement is prepared once per
** shape (schema, table, operation, columns in order) and reused; a table's primary key is read
** once; every value kind is bound as the JSON path bound it (NULL, 0/1, REAL or INTEGER, TEXT,
** INTEGER, a JSON value as its SQL value), checked against a copy of that path; find hands back
** typed columns (also from a WITHOUT ROWID table); a schema change (DDL, and DDL after a rollback
** that brings the schema version back to a number it had) drops what was cached; the temp schema
** switch writes the TEMP copy; the cache stays bounded, and es_store_flush leaves no statement.
*/
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "domain/json.h"
#include "domain/mem.h"
#include "domain/message.h"
#include "store/view_writer.h"
#include "support_db.h"

/* got must be exactly want (NULL only equals NULL). */
static void assert_str(const char *got, const char *want) {
  if (!got || !want ? got != want : strcmp(got, want) != 0)
    fail_msg("got      <%s>\nexpected <%s>", got ? got : "(NULL)", want ? want : "(NULL)");
}

typedef struct wfx {
  sdb_fx *f;
  sqlite3 *db;
  es_store *s;
  es_view_store port;
  es_builder b;
  es_error err;
} wfx;

static void open_writer(wfx *w, void **state) {
  memset(w, 0, sizeof(*w));
  w->f = *state;
  w->db = w->f->db;
  w->s = es_store_new(w->db);
  assert_non_null(w->s);
  w->port = es_store_view_port(w->s);
  es_builder_init(&w->b);
}

static void close_writer(wfx *w) {
  es_builder_clear(&w->b);
  es_error_clear(&w->err);
  es_store_free(w->s);
}

static es_view_writer_stats stats(wfx *w) {
  es_view_writer_stats st;
  es_view_writer_stats_get(w->s, &st);
  return st;
}

/* A new port, as each catch-up of a view gets (the schema is checked at its first use). */
static void new_port(wfx *w) { w->port = es_store_view_port(w->s); }

static es_builder *row(wfx *w) {
  es_builder_reset(&w->b);
  return &w->b;
}

static es_status write_row(wfx *w, const char *table, int op) {
  es_error_clear(&w->err);
  return w->port.write(w->port.self, table, op, w->b.fields, w->b.n, &w->err);
}

static void write_ok(wfx *w, const char *table, int op) {
  es_status rc = write_row(w, table, op);
  if (rc != ES_OK) fail_msg("write: %s: %s", es_status_name(rc), w->err.message ? w->err.message : "-");
}

/* Find by the builder's columns into out (es_builder_reset first); returns found. */
static int find_row(wfx *w, const char *table, es_builder *out) {
  int found = -1;
  es_error_clear(&w->err);
  es_builder_reset(out);
  es_status rc = w->port.find(w->port.self, table, w->b.fields, w->b.n, out, &found, &w->err);
  if (rc != ES_OK) fail_msg("find: %s: %s", es_status_name(rc), w->err.message ? w->err.message : "-");
  return found;
}

static void stats_are(wfx *w, int statements, int64_t prepared, int64_t reused, int64_t dropped, int64_t key_reads) {
  es_view_writer_stats st = stats(w);
  if (st.statements != statements || st.prepared != prepared || st.reused != reused || st.dropped != dropped ||
      st.key_reads != key_reads)
    fail_msg("statements %d prepared %lld reused %lld dropped %lld key_reads %lld; expected %d %lld %lld %lld %lld",
             st.statements, (long long)st.prepared, (long long)st.reused, (long long)st.dropped,
             (long long)st.key_reads, statements, (long long)prepared, (long long)reused, (long long)dropped,
             (long long)key_reads);
}

/* ----------------------- shapes ----------------------- */

static void test_shapes_cached_and_reused(void **state) {
  wfx w;
  open_writer(&w, state);
  sdb_exec(w.db, "CREATE TABLE t(id TEXT PRIMARY KEY, a INTEGER, b TEXT)");
  for (int i = 0; i < 3; i++) {
    char id[16];
    snprintf(id, sizeof id, "r%d", i);
    es_set_text(row(&w), "id", id);
    es_set_int(&w.b, "a", i);
    write_ok(&w, "t", ES_VIEW_INSERT);
  }
  stats_are(&w, 1, 1, 2, 0, 0); /* one shape: prepared once, used three times */
  es_set_text(row(&w), "id", "r3");
  es_set_text(&w.b, "b", "x");
  write_ok(&w, "t", ES_VIEW_INSERT);
  es_set_int(row(&w), "a", 4); /* the same columns in another order: another statement */
  es_set_text(&w.b, "id", "r4");
  write_ok(&w, "t", ES_VIEW_INSERT);
  stats_are(&w, 3, 3, 2, 0, 0);
  /* Upserts: the UPDATE per shape, the INSERT shared with inserts of that shape; the key read once. */
  es_set_text(row(&w), "id", "r0");
  es_set_int(&w.b, "a", 10);
  write_ok(&w, "t", ES_VIEW_UPSERT); /* updates */
  es_set_text(row(&w), "id", "r9");
  es_set_int(&w.b, "a", 9);
  write_ok(&w, "t", ES_VIEW_UPSERT); /* updates nothing, then inserts through the first shape */
  stats_are(&w, 4, 4, 4, 0, 1);
  es_set_text(row(&w), "id", "r1");
  es_set_text(&w.b, "b", "y");
  write_ok(&w, "t", ES_VIEW_UPSERT);
  stats_are(&w, 5, 5, 4, 0, 1);
  es_set_text(row(&w), "id", "r2");
  write_ok(&w, "t", ES_VIEW_DELETE);
  es_set_text(row(&w), "id", "r3");
  write_ok(&w, "t", ES_VIEW_DELETE);
  stats_are(&w, 6, 6, 5, 0, 1);
  es_builder found;
  es_builder_init(&found);
  es_set_text(row(&w), "id", "r0");
  assert_int_equal(find_row(&w, "t", &found), 1);
  es_set_text(row(&w), "id", "nobody");
  assert_int_equal(find_row(&w, "t", &found), 0);
  stats_are(&w, 7, 7, 6, 0, 1);
  /* A new port with the schema unchanged keeps everything. */
  new_port(&w);
  es_set_text(row(&w), "id", "r5");
  es_set_int(&w.b, "a", 5);
  write_ok(&w, "t", ES_VIEW_INSERT);
  stats_are(&w, 7, 7, 7, 0, 1);
  assert_int_equal(stats(&w).checks, 2);
  sdb_rows_are(w.db, "SELECT id, quote(a), quote(b) FROM t ORDER BY id",
               "r0|10|NULL\nr1|1|'y'\nr4|4|NULL\nr5|5|NULL\nr9|9|NULL\n");
  es_builder_clear(&found);
  close_writer(&w);
}

static void test_upsert_and_write_errors(void **state) {
  wfx w;
  open_writer(&w, state);
  sdb_exec(w.db, "CREATE TABLE nokey(a, b); CREATE TABLE two(k1, k2, v, PRIMARY KEY (k1, k2))");
  es_set_int(row(&w), "a", 1);
  assert_int_equal(write_row(&w, "nokey", ES_VIEW_UPSERT), ES_INVALID_ARGUMENT);
  assert_str(w.err.message, "upsert needs a PRIMARY KEY on table nokey");
  es_set_int(row(&w), "k1", 1);
  es_set_int(&w.b, "v", 1);
  assert_int_equal(write_row(&w, "two", ES_VIEW_UPSERT), ES_INVALID_ARGUMENT);
  assert_str(w.err.message, "upsert on two needs every primary key column set");
  es_set_int(&w.b, "K2", 2); /* key columns match without regard to case */
  write_ok(&w, "two", ES_VIEW_UPSERT);
  es_set_int(row(&w), "k1", 1);
  es_set_int(&w.b, "k2", 2);
  write_ok(&w, "two", ES_VIEW_UPSERT); /* only the key: a no-op on the row that exists */
  sdb_rows_are(w.db, "SELECT k1, k2, v FROM two", "1|2|1\n");
  assert_int_equal(stats(&w).key_reads, 2);
  es_set_int(row(&w), "x", 1);
  assert_int_equal(write_row(&w, "nope", ES_VIEW_INSERT), ES_STORAGE);
  assert_str(w.err.message, "preparing a statement: no such table: main.nope (1)");
  es_set_int(row(&w), "x", 1);
  assert_int_equal(write_row(&w, "two", 99), ES_INVALID_ARGUMENT);
  row(&w); /* no column */
  assert_int_equal(write_row(&w, "two", ES_VIEW_INSERT), ES_INVALID_ARGUMENT);
  assert_str(w.err.message, "no column was set on the row");
  assert_int_equal(stats(&w).statements, 3);
  close_writer(&w);
}

/* ----------------------- values ----------------------- */

/* The JSON path as it was: the value written as JSON, parsed, bound by its JSON kind. */
static void bind_as_json(sqlite3_stmt *st, int i, const es_value *v) {
  es_jbuf jb;
  es_jbuf_init(&jb);
  es_value_to_json(&jb, v);
  size_t len = 0;
  char *json = es_jbuf_take(&jb, &len);
  es_json_doc *doc = 0;
  assert_int_equal(es_json_parse(json, len, &doc, 0), ES_OK);
  const es_json *j = es_json_root(doc);
  switch (j->kind) {
    case ES_JSON_NULL: sqlite3_bind_null(st, i); break;
    case ES_JSON_FALSE: sqlite3_bind_int(st, i, 0); break;
    case ES_JSON_TRUE: sqlite3_bind_int(st, i, 1); break;
    case ES_JSON_INT: sqlite3_bind_int64(st, i, j->u.i); break;
    case ES_JSON_REAL: sqlite3_bind_double(st, i, j->u.r); break;
    case ES_JSON_STRING: sqlite3_bind_text64(st, i, j->u.str.s, j->u.str.n, SQLITE_TRANSIENT, SQLITE_UTF8); break;
    default: sqlite3_bind_text64(st, i, j->raw, j->raw_len, SQLITE_TRANSIENT, SQLITE_UTF8); break;
  }
  es_json_free(doc);
  es_mem_free(json);
}

static void test_values_bound_as_the_json_path(void **state) {
  wfx w;
  open_writer(&w, state);
  /* x has no type (no affinity): what is bound is what is stored. */
  sdb_exec(w.db, "CREATE TABLE v(k INTEGER PRIMARY KEY, x); CREATE TABLE j(k INTEGER PRIMARY KEY, x)");
  static const double reals[] = {0.0, -0.0, 1.5, -2.25, 100.0, -100.0, 1e14, 999999999999999.0, 1e15, 1e16,
                                 1234567890123456.0, 12345678901234567.0, 1e17, 1e300, 0.1, 5e-324,
                                 9007199254740993.0, NAN, INFINITY, -INFINITY};
  static const char *const jsons[] = {"null", "true", "false", "7", "-7", "2.5", "1e2", "\"s\\u0041\"",
                                      " [1, 2] ", "{\"a\": {}}", "9223372036854775808", "-0"};
  sqlite3_stmt *old = 0;
  assert_int_equal(sqlite3_prepare_v2(w.db, "INSERT INTO j(k, x) VALUES (?1, ?2)", -1, &old, 0), SQLITE_OK);
  int k = 0;
  for (int kind = 0; kind < 6; kind++) {
    int count = kind == 1 ? (int)(sizeof reals / sizeof reals[0]) : kind == 5 ? (int)(sizeof jsons / sizeof jsons[0]) : 3;
    for (int i = 0; i < count; i++, k++) {
      es_builder *b = row(&w);
      es_set_int(b, "k", k);
      switch (kind) {
        case 0: es_set_int(b, "x", i == 0 ? INT64_MIN : i == 1 ? 0 : INT64_MAX); break;
        case 1: es_set_real(b, "x", reals[i]); break;
        case 2: es_set_bool(b, "x", i); break;
        case 3: ES__OPS(b)->xSetText(b, "x", i == 0 ? "" : i == 1 ? "caf\xc3\xa9" : "a\0b", i == 2 ? 3 : (size_t)-1); break;
        case 4: es_set_null(b, "x"); break;
        default: es_set_json(b, "x", jsons[i]); break;
      }
      write_ok(&w, "v", ES_VIEW_INSERT);
      sqlite3_bind_int(old, 1, k);
      bind_as_json(old, 2, &w.b.fields[1].v);
      assert_int_equal(sqlite3_step(old), SQLITE_DONE);
      sqlite3_reset(old);
    }
  }
  sqlite3_finalize(old);
  char *got = sdb_rows(w.db, "SELECT k, typeof(x), quote(x), hex(x) FROM v ORDER BY k");
  char *want = sdb_rows(w.db, "SELECT k, typeof(x), quote(x), hex(x) FROM j ORDER BY k");
  assert_str(got, want);
  free(got);
  free(want);
  /* What that means, for a few. */
  sdb_rows_are(w.db,
               "SELECT k, typeof(x), CASE k WHEN 28 THEN hex(x) ELSE quote(x) END FROM v"
               " WHERE k IN (2, 3, 4, 5, 7, 10, 11, 12, 13, 14, 19, 20, 23, 24, 25, 26, 28, 31, 32, 33, 34, 35) ORDER BY k",
               "2|integer|9223372036854775807\n" /* INT */
               "3|integer|0\n"                   /* REAL 0.0 is written 0 */
               "4|integer|0\n"                   /* and -0.0 is written -0 */
               "5|real|1.5\n"
               "7|integer|100\n"                 /* REAL 100.0 is written 100 */
               "10|integer|999999999999999\n"
               "11|real|1.0e+15\n"               /* written 1e+15 */
               "12|real|1.0e+16\n"
               "13|integer|1234567890123456\n"   /* written in full at 16 digits */
               "14|integer|12345678901234568\n"  /* and at 17 */
               "19|integer|9007199254740992\n"
               "20|null|NULL\n"                  /* NaN is written null */
               "23|integer|0\n"                  /* BOOL */
               "24|integer|1\n"
               "25|integer|1\n"
               "26|text|''\n"                    /* TEXT */
               "28|text|610062\n"                /* with its U+0000 */
               "31|null|NULL\n"                  /* NULL */
               "32|null|NULL\n"                  /* JSON null, true, false, a number */
               "33|integer|1\n"
               "34|integer|0\n"
               "35|integer|7\n");
  sdb_rows_are(w.db, /* (2^63 compared, not printed: valgrind prints long doubles otherwise) */
               "SELECT k, typeof(x), CASE k WHEN 42 THEN x = 9223372036854775808.0 ELSE quote(x) END FROM v"
               " WHERE k >= 37 ORDER BY k",
               "37|real|2.5\n38|real|100.0\n39|text|'sA'\n40|text|'[1, 2]'\n41|text|'{\"a\": {}}'\n"
               "42|real|1\n43|integer|0\n");
  close_writer(&w);
}

static void test_find_hands_back_typed_columns(void **state) {
  wfx w;
  open_writer(&w, state);
  sdb_exec(w.db,
           "CREATE TABLE f(id TEXT, i, r, n, t, bl);"
           "INSERT INTO f VALUES ('a', 1, 2.5, NULL, 'x', x'00ff'), ('a', 2, 100.0, NULL, 'caf\xc3\xa9', x'41');"
           "CREATE TABLE wr(id TEXT PRIMARY KEY, v) WITHOUT ROWID; INSERT INTO wr VALUES ('k', 'w')");
  es_builder found;
  es_builder_init(&found);
  es_set_text(row(&w), "id", "a");
  assert_int_equal(find_row(&w, "f", &found), 1); /* the latest: largest rowid */
  assert_int_equal(found.status, ES_OK);
  assert_int_equal(found.n, 6);
  static const char *const names[] = {"id", "i", "r", "n", "t", "bl"};
  for (int i = 0; i < 6; i++) assert_str(found.fields[i].key, names[i]);
  assert_int_equal(found.fields[1].v.kind, ES_VALUE_INT);
  assert_int_equal(found.fields[1].v.u.i, 2);
  assert_int_equal(found.fields[2].v.kind, ES_VALUE_REAL);
  assert_true(found.fields[2].v.u.r == 100.0);
  assert_int_equal(found.fields[3].v.kind, ES_VALUE_NULL);
  assert_int_equal(found.fields[4].v.kind, ES_VALUE_TEXT);
  assert_str(found.fields[4].v.u.text.s, "caf\xc3\xa9");
  /* A blob comes back as its bytes, as text, which must be UTF-8. */
  assert_int_equal(found.fields[5].v.kind, ES_VALUE_TEXT);
  assert_str(found.fields[5].v.u.text.s, "A");
  /* The other row's is not: the builder refuses it, which tells the domain the row cannot be read. */
  es_set_text(row(&w), "id", "a");
  es_set_int(&w.b, "i", 1);
  assert_int_equal(find_row(&w, "f", &found), 1);
  assert_int_equal(found.status, ES_INVALID_ARGUMENT);
  /* WITHOUT ROWID: no order to offer, found all the same. */
  es_set_text(row(&w), "id", "k");
  assert_int_equal(find_row(&w, "wr", &found), 1);
  assert_int_equal(found.n, 2);
  assert_str(found.fields[1].v.u.text.s, "w");
  es_set_text(row(&w), "id", "k");
  assert_int_equal(find_row(&w, "wr", &found), 1);
  assert_int_equal(stats(&w).statements, 3);
  es_builder_clear(&found);
  close_writer(&w);
}

/* ----------------------- the schema ----------------------- */

static void upsert_kv(wfx *w, const char *table, const char *k, const char *v) {
  es_set_text(row(w), "k", k);
  es_set_text(&w->b, "v", v);
  es_set_text(&w->b, "w", v);
  write_ok(w, table, ES_VIEW_UPSERT);
}

static void test_schema_change_drops_the_cache(void **state) {
  wfx w;
  open_writer(&w, state);
  /* The key is k; upserts by k. */
  sdb_exec(w.db, "CREATE TABLE s(k TEXT PRIMARY KEY, v TEXT, w TEXT)");
  upsert_kv(&w, "s", "a", "1");
  upsert_kv(&w, "s", "a", "2");
  stats_are(&w, 2, 2, 1, 0, 1);
  /* DDL: the next port drops everything and reads the key again. */
  sdb_exec(w.db, "ALTER TABLE s ADD COLUMN z");
  new_port(&w);
  upsert_kv(&w, "s", "a", "3");
  stats_are(&w, 1, 3, 1, 1, 2);
  sdb_rows_are(w.db, "SELECT k, v FROM s", "a|3\n");
  /* The table made anew with another key (v): upserts now go by v. */
  sdb_exec(w.db, "DROP TABLE s; CREATE TABLE s(k TEXT, v TEXT PRIMARY KEY, w TEXT)");
  new_port(&w);
  upsert_kv(&w, "s", "a", "x");
  upsert_kv(&w, "s", "b", "x"); /* same v: updates k of that row */
  sdb_rows_are(w.db, "SELECT k, v FROM s", "b|x\n");
  assert_int_equal(stats(&w).dropped, 2);

  /* A rollback takes the schema version back, and later DDL reaches the same number with another
  ** schema: the cache must not trust the number alone. */
  int before = (int)sdb_int(w.db, "PRAGMA schema_version");
  sdb_exec(w.db, "BEGIN; DROP TABLE s; CREATE TABLE s(k TEXT PRIMARY KEY, v TEXT, w TEXT)");
  new_port(&w);
  upsert_kv(&w, "s", "a", "1"); /* cached under the key k at version before + 2 */
  sdb_exec(w.db, "ROLLBACK");
  assert_int_equal(sdb_int(w.db, "PRAGMA schema_version"), before);
  sdb_exec(w.db, "DROP TABLE s");
  sdb_exec(w.db, "CREATE TABLE s(k TEXT, v TEXT, w TEXT PRIMARY KEY)");
  assert_int_equal(sdb_int(w.db, "PRAGMA schema_version"), before + 2);
  int64_t dropped = stats(&w).dropped;
  new_port(&w);
  upsert_kv(&w, "s", "a", "1");
  upsert_kv(&w, "s", "b", "1"); /* by w, the key now: one row */
  sdb_rows_are(w.db, "SELECT k, v, w FROM s", "b|1|1\n");
  assert_int_equal(stats(&w).dropped, dropped + 1);
  close_writer(&w);
}

static void test_temp_schema_switch(void **state) {
  wfx w;
  open_writer(&w, state);
  sdb_exec(w.db, "CREATE TABLE c(k TEXT PRIMARY KEY, v INTEGER); CREATE TEMP TABLE c(k TEXT PRIMARY KEY, v INTEGER)");
  es_set_text(row(&w), "k", "main");
  es_set_int(&w.b, "v", 1);
  write_ok(&w, "c", ES_VIEW_UPSERT);
  w.s->view_schema = "temp";
  new_port(&w);
  es_set_text(row(&w), "k", "temp");
  es_set_int(&w.b, "v", 2);
  write_ok(&w, "c", ES_VIEW_UPSERT);
  es_builder found;
  es_builder_init(&found);
  es_set_text(row(&w), "k", "temp");
  assert_int_equal(find_row(&w, "c", &found), 1);
  es_set_text(row(&w), "k", "main");
  assert_int_equal(find_row(&w, "c", &found), 0); /* only the TEMP copy is seen */
  w.s->view_schema = "main";
  new_port(&w);
  es_set_text(row(&w), "k", "main");
  es_set_int(&w.b, "v", 3);
  write_ok(&w, "c", ES_VIEW_UPSERT);
  sdb_rows_are(w.db, "SELECT 'main', k, v FROM main.c UNION ALL SELECT 'temp', k, v FROM temp.c",
               "main|main|3\ntemp|temp|2\n");
  /* Each schema has its own statements and its own key. */
  es_view_writer_stats st = stats(&w);
  assert_int_equal(st.key_reads, 2);
  assert_int_equal(st.statements, 5);
  es_builder_clear(&found);
  close_writer(&w);
}

/* ----------------------- bounds and the end ----------------------- */

static int live_statements(sqlite3 *db) {
  int n = 0;
  for (sqlite3_stmt *st = sqlite3_next_stmt(db, 0); st; st = sqlite3_next_stmt(db, st)) n++;
  return n;
}

static void test_bounded_and_flushed(void **state) {
  wfx w;
  open_writer(&w, state);
  int at_start = live_statements(w.db);
  sdb_exec(w.db, "CREATE TABLE m(k INTEGER PRIMARY KEY, c0, c1, c2, c3, c4, c5, c6)");
  for (int i = 0; i < 128; i++) { /* 128 shapes: every subset of c0…c6 */
    es_set_int(row(&w), "k", i);
    for (int c = 0; c < 7; c++) {
      char name[4];
      snprintf(name, sizeof name, "c%d", c);
      if (i & (1 << c)) es_set_int(&w.b, name, c);
    }
    write_ok(&w, "m", ES_VIEW_INSERT);
    assert_true(stats(&w).statements <= 64);
  }
  assert_int_equal(sdb_int(w.db, "SELECT count(*) FROM m"), 128);
  assert_int_equal(stats(&w).statements, 64);
  assert_int_equal(stats(&w).prepared, 128);
  assert_true(live_statements(w.db) > at_start + 64);
  es_store_flush(w.s);
  assert_int_equal(stats(&w).statements, 0);
  assert_int_equal(live_statements(w.db), at_start);
  /* Usable again after a flush. */
  new_port(&w);
  es_set_int(row(&w), "k", 1000);
  write_ok(&w, "m", ES_VIEW_INSERT);
  close_writer(&w); /* es_store_free finalizes the rest */
  assert_int_equal(live_statements(w.db), at_start);
}

int main(void) {
  const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, sdb_setup, sdb_teardown)
      T(test_shapes_cached_and_reused),
      T(test_upsert_and_write_errors),
      T(test_values_bound_as_the_json_path),
      T(test_find_hands_back_typed_columns),
      T(test_schema_change_drops_the_cache),
      T(test_temp_schema_switch),
      T(test_bounded_and_flushed),
#undef T
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
