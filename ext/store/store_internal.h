/* store_internal.h — the store's state, shared by the files of ext/store/ only. */
#ifndef ES_STORE_INTERNAL_H
#define ES_STORE_INTERNAL_H

#include "store.h"

typedef enum es_stmt_id {
  ES_STMT_SCHEMA_VERSION,
  ES_STMT_READ_STREAM,
  ES_STMT_STREAM_VERSION,
  ES_STMT_FIND_COMMAND,
  ES_STMT_INSERT_EVENT,
  ES_STMT_INSERT_COMMAND,
  ES_STMT_COUNT
} es_stmt_id;

typedef struct es_cached_stmt es_cached_stmt;

struct es_store {
  sqlite3 *db;
  sqlite3_stmt *stmts[ES_STMT_COUNT];
  int schema_cookie; /* schema_version when the storage was last verified; -1: never */
  int exists;        /* the storage existed and was sound at that check */
  int created_pending; /* we created it in a transaction that has not ended yet */
  int wrote;         /* the current write call has written something */
  const char *missing_trigger; /* a protection trigger found missing at that check, or NULL */
  char missing_view_guard[256]; /* its name, when it is a read model's guard */
  const char *armed_table; /* the guard allows writes to this table: one row, or all while sticky */
  int armed_sticky;
  es_cached_stmt *cache; /* prepared statements by SQL text, least recently used first (stmt_cache.c) */
  int n_cache, cap_cache;
  void *notes; /* the events the running catch-up feeds (views.c), or NULL */
};

/* Allow every write to table until disarmed with NULL (a view's handlers write many rows). */
void es_store_arm_table(es_store *s, const char *table);
/* Set missing_trigger when a read model's guard (or es_views's) is missing (views.c). */
es_status es_views_missing_guard(es_store *s, es_error *err);
/* Recreate missing guards of read models; *created counts them (views.c). */
es_status es_views_protect(es_store *s, int *created, es_error *err);
/* Finalize every statement of the cache (stmt_cache.c). */
void es_store_flush_cache(es_store *s);

/* A cached statement, prepared on first use; NULL with err set on failure. */
sqlite3_stmt *es_store_stmt(es_store *s, es_stmt_id id, es_error *err);

#endif
