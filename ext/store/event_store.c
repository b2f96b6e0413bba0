/*
** event_store.c — the SQLite adapter of the event-store port: the schema, its verification,
** stream reads, idempotency records and the append step, over cached prepared statements.
*/
#include <string.h>

#include "../domain/mem.h"
#include "store_internal.h"

/* The storage; triggers come from protection.c. Created inside the first command's transaction. */
const char es_schema_sql[] =
    "CREATE TABLE IF NOT EXISTS main.es_meta(key TEXT PRIMARY KEY NOT NULL, value ANY) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS main.es_events("
    " position INTEGER PRIMARY KEY,"
    " aggregate_type TEXT NOT NULL,"
    " aggregate_id TEXT NOT NULL,"
    " version INTEGER NOT NULL CHECK (version >= 1),"
    " type TEXT NOT NULL,"
    " data TEXT NOT NULL,"
    " metadata TEXT,"
    " command_id TEXT,"
    " recorded_at TEXT NOT NULL,"
    " UNIQUE (aggregate_type, aggregate_id, version));"
    "CREATE INDEX IF NOT EXISTS main.es_events_by_category ON es_events(aggregate_type, position);"
    "CREATE INDEX IF NOT EXISTS main.es_events_by_type ON es_events(type, position);"
    "CREATE TABLE IF NOT EXISTS main.es_commands("
    " command_id TEXT PRIMARY KEY NOT NULL,"
    " aggregate_type TEXT NOT NULL,"
    " aggregate_id TEXT NOT NULL,"
    " command_type TEXT NOT NULL,"
    " version INTEGER NOT NULL,"
    " position INTEGER NOT NULL,"
    " recorded_at TEXT NOT NULL) WITHOUT ROWID;";

#define ES_NOW "strftime('%Y-%m-%dT%H:%M:%fZ','now')"

static const char *const stmt_sql[ES_STMT_COUNT] = {
    [ES_STMT_SCHEMA_VERSION] = "PRAGMA main.schema_version",
    [ES_STMT_READ_STREAM] = "SELECT position, version, type, data FROM main.es_events"
                            " WHERE aggregate_type = ?1 AND aggregate_id = ?2 AND version > ?3 ORDER BY version",
    [ES_STMT_STREAM_VERSION] = "SELECT max(version) FROM main.es_events WHERE aggregate_type = ?1 AND aggregate_id = ?2",
    [ES_STMT_FIND_COMMAND] = "SELECT aggregate_type, aggregate_id, command_type, version, position"
                             " FROM main.es_commands WHERE command_id = ?1",
    [ES_STMT_INSERT_EVENT] = "INSERT INTO main.es_events(aggregate_type, aggregate_id, version, type, data,"
                             " metadata, command_id, recorded_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, " ES_NOW ")",
    [ES_STMT_INSERT_COMMAND] = "INSERT INTO main.es_commands(command_id, aggregate_type, aggregate_id, command_type,"
                               " version, position, recorded_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, " ES_NOW ")",
};

es_store *es_store_new(sqlite3 *db) {
  es_store *s = sqlite3_malloc64(sizeof(*s));
  if (!s) return 0;
  memset(s, 0, sizeof(*s));
  s->db = db;
  s->schema_cookie = -1;
  return s;
}

void es_store_flush(es_store *s) {
  for (int i = 0; i < ES_STMT_COUNT; i++) {
    sqlite3_finalize(s->stmts[i]);
    s->stmts[i] = 0;
  }
  es_store_flush_cache(s);
}

void es_store_free(es_store *s) {
  if (!s) return;
  es_store_flush(s);
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

/* Which of our tables and triggers exist, and the recorded format: the slow part of es_store_open. */
static es_status verify_storage(es_store *s, es_error *err) {
  sqlite3_stmt *q = 0;
  es_status rc = ES_OK;
  int src = sqlite3_prepare_v2(s->db, "SELECT name, type FROM main.sqlite_schema WHERE name GLOB 'es_*'", -1, &q, 0);
  int tables = 0, found_triggers = 0;
  char trig[16] = {0};
  while (src == SQLITE_OK && (src = sqlite3_step(q)) == SQLITE_ROW) {
    src = SQLITE_OK;
    const char *name = (const char *)sqlite3_column_text(q, 0);
    const char *type = (const char *)sqlite3_column_text(q, 1);
    if (!name || !type) continue;
    if (strcmp(type, "table") == 0 &&
        (!strcmp(name, "es_events") || !strcmp(name, "es_commands") || !strcmp(name, "es_meta")))
      tables++;
    for (int i = 0; strcmp(type, "trigger") == 0 && es_protection_triggers[i]; i++)
      if (strcmp(name, es_protection_triggers[i]) == 0) trig[i] = 1, found_triggers++;
  }
  if (src != SQLITE_DONE && src != SQLITE_OK) {
    rc = es_store_error(s->db, src, "reading the schema", err);
    goto done;
  }
  s->exists = 0;
  s->missing_trigger = 0;
  if (tables == 0 && found_triggers == 0) goto done;
  if (tables != 3) {
    rc = es_error_set(err, ES_STORAGE, "the sqlite-es storage in this database is incomplete (%d of its 3 tables)",
                      tables);
    goto done;
  }
  sqlite3_finalize(q);
  q = 0;
  src = sqlite3_prepare_v2(s->db, "SELECT value FROM main.es_meta WHERE key = 'format'", -1, &q, 0);
  if (src == SQLITE_OK) src = step_row(q);
  if (src != SQLITE_OK) {
    rc = es_store_error(s->db, src, "reading the storage format", err);
    goto done;
  }
  if (sqlite3_column_type(q, 0) != SQLITE_INTEGER || sqlite3_column_int64(q, 0) < 1) {
    rc = es_error_set(err, ES_STORAGE, "es_meta holds no valid storage format: the sqlite-es storage is damaged");
    goto done;
  }
  sqlite3_int64 format = sqlite3_column_int64(q, 0);
  if (format > ES_STORAGE_FORMAT) {
    rc = es_error_set(err, ES_STORAGE,
                      "this database has sqlite-es storage format %lld; this build of sqlite-es (%s) reads"
                      " format %d: upgrade sqlite-es",
                      (long long)format, ES_VERSION_STRING, ES_STORAGE_FORMAT);
    goto done;
  }
  s->missing_trigger = 0;
  for (int i = 0; es_protection_triggers[i] && !s->missing_trigger; i++)
    if (!trig[i]) s->missing_trigger = es_protection_triggers[i];
  if (!s->missing_trigger && (rc = es_views_missing_guard(s, err)) != ES_OK) goto done;
  s->exists = 1;
done:
  sqlite3_finalize(q);
  return rc;
}

/* Is es_events in the schema? A cheap check while storage we created may still be rolled back. */
static int log_table_present(es_store *s) {
  es_error ignored = {0};
  sqlite3_stmt *q = es_store_cached(
      s, sqlite3_mprintf("SELECT 1 FROM main.sqlite_schema WHERE type = 'table' AND name = 'es_events'"), &ignored);
  int found = q && sqlite3_step(q) == SQLITE_ROW;
  if (q) sqlite3_reset(q);
  es_error_clear(&ignored);
  return found;
}

/*
** The verification is cached by schema version. While storage we created is not yet committed,
** that is not enough: a ROLLBACK of the caller's transaction brings back an old schema version
** that later DDL can reach again, with the storage gone; so the log table's presence is checked.
*/
es_status es_store_open(es_store *s, int for_write, es_error *err) {
  sqlite3_stmt *st = es_store_stmt(s, ES_STMT_SCHEMA_VERSION, err);
  if (!st) return err->status;
  int src = step_row(st);
  int cookie = sqlite3_column_int(st, 0);
  sqlite3_reset(st);
  if (src != SQLITE_OK) return es_store_error(s->db, src, "reading the schema version", err);
  if (cookie != s->schema_cookie || (s->created_pending && !log_table_present(s))) {
    es_status rc = verify_storage(s, err);
    s->schema_cookie = rc == ES_OK ? cookie : -1;
    if (rc != ES_OK) return rc;
  }
  if (for_write && s->exists && s->missing_trigger)
    return es_error_set(err, ES_PROTECTED, "trigger %s is missing, so %s is not protected; restore it with SELECT es_protect()",
                        s->missing_trigger, s->missing_trigger == s->missing_view_guard ? "a read model" : "the log");
  return ES_OK;
}

int es_store_exists(const es_store *s) { return s->exists; }

void es_store_settle(es_store *s) {
  if (s->created_pending) s->schema_cookie = -1;
  s->created_pending = 0;
}

void es_store_begin_call(es_store *s) { s->wrote = 0; }
int es_store_wrote(const es_store *s) { return s->wrote; }

es_status es_store_create(es_store *s, es_error *err) {
  s->wrote = 1;
  s->created_pending = 1;
  int rc = sqlite3_exec(s->db, es_schema_sql, 0, 0, 0);
  if (rc == SQLITE_OK) rc = sqlite3_exec(s->db, es_protection_sql, 0, 0, 0);
  if (rc != SQLITE_OK) return es_store_error(s->db, rc, "creating the sqlite-es storage", err);
  sqlite3_stmt *st = 0;
  es_status status = ES_OK;
  rc = sqlite3_prepare_v2(s->db, "INSERT INTO main.es_meta(key, value) VALUES ('format', ?1)", -1, &st, 0);
  if (rc != SQLITE_OK) {
    status = es_store_error(s->db, rc, "creating the sqlite-es storage", err);
  } else {
    sqlite3_bind_int(st, 1, ES_STORAGE_FORMAT);
    status = es_store_guarded_insert(s, st, "es_meta", "recording the storage format", err);
  }
  sqlite3_finalize(st);
  if (status != ES_OK) return status;
  s->exists = 1;
  s->missing_trigger = 0;
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

/* Insert one event; its position is the next rowid (gapless: the log never loses a row). */
static es_status insert_event(es_store *s, sqlite3_stmt *st, const es_append_request *req, size_t i,
                              int64_t *position, es_error *err) {
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
  es_status rc = es_store_guarded_insert(s, st, "es_events", "appending an event", err);
  if (rc == ES_OK) *position = sqlite3_last_insert_rowid(s->db);
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
  es_status rc = es_store_guarded_insert(s, st, "es_commands", "recording the command_id", err);
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
  sqlite3_stmt *st = req->n_events ? es_store_stmt(s, ES_STMT_INSERT_EVENT, err) : 0;
  if (req->n_events && !st) return err->status;
  for (size_t i = 0; rc == ES_OK && i < req->n_events; i++) rc = insert_event(s, st, req, i, &out->last_position, err);
  if (st) sqlite3_clear_bindings(st);
  if (rc == ES_OK && req->command_id) rc = record_command(s, req, out->last_position, err);
  sqlite3_set_last_insert_rowid(s->db, saved_rowid); /* the caller's last_insert_rowid() is theirs */
  return rc;
}

es_event_store es_store_port(es_store *s) {
  es_event_store p = {.self = s, .read_stream = port_read_stream, .find_command = port_find_command, .append = port_append};
  return p;
}
