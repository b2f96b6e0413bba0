/*
** view_store.h — the port through which a C view's fold writes its own table (the view-writer
** port of DESIGN §3). The SQLite adapter is ext/store/views.c; unit tests use a fake. Column
** values are JSON texts (the builder's fields); the adapter binds them as SQL values.
*/
#ifndef ES_PORTS_VIEW_STORE_H
#define ES_PORTS_VIEW_STORE_H

#include <stddef.h>

#include "../domain/message.h"

typedef struct es_view_store {
  void *self;
  /* ES_VIEW_INSERT, ES_VIEW_UPSERT or ES_VIEW_DELETE one row of table. */
  es_status (*write)(void *self, const char *table, int op, const es_field *cols, size_t n, es_error *err);
  /* The row whose columns equal cols, as a JSON object (es_mem_alloc'd); *row NULL when none. */
  es_status (*find)(void *self, const char *table, const es_field *cols, size_t n, char **row, size_t *len,
                    es_error *err);
} es_view_store;

#endif
