/* integrity.c — the report of es_integrity_check (integrity.h). */
#include <stdarg.h>
#include <string.h>

#include "integrity.h"
#include "mem.h"

static const struct {
  const char *name, *rule;
} kinds[] = {
#define ES_IC_ITEM(kind, name, rule) [kind] = {name, rule},
    ES_INTEGRITY_KINDS(ES_IC_ITEM)
#undef ES_IC_ITEM
};

const char *es_integrity_kind_name(es_integrity_kind k) {
  return (unsigned)k < sizeof(kinds) / sizeof(*kinds) ? kinds[k].name : "unknown";
}

const char *es_integrity_rule(es_integrity_kind k) {
  return (unsigned)k < sizeof(kinds) / sizeof(*kinds) ? kinds[k].rule : "unknown";
}

int es_integrity_add(es_integrity_report *r, es_integrity_kind kind, const char *object, const char *fmt, ...) {
  if (r->n == r->cap) {
    size_t cap = r->cap ? r->cap * 2 : 16;
    es_integrity_row *p = es_mem_realloc(r->rows, sizeof(*p) * cap);
    if (!p) return !(r->nomem = 1);
    r->rows = p;
    r->cap = cap;
  }
  va_list ap;
  va_start(ap, fmt);
  char *problem = es_mem_vprintf(fmt, ap);
  va_end(ap);
  char *obj = object ? es_mem_strdup(object) : 0;
  if (!problem || (object && !obj)) {
    es_mem_free(problem);
    es_mem_free(obj);
    return !(r->nomem = 1);
  }
  r->rows[r->n++] = (es_integrity_row){.kind = kind, .object = obj, .problem = problem};
  return 1;
}

int es_integrity_finish(es_integrity_report *r) {
  return r->n > 0 || es_integrity_add(r, ES_IC_OK, 0, "%s", "ok");
}

void es_integrity_clear(es_integrity_report *r) {
  for (size_t i = 0; i < r->n; i++) {
    es_mem_free(r->rows[i].object);
    es_mem_free(r->rows[i].problem);
  }
  es_mem_free(r->rows);
  memset(r, 0, sizeof(*r));
}
