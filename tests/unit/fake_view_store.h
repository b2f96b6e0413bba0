/*
** fake_view_store.h — an in-memory view store behind the view-writer port (ext/ports/view_store.h),
** for unit tests of how C views fold events (ext/domain/view.c). Each table is a list of rows; a
** row is a list of (column → JSON text) pairs, in the order the columns were first set (the port's
** typed values written as the builder writes them). It behaves like the SQLite adapter
** (ext/store/view_writer.c) where the port says how: insert appends a row (and refuses a second
** row with the same primary key), upsert updates the set columns of the row with the same key or
** appends one, delete removes every row whose set columns all match, find returns the most
** recently appended matching row, typed as SQLite hands it back (an integer as INT, a string as
** TEXT, null as NULL, any other value as JSON). It records every call (per-operation counts and a
** text log of the calls with their columns) and can be told to fail an operation with a given
** es_status, message and native code. Its rows go through es_mem_* (so fake_mem's failure
** injection reaches it too); its call log and dumps are fixed buffers and never allocate.
*/
#ifndef ES_FAKE_VIEW_STORE_H
#define ES_FAKE_VIEW_STORE_H

#include <stddef.h>

#include "../../ext/ports/view_store.h"

typedef enum fake_view_op { FVS_INSERT, FVS_UPSERT, FVS_DELETE, FVS_FIND, FVS_N_OPS } fake_view_op;

/* One column of a stored row: its name and its value as JSON text (both es_mem_alloc'd). */
typedef struct fvs_col {
  char *key;
  char *json;
} fvs_col;

typedef struct fvs_row {
  fvs_col *cols;
  size_t n;
} fvs_row;

typedef struct fvs_table {
  char *name;
  char **key; /* primary key columns (n_key of them; none: upsert is refused like a table without one) */
  size_t n_key;
  fvs_row *rows; /* in the order they were appended */
  size_t n_rows, cap_rows;
} fvs_table;

/* What the next calls of one operation do instead of their work. */
typedef struct fvs_failure {
  es_status status; /* ES_OK = no failure */
  int native_code;
  const char *message; /* borrowed; NULL = no message */
  int after;           /* calls that still succeed before the failures start */
} fvs_failure;

#define FVS_LOG_MAX 4096
#define FVS_DUMP_MAX 4096
#define FVS_VALUE_MAX 1024 /* a longer value (as JSON text) is refused: ES_INVALID_ARGUMENT */

typedef struct fake_view_store {
  es_view_store port; /* give &port to the domain; port.self is this struct */

  fvs_table *tables;
  size_t n_tables;

  /* Calls, per operation (write with an op that is none of the three counts as bad_ops). */
  int calls[FVS_N_OPS];
  int bad_ops;
  es_status last_status[FVS_N_OPS];
  /* Every call, one line each: "<op> <table> {<cols as a JSON object>}\n"; a find line ends with
  ** " -> <the row returned, or null>". log_overflow is set when a line did not fit. */
  char log[FVS_LOG_MAX];
  int log_overflow;

  fvs_failure fail[FVS_N_OPS];

  char dump[FVS_DUMP_MAX]; /* fake_view_store_dump's result */
} fake_view_store;

/* A new, empty store (NULL on no memory), and its end. */
fake_view_store *fake_view_store_new(void);
void fake_view_store_free(fake_view_store *fs);

/*
** Add a table. key: its primary key columns, comma-separated ("id" or "account,seq"), or NULL for
** none. A write to a table that was never added fails with ES_STORAGE "no such table: <name>".
** ES_OK or ES_NOMEM.
*/
es_status fake_view_store_add_table(fake_view_store *fs, const char *name, const char *key);

/*
** Append a row straight into a table (no call is recorded, nothing is checked): the arguments
** after table are pairs of column name and JSON text, ended by NULL; the JSON text is stored as
** given, so a test can plant a row that cannot be read back. ES_OK, ES_NOMEM, or ES_STORAGE when
** there is no such table.
*/
es_status fake_view_store_put(fake_view_store *fs, const char *table, ...);

/* Make every later call of op fail with status (ES_OK stops it), after `after` more succeed. */
void fake_view_store_fail(fake_view_store *fs, fake_view_op op, es_status status, int native_code,
                          const char *message, int after);

/* Forget the recorded calls (not the rows). */
void fake_view_store_reset_calls(fake_view_store *fs);

/* Every row of table as JSON objects, one a line, in order ("" when empty; "(no such table)"). */
const char *fake_view_store_dump(fake_view_store *fs, const char *table);

/* The number of rows in table (-1 when there is no such table). */
long fake_view_store_count(const fake_view_store *fs, const char *table);

#endif
