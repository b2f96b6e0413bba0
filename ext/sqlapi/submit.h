/* submit.h — the write-side SQL functions (submit.c). */
#ifndef ES_SQLAPI_SUBMIT_H
#define ES_SQLAPI_SUBMIT_H

#include "../domain/command.h"
#include "conn.h"

/* One command from SQL arguments, in its own unit of work. */
es_status es_sql_submit(es_conn *c, const char *fname, int argc, sqlite3_value **argv, es_command_result *res,
                        es_error *err);
void es_submit_fn(sqlite3_context *ctx, int argc, sqlite3_value **argv);
void es_try_submit_fn(sqlite3_context *ctx, int argc, sqlite3_value **argv);

#endif
