/* allocator.c — the domain's allocator seam (domain/mem.h), implemented with SQLite's allocator. */
#include "../domain/mem.h"
#include "../sqlite_ext.h"

void *es_mem_alloc(size_t n) { return sqlite3_malloc64(n ? n : 1); }
void *es_mem_realloc(void *p, size_t n) { return sqlite3_realloc64(p, n ? n : 1); }
void es_mem_free(void *p) { sqlite3_free(p); }
