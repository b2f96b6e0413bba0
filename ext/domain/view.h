/*
** view.h — folding events into a C view's table: the fold callback sees each event through an
** es_event handle and writes through the view-writer port (ports/view_store.h).
*/
#ifndef ES_DOMAIN_VIEW_H
#define ES_DOMAIN_VIEW_H

#include "../ports/view_store.h"
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

#endif
