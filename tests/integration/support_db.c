/*
** support_db.c — helpers shared by the integration tests (support_db.h): temporary databases,
** connections with sqlite-es and the bank example, the tests' fixture, exec helpers, and a
** canonical database dump.
*/
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "es.h"
#include "support_db.h"

/* ----------------------- a growable string ----------------------- */

typedef struct sbuf {
  char *s;
  size_t n, cap;
} sbuf;

static void sb_add(sbuf *b, const char *z, size_t n) {
  if (b->n + n + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->n + n + 1) cap *= 2;
    char *p = realloc(b->s, cap);
    if (!p) fail_msg("out of memory in a test helper");
    b->s = p;
    b->cap = cap;
  }
  memcpy(b->s + b->n, z, n);
  b->n += n;
  b->s[b->n] = 0;
}

static void sb_addz(sbuf *b, const char *z) { sb_add(b, z, strlen(z)); }

/* Take the text (never NULL: "" when nothing was added). */
static char *sb_take(sbuf *b) {
  if (!b->s) sb_add(b, "", 0);
  char *s = b->s;
  memset(b, 0, sizeof(*b));
  return s;
}

/* A column value as a SQL literal: NULL, 12, 1.5, 'text', X'00ff'. */
static void sb_value(sbuf *b, sqlite3_stmt *st, int i) {
  char *z = 0;
  switch (sqlite3_column_type(st, i)) {
    case SQLITE_NULL:
      sb_addz(b, "NULL");
      return;
    case SQLITE_INTEGER:
      z = sqlite3_mprintf("%lld", (long long)sqlite3_column_int64(st, i));
      break;
    case SQLITE_FLOAT:
      z = sqlite3_mprintf("%!.17g", sqlite3_column_double(st, i));
      break;
    case SQLITE_TEXT:
      z = sqlite3_mprintf("%Q", (const char *)sqlite3_column_text(st, i));
      break;
    default: {
      const unsigned char *p = sqlite3_column_blob(st, i);
      int n = sqlite3_column_bytes(st, i);
      sb_addz(b, "X'");
      for (int k = 0; k < n; k++) {
        char h[3];
        snprintf(h, sizeof h, "%02x", p[k]);
        sb_add(b, h, 2);
      }
      sb_addz(b, "'");
      return;
    }
  }
  if (!z) fail_msg("out of memory in a test helper");
  sb_addz(b, z);
  sqlite3_free(z);
}

/* ----------------------- temporary directories ----------------------- */

char *sdb_tempdir(void) {
  char tmpl[] = "/tmp/es_integration_XXXXXX";
  if (!mkdtemp(tmpl)) fail_msg("mkdtemp failed");
  char *d = strdup(tmpl);
  if (!d) fail_msg("out of memory in a test helper");
  return d;
}

char *sdb_join(const char *dir, const char *name) {
  size_t n = strlen(dir) + strlen(name) + 2;
  char *p = malloc(n);
  if (!p) fail_msg("out of memory in a test helper");
  snprintf(p, n, "%s/%s", dir, name);
  return p;
}

void sdb_rmtree(char *dir) {
  if (!dir) return;
  DIR *d = opendir(dir);
  if (d) {
    struct dirent *e;
    while ((e = readdir(d)) != 0) {
      if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
      char *p = sdb_join(dir, e->d_name);
      unlink(p);
      free(p);
    }
    closedir(d);
  }
  rmdir(dir);
  free(dir);
}

/* ----------------------- connections ----------------------- */

/* Load sqlite-es into every connection opened with SDB_ES. The auto-extension is process-wide,
** so a connection without it is opened with the registration cancelled for that one open. */
static void es_auto(int on) {
  if (on) {
    if (es_register_auto_extension() != SQLITE_OK) fail_msg("es_register_auto_extension failed");
  } else {
    sqlite3_cancel_auto_extension((void (*)(void))sqlite3_es_init);
  }
}

sqlite3 *sdb_try_open(const char *path, int flags, const char *vfs, char *err, size_t n) {
  sqlite3 *db = 0;
  sqlite3_stmt *st = 0;
  char *ext_err = 0;
  es_auto(flags & SDB_ES);
  int rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, vfs);
  es_auto(1);
  if (rc != SQLITE_OK) {
    snprintf(err, n, "cannot open %s: %s", path, db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
    goto fail;
  }
  sqlite3_extended_result_codes(db, 1);
  if (flags & SDB_WAL) {
    const char *mode = 0;
    if (sqlite3_prepare_v2(db, "PRAGMA journal_mode=WAL", -1, &st, 0) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
      mode = (const char *)sqlite3_column_text(st, 0);
    if (!mode || strcmp(mode, "wal") != 0) {
      snprintf(err, n, "cannot switch %s to WAL: %s", path, mode ? mode : sqlite3_errmsg(db));
      goto fail;
    }
    sqlite3_finalize(st);
    st = 0;
  }
  if ((flags & SDB_BANK) && sqlite3_bank_init(db, &ext_err, 0) != SQLITE_OK) {
    snprintf(err, n, "bank init failed: %s", ext_err ? ext_err : "?");
    goto fail;
  }
  return db;
fail:
  sqlite3_free(ext_err);
  sqlite3_finalize(st);
  sqlite3_close(db);
  return 0;
}

sqlite3 *sdb_open_with(const char *path, int flags, const char *vfs) {
  char err[1024];
  sqlite3 *db = sdb_try_open(path, flags, vfs, err, sizeof err);
  if (!db) fail_msg("%s", err);
  return db;
}

sqlite3 *sdb_open(const char *path) { return sdb_open_with(path, SDB_ES | SDB_BANK | SDB_WAL, 0); }

void sdb_close(sqlite3 *db) {
  int rc = sqlite3_close(db);
  if (rc != SQLITE_OK) fail_msg("sqlite3_close returned %d: %s", rc, sqlite3_errmsg(db));
}

/* ----------------------- the fixture ----------------------- */

int sdb_setup(void **state) {
  sdb_fx *f = calloc(1, sizeof(*f));
  assert_non_null(f);
  f->dir = sdb_tempdir();
  f->path = sdb_join(f->dir, "test.db");
  *state = f;
  char err[1024];
  f->db = sdb_try_open(f->path, SDB_ES | SDB_BANK | SDB_WAL, 0, err, sizeof err);
  if (!f->db) { /* cmocka skips the teardown of a failed setup */
    print_error("%s\n", err);
    sdb_teardown(state);
    return -1;
  }
  return 0;
}

int sdb_teardown(void **state) {
  sdb_fx *f = *state;
  if (f->db2) sdb_close(f->db2);
  if (f->db) sdb_close(f->db);
  free(f->path);
  sdb_rmtree(f->dir);
  free(f);
  return 0;
}

sqlite3 *sdb_second(sdb_fx *f) {
  if (!f->db2) f->db2 = sdb_open(f->path);
  return f->db2;
}

/* ----------------------- running SQL ----------------------- */

void sdb_exec(sqlite3 *db, const char *sql) {
  char *err = 0;
  int rc = sqlite3_exec(db, sql, 0, 0, &err);
  if (rc != SQLITE_OK) {
    char msg[1024];
    snprintf(msg, sizeof msg, "%s", err ? err : sqlite3_errstr(rc));
    sqlite3_free(err);
    fail_msg("SQL failed (%d): %s\n  in: %s", rc, msg, sql);
  }
}

void sdb_exec_fails(sqlite3 *db, const char *sql, int ext_code, const char *msg) {
  char *err = 0;
  int rc = sqlite3_exec(db, sql, 0, 0, &err);
  char got[2048];
  snprintf(got, sizeof got, "%s", err ? err : "(no message)");
  sqlite3_free(err);
  if (rc == SQLITE_OK) fail_msg("SQL succeeded, expected failure \"%s\"\n  in: %s", msg, sql);
  if (strcmp(got, msg) != 0) fail_msg("wrong message\n  got:  %s\n  want: %s\n  in: %s", got, msg, sql);
  if (rc != ext_code || sqlite3_extended_errcode(db) != ext_code)
    fail_msg("wrong code: returned %d, extended %d, want %d\n  in: %s", rc, sqlite3_extended_errcode(db), ext_code,
             sql);
}

/* Prepare sql and step to its first row; fail unless there is one. */
static sqlite3_stmt *first_row(sqlite3 *db, const char *sql) {
  sqlite3_stmt *st = 0;
  if (sqlite3_prepare_v2(db, sql, -1, &st, 0) != SQLITE_OK)
    fail_msg("prepare failed: %s\n  in: %s", sqlite3_errmsg(db), sql);
  int rc = sqlite3_step(st);
  if (rc != SQLITE_ROW) {
    char msg[1024];
    snprintf(msg, sizeof msg, "%s", sqlite3_errmsg(db));
    sqlite3_finalize(st);
    fail_msg("expected a row (step %d): %s\n  in: %s", rc, msg, sql);
  }
  return st;
}

/* Finish a statement that must have no further row and no error. */
static void last_row(sqlite3 *db, sqlite3_stmt *st, const char *sql) {
  int rc = sqlite3_step(st);
  sqlite3_finalize(st);
  if (rc == SQLITE_ROW) fail_msg("more than one row\n  in: %s", sql);
  if (rc != SQLITE_DONE) fail_msg("step failed (%d): %s\n  in: %s", rc, sqlite3_errmsg(db), sql);
}

sqlite3_int64 sdb_int(sqlite3 *db, const char *sql) {
  sqlite3_stmt *st = first_row(db, sql);
  if (sqlite3_column_type(st, 0) != SQLITE_INTEGER) {
    int t = sqlite3_column_type(st, 0);
    sqlite3_finalize(st);
    fail_msg("expected an integer, got column type %d\n  in: %s", t, sql);
  }
  sqlite3_int64 v = sqlite3_column_int64(st, 0);
  last_row(db, st, sql);
  return v;
}

char *sdb_text(sqlite3 *db, const char *sql) {
  sqlite3_stmt *st = first_row(db, sql);
  const char *z = (const char *)sqlite3_column_text(st, 0);
  char *v = z ? strdup(z) : 0;
  last_row(db, st, sql);
  return v;
}

void sdb_text_is(sqlite3 *db, const char *sql, const char *want) {
  char *got = sdb_text(db, sql);
  char buf[4096];
  snprintf(buf, sizeof buf, "%s", got ? got : "NULL");
  free(got);
  if (strcmp(buf, want) != 0) fail_msg("wrong value\n  got:  %s\n  want: %s\n  in: %s", buf, want, sql);
}

char *sdb_rows(sqlite3 *db, const char *sql) {
  sqlite3_stmt *st = 0;
  sbuf b = {0};
  if (sqlite3_prepare_v2(db, sql, -1, &st, 0) != SQLITE_OK)
    fail_msg("prepare failed: %s\n  in: %s", sqlite3_errmsg(db), sql);
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    for (int i = 0; i < sqlite3_column_count(st); i++) {
      const char *z = (const char *)sqlite3_column_text(st, i);
      if (i) sb_addz(&b, "|");
      sb_addz(&b, z ? z : "NULL");
    }
    sb_addz(&b, "\n");
  }
  if (rc != SQLITE_DONE) {
    char msg[1024];
    snprintf(msg, sizeof msg, "%s", sqlite3_errmsg(db));
    sqlite3_finalize(st);
    free(b.s);
    fail_msg("step failed (%d): %s\n  in: %s", rc, msg, sql);
  }
  sqlite3_finalize(st);
  return sb_take(&b);
}

void sdb_rows_are(sqlite3 *db, const char *sql, const char *want) {
  char *got = sdb_rows(db, sql);
  if (strcmp(got, want) != 0) {
    char buf[8192];
    snprintf(buf, sizeof buf, "%s", got);
    free(got);
    fail_msg("wrong rows\n  got:\n%s\n  want:\n%s\n  in: %s", buf, want, sql);
  }
  free(got);
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Every row of one table, one SQL-literal line each, sorted (tables may have no rowid). */
static void dump_table(sbuf *out, sqlite3 *db, const char *table) {
  char *sql = sqlite3_mprintf("SELECT * FROM main.\"%w\"", table);
  sqlite3_stmt *st = 0;
  if (!sql || sqlite3_prepare_v2(db, sql, -1, &st, 0) != SQLITE_OK)
    fail_msg("dump: cannot read %s: %s", table, sqlite3_errmsg(db));
  sqlite3_free(sql);
  char **lines = 0;
  size_t n = 0, cap = 0;
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    sbuf line = {0};
    sb_addz(&line, "  (");
    for (int i = 0; i < sqlite3_column_count(st); i++) {
      if (i) sb_addz(&line, ", ");
      sb_value(&line, st, i);
    }
    sb_addz(&line, ")\n");
    if (n == cap) {
      cap = cap ? cap * 2 : 16;
      char **p = realloc(lines, cap * sizeof(*p));
      if (!p) fail_msg("out of memory in a test helper");
      lines = p;
    }
    lines[n++] = sb_take(&line);
  }
  if (rc != SQLITE_DONE) fail_msg("dump: reading %s failed: %s", table, sqlite3_errmsg(db));
  sqlite3_finalize(st);
  if (n) qsort(lines, n, sizeof(*lines), cmp_str);
  char head[512];
  snprintf(head, sizeof head, "rows of %s: %zu\n", table, n);
  sb_addz(out, head);
  for (size_t i = 0; i < n; i++) {
    sb_addz(out, lines[i]);
    free(lines[i]);
  }
  free(lines);
}

char *sdb_dump(sqlite3 *db) {
  sbuf out = {0};
  sqlite3_stmt *st = 0;
  char *uv = sdb_text(db, "PRAGMA main.user_version");
  sb_addz(&out, "user_version ");
  sb_addz(&out, uv ? uv : "NULL");
  sb_addz(&out, "\n");
  free(uv);
  const char *q = "SELECT type, name, tbl_name, sql FROM main.sqlite_schema ORDER BY type, name";
  if (sqlite3_prepare_v2(db, q, -1, &st, 0) != SQLITE_OK) fail_msg("dump: %s", sqlite3_errmsg(db));
  char **tables = 0;
  size_t n = 0, cap = 0;
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    sb_addz(&out, "schema (");
    for (int i = 0; i < 4; i++) {
      if (i) sb_addz(&out, ", ");
      sb_value(&out, st, i);
    }
    sb_addz(&out, ")\n");
    if (strcmp((const char *)sqlite3_column_text(st, 0), "table") == 0) {
      if (n == cap) {
        cap = cap ? cap * 2 : 16;
        char **p = realloc(tables, cap * sizeof(*p));
        if (!p) fail_msg("out of memory in a test helper");
        tables = p;
      }
      tables[n] = strdup((const char *)sqlite3_column_text(st, 1));
      if (!tables[n++]) fail_msg("out of memory in a test helper");
    }
  }
  if (rc != SQLITE_DONE) fail_msg("dump: reading the schema failed: %s", sqlite3_errmsg(db));
  sqlite3_finalize(st);
  for (size_t i = 0; i < n; i++) {
    dump_table(&out, db, tables[i]);
    free(tables[i]);
  }
  free(tables);
  return sb_take(&out);
}

void sdb_dump_is(sqlite3 *db, const char *before) {
  char *now = sdb_dump(db);
  assert_string_equal(now, before);
  free(now);
}

sqlite3_int64 sdb_es_objects(sqlite3 *db) {
  return sdb_int(db, "SELECT count(*) FROM main.sqlite_schema WHERE name GLOB 'es_*'");
}
