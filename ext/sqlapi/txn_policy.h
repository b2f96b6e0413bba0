/*
** txn_policy.h — the one place that decides how a write-side call gets its atomicity
** (DESIGN §6): BEGIN IMMEDIATE … COMMIT when the connection has no transaction at all, a savepoint
** otherwise, and `misuse` when even a savepoint cannot be opened (inside a writing statement).
** A replicating host (dqlite) will get another policy here: never BEGIN or COMMIT inside a call.
*/
#ifndef ES_SQLAPI_TXN_POLICY_H
#define ES_SQLAPI_TXN_POLICY_H

#include "../domain/error.h"
#include "../sqlite_ext.h"

typedef enum es_txn_kind {
  ES_TXN_NONE,
  ES_TXN_TOP,            /* we began it with BEGIN IMMEDIATE and will COMMIT it */
  ES_TXN_SAVEPOINT,      /* inside the caller's transaction */
  ES_TXN_SAVEPOINT_SCAN  /* autocommit, but a statement already holds a read snapshot (a batch) */
} es_txn_kind;

typedef enum es_txn_stmt { ES_TX_BEGIN, ES_TX_COMMIT, ES_TX_ROLLBACK, ES_TX_SAVEPOINT, ES_TX_RELEASE, ES_TX_ROLLBACK_TO, ES_TX_COUNT } es_txn_stmt;

typedef struct es_txn_policy {
  sqlite3 *db;
  sqlite3_stmt *stmts[ES_TX_COUNT];
} es_txn_policy;

void es_txn_policy_init(es_txn_policy *p, sqlite3 *db);
void es_txn_policy_flush(es_txn_policy *p);

/* Open the unit of work of one call; `what` names the function in messages. */
es_status es_txn_begin(es_txn_policy *p, const char *what, es_txn_kind *kind, es_error *err);
/* Make it durable (or part of the caller's transaction). Rolls back if that fails. */
es_status es_txn_commit(es_txn_policy *p, es_txn_kind kind, es_error *err);
/* Undo everything since es_txn_begin; never touches the caller's own transaction or savepoints.
** wrote = 0 says nothing was written: the savepoint is then simply released, because ROLLBACK TO
** in a transaction with uncommitted schema changes aborts every running statement (the batch). */
void es_txn_rollback(es_txn_policy *p, es_txn_kind kind, int wrote);
/* A busy error in a batch scan gets the advice that fixes it. */
void es_txn_explain_busy(es_txn_kind kind, es_error *err);

#endif
