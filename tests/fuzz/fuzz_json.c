/*
** fuzz_json.c — libFuzzer target for ext/domain/json.c. Any input must either be refused with a
** well-formed message or parse into a tree whose strings (values and keys) survive es_jbuf_string
** and a re-parse byte for byte; the whole tree must survive the writer too, every raw span must
** re-parse to the same value, es_json_int64 must agree with the parsed numbers, and nothing may
** leak. Any broken invariant abort()s.
** Links tests/unit/fake_mem.c as its malloc-based es_mem_*.
*/
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../ext/domain/json.h"
#include "../../ext/domain/mem.h"
#include "../unit/fake_mem.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int ok, const char *what) {
  if (!ok) {
    fprintf(stderr, "fuzz_json: %s\n", what);
    abort();
  }
}

static es_json_doc *parse_or_die(const char *text, size_t len, const char *what) {
  es_json_doc *doc = NULL;
  char *err = NULL;
  es_status rc = es_json_parse(text, len, &doc, &err);
  if (rc != ES_OK) fprintf(stderr, "fuzz_json: %s: <%.*s>: %s\n", what, (int)len, text, err ? err : "-");
  check(rc == ES_OK && doc && !err, what);
  return doc;
}

/* Re-serialises one decoded string and checks that it parses back to exactly the same bytes. */
static void string_round_trip(const char *s, size_t n) {
  es_jbuf b;
  size_t len;
  es_jbuf_init(&b);
  es_jbuf_string(&b, s, n);
  char *z = es_jbuf_take(&b, &len);
  check(z != NULL, "es_jbuf_string failed");
  es_json_doc *doc = parse_or_die(z, len, "a written string does not parse");
  const es_json *v = es_json_root(doc);
  check(v->kind == ES_JSON_STRING, "a written string parses as another kind");
  check(v->u.str.n == n && memcmp(v->u.str.s, s, n) == 0 && v->u.str.s[n] == 0, "string round-trip mismatch");
  es_json_free(doc);
  es_mem_free(z);
}

/* Equal values; with loose numbers, an integer and a real of the same value are equal (the
** writer prints integral reals without a fraction). */
static int same(const es_json *a, const es_json *b, int loose) {
  if (loose && (a->kind == ES_JSON_INT || a->kind == ES_JSON_REAL) &&
      (b->kind == ES_JSON_INT || b->kind == ES_JSON_REAL)) {
    if (a->kind == ES_JSON_INT && b->kind == ES_JSON_INT) return a->u.i == b->u.i;
    double x = a->kind == ES_JSON_INT ? (double)a->u.i : a->u.r;
    double y = b->kind == ES_JSON_INT ? (double)b->u.i : b->u.r;
    return x == y;
  }
  if (a->kind != b->kind) return 0;
  switch (a->kind) {
    case ES_JSON_INT: return a->u.i == b->u.i;
    case ES_JSON_REAL: return memcmp(&a->u.r, &b->u.r, sizeof a->u.r) == 0;
    case ES_JSON_STRING: return a->u.str.n == b->u.str.n && memcmp(a->u.str.s, b->u.str.s, a->u.str.n) == 0;
    case ES_JSON_ARRAY:
      if (a->u.arr.n != b->u.arr.n) return 0;
      for (size_t i = 0; i < a->u.arr.n; i++)
        if (!same(a->u.arr.items[i], b->u.arr.items[i], loose)) return 0;
      return 1;
    case ES_JSON_OBJECT:
      if (a->u.obj.n != b->u.obj.n) return 0;
      for (size_t i = 0; i < a->u.obj.n; i++) {
        const es_json_member *x = &a->u.obj.members[i], *y = &b->u.obj.members[i];
        if (x->key_len != y->key_len || memcmp(x->key, y->key, x->key_len) != 0) return 0;
        if (!same(x->value, y->value, loose)) return 0;
      }
      return 1;
    default: return 1;
  }
}

static void write_tree(es_jbuf *b, const es_json *v) {
  switch (v->kind) {
    case ES_JSON_NULL: es_jbuf_appendz(b, "null"); break;
    case ES_JSON_FALSE: es_jbuf_appendz(b, "false"); break;
    case ES_JSON_TRUE: es_jbuf_appendz(b, "true"); break;
    case ES_JSON_INT: es_jbuf_int(b, v->u.i); break;
    case ES_JSON_REAL: es_jbuf_real(b, v->u.r); break;
    case ES_JSON_STRING: es_jbuf_string(b, v->u.str.s, v->u.str.n); break;
    case ES_JSON_ARRAY:
      es_jbuf_append(b, "[", 1);
      for (size_t i = 0; i < v->u.arr.n; i++) {
        if (i) es_jbuf_append(b, ",", 1);
        write_tree(b, v->u.arr.items[i]);
      }
      es_jbuf_append(b, "]", 1);
      break;
    case ES_JSON_OBJECT:
      es_jbuf_append(b, "{", 1);
      for (size_t i = 0; i < v->u.obj.n; i++) {
        if (i) es_jbuf_append(b, ",", 1);
        es_jbuf_string(b, v->u.obj.members[i].key, v->u.obj.members[i].key_len);
        es_jbuf_append(b, ":", 1);
        write_tree(b, v->u.obj.members[i].value);
      }
      es_jbuf_append(b, "}", 1);
      break;
  }
}

/* The significant digits of a number literal: from its first to its last nonzero digit (0 for zero). */
static size_t significant_digits(const char *s, size_t n) {
  size_t digits = 0, first = 0, last = 0;
  for (size_t i = 0; i < n && s[i] != 'e' && s[i] != 'E'; i++) {
    if (s[i] < '0' || s[i] > '9') continue;
    digits++;
    if (s[i] != '0') {
      if (!first) first = digits;
      last = digits;
    }
  }
  return first ? last - first + 1 : 0;
}

/* es_json_int64 agrees with the parser: an integer literal is itself; an accepted real is the
** integer whose nearest double strtod found; zero is accepted exactly when every digit is 0; and
** an integral double below 1e15 read from at most 15 significant digits (DBL_DIG) is that integer,
** so it must be accepted. */
static void int64_agrees(const es_json *v) {
  int64_t i = 0;
  int ok = es_json_int64(v, &i);
  size_t sig = significant_digits(v->raw, v->raw_len);
  if (v->kind == ES_JSON_INT) {
    check(ok && i == v->u.i, "es_json_int64 differs from an integer literal");
    return;
  }
  if (ok) check((double)i == v->u.r, "es_json_int64 accepted a number as another integer");
  if (v->u.r == 0) check(ok == (sig == 0), "es_json_int64 misreads a zero or an underflow");
  else if (v->u.r > -1e15 && v->u.r < 1e15 && (double)(int64_t)v->u.r == v->u.r && sig <= 15)
    check(ok, "es_json_int64 refused a short integral number");
}

/* Checks every node: its raw span re-parses to the same value, its strings round-trip, keys are
** unique and es_json_get finds each key without a NUL. */
static void walk(const es_json *v) {
  es_json_doc *doc = parse_or_die(v->raw, v->raw_len, "a raw span does not parse");
  check(same(v, es_json_root(doc), 0), "a raw span parses to another value");
  es_json_free(doc);
  if (v->kind == ES_JSON_INT || v->kind == ES_JSON_REAL) int64_agrees(v);
  if (v->kind == ES_JSON_STRING) string_round_trip(v->u.str.s, v->u.str.n);
  if (v->kind == ES_JSON_ARRAY)
    for (size_t i = 0; i < v->u.arr.n; i++) walk(v->u.arr.items[i]);
  if (v->kind != ES_JSON_OBJECT) return;
  for (size_t i = 0; i < v->u.obj.n; i++) {
    const es_json_member *m = &v->u.obj.members[i];
    string_round_trip(m->key, m->key_len);
    check(m->key[m->key_len] == 0, "a key is not NUL-terminated");
    for (size_t j = 0; j < i; j++)
      check(m->key_len != v->u.obj.members[j].key_len || memcmp(m->key, v->u.obj.members[j].key, m->key_len) != 0,
            "duplicate key accepted");
    if (strlen(m->key) == m->key_len) check(es_json_get(v, m->key) == m->value, "es_json_get misses a key");
    walk(m->value);
  }
}

static void tree_round_trip(const es_json *root) {
  es_jbuf b;
  size_t len;
  es_jbuf_init(&b);
  write_tree(&b, root);
  char *z = es_jbuf_take(&b, &len);
  check(z != NULL, "writing the tree failed");
  es_json_doc *doc = parse_or_die(z, len, "the written tree does not parse");
  check(same(root, es_json_root(doc), 1), "tree round-trip mismatch");
  es_json_free(doc);
  es_mem_free(z);
}

static void check_refusal(const char *err, size_t size) {
  static const char pre[] = "malformed JSON at offset ";
  check(err != NULL, "a refusal without a message");
  check(strncmp(err, pre, sizeof pre - 1) == 0, "a refusal message without the prefix");
  char *end;
  unsigned long long off = strtoull(err + sizeof pre - 1, &end, 10);
  check(off <= size && end[0] == ':' && end[1] == ' ' && end[2], "a refusal message with a bad offset");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  es_json_doc *doc = NULL;
  char *err = NULL;
  long live = fake_mem_live();
  es_status rc = es_json_parse((const char *)data, size, &doc, &err);
  check(rc == ES_OK || rc == ES_INVALID_PAYLOAD, "unexpected status");
  if (rc == ES_OK) {
    check(doc && !err, "success with a message or no document");
    walk(es_json_root(doc));
    tree_round_trip(es_json_root(doc));
  } else {
    check(!doc, "a refusal with a document");
    check_refusal(err, size);
  }
  es_json_free(doc);
  es_mem_free(err);
  check(fake_mem_live() == live, "leaked memory");
  return 0;
}
