/* given_store.c — the in-memory event store of given-when-then tests (given_store.h). */
#include <string.h>

#include "given_store.h"
#include "json.h"
#include "mem.h"

void es_given_store_clear(es_given_store *g) {
  for (size_t i = 0; i < g->n; i++) {
    es_mem_free(g->events[i].type);
    es_mem_free(g->events[i].data);
  }
  es_mem_free(g->events);
  memset(g, 0, sizeof(*g));
}

static es_status push(es_given_store *g, const char *type, const char *data, size_t len, es_error *err) {
  if (g->n == g->cap) {
    size_t cap = g->cap ? g->cap * 2 : 8;
    es_given_event *p = es_mem_realloc(g->events, cap * sizeof(*p));
    if (!p) return es_error_set(err, ES_NOMEM, 0);
    g->events = p;
    g->cap = cap;
  }
  es_given_event *e = &g->events[g->n];
  e->type = es_mem_strdup(type);
  e->data = es_mem_strndup(data, len);
  e->data_len = len;
  if (!e->type || !e->data) {
    es_mem_free(e->type);
    es_mem_free(e->data);
    return es_error_set(err, ES_NOMEM, 0);
  }
  g->n++;
  return ES_OK;
}

es_status es_given_store_init(es_given_store *g, const char *json, size_t len, es_error *err) {
  es_json_doc *doc = 0;
  char *msg = 0;
  memset(g, 0, sizeof(*g));
  es_status rc = es_json_parse(json, len, &doc, &msg);
  if (rc == ES_NOMEM) rc = es_error_set(err, ES_NOMEM, 0);
  else if (rc != ES_OK) rc = es_error_set(err, ES_INVALID_ARGUMENT, "given events: %s", msg);
  else if (es_json_root(doc)->kind != ES_JSON_ARRAY)
    rc = es_error_set(err, ES_INVALID_ARGUMENT, "given events must be a JSON array of {\"type\": …, \"data\": {…}}");
  for (size_t i = 0; rc == ES_OK && i < es_json_root(doc)->u.arr.n; i++) {
    const es_json *e = es_json_root(doc)->u.arr.items[i];
    const es_json *type = es_json_get(e, "type"), *data = es_json_get(e, "data");
    if (!type || type->kind != ES_JSON_STRING || (data && data->kind != ES_JSON_OBJECT))
      rc = es_error_set(err, ES_INVALID_ARGUMENT,
                        "given event %zu must be {\"type\": \"<EventType>\", \"data\": {…}} (data may be left out)", i + 1);
    else rc = push(g, type->u.str.s, data ? data->raw : "{}", data ? data->raw_len : 2, err);
  }
  g->n_given = g->n;
  es_json_free(doc);
  es_mem_free(msg);
  if (rc != ES_OK) es_given_store_clear(g);
  return rc;
}

static es_status given_read_stream(void *self, const char *aggregate_type, const char *aggregate_id,
                                   int64_t after_version, es_stored_event_fn fn, void *arg, es_error *err) {
  es_given_store *g = self;
  (void)aggregate_type, (void)aggregate_id;
  for (size_t i = (size_t)(after_version > 0 ? after_version : 0); i < g->n; i++) {
    es_stored_event ev = {.position = (int64_t)i + 1,
                          .version = (int64_t)i + 1,
                          .type = g->events[i].type,
                          .data = g->events[i].data,
                          .data_len = g->events[i].data_len};
    es_status rc = fn(arg, &ev, err);
    if (rc != ES_OK) return rc;
  }
  return ES_OK;
}

static es_status given_stream_version(void *self, const char *aggregate_type, const char *aggregate_id,
                                      int64_t *version, es_error *err) {
  (void)aggregate_type, (void)aggregate_id, (void)err;
  *version = (int64_t)((es_given_store *)self)->n;
  return ES_OK;
}

static es_status given_find_command(void *self, const char *command_id, es_command_record *out, int *found,
                                    es_error *err) {
  (void)self, (void)command_id, (void)out, (void)err;
  *found = 0;
  return ES_OK;
}

static es_status given_append(void *self, const es_append_request *req, es_append_result *out, es_error *err) {
  es_given_store *g = self;
  for (size_t i = 0; i < req->n_events; i++)
    if (push(g, req->events[i].type, req->events[i].data, req->events[i].data_len, err) != ES_OK) return err->status;
  out->last_position = (int64_t)g->n;
  return ES_OK;
}

es_event_store es_given_store_port(es_given_store *g) {
  es_event_store p = {.self = g,
                      .read_stream = given_read_stream,
                      .stream_version = given_stream_version,
                      .find_command = given_find_command,
                      .append = given_append};
  return p;
}
