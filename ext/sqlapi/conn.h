/*
** conn.h — the state sqlite-es keeps per connection: registered aggregate types, the store and
** its cached statements, the es_api handed to other extensions, and settings. It is the user data
** of every function and module, reference-counted, and freed with the last of them.
*/
#ifndef ES_SQLAPI_CONN_H
#define ES_SQLAPI_CONN_H

#include "../domain/registry.h"
#include "../domain/state_cache.h"
#include "../store/store.h"
#include "txn_policy.h"

typedef struct es_conn es_conn;

/* What es_command or es_event (context_vtabs.c) show while a SQL decider or evolver runs. */
typedef enum { ES_CTX_COMMAND = 1, ES_CTX_EVENT = 2 } es_ctx_kind;
typedef struct es_sql_context {
  es_ctx_kind kind;
  const char *aggregate_type, *aggregate_id, *type; /* type: the command's or the event's */
  const char *data;                                 /* the payload, or the event data (JSON) */
  size_t data_len;
  const char *state; /* the aggregate's state before it (JSON) */
  size_t state_len;
  int64_t version, position;
  const struct es_json *payload; /* a command's payload as the command loop parsed it */
} es_sql_context;

typedef struct es_api_impl {
  es_api pub; /* must be first: the es_api* handed out points here */
  es_conn *conn;
  char *errmsg;
} es_api_impl;

struct es_conn {
  sqlite3 *db;
  int refs;
  es_registry *registry;
  es_state_cache *cache;             /* aggregate states between commands (domain/state_cache.h) */
  int64_t cache_data_version;        /* the data version the cached states were made under */
  es_store *store;
  es_txn_policy txn;
  es_api_impl api;
  sqlite3_int64 max_payload_bytes;
  sqlite3_int64 snapshot_every; /* es_config('snapshot_every'): 0 takes no snapshots */
  int close_hook_connected; /* the es_aggregates table is connected: see aggregates_vtab.c */
  const char *running;      /* the sqlite-es call running on this connection (its SQL name), or NULL */
  es_sql_context *sql_context;       /* the running SQL decider's or evolver's context, or NULL */
  char *sql_reject_reason;           /* set by es_require in a decider */
  char *sql_reject_message;
  char *sql_payload_error;           /* set by es_payload_int/_text in a decider */
  sqlite3_int64 sql_definitions_seen; /* the definitions' version when SQL aggregates were loaded */
};

es_conn *es_conn_new(sqlite3 *db);
void es_conn_ref(es_conn *c);
void es_conn_unref(void *c); /* the xDestroy of every registration */
/* Finalize every cached statement (done before the connection closes). */
void es_conn_flush(es_conn *c);

void es_conn_ensure_close_hook(es_conn *c);

/*
** A call that runs deciders, evolvers or view handlers (or changes what they are) enters the
** connection first. Another such call while it runs (an application function called from a
** decider, an evolver or a view handler, calling back into sqlite-es) is refused with `misuse`:
** it would reset the running call's statements and change the registry under it.
*/
es_status es_conn_enter(es_conn *c, const char *fname, es_error *err);
void es_conn_leave(es_conn *c);

/*
** Run work atomically under the transaction policy (txn_policy.c): the storage is checked
** (protection too, when guarded), then work runs; it is committed when work succeeds and rolled
** back (only what it wrote) when it fails. Every write-side SQL function goes through here;
** es_conn_atomic enters the connection, es_conn_atomic_entered is for a call that already has.
*/
typedef es_status (*es_work_fn)(es_conn *c, void *arg, es_error *err);
es_status es_conn_atomic(es_conn *c, const char *fname, int guarded, es_work_fn work, void *arg, es_error *err);
es_status es_conn_atomic_entered(es_conn *c, const char *fname, int guarded, es_work_fn work, void *arg,
                                 es_error *err);
/* Forget the cached states before the registry changes: they belong to its aggregate types. */
void es_conn_registry_changing(es_conn *c);

/* Load the SQL aggregate definitions into the registry when they changed (sql_aggregates.c). */
es_status es_sql_aggregates_sync(es_conn *c, es_error *err);
void es_sql_clear_outcome(es_conn *c);

/* Bring views registered on this connection into the database now (views.c). */
es_status es_attach_views_now(es_conn *c, es_error *err);

/* Fill an es_api for this connection (api.c). */
void es_api_init(es_conn *c);
void es_api_clear(es_conn *c);

#endif
