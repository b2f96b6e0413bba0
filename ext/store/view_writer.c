/*
** view_writer.c — the view-writer port (ports/view_store.h) in SQLite: a C view's fold writes its
** own table through it (insert, upsert by primary key, delete, find), in the schema the store
** says (main, or temp while es_integrity_check folds a copy).
*/
#include <string.h>

#include "../domain/json.h"
#include "../domain/mem.h"
#include "store_internal.h"

/* Bind one column value given as JSON text. */
static es_status bind_json(es_store *s, sqlite3_stmt *st, int i, const char *json, es_error *err) {
  es_json_doc *doc = 0;
  es_status rc = es_json_parse(json, strlen(json), &doc, 0);
  if (rc != ES_OK) return es_error_set(err, rc == ES_NOMEM ? ES_NOMEM : ES_INVALID_ARGUMENT, "a column value is not JSON");
  const es_json *v = es_json_root(doc);
  int src;
  switch (v->kind) {
    case ES_JSON_NULL: src = sqlite3_bind_null(st, i); break;
    case ES_JSON_FALSE: src = sqlite3_bind_int(st, i, 0); break;
    case ES_JSON_TRUE: src = sqlite3_bind_int(st, i, 1); break;
    case ES_JSON_INT: src = sqlite3_bind_int64(st, i, v->u.i); break;
    case ES_JSON_REAL: src = sqlite3_bind_double(st, i, v->u.r); break;
    case ES_JSON_STRING: src = sqlite3_bind_text64(st, i, v->u.str.s, v->u.str.n, SQLITE_TRANSIENT, SQLITE_UTF8); break;
    default: src = sqlite3_bind_text64(st, i, v->raw, v->raw_len, SQLITE_TRANSIENT, SQLITE_UTF8); break;
  }
  es_json_free(doc);
  return src == SQLITE_OK ? ES_OK : es_store_error(s->db, src, "binding a column", err);
}

static es_status bind_all(es_store *s, sqlite3_stmt *st, const es_field *cols, size_t n, es_error *err) {
  for (size_t i = 0; i < n; i++)
    if (bind_json(s, st, (int)i + 1, cols[i].json, err) != ES_OK) return err->status;
  return ES_OK;
}

/* SQL text for a write: INSERT or DELETE of the given columns. */
static char *write_sql(const char *schema, const char *table, int op, const es_field *cols, size_t n) {
  sqlite3_str *b = sqlite3_str_new(0);
  if (op == ES_VIEW_DELETE) {
    sqlite3_str_appendf(b, "DELETE FROM %s.\"%w\" WHERE ", schema, table);
    for (size_t i = 0; i < n; i++) sqlite3_str_appendf(b, "%s\"%w\" IS ?%d", i ? " AND " : "", cols[i].key, (int)i + 1);
    return sqlite3_str_finish(b);
  }
  sqlite3_str_appendf(b, "INSERT INTO %s.\"%w\"(", schema, table);
  for (size_t i = 0; i < n; i++) sqlite3_str_appendf(b, "%s\"%w\"", i ? ", " : "", cols[i].key);
  sqlite3_str_appendall(b, ") VALUES (");
  for (size_t i = 0; i < n; i++) sqlite3_str_appendf(b, "%s?%d", i ? ", " : "", (int)i + 1);
  sqlite3_str_appendall(b, ")");
  return sqlite3_str_finish(b);
}

/* Is column `name` one of the table's primary key columns? *n_pk counts them. */
static es_status primary_key(es_store *s, const char *table, const es_field *cols, size_t n, unsigned char *is_key,
                             int *n_pk, es_error *err) {
  sqlite3_stmt *st = es_store_cached(s, sqlite3_mprintf("SELECT name FROM pragma_table_info(?1, %Q) WHERE pk > 0", s->view_schema), err);
  if (!st) return err->status;
  sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC);
  int src, missing = 0;
  *n_pk = 0;
  memset(is_key, 0, n);
  while ((src = sqlite3_step(st)) == SQLITE_ROW) {
    const char *name = (const char *)sqlite3_column_text(st, 0);
    int found = 0;
    for (size_t i = 0; name && i < n; i++)
      if (sqlite3_stricmp(cols[i].key, name) == 0) is_key[i] = 1, found = 1;
    missing += !found;
    (*n_pk)++;
  }
  sqlite3_reset(st);
  sqlite3_clear_bindings(st);
  if (src != SQLITE_DONE) return es_store_error(s->db, src, "reading a view's primary key", err);
  if (*n_pk == 0) return es_error_set(err, ES_INVALID_ARGUMENT, "upsert needs a PRIMARY KEY on table %s", table);
  if (missing)
    return es_error_set(err, ES_INVALID_ARGUMENT, "upsert on %s needs every primary key column set", table);
  return ES_OK;
}

/* Upsert: UPDATE the set non-key columns of the row with that key, or INSERT it when there is none.
** (INSERT … ON CONFLICT DO UPDATE would check NOT NULL columns the row already has.) */
static es_status upsert(es_store *s, const char *table, const es_field *cols, size_t n, es_error *err) {
  unsigned char is_key[64];
  int n_pk = 0;
  if (n > sizeof(is_key)) return es_error_set(err, ES_INVALID_ARGUMENT, "upsert on %s sets more than 64 columns", table);
  if (primary_key(s, table, cols, n, is_key, &n_pk, err) != ES_OK) return err->status;
  {
    sqlite3_str *b = sqlite3_str_new(0);
    int k = 0;
    sqlite3_str_appendf(b, "UPDATE %s.\"%w\" SET ", s->view_schema, table);
    for (size_t i = 0; i < n; i++)
      if (!is_key[i]) sqlite3_str_appendf(b, "%s\"%w\" = ?%d", k++ ? ", " : "", cols[i].key, (int)i + 1);
    if (k == 0) sqlite3_str_appendf(b, "\"%w\" = \"%w\"", cols[0].key, cols[0].key); /* only the key: a no-op if present */
    sqlite3_str_appendall(b, " WHERE ");
    k = 0;
    for (size_t i = 0; i < n; i++)
      if (is_key[i]) sqlite3_str_appendf(b, "%s\"%w\" IS ?%d", k++ ? " AND " : "", cols[i].key, (int)i + 1);
    sqlite3_stmt *st = es_store_cached(s, sqlite3_str_finish(b), err);
    if (!st) return err->status;
    if (bind_all(s, st, cols, n, err) != ES_OK) {
      sqlite3_clear_bindings(st);
      return err->status;
    }
    if (es_store_run(s, st, "updating a row", err) != ES_OK) return err->status;
    if (sqlite3_changes(s->db) > 0) return ES_OK;
  }
  sqlite3_stmt *st = es_store_cached(s, write_sql(s->view_schema, table, ES_VIEW_INSERT, cols, n), err);
  if (!st) return err->status;
  if (bind_all(s, st, cols, n, err) != ES_OK) {
    sqlite3_clear_bindings(st);
    return err->status;
  }
  return es_store_run(s, st, "inserting a row", err);
}


static es_status port_write(void *self, const char *table, int op, const es_field *cols, size_t n, es_error *err) {
  es_store *s = self;
  if (op == ES_VIEW_UPSERT) return upsert(s, table, cols, n, err);
  sqlite3_stmt *st = es_store_cached(s, write_sql(s->view_schema, table, op, cols, n), err);
  if (!st) return err->status;
  es_status rc = bind_all(s, st, cols, n, err);
  if (rc == ES_OK) rc = es_store_run(s, st, op == ES_VIEW_DELETE ? "deleting a row" : "writing a row", err);
  else sqlite3_clear_bindings(st);
  return rc;
}

/* One column of the current row as JSON. */
static void column_json(es_jbuf *b, sqlite3_stmt *st, int i) {
  switch (sqlite3_column_type(st, i)) {
    case SQLITE_INTEGER: es_jbuf_int(b, sqlite3_column_int64(st, i)); break;
    case SQLITE_FLOAT: es_jbuf_real(b, sqlite3_column_double(st, i)); break;
    case SQLITE_NULL: es_jbuf_appendz(b, "null"); break;
    default: {
      const char *z = (const char *)sqlite3_column_text(st, i);
      es_jbuf_string(b, z ? z : "", (size_t)sqlite3_column_bytes(st, i));
    }
  }
}

static es_status port_find(void *self, const char *table, const es_field *cols, size_t n, char **row, size_t *len,
                           es_error *err) {
  es_store *s = self;
  *row = 0;
  /* The most recent matching row (largest rowid); a WITHOUT ROWID table has no order to offer. */
  sqlite3_stmt *st = 0;
  for (int by_rowid = 1; by_rowid >= 0 && !st; by_rowid--) {
    es_error attempt = {0};
    sqlite3_str *b = sqlite3_str_new(0);
    sqlite3_str_appendf(b, "SELECT * FROM %s.\"%w\" WHERE ", s->view_schema, table);
    for (size_t i = 0; i < n; i++) sqlite3_str_appendf(b, "%s\"%w\" IS ?%d", i ? " AND " : "", cols[i].key, (int)i + 1);
    sqlite3_str_appendall(b, by_rowid ? " ORDER BY rowid DESC LIMIT 1" : " LIMIT 1");
    st = es_store_cached(s, sqlite3_str_finish(b), by_rowid ? &attempt : err);
    es_error_clear(&attempt);
  }
  if (!st) return err->status;
  es_status rc = bind_all(s, st, cols, n, err);
  int src = rc == ES_OK ? sqlite3_step(st) : SQLITE_DONE;
  if (src == SQLITE_ROW) {
    es_jbuf jb;
    es_jbuf_init(&jb);
    es_jbuf_appendz(&jb, "{");
    for (int i = 0; i < sqlite3_column_count(st); i++) {
      const char *name = sqlite3_column_name(st, i);
      if (i) es_jbuf_appendz(&jb, ",");
      es_jbuf_string(&jb, name ? name : "", name ? strlen(name) : 0);
      es_jbuf_appendz(&jb, ":");
      column_json(&jb, st, i);
    }
    es_jbuf_appendz(&jb, "}");
    *row = es_jbuf_take(&jb, len);
    if (!*row) rc = es_error_set(err, ES_NOMEM, 0);
  } else if (rc == ES_OK && src != SQLITE_DONE) {
    rc = es_store_error(s->db, src, "reading a row", err);
  }
  sqlite3_reset(st);
  sqlite3_clear_bindings(st);
  return rc;
}

es_view_store es_store_view_port(es_store *s) {
  es_view_store p = {.self = s, .write = port_write, .find = port_find};
  return p;
}

