/*
** view_store.h — the port through which a C view's fold writes its own table (the view-writer
** port of DESIGN §3). The SQLite adapter is ext/store/view_writer.c; unit tests use a fake.
**
** Columns come as typed fields (the builder's, domain/message.h), bound as SQL values the way
** their JSON would read: NULL as NULL, a BOOL as 0 or 1, an INT as INTEGER, TEXT as TEXT, a REAL
** as REAL, except that one whose JSON has neither fraction nor exponent (100.0 is written 100)
** is an INTEGER and a non-finite one (written null) is NULL; a JSON value as its own SQL value
** (null, true and false as NULL, 1 and 0, a number, a string's text) or, for an array or an
** object, as its text.
*/
#ifndef ES_PORTS_VIEW_STORE_H
#define ES_PORTS_VIEW_STORE_H

#include <stddef.h>

#include "../domain/message.h"

typedef struct es_view_store {
  void *self;
  /* ES_VIEW_INSERT, ES_VIEW_UPSERT or ES_VIEW_DELETE one row of table. */
  es_status (*write)(void *self, const char *table, int op, const es_field *cols, size_t n, es_error *err);
  /* The latest row whose columns equal cols: each of its columns put on row (es_builder_put,
  ** which the caller has emptied; SQL's INTEGER as INT, REAL as REAL, NULL as NULL, anything
  ** else as TEXT) and *found 1; *found 0 when there is none. A column the builder refuses (its
  ** failure sticks in row->status) makes the row unreadable, which the caller reports. */
  es_status (*find)(void *self, const char *table, const es_field *cols, size_t n, es_builder *row, int *found,
                    es_error *err);
} es_view_store;

#endif
