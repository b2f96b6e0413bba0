/*
** message.h — the handles that aggregate callbacks see (es.h): commands, events, JSON objects,
** the event emitter and the object builder (typed values, JSON written only when needed), with
** the es_ops table their inline accessors use.
*/
#ifndef ES_DOMAIN_MESSAGE_H
#define ES_DOMAIN_MESSAGE_H

#include "../es.h"
#include "error.h"
#include "json.h"
#include "registry.h"

extern const es_ops es_domain_ops;

/* The view writer's entries in es_domain_ops (view.c). */
es_builder *es_view_writer_row(es_view_writer *w);
es_status es_view_writer_write(es_view_writer *w, int op);
es_status es_view_writer_find(es_view_writer *w, const es_object **row);

/* ======================= Typed values and the builder ======================= */

/* A value set on a builder, kept as it was given; rendered as JSON only when JSON is needed. */
typedef enum es_value_kind {
  ES_VALUE_NULL,
  ES_VALUE_INT,
  ES_VALUE_REAL,
  ES_VALUE_BOOL,
  ES_VALUE_TEXT, /* UTF-8 text of n bytes (it may hold U+0000) */
  ES_VALUE_JSON  /* JSON text of n bytes, checked when set, written out as it was given */
} es_value_kind;

typedef struct es_value {
  es_value_kind kind;
  union {
    int64_t i; /* INT; BOOL is 0 or 1 */
    double r;  /* REAL */
    struct {
      const char *s; /* NUL-terminated */
      size_t n;
    } text;          /* TEXT, JSON */
  } u;
} es_value;

/* One field: its key and value; key and text live in the builder that holds the field. */
typedef struct es_field {
  const char *key; /* NUL-terminated */
  size_t key_len;
  es_value v;
} es_field;

/* The value as JSON text, as es_builder_to_json writes it (a non-finite REAL is null). */
void es_value_to_json(es_jbuf *out, const es_value *v);

/* An object being built: its fields in the order their keys were first set. Keys and texts are
** copied into one byte block, kept (like the field array) across es_builder_reset. */
struct es_builder {
  es_handle base;
  es_field *fields;
  size_t n, cap;
  char *bytes;
  size_t used, size;
  es_status status; /* first failure (ES_NOMEM, ES_INVALID_ARGUMENT) sticks */
};
void es_builder_init(es_builder *b);
void es_builder_clear(es_builder *b);  /* frees everything; the builder is empty and usable */
void es_builder_reset(es_builder *b);  /* empty and usable, keeping its memory */
/* Set key to a copy of v (what the es_set_* setters do): text must be UTF-8, JSON is checked;
** setting a key again replaces its value in place. A failure sticks in b->status. */
es_status es_builder_put(es_builder *b, const char *key, const es_value *v);
/* The field of that key, or NULL. */
const es_field *es_builder_get(const es_builder *b, const char *key);
/* The object as JSON text (es_mem_alloc'd). */
es_status es_builder_to_json(const es_builder *b, char **out, size_t *len);

/* ======================= Reading ======================= */

/* A row read back from a view's table (es_view_find): typed columns, written out as JSON and
** parsed only when a getter asks what the typed value alone does not answer. */
typedef struct es_row {
  es_builder cols;
  char *text;       /* the row as JSON, once needed */
  es_json_doc *doc; /* and parsed */
} es_row;
void es_row_init(es_row *r);
void es_row_reset(es_row *r); /* empty, keeping the columns' memory */
void es_row_clear(es_row *r);

/* A read-only JSON object, or a row. label names it in messages ("payload", "event data", "row"). */
struct es_object {
  es_handle base;
  const es_json *json;
  const char *label;
  char **last_error; /* where getters leave their complaint for a callback that gives up */
  es_row *row;       /* when set, the object is this row and json is unused */
};
void es_object_init(es_object *o, const es_json *json, const char *label, char **last_error);
void es_object_init_row(es_object *o, es_row *row, const char *label, char **last_error);

struct es_command {
  es_handle base;
  const char *type;
  const char *aggregate_id;
  es_object payload;
};

struct es_event {
  es_handle base;
  const char *type;
  int64_t version;
  es_object data;
  const char *aggregate_type;
  const char *aggregate_id;
  int64_t position;        /* 0 before it is appended */
  const char *recorded_at; /* NULL before it is appended */
  es_object metadata;
};

typedef struct es_emitted {
  const char *type; /* the declared name, owned by the registry */
  es_builder data;
} es_emitted;

struct es_emitter {
  es_handle base;
  const es_agg *agg;
  es_emitted **events;
  size_t n, cap;
  es_error *err;    /* receives undeclared_event, nomem and the rejection */
  int rejected;
};
void es_emitter_init(es_emitter *e, const es_agg *agg, es_error *err);
void es_emitter_clear(es_emitter *e);

#endif
