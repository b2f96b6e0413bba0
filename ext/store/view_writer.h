/*
** view_writer.h — what the store's view writer (view_writer.c) shows of its statement cache: the
** counters that tests read to see shapes cached, statements reused and the cache dropped when the
** schema changes.
*/
#ifndef ES_STORE_VIEW_WRITER_H
#define ES_STORE_VIEW_WRITER_H

#include "store_internal.h"

typedef struct es_view_writer_stats {
  int statements;     /* prepared statements held now, one per (schema, table, operation, columns) */
  int64_t prepared;   /* statements prepared since the store was made */
  int64_t reused;     /* writes and finds that found their statement already prepared */
  int64_t dropped;    /* times the cache was dropped because the schema changed */
  int64_t key_reads;  /* times a table's primary key was read from the schema */
  int64_t checks;     /* times the schema was checked (once per port handed out, at its first use) */
} es_view_writer_stats;

void es_view_writer_stats_get(es_store *s, es_view_writer_stats *out);

#endif
