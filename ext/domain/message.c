/*
** message.c — what aggregate callbacks see: reading commands, events, JSON objects and view rows,
** and building events, state JSON and view rows. A builder keeps the values as they were set
** (typed) and writes JSON only when asked; a row read back from a view's table answers getters
** from its typed columns and is written out and parsed as JSON only when that alone cannot.
** The es_domain_ops table is what es.h's inlines call through.
*/
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "mem.h"
#include "message.h"

/* ======================= Typed values ======================= */

void es_value_to_json(es_jbuf *out, const es_value *v) {
  switch (v->kind) {
    case ES_VALUE_INT: es_jbuf_int(out, v->u.i); break;
    case ES_VALUE_REAL: es_jbuf_real(out, v->u.r); break;
    case ES_VALUE_BOOL: es_jbuf_appendz(out, v->u.i ? "true" : "false"); break;
    case ES_VALUE_TEXT: es_jbuf_string(out, v->u.text.s, v->u.text.n); break;
    case ES_VALUE_JSON: es_jbuf_append(out, v->u.text.s, v->u.text.n); break;
    default: es_jbuf_appendz(out, "null"); break;
  }
}

/* ======================= Building objects ======================= */

void es_builder_init(es_builder *b) {
  memset(b, 0, sizeof(*b));
  b->base.ops = &es_domain_ops;
}

void es_builder_clear(es_builder *b) {
  es_mem_free(b->fields);
  es_mem_free(b->bytes);
  es_builder_init(b);
}

void es_builder_reset(es_builder *b) {
  b->n = 0;
  b->used = 0;
  b->status = ES_OK;
}

static es_field *find_field(const es_builder *b, const char *key, size_t len) {
  for (size_t i = 0; i < b->n; i++)
    if (b->fields[i].key_len == len && memcmp(b->fields[i].key, key, len) == 0) return &b->fields[i];
  return 0;
}

const es_field *es_builder_get(const es_builder *b, const char *key) {
  return key ? find_field(b, key, strlen(key)) : 0;
}

/* Room for `more` bytes in the byte block. A larger block is a new one: the fields' pointers are
** moved into it before the old one is freed. */
static int reserve_bytes(es_builder *b, size_t more) {
  if (more <= b->size - b->used) return 1;
  size_t size = b->size ? b->size : 128;
  while (size - b->used < more) {
    if (size > ((size_t)-1) / 2) return 0;
    size *= 2;
  }
  char *p = es_mem_alloc(size);
  if (!p) return 0;
  if (b->used) memcpy(p, b->bytes, b->used);
  for (size_t i = 0; i < b->n; i++) {
    es_field *f = &b->fields[i];
    f->key = p + (f->key - b->bytes);
    if (f->v.kind == ES_VALUE_TEXT || f->v.kind == ES_VALUE_JSON) f->v.u.text.s = p + (f->v.u.text.s - b->bytes);
  }
  es_mem_free(b->bytes);
  b->bytes = p;
  b->size = size;
  return 1;
}

/* Copy n bytes and a NUL into the byte block (room reserved). */
static const char *copy_bytes(es_builder *b, const char *s, size_t n) {
  char *p = b->bytes + b->used;
  if (n) memcpy(p, s, n);
  p[n] = 0;
  b->used += n + 1;
  return p;
}

static es_status fail(es_builder *b, es_status rc) {
  if (b->status == ES_OK) b->status = rc;
  return b->status;
}

/* Is v acceptable as it is: text UTF-8, JSON one valid value? */
static es_status check_value(const es_value *v) {
  if (v->kind == ES_VALUE_TEXT && !es_utf8_valid(v->u.text.s, v->u.text.n))
    return ES_INVALID_ARGUMENT; /* JSON text is UTF-8: refuse what would make the event unreadable */
  if (v->kind == ES_VALUE_JSON) {
    es_json_doc *doc = 0;
    char *msg = 0;
    es_status rc = es_json_parse(v->u.text.s, v->u.text.n, &doc, &msg);
    es_json_free(doc);
    es_mem_free(msg);
    if (rc != ES_OK) return rc == ES_NOMEM ? ES_NOMEM : ES_INVALID_ARGUMENT;
  }
  return ES_OK;
}

es_status es_builder_put(es_builder *b, const char *key, const es_value *v) {
  if (b->status != ES_OK) return b->status;
  if (!key) return fail(b, ES_INVALID_ARGUMENT);
  size_t key_len = strlen(key);
  if (!es_utf8_valid(key, key_len)) return fail(b, ES_INVALID_ARGUMENT);
  es_status rc = check_value(v);
  if (rc != ES_OK) return fail(b, rc);
  int has_text = v->kind == ES_VALUE_TEXT || v->kind == ES_VALUE_JSON;
  size_t text_len = has_text ? v->u.text.n : 0;
  const char *text = has_text ? v->u.text.s : 0;
  /* Text taken from this very builder must survive its byte block being replaced. */
  uintptr_t at = (uintptr_t)text, base = (uintptr_t)b->bytes;
  size_t inside = text && b->bytes && at >= base && at < base + b->used ? (size_t)(at - base) + 1 : 0;
  es_field *f = find_field(b, key, key_len);
  if (!f && b->n == b->cap) {
    size_t cap = b->cap ? b->cap * 2 : 8;
    es_field *p = es_mem_realloc(b->fields, cap * sizeof(*p));
    if (!p) return fail(b, ES_NOMEM);
    b->fields = p;
    b->cap = cap;
  }
  size_t need = (has_text ? text_len + 1 : 0) + (f ? 0 : key_len + 1);
  if (need < text_len || !reserve_bytes(b, need)) return fail(b, ES_NOMEM);
  if (!f) { /* a new key, after the others */
    f = &b->fields[b->n++];
    f->key = copy_bytes(b, key, key_len);
    f->key_len = key_len;
  }
  f->v = *v;
  if (has_text) f->v.u.text.s = copy_bytes(b, inside ? b->bytes + (inside - 1) : text, text_len);
  return ES_OK;
}

static es_status b_set_int(es_builder *b, const char *key, int64_t v) {
  es_value val = {.kind = ES_VALUE_INT, .u.i = v};
  return es_builder_put(b, key, &val);
}

static es_status b_set_real(es_builder *b, const char *key, double v) {
  es_value val = {.kind = ES_VALUE_REAL, .u.r = v};
  return es_builder_put(b, key, &val);
}

static es_status b_set_bool(es_builder *b, const char *key, int v) {
  es_value val = {.kind = ES_VALUE_BOOL, .u.i = v != 0};
  return es_builder_put(b, key, &val);
}

static es_status b_set_null(es_builder *b, const char *key) {
  es_value val = {.kind = ES_VALUE_NULL};
  return es_builder_put(b, key, &val);
}

static es_status b_set_text(es_builder *b, const char *key, const char *v, size_t len) {
  if (!v) return b_set_null(b, key);
  es_value val = {.kind = ES_VALUE_TEXT, .u.text = {v, len == (size_t)-1 ? strlen(v) : len}};
  return es_builder_put(b, key, &val);
}

static es_status b_set_json(es_builder *b, const char *key, const char *json, size_t len) {
  if (!json) return b_set_null(b, key);
  es_value val = {.kind = ES_VALUE_JSON, .u.text = {json, len == (size_t)-1 ? strlen(json) : len}};
  return es_builder_put(b, key, &val);
}

es_status es_builder_to_json(const es_builder *b, char **out, size_t *len) {
  *out = 0;
  if (b->status != ES_OK) return b->status;
  es_jbuf jb;
  es_jbuf_init(&jb);
  es_jbuf_append(&jb, "{", 1);
  for (size_t i = 0; i < b->n; i++) {
    if (i) es_jbuf_append(&jb, ",", 1);
    es_jbuf_string(&jb, b->fields[i].key, b->fields[i].key_len);
    es_jbuf_append(&jb, ":", 1);
    es_value_to_json(&jb, &b->fields[i].v);
  }
  es_jbuf_append(&jb, "}", 1);
  *out = es_jbuf_take(&jb, len);
  return *out ? ES_OK : ES_NOMEM;
}

/* ======================= Rows read back ======================= */

void es_row_init(es_row *r) {
  memset(r, 0, sizeof(*r));
  es_builder_init(&r->cols);
}

static void row_forget_json(es_row *r) {
  es_json_free(r->doc);
  es_mem_free(r->text);
  r->doc = 0;
  r->text = 0;
}

void es_row_reset(es_row *r) {
  row_forget_json(r);
  es_builder_reset(&r->cols);
}

void es_row_clear(es_row *r) {
  row_forget_json(r);
  es_builder_clear(&r->cols);
}

/* The row as a parsed JSON object, made on first need. */
static es_status row_json(es_row *r) {
  if (r->doc) return ES_OK;
  size_t len = 0;
  es_status rc = es_builder_to_json(&r->cols, &r->text, &len);
  if (rc == ES_OK) rc = es_json_parse(r->text, len, &r->doc, 0);
  if (rc != ES_OK) row_forget_json(r);
  return rc;
}

/* ======================= Reading ======================= */

void es_object_init(es_object *o, const es_json *json, const char *label, char **last_error) {
  o->base.ops = &es_domain_ops;
  o->json = json;
  o->label = label;
  o->last_error = last_error;
  o->row = 0;
}

void es_object_init_row(es_object *o, es_row *row, const char *label, char **last_error) {
  es_object_init(o, 0, label, last_error);
  o->row = row;
}

/* Leave a getter's complaint where the command loop finds it if the callback gives up:
** "<label> field '<key>' must be <want>, got <what>" (what_len bytes), or "... is missing". */
static es_status complain_got(const es_object *o, const char *key, const char *want, const es_json *got,
                              const char *what, size_t what_len) {
  if (o->last_error) {
    es_mem_free(*o->last_error);
    if (got) { /* a buffer, not printf: what may be a number's text of any length */
      es_jbuf b;
      es_jbuf_init(&b);
      es_jbuf_appendz(&b, o->label);
      es_jbuf_appendz(&b, " field '");
      es_jbuf_appendz(&b, key);
      es_jbuf_appendz(&b, "' must be ");
      es_jbuf_appendz(&b, want);
      es_jbuf_appendz(&b, ", got ");
      es_jbuf_append(&b, what, what_len);
      *o->last_error = es_jbuf_take(&b, 0);
    } else {
      *o->last_error = es_mem_printf("%s field '%s' is missing", o->label, key);
    }
    if (!*o->last_error) return ES_NOMEM;
  }
  return ES_INVALID_PAYLOAD;
}

/* The usual complaint: the kind of value that was found instead ("got string"). */
static es_status complain(const es_object *o, const char *key, const char *want, const es_json *got) {
  const char *kind = got ? es_json_kind_name(got->kind) : "";
  return complain_got(o, key, want, got, kind, strlen(kind));
}

/* The field as a JSON node (NULL when absent). A row is written out as JSON and parsed for this:
** the getters then answer exactly as they do for any JSON object. */
static es_status field(const es_object *o, const char *key, const es_json **out) {
  *out = 0;
  if (!o || !key) return ES_OK;
  if (o->row) {
    es_status rc = row_json(o->row);
    if (rc != ES_OK) return rc;
    *out = es_json_get(es_json_root(o->row->doc), key);
  } else if (o->json) {
    *out = es_json_get(o->json, key);
  }
  return ES_OK;
}

/* A row's column without JSON, when the row answers alone; NULL sends the getter to field(). */
static const es_value *row_value(const es_object *o, const char *key, int *missing) {
  *missing = 0;
  if (!o || !o->row || !key) return 0;
  const es_field *f = es_builder_get(&o->row->cols, key);
  *missing = !f;
  return f ? &f->v : 0;
}

static int obj_has(const es_object *o, const char *key) {
  if (o && o->row) return key && es_builder_get(&o->row->cols, key) != 0;
  const es_json *v = 0;
  return field(o, key, &v) == ES_OK && v;
}

static es_status obj_get_int(const es_object *o, const char *key, int64_t *out) {
  int missing;
  const es_value *rv = row_value(o, key, &missing);
  if (missing) return complain(o, key, "an integer", 0);
  if (rv && rv->kind == ES_VALUE_INT) {
    *out = rv->u.i;
    return ES_OK;
  }
  const es_json *v;
  es_status rc = field(o, key, &v);
  if (rc != ES_OK) return rc;
  if (es_json_int64(v, out)) return ES_OK;
  /* JSON has one number type: 100.0 and 1e2 are 100 (above), while a number that is not exactly
  ** an integer int64 holds is quoted as it was sent, so the sender sees which one was refused. */
  if (v && v->kind == ES_JSON_REAL) return complain_got(o, key, "an integer", v, v->raw, v->raw_len);
  return complain(o, key, "an integer", v);
}

static es_status obj_get_real(const es_object *o, const char *key, double *out) {
  int missing;
  const es_value *rv = row_value(o, key, &missing);
  if (missing) return complain(o, key, "a number", 0);
  if (rv && rv->kind == ES_VALUE_INT) {
    *out = (double)rv->u.i;
    return ES_OK;
  }
  if (rv && rv->kind == ES_VALUE_REAL && isfinite(rv->u.r)) {
    *out = rv->u.r == 0 ? 0.0 : rv->u.r; /* JSON writes -0.0 as -0, read back as the integer 0 */
    return ES_OK;
  }
  const es_json *v;
  es_status rc = field(o, key, &v);
  if (rc != ES_OK) return rc;
  if (v && v->kind == ES_JSON_INT) *out = (double)v->u.i;
  else if (v && v->kind == ES_JSON_REAL) *out = v->u.r;
  else return complain(o, key, "a number", v);
  return ES_OK;
}

static es_status obj_get_bool(const es_object *o, const char *key, int *out) {
  const es_json *v;
  es_status rc = field(o, key, &v);
  if (rc != ES_OK) return rc;
  if (!v || (v->kind != ES_JSON_TRUE && v->kind != ES_JSON_FALSE)) return complain(o, key, "a boolean", v);
  *out = v->kind == ES_JSON_TRUE;
  return ES_OK;
}

static es_status obj_get_text(const es_object *o, const char *key, const char **out, size_t *len) {
  int missing;
  const es_value *rv = row_value(o, key, &missing);
  if (missing) return complain(o, key, "a string", 0);
  const char *s;
  size_t n;
  const es_json *v = 0;
  if (rv && rv->kind == ES_VALUE_TEXT) {
    s = rv->u.text.s;
    n = rv->u.text.n;
  } else {
    es_status rc = field(o, key, &v);
    if (rc != ES_OK) return rc;
    if (!v || v->kind != ES_JSON_STRING) return complain(o, key, "a string", v);
    s = v->u.str.s;
    n = v->u.str.n;
  }
  if (!len && strlen(s) != n) { /* a caller without the length would read less */
    if (!v && field(o, key, &v) != ES_OK) return ES_NOMEM;
    return complain(o, key, "a string without NUL characters", v);
  }
  *out = s;
  if (len) *len = n;
  return ES_OK;
}

static es_status obj_get_json(const es_object *o, const char *key, const char **out, size_t *len) {
  const es_json *v;
  es_status rc = field(o, key, &v);
  if (rc != ES_OK) return rc;
  if (!v) return complain(o, key, "present", 0);
  if (!len) return ES_MISUSE; /* the raw text is not NUL-terminated: its length is required */
  *out = v->raw;
  if (len) *len = v->raw_len;
  return ES_OK;
}

static const char *cmd_type(const es_command *c) { return c->type; }
static const char *cmd_aggregate_id(const es_command *c) { return c->aggregate_id; }
static const es_object *cmd_payload(const es_command *c) { return &c->payload; }
static const char *ev_type(const es_event *e) { return e->type; }
static int64_t ev_version(const es_event *e) { return e->version; }
static const es_object *ev_data(const es_event *e) { return &e->data; }
static const char *ev_aggregate_type(const es_event *e) { return e->aggregate_type; }
static const char *ev_aggregate_id(const es_event *e) { return e->aggregate_id; }
static int64_t ev_position(const es_event *e) { return e->position; }
static const char *ev_recorded_at(const es_event *e) { return e->recorded_at; }
static const es_object *ev_metadata(const es_event *e) { return &e->metadata; }

/* ======================= Emitting events ======================= */

void es_emitter_init(es_emitter *e, const es_agg *agg, es_error *err) {
  memset(e, 0, sizeof(*e));
  e->base.ops = &es_domain_ops;
  e->agg = agg;
  e->err = err;
}

void es_emitter_clear(es_emitter *e) {
  for (size_t i = 0; i < e->n; i++) {
    es_builder_clear(&e->events[i]->data);
    es_mem_free(e->events[i]);
  }
  es_mem_free(e->events);
  e->events = 0;
  e->n = e->cap = 0;
}

static es_builder *em_emit(es_emitter *e, const char *event_type) {
  const es_event_handler *h = event_type ? es_agg_event(e->agg, event_type) : 0;
  if (!h) {
    es_error_set(e->err, ES_UNDECLARED_EVENT, "aggregate type '%s' emitted undeclared event type '%s'",
                 e->agg->def.name, event_type ? event_type : "(null)");
    return 0;
  }
  if (e->n == e->cap) {
    size_t cap = e->cap ? e->cap * 2 : 4;
    es_emitted **p = es_mem_realloc(e->events, cap * sizeof(*p));
    if (!p) goto nomem;
    e->events = p;
    e->cap = cap;
  }
  es_emitted *ev = es_mem_alloc(sizeof(*ev));
  if (!ev) goto nomem;
  ev->type = h->event_type;
  es_builder_init(&ev->data);
  e->events[e->n++] = ev;
  return &ev->data;
nomem:
  es_error_set(e->err, ES_NOMEM, 0);
  return 0;
}

static es_status em_reject(es_emitter *e, const char *reason, const char *fmt, va_list ap) {
  e->rejected = 1;
  return es_error_reject(e->err, reason, fmt ? fmt : "command rejected", ap);
}

const es_ops es_domain_ops = {
    .iVersion = 1,
    .xCommandType = cmd_type,
    .xCommandAggregateId = cmd_aggregate_id,
    .xCommandPayload = cmd_payload,
    .xEventType = ev_type,
    .xEventVersion = ev_version,
    .xEventData = ev_data,
    .xHas = obj_has,
    .xGetInt = obj_get_int,
    .xGetReal = obj_get_real,
    .xGetBool = obj_get_bool,
    .xGetText = obj_get_text,
    .xGetJson = obj_get_json,
    .xEmit = em_emit,
    .xRejectV = em_reject,
    .xSetInt = b_set_int,
    .xSetReal = b_set_real,
    .xSetBool = b_set_bool,
    .xSetText = b_set_text,
    .xSetNull = b_set_null,
    .xSetJson = b_set_json,
    .xEventAggregateType = ev_aggregate_type,
    .xEventAggregateId = ev_aggregate_id,
    .xEventPosition = ev_position,
    .xEventRecordedAt = ev_recorded_at,
    .xEventMetadata = ev_metadata,
    .xViewRow = es_view_writer_row,
    .xViewWrite = es_view_writer_write,
    .xViewFind = es_view_writer_find,
};
