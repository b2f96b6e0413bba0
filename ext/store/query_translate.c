/* query_translate.c — log query struct → SQL and bound values (query_translate.h). */
#include <string.h>

#include "../domain/json.h"
#include "../domain/mem.h"
#include "query_translate.h"

void es_translated_clear(es_translated *t) {
  es_mem_free(t->sql);
  memset(t, 0, sizeof(*t));
}

static void bind_text(es_translated *t, es_jbuf *b, const char *v) {
  t->binds[t->n_binds].kind = ES_BIND_TEXT;
  t->binds[t->n_binds].text = v;
  t->n_binds++;
  es_jbuf_appendz(b, "?");
  es_jbuf_int(b, t->n_binds);
}

static void bind_int(es_translated *t, es_jbuf *b, int64_t v) {
  t->binds[t->n_binds].kind = ES_BIND_INT;
  t->binds[t->n_binds].i = v;
  t->binds[t->n_binds].text = 0;
  t->n_binds++;
  es_jbuf_appendz(b, "?");
  es_jbuf_int(b, t->n_binds);
}

/* " AND column = ?n" or " AND column IN (?n, ?m, …)" for a non-empty list. */
static void list_term(es_translated *t, es_jbuf *b, const char *column, const es_query_list *l) {
  if (!l->n) return;
  es_jbuf_appendz(b, " AND ");
  es_jbuf_appendz(b, column);
  es_jbuf_appendz(b, l->n == 1 ? " = " : " IN (");
  for (size_t i = 0; i < l->n; i++) {
    if (i) es_jbuf_appendz(b, ", ");
    bind_text(t, b, l->values[i]);
  }
  if (l->n > 1) es_jbuf_appendz(b, ")");
}

es_status es_translate_log_query(const es_log_query *q, es_translated *out, es_error *err) {
  es_jbuf b;
  memset(out, 0, sizeof(*out));
  if (q->group_size < 0 || (q->group_size == 0 && q->group_member != 0) ||
      (q->group_size > 0 && (q->group_member < 0 || q->group_member >= q->group_size)))
    return es_error_set(err, ES_INVALID_ARGUMENT, "consumer group member must be 0 to size - 1 (member %lld, size %lld)",
                        (long long)q->group_member, (long long)q->group_size);
  if (q->limit < 0) return es_error_set(err, ES_INVALID_ARGUMENT, "limit must not be negative");
  if (q->up_to_position < 0) return es_error_set(err, ES_INVALID_ARGUMENT, "up_to_position must not be negative");
  if (q->aggregate_types.n > ES_QUERY_MAX_LIST || q->aggregate_ids.n > ES_QUERY_MAX_LIST ||
      q->event_types.n > ES_QUERY_MAX_LIST)
    return es_error_set(err, ES_INVALID_ARGUMENT, "at most %d values in one list", ES_QUERY_MAX_LIST);
  /* Reads of given streams go through the stream index: without statistics the planner would
  ** rather walk the whole category in position order. One stream's version order is its
  ** position order, so that read needs no sort at all. */
  int streams = q->aggregate_types.n > 0 && q->aggregate_ids.n > 0;
  int one_stream = q->aggregate_types.n == 1 && q->aggregate_ids.n == 1;
  es_jbuf_init(&b);
  es_jbuf_appendz(&b, "SELECT position, aggregate_type, aggregate_id, version, type, data, metadata, command_id,"
                      " recorded_at FROM main.es_events");
  if (streams) es_jbuf_appendz(&b, " INDEXED BY sqlite_autoindex_es_events_1");
  es_jbuf_appendz(&b, " WHERE position > ");
  bind_int(out, &b, q->after_position);
  if (q->up_to_position > 0) {
    es_jbuf_appendz(&b, " AND position <= ");
    bind_int(out, &b, q->up_to_position);
  }
  list_term(out, &b, "aggregate_type", &q->aggregate_types);
  list_term(out, &b, "aggregate_id", &q->aggregate_ids);
  list_term(out, &b, "type", &q->event_types);
  if (q->after_version > 0) {
    es_jbuf_appendz(&b, " AND version > ");
    bind_int(out, &b, q->after_version);
  }
  if (q->group_size > 0) {
    es_jbuf_appendz(&b, " AND es_hash(aggregate_id) % ");
    bind_int(out, &b, q->group_size);
    es_jbuf_appendz(&b, " = ");
    bind_int(out, &b, q->group_member);
  }
  es_jbuf_appendz(&b, one_stream ? " ORDER BY version" : " ORDER BY position");
  if (q->limit > 0) {
    es_jbuf_appendz(&b, " LIMIT ");
    bind_int(out, &b, q->limit);
  }
  out->sql = es_jbuf_take(&b, 0);
  if (!out->sql) {
    es_translated_clear(out);
    return es_error_set(err, ES_NOMEM, 0);
  }
  return ES_OK;
}
