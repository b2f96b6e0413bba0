/* errors.h — typed errors (es_error) as SQL results: the message and a fitting SQLite code. */
#ifndef ES_SQLAPI_ERRORS_H
#define ES_SQLAPI_ERRORS_H

#include "../domain/error.h"
#include "../sqlite_ext.h"

/* Raise err from a SQL function: "es: <kind>[ (<reason>)]: <message>", with a result code that
** makes drivers raise the right exception class (see the table in errors.c). */
void es_result_error(sqlite3_context *ctx, const es_error *err);
/* Raise a one-off error of kind s. */
void es_result_errorf(sqlite3_context *ctx, es_status s, const char *fmt, ...);
/* Put err on a virtual table ("es: <kind>: …") and clear it; returns the code for xFilter/xNext. */
int es_vtab_error(sqlite3_vtab *v, es_error *err);
/* The SQLite result code for a kind. */
int es_status_sqlite_code(const es_error *err);
/* "integer", "real", "text", "blob", "null": for argument messages. */
const char *es_value_type_name(sqlite3_value *v);

#endif
