/*
** log_vtab.c — es_log: the whole log as a read-only table whose constraints become a query struct
** (domain/query.h), translated to SQL by the storage layer (store/query_translate.c), so that
** `SELECT … FROM es_log WHERE aggregate_type = 'account' AND position > 1000` reads an index
** instead of the whole log. Rows always come in position order, and the planner is told so.
**
** Plan: idxStr holds one letter per argv value, saying what it constrains:
**   p position =   g position >   h position >=   l position <   m position <=
**   t aggregate_type =   i aggregate_id =   e type =   (upper case T I E: IN, all values at once)
**   v version >    w version >=   n LIMIT
** Numbers compare as SQLite compares them with an INTEGER column: 2.5 lies between 2 and 3, and
** text or a blob is greater than every number.
*/
#include <string.h>

#include "../domain/mem.h"
#include "../domain/query.h"
#include "conn.h"
#include "errors.h"
#include "log_rows.h"
#include "vtabs.h"

enum { COL_POSITION, COL_AGGREGATE_TYPE, COL_AGGREGATE_ID, COL_VERSION, COL_TYPE, COL_DATA, COL_METADATA,
       COL_COMMAND_ID, COL_RECORDED_AT };

typedef struct log_vtab {
  sqlite3_vtab base; /* must be first */
  es_conn *conn;
} log_vtab;

typedef struct log_cursor {
  es_log_rows rows; /* must be first */
  char *texts[3 * ES_QUERY_MAX_LIST]; /* copies of the text values the query points to */
  int n_texts;
  unsigned constrained; /* bit per text list (types, ids, event types) already constrained */
} log_cursor;

static void forget_texts(log_cursor *c) {
  for (int i = 0; i < c->n_texts; i++) sqlite3_free(c->texts[i]);
  c->n_texts = 0;
}

static int log_connect(sqlite3 *db, void *aux, int argc, const char *const *argv, sqlite3_vtab **out, char **err) {
  (void)argc, (void)argv, (void)err;
  int rc = sqlite3_declare_vtab(db, "CREATE TABLE x(position INTEGER, aggregate_type TEXT, aggregate_id TEXT,"
                                    " version INTEGER, type TEXT, data TEXT, metadata TEXT, command_id TEXT,"
                                    " recorded_at TEXT)");
  if (rc != SQLITE_OK) return rc;
  log_vtab *v = sqlite3_malloc64(sizeof(*v));
  if (!v) return SQLITE_NOMEM;
  memset(v, 0, sizeof(*v));
  v->conn = aux;
  es_conn_ref(v->conn);
  sqlite3_vtab_config(db, SQLITE_VTAB_INNOCUOUS);
  *out = &v->base;
  return SQLITE_OK;
}

static int log_disconnect(sqlite3_vtab *p) {
  log_vtab *v = (log_vtab *)p;
  es_conn_unref(v->conn);
  sqlite3_free(v);
  return SQLITE_OK;
}

/* The plan letter for a usable constraint, or 0 when es_log cannot use it. */
static char plan_letter(int column, int op) {
  static const struct { int column, op; char letter; } map[] = {
      {COL_POSITION, SQLITE_INDEX_CONSTRAINT_EQ, 'p'},       {COL_POSITION, SQLITE_INDEX_CONSTRAINT_GT, 'g'},
      {COL_POSITION, SQLITE_INDEX_CONSTRAINT_GE, 'h'},       {COL_POSITION, SQLITE_INDEX_CONSTRAINT_LT, 'l'},
      {COL_POSITION, SQLITE_INDEX_CONSTRAINT_LE, 'm'},       {COL_AGGREGATE_TYPE, SQLITE_INDEX_CONSTRAINT_EQ, 't'},
      {COL_AGGREGATE_ID, SQLITE_INDEX_CONSTRAINT_EQ, 'i'},   {COL_TYPE, SQLITE_INDEX_CONSTRAINT_EQ, 'e'},
      {COL_VERSION, SQLITE_INDEX_CONSTRAINT_GT, 'v'},        {COL_VERSION, SQLITE_INDEX_CONSTRAINT_GE, 'w'},
  };
  for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
    if (map[i].column == column && map[i].op == op) return map[i].letter;
  return 0;
}

static int log_best_index(sqlite3_vtab *p, sqlite3_index_info *info) {
  (void)p;
  char plan[64];
  int n = 0, all_used = 1;
  double cost = 1e7;
  int ordered = info->nOrderBy == 0 ||
                (info->nOrderBy == 1 && info->aOrderBy[0].iColumn == COL_POSITION && !info->aOrderBy[0].desc);
  for (int i = 0; i < info->nConstraint; i++) {
    const struct sqlite3_index_constraint *c = &info->aConstraint[i];
    if (c->op != SQLITE_INDEX_CONSTRAINT_LIMIT && (!c->usable || !plan_letter(c->iColumn, c->op))) all_used = 0;
  }
  for (int i = 0; i < info->nConstraint && n < (int)sizeof(plan) - 2; i++) {
    const struct sqlite3_index_constraint *c = &info->aConstraint[i];
    if (!c->usable) continue;
    /* LIMIT applies to our rows only when they are the final rows: every term ours, our order. */
    char letter = c->op == SQLITE_INDEX_CONSTRAINT_LIMIT ? (ordered && all_used ? 'n' : 0) : plan_letter(c->iColumn, c->op);
    if (!letter) continue;
#if SQLITE_VERSION_NUMBER >= 3038000
    /* An IN list on a text column: all its values at once, so rows stay in position order. */
    if ((letter == 't' || letter == 'i' || letter == 'e') && sqlite3_libversion_number() >= 3038000 &&
        sqlite3_vtab_in(info, i, 1))
      letter = (char)(letter - 'a' + 'A');
#endif
    plan[n++] = letter;
    info->aConstraintUsage[i].argvIndex = n;
    info->aConstraintUsage[i].omit = 1;
    if (letter == 'i' || letter == 'I') cost = cost > 10 ? 10 : cost;
    else if (letter == 'p') cost = 1;
    else if (letter == 't' || letter == 'T' || letter == 'e' || letter == 'E' || letter == 'g' || letter == 'h')
      cost = cost > 1000 ? 1000 : cost;
  }
  plan[n] = 0;
  info->idxStr = sqlite3_mprintf("%s", plan);
  info->needToFreeIdxStr = 1;
  if (!info->idxStr) return SQLITE_NOMEM;
  info->estimatedCost = cost;
  info->estimatedRows = (sqlite3_int64)cost;
  if (info->nOrderBy == 1 && info->aOrderBy[0].iColumn == COL_POSITION && !info->aOrderBy[0].desc)
    info->orderByConsumed = 1;
  return SQLITE_OK;
}

static int log_open(sqlite3_vtab *p, sqlite3_vtab_cursor **out) {
  (void)p;
  log_cursor *c = sqlite3_malloc64(sizeof(*c));
  if (!c) return SQLITE_NOMEM;
  memset(c, 0, sizeof(*c));
  *out = &c->rows.base;
  return SQLITE_OK;
}

static int log_close(sqlite3_vtab_cursor *cur) {
  forget_texts((log_cursor *)cur);
  es_log_rows_reset(&((log_cursor *)cur)->rows);
  sqlite3_free(cur);
  return SQLITE_OK;
}

/* The largest integer <= d, and the smallest >= d, clamped to int64 (no libm: es.so needs only libc). */
static int64_t floor_i64(double d) {
  if (d >= 9223372036854775807.0) return INT64_MAX;
  if (d <= -9223372036854775808.0) return INT64_MIN;
  int64_t i = (int64_t)d;
  return (double)i > d ? i - 1 : i;
}
static int64_t ceil_i64(double d) {
  int64_t i = floor_i64(d);
  return (double)i < d && i < INT64_MAX ? i + 1 : i;
}

/* Rows with field > after: the lower bound only ever rises. */
static void raise_floor(int64_t *after, int64_t bound) {
  if (bound > *after) *after = bound;
}

/* Rows with position <= up_to: the upper bound only ever falls; below 1 nothing can match. */
static void lower_ceiling(es_log_query *q, int64_t up_to, int *nothing) {
  if (up_to < 1) *nothing = 1;
  else if (!q->up_to_position || up_to < q->up_to_position) q->up_to_position = up_to;
}

/* A bound on position (p g h l m) or version (v w), with SQLite's comparison rules. */
static void add_bound(es_log_query *q, char letter, sqlite3_value *v, int *nothing) {
  int type = sqlite3_value_numeric_type(v);
  int64_t *after = letter == 'v' || letter == 'w' ? &q->after_version : &q->after_position;
  if (type == SQLITE_NULL) {
    *nothing = 1; /* x op NULL is never true */
    return;
  }
  if (type == SQLITE_TEXT || type == SQLITE_BLOB) { /* greater than every number */
    if (letter != 'l' && letter != 'm') *nothing = 1;
    return;
  }
  double d = sqlite3_value_double(v);
  int64_t i = sqlite3_value_int64(v);
  int64_t lo = type == SQLITE_INTEGER ? i : floor_i64(d), hi = type == SQLITE_INTEGER ? i : ceil_i64(d);
  switch (letter) {
    case 'p':
      if (lo != hi) *nothing = 1; /* = 2.5: no integer */
      raise_floor(after, lo > INT64_MIN ? lo - 1 : lo);
      lower_ceiling(q, lo, nothing);
      break;
    case 'g':
    case 'v':
      raise_floor(after, lo); /* > 2.5 means >= 3, that is > 2 */
      break;
    case 'h':
    case 'w':
      raise_floor(after, hi > INT64_MIN ? hi - 1 : hi);
      break;
    case 'l':
      lower_ceiling(q, hi > INT64_MIN ? hi - 1 : INT64_MIN, nothing);
      break;
    default: /* 'm' */
      lower_ceiling(q, lo, nothing);
      break;
  }
}

static es_status add_text(log_cursor *c, es_query_list *list, sqlite3_value *v, es_error *err) {
  if (c->n_texts >= (int)(sizeof(c->texts) / sizeof(*c->texts)) || list->n >= ES_QUERY_MAX_LIST)
    return es_error_set(err, ES_INVALID_ARGUMENT, "es_log: more than %d values in one list", ES_QUERY_MAX_LIST);
  char *z = sqlite3_mprintf("%s", (const char *)sqlite3_value_text(v)); /* IN values do not outlive the step */
  if (!z) return es_error_set(err, ES_NOMEM, 0);
  c->texts[c->n_texts++] = z;
  es_query_list_add(list, z);
  return ES_OK;
}

/* Add one constraint value to the query; text lists take every value of an IN at once.
** *nothing is set when no row can match. */
static es_status add_value(log_cursor *c, es_log_query *q, char letter, sqlite3_value *v, int *nothing, es_error *err) {
  es_query_list *list;
  if (strchr("pghlmvw", letter)) {
    add_bound(q, letter, v, nothing);
    return ES_OK;
  }
  if (letter == 'n') { /* LIMIT: negative means none, 0 means no rows */
    int64_t n = sqlite3_value_int64(v);
    if (n == 0) *nothing = 1;
    else if (n > 0) q->limit = n;
    return ES_OK;
  }
  list = letter == 't' || letter == 'T' ? &q->aggregate_types : letter == 'i' || letter == 'I' ? &q->aggregate_ids
                                                                                                : &q->event_types;
  es_query_list these;
  memset(&these, 0, sizeof(these));
  if (letter >= 'a') { /* compared as text, as the column's TEXT affinity would */
    if (sqlite3_value_type(v) != SQLITE_NULL && add_text(c, &these, v, err) != ES_OK) return err->status;
  } else {
#if SQLITE_VERSION_NUMBER >= 3038000
    sqlite3_value *x = 0;
    for (int rc = sqlite3_vtab_in_first(v, &x); rc == SQLITE_OK && x; rc = sqlite3_vtab_in_next(v, &x))
      if (sqlite3_value_type(x) != SQLITE_NULL && add_text(c, &these, x, err) != ES_OK) return err->status;
#endif
  }
  /* Several constraints on one column all hold: keep the values every one of them accepts. */
  unsigned bit = list == &q->aggregate_types ? 1u : list == &q->aggregate_ids ? 2u : 4u;
  int first = !(c->constrained & bit);
  c->constrained |= bit;
  es_query_list kept;
  memset(&kept, 0, sizeof(kept));
  for (size_t i = 0; i < these.n; i++) {
    int in_both = first;
    for (size_t j = 0; !in_both && j < list->n; j++) in_both = strcmp(these.values[i], list->values[j]) == 0;
    for (size_t j = 0; in_both && j < kept.n; j++) in_both = strcmp(these.values[i], kept.values[j]) != 0;
    if (in_both) es_query_list_add(&kept, these.values[i]);
  }
  *list = kept;
  if (!list->n) *nothing = 1;
  return ES_OK;
}

static int log_filter(sqlite3_vtab_cursor *cur, int idx, const char *plan, int argc, sqlite3_value **argv) {
  log_cursor *c = (log_cursor *)cur;
  log_vtab *v = (log_vtab *)cur->pVtab;
  es_log_query q;
  es_error err = {0};
  (void)idx;
  memset(&q, 0, sizeof(q));
  es_log_rows_reset(&c->rows);
  c->constrained = 0;
  forget_texts(c);
  int nothing = 0;
  for (int i = 0; i < argc && plan && plan[i]; i++) {
    if (add_value(c, &q, plan[i], argv[i], &nothing, &err) != ES_OK) return es_vtab_error(cur->pVtab, &err);
  }
  if (nothing) return SQLITE_OK;
  es_conn_ensure_close_hook(v->conn); /* es_store_open caches statements */
  if (es_store_open(v->conn->store, 0, &err) != ES_OK) return es_vtab_error(cur->pVtab, &err);
  if (!es_store_exists(v->conn->store)) return SQLITE_OK;
  if (!(c->rows.st = es_store_prepare_query(v->conn->store, &q, &err))) return es_vtab_error(cur->pVtab, &err);
  c->rows.eof = 0;
  return es_log_rows_next(cur);
}

static int log_column(sqlite3_vtab_cursor *cur, sqlite3_context *ctx, int col) {
  sqlite3_result_value(ctx, sqlite3_column_value(((log_cursor *)cur)->rows.st, col));
  return SQLITE_OK;
}

static const sqlite3_module log_module = {
    .iVersion = 0,
    .xConnect = log_connect,
    .xBestIndex = log_best_index,
    .xDisconnect = log_disconnect,
    .xOpen = log_open,
    .xClose = log_close,
    .xFilter = log_filter,
    .xNext = es_log_rows_next,
    .xEof = es_log_rows_eof,
    .xColumn = log_column,
    .xRowid = es_log_rows_rowid,
};

int es_register_log_vtab(sqlite3 *db, es_conn *c) {
  es_conn_ref(c);
  return sqlite3_create_module_v2(db, "es_log", &log_module, c, es_conn_unref);
}
