/*
** test_query_translate.c — unit tests of the log query struct (ext/domain/query.h) and of its
** translation to SQL (ext/store/query_translate.h): a struct in, the exact SQL text and the exact
** bound values out, for the empty query, each list with one and several values, position ranges,
** after_version, limit, consumer groups, reads of given streams (the stream index; one stream in
** version order), every field at once and full lists; the refusals (group
** member out of range, negative group size, negative limit, a list longer than ES_QUERY_MAX_LIST)
** with their exact messages; out of memory at every allocation with nothing leaked; es_group_hash
** against an independent FNV-1a 64 and the published FNV test vectors; es_query_list_add refusing
** the 65th value.
*/
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "../../ext/domain/query.h"
#include "../../ext/store/query_translate.h"
#include "fake_mem.h"
#include "unit_support.h"

/* Every translation starts with one of these, then the terms, then ORDER BY. A read of given streams
** (both aggregate types and aggregate ids listed) goes through the stream index; a read of exactly
** one stream is ordered by version, which in one stream is the position order. */
#define COLUMNS                                                                                         \
  "SELECT position, aggregate_type, aggregate_id, version, type, data, metadata, command_id, recorded_at" \
  " FROM main.es_events"
#define BASE COLUMNS " WHERE position > ?1"
#define STREAMS COLUMNS " INDEXED BY sqlite_autoindex_es_events_1 WHERE position > ?1"
#define ORDER " ORDER BY position"
#define ORDER_ONE_STREAM " ORDER BY version"

/* One expected bound value: an integer, or a text (compared by content). */
typedef struct want_bind {
  int is_text;
  const char *text;
  int64_t i;
} want_bind;
#define I(v) {0, NULL, (v)}
#define T(s) {1, (s), 0}

static void check_binds(const es_translated *t, const want_bind *w, int n) {
  if (t->n_binds != n) fail_msg("%d binds, expected %d (sql <%s>)", t->n_binds, n, t->sql ? t->sql : "(NULL)");
  for (int k = 0; k < n; k++) {
    if (w[k].is_text) {
      if (t->binds[k].kind != ES_BIND_TEXT) fail_msg("bind ?%d is not text", k + 1);
      assert_str(t->binds[k].text, w[k].text);
    } else {
      if (t->binds[k].kind != ES_BIND_INT) fail_msg("bind ?%d is not an integer", k + 1);
      if (t->binds[k].i != w[k].i)
        fail_msg("bind ?%d is %lld, expected %lld", k + 1, (long long)t->binds[k].i, (long long)w[k].i);
      assert_null(t->binds[k].text);
    }
  }
}

/* Translate q, which must be accepted, and compare the SQL and the binds exactly. */
static void expect(const es_log_query *q, const char *sql, const want_bind *w, int n) {
  es_translated t;
  es_error err = {0};
  memset(&t, 0x5a, sizeof(t));
  es_status rc = es_translate_log_query(q, &t, &err);
  if (rc != ES_OK) fail_msg("query refused: %s: %s", es_status_name(rc), err.message ? err.message : "-");
  assert_int_equal(err.status, ES_OK);
  assert_null(err.message);
  assert_str(t.sql, sql);
  check_binds(&t, w, n);
  es_translated_clear(&t);
  assert_null(t.sql);
  assert_int_equal(t.n_binds, 0);
}

#define EXPECT(q, sql, ...)                                                  \
  do {                                                                       \
    const want_bind w_[] = {__VA_ARGS__};                                    \
    expect((q), (sql), w_, (int)(sizeof(w_) / sizeof(w_[0])));               \
  } while (0)

/* Translate q, which must be refused as invalid_argument with exactly this message. */
static void refused(const es_log_query *q, const char *message) {
  es_translated t;
  es_error err = {0};
  memset(&t, 0x5a, sizeof(t));
  es_status rc = es_translate_log_query(q, &t, &err);
  if (rc != ES_INVALID_ARGUMENT) {
    if (rc == ES_OK) es_translated_clear(&t);
    es_error_clear(&err);
    fail_msg("%s, expected invalid_argument <%s>", es_status_name(rc), message);
  }
  assert_int_equal(err.status, ES_INVALID_ARGUMENT);
  assert_null(err.reason);
  assert_str(err.message, message);
  es_error_clear(&err);
  /* Nothing is left in the output: no text, no binds. */
  assert_null(t.sql);
  assert_int_equal(t.n_binds, 0);
  es_translated_clear(&t);
}

/* ----------------------- Accepted ----------------------- */

static void test_empty_query(void **state) {
  (void)state;
  es_log_query q;
  memset(&q, 0, sizeof(q));
  EXPECT(&q, BASE ORDER, I(0));
  /* Clearing an output twice (or one never filled) is harmless. */
  es_translated t;
  memset(&t, 0, sizeof(t));
  es_translated_clear(&t);
  es_translated_clear(&t);
  assert_null(t.sql);
}

static void test_aggregate_types(void **state) {
  (void)state;
  es_log_query q;
  memset(&q, 0, sizeof(q));
  es_query_list_add(&q.aggregate_types, "account");
  EXPECT(&q, BASE " AND aggregate_type = ?2" ORDER, I(0), T("account"));
  es_query_list_add(&q.aggregate_types, "loan");
  EXPECT(&q, BASE " AND aggregate_type IN (?2, ?3)" ORDER, I(0), T("account"), T("loan"));
  es_query_list_add(&q.aggregate_types, "card");
  EXPECT(&q, BASE " AND aggregate_type IN (?2, ?3, ?4)" ORDER, I(0), T("account"), T("loan"), T("card"));
}

static void test_aggregate_ids(void **state) {
  (void)state;
  es_log_query q;
  memset(&q, 0, sizeof(q));
  es_query_list_add(&q.aggregate_ids, "acc-1");
  EXPECT(&q, BASE " AND aggregate_id = ?2" ORDER, I(0), T("acc-1"));
  es_query_list_add(&q.aggregate_ids, "acc-2");
  es_query_list_add(&q.aggregate_ids, "");
  es_query_list_add(&q.aggregate_ids, "it's \"quoted\"; DROP TABLE es_events;--");
  EXPECT(&q, BASE " AND aggregate_id IN (?2, ?3, ?4, ?5)" ORDER, I(0), T("acc-1"), T("acc-2"), T(""),
         T("it's \"quoted\"; DROP TABLE es_events;--"));
}

static void test_event_types(void **state) {
  (void)state;
  es_log_query q;
  memset(&q, 0, sizeof(q));
  es_query_list_add(&q.event_types, "Deposited");
  EXPECT(&q, BASE " AND type = ?2" ORDER, I(0), T("Deposited"));
  es_query_list_add(&q.event_types, "Withdrawn");
  EXPECT(&q, BASE " AND type IN (?2, ?3)" ORDER, I(0), T("Deposited"), T("Withdrawn"));
}

/* The three lists together, in the order type, id, event type, numbered on from ?2. */
static void test_lists_together(void **state) {
  (void)state;
  es_log_query q;
  memset(&q, 0, sizeof(q));
  es_query_list_add(&q.event_types, "Deposited");
  es_query_list_add(&q.aggregate_ids, "a1");
  es_query_list_add(&q.aggregate_ids, "a2");
  es_query_list_add(&q.aggregate_types, "account");
  EXPECT(&q, STREAMS " AND aggregate_type = ?2 AND aggregate_id IN (?3, ?4) AND type = ?5" ORDER, I(0), T("account"),
         T("a1"), T("a2"), T("Deposited"));
}

/* Given streams: the stream index; exactly one stream: its version order (the es_stream shape). */
static void test_streams(void **state) {
  (void)state;
  es_log_query q;
  memset(&q, 0, sizeof(q));
  es_query_list_add(&q.aggregate_types, "account");
  es_query_list_add(&q.aggregate_ids, "a1");
  EXPECT(&q, STREAMS " AND aggregate_type = ?2 AND aggregate_id = ?3" ORDER_ONE_STREAM, I(0), T("account"), T("a1"));
  q.after_version = 4;
  q.limit = 2;
  EXPECT(&q, STREAMS " AND aggregate_type = ?2 AND aggregate_id = ?3 AND version > ?4" ORDER_ONE_STREAM " LIMIT ?5",
         I(0), T("account"), T("a1"), I(4), I(2));
  /* Two types and one id are two streams: position order. */
  es_query_list_add(&q.aggregate_types, "loan");
  EXPECT(&q, STREAMS " AND aggregate_type IN (?2, ?3) AND aggregate_id = ?4 AND version > ?5" ORDER " LIMIT ?6", I(0),
         T("account"), T("loan"), T("a1"), I(4), I(2));
  /* An id without a type is not a stream: no index named, position order. */
  memset(&q, 0, sizeof(q));
  es_query_list_add(&q.aggregate_ids, "a1");
  q.after_version = 4;
  EXPECT(&q, BASE " AND aggregate_id = ?2 AND version > ?3" ORDER, I(0), T("a1"), I(4));
}

/* The text binds point into the query (borrowed): no copy is made. */
static void test_text_binds_are_borrowed(void **state) {
  (void)state;
  es_log_query q;
  es_translated t;
  es_error err = {0};
  char type[] = "account", id1[] = "a1", id2[] = "a2";
  memset(&q, 0, sizeof(q));
  es_query_list_add(&q.aggregate_types, type);
  es_query_list_add(&q.aggregate_ids, id1);
  es_query_list_add(&q.aggregate_ids, id2);
  long before = fake_mem_count();
  assert_int_equal(es_translate_log_query(&q, &t, &err), ES_OK);
  assert_int_equal(t.n_binds, 4);
  assert_ptr_equal(t.binds[1].text, type);
  assert_ptr_equal(t.binds[2].text, id1);
  assert_ptr_equal(t.binds[3].text, id2);
  assert_true(fake_mem_count() > before); /* the SQL text is allocated … */
  assert_int_equal(fake_mem_live(), live_at_start + 1); /* … as one block, freed by clear */
  es_translated_clear(&t);
}

static void test_position_ranges(void **state) {
  (void)state;
  es_log_query q;
  memset(&q, 0, sizeof(q));
  q.after_position = 1000;
  EXPECT(&q, BASE ORDER, I(1000));
  q.up_to_position = 2000;
  EXPECT(&q, BASE " AND position <= ?2" ORDER, I(1000), I(2000));
  q.after_position = 0;
  EXPECT(&q, BASE " AND position <= ?2" ORDER, I(0), I(2000));
  /* The extremes go through as they are. */
  q.after_position = INT64_MAX - 1;
  q.up_to_position = INT64_MAX;
  EXPECT(&q, BASE " AND position <= ?2" ORDER, I(INT64_MAX - 1), I(INT64_MAX));
  /* An empty range is still a valid query (it reads nothing). */
  q.after_position = 7;
  q.up_to_position = 7;
  EXPECT(&q, BASE " AND position <= ?2" ORDER, I(7), I(7));
  /* After the position, with a category: the shape es_events_by_category serves. */
  memset(&q, 0, sizeof(q));
  q.after_position = 1000;
  es_query_list_add(&q.aggregate_types, "account");
  EXPECT(&q, BASE " AND aggregate_type = ?2" ORDER, I(1000), T("account"));
}

static void test_after_version(void **state) {
  (void)state;
  es_log_query q;
  memset(&q, 0, sizeof(q));
  q.after_version = 5;
  EXPECT(&q, BASE " AND version > ?2" ORDER, I(0), I(5));
  es_query_list_add(&q.aggregate_ids, "a1");
  EXPECT(&q, BASE " AND aggregate_id = ?2 AND version > ?3" ORDER, I(0), T("a1"), I(5));
  q.after_version = 0; /* 0: any version */
  EXPECT(&q, BASE " AND aggregate_id = ?2" ORDER, I(0), T("a1"));
}

static void test_limit(void **state) {
  (void)state;
  es_log_query q;
  memset(&q, 0, sizeof(q));
  q.limit = 10;
  EXPECT(&q, BASE ORDER " LIMIT ?2", I(0), I(10));
  q.limit = 1;
  q.after_position = 41;
  EXPECT(&q, BASE ORDER " LIMIT ?2", I(41), I(1));
  q.limit = 0; /* 0: no limit */
  EXPECT(&q, BASE ORDER, I(41));
}

static void test_consumer_group(void **state) {
  (void)state;
  es_log_query q;
  memset(&q, 0, sizeof(q));
  es_query_list_add(&q.aggregate_types, "account");
  for (int64_t m = 0; m < 3; m++) {
    q.group_size = 3;
    q.group_member = m;
    EXPECT(&q, BASE " AND aggregate_type = ?2 AND es_hash(aggregate_id) % ?3 = ?4" ORDER, I(0), T("account"), I(3),
           I(m));
  }
  q.group_size = 1;
  q.group_member = 0;
  EXPECT(&q, BASE " AND aggregate_type = ?2 AND es_hash(aggregate_id) % ?3 = ?4" ORDER, I(0), T("account"), I(1),
         I(0));
  q.group_size = 0; /* no group */
  EXPECT(&q, BASE " AND aggregate_type = ?2" ORDER, I(0), T("account"));
}

static void test_every_field(void **state) {
  (void)state;
  es_log_query q;
  memset(&q, 0, sizeof(q));
  q.after_position = 10;
  q.up_to_position = 20;
  es_query_list_add(&q.aggregate_types, "account");
  es_query_list_add(&q.aggregate_types, "loan");
  es_query_list_add(&q.aggregate_ids, "a1");
  es_query_list_add(&q.event_types, "Deposited");
  es_query_list_add(&q.event_types, "Withdrawn");
  es_query_list_add(&q.event_types, "AccountOpened");
  q.after_version = 2;
  q.group_size = 4;
  q.group_member = 3;
  q.limit = 50;
  EXPECT(&q,
         STREAMS " AND position <= ?2 AND aggregate_type IN (?3, ?4) AND aggregate_id = ?5 AND type IN (?6, ?7, ?8)"
              " AND version > ?9 AND es_hash(aggregate_id) % ?10 = ?11" ORDER " LIMIT ?12",
         I(10), I(20), T("account"), T("loan"), T("a1"), T("Deposited"), T("Withdrawn"), T("AccountOpened"), I(2),
         I(4), I(3), I(50));
}

/* ES_QUERY_MAX_LIST values in each of the three lists, with every other field: 198 binds. */
static char names[3][ES_QUERY_MAX_LIST][24];

static void fill_full(es_log_query *q) {
  memset(q, 0, sizeof(*q));
  for (int k = 0; k < ES_QUERY_MAX_LIST; k++) {
    snprintf(names[0][k], sizeof(names[0][k]), "type%d", k);
    snprintf(names[1][k], sizeof(names[1][k]), "id%d", k);
    snprintf(names[2][k], sizeof(names[2][k]), "event%d", k);
    assert_int_equal(es_query_list_add(&q->aggregate_types, names[0][k]), 1);
    assert_int_equal(es_query_list_add(&q->aggregate_ids, names[1][k]), 1);
    assert_int_equal(es_query_list_add(&q->event_types, names[2][k]), 1);
  }
  q->after_position = 5;
  q->up_to_position = 6;
  q->after_version = 7;
  q->group_size = 9;
  q->group_member = 8;
  q->limit = 10;
}

static void check_full(const es_translated *t) {
  char sql[8192];
  want_bind w[ES_QUERY_MAX_BINDS];
  static const char *const columns[3] = {"aggregate_type", "aggregate_id", "type"};
  int n = 0, len;
  len = snprintf(sql, sizeof(sql), "%s AND position <= ?2", STREAMS);
  w[n++] = (want_bind)I(5);
  w[n++] = (want_bind)I(6);
  for (int l = 0; l < 3; l++) {
    len += snprintf(sql + len, sizeof(sql) - (size_t)len, " AND %s IN (", columns[l]);
    for (int k = 0; k < ES_QUERY_MAX_LIST; k++) {
      w[n++] = (want_bind)T(names[l][k]);
      len += snprintf(sql + len, sizeof(sql) - (size_t)len, "%s?%d", k ? ", " : "", n);
    }
    len += snprintf(sql + len, sizeof(sql) - (size_t)len, ")");
  }
  len += snprintf(sql + len, sizeof(sql) - (size_t)len, " AND version > ?%d", n + 1);
  w[n++] = (want_bind)I(7);
  len += snprintf(sql + len, sizeof(sql) - (size_t)len, " AND es_hash(aggregate_id) %% ?%d = ?%d", n + 1, n + 2);
  w[n++] = (want_bind)I(9);
  w[n++] = (want_bind)I(8);
  len += snprintf(sql + len, sizeof(sql) - (size_t)len, ORDER " LIMIT ?%d", n + 1);
  w[n++] = (want_bind)I(10);
  assert_true(len < (int)sizeof(sql));
  assert_int_equal(n, 3 * ES_QUERY_MAX_LIST + 6);
  assert_true(n <= ES_QUERY_MAX_BINDS);
  assert_str(t->sql, sql);
  check_binds(t, w, n);
}

static void test_full_lists(void **state) {
  (void)state;
  es_log_query q;
  es_translated t;
  es_error err = {0};
  fill_full(&q);
  assert_int_equal(es_translate_log_query(&q, &t, &err), ES_OK);
  check_full(&t);
  es_translated_clear(&t);
}

/* ----------------------- Refused ----------------------- */

static void test_group_refusals(void **state) {
  (void)state;
  es_log_query q;
  memset(&q, 0, sizeof(q));
  q.group_size = 3;
  q.group_member = 3;
  refused(&q, "consumer group member must be 0 to size - 1 (member 3, size 3)");
  q.group_member = 4;
  refused(&q, "consumer group member must be 0 to size - 1 (member 4, size 3)");
  q.group_member = -1;
  refused(&q, "consumer group member must be 0 to size - 1 (member -1, size 3)");
  q.group_size = 1;
  q.group_member = 1;
  refused(&q, "consumer group member must be 0 to size - 1 (member 1, size 1)");
  q.group_size = -1;
  q.group_member = 0;
  refused(&q, "consumer group member must be 0 to size - 1 (member 0, size -1)");
  q.group_size = INT64_MIN;
  q.group_member = INT64_MIN;
  refused(&q, "consumer group member must be 0 to size - 1 (member -9223372036854775808, size -9223372036854775808)");
  q.group_size = INT64_MAX;
  q.group_member = INT64_MAX;
  refused(&q, "consumer group member must be 0 to size - 1 (member 9223372036854775807, size 9223372036854775807)");
  /* The largest member of the largest group is fine. */
  q.group_member = INT64_MAX - 1;
  EXPECT(&q, BASE " AND es_hash(aggregate_id) % ?2 = ?3" ORDER, I(0), I(INT64_MAX), I(INT64_MAX - 1));
}

static void test_negative_limit(void **state) {
  (void)state;
  es_log_query q;
  memset(&q, 0, sizeof(q));
  q.limit = -1;
  refused(&q, "limit must not be negative");
  q.limit = INT64_MIN;
  refused(&q, "limit must not be negative");
}

static void test_list_too_long(void **state) {
  (void)state;
  es_log_query q;
  for (int l = 0; l < 3; l++) {
    fill_full(&q);
    es_query_list *lists[3] = {&q.aggregate_types, &q.aggregate_ids, &q.event_types};
    lists[l]->n = ES_QUERY_MAX_LIST + 1; /* built by hand: es_query_list_add would refuse */
    refused(&q, "at most 64 values in one list");
  }
}

/* ----------------------- Out of memory ----------------------- */

/* Fail the first, second, … allocation until the translation succeeds: each failure is nomem with
** no message, an empty output and no block left alive; the success is the full translation. */
static void oom_loop(const es_log_query *q, void (*check)(const es_translated *)) {
  int failures = 0;
  for (long n = 0;; n++) {
    es_translated t;
    es_error err = {0};
    memset(&t, 0x5a, sizeof(t));
    fake_mem_fail_after(n);
    es_status rc = es_translate_log_query(q, &t, &err);
    fake_mem_fail_after(-1);
    if (rc == ES_OK) {
      check(&t);
      es_translated_clear(&t);
      break;
    }
    failures++;
    assert_int_equal(rc, ES_NOMEM);
    assert_int_equal(err.status, ES_NOMEM);
    assert_null(err.message);
    assert_null(err.reason);
    assert_null(t.sql);
    assert_int_equal(t.n_binds, 0);
    assert_int_equal(fake_mem_live(), live_at_start);
    assert_true(n < 1000);
  }
  assert_true(failures > 0);
  assert_int_equal(fake_mem_live(), live_at_start);
}

static void check_every_field(const es_translated *t) {
  assert_str(t->sql, BASE " AND position <= ?2 AND aggregate_type = ?3 AND version > ?4 AND es_hash(aggregate_id) % ?5"
                          " = ?6" ORDER " LIMIT ?7");
  const want_bind w[] = {I(1), I(2), T("account"), I(3), I(2), I(1), I(4)};
  check_binds(t, w, 7);
}

static void test_out_of_memory(void **state) {
  (void)state;
  es_log_query q;
  memset(&q, 0, sizeof(q));
  q.after_position = 1;
  q.up_to_position = 2;
  es_query_list_add(&q.aggregate_types, "account");
  q.after_version = 3;
  q.group_size = 2;
  q.group_member = 1;
  q.limit = 4;
  oom_loop(&q, check_every_field);
  fill_full(&q); /* a text long enough to grow the buffer several times */
  oom_loop(&q, check_full);
  /* A refusal when its message cannot be allocated: nomem, nothing left. */
  memset(&q, 0, sizeof(q));
  q.limit = -1;
  es_translated t;
  es_error err = {0};
  fake_mem_fail_after(0);
  assert_int_equal(es_translate_log_query(&q, &t, &err), ES_NOMEM);
  fake_mem_fail_after(-1);
  assert_null(err.message);
  assert_null(t.sql);
  assert_int_equal(fake_mem_live(), live_at_start);
}

/* ----------------------- Lists and the group hash ----------------------- */

static void test_list_add_refuses_the_65th(void **state) {
  (void)state;
  es_query_list l;
  memset(&l, 0, sizeof(l));
  for (int k = 0; k < ES_QUERY_MAX_LIST; k++) {
    assert_int_equal(es_query_list_add(&l, names[0][k]), 1);
    assert_int_equal(l.n, (size_t)k + 1);
    assert_ptr_equal(l.values[k], names[0][k]);
  }
  assert_int_equal(ES_QUERY_MAX_LIST, 64);
  assert_int_equal(es_query_list_add(&l, "one too many"), 0);
  assert_int_equal(l.n, 64);
  assert_ptr_equal(l.values[63], names[0][63]); /* the last value is not overwritten */
  assert_int_equal(es_query_list_add(&l, "again"), 0);
  assert_int_equal(l.n, 64);
}

/* FNV-1a 64, written out again here so that the test does not trust the code it checks. */
static uint64_t fnv1a64(const void *p, size_t n) {
  const unsigned char *s = p;
  uint64_t h = UINT64_C(0xcbf29ce484222325);
  while (n--) {
    h ^= *s++;
    h *= UINT64_C(0x100000001b3);
  }
  return h;
}

static void test_group_hash(void **state) {
  (void)state;
  /* Published FNV-1a 64 test vectors (offset basis, "a", "foobar"), shifted right by one. */
  assert_int_equal(es_group_hash("", 0), INT64_C(7347990519673328018)); /* 14695981039346656037 >> 1 */
  assert_int_equal(UINT64_C(14695981039346656037) >> 1, UINT64_C(7347990519673328018));
  assert_int_equal(es_group_hash("a", 1), (int64_t)(UINT64_C(0xaf63dc4c8601ec8c) >> 1));
  assert_int_equal(es_group_hash("foobar", 6), (int64_t)(UINT64_C(0x85944171f73967e8) >> 1));
  assert_int_equal(es_group_hash("acc-1", 5), INT64_C(5348632161197379398));
  /* Bytes above 0x7f count as unsigned ("é" in UTF-8 is c3 a9). */
  assert_int_equal(es_group_hash("\xc3\xa9", 2), INT64_C(387603703882583808));
  /* The length decides, not a NUL. */
  assert_int_not_equal(es_group_hash("a\0b", 3), es_group_hash("a", 1));
  assert_int_equal(es_group_hash("a\0b", 3), (int64_t)(fnv1a64("a\0b", 3) >> 1));
  assert_int_equal(es_group_hash("foobar", 3), es_group_hash("foo", 3));
  /* Many ids: the independent FNV-1a, never negative. */
  char id[32];
  for (int k = 0; k < 2000; k++) {
    int n = snprintf(id, sizeof(id), "account-%d", k);
    int64_t h = es_group_hash(id, (size_t)n);
    assert_true(h >= 0);
    assert_int_equal(h, (int64_t)(fnv1a64(id, (size_t)n) >> 1));
  }
  /* Every byte value on its own. */
  for (int b = 0; b < 256; b++) {
    char c = (char)b;
    assert_int_equal(es_group_hash(&c, 1), (int64_t)(fnv1a64(&c, 1) >> 1));
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_empty_query, unit_setup, unit_teardown),
      cmocka_unit_test_setup_teardown(test_aggregate_types, unit_setup, unit_teardown),
      cmocka_unit_test_setup_teardown(test_aggregate_ids, unit_setup, unit_teardown),
      cmocka_unit_test_setup_teardown(test_event_types, unit_setup, unit_teardown),
      cmocka_unit_test_setup_teardown(test_lists_together, unit_setup, unit_teardown),
      cmocka_unit_test_setup_teardown(test_streams, unit_setup, unit_teardown),
      cmocka_unit_test_setup_teardown(test_text_binds_are_borrowed, unit_setup, unit_teardown),
      cmocka_unit_test_setup_teardown(test_position_ranges, unit_setup, unit_teardown),
      cmocka_unit_test_setup_teardown(test_after_version, unit_setup, unit_teardown),
      cmocka_unit_test_setup_teardown(test_limit, unit_setup, unit_teardown),
      cmocka_unit_test_setup_teardown(test_consumer_group, unit_setup, unit_teardown),
      cmocka_unit_test_setup_teardown(test_every_field, unit_setup, unit_teardown),
      cmocka_unit_test_setup_teardown(test_full_lists, unit_setup, unit_teardown),
      cmocka_unit_test_setup_teardown(test_group_refusals, unit_setup, unit_teardown),
      cmocka_unit_test_setup_teardown(test_negative_limit, unit_setup, unit_teardown),
      cmocka_unit_test_setup_teardown(test_list_too_long, unit_setup, unit_teardown),
      cmocka_unit_test_setup_teardown(test_out_of_memory, unit_setup, unit_teardown),
      cmocka_unit_test_setup_teardown(test_list_add_refuses_the_65th, unit_setup, unit_teardown),
      cmocka_unit_test_setup_teardown(test_group_hash, unit_setup, unit_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
