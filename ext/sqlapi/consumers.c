/*
** consumers.c — durable consumers from SQL:
**   SELECT es_create_consumer('mailer' [, 'account' [, member, size]]);   -- a checkpoint at 0
**   SELECT * FROM es_next('mailer', 100);     -- the next events after its checkpoint, in order
**   SELECT es_ack('mailer', 1234);            -- processed up to 1234 (in your own transaction
**                                             -- with the results: exactly once in this database)
** Delivery is at least once and in position order; positions are gapless, so nothing is skipped.
*/
#include <string.h>

#include "../domain/command.h"
#include "../domain/query.h"
#include "conn.h"
#include "errors.h"
#include "functions.h"
#include "log_rows.h"
#include "vtabs.h"

typedef struct consumer_args {
  const char *name, *aggregate_type;
  int64_t member, size, position;
} consumer_args;

static es_status create_step(es_conn *c, void *arg, es_error *err) {
  consumer_args *a = arg;
  return es_consumer_create(c->store, a->name, a->aggregate_type, a->member, a->size, err);
}

static es_status ack_step(es_conn *c, void *arg, es_error *err) {
  consumer_args *a = arg;
  return es_consumer_ack(c->store, a->name, a->position, err);
}

/* The consumer name argument: text, 1 to 1000 bytes. */
static es_status name_arg(sqlite3_value *v, const char **out, es_error *err) {
  if (sqlite3_value_type(v) != SQLITE_TEXT)
    return es_error_set(err, ES_INVALID_ARGUMENT, "consumer name must be text, got %s", es_value_type_name(v));
  *out = (const char *)sqlite3_value_text(v);
  return *out ? es_check_id("consumer name", *out, err) : es_error_set(err, ES_NOMEM, 0);
}

/* es_create_consumer(name [, aggregate_type [, member, size]]): returns 1. */
void es_create_consumer_fn(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  es_conn *c = sqlite3_user_data(ctx);
  es_error err = {0};
  consumer_args a = {0};
  if (name_arg(argv[0], &a.name, &err) != ES_OK) goto done;
  if (argc > 1 && sqlite3_value_type(argv[1]) != SQLITE_NULL) {
    if (sqlite3_value_type(argv[1]) != SQLITE_TEXT) {
      es_error_set(&err, ES_INVALID_ARGUMENT, "aggregate_type must be text or NULL, got %s", es_value_type_name(argv[1]));
      goto done;
    }
    a.aggregate_type = (const char *)sqlite3_value_text(argv[1]);
    if (es_check_id("aggregate_type", a.aggregate_type, &err) != ES_OK) goto done;
  }
  if (argc > 2) {
    if (argc != 4 || sqlite3_value_type(argv[2]) != SQLITE_INTEGER || sqlite3_value_type(argv[3]) != SQLITE_INTEGER) {
      es_error_set(&err, ES_INVALID_ARGUMENT, "a consumer group needs both member and size, as integers");
      goto done;
    }
    a.member = sqlite3_value_int64(argv[2]);
    a.size = sqlite3_value_int64(argv[3]);
  }
  es_conn_atomic(c, "es_create_consumer", 1, create_step, &a, &err);
done:
  if (err.status == ES_OK) sqlite3_result_int(ctx, 1);
  else es_result_error(ctx, &err);
  es_error_clear(&err);
}

/* es_ack(name, position): the consumer has processed every event up to position; returns it. */
void es_ack_fn(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  es_conn *c = sqlite3_user_data(ctx);
  es_error err = {0};
  consumer_args a = {0};
  (void)argc;
  if (name_arg(argv[0], &a.name, &err) != ES_OK) goto done;
  if (sqlite3_value_type(argv[1]) != SQLITE_INTEGER) {
    es_error_set(&err, ES_INVALID_ARGUMENT, "position must be an integer, got %s", es_value_type_name(argv[1]));
    goto done;
  }
  a.position = sqlite3_value_int64(argv[1]);
  es_conn_atomic(c, "es_ack", 1, ack_step, &a, &err);
done:
  if (err.status == ES_OK) sqlite3_result_int64(ctx, a.position);
  else es_result_error(ctx, &err);
  es_error_clear(&err);
}

/* ======================= es_next(name [, batch]) ======================= */

enum { COL_POSITION, COL_AGGREGATE_TYPE, COL_AGGREGATE_ID, COL_VERSION, COL_TYPE, COL_DATA, COL_METADATA,
       COL_COMMAND_ID, COL_RECORDED_AT, COL_CONSUMER, COL_BATCH };

typedef struct next_vtab {
  sqlite3_vtab base; /* must be first */
  es_conn *conn;
} next_vtab;

typedef struct next_cursor {
  es_log_rows rows; /* must be first */
} next_cursor;

static int next_connect(sqlite3 *db, void *aux, int argc, const char *const *argv, sqlite3_vtab **out, char **err) {
  (void)argc, (void)argv, (void)err;
  int rc = sqlite3_declare_vtab(db, "CREATE TABLE x(position INTEGER, aggregate_type TEXT, aggregate_id TEXT,"
                                    " version INTEGER, type TEXT, data TEXT, metadata TEXT, command_id TEXT,"
                                    " recorded_at TEXT, consumer TEXT HIDDEN, batch INTEGER HIDDEN)");
  if (rc != SQLITE_OK) return rc;
  next_vtab *v = sqlite3_malloc64(sizeof(*v));
  if (!v) return SQLITE_NOMEM;
  memset(v, 0, sizeof(*v));
  v->conn = aux;
  es_conn_ref(v->conn);
  *out = &v->base;
  return SQLITE_OK;
}

static int next_disconnect(sqlite3_vtab *p) {
  es_conn_unref(((next_vtab *)p)->conn);
  sqlite3_free(p);
  return SQLITE_OK;
}

/* idxNum bit 1: consumer given, bit 2: batch given (argv in that order). */
static int next_best_index(sqlite3_vtab *p, sqlite3_index_info *info) {
  (void)p;
  int slot[2] = {-1, -1}, argn = 0, mask = 0;
  for (int i = 0; i < info->nConstraint; i++) {
    const struct sqlite3_index_constraint *c = &info->aConstraint[i];
    if (c->op != SQLITE_INDEX_CONSTRAINT_EQ || c->iColumn < COL_CONSUMER) continue;
    if (!c->usable) return SQLITE_CONSTRAINT;
    slot[c->iColumn - COL_CONSUMER] = i;
  }
  for (int k = 0; k < 2; k++) {
    if (slot[k] < 0) continue;
    mask |= 1 << k;
    info->aConstraintUsage[slot[k]].argvIndex = ++argn;
    info->aConstraintUsage[slot[k]].omit = 1;
  }
  info->idxNum = mask;
  info->estimatedCost = mask & 1 ? 100 : 1e12;
  if (info->nOrderBy == 1 && info->aOrderBy[0].iColumn == COL_POSITION && !info->aOrderBy[0].desc)
    info->orderByConsumed = 1;
  return SQLITE_OK;
}

static int next_open(sqlite3_vtab *p, sqlite3_vtab_cursor **out) {
  (void)p;
  next_cursor *c = sqlite3_malloc64(sizeof(*c));
  if (!c) return SQLITE_NOMEM;
  memset(c, 0, sizeof(*c));
  *out = &c->rows.base;
  return SQLITE_OK;
}

static int next_close(sqlite3_vtab_cursor *cur) {
  es_log_rows_reset(&((next_cursor *)cur)->rows);
  sqlite3_free(cur);
  return SQLITE_OK;
}

static int next_filter(sqlite3_vtab_cursor *cur, int mask, const char *idxs, int argc, sqlite3_value **argv) {
  next_cursor *c = (next_cursor *)cur;
  next_vtab *v = (next_vtab *)cur->pVtab;
  es_error err = {0};
  es_consumer consumer;
  const char *name = 0;
  (void)idxs, (void)argc;
  es_log_rows_reset(&c->rows);
  if (!(mask & 1)) {
    es_error_set(&err, ES_INVALID_ARGUMENT, "es_next(consumer [, batch]) needs the consumer's name");
    return es_vtab_error(cur->pVtab, &err);
  }
  if (name_arg(argv[0], &name, &err) != ES_OK) return es_vtab_error(cur->pVtab, &err);
  int64_t batch = (mask & 2) ? sqlite3_value_int64(argv[1]) : 100;
  if ((mask & 2) && (sqlite3_value_type(argv[1]) != SQLITE_INTEGER || batch < 1)) {
    es_error_set(&err, ES_INVALID_ARGUMENT, "batch must be a positive integer");
    return es_vtab_error(cur->pVtab, &err);
  }
  es_conn_ensure_close_hook(v->conn);
  if (es_store_open(v->conn->store, 0, &err) != ES_OK || es_consumer_find(v->conn->store, name, &consumer, &err) != ES_OK)
    return es_vtab_error(cur->pVtab, &err);
  es_log_query q;
  memset(&q, 0, sizeof(q));
  if (consumer.has_aggregate_type) es_query_list_add(&q.aggregate_types, consumer.aggregate_type);
  q.after_position = consumer.position;
  q.group_member = consumer.group_member;
  q.group_size = consumer.group_size;
  q.limit = batch;
  if (!(c->rows.st = es_store_prepare_query(v->conn->store, &q, &err))) return es_vtab_error(cur->pVtab, &err);
  c->rows.eof = 0;
  return es_log_rows_next(cur);
}

static int next_column(sqlite3_vtab_cursor *cur, sqlite3_context *ctx, int col) {
  if (col < COL_CONSUMER) sqlite3_result_value(ctx, sqlite3_column_value(((next_cursor *)cur)->rows.st, col));
  return SQLITE_OK;
}

static const sqlite3_module next_module = {
    .iVersion = 0,
    .xConnect = next_connect,
    .xBestIndex = next_best_index,
    .xDisconnect = next_disconnect,
    .xOpen = next_open,
    .xClose = next_close,
    .xFilter = next_filter,
    .xNext = es_log_rows_next,
    .xEof = es_log_rows_eof,
    .xColumn = next_column,
    .xRowid = es_log_rows_rowid,
};

int es_register_next_vtab(sqlite3 *db, es_conn *c) {
  es_conn_ref(c);
  return sqlite3_create_module_v2(db, "es_next", &next_module, c, es_conn_unref);
}
