/*
** given_store.h — an event-store port over events held in memory: the "given" of a
** given-when-then test of an aggregate (es_test_command). Appends are kept in memory too, so a
** test never touches the real log.
*/
#ifndef ES_DOMAIN_GIVEN_STORE_H
#define ES_DOMAIN_GIVEN_STORE_H

#include "../ports/event_store.h"

typedef struct es_given_event {
  char *type;
  char *data; /* JSON object text */
  size_t data_len;
} es_given_event;

typedef struct es_given_store {
  es_given_event *events; /* versions 1..n of the one stream under test */
  size_t n, cap;
  size_t n_given; /* the first n_given were given; the rest were appended by the command */
} es_given_store;

/* Parse a JSON array of {"type": …, "data": {…}} objects into the store. */
es_status es_given_store_init(es_given_store *g, const char *json, size_t len, es_error *err);
void es_given_store_clear(es_given_store *g);
es_event_store es_given_store_port(es_given_store *g);

#endif
