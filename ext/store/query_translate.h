/*
** query_translate.h — the translation layer of DESIGN §1 rule 8: a log query struct in, SQL text
** and the values to bind out. Pure C (no SQLite call), so it is unit-tested on its own; the store
** prepares the text once per shape (es_store_cached) and binds the values.
*/
#ifndef ES_STORE_QUERY_TRANSLATE_H
#define ES_STORE_QUERY_TRANSLATE_H

#include "../domain/error.h"
#include "../domain/query.h"

#define ES_QUERY_MAX_BINDS (3 * ES_QUERY_MAX_LIST + 8)

typedef struct es_bind {
  enum { ES_BIND_TEXT, ES_BIND_INT } kind;
  const char *text; /* borrowed from the query */
  int64_t i;
} es_bind;

typedef struct es_translated {
  char *sql; /* es_mem_alloc'd */
  es_bind binds[ES_QUERY_MAX_BINDS];
  int n_binds; /* ?1 … ?n_binds, in order */
} es_translated;

/* SELECT position, aggregate_type, aggregate_id, version, type, data, metadata, command_id,
** recorded_at FROM main.es_events [INDEXED BY the stream index] WHERE … ORDER BY position
** (version, for one stream: the same order) [LIMIT ?]. */
es_status es_translate_log_query(const es_log_query *q, es_translated *out, es_error *err);
void es_translated_clear(es_translated *t);

#endif
