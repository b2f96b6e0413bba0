/*
** mem.h — the domain's allocator seam. The extension implements these with sqlite3_malloc64
** and friends (ext/store/mem.c); unit tests link a fake that can fail the Nth allocation.
** The domain allocates nothing any other way.
*/
#ifndef ES_DOMAIN_MEM_H
#define ES_DOMAIN_MEM_H

#include <stdarg.h>
#include <stddef.h>

void *es_mem_alloc(size_t n);
void *es_mem_realloc(void *p, size_t n);
void es_mem_free(void *p);

/* Helpers built on the three above (ext/domain/mem_util.c). */
char *es_mem_strndup(const char *s, size_t n);
char *es_mem_strdup(const char *s);
char *es_mem_vprintf(const char *fmt, va_list ap);
char *es_mem_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
