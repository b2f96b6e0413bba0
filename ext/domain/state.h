/*
** state.h — an aggregate's state: made from its initial state by evolving its events in order.
** A state is made by es_state_load, or comes from the state cache (state_cache.h) and catches up
** with es_state_catch_up; snapshots will slot in beside them.
*/
#ifndef ES_DOMAIN_STATE_H
#define ES_DOMAIN_STATE_H

#include "../ports/event_store.h"
#include "registry.h"

typedef struct es_state {
  const es_agg *agg;
  const char *aggregate_id; /* borrowed */
  void *data;               /* def.state_size bytes */
  int64_t version;          /* of the last event applied; 0 for none */
} es_state;

/* The initial state (version 0). */
es_status es_state_init(es_state *st, const es_agg *agg, const char *aggregate_id, es_error *err);
/* Evolve the stream's stored events after st->version. */
es_status es_state_catch_up(es_state *st, const es_event_store *store, es_error *err);
/* Initial state, then every stored event of the stream. */
es_status es_state_load(es_state *st, const es_agg *agg, const es_event_store *store,
                        const char *aggregate_id, es_error *err);
/* Evolve one event (its version must be st->version + 1; position 0 when not yet appended). */
es_status es_state_apply(es_state *st, const char *type, int64_t version, int64_t position, const char *data,
                         size_t len, es_error *err);
es_status es_state_to_json(const es_state *st, char **json, es_error *err);
/* The state at `version` made from its JSON (a snapshot): xInit, then xStateFromJson. */
es_status es_state_from_json(es_state *st, const es_agg *agg, const char *aggregate_id, int64_t version,
                             const char *json, size_t len, es_error *err);
void es_state_free(es_state *st);

#endif
