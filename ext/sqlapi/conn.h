/*
** conn.h — the state sqlite-es keeps per connection: registered aggregate types, the store and
** its cached statements, the es_api handed to other extensions, and settings. It is the user data
** of every function and module, reference-counted, and freed with the last of them.
*/
#ifndef ES_SQLAPI_CONN_H
#define ES_SQLAPI_CONN_H

#include "../domain/registry.h"
#include "../store/store.h"
#include "txn_policy.h"

typedef struct es_conn es_conn;

typedef struct es_api_impl {
  es_api pub; /* must be first: the es_api* handed out points here */
  es_conn *conn;
  char *errmsg;
} es_api_impl;

struct es_conn {
  sqlite3 *db;
  int refs;
  es_registry *registry;
  es_store *store;
  es_txn_policy txn;
  es_api_impl api;
  sqlite3_int64 max_payload_bytes;
  int close_hook_connected; /* the es_aggregates table is connected: see aggregates_vtab.c */
  int in_command;           /* a command is being decided: the registry must not change under it */
};

es_conn *es_conn_new(sqlite3 *db);
void es_conn_ref(es_conn *c);
void es_conn_unref(void *c); /* the xDestroy of every registration */
/* Finalize every cached statement (done before the connection closes). */
void es_conn_flush(es_conn *c);

void es_conn_ensure_close_hook(es_conn *c);
/* Bring views registered on this connection into the database now (views.c). */
es_status es_attach_views_now(es_conn *c, es_error *err);

/* Fill an es_api for this connection (api.c). */
void es_api_init(es_conn *c);
void es_api_clear(es_conn *c);

#endif
