/*
** state_cache.h — aggregate states kept between commands, so a command folds only what its stream
** gained since (nothing, when this connection wrote it last) instead of the whole stream.
**
** A cached state belongs to one registration of an aggregate type (its es_agg and generation: a
** type replaced or redefined never finds the old states) and one aggregate id, and records the
** version it was folded to. The command loop takes a state out before deciding and uses it only
** when that version equals the stream's; what the command makes of it is staged, and enters the
** cache only when the caller's unit of work commits (es_state_cache_commit), never when it rolls
** back (es_state_cache_abort). The caller also clears the cache when another connection may have
** written (the data version changed) and before the registry changes. Bounded by entries, least
** recently used first out.
*/
#ifndef ES_DOMAIN_STATE_CACHE_H
#define ES_DOMAIN_STATE_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "state.h"

#define ES_DEFAULT_STATE_CACHE_ENTRIES 10000

typedef struct es_state_cache es_state_cache;

typedef struct es_state_cache_stats {
  size_t entries, limit;
  uint64_t hits, misses, evictions;
} es_state_cache_stats;

es_state_cache *es_state_cache_new(size_t limit);
void es_state_cache_free(es_state_cache *c);
/* Forget every state (and a staged one). */
void es_state_cache_clear(es_state_cache *c);
/* At most limit entries (0: cache nothing); the least recently used go first. */
void es_state_cache_set_limit(es_state_cache *c, size_t limit);
void es_state_cache_stats_get(const es_state_cache *c, es_state_cache_stats *out);

/* Move the cached state of (agg, aggregate_id) into *st (which then owns it, its aggregate_id
** pointing at the argument); 0 (and *st untouched) when there is none. */
int es_state_cache_take(es_state_cache *c, const es_agg *agg, const char *aggregate_id, es_state *st);
/* Put a state back as it was taken (the command wrote nothing); takes ownership, *st is emptied.
** Caching is only ever an optimisation: a state that cannot be kept (no memory, limit 0) is freed. */
void es_state_cache_put(es_state_cache *c, es_state *st);
/* The state a command leaves, to be cached if its unit of work commits; takes ownership. */
void es_state_cache_stage(es_state_cache *c, es_state *st);
void es_state_cache_commit(es_state_cache *c);
void es_state_cache_abort(es_state_cache *c);

#endif
