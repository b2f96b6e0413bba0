/*
** query.h — a read of the log, as plain data (DESIGN §1 rule 8: no SQL here). The storage layer
** translates it (ext/store/query_translate.c); every read API builds one of these.
*/
#ifndef ES_DOMAIN_QUERY_H
#define ES_DOMAIN_QUERY_H

#include <stddef.h>
#include <stdint.h>

#define ES_QUERY_MAX_LIST 64 /* values in one IN list */

/* A set of accepted values for one field: none means "any". */
typedef struct es_query_list {
  const char *values[ES_QUERY_MAX_LIST];
  size_t n;
} es_query_list;

typedef struct es_log_query {
  es_query_list aggregate_types;
  es_query_list aggregate_ids;
  es_query_list event_types;
  int64_t after_position;  /* events with position > this (0: from the start) */
  int64_t up_to_position;  /* and position <= this (0: no upper bound) */
  int64_t after_version;   /* events with version > this (0: any) */
  int64_t limit;           /* at most this many (0: no limit) */
  int64_t group_size;      /* consumer group: 0 none; else only aggregates whose id hashes to */
  int64_t group_member;    /*   es_hash(aggregate_id) % group_size == group_member */
} es_log_query;

/* Add a value to a list; 0 when the list is full. */
int es_query_list_add(es_query_list *l, const char *value);

/* The stable hash of an aggregate id that splits a category between group members: FNV-1a 64,
** shifted right by one so that it is a non-negative SQLite integer (es_hash() in SQL). */
int64_t es_group_hash(const char *s, size_t n);

#endif
