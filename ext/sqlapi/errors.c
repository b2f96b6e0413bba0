/* errors.c — mapping typed errors to SQLite results (errors.h). */
#include <stdarg.h>

#include "../domain/mem.h"
#include "errors.h"

/*
** kind              → code                       → Python sqlite3 raises
** rejected          → SQLITE_CONSTRAINT_FUNCTION → IntegrityError
** conflict          → SQLITE_CONSTRAINT          → IntegrityError
** protected         → SQLITE_CONSTRAINT_TRIGGER  → IntegrityError
** invalid_payload   → SQLITE_MISMATCH            → IntegrityError
** busy, storage     → SQLite's own extended code → OperationalError (and so on)
** nomem             → SQLITE_NOMEM               → MemoryError
** misuse            → SQLITE_MISUSE              → InterfaceError
** other kinds       → SQLITE_ERROR               → OperationalError
*/
int es_status_sqlite_code(const es_error *err) {
  switch (err->status) {
    case ES_REJECTED:
      return SQLITE_CONSTRAINT_FUNCTION;
    case ES_CONFLICT:
      return SQLITE_CONSTRAINT;
    case ES_PROTECTED:
      return SQLITE_CONSTRAINT_TRIGGER;
    case ES_INVALID_PAYLOAD:
      return SQLITE_MISMATCH;
    case ES_BUSY:
      return err->native_code ? err->native_code : SQLITE_BUSY;
    case ES_STORAGE:
      return err->native_code ? err->native_code : SQLITE_ERROR;
    case ES_NOMEM:
      return SQLITE_NOMEM;
    case ES_MISUSE:
      return SQLITE_MISUSE;
    default:
      return SQLITE_ERROR;
  }
}

void es_result_error(sqlite3_context *ctx, const es_error *err) {
  if (err->status == ES_NOMEM) {
    sqlite3_result_error_nomem(ctx);
    return;
  }
  char *msg = es_error_format(err);
  if (!msg) {
    sqlite3_result_error_nomem(ctx);
    return;
  }
  sqlite3_result_error(ctx, msg, -1);
  sqlite3_result_error_code(ctx, es_status_sqlite_code(err)); /* after the message: it resets the code */
  es_mem_free(msg);
}

void es_result_errorf(sqlite3_context *ctx, es_status s, const char *fmt, ...) {
  es_error err = {0};
  va_list ap;
  va_start(ap, fmt);
  es_error_setv(&err, s, fmt, ap);
  va_end(ap);
  es_result_error(ctx, &err);
  es_error_clear(&err);
}

int es_vtab_error(sqlite3_vtab *v, es_error *err) {
  char *msg = es_error_format(err);
  sqlite3_free(v->zErrMsg);
  v->zErrMsg = msg ? sqlite3_mprintf("%s", msg) : 0;
  es_mem_free(msg);
  int rc = err->status == ES_NOMEM ? SQLITE_NOMEM : SQLITE_ERROR;
  es_error_clear(err);
  return rc;
}

const char *es_value_type_name(sqlite3_value *v) {
  switch (sqlite3_value_type(v)) {
    case SQLITE_INTEGER:
      return "integer";
    case SQLITE_FLOAT:
      return "real";
    case SQLITE_TEXT:
      return "text";
    case SQLITE_BLOB:
      return "blob";
    default:
      return "null";
  }
}
