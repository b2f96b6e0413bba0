/*
** view_writer.c — the view-writer port (ports/view_store.h) in SQLite: a C view's fold writes its
** own table through it (insert, upsert by primary key, delete, find), in the schema the store
** says (main, or temp while es_integrity_check folds a copy).
**
** Each write goes through a statement prepared once per shape: (schema, table, operation, the
** columns set, in order). Once a shape was seen, a write hashes its names, finds the statement,
** binds the typed values straight from the builder and steps it: no SQL text is formatted, none
** looked up, no JSON parsed. Upserts need the table's primary key; it is read from the schema
** once per table and kept.
**
** All of it is dropped when the schema may have changed: each port handed out (one per command,
** or per catch-up of a view) checks, at its first use, a statement of its own, PRAGMA
** main.schema_version, both its value and how often SQLite had to prepare it again (inside a call
** of ours, the same stamp as that call's es_store_open took it, without running anything). The value catches DDL; the re-prepare
** count catches what the value alone misses: a rollback takes the version back to a number that
** later DDL reaches again with another schema, but SQLite expires every statement when it rolls
** back a schema change. Like the store's statement cache (stmt_cache.c), a statement that is
** running is never finalized (it is left for later), and es_store_flush finalizes them all.
*/
#include <math.h>
#include <string.h>

#include "../domain/json.h"
#include "../domain/mem.h"
#include "view_writer.h"

#define VW_TARGET 64 /* statements kept when none of them is running */

typedef enum vw_kind { VW_INSERT, VW_UPDATE, VW_DELETE, VW_FIND } vw_kind;

/* One statement and its shape. */
typedef struct vw_stmt {
  uint64_t hash;
  vw_kind kind;
  size_t n;            /* columns */
  char *names;         /* schema, table, then each column: NUL-terminated one after the other */
  size_t names_len;
  sqlite3_stmt *st;
  uint64_t used;       /* clock when last handed out; 0: stale (the schema changed while it ran) */
} vw_stmt;

/* A schema version and how often the statement that read it had been re-prepared then. */
typedef struct schema_stamp {
  int known;
  int cookie, reprepares;
} schema_stamp;

/* A table's primary key columns. */
typedef struct vw_key {
  char *names; /* schema, table, then each key column: NUL-terminated one after the other */
  size_t names_len;
  int n;       /* key columns (0: the table has no primary key, or does not exist) */
} vw_key;

struct es_view_cache {
  vw_stmt *stmts;
  int n_stmts, cap_stmts;
  vw_key *keys;
  int n_keys, cap_keys;
  sqlite3_stmt *sentinel; /* PRAGMA main.schema_version */
  schema_stamp own;       /* the schema the statements and keys were made under, as the sentinel read it, */
  schema_stamp store;     /* and as a call's es_store_open verified it (see check_schema) */
  int checked;            /* the schema was checked since the port was last handed out */
  uint64_t clock;
  es_view_writer_stats stats;
};

/* ======================= The cache ======================= */

static void stmt_free(vw_stmt *e) {
  sqlite3_finalize(e->st);
  sqlite3_free(e->names);
}

/* Forget every statement that is not running (a running one is marked stale, for later) and
** every primary key. */
static void drop_all(es_view_cache *c) {
  int kept = 0;
  for (int i = 0; i < c->n_stmts; i++) {
    if (sqlite3_stmt_busy(c->stmts[i].st)) {
      c->stmts[i].used = 0;
      c->stmts[kept++] = c->stmts[i];
    } else {
      stmt_free(&c->stmts[i]);
    }
  }
  c->n_stmts = kept;
  for (int i = 0; i < c->n_keys; i++) sqlite3_free(c->keys[i].names);
  c->n_keys = 0;
}

void es_store_flush_views(es_store *s) {
  es_view_cache *c = s->view_cache;
  es_views_flush(s);
  if (!c) return;
  for (int i = 0; i < c->n_stmts; i++) stmt_free(&c->stmts[i]);
  for (int i = 0; i < c->n_keys; i++) sqlite3_free(c->keys[i].names);
  sqlite3_finalize(c->sentinel);
  sqlite3_free(c->stmts);
  sqlite3_free(c->keys);
  sqlite3_free(c);
  s->view_cache = 0;
}

void es_view_writer_stats_get(es_store *s, es_view_writer_stats *out) {
  memset(out, 0, sizeof(*out));
  if (!s->view_cache) return;
  *out = s->view_cache->stats;
  out->statements = s->view_cache->n_stmts;
}

/*
** Drop everything if the schema changed since it was made (see the top of the file). Inside a call
** of ours whose es_store_open verified the schema, the store's stamp of it is taken as it is (no
** statement runs): it holds until the call ends, and the call's own DDL (a view's table created,
** guards, TEMP copies for es_integrity_check) never changes a table the cache knows. Elsewhere the
** sentinel reads it. Each source compares with its own stamp (their re-prepare counts are of
** different statements); a drop forgets both, so whatever is cached was made after both were taken.
*/
static es_status check_schema(es_store *s, es_view_cache *c, es_error *err) {
  int from_store = s->in_call && s->schema_fresh && s->schema_cookie >= 0;
  int cookie = s->schema_cookie, reprepares = s->schema_reprepares;
  if (!from_store) {
    if (!c->sentinel) {
      int rc = sqlite3_prepare_v3(s->db, "PRAGMA main.schema_version", -1, SQLITE_PREPARE_PERSISTENT, &c->sentinel, 0);
      if (rc != SQLITE_OK) {
        sqlite3_finalize(c->sentinel);
        c->sentinel = 0;
        return es_store_error(s->db, rc, "reading the schema version", err);
      }
    }
    int rc = sqlite3_step(c->sentinel);
    cookie = sqlite3_column_int(c->sentinel, 0);
    sqlite3_reset(c->sentinel);
    if (rc != SQLITE_ROW) return es_store_error(s->db, rc, "reading the schema version", err);
    reprepares = sqlite3_stmt_status(c->sentinel, SQLITE_STMTSTATUS_REPREPARE, 0);
  }
  schema_stamp *stamp = from_store ? &c->store : &c->own;
  c->stats.checks++;
  if (!stamp->known || cookie != stamp->cookie || reprepares != stamp->reprepares) {
    if (c->n_stmts || c->n_keys) c->stats.dropped++;
    drop_all(c);
    c->own.known = c->store.known = 0;
    *stamp = (schema_stamp){.known = 1, .cookie = cookie, .reprepares = reprepares};
  }
  c->checked = 1;
  return ES_OK;
}

/* The store's cache, made on first use and checked against the schema once per port. */
static es_view_cache *cache(es_store *s, es_error *err) {
  es_view_cache *c = s->view_cache;
  if (!c) {
    if (!(c = sqlite3_malloc64(sizeof(*c)))) {
      es_error_set(err, ES_NOMEM, 0);
      return 0;
    }
    memset(c, 0, sizeof(*c));
    s->view_cache = c;
  }
  if (!c->checked && check_schema(s, c, err) != ES_OK) return 0;
  return c;
}

/* ---- shapes ---- */

static uint64_t fnv(uint64_t h, const char *z) {
  for (;; z++) { /* the NUL too, so "ab","c" and "a","bc" differ */
    h = (h ^ (unsigned char)*z) * 1099511628211ULL;
    if (!*z) return h;
  }
}

static uint64_t shape_hash(vw_kind kind, const char *schema, const char *table, const es_field *cols, size_t n) {
  uint64_t h = (14695981039346656037ULL ^ (uint64_t)kind) * 1099511628211ULL;
  h = fnv(fnv(h, schema), table);
  for (size_t i = 0; i < n; i++) h = fnv(h, cols[i].key);
  return h;
}

/* Does names (schema, table, columns) say exactly these? */
static int same_names(const char *names, const char *schema, const char *table, const es_field *cols, size_t n) {
  if (strcmp(names, schema) != 0) return 0;
  names += strlen(names) + 1;
  if (strcmp(names, table) != 0) return 0;
  names += strlen(names) + 1;
  for (size_t i = 0; i < n; i++) {
    if (strcmp(names, cols[i].key) != 0) return 0;
    names += strlen(names) + 1;
  }
  return 1;
}

/* "schema\0table\0name\0…" in one sqlite3_malloc'd block. */
static char *join_names(const char *schema, const char *table, const char *const *extra, const es_field *cols, size_t n,
                        size_t *len) {
  size_t total = strlen(schema) + strlen(table) + 2;
  for (size_t i = 0; i < n; i++) total += strlen(extra ? extra[i] : cols[i].key) + 1;
  char *p = sqlite3_malloc64(total), *q = p;
  if (!p) return 0;
  for (size_t i = 0; i < n + 2; i++) {
    const char *z = i == 0 ? schema : i == 1 ? table : extra ? extra[i - 2] : cols[i - 2].key;
    size_t k = strlen(z) + 1;
    memcpy(q, z, k);
    q += k;
  }
  *len = total;
  return p;
}

/* The cached statement of this shape that is not running, or NULL. */
static vw_stmt *lookup(es_view_cache *c, uint64_t hash, vw_kind kind, const char *schema, const char *table,
                       const es_field *cols, size_t n) {
  for (int i = 0; i < c->n_stmts; i++) {
    vw_stmt *e = &c->stmts[i];
    if (e->hash != hash || e->kind != kind || e->n != n || !e->used || sqlite3_stmt_busy(e->st)) continue;
    if (!same_names(e->names, schema, table, cols, n)) continue;
    e->used = ++c->clock;
    c->stats.reused++;
    return e;
  }
  return 0;
}

/* Room for one more statement: the least recently used one that is not running goes when the
** cache is at its target size (a stale one first); the array grows when every one is running. */
static int make_room(es_view_cache *c) {
  if (c->n_stmts >= VW_TARGET) {
    int victim = -1;
    for (int i = 0; i < c->n_stmts; i++) {
      if (sqlite3_stmt_busy(c->stmts[i].st)) continue;
      if (victim < 0 || c->stmts[i].used < c->stmts[victim].used) victim = i;
    }
    if (victim >= 0) {
      stmt_free(&c->stmts[victim]);
      c->stmts[victim] = c->stmts[--c->n_stmts];
    }
  }
  if (c->n_stmts < c->cap_stmts) return 1;
  int cap = c->cap_stmts ? c->cap_stmts * 2 : 16;
  vw_stmt *p = sqlite3_realloc64(c->stmts, sizeof(*p) * (size_t)cap);
  if (!p) return 0;
  c->stmts = p;
  c->cap_stmts = cap;
  return 1;
}

/* Prepare sql (sqlite3_str-built, taken) for this shape and keep it. With quiet, a failure to
** prepare leaves err alone (the caller has another way). */
static vw_stmt *add(es_store *s, es_view_cache *c, uint64_t hash, vw_kind kind, const char *table, const es_field *cols,
                    size_t n, char *sql, int quiet, es_error *err) {
  vw_stmt e = {.hash = hash, .kind = kind, .n = n};
  vw_stmt *out = 0;
  if (!sql) {
    es_error_set(err, ES_NOMEM, 0);
    goto done;
  }
  int rc = sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &e.st, 0);
  if (rc != SQLITE_OK) {
    if (!quiet) es_store_error(s->db, rc, "preparing a statement", err);
    goto done;
  }
  c->stats.prepared++;
  if (!(e.names = join_names(s->view_schema, table, 0, cols, n, &e.names_len)) || !make_room(c)) {
    es_error_set(err, ES_NOMEM, 0);
    goto done;
  }
  e.used = ++c->clock;
  c->stmts[c->n_stmts] = e;
  out = &c->stmts[c->n_stmts++];
done:
  if (!out) stmt_free(&e);
  sqlite3_free(sql);
  return out;
}

/* ---- SQL for each kind ---- */

/* "<c1> IS ?1 AND <c2> IS ?2 …" of the columns chosen (all when is_key is NULL). */
static void append_match(sqlite3_str *b, const es_field *cols, size_t n, const unsigned char *is_key) {
  int k = 0;
  for (size_t i = 0; i < n; i++)
    if (!is_key || is_key[i]) sqlite3_str_appendf(b, "%s\"%w\" IS ?%d", k++ ? " AND " : "", cols[i].key, (int)i + 1);
}

static char *insert_sql(const char *schema, const char *table, const es_field *cols, size_t n) {
  sqlite3_str *b = sqlite3_str_new(0);
  sqlite3_str_appendf(b, "INSERT INTO %s.\"%w\"(", schema, table);
  for (size_t i = 0; i < n; i++) sqlite3_str_appendf(b, "%s\"%w\"", i ? ", " : "", cols[i].key);
  sqlite3_str_appendall(b, ") VALUES (");
  for (size_t i = 0; i < n; i++) sqlite3_str_appendf(b, "%s?%d", i ? ", " : "", (int)i + 1);
  sqlite3_str_appendall(b, ")");
  return sqlite3_str_finish(b);
}

static char *delete_sql(const char *schema, const char *table, const es_field *cols, size_t n) {
  sqlite3_str *b = sqlite3_str_new(0);
  sqlite3_str_appendf(b, "DELETE FROM %s.\"%w\" WHERE ", schema, table);
  append_match(b, cols, n, 0);
  return sqlite3_str_finish(b);
}

/* UPDATE the set non-key columns of the row with that key (only the key set: a no-op if present). */
static char *update_sql(const char *schema, const char *table, const es_field *cols, size_t n,
                        const unsigned char *is_key) {
  sqlite3_str *b = sqlite3_str_new(0);
  int k = 0;
  sqlite3_str_appendf(b, "UPDATE %s.\"%w\" SET ", schema, table);
  for (size_t i = 0; i < n; i++)
    if (!is_key[i]) sqlite3_str_appendf(b, "%s\"%w\" = ?%d", k++ ? ", " : "", cols[i].key, (int)i + 1);
  if (k == 0) sqlite3_str_appendf(b, "\"%w\" = \"%w\"", cols[0].key, cols[0].key);
  sqlite3_str_appendall(b, " WHERE ");
  append_match(b, cols, n, is_key);
  return sqlite3_str_finish(b);
}

/* The most recent matching row (largest rowid); a WITHOUT ROWID table has no order to offer. */
static char *find_sql(const char *schema, const char *table, const es_field *cols, size_t n, int by_rowid) {
  sqlite3_str *b = sqlite3_str_new(0);
  sqlite3_str_appendf(b, "SELECT * FROM %s.\"%w\" WHERE ", schema, table);
  append_match(b, cols, n, 0);
  sqlite3_str_appendall(b, by_rowid ? " ORDER BY rowid DESC LIMIT 1" : " LIMIT 1");
  return sqlite3_str_finish(b);
}

/* ---- primary keys ---- */

/* The table's primary key columns, read from the schema on first need. */
static const vw_key *primary_key(es_store *s, es_view_cache *c, const char *table, es_error *err) {
  const char *schema = s->view_schema;
  for (int i = 0; i < c->n_keys; i++)
    if (same_names(c->keys[i].names, schema, table, 0, 0)) return &c->keys[i];
  sqlite3_stmt *st = es_store_cached(s, sqlite3_mprintf("SELECT name FROM pragma_table_info(?1, ?2) WHERE pk > 0"), err);
  if (!st) return 0;
  char **names = 0;
  int n = 0, src;
  vw_key k = {0};
  const vw_key *out = 0;
  c->stats.key_reads++;
  sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, schema, -1, SQLITE_STATIC);
  while ((src = sqlite3_step(st)) == SQLITE_ROW) {
    const char *name = (const char *)sqlite3_column_text(st, 0);
    char **p = sqlite3_realloc64(names, sizeof(*names) * (size_t)(n + 1));
    if (!p || !name) {
      src = SQLITE_NOMEM;
      if (p) names = p;
      break;
    }
    names = p;
    if (!(names[n] = sqlite3_mprintf("%s", name))) {
      src = SQLITE_NOMEM;
      break;
    }
    n++;
  }
  sqlite3_reset(st);
  sqlite3_clear_bindings(st);
  if (src != SQLITE_DONE) {
    es_store_error(s->db, src, "reading a view's primary key", err);
    goto done;
  }
  k.n = n;
  if (!(k.names = join_names(schema, table, (const char *const *)names, 0, (size_t)n, &k.names_len))) {
    es_error_set(err, ES_NOMEM, 0);
    goto done;
  }
  if (c->n_keys == c->cap_keys) {
    int cap = c->cap_keys ? c->cap_keys * 2 : 8;
    vw_key *p = sqlite3_realloc64(c->keys, sizeof(*p) * (size_t)cap);
    if (!p) {
      es_error_set(err, ES_NOMEM, 0);
      goto done;
    }
    c->keys = p;
    c->cap_keys = cap;
  }
  c->keys[c->n_keys] = k;
  k.names = 0;
  out = &c->keys[c->n_keys++];
done:
  for (int i = 0; i < n; i++) sqlite3_free(names[i]);
  sqlite3_free(names);
  sqlite3_free(k.names);
  return out;
}

/* Which of cols are key columns; an error when the table has no key or a key column is not set. */
static es_status mark_key(const vw_key *k, const char *table, const es_field *cols, size_t n, unsigned char *is_key,
                          es_error *err) {
  if (k->n == 0) return es_error_set(err, ES_INVALID_ARGUMENT, "upsert needs a PRIMARY KEY on table %s", table);
  const char *name = k->names;
  name += strlen(name) + 1; /* the schema */
  name += strlen(name) + 1; /* the table */
  int missing = 0;
  memset(is_key, 0, n);
  for (int j = 0; j < k->n; j++, name += strlen(name) + 1) {
    int found = 0;
    for (size_t i = 0; i < n; i++)
      if (sqlite3_stricmp(cols[i].key, name) == 0) is_key[i] = 1, found = 1;
    missing += !found;
  }
  if (missing) return es_error_set(err, ES_INVALID_ARGUMENT, "upsert on %s needs every primary key column set", table);
  return ES_OK;
}

/* The statement for this shape: cached, or prepared now. */
static vw_stmt *statement(es_store *s, es_view_cache *c, vw_kind kind, const char *table, const es_field *cols, size_t n,
                          es_error *err) {
  const char *schema = s->view_schema;
  uint64_t hash = shape_hash(kind, schema, table, cols, n);
  vw_stmt *e = lookup(c, hash, kind, schema, table, cols, n);
  if (e) return e;
  switch (kind) {
    case VW_INSERT: return add(s, c, hash, kind, table, cols, n, insert_sql(schema, table, cols, n), 0, err);
    case VW_DELETE: return add(s, c, hash, kind, table, cols, n, delete_sql(schema, table, cols, n), 0, err);
    case VW_FIND:
      e = add(s, c, hash, kind, table, cols, n, find_sql(schema, table, cols, n, 1), 1, err);
      if (!e && err->status == ES_OK) e = add(s, c, hash, kind, table, cols, n, find_sql(schema, table, cols, n, 0), 0, err);
      return e;
    case VW_UPDATE: {
      const vw_key *k = primary_key(s, c, table, err);
      unsigned char *is_key = k ? sqlite3_malloc64(n) : 0;
      if (k && !is_key) es_error_set(err, ES_NOMEM, 0);
      if (is_key && mark_key(k, table, cols, n, is_key, err) == ES_OK)
        e = add(s, c, hash, kind, table, cols, n, update_sql(schema, table, cols, n, is_key), 0, err);
      sqlite3_free(is_key);
      return e;
    }
  }
  return 0;
}

/* ======================= Binding ======================= */

/* A REAL as its JSON reads back: es_jbuf_real writes the shortest text that round-trips, which
** for a whole number below 1e15 has no fraction or exponent (read back as an INTEGER), and null
** for one that is not finite. Between 1e15 and 1e17 only the text tells. */
static int bind_real(sqlite3_stmt *st, int i, double d) {
  if (!isfinite(d)) return sqlite3_bind_null(st, i);
  if (d > -1e17 && d < 1e17 && d == (double)(sqlite3_int64)d) {
    int whole = d > -1e15 && d < 1e15;
    if (!whole) {
      es_jbuf b;
      es_jbuf_init(&b);
      es_jbuf_real(&b, d);
      int ok = es_jbuf_status(&b) == ES_OK;
      whole = ok && !strpbrk(b.z, ".eE");
      es_jbuf_reset(&b);
      if (!ok) return SQLITE_NOMEM;
    }
    if (whole) return sqlite3_bind_int64(st, i, (sqlite3_int64)d);
  }
  return sqlite3_bind_double(st, i, d);
}

/* A JSON value as its SQL value: null NULL, true/false 1/0, numbers, a string's text; an array or
** an object as its text. The builder checked it; *bad says it is not JSON all the same. */
static int bind_json(sqlite3_stmt *st, int i, const char *json, size_t len, int *bad) {
  es_json_doc *doc = 0;
  es_status rc = es_json_parse(json, len, &doc, 0);
  if (rc != ES_OK) {
    *bad = rc != ES_NOMEM;
    return SQLITE_NOMEM;
  }
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
  return src;
}

/* Bind cols to ?1…?n. Text is bound without a copy: the builder outlives the step, and the
** bindings are cleared before the statement is handed out again. */
static es_status bind_all(es_store *s, sqlite3_stmt *st, const es_field *cols, size_t n, es_error *err) {
  for (size_t i = 0; i < n; i++) {
    const es_value *v = &cols[i].v;
    int at = (int)i + 1, bad = 0, src;
    switch (v->kind) {
      case ES_VALUE_INT: src = sqlite3_bind_int64(st, at, v->u.i); break;
      case ES_VALUE_BOOL: src = sqlite3_bind_int(st, at, v->u.i != 0); break;
      case ES_VALUE_REAL: src = bind_real(st, at, v->u.r); break;
      case ES_VALUE_TEXT: src = sqlite3_bind_text64(st, at, v->u.text.s, v->u.text.n, SQLITE_STATIC, SQLITE_UTF8); break;
      case ES_VALUE_JSON: src = bind_json(st, at, v->u.text.s, v->u.text.n, &bad); break;
      default: src = sqlite3_bind_null(st, at); break;
    }
    if (src == SQLITE_OK) continue;
    sqlite3_clear_bindings(st);
    if (bad) return es_error_set(err, ES_INVALID_ARGUMENT, "a column value is not JSON");
    return es_store_error(s->db, src, "binding a column", err);
  }
  return ES_OK;
}

/* ======================= The port ======================= */

static es_status run(es_store *s, es_view_cache *c, vw_kind kind, const char *table, const es_field *cols, size_t n,
                     const char *doing, es_error *err) {
  vw_stmt *e = statement(s, c, kind, table, cols, n, err);
  if (!e) return err->status;
  if (bind_all(s, e->st, cols, n, err) != ES_OK) return err->status;
  return es_store_run(s, e->st, doing, err);
}

static es_status port_write(void *self, const char *table, int op, const es_field *cols, size_t n, es_error *err) {
  es_store *s = self;
  if (n == 0) return es_error_set(err, ES_INVALID_ARGUMENT, "no column was set on the row");
  es_view_cache *c = cache(s, err);
  if (!c) return err->status;
  switch (op) {
    case ES_VIEW_INSERT: return run(s, c, VW_INSERT, table, cols, n, "writing a row", err);
    case ES_VIEW_DELETE: return run(s, c, VW_DELETE, table, cols, n, "deleting a row", err);
    case ES_VIEW_UPSERT:
      /* UPDATE the row with that key, or INSERT it when there is none. (INSERT … ON CONFLICT DO
      ** UPDATE would check NOT NULL columns the row already has.) */
      if (run(s, c, VW_UPDATE, table, cols, n, "updating a row", err) != ES_OK) return err->status;
      if (sqlite3_changes(s->db) > 0) return ES_OK;
      return run(s, c, VW_INSERT, table, cols, n, "inserting a row", err);
  }
  return es_error_set(err, ES_INVALID_ARGUMENT, "unknown view write operation %d", op);
}

/* One column of the current row onto the caller's builder (which keeps a failure). */
static void put_column(es_builder *row, sqlite3_stmt *st, int i) {
  const char *name = sqlite3_column_name(st, i);
  es_value v = {.kind = ES_VALUE_NULL};
  switch (sqlite3_column_type(st, i)) {
    case SQLITE_INTEGER: v.kind = ES_VALUE_INT, v.u.i = sqlite3_column_int64(st, i); break;
    case SQLITE_FLOAT: v.kind = ES_VALUE_REAL, v.u.r = sqlite3_column_double(st, i); break;
    case SQLITE_NULL: break;
    default: {
      const char *z = (const char *)sqlite3_column_text(st, i);
      v.kind = ES_VALUE_TEXT;
      v.u.text.s = z ? z : "";
      v.u.text.n = z ? (size_t)sqlite3_column_bytes(st, i) : 0;
    }
  }
  es_builder_put(row, name ? name : "", &v);
}

static es_status port_find(void *self, const char *table, const es_field *cols, size_t n, es_builder *row, int *found,
                           es_error *err) {
  es_store *s = self;
  *found = 0;
  if (n == 0) return es_error_set(err, ES_INVALID_ARGUMENT, "no column was set on the row");
  es_view_cache *c = cache(s, err);
  vw_stmt *e = c ? statement(s, c, VW_FIND, table, cols, n, err) : 0;
  if (!e) return err->status;
  if (bind_all(s, e->st, cols, n, err) != ES_OK) return err->status;
  es_status rc = ES_OK;
  int src = sqlite3_step(e->st);
  if (src == SQLITE_ROW) {
    for (int i = 0; i < sqlite3_column_count(e->st); i++) put_column(row, e->st, i);
    *found = 1;
  } else if (src != SQLITE_DONE) {
    rc = es_store_error(s->db, src, "reading a row", err);
  }
  sqlite3_reset(e->st);
  sqlite3_clear_bindings(e->st);
  return rc;
}

es_view_store es_store_view_port(es_store *s) {
  if (s->view_cache) s->view_cache->checked = 0; /* check the schema again at the first use */
  es_view_store p = {.self = s, .write = port_write, .find = port_find};
  return p;
}
