/*
** message.c — what aggregate callbacks see: reading commands, events and JSON objects, and
** building events and state JSON. The es_domain_ops table is what es.h's inlines call through.
*/
#include <string.h>

#include "mem.h"
#include "message.h"

/* ======================= Reading ======================= */

void es_object_init(es_object *o, const es_json *json, const char *label, char **last_error) {
  o->base.ops = &es_domain_ops;
  o->json = json;
  o->label = label;
  o->last_error = last_error;
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

static const es_json *field(const es_object *o, const char *key) {
  return o && o->json && key ? es_json_get(o->json, key) : 0;
}

static int obj_has(const es_object *o, const char *key) { return field(o, key) != 0; }

static es_status obj_get_int(const es_object *o, const char *key, int64_t *out) {
  const es_json *v = field(o, key);
  if (es_json_int64(v, out)) return ES_OK;
  /* JSON has one number type: 100.0 and 1e2 are 100 (above), while a number that is not exactly
  ** an integer int64 holds is quoted as it was sent, so the sender sees which one was refused. */
  if (v && v->kind == ES_JSON_REAL) return complain_got(o, key, "an integer", v, v->raw, v->raw_len);
  return complain(o, key, "an integer", v);
}

static es_status obj_get_real(const es_object *o, const char *key, double *out) {
  const es_json *v = field(o, key);
  if (v && v->kind == ES_JSON_INT) *out = (double)v->u.i;
  else if (v && v->kind == ES_JSON_REAL) *out = v->u.r;
  else return complain(o, key, "a number", v);
  return ES_OK;
}

static es_status obj_get_bool(const es_object *o, const char *key, int *out) {
  const es_json *v = field(o, key);
  if (!v || (v->kind != ES_JSON_TRUE && v->kind != ES_JSON_FALSE)) return complain(o, key, "a boolean", v);
  *out = v->kind == ES_JSON_TRUE;
  return ES_OK;
}

static es_status obj_get_text(const es_object *o, const char *key, const char **out, size_t *len) {
  const es_json *v = field(o, key);
  if (!v || v->kind != ES_JSON_STRING) return complain(o, key, "a string", v);
  if (!len && strlen(v->u.str.s) != v->u.str.n) /* a caller without the length would read less */
    return complain(o, key, "a string without NUL characters", v);
  *out = v->u.str.s;
  if (len) *len = v->u.str.n;
  return ES_OK;
}

static es_status obj_get_json(const es_object *o, const char *key, const char **out, size_t *len) {
  const es_json *v = field(o, key);
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

/* ======================= Building objects ======================= */

void es_builder_init(es_builder *b) {
  memset(b, 0, sizeof(*b));
  b->base.ops = &es_domain_ops;
}

void es_builder_clear(es_builder *b) {
  for (size_t i = 0; i < b->n; i++) {
    es_mem_free(b->fields[i].key);
    es_mem_free(b->fields[i].json);
  }
  es_mem_free(b->fields);
  es_builder_init(b);
}

/* Set key to value JSON text (taking ownership of json); replaces an earlier value. */
static es_status builder_put(es_builder *b, const char *key, char *json) {
  es_status rc = ES_OK;
  if (b->status != ES_OK) {
    rc = b->status;
    goto done;
  }
  if (!key || !es_utf8_valid(key, strlen(key))) {
    rc = b->status = ES_INVALID_ARGUMENT;
    goto done;
  }
  if (!json) {
    rc = b->status = ES_NOMEM;
    goto done;
  }
  for (size_t i = 0; i < b->n; i++) {
    if (strcmp(b->fields[i].key, key) == 0) {
      es_mem_free(b->fields[i].json);
      b->fields[i].json = json;
      return ES_OK;
    }
  }
  if (b->n == b->cap) {
    size_t cap = b->cap ? b->cap * 2 : 4;
    es_field *p = es_mem_realloc(b->fields, cap * sizeof(*p));
    if (!p) {
      rc = b->status = ES_NOMEM;
      goto done;
    }
    b->fields = p;
    b->cap = cap;
  }
  char *k = es_mem_strdup(key);
  if (!k) {
    rc = b->status = ES_NOMEM;
    goto done;
  }
  b->fields[b->n].key = k;
  b->fields[b->n].json = json;
  b->n++;
  return ES_OK;
done:
  es_mem_free(json);
  return rc;
}

/* Render one value with an es_jbuf writer and store it. */
#define BUILD_VALUE(b, key, write_stmt)                \
  do {                                                 \
    es_jbuf jb;                                        \
    es_jbuf_init(&jb);                                 \
    write_stmt;                                        \
    return builder_put(b, key, es_jbuf_take(&jb, 0));  \
  } while (0)

static es_status b_set_int(es_builder *b, const char *key, int64_t v) { BUILD_VALUE(b, key, es_jbuf_int(&jb, v)); }
static es_status b_set_real(es_builder *b, const char *key, double v) { BUILD_VALUE(b, key, es_jbuf_real(&jb, v)); }
static es_status b_set_bool(es_builder *b, const char *key, int v) {
  return builder_put(b, key, es_mem_strdup(v ? "true" : "false"));
}
static es_status b_set_null(es_builder *b, const char *key) { return builder_put(b, key, es_mem_strdup("null")); }

static es_status b_set_text(es_builder *b, const char *key, const char *v, size_t len) {
  if (!v) return b_set_null(b, key);
  if (len == (size_t)-1) len = strlen(v);
  if (!es_utf8_valid(v, len)) { /* JSON text is UTF-8: refuse what would make the event unreadable */
    if (b->status == ES_OK) b->status = ES_INVALID_ARGUMENT;
    return b->status;
  }
  BUILD_VALUE(b, key, es_jbuf_string(&jb, v, len));
}

static es_status b_set_json(es_builder *b, const char *key, const char *json, size_t len) {
  if (!json) return b_set_null(b, key);
  if (len == (size_t)-1) len = strlen(json);
  es_json_doc *doc = 0;
  char *msg = 0;
  es_status rc = es_json_parse(json, len, &doc, &msg);
  es_json_free(doc);
  es_mem_free(msg);
  if (rc != ES_OK) {
    if (b->status == ES_OK) b->status = rc == ES_NOMEM ? ES_NOMEM : ES_INVALID_ARGUMENT;
    return b->status;
  }
  return builder_put(b, key, es_mem_strndup(json, len));
}

es_status es_builder_to_json(const es_builder *b, char **out, size_t *len) {
  *out = 0;
  if (b->status != ES_OK) return b->status;
  es_jbuf jb;
  es_jbuf_init(&jb);
  es_jbuf_appendz(&jb, "{");
  for (size_t i = 0; i < b->n; i++) {
    if (i) es_jbuf_appendz(&jb, ",");
    es_jbuf_string(&jb, b->fields[i].key, strlen(b->fields[i].key));
    es_jbuf_appendz(&jb, ":");
    es_jbuf_appendz(&jb, b->fields[i].json);
  }
  es_jbuf_appendz(&jb, "}");
  *out = es_jbuf_take(&jb, len);
  return *out ? ES_OK : ES_NOMEM;
}

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
