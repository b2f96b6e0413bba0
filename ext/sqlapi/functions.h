/* functions.h — the SQL functions of functions.c, for the registration table in es.c. */
#ifndef ES_SQLAPI_FUNCTIONS_H
#define ES_SQLAPI_FUNCTIONS_H

#include "../sqlite_ext.h"

void es_stream_version_fn(sqlite3_context *, int, sqlite3_value **);
void es_state_fn(sqlite3_context *, int, sqlite3_value **);
void es_version_fn(sqlite3_context *, int, sqlite3_value **);
void es_debug_fn(sqlite3_context *, int, sqlite3_value **);
void es_config_fn(sqlite3_context *, int, sqlite3_value **);
void es_internal_write_fn(sqlite3_context *, int, sqlite3_value **);
void es_protect_fn(sqlite3_context *, int, sqlite3_value **);
void es_api_fn(sqlite3_context *, int, sqlite3_value **);
void es_create_view_fn(sqlite3_context *, int, sqlite3_value **);
void es_rebuild_fn(sqlite3_context *, int, sqlite3_value **);
void es_drop_view_fn(sqlite3_context *, int, sqlite3_value **);
void es_create_aggregate_fn(sqlite3_context *, int, sqlite3_value **);
void es_create_decider_fn(sqlite3_context *, int, sqlite3_value **);
void es_create_evolver_fn(sqlite3_context *, int, sqlite3_value **);
void es_require_fn(sqlite3_context *, int, sqlite3_value **);
void es_payload_int_fn(sqlite3_context *, int, sqlite3_value **);
void es_payload_text_fn(sqlite3_context *, int, sqlite3_value **);
void es_test_command_fn(sqlite3_context *, int, sqlite3_value **);
void es_hash_fn(sqlite3_context *, int, sqlite3_value **);
void es_create_consumer_fn(sqlite3_context *, int, sqlite3_value **);
void es_ack_fn(sqlite3_context *, int, sqlite3_value **);

#endif
