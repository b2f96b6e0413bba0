/* registry.c — checking, copying and finding aggregate types (registry.h). */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "mem.h"
#include "registry.h"

struct es_registry {
  es_agg **aggs;
  size_t n, cap;
  unsigned next_generation;
  es_view **views;
  size_t n_views, cap_views;
};

es_registry *es_registry_new(void) {
  es_registry *r = es_mem_alloc(sizeof(*r));
  if (r) memset(r, 0, sizeof(*r));
  return r;
}

/* Free a copied definition and tell its owner. */
static void agg_free(es_agg *a) {
  if (!a) return;
  for (int i = 0; a->def.commands && i < a->def.n_commands; i++)
    es_mem_free((char *)a->def.commands[i].command_type);
  for (int i = 0; a->def.events && i < a->def.n_events; i++)
    es_mem_free((char *)a->def.events[i].event_type);
  es_mem_free((void *)a->def.commands);
  es_mem_free((void *)a->def.events);
  es_mem_free((char *)a->def.name);
  es_mem_free((char *)a->def.state_version);
  if (a->xDestroy) a->xDestroy(a->user);
  es_mem_free(a);
}

static void view_free(es_view *v) {
  if (!v) return;
  for (int i = 0; v->def.indexes && i < v->def.n_indexes; i++) es_mem_free((char *)v->def.indexes[i]);
  es_mem_free((void *)v->def.indexes);
  for (int i = 0; v->def.event_types && i < v->def.n_event_types; i++) es_mem_free((char *)v->def.event_types[i]);
  es_mem_free((void *)v->def.event_types);
  es_mem_free((char *)v->def.name);
  es_mem_free((char *)v->def.columns);
  if (v->xDestroy) v->xDestroy(v->user);
  es_mem_free(v);
}

void es_registry_free(es_registry *r) {
  if (!r) return;
  for (size_t i = 0; i < r->n; i++) agg_free(r->aggs[i]);
  for (size_t i = 0; i < r->n_views; i++) view_free(r->views[i]);
  es_mem_free(r->aggs);
  es_mem_free(r->views);
  es_mem_free(r);
}

/* A name usable as a type: non-empty, at most 200 bytes, no control characters. */
static int name_ok(const char *z) {
  if (!z || !*z) return 0;
  size_t n = strlen(z);
  if (n > 200) return 0;
  for (size_t i = 0; i < n; i++)
    if ((unsigned char)z[i] < 0x20) return 0;
  return 1;
}

/* Reject definitions that could never work, with a message naming the culprit. */
static es_status check_def(const es_aggregate_type *d, es_error *err) {
  if (!d) return es_error_set(err, ES_INVALID_ARGUMENT, "aggregate type definition is NULL");
  if (d->iVersion < 1)
    return es_error_set(err, ES_INVALID_ARGUMENT, "aggregate type iVersion must be at least 1");
  if (!name_ok(d->name))
    return es_error_set(err, ES_INVALID_ARGUMENT,
                        "aggregate type name must be 1 to 200 bytes with no control characters");
  if (d->iVersion >= 2 && d->state_version && !name_ok(d->state_version))
    return es_error_set(err, ES_INVALID_ARGUMENT,
                        "aggregate type '%s': state_version must be 1 to 200 bytes with no control characters", d->name);
  if (d->n_commands < 0 || d->n_events < 0 || (d->n_commands && !d->commands) ||
      (d->n_events && !d->events))
    return es_error_set(err, ES_INVALID_ARGUMENT, "aggregate type '%s': bad handler arrays", d->name);
  for (int i = 0; i < d->n_commands; i++) {
    const es_command_handler *h = &d->commands[i];
    if (!name_ok(h->command_type))
      return es_error_set(err, ES_INVALID_ARGUMENT, "aggregate type '%s': command %d has no valid name",
                          d->name, i);
    if (!h->decide)
      return es_error_set(err, ES_INVALID_ARGUMENT, "aggregate type '%s': command '%s' has no decide callback",
                          d->name, h->command_type);
    for (int j = 0; j < i; j++)
      if (strcmp(d->commands[j].command_type, h->command_type) == 0)
        return es_error_set(err, ES_INVALID_ARGUMENT, "aggregate type '%s': command '%s' is declared twice",
                            d->name, h->command_type);
  }
  for (int i = 0; i < d->n_events; i++) {
    const char *t = d->events[i].event_type;
    if (!name_ok(t))
      return es_error_set(err, ES_INVALID_ARGUMENT, "aggregate type '%s': event %d has no valid name",
                          d->name, i);
    for (int j = 0; j < i; j++)
      if (strcmp(d->events[j].event_type, t) == 0)
        return es_error_set(err, ES_INVALID_ARGUMENT, "aggregate type '%s': event '%s' is declared twice",
                            d->name, t);
  }
  return ES_OK;
}

/* Deep-copy a checked definition, so the caller's may be temporary. */
static es_agg *agg_copy(const es_aggregate_type *d) {
  es_agg *a = es_mem_alloc(sizeof(*a));
  if (!a) return 0;
  memset(a, 0, sizeof(*a));
  /* An iVersion 1 definition ends before state_version: copy only what the caller's struct has. */
  memcpy(&a->def, d, d->iVersion >= 2 ? sizeof(*d) : offsetof(es_aggregate_type, state_version));
  a->def.iVersion = 2;
  a->def.name = 0;
  a->def.commands = 0;
  a->def.events = 0;
  a->def.state_version = 0;
  es_command_handler *cmds = d->n_commands ? es_mem_alloc(sizeof(*cmds) * (size_t)d->n_commands) : 0;
  es_event_handler *evs = d->n_events ? es_mem_alloc(sizeof(*evs) * (size_t)d->n_events) : 0;
  a->def.commands = cmds;
  a->def.events = evs;
  a->def.n_commands = cmds ? d->n_commands : 0;
  a->def.n_events = evs ? d->n_events : 0;
  if (cmds) memset(cmds, 0, sizeof(*cmds) * (size_t)a->def.n_commands);
  if (evs) memset(evs, 0, sizeof(*evs) * (size_t)a->def.n_events);
  if ((d->n_commands && !cmds) || (d->n_events && !evs)) goto fail;
  a->def.name = es_mem_strdup(d->name);
  if (!a->def.name) goto fail;
  if (d->iVersion >= 2 && d->state_version && !(a->def.state_version = es_mem_strdup(d->state_version))) goto fail;
  for (int i = 0; i < d->n_commands; i++) {
    cmds[i].decide = d->commands[i].decide;
    if (!(cmds[i].command_type = es_mem_strdup(d->commands[i].command_type))) goto fail;
  }
  for (int i = 0; i < d->n_events; i++) {
    evs[i].evolve = d->events[i].evolve;
    if (!(evs[i].event_type = es_mem_strdup(d->events[i].event_type))) goto fail;
  }
  return a;
fail:
  agg_free(a);
  return 0;
}

/* FNV-1a 64 over len bytes, from h. */
static uint64_t fnv(uint64_t h, const void *p, size_t len) {
  for (size_t i = 0; i < len; i++) h = (h ^ ((const unsigned char *)p)[i]) * 1099511628211ULL;
  return h;
}

/* The snapshot fingerprint of a copied definition (registry.h), or "" when it takes none. */
static void fingerprint(es_agg *a) {
  const es_aggregate_type *d = &a->def;
  a->fingerprint[0] = 0;
  if (!d->state_version || !d->xStateToJson || !d->xStateFromJson) return;
  uint64_t h = 1469598103934665603ULL, size = (uint64_t)d->state_size;
  h = fnv(h, d->name, strlen(d->name) + 1);
  h = fnv(h, d->state_version, strlen(d->state_version) + 1);
  h = fnv(h, &size, sizeof(size));
  for (int i = 0; i < d->n_events; i++) {
    char evolves = d->events[i].evolve != 0;
    h = fnv(h, d->events[i].event_type, strlen(d->events[i].event_type) + 1);
    h = fnv(h, &evolves, 1);
  }
  static const char hex[] = "0123456789abcdef";
  for (int i = 0; i < 16; i++) a->fingerprint[i] = hex[(h >> (60 - 4 * i)) & 15];
  a->fingerprint[16] = 0;
}

es_status es_registry_add(es_registry *r, const es_aggregate_type *def, void *user,
                          void (*xDestroy)(void *), es_error *err) {
  es_agg *a = 0;
  if (check_def(def, err) != ES_OK) goto fail;
  if (!(a = agg_copy(def))) goto nomem;
  a->user = user;
  a->xDestroy = xDestroy;
  a->generation = ++r->next_generation;
  fingerprint(a);
  for (size_t i = 0; i < r->n; i++) {
    if (strcmp(r->aggs[i]->def.name, def->name) == 0) {
      agg_free(r->aggs[i]);
      r->aggs[i] = a;
      return ES_OK;
    }
  }
  if (r->n == r->cap) {
    size_t cap = r->cap ? r->cap * 2 : 8;
    es_agg **p = es_mem_realloc(r->aggs, cap * sizeof(*p));
    if (!p) goto nomem;
    r->aggs = p;
    r->cap = cap;
  }
  r->aggs[r->n++] = a;
  return ES_OK;
nomem:
  es_error_set(err, ES_NOMEM, 0);
fail:
  if (a) {
    agg_free(a); /* calls xDestroy */
  } else if (xDestroy) {
    xDestroy(user);
  }
  return err->status;
}

size_t es_registry_count(const es_registry *r) { return r->n; }
const es_agg *es_registry_at(const es_registry *r, size_t i) { return i < r->n ? r->aggs[i] : 0; }

const es_agg *es_registry_find(const es_registry *r, const char *name) {
  for (size_t i = 0; i < r->n; i++)
    if (strcmp(r->aggs[i]->def.name, name) == 0) return r->aggs[i];
  return 0;
}

const es_command_handler *es_agg_command(const es_agg *a, const char *command_type) {
  for (int i = 0; i < a->def.n_commands; i++)
    if (strcmp(a->def.commands[i].command_type, command_type) == 0) return &a->def.commands[i];
  return 0;
}

const es_event_handler *es_agg_event(const es_agg *a, const char *event_type) {
  for (int i = 0; i < a->def.n_events; i++)
    if (strcmp(a->def.events[i].event_type, event_type) == 0) return &a->def.events[i];
  return 0;
}

/* ======================= Views ======================= */

/* ASCII case-insensitive prefix test (SQLite's names ignore ASCII case). */
static int has_prefix_nocase(const char *z, const char *prefix) {
  for (; *prefix; z++, prefix++) {
    char c = *z >= 'A' && *z <= 'Z' ? (char)(*z - 'A' + 'a') : *z;
    if (c != *prefix) return 0;
  }
  return 1;
}

int es_name_reserved(const char *name) { return has_prefix_nocase(name, "es_") || has_prefix_nocase(name, "sqlite_"); }

/* Reject view definitions that could never work. */
static es_status check_view(const es_view_type *d, es_error *err) {
  if (!d) return es_error_set(err, ES_INVALID_ARGUMENT, "view type definition is NULL");
  if (d->iVersion < 1) return es_error_set(err, ES_INVALID_ARGUMENT, "view type iVersion must be at least 1");
  if (!name_ok(d->name))
    return es_error_set(err, ES_INVALID_ARGUMENT, "view name must be 1 to 200 bytes with no control characters");
  if (es_name_reserved(d->name))
    return es_error_set(err, ES_INVALID_ARGUMENT, "view '%s': names starting with es_ or sqlite_ are reserved",
                        d->name);
  if (!d->columns || !*d->columns)
    return es_error_set(err, ES_INVALID_ARGUMENT, "view '%s' has no column definitions", d->name);
  if (!d->fold) return es_error_set(err, ES_INVALID_ARGUMENT, "view '%s' has no fold callback", d->name);
  if (d->n_indexes < 0 || (d->n_indexes && !d->indexes))
    return es_error_set(err, ES_INVALID_ARGUMENT, "view '%s': bad index array", d->name);
  for (int i = 0; i < d->n_indexes; i++)
    if (!d->indexes[i] || !*d->indexes[i])
      return es_error_set(err, ES_INVALID_ARGUMENT, "view '%s': index %d has no columns", d->name, i);
  if (d->n_event_types < 1 || !d->event_types)
    return es_error_set(err, ES_INVALID_ARGUMENT, "view '%s' handles no event type", d->name);
  for (int i = 0; i < d->n_event_types; i++) {
    if (!name_ok(d->event_types[i]))
      return es_error_set(err, ES_INVALID_ARGUMENT, "view '%s': event type %d has no valid name", d->name, i);
    for (int j = 0; j < i; j++)
      if (strcmp(d->event_types[j], d->event_types[i]) == 0)
        return es_error_set(err, ES_INVALID_ARGUMENT, "view '%s': event type '%s' is listed twice", d->name,
                            d->event_types[i]);
  }
  return ES_OK;
}

static es_view *view_copy(const es_view_type *d) {
  es_view *v = es_mem_alloc(sizeof(*v));
  if (!v) return 0;
  memset(v, 0, sizeof(*v));
  v->def = *d;
  v->def.iVersion = 1;
  v->def.name = es_mem_strdup(d->name);
  v->def.columns = es_mem_strdup(d->columns);
  const char **types = es_mem_alloc(sizeof(*types) * (size_t)d->n_event_types);
  v->def.event_types = types;
  v->def.n_event_types = types ? d->n_event_types : 0;
  if (types) memset(types, 0, sizeof(*types) * (size_t)d->n_event_types);
  const char **idx = d->n_indexes ? es_mem_alloc(sizeof(*idx) * (size_t)d->n_indexes) : 0;
  v->def.indexes = idx;
  v->def.n_indexes = idx ? d->n_indexes : 0;
  if (idx) memset(idx, 0, sizeof(*idx) * (size_t)d->n_indexes);
  if (!v->def.name || !v->def.columns || !types || (d->n_indexes && !idx)) goto fail;
  for (int i = 0; i < d->n_event_types; i++)
    if (!(types[i] = es_mem_strdup(d->event_types[i]))) goto fail;
  for (int i = 0; i < d->n_indexes; i++)
    if (!(idx[i] = es_mem_strdup(d->indexes[i]))) goto fail;
  return v;
fail:
  view_free(v);
  return 0;
}

es_status es_registry_add_view(es_registry *r, const es_view_type *def, void *user, void (*xDestroy)(void *),
                               es_error *err) {
  es_view *v = 0;
  if (check_view(def, err) != ES_OK) goto fail;
  if (!(v = view_copy(def))) goto nomem;
  v->user = user;
  v->xDestroy = xDestroy;
  for (size_t i = 0; i < r->n_views; i++) {
    if (strcmp(r->views[i]->def.name, def->name) == 0) {
      view_free(r->views[i]);
      r->views[i] = v;
      return ES_OK;
    }
  }
  if (r->n_views == r->cap_views) {
    size_t cap = r->cap_views ? r->cap_views * 2 : 8;
    es_view **p = es_mem_realloc(r->views, cap * sizeof(*p));
    if (!p) goto nomem;
    r->views = p;
    r->cap_views = cap;
  }
  r->views[r->n_views++] = v;
  return ES_OK;
nomem:
  es_error_set(err, ES_NOMEM, 0);
fail:
  if (v) view_free(v); /* calls xDestroy */
  else if (xDestroy) xDestroy(user);
  return err->status;
}

int es_registry_remove_view(es_registry *r, const char *name) {
  for (size_t i = 0; i < r->n_views; i++) {
    if (strcmp(r->views[i]->def.name, name) == 0) {
      view_free(r->views[i]);
      memmove(r->views + i, r->views + i + 1, (r->n_views - i - 1) * sizeof(*r->views));
      r->n_views--;
      return 1;
    }
  }
  return 0;
}

size_t es_registry_view_count(const es_registry *r) { return r->n_views; }
const es_view *es_registry_view_at(const es_registry *r, size_t i) { return i < r->n_views ? r->views[i] : 0; }

const es_view *es_registry_find_view(const es_registry *r, const char *name) {
  for (size_t i = 0; i < r->n_views; i++)
    if (strcmp(r->views[i]->def.name, name) == 0) return r->views[i];
  return 0;
}

int es_view_handles(const es_view *v, const char *event_type) {
  for (int i = 0; i < v->def.n_event_types; i++)
    if (strcmp(v->def.event_types[i], event_type) == 0) return 1;
  return 0;
}
