/* mem_util.c — string helpers over the domain's allocator seam (mem.h). */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "mem.h"

char *es_mem_strndup(const char *s, size_t n) {
  char *z = es_mem_alloc(n + 1);
  if (z) {
    memcpy(z, s, n);
    z[n] = 0;
  }
  return z;
}

char *es_mem_strdup(const char *s) { return s ? es_mem_strndup(s, strlen(s)) : 0; }

char *es_mem_vprintf(const char *fmt, va_list ap) {
  va_list ap2;
  va_copy(ap2, ap);
  int n = vsnprintf(0, 0, fmt, ap2);
  va_end(ap2);
  if (n < 0) return 0;
  char *z = es_mem_alloc((size_t)n + 1);
  if (z) vsnprintf(z, (size_t)n + 1, fmt, ap);
  return z;
}

char *es_mem_printf(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char *z = es_mem_vprintf(fmt, ap);
  va_end(ap);
  return z;
}
