/* error.c — recording and formatting typed failures (error.h). */
#include <stdarg.h>
#include <string.h>

#include "error.h"
#include "mem.h"

const char *es_status_name(es_status s) {
  switch (s) {
#define ES_STATUS_CASE(name, text) \
  case name:                       \
    return text;
    ES_STATUS_LIST(ES_STATUS_CASE)
#undef ES_STATUS_CASE
  }
  return "unknown";
}

es_status es_error_setv(es_error *e, es_status s, const char *fmt, va_list ap) {
  if (e->status != ES_OK) return e->status;
  e->status = s;
  if (s == ES_NOMEM || !fmt) return s;
  e->message = es_mem_vprintf(fmt, ap);
  if (!e->message) e->status = ES_NOMEM;
  return e->status;
}

es_status es_error_set(es_error *e, es_status s, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  es_status rc = es_error_setv(e, s, fmt, ap);
  va_end(ap);
  return rc;
}

es_status es_error_reject(es_error *e, const char *reason, const char *fmt, va_list ap) {
  if (e->status != ES_OK) return e->status;
  if (es_error_setv(e, ES_REJECTED, fmt, ap) != ES_REJECTED) return e->status;
  e->reason = es_mem_strdup(reason && *reason ? reason : "rejected");
  if (!e->reason) {
    es_error_clear(e);
    e->status = ES_NOMEM;
  }
  return e->status;
}

void es_error_prefix(es_error *e, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char *prefix = es_mem_vprintf(fmt, ap);
  va_end(ap);
  char *joined = prefix ? es_mem_printf("%s%s", prefix, e->message ? e->message : es_status_name(e->status)) : 0;
  es_mem_free(prefix);
  if (!joined) return; /* keep the plain message rather than lose the error */
  es_mem_free(e->message);
  e->message = joined;
}

void es_error_clear(es_error *e) {
  es_mem_free(e->reason);
  es_mem_free(e->message);
  memset(e, 0, sizeof(*e));
}

es_status es_status_from_message(const char *text, const char **message) {
  static const es_status kinds[] = {
#define ES_STATUS_ITEM(name, str) name,
      ES_STATUS_LIST(ES_STATUS_ITEM)
#undef ES_STATUS_ITEM
  };
  if (!text || strncmp(text, "es: ", 4) != 0) return ES_OK;
  for (size_t i = 0; i < sizeof(kinds) / sizeof(*kinds); i++) {
    const char *name = es_status_name(kinds[i]);
    size_t n = strlen(name);
    if (kinds[i] == ES_OK || kinds[i] == ES_REJECTED || strncmp(text + 4, name, n) != 0 ||
        strncmp(text + 4 + n, ": ", 2) != 0)
      continue;
    *message = text + 4 + n + 2;
    return kinds[i];
  }
  return ES_OK;
}

char *es_error_format(const es_error *e) {
  const char *kind = es_status_name(e->status);
  const char *msg = e->message ? e->message : kind;
  if (e->reason) return es_mem_printf("es: %s (%s): %s", kind, e->reason, msg);
  return es_mem_printf("es: %s: %s", kind, msg);
}
