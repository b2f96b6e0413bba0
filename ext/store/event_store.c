/*
** event_store.c — the SQLite adapter of the event-store port: the storage's verification and
** upgrade (its tables are in schema.c, its guards in protection.c), stream reads, idempotency
** records and the append step, over cached prepared statements.
**
** es_meta records the last position ever given ('last_position'). The append step gives the
** positions after it and moves it, in the same transaction, and refuses to append when the end
** of the log is not that record: events deleted at the end (a position would be given twice) or
** appended behind sqlite-es's back.
*/
#include <string.h>

#include "../domain/mem.h"
#include "store_internal.h"

#define ES_NOW "strftime('%Y-%m-%dT%H:%M:%fZ','now')"

static const char *const stmt_sql[ES_STMT_COUNT] = {
    [ES_STMT_SCHEMA_VERSION] = "PRAGMA main.schema_version",
    [ES_STMT_DATA_VERSION] = "PRAGMA main.data_version",
    [ES_STMT_READ_STREAM] = "SELECT position, version, type, data FROM main.es_events"
                            " WHERE aggregate_type = ?1 AND aggregate_id = ?2 AND version > ?3 ORDER BY version",
    [ES_STMT_STREAM_VERSION] = "SELECT max(version) FROM main.es_events WHERE aggregate_type = ?1 AND aggregate_id = ?2",
    [ES_STMT_FIND_COMMAND] = "SELECT aggregate_type, aggregate_id, command_type, version, position"
                             " FROM main.es_commands WHERE command_id = ?1",
    [ES_STMT_READ_HEAD] = "SELECT (SELECT value FROM main.es_meta WHERE key = 'last_position'),"
                          " (SELECT coalesce(max(position), 0) FROM main.es_events)",
    [ES_STMT_SET_HEAD] = "UPDATE main.es_meta SET value = ?1 WHERE key = 'last_position'",
    [ES_STMT_INSERT_EVENT] = "INSERT INTO main.es_events(position, aggregate_type, aggregate_id, version, type, data,"
                             " metadata, command_id, recorded_at) VALUES (?8, ?1, ?2, ?3, ?4, ?5, ?6, ?7, " ES_NOW ")",
    [ES_STMT_INSERT_COMMAND] = "INSERT INTO main.es_commands(command_id, aggregate_type, aggregate_id, command_type,"
                               " version, position, recorded_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, " ES_NOW ")",
};

es_store *es_store_new(sqlite3 *db) {
  es_store *s = sqlite3_malloc64(sizeof(*s));
  if (!s) return 0;
  memset(s, 0, sizeof(*s));
  s->db = db;
  s->schema_cookie = -1;
  s->view_schema = "main";
  return s;
}

void es_store_flush(es_store *s) {
  for (int i = 0; i < ES_STMT_COUNT; i++) {
    sqlite3_finalize(s->stmts[i]);
    s->stmts[i] = 0;
  }
  s->schema_cookie = -1; /* a statement prepared anew counts re-prepares from 0 */
  es_store_flush_cache(s);
  es_store_flush_views(s);
}

void es_store_free(es_store *s) {
  if (!s) return;
  es_store_flush(s);
  sqlite3_free(s->damage);
  sqlite3_free(s);
}

es_status es_store_error(sqlite3 *db, int rc, const char *doing, es_error *err) {
  int ext = sqlite3_extended_errcode(db);
  const char *msg = sqlite3_errmsg(db);
  if ((ext & 0xff) != (rc & 0xff)) { /* the connection's error is not this one */
    ext = rc;
    msg = sqlite3_errstr(rc);
  }
  if ((rc & 0xff) == SQLITE_NOMEM) return es_error_set(err, ES_NOMEM, 0);
  es_status kind = ES_STORAGE;
  if ((rc & 0xff) == SQLITE_BUSY || (rc & 0xff) == SQLITE_LOCKED) kind = ES_BUSY;
  const char *ours = 0;
  es_status named = es_status_from_message(msg, &ours);
  if (named != ES_OK) /* one of ours (a guard refused, a nested call was refused): it says it all */
    es_error_set(err, named, "%s", ours);
  else
    es_error_set(err, kind, "%s: %s (%d)", doing, msg, ext);
  err->native_code = ext;
  return err->status;
}

/* Run a statement that returns no rows (or whose rows are not needed) to completion. */
es_status es_store_run(es_store *s, sqlite3_stmt *st, const char *doing, es_error *err) {
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
  }
  es_status out = rc == SQLITE_DONE ? ES_OK : es_store_error(s->db, rc, doing, err);
  sqlite3_reset(st);
  sqlite3_clear_bindings(st);
  return out;
}

es_status es_store_exec(es_store *s, char *sql, const char *doing, es_error *err) {
  if (!sql) return es_error_set(err, ES_NOMEM, 0);
  s->wrote = 1;
  int rc = sqlite3_exec(s->db, sql, 0, 0, 0);
  sqlite3_free(sql);
  return rc == SQLITE_OK ? ES_OK : es_store_error(s->db, rc, doing, err);
}

sqlite3_stmt *es_store_stmt(es_store *s, es_stmt_id id, es_error *err) {
  if (!s->stmts[id]) {
    int rc = sqlite3_prepare_v3(s->db, stmt_sql[id], -1, SQLITE_PREPARE_PERSISTENT, &s->stmts[id], 0);
    if (rc != SQLITE_OK) {
      es_store_error(s->db, rc, "preparing a statement", err);
      sqlite3_finalize(s->stmts[id]);
      s->stmts[id] = 0;
    }
  }
  return s->stmts[id];
}

/* Step a statement that returns one row, or none; its values stay readable until reset. */
static int step_row(sqlite3_stmt *st) {
  int rc = sqlite3_step(st);
  return rc == SQLITE_ROW || rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* Note why the storage may not be written (the first reason found wins). */
static void set_damage(es_store *s, es_status kind, char *why) {
  if (s->damage) {
    sqlite3_free(why);
    return;
  }
  s->damage = why ? why : sqlite3_mprintf("%s", "the storage could not be checked (out of memory)");
  s->damage_kind = why ? kind : ES_NOMEM;
}

static int first_guard_problem(void *arg, const es_guard *g, es_guard_state st, const char *stored) {
  (void)stored;
  if (st == ES_GUARD_OK) return 1;
  set_damage(arg, ES_PROTECTED, es_guard_problem(g, st));
  return 0;
}

/* The recorded format (an integer >= 1), or an error saying the storage is damaged or too new. */
static es_status read_format(es_store *s, es_error *err) {
  sqlite3_stmt *q = 0;
  es_status rc = ES_OK;
  int src = sqlite3_prepare_v2(s->db, "SELECT value FROM main.es_meta WHERE key = 'format'", -1, &q, 0);
  if (src == SQLITE_OK) src = step_row(q);
  if (src != SQLITE_OK) {
    rc = es_store_error(s->db, src, "reading the storage format", err);
  } else if (sqlite3_column_type(q, 0) != SQLITE_INTEGER || sqlite3_column_int64(q, 0) < 1) {
    rc = es_error_set(err, ES_STORAGE, "es_meta holds no valid storage format: the sqlite-es storage is damaged");
  } else if ((s->format = sqlite3_column_int64(q, 0)) > ES_STORAGE_FORMAT) {
    rc = es_error_set(err, ES_STORAGE,
                      "this database has sqlite-es storage format %lld; this build of sqlite-es (%s) reads"
                      " format %d: upgrade sqlite-es",
                      (long long)s->format, ES_VERSION_STRING, ES_STORAGE_FORMAT);
  }
  sqlite3_finalize(q);
  return rc;
}

/*
** The slow part of es_store_open, run when the schema changed: the log's tables (all three or
** none), their definitions and the optional tables' (a change is damage), the format, and every
** guard (one missing or not as we installed it is damage). Damage stops writes, not reads.
*/
static es_status verify_storage(es_store *s, es_error *err) {
  es_status rc = ES_OK;
  int found[ES_TABLE_COUNT] = {0}, log_tables = 0;
  s->exists = 0;
  s->format = 0;
  sqlite3_free(s->damage);
  s->damage = 0;
  for (int id = 0; rc == ES_OK && id < ES_TABLE_COUNT; id++) {
    char *problem = 0;
    rc = es_table_check(s, (es_table_id)id, &found[id], &problem, err);
    if (problem) set_damage(s, ES_STORAGE, problem);
    if (id <= ES_TABLE_META) log_tables += found[id];
  }
  s->tables = 0;
  for (int id = 0; id < ES_TABLE_COUNT; id++) s->tables |= (unsigned)found[id] << id;
  if (rc != ES_OK || log_tables == 0) return rc;
  if (log_tables != 3)
    return es_error_set(err, ES_STORAGE, "the sqlite-es storage in this database is incomplete (%d of its 3 tables)",
                        log_tables);
  if ((rc = read_format(s, err)) != ES_OK) return rc;
  s->exists = 1;
  if (s->format == ES_STORAGE_FORMAT && !s->damage) rc = es_guards_check(s, first_guard_problem, s, err);
  return rc;
}

/* A guarded write of es_meta's row key (insert, or update when it exists). */
static es_status set_meta(es_store *s, const char *key, int64_t value, int update, es_error *err) {
  sqlite3_stmt *st = 0;
  int rc = sqlite3_prepare_v2(s->db,
                              update ? "UPDATE main.es_meta SET value = ?2 WHERE key = ?1"
                                     : "INSERT INTO main.es_meta(key, value) VALUES (?1, ?2)",
                              -1, &st, 0);
  es_status status;
  if (rc != SQLITE_OK) {
    status = es_store_error(s->db, rc, "recording the storage format", err);
  } else {
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, value);
    status = es_store_guarded_write(s, st, "es_meta", "recording the storage format", err);
  }
  sqlite3_finalize(st);
  return status;
}

/*
** Format 1 → 2, in the current write transaction: es_meta's UPDATE guard lets the append step
** through; every guard is written anew (they name every column now); the last position given is
** the end of the log, the best that is known of it; es_projections reads it.
*/
static es_status upgrade(es_store *s, es_error *err) {
  sqlite3_stmt *q = 0;
  int64_t end = 0;
  es_status rc = es_store_exec(s, sqlite3_mprintf("DROP TRIGGER IF EXISTS main.es_meta_no_update;"
                                                  "DROP VIEW IF EXISTS main.es_projections"),
                               "upgrading the sqlite-es storage", err);
  if (rc == ES_OK && es_table_exists(s, ES_TABLE_VIEWS)) /* es_projections reads the last position given now */
    rc = es_store_exec(s, sqlite3_mprintf("%s", es_table(ES_TABLE_VIEWS)->extra), "upgrading the sqlite-es storage", err);
  if (rc == ES_OK) rc = es_table_ensure(s, ES_TABLE_SNAPSHOTS, err);
  if (rc == ES_OK) rc = es_guards_repair(s, 0, 0, err);
  if (rc == ES_OK) {
    int src = sqlite3_prepare_v2(s->db, "SELECT coalesce(max(position), 0) FROM main.es_events", -1, &q, 0);
    if (src == SQLITE_OK && (src = step_row(q)) == SQLITE_OK) end = sqlite3_column_int64(q, 0);
    if (src != SQLITE_OK) rc = es_store_error(s->db, src, "upgrading the sqlite-es storage", err);
    sqlite3_finalize(q);
  }
  if (rc == ES_OK) rc = set_meta(s, "last_position", end, 0, err);
  if (rc == ES_OK) rc = set_meta(s, "format", ES_STORAGE_FORMAT, 1, err);
  s->schema_cookie = -1;
  return rc;
}

/*
** The verification is kept while the schema is unchanged: while neither its version nor the
** number of times SQLite re-prepared our statement reading it changed. The version alone is not
** enough: a rollback of DDL (of storage we created in the caller's transaction, say) brings back
** an older version that later DDL reaches again with another schema; but SQLite expires every
** statement when it rolls back a schema change, so our statement is re-prepared.
*/
static es_status schema_stamp(es_store *s, int *cookie, int *reprepares, es_error *err) {
  sqlite3_stmt *st = es_store_stmt(s, ES_STMT_SCHEMA_VERSION, err);
  if (!st) return err->status;
  int src = step_row(st);
  *cookie = sqlite3_column_int(st, 0);
  sqlite3_reset(st);
  *reprepares = sqlite3_stmt_status(st, SQLITE_STMTSTATUS_REPREPARE, 0);
  return src == SQLITE_OK ? ES_OK : es_store_error(s->db, src, "reading the schema version", err);
}

int es_store_schema_unchanged(es_store *s) {
  if (s->schema_cookie >= 0 && s->schema_fresh) return 1;
  es_error ignored = {0};
  int cookie, reprepares;
  int same = s->schema_cookie >= 0 && schema_stamp(s, &cookie, &reprepares, &ignored) == ES_OK &&
             cookie == s->schema_cookie && reprepares == s->schema_reprepares;
  es_error_clear(&ignored);
  return same;
}

es_status es_store_open(es_store *s, es_open_mode mode, es_error *err) {
  for (int pass = 0; pass < 2; pass++) {
    int cookie, reprepares;
    if (schema_stamp(s, &cookie, &reprepares, err) != ES_OK) return err->status;
    if (s->schema_cookie < 0 || cookie != s->schema_cookie || reprepares != s->schema_reprepares) {
      es_status rc = verify_storage(s, err);
      s->schema_cookie = rc == ES_OK ? cookie : -1;
      s->schema_reprepares = reprepares;
      if (rc != ES_OK) return rc;
    }
    s->schema_fresh = s->in_call;
    if (mode == ES_OPEN_READ || !s->exists || s->format >= ES_STORAGE_FORMAT) break;
    if (pass == 0 && upgrade(s, err) != ES_OK) return err->status;
  }
  if (mode == ES_OPEN_WRITE && s->exists && s->damage) return es_error_set(err, s->damage_kind, "%s", s->damage);
  return ES_OK;
}

int es_store_schema_version(es_store *s) {
  es_error ignored = {0};
  sqlite3_stmt *st = es_store_stmt(s, ES_STMT_SCHEMA_VERSION, &ignored);
  es_error_clear(&ignored);
  if (!st) return -1;
  int cookie = step_row(st) == SQLITE_OK ? sqlite3_column_int(st, 0) : -1;
  sqlite3_reset(st);
  return cookie;
}

es_status es_store_data_version(es_store *s, int64_t *version, es_error *err) {
  sqlite3_stmt *st = es_store_stmt(s, ES_STMT_DATA_VERSION, err);
  if (!st) return err->status;
  int src = step_row(st);
  *version = sqlite3_column_int64(st, 0);
  sqlite3_reset(st);
  s->data_version = *version; /* views.c reuses it within the call */
  s->data_version_read = src == SQLITE_OK;
  return src == SQLITE_OK ? ES_OK : es_store_error(s->db, src, "reading the data version", err);
}

int es_store_exists(const es_store *s) { return s->exists; }
const char *es_store_damage(const es_store *s) { return s->exists ? s->damage : 0; }

void es_store_begin_call(es_store *s) { s->wrote = 0; }

void es_store_call(es_store *s, int running) {
  s->in_call = running;
  s->schema_fresh = 0;
  s->data_version_read = 0;
  es_views_call_edge(s);
}
int es_store_wrote(const es_store *s) { return s->wrote; }

es_status es_store_create(es_store *s, es_error *err) {
  s->wrote = 1;
  es_status rc = ES_OK;
  for (int id = 0; rc == ES_OK && id <= ES_TABLE_META; id++) rc = es_table_create(s, (es_table_id)id, err);
  /* Snapshots are taken inside commands, where creating a table would make a rollback abort a batch. */
  if (rc == ES_OK) rc = es_table_create(s, ES_TABLE_SNAPSHOTS, err);
  if (rc == ES_OK) rc = set_meta(s, "format", ES_STORAGE_FORMAT, 0, err);
  if (rc == ES_OK) rc = set_meta(s, "last_position", 0, 0, err);
  if (rc != ES_OK) return rc;
  s->exists = 1;
  s->format = ES_STORAGE_FORMAT;
  sqlite3_free(s->damage);
  s->damage = 0;
  s->schema_cookie = -1; /* verify again next time: the schema changed */
  return ES_OK;
}

static es_status port_read_stream(void *self, const char *aggregate_type, const char *aggregate_id,
                                  int64_t after_version, es_stored_event_fn fn, void *arg, es_error *err) {
  es_store *s = self;
  if (!s->exists) return ES_OK;
  sqlite3_stmt *st = es_store_stmt(s, ES_STMT_READ_STREAM, err);
  if (!st) return err->status;
  sqlite3_bind_text(st, 1, aggregate_type, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, aggregate_id, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 3, after_version);
  es_status rc = ES_OK;
  int src;
  while (rc == ES_OK && (src = sqlite3_step(st)) == SQLITE_ROW) {
    es_stored_event ev = {.position = sqlite3_column_int64(st, 0),
                          .version = sqlite3_column_int64(st, 1),
                          .type = (const char *)sqlite3_column_text(st, 2),
                          .data = (const char *)sqlite3_column_text(st, 3)};
    ev.data_len = (size_t)sqlite3_column_bytes(st, 3);
    if (!ev.type || !ev.data) {
      rc = sqlite3_errcode(s->db) == SQLITE_NOMEM ? es_error_set(err, ES_NOMEM, 0)
                                                  : es_error_set(err, ES_STORAGE, "event at position %lld has no type or data",
                                                                 (long long)ev.position);
      break;
    }
    rc = fn(arg, &ev, err);
  }
  if (rc == ES_OK && src != SQLITE_DONE) rc = es_store_error(s->db, src, "reading a stream", err);
  sqlite3_reset(st);
  sqlite3_clear_bindings(st);
  return rc;
}

es_status es_store_stream_version(es_store *s, const char *aggregate_type, const char *aggregate_id,
                                  int64_t *version, es_error *err) {
  *version = 0;
  if (!s->exists) return ES_OK;
  sqlite3_stmt *st = es_store_stmt(s, ES_STMT_STREAM_VERSION, err);
  if (!st) return err->status;
  sqlite3_bind_text(st, 1, aggregate_type, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, aggregate_id, -1, SQLITE_STATIC);
  int src = step_row(st);
  *version = sqlite3_column_int64(st, 0);
  es_status rc = src == SQLITE_OK ? ES_OK : es_store_error(s->db, src, "reading a stream version", err);
  sqlite3_reset(st);
  sqlite3_clear_bindings(st);
  return rc;
}

/* A column's text, copied (NULL text copies as ""). */
static char *column_dup(sqlite3_stmt *st, int i) {
  const char *z = (const char *)sqlite3_column_text(st, i);
  return es_mem_strdup(z ? z : "");
}

static es_status port_find_command(void *self, const char *command_id, es_command_record *out, int *found,
                                   es_error *err) {
  es_store *s = self;
  *found = 0;
  memset(out, 0, sizeof(*out));
  if (!s->exists) return ES_OK;
  sqlite3_stmt *st = es_store_stmt(s, ES_STMT_FIND_COMMAND, err);
  if (!st) return err->status;
  sqlite3_bind_text(st, 1, command_id, -1, SQLITE_STATIC);
  es_status rc = ES_OK;
  int src = sqlite3_step(st);
  if (src == SQLITE_ROW) {
    out->aggregate_type = column_dup(st, 0);
    out->aggregate_id = column_dup(st, 1);
    out->command_type = column_dup(st, 2);
    out->version = sqlite3_column_int64(st, 3);
    out->position = sqlite3_column_int64(st, 4);
    if (!out->aggregate_type || !out->aggregate_id || !out->command_type) {
      es_command_record_clear(out);
      rc = es_error_set(err, ES_NOMEM, 0);
    } else {
      *found = 1;
    }
  } else if (src != SQLITE_DONE) {
    rc = es_store_error(s->db, src, "looking up a command_id", err);
  }
  sqlite3_reset(st);
  sqlite3_clear_bindings(st);
  return rc;
}

/* The last position given, and the end of the log: they must be the same. */
static es_status read_head(es_store *s, int64_t *head, es_error *err) {
  sqlite3_stmt *st = es_store_stmt(s, ES_STMT_READ_HEAD, err);
  if (!st) return err->status;
  int src = step_row(st);
  int recorded = sqlite3_column_type(st, 0) == SQLITE_INTEGER;
  int64_t last = sqlite3_column_int64(st, 0), end = sqlite3_column_int64(st, 1);
  sqlite3_reset(st);
  *head = last;
  if (src != SQLITE_OK) return es_store_error(s->db, src, "reading the end of the log", err);
  if (!recorded)
    return es_error_set(err, ES_STORAGE, "es_meta does not record the last position given: the sqlite-es storage is damaged");
  if (end < last)
    return es_error_set(err, ES_PROTECTED,
                        "the log has lost events: position %lld was given, but es_events ends at position %lld (events"
                        " were deleted while a guard was missing); a position is never given twice, so nothing more is"
                        " appended: restore the database from a backup (SELECT * FROM es_integrity_check lists the damage)",
                        (long long)last, (long long)end);
  if (end > last) {
    char span[64];
    if (end == last + 1) sqlite3_snprintf((int)sizeof span, span, "position %lld", (long long)end);
    else sqlite3_snprintf((int)sizeof span, span, "positions %lld to %lld", (long long)last + 1, (long long)end);
    return es_error_set(err, ES_PROTECTED,
                        "es_events holds events that sqlite-es did not append (%s, after the last it gave, %lld): they"
                        " bypassed every aggregate's decision: restore the database from a backup (SELECT * FROM"
                        " es_integrity_check lists the damage)",
                        span, (long long)last);
  }
  return ES_OK;
}

static es_status set_head(es_store *s, int64_t head, es_error *err) {
  sqlite3_stmt *st = es_store_stmt(s, ES_STMT_SET_HEAD, err);
  if (!st) return err->status;
  sqlite3_bind_int64(st, 1, head);
  es_status rc = es_store_guarded_write(s, st, "es_meta", "recording the last position", err);
  sqlite3_reset(st);
  return rc;
}

/* Insert one event at the given position (the one after the last given). */
static es_status insert_event(es_store *s, sqlite3_stmt *st, const es_append_request *req, size_t i,
                              int64_t position, es_error *err) {
  const es_new_event *ev = &req->events[i];
  sqlite3_bind_text(st, 1, req->aggregate_type, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, req->aggregate_id, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 3, req->first_version + (int64_t)i);
  sqlite3_bind_text(st, 4, ev->type, -1, SQLITE_STATIC);
  sqlite3_bind_text64(st, 5, ev->data, ev->data_len, SQLITE_STATIC, SQLITE_UTF8);
  if (req->metadata) sqlite3_bind_text(st, 6, req->metadata, -1, SQLITE_STATIC);
  else sqlite3_bind_null(st, 6);
  if (req->command_id) sqlite3_bind_text(st, 7, req->command_id, -1, SQLITE_STATIC);
  else sqlite3_bind_null(st, 7);
  sqlite3_bind_int64(st, 8, position);
  es_status rc = es_store_guarded_write(s, st, "es_events", "appending an event", err);
  sqlite3_reset(st);
  return rc;
}

static es_status record_command(es_store *s, const es_append_request *req, int64_t position, es_error *err) {
  sqlite3_stmt *st = es_store_stmt(s, ES_STMT_INSERT_COMMAND, err);
  if (!st) return err->status;
  sqlite3_bind_text(st, 1, req->command_id, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, req->aggregate_type, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 3, req->aggregate_id, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 4, req->command_type, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 5, req->first_version - 1 + (int64_t)req->n_events);
  sqlite3_bind_int64(st, 6, position);
  es_status rc = es_store_guarded_write(s, st, "es_commands", "recording the command_id", err);
  sqlite3_reset(st);
  sqlite3_clear_bindings(st);
  return rc;
}

static es_status port_append(void *self, const es_append_request *req, es_append_result *out, es_error *err) {
  es_store *s = self;
  es_status rc = ES_OK;
  sqlite3_int64 saved_rowid = sqlite3_last_insert_rowid(s->db);
  out->last_position = 0;
  if (req->n_events == 0 && !req->command_id) return ES_OK;
  if (!s->exists && (rc = es_store_create(s, err)) != ES_OK) return rc;
  int64_t head = 0;
  if (req->n_events && (rc = read_head(s, &head, err)) != ES_OK) return rc;
  sqlite3_stmt *st = req->n_events ? es_store_stmt(s, ES_STMT_INSERT_EVENT, err) : 0;
  if (req->n_events && !st) return err->status;
  for (size_t i = 0; rc == ES_OK && i < req->n_events; i++) rc = insert_event(s, st, req, i, head + 1 + (int64_t)i, err);
  if (st) sqlite3_clear_bindings(st);
  if (rc == ES_OK && req->n_events) {
    out->last_position = head + (int64_t)req->n_events;
    rc = set_head(s, out->last_position, err);
  }
  if (rc == ES_OK && req->command_id) rc = record_command(s, req, out->last_position, err);
  sqlite3_set_last_insert_rowid(s->db, saved_rowid); /* the caller's last_insert_rowid() is theirs */
  return rc;
}

static es_status port_stream_version(void *self, const char *aggregate_type, const char *aggregate_id,
                                     int64_t *version, es_error *err) {
  return es_store_stream_version(self, aggregate_type, aggregate_id, version, err);
}

es_event_store es_store_port(es_store *s) {
  es_event_store p = {.self = s,
                      .read_stream = port_read_stream,
                      .stream_version = port_stream_version,
                      .find_command = port_find_command,
                      .append = port_append};
  return p;
}
