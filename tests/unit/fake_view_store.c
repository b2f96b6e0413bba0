/*
** fake_view_store.c — the in-memory view store the unit tests of C views run against
** (fake_view_store.h). Rows are lists of (column → JSON text); matching compares JSON texts, a
** column a row does not have counting as null (like SQL's IS on a NULL column).
*/
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "../../ext/domain/json.h"
#include "../../ext/domain/mem.h"
#include "fake_view_store.h"

static const char *const op_names[FVS_N_OPS] = {"insert", "upsert", "delete", "find"};

/* ----------------------- text without allocation ----------------------- */

/* A bounded text sink: with cap 0 it only counts (to size an allocation). */
typedef struct sink {
  char *buf;
  size_t cap, len;
  int overflow;
} sink;

static void put(sink *s, const char *z, size_t n) {
  if (s->buf) {
    if (s->len + n + 1 > s->cap) {
      s->overflow = 1;
      return;
    }
    memcpy(s->buf + s->len, z, n);
    s->buf[s->len + n] = 0;
  }
  s->len += n;
}

static void putz(sink *s, const char *z) { put(s, z, strlen(z)); }

/* A JSON string, escaped as es_jbuf_string escapes it. */
static void put_string_n(sink *s, const char *z, size_t n) {
  static const char from[] = "\"\\\b\f\n\r\t", to[] = "\"\\bfnrt";
  putz(s, "\"");
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)z[i];
    const char *m = c < 0x20 || c == '"' || c == '\\' ? memchr(from, c, sizeof from - 1) : 0;
    if (m) {
      char esc[2] = {'\\', to[m - from]};
      put(s, esc, 2);
    } else if (c < 0x20) {
      char esc[8];
      snprintf(esc, sizeof esc, "\\u%04x", c);
      putz(s, esc);
    } else {
      put(s, (const char *)&c, 1);
    }
  }
  putz(s, "\"");
}

static void put_string(sink *s, const char *z) {
  putz(s, "\"");
  for (; *z; z++) {
    unsigned char c = (unsigned char)*z;
    if (c == '"' || c == '\\') {
      char esc[2] = {'\\', (char)c};
      put(s, esc, 2);
    } else if (c < 0x20) {
      char esc[8];
      snprintf(esc, sizeof esc, "\\u%04x", c);
      putz(s, esc);
    } else {
      put(s, (const char *)&c, 1);
    }
  }
  putz(s, "\"");
}

/* A typed value as JSON text, as the builder writes it (es_value_to_json), without allocating. */
static void put_value(sink *s, const es_value *v) {
  char buf[40];
  switch (v->kind) {
    case ES_VALUE_INT: snprintf(buf, sizeof buf, "%lld", (long long)v->u.i); putz(s, buf); break;
    case ES_VALUE_REAL:
      if (!isfinite(v->u.r)) {
        putz(s, "null");
        break;
      }
      for (int prec = 15; prec <= 17; prec++) {
        snprintf(buf, sizeof buf, "%.*g", prec, v->u.r);
        if (strtod(buf, NULL) == v->u.r) break;
      }
      putz(s, buf);
      break;
    case ES_VALUE_BOOL: putz(s, v->u.i ? "true" : "false"); break;
    case ES_VALUE_TEXT: put_string_n(s, v->u.text.s, v->u.text.n); break;
    case ES_VALUE_JSON: put(s, v->u.text.s, v->u.text.n); break;
    default: putz(s, "null"); break;
  }
}

/* The port's columns and a stored row, rendered the same way. */
static void put_fields(sink *s, const es_field *cols, size_t n) {
  putz(s, "{");
  for (size_t i = 0; i < n; i++) {
    if (i) putz(s, ",");
    put_string(s, cols[i].key);
    putz(s, ":");
    put_value(s, &cols[i].v);
  }
  putz(s, "}");
}

/* A typed value's JSON text in buf (cap bytes); 0 when it does not fit. */
static int value_text(const es_value *v, char *buf, size_t cap) {
  sink s = {buf, cap, 0, 0};
  buf[0] = 0;
  put_value(&s, v);
  return !s.overflow;
}

static void put_row(sink *s, const fvs_row *r) {
  putz(s, "{");
  for (size_t i = 0; i < r->n; i++) {
    if (i) putz(s, ",");
    put_string(s, r->cols[i].key);
    putz(s, ":");
    putz(s, r->cols[i].json);
  }
  putz(s, "}");
}

/* ----------------------- the call log ----------------------- */

static sink log_sink(fake_view_store *fs) {
  sink s = {fs->log, sizeof(fs->log), strlen(fs->log), 0};
  return s;
}

/* One line: "<op> <table> <cols>[ -> <outcome>]\n". */
static void log_call(fake_view_store *fs, const char *op, const char *table, const es_field *cols, size_t n,
                     const char *outcome, const fvs_row *found) {
  sink s = log_sink(fs);
  size_t start = s.len;
  putz(&s, op);
  putz(&s, " ");
  putz(&s, table ? table : "(null)");
  putz(&s, " ");
  put_fields(&s, cols, n);
  if (outcome) {
    putz(&s, " -> ");
    putz(&s, outcome);
  } else if (found) {
    putz(&s, " -> ");
    put_row(&s, found);
  }
  putz(&s, "\n");
  if (s.overflow) {
    fs->log[start] = 0; /* no half line */
    fs->log_overflow = 1;
  }
}

/* ----------------------- rows and tables ----------------------- */

static void row_clear(fvs_row *r) {
  for (size_t i = 0; i < r->n; i++) {
    es_mem_free(r->cols[i].key);
    es_mem_free(r->cols[i].json);
  }
  es_mem_free(r->cols);
  r->cols = 0;
  r->n = 0;
}

static void table_clear(fvs_table *t) {
  for (size_t i = 0; i < t->n_rows; i++) row_clear(&t->rows[i]);
  es_mem_free(t->rows);
  for (size_t i = 0; i < t->n_key; i++) es_mem_free(t->key[i]);
  es_mem_free(t->key);
  es_mem_free(t->name);
  memset(t, 0, sizeof(*t));
}

static fvs_table *find_table(const fake_view_store *fs, const char *name) {
  for (size_t i = 0; name && i < fs->n_tables; i++)
    if (strcmp(fs->tables[i].name, name) == 0) return &fs->tables[i];
  return 0;
}

/* The value of column key in row r as JSON text ("null" when the row does not have it). */
static const char *row_value(const fvs_row *r, const char *key) {
  for (size_t i = 0; i < r->n; i++)
    if (strcmp(r->cols[i].key, key) == 0) return r->cols[i].json;
  return "null";
}

/* Does the row's column key hold the JSON text of v? */
static int same_value(const fvs_row *r, const char *key, const es_value *v) {
  char text[FVS_VALUE_MAX];
  return value_text(v, text, sizeof text) && strcmp(row_value(r, key), text) == 0;
}

static int row_matches(const fvs_row *r, const es_field *cols, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (!same_value(r, cols[i].key, &cols[i].v)) return 0;
  return 1;
}

static int is_key(const fvs_table *t, const char *col) {
  for (size_t i = 0; i < t->n_key; i++)
    if (strcmp(t->key[i], col) == 0) return 1;
  return 0;
}

/* Does cols set every key column? */
static int has_whole_key(const fvs_table *t, const es_field *cols, size_t n) {
  for (size_t k = 0; k < t->n_key; k++) {
    int found = 0;
    for (size_t i = 0; i < n; i++) found |= strcmp(cols[i].key, t->key[k]) == 0;
    if (!found) return 0;
  }
  return t->n_key > 0;
}

/* The row whose key columns equal those in cols, or NULL. */
static fvs_row *row_by_key(fvs_table *t, const es_field *cols, size_t n) {
  for (size_t r = 0; r < t->n_rows; r++) {
    int same = 1;
    for (size_t i = 0; same && i < n; i++)
      if (is_key(t, cols[i].key) && !same_value(&t->rows[r], cols[i].key, &cols[i].v)) same = 0;
    if (same) return &t->rows[r];
  }
  return 0;
}

/* Make room for one more row. */
static es_status grow_rows(fvs_table *t) {
  if (t->n_rows < t->cap_rows) return ES_OK;
  size_t cap = t->cap_rows ? t->cap_rows * 2 : 4;
  fvs_row *p = es_mem_realloc(t->rows, cap * sizeof(*p));
  if (!p) return ES_NOMEM;
  t->rows = p;
  t->cap_rows = cap;
  return ES_OK;
}

/* Set one column of a row (a copy of key and json); the row is unchanged on ES_NOMEM. */
static es_status row_set(fvs_row *r, const char *key, const char *json) {
  char *j = es_mem_strdup(json);
  if (!j) return ES_NOMEM;
  for (size_t i = 0; i < r->n; i++) {
    if (strcmp(r->cols[i].key, key) == 0) {
      es_mem_free(r->cols[i].json);
      r->cols[i].json = j;
      return ES_OK;
    }
  }
  char *k = es_mem_strdup(key);
  fvs_col *p = k ? es_mem_realloc(r->cols, (r->n + 1) * sizeof(*p)) : 0;
  if (!p) {
    es_mem_free(k);
    es_mem_free(j);
    return ES_NOMEM;
  }
  r->cols = p;
  r->cols[r->n].key = k;
  r->cols[r->n].json = j;
  r->n++;
  return ES_OK;
}

/* Set one column of a row to a typed value's JSON text. */
static es_status row_set_value(fvs_row *r, const char *key, const es_value *v) {
  char text[FVS_VALUE_MAX];
  if (!value_text(v, text, sizeof text)) return ES_INVALID_ARGUMENT;
  return row_set(r, key, text);
}

/* A new row with these columns appended to t; t is unchanged on failure (ES_NOMEM, or
** ES_INVALID_ARGUMENT for a value longer than FVS_VALUE_MAX). */
static es_status append_row(fvs_table *t, const es_field *cols, size_t n) {
  fvs_row r = {0};
  if (grow_rows(t) != ES_OK) return ES_NOMEM;
  for (size_t i = 0; i < n; i++) {
    es_status rc = row_set_value(&r, cols[i].key, &cols[i].v);
    if (rc != ES_OK) {
      row_clear(&r);
      return rc;
    }
  }
  t->rows[t->n_rows++] = r;
  return ES_OK;
}

/* ----------------------- the port ----------------------- */

/* An injected failure for this call of op, or ES_OK. */
static es_status injected(fake_view_store *fs, fake_view_op op, es_error *err) {
  fvs_failure *f = &fs->fail[op];
  if (f->status == ES_OK) return ES_OK;
  if (f->after > 0) {
    f->after--;
    return ES_OK;
  }
  es_status rc = f->message ? es_error_set(err, f->status, "%s", f->message) : es_error_set(err, f->status, 0);
  if (rc == f->status) err->native_code = f->native_code;
  return rc;
}

static es_status finish(fake_view_store *fs, fake_view_op op, const char *table, const es_field *cols, size_t n,
                        es_status rc, const fvs_row *found) {
  fs->last_status[op] = rc;
  log_call(fs, op_names[op], table, cols, n, rc != ES_OK ? es_status_name(rc) : op == FVS_FIND && !found ? "null" : 0,
           found);
  return rc;
}

static es_status port_write(void *self, const char *table, int op, const es_field *cols, size_t n, es_error *err) {
  fake_view_store *fs = self;
  fake_view_op fop;
  switch (op) {
    case ES_VIEW_INSERT: fop = FVS_INSERT; break;
    case ES_VIEW_UPSERT: fop = FVS_UPSERT; break;
    case ES_VIEW_DELETE: fop = FVS_DELETE; break;
    default:
      fs->bad_ops++;
      return es_error_set(err, ES_INVALID_ARGUMENT, "fake view store: unknown op %d", op);
  }
  fs->calls[fop]++;
  es_status rc = injected(fs, fop, err);
  if (rc != ES_OK) return finish(fs, fop, table, cols, n, rc, 0);
  fvs_table *t = find_table(fs, table);
  if (!t) return finish(fs, fop, table, cols, n, es_error_set(err, ES_STORAGE, "no such table: %s", table), 0);
  if (fop == FVS_DELETE) {
    size_t kept = 0;
    for (size_t r = 0; r < t->n_rows; r++) {
      if (row_matches(&t->rows[r], cols, n)) row_clear(&t->rows[r]);
      else t->rows[kept++] = t->rows[r];
    }
    t->n_rows = kept;
    return finish(fs, fop, table, cols, n, ES_OK, 0);
  }
  if (fop == FVS_UPSERT) {
    if (t->n_key == 0)
      rc = es_error_set(err, ES_INVALID_ARGUMENT, "upsert needs a PRIMARY KEY on table %s", table);
    else if (!has_whole_key(t, cols, n))
      rc = es_error_set(err, ES_INVALID_ARGUMENT, "upsert on %s needs every primary key column set", table);
    if (rc != ES_OK) return finish(fs, fop, table, cols, n, rc, 0);
    fvs_row *r = row_by_key(t, cols, n);
    if (r) {
      /* All or nothing: set the columns on a copy, then swap it in. */
      fvs_row copy = {0};
      for (size_t i = 0; rc == ES_OK && i < r->n; i++) rc = row_set(&copy, r->cols[i].key, r->cols[i].json);
      for (size_t i = 0; rc == ES_OK && i < n; i++)
        if (!is_key(t, cols[i].key)) rc = row_set_value(&copy, cols[i].key, &cols[i].v);
      if (rc != ES_OK) {
        row_clear(&copy);
        rc = rc == ES_NOMEM ? es_error_set(err, ES_NOMEM, 0) : es_error_set(err, rc, "fake view store: a value is too long");
        return finish(fs, fop, table, cols, n, rc, 0);
      }
      row_clear(r);
      *r = copy;
      return finish(fs, fop, table, cols, n, ES_OK, 0);
    }
  } else if (has_whole_key(t, cols, n) && row_by_key(t, cols, n)) {
    sink s = {0};
    char msg[256];
    s.buf = msg, s.cap = sizeof msg;
    putz(&s, "UNIQUE constraint failed: ");
    for (size_t k = 0; k < t->n_key; k++) {
      if (k) putz(&s, ", ");
      putz(&s, table);
      putz(&s, ".");
      putz(&s, t->key[k]);
    }
    return finish(fs, fop, table, cols, n, es_error_set(err, ES_STORAGE, "%s", msg), 0);
  }
  rc = append_row(t, cols, n);
  if (rc != ES_OK) rc = rc == ES_NOMEM ? es_error_set(err, ES_NOMEM, 0) : es_error_set(err, rc, "fake view store: a value is too long");
  return finish(fs, fop, table, cols, n, rc, 0);
}

/* Put a stored column on the caller's row as SQLite would hand it back: an integer as INT, a
** string as TEXT, null as NULL; anything else (a real, a nested value, text that is not JSON) as
** JSON, which the builder checks (and refuses when it is not JSON: the row cannot be read back). */
static void put_column(es_builder *row, const char *key, const char *json) {
  es_json_doc *doc = 0;
  es_value v = {.kind = ES_VALUE_JSON, .u.text = {json, strlen(json)}};
  if (es_json_parse(json, strlen(json), &doc, 0) == ES_OK) {
    const es_json *j = es_json_root(doc);
    if (j->kind == ES_JSON_INT) v.kind = ES_VALUE_INT, v.u.i = j->u.i;
    else if (j->kind == ES_JSON_NULL) v.kind = ES_VALUE_NULL;
    else if (j->kind == ES_JSON_STRING) v.kind = ES_VALUE_TEXT, v.u.text.s = j->u.str.s, v.u.text.n = j->u.str.n;
  }
  es_builder_put(row, key, &v);
  es_json_free(doc);
}

static es_status port_find(void *self, const char *table, const es_field *cols, size_t n, es_builder *row, int *found_out,
                           es_error *err) {
  fake_view_store *fs = self;
  *found_out = 0;
  fs->calls[FVS_FIND]++;
  es_status rc = injected(fs, FVS_FIND, err);
  if (rc != ES_OK) return finish(fs, FVS_FIND, table, cols, n, rc, 0);
  fvs_table *t = find_table(fs, table);
  if (!t) return finish(fs, FVS_FIND, table, cols, n, es_error_set(err, ES_STORAGE, "no such table: %s", table), 0);
  const fvs_row *found = 0;
  for (size_t r = t->n_rows; !found && r > 0; r--)
    if (row_matches(&t->rows[r - 1], cols, n)) found = &t->rows[r - 1];
  if (found) {
    for (size_t i = 0; i < found->n; i++) put_column(row, found->cols[i].key, found->cols[i].json);
    *found_out = 1;
  }
  return finish(fs, FVS_FIND, table, cols, n, ES_OK, found);
}

/* ----------------------- set-up and inspection ----------------------- */

fake_view_store *fake_view_store_new(void) {
  fake_view_store *fs = es_mem_alloc(sizeof(*fs));
  if (!fs) return 0;
  memset(fs, 0, sizeof(*fs));
  fs->port.self = fs;
  fs->port.write = port_write;
  fs->port.find = port_find;
  return fs;
}

void fake_view_store_free(fake_view_store *fs) {
  if (!fs) return;
  for (size_t i = 0; i < fs->n_tables; i++) table_clear(&fs->tables[i]);
  es_mem_free(fs->tables);
  es_mem_free(fs);
}

es_status fake_view_store_add_table(fake_view_store *fs, const char *name, const char *key) {
  fvs_table t;
  memset(&t, 0, sizeof(t));
  if (!(t.name = es_mem_strdup(name))) goto nomem;
  for (const char *p = key; p && *p;) {
    const char *comma = strchr(p, ',');
    size_t n = comma ? (size_t)(comma - p) : strlen(p);
    char **keys = es_mem_realloc(t.key, (t.n_key + 1) * sizeof(*keys));
    if (!keys) goto nomem;
    t.key = keys;
    if (!(t.key[t.n_key] = es_mem_strndup(p, n))) goto nomem;
    t.n_key++;
    p = comma ? comma + 1 : p + n;
  }
  fvs_table *tables = es_mem_realloc(fs->tables, (fs->n_tables + 1) * sizeof(*tables));
  if (!tables) goto nomem;
  fs->tables = tables;
  fs->tables[fs->n_tables++] = t;
  return ES_OK;
nomem:
  table_clear(&t);
  return ES_NOMEM;
}

es_status fake_view_store_put(fake_view_store *fs, const char *table, ...) {
  fvs_table *t = find_table(fs, table);
  if (!t) return ES_STORAGE;
  fvs_row r = {0};
  va_list ap;
  va_start(ap, table);
  es_status rc = grow_rows(t);
  for (const char *key; rc == ES_OK && (key = va_arg(ap, const char *)) != 0;) {
    const char *json = va_arg(ap, const char *);
    rc = row_set(&r, key, json);
  }
  va_end(ap);
  if (rc != ES_OK) {
    row_clear(&r);
    return rc;
  }
  t->rows[t->n_rows++] = r;
  return ES_OK;
}

void fake_view_store_fail(fake_view_store *fs, fake_view_op op, es_status status, int native_code,
                          const char *message, int after) {
  fs->fail[op].status = status;
  fs->fail[op].native_code = native_code;
  fs->fail[op].message = message;
  fs->fail[op].after = after;
}

void fake_view_store_reset_calls(fake_view_store *fs) {
  memset(fs->calls, 0, sizeof(fs->calls));
  memset(fs->last_status, 0, sizeof(fs->last_status));
  fs->bad_ops = 0;
  fs->log[0] = 0;
  fs->log_overflow = 0;
}

const char *fake_view_store_dump(fake_view_store *fs, const char *table) {
  const fvs_table *t = find_table(fs, table);
  sink s = {fs->dump, sizeof(fs->dump), 0, 0};
  fs->dump[0] = 0;
  if (!t) {
    putz(&s, "(no such table)");
    return fs->dump;
  }
  for (size_t r = 0; r < t->n_rows; r++) {
    put_row(&s, &t->rows[r]);
    putz(&s, "\n");
  }
  if (s.overflow) snprintf(fs->dump, sizeof(fs->dump), "(dump overflow)");
  return fs->dump;
}

long fake_view_store_count(const fake_view_store *fs, const char *table) {
  const fvs_table *t = find_table(fs, table);
  return t ? (long)t->n_rows : -1;
}
