/*
** view.c — the view writer handle and the fold of one event into a C view (view.h): the row the
** fold sets goes to the view-store port as typed fields, and a row it finds comes back typed. An
** event folded by several views is parsed once for all of them (es_view_input).
*/
#include <string.h>

#include "json.h"
#include "mem.h"
#include "message.h"
#include "view.h"

struct es_view_writer {
  es_handle base;
  const es_view *view;
  const es_view_store *store;
  es_builder row;
  es_row found_row; /* what the last es_view_find read, valid until the next one */
  es_object found;
  char **complaint;
  es_error *err; /* failures of the store land here */
};

es_builder *es_view_writer_row(es_view_writer *w) {
  es_builder_reset(&w->row);
  return &w->row;
}

/* A row's columns, checked before they reach the store. */
static es_status row_ready(es_view_writer *w) {
  if (w->row.status == ES_NOMEM) return es_error_set(w->err, ES_NOMEM, 0);
  if (w->row.status != ES_OK)
    return es_error_set(w->err, ES_INVALID_ARGUMENT, "a column was set with no valid name or an invalid value");
  if (w->row.n == 0) return es_error_set(w->err, ES_INVALID_ARGUMENT, "no column was set on the row");
  return ES_OK;
}

es_status es_view_writer_write(es_view_writer *w, int op) {
  if (op != ES_VIEW_INSERT && op != ES_VIEW_UPSERT && op != ES_VIEW_DELETE)
    return es_error_set(w->err, ES_INVALID_ARGUMENT, "unknown view write operation %d", op);
  if (row_ready(w) != ES_OK) return w->err->status;
  return w->store->write(w->store->self, w->view->def.name, op, w->row.fields, w->row.n, w->err);
}

es_status es_view_writer_find(es_view_writer *w, const es_object **row) {
  int found = 0;
  *row = 0;
  es_row_reset(&w->found_row);
  if (row_ready(w) != ES_OK) return w->err->status;
  es_status rc = w->store->find(w->store->self, w->view->def.name, w->row.fields, w->row.n, &w->found_row.cols, &found,
                                w->err);
  if (rc != ES_OK || !found) return rc;
  if (w->found_row.cols.status != ES_OK)
    return es_error_set(w->err, w->found_row.cols.status == ES_NOMEM ? ES_NOMEM : ES_STORAGE, "a row could not be read back");
  es_object_init_row(&w->found, &w->found_row, "row", w->complaint);
  *row = &w->found;
  return ES_OK;
}

/* Parse a JSON object of the event (NULL text: an empty object). */
static es_status parse_object(const char *text, size_t len, es_json_doc **doc, es_error *err) {
  if (!text) {
    text = "{}";
    len = 2;
  }
  char *msg = 0;
  es_status rc = es_json_parse(text, len, doc, &msg);
  if (rc == ES_OK && es_json_root(*doc)->kind != ES_JSON_OBJECT) rc = es_error_set(err, ES_INVALID_PAYLOAD, "not a JSON object");
  else if (rc == ES_NOMEM) es_error_set(err, ES_NOMEM, 0);
  else if (rc != ES_OK) es_error_set(err, rc, "%s", msg ? msg : "malformed JSON");
  es_mem_free(msg);
  return err->status;
}

void es_view_input_init(es_view_input *in, const es_view_event *ev) {
  in->event = ev;
  in->data = in->metadata = 0;
}

void es_view_input_clear(es_view_input *in) {
  es_json_free(in->data);
  es_json_free(in->metadata);
  in->data = in->metadata = 0;
}

es_status es_view_fold(const es_view *v, const es_view_store *store, es_view_input *in, es_error *err) {
  const es_view_event *e = in->event;
  char *complaint = 0;
  es_view_writer w;
  memset(&w, 0, sizeof(w));
  w.base.ops = &es_domain_ops;
  w.view = v;
  w.store = store;
  w.err = err;
  w.complaint = &complaint;
  es_builder_init(&w.row);
  es_row_init(&w.found_row);
  es_status rc = in->data ? ES_OK : parse_object(e->data, e->data_len, &in->data, err);
  if (rc == ES_OK && !in->metadata) rc = parse_object(e->metadata, e->metadata_len, &in->metadata, err);
  if (rc == ES_OK) {
    es_event ev = {.base = {&es_domain_ops},
                   .type = e->type,
                   .version = e->version,
                   .aggregate_type = e->aggregate_type,
                   .aggregate_id = e->aggregate_id,
                   .position = e->position,
                   .recorded_at = e->recorded_at};
    es_object_init(&ev.data, es_json_root(in->data), "event data", &complaint);
    es_object_init(&ev.metadata, es_json_root(in->metadata), "event metadata", &complaint);
    rc = v->def.fold(v->user, &ev, &w);
    if (err->status != ES_OK) rc = err->status; /* the store's own error says more */
    else if (rc == ES_NOMEM) es_error_set(err, ES_NOMEM, 0);
    else if (rc != ES_OK) es_error_set(err, rc, "%s", complaint ? complaint : "the fold callback failed");
  } else { /* a parse that failed is not kept */
    es_view_input_clear(in);
  }
  if (err->status != ES_OK && err->status != ES_NOMEM)
    es_error_prefix(err, "view '%s' failed on event '%s' (position %lld, %s '%s' version %lld): ", v->def.name, e->type,
                    (long long)e->position, e->aggregate_type, e->aggregate_id, (long long)e->version);
  rc = err->status;
  es_row_clear(&w.found_row);
  es_builder_clear(&w.row);
  es_mem_free(complaint);
  return rc;
}

es_status es_view_apply(const es_view *v, const es_view_store *store, const es_view_event *e, es_error *err) {
  es_view_input in;
  es_view_input_init(&in, e);
  es_status rc = es_view_fold(v, store, &in, err);
  es_view_input_clear(&in);
  return rc;
}
