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

struct es_store {
  sqlite3 *db;
  sqlite3_stmt *stmts[ES_STMT_COUNT];
  int schema_cookie; /* schema_version when the storage was last verified; -1: never */
  int exists;        /* the storage existed and was sound at that check */
  int created_pending; /* we created it in a transaction that has not ended yet */
  int wrote;         /* the current write call has written something */
  const char *missing_trigger; /* a protection trigger found missing at that check, or NULL */
  const char *armed_table; /* the guard allows one write to this table (static string) */
};

/* A cached statement, prepared on first use; NULL with err set on failure. */
sqlite3_stmt *es_store_stmt(es_store *s, es_stmt_id id, es_error *err);

#endif
