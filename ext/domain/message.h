/*
** message.h — the handles that aggregate callbacks see (es.h): commands, events, JSON objects,
** the event emitter and the object builder, with the es_ops table their inline accessors use.
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

/* A read-only JSON object. label names it in messages ("payload", "event data", "state"). */
struct es_object {
  es_handle base;
  const es_json *json;
  const char *label;
  char **last_error; /* where getters leave their complaint for a callback that gives up */
};
void es_object_init(es_object *o, const es_json *json, const char *label, char **last_error);

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

typedef struct es_field {
  char *key;
  char *json; /* the value as JSON text */
} es_field;

struct es_builder {
  es_handle base;
  es_field *fields;
  size_t n, cap;
  es_status status; /* first failure (ES_NOMEM, ES_INVALID_ARGUMENT) sticks */
};
void es_builder_init(es_builder *b);
void es_builder_clear(es_builder *b);
/* The object as JSON text (es_mem_alloc'd). */
es_status es_builder_to_json(const es_builder *b, char **out, size_t *len);

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
