/*
** registry.h — the aggregate types registered on one connection. Definitions are deep-copied
** at registration, checked once, and looked up by name on every command.
*/
#ifndef ES_DOMAIN_REGISTRY_H
#define ES_DOMAIN_REGISTRY_H

#include "../es.h"
#include "error.h"

typedef struct es_agg {
  es_aggregate_type def; /* copy; its name and handler arrays point into this struct's copies */
  void *user;
  void (*xDestroy)(void *user);
  unsigned generation; /* changes when a type of this name is replaced (cached states expire) */
  /* What a snapshot of this type must have been taken under: its name, state_version, state size
  ** and events, hashed (hex); "" when it takes no snapshots (no state_version, or no state JSON). */
  char fingerprint[17];
} es_agg;

typedef struct es_view {
  es_view_type def; /* copy: name, columns and event types point into this struct's copies */
  void *user;
  void (*xDestroy)(void *user);
} es_view;

typedef struct es_registry es_registry;

es_registry *es_registry_new(void);
void es_registry_free(es_registry *r);

/* Check and add (or replace) a type. On failure xDestroy(user) has been called. */
es_status es_registry_add(es_registry *r, const es_aggregate_type *def, void *user,
                          void (*xDestroy)(void *), es_error *err);
size_t es_registry_count(const es_registry *r);
const es_agg *es_registry_at(const es_registry *r, size_t i); /* in registration order */
const es_agg *es_registry_find(const es_registry *r, const char *name);

/* Views: the same, by name (a view and its table share the name). */
es_status es_registry_add_view(es_registry *r, const es_view_type *def, void *user, void (*xDestroy)(void *),
                               es_error *err);
/* Forget a view (its xDestroy runs); 0 when there was none of that name. */
int es_registry_remove_view(es_registry *r, const char *name);
size_t es_registry_view_count(const es_registry *r);
const es_view *es_registry_view_at(const es_registry *r, size_t i);
const es_view *es_registry_find_view(const es_registry *r, const char *name);
int es_view_handles(const es_view *v, const char *event_type);
/* Names starting with es_ or sqlite_ (in any case) are sqlite-es's and SQLite's own. */
int es_name_reserved(const char *name);

const es_command_handler *es_agg_command(const es_agg *a, const char *command_type);
const es_event_handler *es_agg_event(const es_agg *a, const char *event_type);

#endif
