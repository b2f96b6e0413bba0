/*
** support_db.h — helpers shared by the integration tests (C against a real SQLite, with the
** static variant of sqlite-es): temporary databases, connections with sqlite-es (auto-extension)
** and the bank example loaded, the tests' common fixture (a fresh file in its own directory),
** exec helpers that fail the current cmocka test with SQLite's message, and a canonical dump of a
** whole database for before/after comparisons.
**
** Every helper that can fail calls cmocka's fail_msg, so it may only be used inside a test.
*/
#ifndef SUPPORT_DB_H
#define SUPPORT_DB_H

#include <stddef.h>

#include <sqlite3.h>

/* The bank example compiled in (examples/bank/bank.c under SQLITE_CORE). */
int sqlite3_bank_init(sqlite3 *db, char **pzErrMsg, const sqlite3_api_routines *pApi);
/* sqlite-es's entry point (ext/es.c), for tests that load it a second time. */
int sqlite3_es_init(sqlite3 *db, char **pzErrMsg, const sqlite3_api_routines *pApi);

/* ---- temporary directories: one per test, removed with everything in it ---- */

char *sdb_tempdir(void);                              /* malloc'd path of a new directory under /tmp */
char *sdb_join(const char *dir, const char *name);    /* malloc'd "dir/name" */
void sdb_rmtree(char *dir);                           /* remove its files and itself, free dir */

/* ---- connections ---- */

enum {
  SDB_ES = 1,   /* load sqlite-es (through es_register_auto_extension) */
  SDB_BANK = 2, /* register the bank example's `account` aggregate (needs SDB_ES) */
  SDB_WAL = 4   /* switch the file to WAL */
};

/* Open path with sqlite-es, the bank example, WAL and extended result codes. */
sqlite3 *sdb_open(const char *path);
/* Open with the chosen SDB_* flags through the given VFS (NULL: the default). */
sqlite3 *sdb_open_with(const char *path, int flags, const char *vfs);
/* The same without failing the test: NULL and the reason in err (for fixtures' setup). */
sqlite3 *sdb_try_open(const char *path, int flags, const char *vfs, char *err, size_t n);
/* sqlite3_close() must succeed: no statement may be left behind by anyone. */
void sdb_close(sqlite3 *db);

/* ---- the fixture: a fresh database file in a directory of its own, per test ---- */

typedef struct sdb_fx {
  char *dir;    /* the test's temporary directory, removed by sdb_teardown */
  char *path;   /* dir/test.db */
  sqlite3 *db;  /* sqlite-es + bank, WAL (sdb_open) */
  sqlite3 *db2; /* a second connection to path, opened by sdb_second() for tests that need one */
} sdb_fx;

/* cmocka setup: a new sdb_fx in *state with db open; -1 (reason printed) when it cannot open. */
int sdb_setup(void **state);
/* cmocka teardown: closes db2 and db (those left open), removes dir and frees the fixture. */
int sdb_teardown(void **state);
/* f->db2, opened with sdb_open on first use. */
sqlite3 *sdb_second(sdb_fx *f);

/* ---- running SQL ---- */

/* Run every statement of sql; fail the test with SQLite's message on error. */
void sdb_exec(sqlite3 *db, const char *sql);
/* Run sql, which must fail with exactly this message and extended error code. */
void sdb_exec_fails(sqlite3 *db, const char *sql, int ext_code, const char *msg);
/* The first column of the one row of sql, as an integer / as text (malloc'd, NULL for SQL NULL). */
sqlite3_int64 sdb_int(sqlite3 *db, const char *sql);
char *sdb_text(sqlite3 *db, const char *sql);
/* sql's first column must be this text. */
void sdb_text_is(sqlite3 *db, const char *sql, const char *want);
/* Every row of sql: columns joined by '|', rows ended by '\n', NULL as "NULL" (malloc'd). */
char *sdb_rows(sqlite3 *db, const char *sql);
/* The rows of sql must be exactly want (in the format of sdb_rows). */
void sdb_rows_are(sqlite3 *db, const char *sql, const char *want);

/*
** A canonical text of the whole main database: every sqlite_schema row (type, name, tbl_name,
** sql), then every row of every table as SQL literals, rows sorted, plus user_version. Two dumps
** are equal exactly when the content is (malloc'd).
*/
char *sdb_dump(sqlite3 *db);

/* sdb_dump(db) must be exactly before (a dump taken earlier). */
void sdb_dump_is(sqlite3 *db, const char *before);

/* The number of es_* objects (tables, triggers) in main's schema. */
sqlite3_int64 sdb_es_objects(sqlite3 *db);

#endif
