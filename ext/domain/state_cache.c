/*
** state_cache.c — the cache of aggregate states (state_cache.h): a hash table of entries, chained
** per bucket, and a list from least to most recently used for eviction.
*/
#include <string.h>

#include "mem.h"
#include "state_cache.h"

typedef struct entry {
  struct entry *next;            /* in its bucket */
  struct entry *older, *newer;   /* in the recency list */
  uint64_t hash;
  unsigned generation;           /* of the registration the state was folded under */
  char *id;                      /* the aggregate id, owned; st.aggregate_id points here */
  es_state st;
} entry;

struct es_state_cache {
  entry **buckets;
  size_t n_buckets, count, limit;
  entry *oldest, *newest;
  entry *staged; /* the state of the command in progress, not yet in the table */
  uint64_t hits, misses, evictions;
};

/* FNV-1a of the id, mixed with the registration it belongs to. */
static uint64_t hash_of(const es_agg *agg, const char *id) {
  uint64_t h = 1469598103934665603ULL ^ (uint64_t)(uintptr_t)agg ^ ((uint64_t)agg->generation << 32);
  for (const unsigned char *p = (const unsigned char *)id; *p; p++) h = (h ^ *p) * 1099511628211ULL;
  return h;
}

static void entry_free(entry *e) {
  if (!e) return;
  es_state_free(&e->st);
  es_mem_free(e->id);
  es_mem_free(e);
}

/* Unlink from the bucket and the recency list (the entry stays allocated). */
static void unlink_entry(es_state_cache *c, entry *e) {
  entry **p = &c->buckets[e->hash & (c->n_buckets - 1)];
  while (*p != e) p = &(*p)->next;
  *p = e->next;
  if (e->older) e->older->newer = e->newer;
  else c->oldest = e->newer;
  if (e->newer) e->newer->older = e->older;
  else c->newest = e->older;
  c->count--;
}

es_state_cache *es_state_cache_new(size_t limit) {
  es_state_cache *c = es_mem_alloc(sizeof(*c));
  if (!c) return 0;
  memset(c, 0, sizeof(*c));
  c->limit = limit;
  return c;
}

void es_state_cache_clear(es_state_cache *c) {
  if (!c) return;
  while (c->oldest) {
    entry *e = c->oldest;
    unlink_entry(c, e);
    entry_free(e);
  }
  entry_free(c->staged);
  c->staged = 0;
}

void es_state_cache_free(es_state_cache *c) {
  if (!c) return;
  es_state_cache_clear(c);
  es_mem_free(c->buckets);
  es_mem_free(c);
}

static void evict_beyond(es_state_cache *c, size_t limit) {
  while (c->count > limit) {
    entry *e = c->oldest;
    unlink_entry(c, e);
    entry_free(e);
    c->evictions++;
  }
}

void es_state_cache_set_limit(es_state_cache *c, size_t limit) {
  c->limit = limit;
  evict_beyond(c, limit);
}

void es_state_cache_stats_get(const es_state_cache *c, es_state_cache_stats *out) {
  out->entries = c->count;
  out->limit = c->limit;
  out->hits = c->hits;
  out->misses = c->misses;
  out->evictions = c->evictions;
}

int es_state_cache_take(es_state_cache *c, const es_agg *agg, const char *aggregate_id, es_state *st) {
  uint64_t h = hash_of(agg, aggregate_id);
  entry *e = c->n_buckets ? c->buckets[h & (c->n_buckets - 1)] : 0;
  while (e && !(e->hash == h && e->st.agg == agg && e->generation == agg->generation &&
                strcmp(e->id, aggregate_id) == 0))
    e = e->next;
  if (!e) {
    c->misses++;
    return 0;
  }
  c->hits++;
  unlink_entry(c, e);
  *st = e->st;
  st->aggregate_id = aggregate_id;
  memset(&e->st, 0, sizeof(e->st));
  entry_free(e);
  return 1;
}

/* A new entry holding st (moved in, with its own copy of the id); NULL on no memory (st untouched). */
static entry *entry_new(es_state *st) {
  entry *e = es_mem_alloc(sizeof(*e));
  char *id = es_mem_strdup(st->aggregate_id);
  if (!e || !id) {
    es_mem_free(e);
    es_mem_free(id);
    return 0;
  }
  memset(e, 0, sizeof(*e));
  e->id = id;
  e->st = *st;
  e->st.aggregate_id = id;
  e->hash = hash_of(st->agg, id);
  e->generation = st->agg->generation;
  memset(st, 0, sizeof(*st));
  return e;
}

/* Double the buckets when the table is as full as it has buckets (power of two, at least 64). */
static int grow(es_state_cache *c) {
  if (c->count < c->n_buckets) return 1;
  size_t n = c->n_buckets ? c->n_buckets * 2 : 64;
  entry **b = es_mem_alloc(sizeof(*b) * n);
  if (!b) return c->n_buckets > 0; /* a full table still works, only slower */
  memset(b, 0, sizeof(*b) * n);
  for (entry *e = c->oldest; e; e = e->newer) {
    e->next = b[e->hash & (n - 1)];
    b[e->hash & (n - 1)] = e;
  }
  es_mem_free(c->buckets);
  c->buckets = b;
  c->n_buckets = n;
  return 1;
}

/* Insert as the most recently used; evict beyond the limit. Frees e when it cannot be kept. */
static void insert(es_state_cache *c, entry *e) {
  if (c->limit == 0 || !grow(c)) {
    entry_free(e);
    return;
  }
  e->next = c->buckets[e->hash & (c->n_buckets - 1)];
  c->buckets[e->hash & (c->n_buckets - 1)] = e;
  e->older = c->newest;
  e->newer = 0;
  if (c->newest) c->newest->newer = e;
  else c->oldest = e;
  c->newest = e;
  c->count++;
  evict_beyond(c, c->limit);
}

void es_state_cache_put(es_state_cache *c, es_state *st) {
  entry *e = c->limit ? entry_new(st) : 0;
  if (e) insert(c, e);
  else es_state_free(st);
}

void es_state_cache_stage(es_state_cache *c, es_state *st) {
  entry_free(c->staged);
  c->staged = c->limit ? entry_new(st) : 0;
  if (!c->staged) es_state_free(st);
}

void es_state_cache_commit(es_state_cache *c) {
  entry *e = c->staged;
  c->staged = 0;
  if (e) insert(c, e);
}

void es_state_cache_abort(es_state_cache *c) {
  entry_free(c->staged);
  c->staged = 0;
}
