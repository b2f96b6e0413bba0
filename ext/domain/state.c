/* state.c — folding an aggregate's events into its state (state.h). */
#include <string.h>

#include "json.h"
#include "mem.h"
#include "message.h"
#include "state.h"

es_status es_state_init(es_state *st, const es_agg *agg, const char *aggregate_id, es_error *err) {
  memset(st, 0, sizeof(*st));
  st->agg = agg;
  st->aggregate_id = aggregate_id;
  size_t n = agg->def.state_size ? agg->def.state_size : 1;
  st->data = es_mem_alloc(n);
  if (!st->data) return es_error_set(err, ES_NOMEM, 0);
  memset(st->data, 0, n);
  if (agg->def.xInit) {
    es_status rc = agg->def.xInit(agg->user, st->data);
    if (rc != ES_OK)
      return es_error_set(err, rc, "initial state of aggregate type '%s' failed", agg->def.name);
  }
  return ES_OK;
}

void es_state_free(es_state *st) {
  if (st->data && st->agg && st->agg->def.xClear) st->agg->def.xClear(st->agg->user, st->data);
  es_mem_free(st->data);
  st->data = 0;
}

/* es_state_apply, parsing the event's data into *doc: the document of the previous event of a
** fold, whose memory is reused (see es_json_parse_again); the caller frees the last one. */
static es_status apply(es_state *st, const char *type, int64_t version, int64_t position, const char *data,
                       size_t len, es_json_doc **doc, es_error *err) {
  const es_agg *agg = st->agg;
  const char *name = agg->def.name;
  char *complaint = 0;
  es_status rc = ES_OK;
  if (version != st->version + 1) {
    rc = es_error_set(err, ES_STORAGE, "stream %s '%s' jumps from version %lld to %lld", name,
                      st->aggregate_id, (long long)st->version, (long long)version);
    goto done;
  }
  const es_event_handler *h = es_agg_event(agg, type);
  if (!h) {
    rc = es_error_set(err, ES_UNDECLARED_EVENT,
                      "event type '%s' (version %lld of %s '%s') is not declared by aggregate type '%s'",
                      type, (long long)version, name, st->aggregate_id, name);
    goto done;
  }
  if (h->evolve) {
    rc = es_json_parse_again(data, len, doc, &complaint);
    if (rc == ES_OK && es_json_root(*doc)->kind != ES_JSON_OBJECT) {
      complaint = es_mem_strdup("event data is not a JSON object");
      rc = complaint ? ES_INVALID_PAYLOAD : ES_NOMEM;
    }
    if (rc == ES_OK) {
      es_event ev = {.base = {&es_domain_ops},
                     .type = h->event_type,
                     .version = version,
                     .aggregate_type = name,
                     .aggregate_id = st->aggregate_id,
                     .position = position};
      es_object_init(&ev.data, es_json_root(*doc), "event data", &complaint);
      es_object_init(&ev.metadata, 0, "event metadata", &complaint);
      rc = h->evolve(agg->user, st->data, &ev);
    }
    if (rc == ES_NOMEM) {
      rc = es_error_set(err, ES_NOMEM, 0);
      goto done;
    }
    if (rc != ES_OK) {
      rc = es_error_set(err, rc, "evolving event '%s' version %lld of %s '%s': %s", type, (long long)version,
                        name, st->aggregate_id, complaint ? complaint : "the evolve callback failed");
      goto done;
    }
  }
  st->version = version;
done:
  es_mem_free(complaint);
  return rc;
}

es_status es_state_apply(es_state *st, const char *type, int64_t version, int64_t position, const char *data,
                         size_t len, es_error *err) {
  es_json_doc *doc = 0;
  es_status rc = apply(st, type, version, position, data, len, &doc, err);
  es_json_free(doc);
  return rc;
}

/* A fold of stored events: the state, and the document every event's data is parsed into. */
typedef struct fold {
  es_state *st;
  es_json_doc *doc;
} fold;

/* Adapter: the store hands events one by one, in version order. */
static es_status apply_stored(void *arg, const es_stored_event *ev, es_error *err) {
  fold *f = arg;
  return apply(f->st, ev->type, ev->version, ev->position, ev->data, ev->data_len, &f->doc, err);
}

es_status es_state_catch_up(es_state *st, const es_event_store *store, es_error *err) {
  fold f = {st, 0};
  es_status rc = store->read_stream(store->self, st->agg->def.name, st->aggregate_id, st->version, apply_stored, &f, err);
  es_json_free(f.doc);
  return rc;
}

es_status es_state_load(es_state *st, const es_agg *agg, const es_event_store *store,
                        const char *aggregate_id, es_error *err) {
  es_status rc = es_state_init(st, agg, aggregate_id, err);
  return rc == ES_OK ? es_state_catch_up(st, store, err) : rc;
}

es_status es_state_to_json(const es_state *st, char **json, es_error *err) {
  const es_agg *agg = st->agg;
  *json = 0;
  if (!agg->def.xStateToJson)
    return es_error_set(err, ES_INVALID_ARGUMENT, "aggregate type '%s' has no xStateToJson callback",
                        agg->def.name);
  es_builder b;
  es_builder_init(&b);
  es_status rc = agg->def.xStateToJson(agg->user, st->data, &b);
  if (rc == ES_OK) rc = es_builder_to_json(&b, json, 0);
  es_builder_clear(&b);
  if (rc == ES_NOMEM) return es_error_set(err, ES_NOMEM, 0);
  if (rc != ES_OK) return es_error_set(err, rc, "state of aggregate type '%s' could not be written as JSON", agg->def.name);
  return ES_OK;
}

es_status es_state_from_json(es_state *st, const es_agg *agg, const char *aggregate_id, int64_t version,
                             const char *json, size_t len, es_error *err) {
  es_json_doc *doc = 0;
  char *complaint = 0;
  es_status rc = es_state_init(st, agg, aggregate_id, err);
  if (rc != ES_OK) return rc;
  if (!agg->def.xStateFromJson) {
    rc = es_error_set(err, ES_INVALID_ARGUMENT, "aggregate type '%s' has no xStateFromJson callback", agg->def.name);
    goto done;
  }
  rc = es_json_parse(json, len, &doc, &complaint);
  if (rc == ES_OK && es_json_root(doc)->kind != ES_JSON_OBJECT) rc = ES_INVALID_PAYLOAD;
  if (rc == ES_OK) {
    es_object o;
    es_object_init(&o, es_json_root(doc), "state", &complaint);
    rc = agg->def.xStateFromJson(agg->user, st->data, &o);
  }
  if (rc == ES_NOMEM) rc = es_error_set(err, ES_NOMEM, 0);
  else if (rc != ES_OK)
    rc = es_error_set(err, rc, "state of %s '%s' could not be read from JSON: %s", agg->def.name, aggregate_id,
                      complaint ? complaint : "xStateFromJson failed");
  else st->version = version;
done:
  es_json_free(doc);
  es_mem_free(complaint);
  return rc;
}
