/*
** view.h — folding events into a C view's table: the fold callback sees each event through an
** es_event handle and writes through the view-writer port (ports/view_store.h).
*/
#ifndef ES_DOMAIN_VIEW_H
#define ES_DOMAIN_VIEW_H

#include "../ports/view_store.h"
#include "json.h"
#include "registry.h"

/* An event as stored in the log, as views see it. */
typedef struct es_view_event {
  int64_t position;
  int64_t version;
  const char *aggregate_type;
  const char *aggregate_id;
  const char *type;
  const char *recorded_at;
  const char *data; /* JSON object text */
  size_t data_len;
  const char *metadata; /* JSON object text, or NULL */
  size_t metadata_len;
} es_view_event;

/* Fold one event into the view (the caller skips types the view does not handle). A failure's
** message names the view and the event. */
es_status es_view_apply(const es_view *v, const es_view_store *store, const es_view_event *ev, es_error *err);

/*
** One event as several views fold it: its data and metadata are parsed by the first fold that
** needs them and kept for the others, so an event folded by n views is parsed once, not n times.
** Initialise with es_view_input_init, fold with es_view_fold (as es_view_apply does), then
** es_view_input_clear. A parse that fails is not kept: every fold that tries reports it.
*/
typedef struct es_view_input {
  const es_view_event *event;
  es_json_doc *data, *metadata; /* NULL until parsed */
} es_view_input;

void es_view_input_init(es_view_input *in, const es_view_event *ev);
void es_view_input_clear(es_view_input *in);
es_status es_view_fold(const es_view *v, const es_view_store *store, es_view_input *in, es_error *err);

#endif
