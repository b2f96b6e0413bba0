/* query.c — helpers of the log query struct (query.h). */
#include "query.h"

int es_query_list_add(es_query_list *l, const char *value) {
  if (l->n >= ES_QUERY_MAX_LIST) return 0;
  l->values[l->n++] = value;
  return 1;
}

/* FNV-1a: stable across platforms, versions and processes, so a group's split never moves. */
int64_t es_group_hash(const char *s, size_t n) {
  uint64_t h = 14695981039346656037ULL;
  for (size_t i = 0; i < n; i++) {
    h ^= (unsigned char)s[i];
    h *= 1099511628211ULL;
  }
  return (int64_t)(h >> 1);
}
