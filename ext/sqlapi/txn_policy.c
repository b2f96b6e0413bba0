/*
** txn_policy.c — atomicity for write-side calls (txn_policy.h), measured on SQLite 3.40
** (shared/notes/sqlite-facts.md Q1–Q5, Q9):
** - a scalar function's nested statements commit one by one unless it opens its own transaction;
** - BEGIN IMMEDIATE takes the write lock up front, so busy_timeout is honoured and no
**   SQLITE_BUSY_SNAPSHOT can happen; only possible when no transaction at all is open;
** - otherwise a savepoint nests in whatever is open; it fails with "SQL statements in progress"
**   inside a writing statement, before anything was written.
** The savepoint always has the same name: calls never nest, and RELEASE / ROLLBACK TO act on the
** innermost savepoint of that name, which is always ours, so a caller's savepoint is never touched.
*/
#include <string.h>

#include "../store/store.h"
#include "txn_policy.h"

static const char *const tx_sql[ES_TX_COUNT] = {
    [ES_TX_BEGIN] = "BEGIN IMMEDIATE",
    [ES_TX_COMMIT] = "COMMIT",
    [ES_TX_ROLLBACK] = "ROLLBACK",
    [ES_TX_SAVEPOINT] = "SAVEPOINT es_call",
    [ES_TX_RELEASE] = "RELEASE es_call",
    [ES_TX_ROLLBACK_TO] = "ROLLBACK TO es_call",
};

void es_txn_policy_init(es_txn_policy *p, sqlite3 *db) {
  memset(p, 0, sizeof(*p));
  p->db = db;
}

void es_txn_policy_flush(es_txn_policy *p) {
  for (int i = 0; i < ES_TX_COUNT; i++) {
    sqlite3_finalize(p->stmts[i]);
    p->stmts[i] = 0;
  }
}

/* Run one of the transaction statements (prepared once, kept). */
static int run(es_txn_policy *p, es_txn_stmt which) {
  if (!p->stmts[which]) {
    int rc = sqlite3_prepare_v3(p->db, tx_sql[which], -1, SQLITE_PREPARE_PERSISTENT, &p->stmts[which], 0);
    if (rc != SQLITE_OK) return rc;
  }
  int rc = sqlite3_step(p->stmts[which]);
  sqlite3_reset(p->stmts[which]);
  return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

es_status es_txn_begin(es_txn_policy *p, const char *what, es_txn_kind *kind, es_error *err) {
  sqlite3 *db = p->db;
  int rc;
  if (sqlite3_get_autocommit(db) && sqlite3_txn_state(db, "main") == SQLITE_TXN_NONE) {
    *kind = ES_TXN_TOP;
    rc = run(p, ES_TX_BEGIN);
    if (rc != SQLITE_OK) return es_store_error(db, rc, "BEGIN IMMEDIATE", err);
    return ES_OK;
  }
  *kind = sqlite3_get_autocommit(db) ? ES_TXN_SAVEPOINT_SCAN : ES_TXN_SAVEPOINT;
  rc = run(p, ES_TX_SAVEPOINT);
  if (rc == SQLITE_OK) return ES_OK;
  if ((rc & 0xff) == SQLITE_BUSY && strstr(sqlite3_errmsg(db), "statements in progress"))
    return es_error_set(err, ES_MISUSE,
                        "%s cannot be atomic inside a statement that writes (INSERT … SELECT, UPDATE … SET, a"
                        " trigger): call it from a plain SELECT",
                        what);
  return es_store_error(db, rc, "SAVEPOINT", err);
}

es_status es_txn_commit(es_txn_policy *p, es_txn_kind kind, es_error *err) {
  int rc = run(p, kind == ES_TXN_TOP ? ES_TX_COMMIT : ES_TX_RELEASE);
  if (rc == SQLITE_OK) return ES_OK;
  es_store_error(p->db, rc, kind == ES_TXN_TOP ? "COMMIT" : "RELEASE", err);
  es_txn_rollback(p, kind, 1);
  es_txn_explain_busy(kind, err);
  return err->status;
}

void es_txn_rollback(es_txn_policy *p, es_txn_kind kind, int wrote) {
  if (kind == ES_TXN_TOP) {
    if (!sqlite3_get_autocommit(p->db)) run(p, ES_TX_ROLLBACK);
    return;
  }
  if (wrote) run(p, ES_TX_ROLLBACK_TO);
  run(p, ES_TX_RELEASE);
}

void es_txn_explain_busy(es_txn_kind kind, es_error *err) {
  if (err->status != ES_BUSY || kind != ES_TXN_SAVEPOINT_SCAN || !err->message) return;
  es_error e = {0};
  es_error_set(&e, ES_BUSY,
               "%s; a batch (SELECT … FROM a table) in autocommit mode cannot wait for the write lock: run it"
               " inside BEGIN IMMEDIATE … COMMIT",
               err->message);
  if (e.status == ES_BUSY) {
    e.native_code = err->native_code;
    es_error_clear(err);
    *err = e;
  }
}
