/* fake_mem.c — es_mem_* for unit tests (the extension uses sqlite3_malloc64 instead). */
#include <stdlib.h>

#include "../../ext/domain/mem.h"
#include "fake_mem.h"

static long fail_after = -1;
static long live;
static long count;

void fake_mem_fail_after(long n) { fail_after = n; }
long fake_mem_live(void) { return live; }
long fake_mem_count(void) { return count; }

static int should_fail(void) {
  if (fail_after < 0) return 0;
  if (fail_after == 0) return 1;
  fail_after--;
  return 0;
}

void *es_mem_alloc(size_t n) {
  if (should_fail()) return 0;
  void *p = malloc(n ? n : 1);
  if (p) live++, count++;
  return p;
}

void *es_mem_realloc(void *p, size_t n) {
  if (!p) return es_mem_alloc(n);
  if (should_fail()) return 0;
  count++;
  return realloc(p, n ? n : 1);
}

void es_mem_free(void *p) {
  if (p) live--;
  free(p);
}
