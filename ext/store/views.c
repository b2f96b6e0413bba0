/*
** views.c — read models in SQLite: the es_views registry table (one row per view, with the
** position of the last event it has seen), the guards on each view's table, bringing views up to
** the end of the log (after every command, when defined, when rebuilt), and the view-writer port
** through which C views write their tables.
**
** A view's table is written only while the store has armed the guard for that table: during its
** own fold (C) or its own feed statement (SQL). So a handler can write its own table and nothing
** else the store protects: not the log, not another view.
**
** A command reads nothing here that does not depend on it. es_views is read once and its rows are
** kept on the store (with each SQL view's feed statements, prepared once) while they are known to
** be what the table holds: the schema is the one they were read under (its version, and how often
** SQLite re-prepared the store's statement reading it, es_store_open's stamp), and no other
** connection has committed since (PRAGMA data_version). This connection's own writes of es_views
** (a definition, a C view attached, a view dropped) make them be read again by the next call, and
** then they may be undone by a ROLLBACK or ROLLBACK TO of the caller's. When the call that wrote
** also changed the schema (created a view's guards or table: almost always), that rollback undoes
** the DDL too, and SQLite expires every statement when it rolls back DDL: the stamp tells. When it
** did not (a SQL view redefined), nothing would tell: es_views is read again by every call until one
** of ours starts or ends with no transaction open (the write was then committed or rolled back).
** The events a command appended are read by one statement kept for the store.
*/
#include <string.h>

#include "../domain/integrity.h"
#include "../domain/json.h"
#include "../domain/mem.h"
#include "../domain/view.h"
#include "store_internal.h"

#define SMALL_RANGE 16 /* a command's events: fed one by one (see apply_sql) */

#define READ_EVENTS_SQL                                                                                               \
  "SELECT position, version, aggregate_type, aggregate_id, type, recorded_at, data, metadata"                       \
  " FROM main.es_events WHERE position > ?1 AND position <= ?2 ORDER BY position"

/* ======================= The es_views table ======================= */

typedef struct view_row {
  char *name;
  int is_sql;
  char *feed;
  int kept;                  /* a row of the store's es_views_state: its statements below are its own */
  sqlite3_stmt *feed_one;    /* a kept SQL view's feed statements, prepared on first use */
  sqlite3_stmt *feed_range;
} view_row;

typedef struct view_rows {
  view_row *rows;
  int n;
} view_rows;

/* es_views as the store last read it, and when it may be used again without reading it. */
struct es_views_state {
  view_rows rows;
  int current;            /* rows may serve a later call while the stamps below hold */
  int cookie, reprepares; /* the store's schema stamp (es_store_open) when rows were read */
  int64_t data_version;   /* PRAGMA data_version then */
  sqlite3_stmt *read_events; /* READ_EVENTS_SQL, kept */
};

static void row_clear(view_row *r) {
  sqlite3_finalize(r->feed_one);
  sqlite3_finalize(r->feed_range);
  sqlite3_free(r->name);
  sqlite3_free(r->feed);
  memset(r, 0, sizeof(*r));
}

static void rows_free(view_rows *r) {
  for (int i = 0; i < r->n; i++) row_clear(&r->rows[i]);
  sqlite3_free(r->rows);
  memset(r, 0, sizeof(*r));
}

void es_views_flush(es_store *s) {
  es_views_state *st = s->views_state;
  if (!st) return;
  rows_free(&st->rows);
  sqlite3_finalize(st->read_events);
  sqlite3_free(st);
  s->views_state = 0;
}

/* The store's es_views_state, made on first use. */
static es_views_state *views_state(es_store *s, es_error *err) {
  if (!s->views_state) {
    if (!(s->views_state = sqlite3_malloc64(sizeof(*s->views_state)))) {
      es_error_set(err, ES_NOMEM, 0);
      return 0;
    }
    memset(s->views_state, 0, sizeof(*s->views_state));
  }
  return s->views_state;
}

/* This connection is writing es_views: what was read of it is no longer current, and what is read
** from now until the call ends is not kept (see es_views_call_edge). */
static void rows_changing(es_store *s) {
  if (!s->views_txn.wrote) s->views_txn.start_cookie = s->schema_cookie;
  s->views_txn.wrote = 1;
  if (s->views_state) s->views_state->current = 0;
}

/* Did the call in progress change main's schema (before or after it wrote es_views)? */
static int call_changed_schema(es_store *s) {
  if (s->views_txn.start_cookie < 0) return 1; /* storage or a table created: see es_table_create */
  sqlite3_stmt *st = 0;
  int changed = 0; /* unknown counts as unchanged: es_views is then read again until settled */
  if (sqlite3_prepare_v2(s->db, "PRAGMA main.schema_version", -1, &st, 0) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
    changed = sqlite3_column_int(st, 0) != s->views_txn.start_cookie;
  sqlite3_finalize(st);
  return changed;
}

void es_views_call_edge(es_store *s) {
  int ended = sqlite3_txn_state(s->db, "main") == SQLITE_TXN_NONE;
  if (s->views_txn.wrote && !ended && !call_changed_schema(s)) s->views_txn.unsettled = 1;
  s->views_txn.wrote = 0;
  if (ended) s->views_txn.unsettled = 0;
}

static int views_table_exists(es_store *s) { return es_table_exists(s, ES_TABLE_VIEWS); }

/* Every row of es_views (none when the table does not exist), by name. */
static es_status load_rows(es_store *s, view_rows *out, es_error *err) {
  es_status rc = ES_OK;
  memset(out, 0, sizeof(*out));
  if (!views_table_exists(s)) return ES_OK;
  sqlite3_stmt *q = es_store_cached(s, sqlite3_mprintf("SELECT name, kind, feed FROM main.es_views ORDER BY name"), err);
  if (!q) return err->status;
  int src = SQLITE_OK;
  while (src == SQLITE_OK && (src = sqlite3_step(q)) == SQLITE_ROW) {
    view_row *p = sqlite3_realloc64(out->rows, sizeof(*p) * (size_t)(out->n + 1));
    if (!p) {
      rc = es_error_set(err, ES_NOMEM, 0);
      goto done;
    }
    out->rows = p;
    view_row *r = &out->rows[out->n++];
    memset(r, 0, sizeof(*r));
    r->name = sqlite3_mprintf("%s", (const char *)sqlite3_column_text(q, 0));
    r->is_sql = sqlite3_stricmp((const char *)sqlite3_column_text(q, 1), "sql") == 0;
    if (sqlite3_column_type(q, 2) != SQLITE_NULL) r->feed = sqlite3_mprintf("%s", sqlite3_column_text(q, 2));
    if (!r->name || (sqlite3_column_type(q, 2) != SQLITE_NULL && !r->feed)) {
      rc = es_error_set(err, ES_NOMEM, 0);
      goto done;
    }
    src = SQLITE_OK;
  }
  if (src != SQLITE_DONE) rc = es_store_error(s->db, src, "reading es_views", err);
done:
  sqlite3_reset(q);
  if (rc != ES_OK) rows_free(out);
  return rc;
}

/* PRAGMA data_version: as this call of ours already read it, or read now. */
static es_status data_version(es_store *s, int64_t *version, es_error *err) {
  if (s->in_call && s->data_version_read) {
    *version = s->data_version;
    return ES_OK;
  }
  return es_store_data_version(s, version, err);
}

/* Same definition (and so the same feed statements)? */
static int same_row(const view_row *a, const view_row *b) {
  return a->is_sql == b->is_sql && strcmp(a->name, b->name) == 0 &&
         (a->feed && b->feed ? strcmp(a->feed, b->feed) == 0 : a->feed == b->feed);
}

/*
** es_views as this call sees it: the rows kept from an earlier read while they are known to be
** current (see the top of the file), or read now. A row read again with the same definition keeps
** its feed statements, unless the schema changed. The rows stay valid until the next call of this.
*/
static es_status current_rows(es_store *s, view_rows **out, es_error *err) {
  es_views_state *st = views_state(s, err);
  int64_t version = 0;
  *out = 0;
  if (!st || data_version(s, &version, err) != ES_OK) return err->status;
  int same_schema = s->schema_cookie >= 0 && st->cookie == s->schema_cookie && st->reprepares == s->schema_reprepares;
  if (st->current && same_schema && st->data_version == version) {
    *out = &st->rows;
    return ES_OK;
  }
  view_rows fresh;
  es_status rc = load_rows(s, &fresh, err);
  if (rc != ES_OK) return rc;
  for (int i = 0; i < fresh.n; i++) {
    fresh.rows[i].kept = 1;
    for (int j = 0; same_schema && j < st->rows.n; j++) {
      view_row *old = &st->rows.rows[j];
      if (!same_row(old, &fresh.rows[i])) continue;
      fresh.rows[i].feed_one = old->feed_one, old->feed_one = 0;
      fresh.rows[i].feed_range = old->feed_range, old->feed_range = 0;
    }
  }
  rows_free(&st->rows);
  st->rows = fresh;
  /* kept for later calls: read under a verified schema, with no write of ours that could be undone
  ** unseen (see the top of the file) */
  st->current = s->schema_cookie >= 0 && !s->views_txn.wrote && !s->views_txn.unsettled;
  st->cookie = s->schema_cookie;
  st->reprepares = s->schema_reprepares;
  st->data_version = version;
  *out = &st->rows;
  return ES_OK;
}

static es_status set_position(es_store *s, const char *name, int64_t position, es_error *err) {
  sqlite3_stmt *st = es_store_cached(s, sqlite3_mprintf("UPDATE main.es_views SET position = ?1 WHERE name = ?2"), err);
  if (!st) return err->status;
  sqlite3_bind_int64(st, 1, position);
  sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
  s->wrote = 1;
  es_store_arm_table(s, "es_views");
  es_status rc = es_store_run(s, st, "recording a view's position", err);
  es_store_arm_table(s, 0);
  return rc;
}

static es_status max_position(es_store *s, int64_t *max, es_error *err) {
  sqlite3_stmt *st = es_store_cached(s, sqlite3_mprintf("SELECT coalesce(max(position), 0) FROM main.es_events"), err);
  if (!st) return err->status;
  int rc = sqlite3_step(st);
  *max = sqlite3_column_int64(st, 0);
  sqlite3_reset(st);
  return rc == SQLITE_ROW ? ES_OK : es_store_error(s->db, rc, "reading the end of the log", err);
}

static es_status insert_row(es_store *s, const char *name, const char *feed, es_error *err) {
  sqlite3_stmt *st = 0;
  int src = sqlite3_prepare_v2(s->db,
                               "INSERT INTO main.es_views(name, kind, feed, position, defined_at)"
                               " VALUES (?1, ?2, ?3, 0, strftime('%Y-%m-%dT%H:%M:%fZ','now'))"
                               " ON CONFLICT(name) DO UPDATE SET kind = excluded.kind, feed = excluded.feed, position = 0",
                               -1, &st, 0);
  if (src != SQLITE_OK) {
    sqlite3_finalize(st);
    return es_store_error(s->db, src, "recording a view", err);
  }
  sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, feed ? "sql" : "c", -1, SQLITE_STATIC);
  if (feed) sqlite3_bind_text(st, 3, feed, -1, SQLITE_STATIC);
  s->wrote = 1;
  rows_changing(s);
  es_store_arm_table(s, "es_views");
  es_status rc = es_store_run(s, st, "recording a view", err);
  es_store_arm_table(s, 0);
  sqlite3_finalize(st);
  return rc;
}

/* Empty a view's table (its own guard armed), before building it from the start of the log. */
static es_status clear_table(es_store *s, const char *table, es_error *err) {
  es_store_arm_table(s, table);
  es_status rc = es_store_exec(s, sqlite3_mprintf("DELETE FROM main.\"%w\"", table), "emptying a view's table", err);
  es_store_arm_table(s, 0);
  return rc;
}

/* ======================= Applying events ======================= */

/* The statement reading the events in (?1, ?2]: the store's own, or (when that one is running) one
** from the statement cache. Reset it after use. */
static sqlite3_stmt *read_events(es_store *s, es_error *err) {
  es_views_state *st = views_state(s, err);
  if (!st) return 0;
  if (st->read_events && sqlite3_stmt_busy(st->read_events)) return es_store_cached(s, sqlite3_mprintf(READ_EVENTS_SQL), err);
  if (!st->read_events) {
    int rc = sqlite3_prepare_v3(s->db, READ_EVENTS_SQL, -1, SQLITE_PREPARE_PERSISTENT, &st->read_events, 0);
    if (rc != SQLITE_OK) {
      es_store_error(s->db, rc, "preparing a statement", err);
      sqlite3_finalize(st->read_events);
      st->read_events = 0;
    }
  }
  return st->read_events;
}

/* C view: fold each event in (from, to] of a type it handles. */
static es_status apply_c(es_store *s, const es_view *v, int64_t from, int64_t to, int64_t *applied, es_error *err) {
  sqlite3_stmt *st = read_events(s, err);
  if (!st) return err->status;
  es_view_store port = es_store_view_port(s);
  sqlite3_bind_int64(st, 1, from);
  sqlite3_bind_int64(st, 2, to);
  es_status rc = ES_OK;
  int src;
  es_store_arm_table(s, v->def.name);
  while (rc == ES_OK && (src = sqlite3_step(st)) == SQLITE_ROW) {
    const char *type = (const char *)sqlite3_column_text(st, 4);
    if (!type || !es_view_handles(v, type)) continue;
    es_view_event ev = {.position = sqlite3_column_int64(st, 0),
                        .version = sqlite3_column_int64(st, 1),
                        .aggregate_type = (const char *)sqlite3_column_text(st, 2),
                        .aggregate_id = (const char *)sqlite3_column_text(st, 3),
                        .type = type,
                        .recorded_at = (const char *)sqlite3_column_text(st, 5),
                        .data = (const char *)sqlite3_column_text(st, 6),
                        .metadata = (const char *)sqlite3_column_text(st, 7)};
    ev.data_len = (size_t)sqlite3_column_bytes(st, 6);
    ev.metadata_len = (size_t)sqlite3_column_bytes(st, 7);
    s->wrote = 1;
    rc = es_view_apply(v, &port, &ev, err);
    if (rc == ES_OK && applied) (*applied)++;
  }
  es_store_arm_table(s, 0);
  if (rc == ES_OK && src != SQLITE_DONE) rc = es_store_error(s->db, src, "reading events for a view", err);
  sqlite3_reset(st);
  return rc;
}

/*
** The feed's rows for the events in (?1, ?2], in log order. The CROSS JOIN makes SQLite walk the
** log's positions first and look each one up in the feed by rowid: left to itself, the planner
** would scan a feed filtered on aggregate_type through that column's index, the whole category.
*/
static char *feed_rows_sql(const char *what, const char *feed) {
  return sqlite3_mprintf("SELECT %s FROM (SELECT position AS p FROM main.es_events WHERE position > ?1 AND position <= ?2)"
                         " AS r CROSS JOIN main.\"%w\" AS f ON f.position = r.p ORDER BY r.p",
                         what, feed);
}

/* INSERT INTO feed <its rows in (?1, ?2]>: fires the handlers once per event. */
static char *feed_insert_sql(const char *feed) {
  char *rows = feed_rows_sql("f.*", feed);
  char *sql = rows ? sqlite3_mprintf("INSERT INTO main.\"%w\" %s", feed, rows) : 0;
  sqlite3_free(rows);
  return sql;
}

/* INSERT INTO feed its row for the event at ?1, if the feed has one. */
static char *feed_insert_one_sql(const char *feed) {
  return sqlite3_mprintf("INSERT INTO main.\"%w\" SELECT * FROM main.\"%w\" WHERE position = ?1", feed, feed);
}

/*
** A SQL view's feed statement (one event, or a range): a kept row's own, prepared once; for a row
** read for one call (es_rebuild, es_create_view), or when its own is running, one from the
** statement cache. Reset it after use.
*/
static sqlite3_stmt *feed_statement(es_store *s, view_row *r, int one_by_one, es_error *err) {
  sqlite3_stmt **own = r->kept ? (one_by_one ? &r->feed_one : &r->feed_range) : 0;
  if (!own || (*own && sqlite3_stmt_busy(*own)))
    return es_store_cached(s, one_by_one ? feed_insert_one_sql(r->feed) : feed_insert_sql(r->feed), err);
  if (*own) return *own;
  char *sql = one_by_one ? feed_insert_one_sql(r->feed) : feed_insert_sql(r->feed);
  if (!sql) {
    es_error_set(err, ES_NOMEM, 0);
    return 0;
  }
  int rc = sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT, own, 0);
  sqlite3_free(sql);
  if (rc != SQLITE_OK) {
    es_store_error(s->db, rc, "preparing a statement", err);
    sqlite3_finalize(*own);
    *own = 0;
    return 0;
  }
  return *own;
}

/*
** The events a command appended, read once: every C view folds them from memory, each event's
** data and metadata parsed once for all of them, and each is known before any handler runs (a
** handler's RAISE(ROLLBACK) takes them out of the log, and the error must still name its event).
*/
typedef struct loaded_event {
  es_view_event ev; /* its texts point into buf */
  es_view_input in; /* its parsed data and metadata, for every C view that folds it */
  char *buf;
} loaded_event;

typedef struct event_batch {
  loaded_event *items;
  int n;
} event_batch;

static void batch_clear(event_batch *b) {
  for (int i = 0; i < b->n; i++) {
    es_view_input_clear(&b->items[i].in);
    sqlite3_free(b->items[i].buf);
  }
  sqlite3_free(b->items);
  memset(b, 0, sizeof(*b));
}

/* Copy the texts of one row into one block; the event's fields point into it. */
static es_status load_one(sqlite3_stmt *q, loaded_event *e) {
  static const int cols[6] = {2, 3, 4, 5, 6, 7}; /* aggregate_type, aggregate_id, type, recorded_at, data, metadata */
  size_t len[6], total = 0;
  const char *z[6];
  for (int i = 0; i < 6; i++) {
    z[i] = (const char *)sqlite3_column_text(q, cols[i]);
    total += (len[i] = (size_t)sqlite3_column_bytes(q, cols[i])) + 1;
  }
  char *p = e->buf = sqlite3_malloc64(total);
  if (!p) return ES_NOMEM;
  const char *field[6];
  for (int i = 0; i < 6; i++) {
    if (z[i]) memcpy(p, z[i], len[i]);
    p[len[i]] = 0;
    field[i] = z[i] ? p : 0;
    p += len[i] + 1;
  }
  e->ev = (es_view_event){.position = sqlite3_column_int64(q, 0),
                          .version = sqlite3_column_int64(q, 1),
                          .aggregate_type = field[0],
                          .aggregate_id = field[1],
                          .type = field[2],
                          .recorded_at = field[3],
                          .data = field[4],
                          .data_len = len[4],
                          .metadata = field[5],
                          .metadata_len = len[5]};
  return ES_OK;
}

static es_status load_batch(es_store *s, int64_t from, int64_t to, event_batch *b, es_error *err) {
  memset(b, 0, sizeof(*b));
  sqlite3_stmt *q = read_events(s, err);
  if (!q) return err->status;
  sqlite3_bind_int64(q, 1, from);
  sqlite3_bind_int64(q, 2, to);
  es_status rc = ES_OK;
  int src;
  while (rc == ES_OK && (src = sqlite3_step(q)) == SQLITE_ROW) {
    loaded_event *p = sqlite3_realloc64(b->items, sizeof(*p) * (size_t)(b->n + 1));
    if (!p) {
      rc = es_error_set(err, ES_NOMEM, 0);
      break;
    }
    b->items = p;
    memset(&p[b->n], 0, sizeof(*p));
    if (load_one(q, &p[b->n++]) != ES_OK) rc = es_error_set(err, ES_NOMEM, 0);
  }
  if (rc == ES_OK && src != SQLITE_DONE) rc = es_store_error(s->db, src, "reading the events for the views", err);
  sqlite3_reset(q);
  for (int i = 0; i < b->n; i++) es_view_input_init(&b->items[i].in, &b->items[i].ev); /* items no longer move */
  if (rc != ES_OK) batch_clear(b);
  return rc;
}

/* C view: fold the command's events (read once for every view) of the types it handles. */
static es_status apply_c_batch(es_store *s, const es_view *v, const es_view_store *port, event_batch *b, es_error *err) {
  es_status rc = ES_OK;
  es_store_arm_table(s, v->def.name);
  for (int i = 0; rc == ES_OK && i < b->n; i++) {
    if (!b->items[i].ev.type || !es_view_handles(v, b->items[i].ev.type)) continue;
    s->wrote = 1;
    rc = es_view_fold(v, port, &b->items[i].in, err);
  }
  es_store_arm_table(s, 0);
  return rc;
}

/* Prefix err with the view and the event at position p (from the command's events, or the log). */
static void name_failed_event(es_store *s, const view_row *r, int64_t p, es_error *err) {
  for (int i = 0; s->notes && i < ((event_batch *)s->notes)->n; i++) {
    const es_view_event *e = &((event_batch *)s->notes)->items[i].ev;
    if (e->position == p) {
      es_error_prefix(err, "view '%s' failed on event '%s' (position %lld, %s '%s' version %lld): ", r->name, e->type,
                      (long long)e->position, e->aggregate_type, e->aggregate_id, (long long)e->version);
      return;
    }
  }
  sqlite3_stmt *q = 0;
  if (sqlite3_prepare_v2(s->db, "SELECT type, aggregate_type, aggregate_id, version FROM main.es_events WHERE position = ?1",
                         -1, &q, 0) == SQLITE_OK) {
    sqlite3_bind_int64(q, 1, p);
    if (sqlite3_step(q) == SQLITE_ROW) {
      es_error_prefix(err, "view '%s' failed on event '%s' (position %lld, %s '%s' version %lld): ", r->name,
                      (const char *)sqlite3_column_text(q, 0), (long long)p, (const char *)sqlite3_column_text(q, 1),
                      (const char *)sqlite3_column_text(q, 2), (long long)sqlite3_column_int64(q, 3));
      sqlite3_finalize(q);
      return;
    }
  }
  sqlite3_finalize(q); /* the log is gone with a rolled-back transaction: say what is known */
  es_error_prefix(err, "view '%s' failed on the event at position %lld: ", r->name, (long long)p);
}

/* After a failed feed statement: which event was it? Name it in the error. */
static void locate_sql_failure(es_store *s, const view_row *r, int64_t from, int64_t to, es_error *err) {
  char *sql = sqlite3_mprintf("SELECT e.position, e.type, e.aggregate_type, e.aggregate_id, e.version"
                              " FROM main.es_events e WHERE e.position > ?1 AND e.position <= ?2"
                              " AND EXISTS (SELECT 1 FROM main.\"%w\" f WHERE f.position = e.position) ORDER BY e.position",
                              r->feed);
  char *one = sqlite3_mprintf("INSERT INTO main.\"%w\" SELECT * FROM main.\"%w\" WHERE position = ?1", r->feed, r->feed);
  sqlite3_stmt *q = 0, *ins = 0;
  int located = 0;
  if (!sql || !one || sqlite3_prepare_v2(s->db, sql, -1, &q, 0) != SQLITE_OK ||
      sqlite3_prepare_v2(s->db, one, -1, &ins, 0) != SQLITE_OK)
    goto done;
  sqlite3_bind_int64(q, 1, from);
  sqlite3_bind_int64(q, 2, to);
  es_store_arm_table(s, r->name);
  while (sqlite3_step(q) == SQLITE_ROW) {
    sqlite3_bind_int64(ins, 1, sqlite3_column_int64(q, 0));
    int rc = sqlite3_step(ins);
    sqlite3_reset(ins);
    if (rc != SQLITE_DONE) {
      es_error_prefix(err, "view '%s' failed on event '%s' (position %lld, %s '%s' version %lld): ", r->name,
                      (const char *)sqlite3_column_text(q, 1), (long long)sqlite3_column_int64(q, 0),
                      (const char *)sqlite3_column_text(q, 2), (const char *)sqlite3_column_text(q, 3),
                      (long long)sqlite3_column_int64(q, 4));
      located = 1;
      break;
    }
  }
  es_store_arm_table(s, 0);
done:
  if (!located) /* the feed is gone, or a handler rolled the whole transaction back */
    es_error_prefix(err, "view '%s' failed on the events after position %lld: ", r->name, (long long)from);
  sqlite3_finalize(q);
  sqlite3_finalize(ins);
  sqlite3_free(sql);
  sqlite3_free(one);
}


/* SQL view: insert the feed's rows in (from, to] into the feed itself, firing its handlers. */
static es_status apply_sql(es_store *s, view_row *r, int64_t from, int64_t to, int64_t *applied, es_error *err) {
  es_status rc = ES_OK;
  if (applied) {
    char *rows = feed_rows_sql("1", r->feed);
    sqlite3_stmt *c = es_store_cached(s, rows ? sqlite3_mprintf("SELECT count(*) FROM (%s)", rows) : 0, err);
    sqlite3_free(rows);
    if (!c) return err->status;
    sqlite3_bind_int64(c, 1, from);
    sqlite3_bind_int64(c, 2, to);
    int src = sqlite3_step(c);
    if (src == SQLITE_ROW) *applied += sqlite3_column_int64(c, 0);
    sqlite3_reset(c);
    if (src != SQLITE_ROW) return es_store_error(s->db, src, "counting a view's events", err);
  }
  /* A command's few events go one by one, so a failure names its event even when a handler's
  ** RAISE(ROLLBACK) leaves nothing to look at afterwards; long catch-ups go in one statement. */
  int one_by_one = to - from <= SMALL_RANGE;
  sqlite3_stmt *st = feed_statement(s, r, one_by_one, err);
  if (!st) {
    es_error_prefix(err, "view '%s': its feed %s cannot run: ", r->name, r->feed);
    return err->status;
  }
  s->wrote = 1;
  es_store_arm_table(s, r->name);
  for (int64_t p = from + 1; rc == ES_OK && p <= (one_by_one ? to : from + 1); p++) {
    sqlite3_bind_int64(st, 1, one_by_one ? p : from);
    if (!one_by_one) sqlite3_bind_int64(st, 2, to);
    rc = es_store_run(s, st, "applying events", err);
    if (rc != ES_OK && rc != ES_NOMEM && one_by_one) name_failed_event(s, r, p, err);
  }
  es_store_arm_table(s, 0);
  if (rc != ES_OK && rc != ES_NOMEM && !one_by_one) locate_sql_failure(s, r, from, to, err);
  return rc;
}

/* The registered C view of an es_views row, or unknown_view. */
static es_status registered(const es_registry *reg, const view_row *r, const es_view **v, es_error *err) {
  if ((*v = es_registry_find_view(reg, r->name))) return ES_OK;
  return es_error_set(err, ES_UNKNOWN_VIEW,
                      "view '%s' is a C view that is not registered on this connection: load the extension that"
                      " defines it, or forget it with SELECT es_drop_view('%s')",
                      r->name, r->name);
}

/* Fold the events in (from, to] into one view; a build records `to` as where it was built to. */
static es_status fill(es_store *s, const es_registry *reg, view_row *r, int64_t from, int64_t to, int64_t *applied,
                      es_error *err) {
  const es_view *v = 0;
  es_status rc = r->is_sql ? apply_sql(s, r, from, to, applied, err)
                           : registered(reg, r, &v, err) == ES_OK ? apply_c(s, v, from, to, applied, err) : err->status;
  return rc == ES_OK ? set_position(s, r->name, to, err) : rc;
}

/* Create the table of a registered C view, guard it and record it (position 0). */
static es_status attach_c(es_store *s, const es_view *v, es_error *err) {
  es_status rc = es_table_ensure(s, ES_TABLE_VIEWS, err);
  if (rc == ES_OK)
    rc = es_store_exec(s, sqlite3_mprintf("CREATE TABLE IF NOT EXISTS main.\"%w\"(%s)", v->def.name, v->def.columns),
              "creating a view's table", err);
  for (int i = 0; rc == ES_OK && i < v->def.n_indexes; i++)
    rc = es_store_exec(s,
              sqlite3_mprintf("CREATE INDEX IF NOT EXISTS main.\"%w_es_index_%d\" ON \"%w\"(%s)", v->def.name, i + 1,
                              v->def.name, v->def.indexes[i]),
              "creating a view's index", err);
  if (rc == ES_OK) rc = insert_row(s, v->def.name, 0, err);
  if (rc == ES_OK) rc = es_guards_repair(s, v->def.name, 0, err);
  if (rc == ES_OK) rc = clear_table(s, v->def.name, err);
  if (rc != ES_OK && rc != ES_NOMEM) es_error_prefix(err, "view '%s': ", v->def.name);
  return rc;
}

/* The views attached by the call in progress (built from the whole log just now), by name. */
typedef struct fresh_views {
  const char **names; /* the registry's */
  int n;
} fresh_views;

static int is_fresh(const fresh_views *f, const char *name) {
  for (int i = 0; i < f->n; i++)
    if (sqlite3_stricmp(f->names[i], name) == 0) return 1;
  return 0;
}

/* Attach the registered C views es_views does not list yet (each built from the whole log);
** *rows is es_views after that (current_rows), *fresh the views attached. */
static es_status attach_new(es_store *s, const es_registry *reg, view_rows **rows, fresh_views *fresh, es_error *err) {
  memset(fresh, 0, sizeof(*fresh));
  es_status rc = current_rows(s, rows, err);
  for (size_t i = 0; rc == ES_OK && i < es_registry_view_count(reg); i++) {
    const es_view *v = es_registry_view_at(reg, i);
    int known = 0;
    for (int j = 0; j < (*rows)->n && rc == ES_OK; j++) {
      if (sqlite3_stricmp((*rows)->rows[j].name, v->def.name) != 0) continue;
      known = 1;
      if ((*rows)->rows[j].is_sql)
        rc = es_error_set(err, ES_INVALID_ARGUMENT,
                          "view '%s' is defined in SQL in this database; forget it first with SELECT es_drop_view('%s')",
                          v->def.name, v->def.name);
    }
    if (rc != ES_OK || known) continue;
    int64_t end = 0;
    view_row r = {.name = (char *)v->def.name};
    rc = attach_c(s, v, err);
    if (rc == ES_OK) rc = max_position(s, &end, err);
    if (rc == ES_OK) rc = fill(s, reg, &r, 0, end, 0, err);
    const char **p = rc == ES_OK ? sqlite3_realloc64(fresh->names, sizeof(*p) * (size_t)(fresh->n + 1)) : 0;
    if (rc == ES_OK && !p) rc = es_error_set(err, ES_NOMEM, 0);
    if (rc == ES_OK) (fresh->names = p)[fresh->n++] = v->def.name;
  }
  if (rc == ES_OK && fresh->n) rc = current_rows(s, rows, err); /* es_views has their rows now */
  if (rc != ES_OK) {
    sqlite3_free(fresh->names);
    memset(fresh, 0, sizeof(*fresh));
  }
  return rc;
}

es_status es_views_catch_up(es_store *s, const es_registry *reg, es_error *err) {
  view_rows *rows;
  fresh_views fresh;
  if (!s->exists) return ES_OK; /* no log yet: nothing to attach to */
  es_status rc = attach_new(s, reg, &rows, &fresh, err);
  sqlite3_free(fresh.names);
  return rc;
}

es_status es_views_apply(es_store *s, const es_registry *reg, int64_t from, int64_t to, es_error *err) {
  view_rows *rows = 0;
  fresh_views fresh;
  event_batch batch = {0};
  es_status rc = attach_new(s, reg, &rows, &fresh, err);
  int small = to - from <= SMALL_RANGE;
  if (rc == ES_OK && rows->n && small && (rc = load_batch(s, from, to, &batch, err)) == ES_OK) s->notes = &batch;
  es_view_store port = es_store_view_port(s); /* one port for the command's folds: one schema check */
  for (int i = 0; rc == ES_OK && i < rows->n; i++) {
    view_row *r = &rows->rows[i];
    const es_view *v = 0;
    if (is_fresh(&fresh, r->name)) continue; /* built from the whole log just now, these events included */
    if (r->is_sql) rc = apply_sql(s, r, from, to, 0, err);
    else if (registered(reg, r, &v, err) == ES_OK) rc = small ? apply_c_batch(s, v, &port, &batch, err) : apply_c(s, v, from, to, 0, err);
    else rc = err->status;
  }
  s->notes = 0;
  batch_clear(&batch);
  sqlite3_free(fresh.names);
  return rc;
}

es_status es_views_names(es_store *s, char ***out, int *n, es_error *err) {
  view_rows rows;
  *out = 0;
  *n = 0;
  es_status rc = load_rows(s, &rows, err);
  if (rc == ES_OK && rows.n && !(*out = sqlite3_malloc64(sizeof(char *) * (size_t)rows.n))) rc = es_error_set(err, ES_NOMEM, 0);
  for (int i = 0; rc == ES_OK && i < rows.n; i++) { /* the names move to *out */
    (*out)[(*n)++] = rows.rows[i].name;
    rows.rows[i].name = 0;
  }
  rows_free(&rows);
  return rc;
}

/* ======================= Defining, rebuilding, dropping ======================= */

/* Build one view from the start of the log. */
static es_status build(es_store *s, const es_registry *reg, view_row *r, int64_t *applied, es_error *err) {
  int64_t end = 0;
  es_status rc = clear_table(s, r->name, err);
  if (rc == ES_OK) rc = max_position(s, &end, err);
  if (rc == ES_OK) rc = fill(s, reg, r, 0, end, applied, err);
  return rc;
}

/* Checks of a SQL view definition that need the schema: what cannot work is refused now. */
static es_status check_sql_definition(es_store *s, const char *name, const char *feed, es_error *err) {
  sqlite3_stmt *q = 0;
  es_status rc = ES_OK;
  int src = sqlite3_prepare_v2(s->db,
                               "SELECT (SELECT type FROM main.sqlite_schema WHERE name = ?1 AND type IN ('table','view')),"
                               " (SELECT type FROM main.sqlite_schema WHERE name = ?2 AND type IN ('table','view')),"
                               " (SELECT count(*) FROM main.sqlite_schema WHERE type = 'trigger' AND tbl_name = ?2"
                               "  AND sql LIKE '%INSTEAD%OF%INSERT%')",
                               -1, &q, 0);
  if (src == SQLITE_OK) {
    sqlite3_bind_text(q, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 2, feed, -1, SQLITE_STATIC);
    src = sqlite3_step(q);
  }
  if (src != SQLITE_ROW) {
    rc = es_store_error(s->db, src, "reading the schema", err);
    goto done;
  }
  const char *t1 = (const char *)sqlite3_column_text(q, 0), *t2 = (const char *)sqlite3_column_text(q, 1);
  if (!t1 || strcmp(t1, "table") != 0)
    rc = es_error_set(err, ES_INVALID_ARGUMENT, "view '%s': there is no table named '%s' in main to maintain", name, name);
  else if (!t2 || strcmp(t2, "view") != 0)
    rc = es_error_set(err, ES_INVALID_ARGUMENT, "view '%s': its feed '%s' must be a view (CREATE VIEW %s AS SELECT … FROM es_events)",
                      name, feed, feed);
  else if (sqlite3_column_int(q, 2) == 0)
    rc = es_error_set(err, ES_INVALID_ARGUMENT,
                      "view '%s': its feed '%s' has no handler (CREATE TRIGGER … INSTEAD OF INSERT ON %s …)", name, feed, feed);
done:
  sqlite3_finalize(q);
  return rc;
}

/* Compile the feed statement: unknown tables or columns in the feed or its handlers show up here. */
static es_status check_feed_compiles(es_store *s, const char *name, const char *feed, es_error *err) {
  sqlite3_stmt *st = 0;
  char *probe = sqlite3_mprintf("SELECT position FROM main.\"%w\"", feed);
  if (!probe) return es_error_set(err, ES_NOMEM, 0);
  int prc = sqlite3_prepare_v2(s->db, probe, -1, &st, 0);
  sqlite3_free(probe);
  sqlite3_finalize(st);
  st = 0;
  if (prc != SQLITE_OK && strstr(sqlite3_errmsg(s->db), "position"))
    return es_error_set(err, ES_INVALID_ARGUMENT, "view '%s': its feed %s has no position column (the event's position)",
                        name, feed);
  char *sql = feed_insert_sql(feed);
  if (!sql) return es_error_set(err, ES_NOMEM, 0);
  int rc = sqlite3_prepare_v2(s->db, sql, -1, &st, 0);
  sqlite3_free(sql);
  sqlite3_finalize(st);
  if (rc == SQLITE_OK) return ES_OK;
  if ((rc & 0xff) == SQLITE_NOMEM) return es_error_set(err, ES_NOMEM, 0);
  return es_error_set(err, ES_INVALID_ARGUMENT, "view '%s': its feed %s and handlers cannot run: %s", name, feed,
                      sqlite3_errmsg(s->db));
}

es_status es_views_define_sql(es_store *s, const es_registry *reg, const char *name, const char *feed,
                              int64_t *applied, es_error *err) {
  if (es_name_reserved(name))
    return es_error_set(err, ES_INVALID_ARGUMENT, "view '%s': names starting with es_ or sqlite_ are reserved", name);
  if (es_registry_find_view(reg, name))
    return es_error_set(err, ES_INVALID_ARGUMENT, "view '%s' is already a C view on this connection", name);
  es_status rc = check_sql_definition(s, name, feed, err);
  if (rc == ES_OK && !s->exists) rc = es_store_create(s, err); /* a definition creates the storage */
  if (rc == ES_OK) rc = check_feed_compiles(s, name, feed, err);
  if (rc == ES_OK) rc = es_table_ensure(s, ES_TABLE_VIEWS, err);
  if (rc == ES_OK) rc = insert_row(s, name, feed, err);
  if (rc == ES_OK) rc = es_guards_repair(s, name, 0, err);
  if (rc == ES_OK) {
    view_row r = {.name = (char *)name, .is_sql = 1, .feed = (char *)feed};
    rc = build(s, reg, &r, applied, err);
  }
  return rc;
}

/* The es_views row of a view, or ES_UNKNOWN_VIEW. */
static es_status find_row(es_store *s, const char *name, view_rows *rows, view_row **out, es_error *err) {
  *out = 0;
  es_status rc = load_rows(s, rows, err);
  for (int i = 0; rc == ES_OK && i < rows->n; i++)
    if (strcmp(rows->rows[i].name, name) == 0) *out = &rows->rows[i];
  if (rc == ES_OK && !*out) rc = es_error_set(err, ES_UNKNOWN_VIEW, "no view named '%s' in this database", name);
  return rc;
}

es_status es_views_rebuild(es_store *s, const es_registry *reg, const char *name, int64_t *applied, es_error *err) {
  view_rows rows;
  view_row *r;
  es_status rc = es_views_catch_up(s, reg, err); /* attaches C views registered since */
  if (rc == ES_OK) rc = find_row(s, name, &rows, &r, err);
  else memset(&rows, 0, sizeof(rows));
  if (rc == ES_OK) rc = build(s, reg, r, applied, err);
  rows_free(&rows);
  return rc;
}

es_status es_views_drop(es_store *s, const char *name, es_error *err) {
  view_rows rows;
  view_row *r;
  es_status rc = find_row(s, name, &rows, &r, err);
  if (rc == ES_OK) rc = es_guards_drop_view(s, name, err);
  if (rc == ES_OK) {
    char *sql = sqlite3_mprintf("DELETE FROM main.es_views WHERE name = %Q", name);
    rows_changing(s);
    es_store_arm_table(s, "es_views");
    rc = es_store_exec(s, sql, "forgetting a view", err);
    es_store_arm_table(s, 0);
  }
  rows_free(&rows);
  return rc;
}

/* ======================= Checking read models (es_integrity_check) ======================= */

/* The TEMP form of a CREATE text sqlite_schema keeps: CREATE TEMP TABLE / TRIGGER, or an index
** named temp.<name>; a handler's "ON main.<feed>" loses its schema so it attaches to the TEMP feed. */
static char *temp_copy(const char *stored) {
  static const char *const kinds[] = {"CREATE TABLE ", "CREATE TRIGGER ", "CREATE INDEX ", "CREATE UNIQUE INDEX "};
  for (int i = 0; stored && i < 4; i++) {
    size_t n = strlen(kinds[i]);
    if (sqlite3_strnicmp(stored, kinds[i], (int)n) != 0) continue;
    if (i >= 2) return sqlite3_mprintf("%.*stemp.%s", (int)n, stored, stored + n);
    char *sql = sqlite3_mprintf("CREATE TEMP %s", stored + strlen("CREATE "));
    char *on = sql && i == 1 ? strstr(sql, " ON main.") : 0;
    if (on) memmove(on + 4, on + 9, strlen(on + 9) + 1);
    return sql;
  }
  return 0;
}

/* Create in temp a copy of every main object of `type` on tbl (its table or indexes, a feed's handlers). */
static es_status copy_to_temp(es_store *s, const char *type, const char *tbl, es_error *err) {
  sqlite3_stmt *q = 0;
  es_status rc = ES_OK;
  int src = sqlite3_prepare_v2(s->db, "SELECT sql FROM main.sqlite_schema WHERE type = ?1 AND tbl_name = ?2 AND sql IS NOT NULL",
                               -1, &q, 0);
  if (src == SQLITE_OK) {
    sqlite3_bind_text(q, 1, type, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 2, tbl, -1, SQLITE_STATIC);
  }
  while (rc == ES_OK && src == SQLITE_OK && (src = sqlite3_step(q)) == SQLITE_ROW) {
    src = SQLITE_OK;
    char *sql = temp_copy((const char *)sqlite3_column_text(q, 0));
    rc = sql ? es_store_exec(s, sql, "copying a read model to TEMP", err) : es_error_set(err, ES_NOMEM, 0);
  }
  if (rc == ES_OK && src != SQLITE_DONE) rc = es_store_error(s->db, src, "copying a read model to TEMP", err);
  sqlite3_finalize(q);
  return rc;
}

/* "<c1>, <c2>, …" of a table's columns, quoted; or the row as text: quote(c1) || ', ' || … */
static char *column_list(char **cols, int n, int as_text) {
  sqlite3_str *b = sqlite3_str_new(0);
  for (int i = 0; i < n; i++)
    sqlite3_str_appendf(b, as_text ? "%squote(\"%w\")" : "%s\"%w\"", i ? (as_text ? " || ', ' || " : ", ") : "", cols[i]);
  return sqlite3_str_finish(b);
}

/* Rows (with their counts) of schema a's copy of table not in schema b's; *example the first, as text. */
static es_status rows_not_in(es_store *s, const char *table, char **cols, int n, const char *a, const char *b,
                             int64_t *count, char **example, es_error *err) {
  char *list = column_list(cols, n, 0), *text = column_list(cols, n, 1);
  char *diff = list && text ? sqlite3_mprintf("SELECT %s, count(*) FROM %s.\"%w\" GROUP BY %s EXCEPT SELECT %s, count(*)"
                                              " FROM %s.\"%w\" GROUP BY %s",
                                              list, a, table, list, list, b, table, list)
                            : 0;
  char *sql = diff ? sqlite3_mprintf("SELECT count(*), (SELECT %s FROM (%s) LIMIT 1) FROM (%s)", text, diff, diff) : 0;
  sqlite3_stmt *q = 0;
  es_status rc = ES_OK;
  *count = 0;
  *example = 0;
  if (!sql) rc = es_error_set(err, ES_NOMEM, 0);
  else if (sqlite3_prepare_v2(s->db, sql, -1, &q, 0) != SQLITE_OK || sqlite3_step(q) != SQLITE_ROW)
    rc = es_store_error(s->db, sqlite3_errcode(s->db), "comparing a read model", err);
  else {
    *count = sqlite3_column_int64(q, 0);
    if (sqlite3_column_type(q, 1) != SQLITE_NULL) *example = sqlite3_mprintf("(%s)", sqlite3_column_text(q, 1));
  }
  sqlite3_finalize(q);
  sqlite3_free(list);
  sqlite3_free(text);
  sqlite3_free(diff);
  sqlite3_free(sql);
  return rc;
}

/* Fold the log up to the view's position into a TEMP copy of its table, and compare. */
static es_status fold_and_compare(es_store *s, const es_registry *reg, const view_row *r, int64_t end,
                                  es_integrity_report *out, es_error *err) {
  char **cols = 0;
  int n = 0;
  es_status rc = es_table_columns(s, r->name, &cols, &n, err);
  if (rc == ES_OK) rc = copy_to_temp(s, "table", r->name, err);
  if (rc == ES_OK) rc = copy_to_temp(s, "index", r->name, err);
  if (rc == ES_OK && r->is_sql) {
    rc = es_store_exec(s, sqlite3_mprintf("CREATE TEMP VIEW \"%w\" AS SELECT * FROM main.\"%w\"", r->feed, r->feed),
                       "copying a read model to TEMP", err);
    if (rc == ES_OK) rc = copy_to_temp(s, "trigger", r->feed, err);
    char *rows = rc == ES_OK ? feed_rows_sql("f.*", r->feed) : 0;
    if (rows) {
      char *fill = sqlite3_mprintf("INSERT INTO temp.\"%w\" %s", r->feed, rows);
      sqlite3_stmt *st = 0;
      if (!fill) rc = es_error_set(err, ES_NOMEM, 0);
      else if (sqlite3_prepare_v2(s->db, fill, -1, &st, 0) != SQLITE_OK) rc = es_store_error(s->db, sqlite3_errcode(s->db), "folding a read model", err);
      else {
        sqlite3_bind_int64(st, 1, 0);
        sqlite3_bind_int64(st, 2, end);
        int src = sqlite3_step(st);
        if (src != SQLITE_DONE) rc = es_store_error(s->db, src, "folding the log into a TEMP copy", err);
      }
      sqlite3_finalize(st);
      sqlite3_free(fill);
    } else if (rc == ES_OK) {
      rc = es_error_set(err, ES_NOMEM, 0);
    }
    sqlite3_free(rows);
  } else if (rc == ES_OK) {
    s->view_schema = "temp";
    rc = apply_c(s, es_registry_find_view(reg, r->name), 0, end, 0, err);
    s->view_schema = "main";
  }
  int64_t extra = 0, missing = 0;
  char *extra_row = 0, *missing_row = 0;
  if (rc == ES_OK) rc = rows_not_in(s, r->name, cols, n, "main", "temp", &extra, &extra_row, err);
  if (rc == ES_OK) rc = rows_not_in(s, r->name, cols, n, "temp", "main", &missing, &missing_row, err);
  if (rc == ES_OK && (extra || missing))
    es_integrity_add(out, ES_IC_VIEW, r->name,
                     "read model %s differs from a fold of the log: %lld row(s) of the table are not in the fold%s%s,"
                     " %lld row(s) of the fold are not in the table%s%s; rebuild it with SELECT es_rebuild('%s')",
                     r->name, (long long)extra, extra_row ? ", such as " : "",
                     extra_row ? extra_row : "", (long long)missing, missing_row ? ", such as " : "",
                     missing_row ? missing_row : "", r->name);
  sqlite3_free(extra_row);
  sqlite3_free(missing_row);
  es_table_columns_free(cols, n);
  return rc;
}

/* Can a SQL view's feed statement still be compiled (its feed, its handlers, the tables they name)? */
static char *feed_problem(es_store *s, const view_row *r) {
  char *sql = feed_insert_sql(r->feed);
  sqlite3_stmt *st = 0;
  char *problem = 0;
  if (!sql) return sqlite3_mprintf("out of memory");
  if (sqlite3_prepare_v2(s->db, sql, -1, &st, 0) != SQLITE_OK)
    problem = sqlite3_mprintf("read model %s: its feed %s and handlers no longer compile: %s", r->name, r->feed,
                              sqlite3_errmsg(s->db));
  sqlite3_finalize(st);
  sqlite3_free(sql);
  return problem;
}

es_status es_views_integrity(es_store *s, const es_registry *reg, int quick, int64_t end, es_integrity_report *out,
                             es_error *err) {
  view_rows rows;
  es_status rc = load_rows(s, &rows, err);
  int savepoints = 1;
  for (int i = 0; rc == ES_OK && i < rows.n; i++) {
    view_row *r = &rows.rows[i];
    char **cols = 0;
    int n = 0;
    if ((rc = es_table_columns(s, r->name, &cols, &n, err)) != ES_OK) break;
    es_table_columns_free(cols, n);
    if (n == 0) {
      es_integrity_add(out, ES_IC_VIEW, r->name, "read model %s has no table %s: drop the view with SELECT"
                       " es_drop_view('%s') or create its table and rebuild it", r->name, r->name, r->name);
      continue;
    }
    char *problem = r->is_sql ? feed_problem(s, r) : 0;
    if (problem) {
      es_integrity_add(out, ES_IC_DEFINITION, r->name, "%s", problem);
      sqlite3_free(problem);
      continue;
    }
    if (!r->is_sql && !es_registry_find_view(reg, r->name)) {
      es_integrity_add(out, ES_IC_NOT_CHECKED, r->name, "read model %s is a C view this connection has not registered:"
                       " it was not compared with the log", r->name);
      continue;
    }
    if (quick || !savepoints) continue;
    /* TEMP copies live in a savepoint that is rolled back: nothing is left of them, nothing else changes. */
    if (sqlite3_exec(s->db, "SAVEPOINT es_integrity", 0, 0, 0) != SQLITE_OK) {
      es_integrity_add(out, ES_IC_NOT_CHECKED, 0, "the read models were not compared with the log (%s): run"
                       " es_integrity_check from a plain SELECT", sqlite3_errmsg(s->db));
      savepoints = 0;
      continue;
    }
    es_error fold_err = {0};
    if (fold_and_compare(s, reg, r, end, out, &fold_err) != ES_OK) {
      if (fold_err.status == ES_NOMEM) rc = es_error_set(err, ES_NOMEM, 0);
      else es_integrity_add(out, ES_IC_NOT_CHECKED, r->name, "read model %s could not be folded into a TEMP copy: %s",
                            r->name, fold_err.message ? fold_err.message : es_status_name(fold_err.status));
    }
    es_error_clear(&fold_err);
    sqlite3_exec(s->db, "ROLLBACK TO es_integrity; RELEASE es_integrity", 0, 0, 0);
  }
  rows_free(&rows);
  return rc;
}
