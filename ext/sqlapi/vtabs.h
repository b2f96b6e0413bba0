/* vtabs.h — registration of the virtual tables, for es.c. */
#ifndef ES_SQLAPI_VTABS_H
#define ES_SQLAPI_VTABS_H

#include "conn.h"

int es_register_aggregates_vtab(sqlite3 *db, es_conn *c);
int es_register_stream_vtab(sqlite3 *db, es_conn *c);
int es_register_context_vtabs(sqlite3 *db, es_conn *c);
int es_register_log_vtab(sqlite3 *db, es_conn *c);
int es_register_next_vtab(sqlite3 *db, es_conn *c);
int es_register_integrity_vtab(sqlite3 *db, es_conn *c);

#endif
