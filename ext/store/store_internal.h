/* store_internal.h — the store's state, shared by the files of ext/store/ only. */
#ifndef ES_STORE_INTERNAL_H
#define ES_STORE_INTERNAL_H

#include "store.h"

typedef enum es_stmt_id {
  ES_STMT_SCHEMA_VERSION,
  ES_STMT_DATA_VERSION,
  ES_STMT_READ_STREAM,
  ES_STMT_STREAM_VERSION,
  ES_STMT_FIND_COMMAND,
  ES_STMT_READ_HEAD,
  ES_STMT_SET_HEAD,
  ES_STMT_INSERT_EVENT,
  ES_STMT_INSERT_COMMAND,
  ES_STMT_COUNT
} es_stmt_id;

typedef struct es_cached_stmt es_cached_stmt;
typedef struct es_view_cache es_view_cache;
typedef struct es_views_state es_views_state;

struct es_store {
  sqlite3 *db;
  sqlite3_stmt *stmts[ES_STMT_COUNT];
  int schema_cookie; /* schema_version when the storage was last verified; -1: never */
  int schema_reprepares; /* how often our statement reading it had been re-prepared then */
  int in_call;       /* a call of ours is running (es_store_call): nothing else runs SQL until it ends */
  int schema_fresh;  /* verified during that call: es_table_exists need not read the version again */
  int exists;        /* the storage existed and was readable at that check */
  unsigned tables;   /* which of our tables existed then, a bit per es_table_id (see es_table_exists) */
  int64_t format;    /* its format then */
  int wrote;         /* the current write call has written something */
  char *damage;      /* why it may not be written (a guard missing or changed, a table altered), or NULL */
  es_status damage_kind;
  const char *armed_table; /* the guard allows writes to this table: one row, or all while sticky */
  int armed_sticky;
  es_cached_stmt *cache; /* prepared statements by SQL text, least recently used first (stmt_cache.c) */
  int n_cache, cap_cache;
  void *notes; /* the events the running catch-up feeds (views.c), or NULL */
  const char *view_schema; /* where the view writer writes: "main", or "temp" while a fold is checked */
  es_view_cache *view_cache; /* the view writer's statements by shape, and tables' keys (view_writer.c) */
  es_views_state *views_state; /* es_views as last read, with the read models' statements (views.c) */
  struct {
    int wrote;        /* the call in progress wrote es_views */
    int start_cookie; /* schema_cookie when it first did (-1: DDL of that call had already run) */
    int unsettled;    /* a write of es_views may still be rolled back with no DDL telling (views.c) */
  } views_txn;        /* kept across es_store_flush */
  int64_t data_version;        /* PRAGMA data_version as the call in progress read it, */
  int data_version_read;       /* when set (cleared at each edge of a call) */
};

/* PRAGMA schema_version, or -1 when it cannot be read. */
int es_store_schema_version(es_store *s);
/* The schema is as it was at the last verification of the storage (see es_store_open). */
int es_store_schema_unchanged(es_store *s);
/* Allow every write to table until disarmed with NULL (a view's handlers write many rows). */
void es_store_arm_table(es_store *s, const char *table);
/* Finalize every statement of the cache (stmt_cache.c). */
void es_store_flush_cache(es_store *s);
/* Finalize the view writer's statements and forget what it cached (view_writer.c), and the same
** for the read models (es_views_flush). */
void es_store_flush_views(es_store *s);
/* Step a statement that returns no rows (or whose rows are not needed) to completion, then reset
** it and clear its bindings; doing names the step in errors. */
es_status es_store_run(es_store *s, sqlite3_stmt *st, const char *doing, es_error *err);
/* A cached statement, prepared on first use; NULL with err set on failure. */
sqlite3_stmt *es_store_stmt(es_store *s, es_stmt_id id, es_error *err);

/* ---- the tables of the storage (schema.c) ---- */

typedef enum es_table_id {
  ES_TABLE_EVENTS,
  ES_TABLE_COMMANDS,
  ES_TABLE_META, /* the three above make the log, created together */
  ES_TABLE_VIEWS,
  ES_TABLE_CHECKPOINTS,
  ES_TABLE_SQL_AGGREGATES,
  ES_TABLE_SQL_HANDLERS,
  ES_TABLE_SNAPSHOTS,
  ES_TABLE_COUNT
} es_table_id;

typedef enum es_guard_style {
  ES_GUARD_LOG,  /* UPDATE and DELETE always refused, INSERT by the armed step */
  ES_GUARD_META, /* DELETE always refused, INSERT and UPDATE by the armed step */
  ES_GUARD_ARMED, /* every write by the armed step only */
  ES_GUARD_CACHE  /* INSERT and UPDATE by the armed step only; anyone may DELETE (snapshots) */
} es_guard_style;

typedef struct es_table_def {
  const char *name;
  const char *columns; /* the columns it is defined with, separated by spaces */
  const char *sql;     /* CREATE TABLE, exactly as sqlite_schema keeps it */
  const char *extra;   /* indexes and views created with it, or NULL */
  es_guard_style style;
  const char *why;     /* its guards say "es: protected: <name> <why>: …" */
  const char *advice_write, *advice_delete; /* … and then this, for ES_GUARD_ARMED */
  const char *what;    /* "… so <what> is not protected" */
} es_table_def;

const es_table_def *es_table(es_table_id id);
const es_table_def *es_table_named(const char *name); /* NULL when not a table of ours */
int es_table_exists(es_store *s, es_table_id id);
/* Create a table with its indexes, views and guards (no-op parts when they exist). */
es_status es_table_create(es_store *s, es_table_id id, es_error *err);
es_status es_table_ensure(es_store *s, es_table_id id, es_error *err);
/* *found says whether it exists; *problem (sqlite3_malloc'd) what differs from our definition. */
es_status es_table_check(es_store *s, es_table_id id, int *found, char **problem, es_error *err);
/* A table's columns now (pragma_table_info), or those a table of ours is defined with. */
es_status es_table_columns(es_store *s, const char *table, char ***out, int *n, es_error *err);
es_status es_table_defined_columns(const es_table_def *t, char ***out, int *n, es_error *err);
void es_table_columns_free(char **cols, int n);

/* ---- guards (protection.c) ---- */

typedef struct es_guard {
  char *name;  /* the trigger */
  char *table; /* the table it guards */
  char *sql;   /* its text, exactly as sqlite_schema keeps it */
  char *what;  /* what it protects, for messages: "the log", "read model x" */
} es_guard;

typedef enum es_guard_state { ES_GUARD_OK, ES_GUARD_MISSING, ES_GUARD_ALTERED } es_guard_state;
/* Called for each guard the storage should have, with its state and the text sqlite_schema holds
** for a trigger of its name (NULL when missing); return 0 to stop. */
typedef int (*es_guard_fn)(void *arg, const es_guard *g, es_guard_state st, const char *stored);

/* Every guard the storage should have now: those of its tables that exist, and of each view's table. */
es_status es_guards_expected(es_store *s, es_guard **out, int *n, es_error *err);
void es_guards_free(es_guard *g, int n);
es_status es_guards_check(es_store *s, es_guard_fn fn, void *arg, es_error *err);
/* "trigger … is missing / was changed, so … is not protected; restore it with SELECT es_protect()" */
char *es_guard_problem(const es_guard *g, es_guard_state st);
/* Create the guards that are missing and replace those that were changed, of one table (a table of
** ours, or a read model's listed in es_views) or of all when table is NULL; *created counts them. */
es_status es_guards_repair(es_store *s, const char *table, int *created, es_error *err);
/* Forget a read model's guards (es_drop_view). */
es_status es_guards_drop_view(es_store *s, const char *table, es_error *err);
/* Step st, which writes exactly one row of table, with its guard armed for that row. */
es_status es_store_guarded_write(es_store *s, sqlite3_stmt *st, const char *table, const char *doing, es_error *err);

/* ---- read models (views.c) ---- */

/* Forget es_views as last read and finalize the read models' statements. */
void es_views_flush(es_store *s);
/* A call of ours starts or ends (es_store_call): whether this connection's writes of es_views may
** still be undone with nothing telling (see views.c). */
void es_views_call_edge(es_store *s);
/* The names of the views es_views lists (none when it does not exist). */
es_status es_views_names(es_store *s, char ***out, int *n, es_error *err);
/* es_integrity_check's part on read models: each has its table, is at `end`, its feed compiles,
** and (unless quick) it equals a fold of the log made in a TEMP copy. */
struct es_integrity_report;
es_status es_views_integrity(es_store *s, const es_registry *reg, int quick, int64_t end, struct es_integrity_report *out,
                             es_error *err);

#endif
