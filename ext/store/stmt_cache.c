/*
** stmt_cache.c — the store's cache of prepared statements by SQL text (es_store_cached), used by
** the view writer, the catch-up of read models, consumers, SQL aggregates and log queries.
**
** A statement is handed out only while it is not running, and never finalized while it runs: a C
** view's fold writes through the cache (preparing statements of its own) while the catch-up is
** still stepping its read of the log, and that read must survive however many statements the
** fold prepares. So eviction takes the least recently used statement that is not running, and a
** cache full of running statements grows; a second user of a text already running gets a
** statement of its own.
*/
#include <string.h>

#include "store_internal.h"

#define CACHE_TARGET 64 /* statements kept when none of them is running */

struct es_cached_stmt {
  char *sql;
  sqlite3_stmt *st;
};

void es_store_flush_cache(es_store *s) {
  for (int i = 0; i < s->n_cache; i++) {
    sqlite3_finalize(s->cache[i].st);
    sqlite3_free(s->cache[i].sql);
  }
  sqlite3_free(s->cache);
  s->cache = 0;
  s->n_cache = s->cap_cache = 0;
}

/* Move entry i to the end, the most recently used place. */
static void touch(es_store *s, int i) {
  es_cached_stmt e = s->cache[i];
  memmove(s->cache + i, s->cache + i + 1, sizeof(*s->cache) * (size_t)(s->n_cache - i - 1));
  s->cache[s->n_cache - 1] = e;
}

/* Make room for one more entry: evict the least recently used idle statement when at the target
** size, or grow the array when every entry is running. */
static int make_room(es_store *s) {
  if (s->n_cache >= CACHE_TARGET) {
    for (int i = 0; i < s->n_cache; i++) {
      if (sqlite3_stmt_busy(s->cache[i].st)) continue;
      sqlite3_finalize(s->cache[i].st);
      sqlite3_free(s->cache[i].sql);
      memmove(s->cache + i, s->cache + i + 1, sizeof(*s->cache) * (size_t)(s->n_cache - i - 1));
      s->n_cache--;
      break;
    }
  }
  if (s->n_cache < s->cap_cache) return 1;
  int cap = s->cap_cache ? s->cap_cache * 2 : CACHE_TARGET;
  es_cached_stmt *p = sqlite3_realloc64(s->cache, sizeof(*p) * (size_t)cap);
  if (!p) return 0;
  s->cache = p;
  s->cap_cache = cap;
  return 1;
}

/* The idle statement kept for sql, made the most recently used; NULL when there is none. */
static sqlite3_stmt *find(es_store *s, const char *sql) {
  for (int i = s->n_cache - 1; i >= 0; i--) {
    if (strcmp(s->cache[i].sql, sql) != 0 || sqlite3_stmt_busy(s->cache[i].st)) continue;
    sqlite3_stmt *st = s->cache[i].st;
    touch(s, i);
    return st;
  }
  return 0;
}

sqlite3_stmt *es_store_cached(es_store *s, char *sql, es_error *err) {
  sqlite3_stmt *st = 0;
  if (!sql) {
    es_error_set(err, ES_NOMEM, 0);
    return 0;
  }
  if ((st = find(s, sql))) {
    sqlite3_free(sql);
    return st;
  }
  int rc = sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, 0);
  if (rc != SQLITE_OK) {
    es_store_error(s->db, rc, "preparing a statement", err);
    goto fail;
  }
  if (!make_room(s)) {
    es_error_set(err, ES_NOMEM, 0);
    goto fail;
  }
  s->cache[s->n_cache].sql = sql;
  s->cache[s->n_cache].st = st;
  s->n_cache++;
  return st;
fail:
  sqlite3_finalize(st);
  sqlite3_free(sql);
  return 0;
}

sqlite3_stmt *es_store_cached_text(es_store *s, const char *sql, es_error *err) {
  sqlite3_stmt *st = find(s, sql);
  return st ? st : es_store_cached(s, sqlite3_mprintf("%s", sql), err);
}
