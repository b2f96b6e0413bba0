/*
** test_json.c — unit tests of the strict JSON parser and the JSON text buffer (ext/domain/json.c):
** every accepted form, every refusal with its exact message, limits (depth, size, int64), raw
** spans, duplicate keys, writer escaping and number formatting, and out-of-memory at every step.
*/
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../ext/domain/json.h"
#include "../../ext/domain/mem.h"
#include "fake_mem.h"
#include "unit_support.h"

/* ----------------------- Helpers ----------------------- */

static es_json_doc *parse_ok_n(const char *text, size_t len) {
  es_json_doc *doc = NULL;
  char *err = NULL;
  es_status rc = es_json_parse(text, len, &doc, &err);
  if (rc != ES_OK) fail_msg("parse of <%.*s> failed (%d): %s", (int)len, text, (int)rc, err ? err : "-");
  assert_null(err);
  assert_non_null(doc);
  assert_non_null(es_json_root(doc));
  return doc;
}

static es_json_doc *parse_ok(const char *text) { return parse_ok_n(text, strlen(text)); }

static void refused_n(const char *text, size_t len, const char *msg) {
  es_json_doc *doc = (es_json_doc *)&doc; /* must be reset to NULL */
  char *err = NULL;
  es_status rc = es_json_parse(text, len, &doc, &err);
  if (rc != ES_INVALID_PAYLOAD) fail_msg("<%.*s> was not refused (%d)", (int)len, text, (int)rc);
  assert_null(doc);
  assert_non_null(err);
  if (strcmp(err, msg) != 0) {
    print_error("input <%.*s>\n  got      %s\n  expected %s\n", (int)len, text, err, msg);
    es_mem_free(err);
    fail();
  }
  es_mem_free(err);
}

static void refused(const char *text, const char *msg) { refused_n(text, strlen(text), msg); }

/* A string of n bytes built from a repeated pattern, es_mem_alloc'd. */
static char *repeat(const char *pre, const char *unit, size_t times, const char *post) {
  size_t a = strlen(pre), u = strlen(unit), z = strlen(post);
  char *s = es_mem_alloc(a + u * times + z + 1), *q = s;
  assert_non_null(s);
  memcpy(q, pre, a), q += a;
  for (size_t i = 0; i < times; i++) memcpy(q, unit, u), q += u;
  memcpy(q, post, z), q += z;
  *q = 0;
  return s;
}

/* Writes a parsed tree back as JSON with the buffer under test (used by round-trip tests). */
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

/* ----------------------- Accepted forms ----------------------- */

static void test_literals(void **state) {
  (void)state;
  static const struct {
    const char *in;
    es_json_kind kind;
    const char *name, *raw;
  } cases[] = {
      {"null", ES_JSON_NULL, "null", "null"},
      {"true", ES_JSON_TRUE, "boolean", "true"},
      {"false", ES_JSON_FALSE, "boolean", "false"},
      {" \t\r\n null \t\r\n ", ES_JSON_NULL, "null", "null"},
      {"\n\ntrue", ES_JSON_TRUE, "boolean", "true"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    es_json_doc *doc = parse_ok(cases[i].in);
    const es_json *v = es_json_root(doc);
    assert_int_equal(v->kind, cases[i].kind);
    assert_string_equal(es_json_kind_name(v->kind), cases[i].name);
    assert_int_equal(v->raw_len, strlen(cases[i].raw));
    assert_memory_equal(v->raw, cases[i].raw, v->raw_len);
    es_json_free(doc);
  }
}

static void test_kind_names(void **state) {
  (void)state;
  assert_string_equal(es_json_kind_name(ES_JSON_NULL), "null");
  assert_string_equal(es_json_kind_name(ES_JSON_FALSE), "boolean");
  assert_string_equal(es_json_kind_name(ES_JSON_TRUE), "boolean");
  assert_string_equal(es_json_kind_name(ES_JSON_INT), "integer");
  assert_string_equal(es_json_kind_name(ES_JSON_REAL), "number");
  assert_string_equal(es_json_kind_name(ES_JSON_STRING), "string");
  assert_string_equal(es_json_kind_name(ES_JSON_ARRAY), "array");
  assert_string_equal(es_json_kind_name(ES_JSON_OBJECT), "object");
  assert_string_equal(es_json_kind_name((es_json_kind)99), "unknown");
}

static void test_integers(void **state) {
  (void)state;
  static const struct {
    const char *in;
    int64_t v;
  } cases[] = {
      {"0", 0},
      {"-0", 0}, /* an integer literal: the sign of zero is not kept */
      {"7", 7},
      {" 42 ", 42},
      {"-42", -42},
      {"1234567890123", 1234567890123},
      {"9223372036854775807", INT64_MAX},
      {"-9223372036854775807", -INT64_MAX},
      {"-9223372036854775808", INT64_MIN},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    es_json_doc *doc = parse_ok(cases[i].in);
    const es_json *v = es_json_root(doc);
    assert_int_equal(v->kind, ES_JSON_INT);
    assert_true(v->u.i == cases[i].v);
    es_json_free(doc);
  }
}

static void check_real(const char *in, double want) {
  es_json_doc *doc = parse_ok(in);
  const es_json *v = es_json_root(doc);
  if (v->kind != ES_JSON_REAL || v->u.r != want || signbit(v->u.r) != signbit(want))
    fail_msg("<%s>: kind %d value %.17g, expected %.17g", in, (int)v->kind, v->u.r, want);
  es_json_free(doc);
}

static void test_integer_overflow_is_real(void **state) {
  (void)state;
  check_real("9223372036854775808", 9223372036854775808.0);
  check_real("-9223372036854775809", -9223372036854775809.0);
  check_real("18446744073709551616", 18446744073709551616.0);
  check_real("99999999999999999999999", 1e23);
  char *big = repeat("1", "0", 300, ""); /* longer than any local number buffer */
  check_real(big, 1e300);
  es_mem_free(big);
  big = repeat("-1", "0", 308, "");
  check_real(big, -1e308);
  es_mem_free(big);
}

static void test_reals(void **state) {
  (void)state;
  check_real("0.5", 0.5);
  check_real("-1.25", -1.25);
  check_real("0.1", 0.1);
  check_real("1e2", 100.0);
  check_real("1E2", 100.0);
  check_real("1e+2", 100.0);
  check_real("1E-2", 0.01);
  check_real("1e02", 100.0); /* leading zeros are allowed in an exponent */
  check_real("0e0", 0.0);
  check_real("0.0", 0.0);
  check_real("-0.0", -0.0);
  check_real("-0e5", -0.0);
  check_real("2.5e-3", 0.0025);
  check_real("123.456e-7", 123.456e-7);
  check_real("1.7976931348623157e308", DBL_MAX);
  check_real("-1.7976931348623157e308", -DBL_MAX);
  check_real("4.9406564584124654e-324", 4.9406564584124654e-324);
  check_real("1e-400", 0.0); /* underflow reads as zero */
  char *lng = repeat("0.", "3", 100, "");
  check_real(lng, strtod(lng, NULL));
  es_mem_free(lng);
  lng = repeat("", "9", 80, "e-70");
  check_real(lng, strtod(lng, NULL));
  es_mem_free(lng);
}

/* es_json_int64 on the number text: 1 with value want, or 0 with *out left alone. */
static void check_int64(const char *text, int ok, int64_t want) {
  es_json_doc *doc = parse_ok(text);
  int64_t v = 12345678;
  int got = es_json_int64(es_json_root(doc), &v);
  if (got != ok || (ok && v != want) || (!ok && v != 12345678))
    fail_msg("<%.60s%s>: %d and %lld, expected %d and %lld", text, strlen(text) > 60 ? "..." : "", got,
             (long long)v, ok, ok ? (long long)want : 12345678LL);
  es_json_free(doc);
}

static void test_int64_exact(void **state) {
  (void)state;
  check_int64("0", 1, 0);
  check_int64("-0", 1, 0);
  check_int64("100", 1, 100);
  check_int64("100.0", 1, 100);
  check_int64("1e2", 1, 100);
  check_int64("1E+2", 1, 100);
  check_int64("1e0000000000000000000000000000000000002", 1, 100); /* leading zeros in the exponent */
  check_int64("1234500e-2", 1, 12345);
  check_int64("-0.0", 1, 0);
  check_int64("0e5", 1, 0);
  check_int64("0.000e-5", 1, 0);
  check_int64("-0e99999999999999999999999999999999999999", 1, 0);
  check_int64("9007199254740993.0", 1, 9007199254740993);
  check_int64("9223372036854775807", 1, INT64_MAX);
  check_int64("9.223372036854775807e18", 1, INT64_MAX);
  check_int64("922337203685477580.7e1", 1, INT64_MAX);
  check_int64("-9223372036854775808", 1, INT64_MIN);
  check_int64("-9.223372036854775808e18", 1, INT64_MIN);
  check_int64("-0.9223372036854775808e19", 1, INT64_MIN);
  check_int64("1.5", 0, 0);
  check_int64("1e-1", 0, 0);
  check_int64("12345e-2", 0, 0);
  check_int64("100.000000000000001", 0, 0);
  check_int64("1.00000000000000001e2", 0, 0);
  check_int64("1e-400", 0, 0);
  check_int64("-1e-99999999999999999999999999999999999999", 0, 0);
  check_int64("9223372036854775808", 0, 0);
  check_int64("-9223372036854775809", 0, 0);
  check_int64("9.223372036854775808e18", 0, 0);
  check_int64("-9.223372036854775809e18", 0, 0);
  check_int64("1e19", 0, 0);
  check_int64("10000000000000000000", 0, 0);
  check_int64("99999999999999999999e-1", 0, 0);
  /* Long texts: thousands of zeros before or after the significant digits, exponents of every size. */
  char *t = repeat("0.", "0", 5000, "1e5001");
  check_int64(t, 1, 1);
  es_mem_free(t);
  t = repeat("0.", "0", 5000, "1e5000");
  check_int64(t, 0, 0);
  es_mem_free(t);
  t = repeat("-1", "0", 5000, "e-5000");
  check_int64(t, 1, -1);
  es_mem_free(t);
  t = repeat("1", "0", 5000, "e-4982");
  check_int64(t, 1, 1000000000000000000);
  es_mem_free(t);
  t = repeat("1", "0", 5000, "e-4981");
  check_int64(t, 0, 0);
  es_mem_free(t);
  t = repeat("42.", "0", 5000, "");
  check_int64(t, 1, 42);
  es_mem_free(t);
  t = repeat("42.", "0", 5000, "1");
  check_int64(t, 0, 0);
  es_mem_free(t);
  t = repeat("0e", "9", 5000, ""); /* zero with an exponent of 5000 digits */
  check_int64(t, 1, 0);
  es_mem_free(t);
  t = repeat("1e-", "9", 5000, "");
  check_int64(t, 0, 0);
  es_mem_free(t);
}

/* Only numbers are integers: the other kinds, and no value at all, give 0 and leave *out alone. */
static void test_int64_other_kinds(void **state) {
  (void)state;
  es_json_doc *doc = parse_ok("[null, true, false, \"1\", [1], {\"a\":1}]");
  const es_json *a = es_json_root(doc);
  int64_t v = 7;
  for (size_t i = 0; i < a->u.arr.n; i++) assert_int_equal(es_json_int64(a->u.arr.items[i], &v), 0);
  assert_int_equal(es_json_int64(NULL, &v), 0);
  assert_true(v == 7);
  es_json_free(doc);
}

static void check_string(const char *json, const char *want, size_t want_len) {
  es_json_doc *doc = parse_ok(json);
  const es_json *v = es_json_root(doc);
  assert_int_equal(v->kind, ES_JSON_STRING);
  assert_int_equal(v->u.str.n, want_len);
  assert_memory_equal(v->u.str.s, want, want_len);
  assert_int_equal(v->u.str.s[want_len], 0);
  assert_int_equal(v->raw_len, strlen(json));
  es_json_free(doc);
}

#define CHECK_STRING(json, want) check_string(json, want, sizeof want - 1)

static void test_strings(void **state) {
  (void)state;
  CHECK_STRING("\"\"", "");
  CHECK_STRING("\"abc\"", "abc");
  CHECK_STRING("\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"", "\"\\/\b\f\n\r\t");
  CHECK_STRING("\"\\u0041\\u00e9\\u20AC\"", "A\xc3\xa9\xe2\x82\xac");
  CHECK_STRING("\"\\u0080\\u07ff\\u0800\\uFFFF\\uE000\"",
               "\xc2\x80\xdf\xbf\xe0\xa0\x80\xef\xbf\xbf\xee\x80\x80");
  CHECK_STRING("\"\\ud83d\\ude00\"", "\xf0\x9f\x98\x80");
  CHECK_STRING("\"\\uD800\\uDC00\"", "\xf0\x90\x80\x80");
  CHECK_STRING("\"\\uDBFF\\uDFFF\"", "\xf4\x8f\xbf\xbf");
  CHECK_STRING("\"x\\uD83D\\uDE00y\\u00e9\"", "x\xf0\x9f\x98\x80y\xc3\xa9");
  CHECK_STRING("\"a\\u0000b\"", "a\0b");
  CHECK_STRING("\"\\u0000\"", "\0");
  CHECK_STRING("\"\x7f\"", "\x7f"); /* DEL is not a control character for JSON */
  CHECK_STRING("\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\xf4\x8f\xbf\xbf\xed\x9f\xbf\xee\x80\x80\"",
               "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\xf4\x8f\xbf\xbf\xed\x9f\xbf\xee\x80\x80");
  CHECK_STRING("\"'single' /* not a comment */\"", "'single' /* not a comment */");
}

static void test_arrays_and_objects(void **state) {
  (void)state;
  es_json_doc *doc = parse_ok(" { \"a\" : [1, 2.5 ,\"s\", [], {}, [[null]]], \"b\":{\"c\":true,\"d\":false},"
                              "\"\":0, \"e\\u00e9\": -1 } ");
  const es_json *root = es_json_root(doc);
  assert_int_equal(root->kind, ES_JSON_OBJECT);
  assert_int_equal(root->u.obj.n, 4);
  assert_string_equal(root->u.obj.members[0].key, "a");
  assert_string_equal(root->u.obj.members[1].key, "b");
  assert_string_equal(root->u.obj.members[2].key, "");
  assert_string_equal(root->u.obj.members[3].key, "e\xc3\xa9");
  assert_int_equal(root->u.obj.members[3].key_len, 3);

  const es_json *a = es_json_get(root, "a");
  assert_ptr_equal(a, root->u.obj.members[0].value);
  assert_int_equal(a->kind, ES_JSON_ARRAY);
  assert_int_equal(a->u.arr.n, 6);
  assert_int_equal(a->u.arr.items[0]->kind, ES_JSON_INT);
  assert_int_equal(a->u.arr.items[0]->u.i, 1);
  assert_int_equal(a->u.arr.items[1]->kind, ES_JSON_REAL);
  assert_string_equal(a->u.arr.items[2]->u.str.s, "s");
  assert_int_equal(a->u.arr.items[3]->kind, ES_JSON_ARRAY);
  assert_int_equal(a->u.arr.items[3]->u.arr.n, 0);
  assert_int_equal(a->u.arr.items[4]->kind, ES_JSON_OBJECT);
  assert_int_equal(a->u.arr.items[4]->u.obj.n, 0);
  assert_int_equal(a->u.arr.items[5]->u.arr.items[0]->u.arr.items[0]->kind, ES_JSON_NULL);

  const es_json *b = es_json_get(root, "b");
  assert_int_equal(es_json_get(b, "c")->kind, ES_JSON_TRUE);
  assert_int_equal(es_json_get(b, "d")->kind, ES_JSON_FALSE);
  assert_int_equal(es_json_get(root, "")->u.i, 0);
  assert_int_equal(es_json_get(root, "e\xc3\xa9")->u.i, -1);
  assert_null(es_json_get(root, "c"));    /* only direct members */
  assert_null(es_json_get(root, "A"));    /* case-sensitive */
  assert_null(es_json_get(a, "a"));       /* not an object */
  assert_null(es_json_get(NULL, "a"));
  assert_null(es_json_get(root, NULL));
  es_json_free(doc);

  doc = parse_ok("[]");
  assert_int_equal(es_json_root(doc)->u.arr.n, 0);
  es_json_free(doc);
  doc = parse_ok("{ }");
  assert_int_equal(es_json_root(doc)->u.obj.n, 0);
  assert_null(es_json_get(es_json_root(doc), ""));
  es_json_free(doc);
  es_json_free(NULL);
}

static void test_many_items(void **state) {
  (void)state;
  char *s = repeat("[", "1,", 10000, "2]");
  es_json_doc *doc = parse_ok(s);
  const es_json *r = es_json_root(doc);
  assert_int_equal(r->u.arr.n, 10001);
  assert_int_equal(r->u.arr.items[10000]->u.i, 2);
  es_json_free(doc);
  es_mem_free(s);
}

static void test_key_with_nul_not_found_by_c_string(void **state) {
  (void)state;
  es_json_doc *doc = parse_ok("{\"a\\u0000b\":1,\"a\":2}");
  const es_json *r = es_json_root(doc);
  assert_int_equal(r->u.obj.members[0].key_len, 3);
  assert_memory_equal(r->u.obj.members[0].key, "a\0b", 4);
  assert_int_equal(es_json_get(r, "a")->u.i, 2);
  es_json_free(doc);
}

/* ----------------------- Raw spans ----------------------- */

static void assert_raw(const es_json *v, const char *want) {
  assert_non_null(v);
  assert_int_equal(v->raw_len, strlen(want));
  assert_memory_equal(v->raw, want, v->raw_len);
}

static void test_raw_spans(void **state) {
  (void)state;
  const char *text = " \n{ \"a\" : [1, 2 ,{\"b\":null} ] , \"c\":\"x\\ny\",\"n\": -1.5e3 ,\"o\":{ \"p\" : { } }}\t";
  es_json_doc *doc = parse_ok(text);
  const es_json *r = es_json_root(doc);
  assert_ptr_equal(r->raw, text + 2);
  assert_raw(r, "{ \"a\" : [1, 2 ,{\"b\":null} ] , \"c\":\"x\\ny\",\"n\": -1.5e3 ,\"o\":{ \"p\" : { } }}");
  assert_raw(es_json_get(r, "a"), "[1, 2 ,{\"b\":null} ]");
  assert_raw(es_json_get(r, "a")->u.arr.items[1], "2");
  assert_raw(es_json_get(r, "a")->u.arr.items[2], "{\"b\":null}");
  assert_raw(es_json_get(es_json_get(r, "a")->u.arr.items[2], "b"), "null");
  assert_raw(es_json_get(r, "c"), "\"x\\ny\"");
  assert_raw(es_json_get(r, "n"), "-1.5e3");
  assert_raw(es_json_get(r, "o"), "{ \"p\" : { } }");
  assert_raw(es_json_get(es_json_get(r, "o"), "p"), "{ }");
  es_json_free(doc);
}

/* ----------------------- Refusals ----------------------- */

#define AT "malformed JSON at offset "

static const struct refusal {
  const char *in;
  size_t len; /* 0: strlen(in) */
  const char *msg;
} refusals[] = {
    /* empty input and whitespace */
    {"", 0, AT "0: unexpected end of input"},
    {"   ", 0, AT "3: unexpected end of input"},
    {" \t\n\r", 0, AT "4: unexpected end of input"},
    {"\f1", 0, AT "0: unexpected byte 0x0c"},
    {"\v1", 0, AT "0: unexpected byte 0x0b"},
    {"\xc2\xa0" "1", 0, AT "0: unexpected byte 0xc2"},
    {"\xef\xbb\xbf{}", 0, AT "0: unexpected byte 0xef"},
    {"\x7f", 0, AT "0: unexpected byte 0x7f"},
    {"[\0]", 3, AT "1: unexpected byte 0x00"},
    {"~", 0, AT "0: unexpected character '~'"},
    /* trailing commas */
    {"[1,]", 0, AT "3: unexpected character ']'"},
    {"[1,2,]", 0, AT "5: unexpected character ']'"},
    {"{\"a\":1,}", 0, AT "7: expected a string key"},
    {"[,1]", 0, AT "1: unexpected character ','"},
    {"[1,,2]", 0, AT "3: unexpected character ','"},
    {"{,}", 0, AT "1: expected a string key"},
    /* comments */
    {"/* c */ 1", 0, AT "0: unexpected character '/'"},
    {"[1 // c\n]", 0, AT "3: expected ',' or ']'"},
    {"{\"a\":1 /*x*/}", 0, AT "7: expected ',' or '}'"},
    {"1 # c", 0, AT "2: trailing characters after the value"},
    /* quotes and keys */
    {"'a'", 0, AT "0: unexpected character '''"},
    {"{'a':1}", 0, AT "1: expected a string key"},
    {"{a:1}", 0, AT "1: expected a string key"},
    {"{1:2}", 0, AT "1: expected a string key"},
    {"{\"a\":1,\"b\"}", 0, AT "10: expected ':' after object key"},
    {"{\"a\" 1}", 0, AT "5: expected ':' after object key"},
    {"{\"a\";1}", 0, AT "4: expected ':' after object key"},
    {"{\"a\":}", 0, AT "5: unexpected character '}'"},
    {"{\"a\":1 \"b\":2}", 0, AT "7: expected ',' or '}'"},
    {"{\"a\":1]", 0, AT "6: expected ',' or '}'"},
    {"[1}", 0, AT "2: expected ',' or ']'"},
    {"[1 2]", 0, AT "3: expected ',' or ']'"},
    {"[true false]", 0, AT "6: expected ',' or ']'"},
    {"[1\x7f]", 0, AT "2: expected ',' or ']'"},
    /* unterminated structures */
    {"[", 0, AT "1: unexpected end of input"},
    {"[1", 0, AT "2: unexpected end of input"},
    {"[1,", 0, AT "3: unexpected end of input"},
    {"{", 0, AT "1: unexpected end of input"},
    {"{\"a\"", 0, AT "4: unexpected end of input"},
    {"{\"a\":", 0, AT "5: unexpected end of input"},
    {"{\"a\":1", 0, AT "6: unexpected end of input"},
    {"{\"a\":1,", 0, AT "7: unexpected end of input"},
    {"]", 0, AT "0: unexpected character ']'"},
    {"}", 0, AT "0: unexpected character '}'"},
    /* trailing garbage */
    {"[1]]", 0, AT "3: trailing characters after the value"},
    {"{}}", 0, AT "2: trailing characters after the value"},
    {"[] []", 0, AT "3: trailing characters after the value"},
    {"1 2", 0, AT "2: trailing characters after the value"},
    {"\"a\" \"b\"", 0, AT "4: trailing characters after the value"},
    {"[1]\0", 4, AT "3: trailing characters after the value"},
    {"nulll", 0, AT "4: trailing characters after the value"},
    {"falsey", 0, AT "5: trailing characters after the value"},
    {"true false", 0, AT "5: trailing characters after the value"},
    {"0x10", 0, AT "1: trailing characters after the value"},
    {"1_000", 0, AT "1: trailing characters after the value"},
    /* literals */
    {"tru", 0, AT "3: unexpected end of input"},
    {"truE", 0, AT "3: unexpected character 'E'"},
    {"True", 0, AT "0: unexpected character 'T'"},
    {"nul", 0, AT "3: unexpected end of input"},
    {"fals", 0, AT "4: unexpected end of input"},
    {"n\xc3\xa9", 0, AT "1: unexpected byte 0xc3"},
    {"NaN", 0, AT "0: unexpected character 'N'"},
    {"nan", 0, AT "1: unexpected character 'a'"},
    {"Infinity", 0, AT "0: unexpected character 'I'"},
    {"-Infinity", 0, AT "1: invalid number"},
    {"undefined", 0, AT "0: unexpected character 'u'"},
    /* numbers */
    {"01", 0, AT "0: leading zero in number"},
    {"00", 0, AT "0: leading zero in number"},
    {"-01", 0, AT "1: leading zero in number"},
    {"[01]", 0, AT "1: leading zero in number"},
    {"007.5", 0, AT "0: leading zero in number"},
    {"+1", 0, AT "0: unexpected character '+'"},
    {".5", 0, AT "0: unexpected character '.'"},
    {"-.5", 0, AT "1: invalid number"},
    {"5.", 0, AT "2: unexpected end of input"},
    {"[5.]", 0, AT "3: invalid number"},
    {"5.e3", 0, AT "2: invalid number"},
    {"-", 0, AT "1: unexpected end of input"},
    {"-a", 0, AT "1: invalid number"},
    {"- 1", 0, AT "1: invalid number"},
    {"1e", 0, AT "2: unexpected end of input"},
    {"1e+", 0, AT "3: unexpected end of input"},
    {"1E-", 0, AT "3: unexpected end of input"},
    {"1e+x", 0, AT "3: invalid number"},
    {"1.5e", 0, AT "4: unexpected end of input"},
    {"1e999", 0, AT "0: number out of range"},
    {"[-1e999]", 0, AT "1: number out of range"},
    {"{\"a\": 1.8e308}", 0, AT "6: number out of range"},
    {"1111111111111111111111111111111111111111111111111111111111111111111111e300", 0,
     AT "0: number out of range"},
    /* strings: structure and escapes */
    {"\"", 0, AT "1: unexpected end of input"},
    {"\"abc", 0, AT "4: unexpected end of input"},
    {"\"\\", 0, AT "2: unexpected end of input"},
    {"\"\\\"", 0, AT "3: unexpected end of input"},
    {"\"a\x01z\"", 0, AT "2: control character in string"},
    {"\"\t\"", 0, AT "1: control character in string"},
    {"\"a\nb\"", 0, AT "2: control character in string"},
    {"\"\x1f\"", 0, AT "1: control character in string"},
    {"\"\0\"", 3, AT "1: control character in string"},
    {"\"\\x\"", 0, AT "2: invalid escape"},
    {"\"\\U0041\"", 0, AT "2: invalid escape"},
    {"\"\\'\"", 0, AT "2: invalid escape"},
    {"\"\\a\"", 0, AT "2: invalid escape"},
    {"\"\\\0\"", 4, AT "2: invalid escape"},
    {"\"\\u12\"", 0, AT "5: invalid \\u escape"},
    {"\"\\uGGGG\"", 0, AT "3: invalid \\u escape"},
    {"\"\\u00e\"", 0, AT "6: invalid \\u escape"},
    {"\"\\u12", 0, AT "5: unexpected end of input"},
    /* strings: surrogates */
    {"\"\\uD800\"", 0, AT "1: unpaired surrogate"},
    {"\"\\uDC00\"", 0, AT "1: unpaired surrogate"},
    {"\"\\udfff\"", 0, AT "1: unpaired surrogate"},
    {"\"\\uD800\\u0041\"", 0, AT "1: unpaired surrogate"},
    {"\"\\uD800\\uD800\"", 0, AT "1: unpaired surrogate"},
    {"\"\\uD800\\n\"", 0, AT "1: unpaired surrogate"},
    {"\"\\uD800x\"", 0, AT "1: unpaired surrogate"},
    {"\"\\uDC00\\uD800\"", 0, AT "1: unpaired surrogate"},
    {"\"ab\\uDBFF\\uDFFF\\uDFFF\"", 0, AT "15: unpaired surrogate"},
    {"\"\\uD800", 0, AT "7: unexpected end of input"},
    {"\"\\uD800\\", 0, AT "8: unexpected end of input"},
    {"\"\\uD800\\u12", 0, AT "11: unexpected end of input"},
    {"\"\\uD800\\uZ\"", 0, AT "9: invalid \\u escape"},
    /* strings: invalid UTF-8 in the input */
    {"\"\x80\"", 0, AT "1: invalid UTF-8"},
    {"\"\xbf\"", 0, AT "1: invalid UTF-8"},
    {"\"\xc0\xaf\"", 0, AT "1: invalid UTF-8"},
    {"\"\xc1\xbf\"", 0, AT "1: invalid UTF-8"},
    {"\"\xe0\x80\xaf\"", 0, AT "1: invalid UTF-8"},
    {"\"\xe0\x9f\xbf\"", 0, AT "1: invalid UTF-8"},
    {"\"\xf0\x80\x80\xaf\"", 0, AT "1: invalid UTF-8"},
    {"\"\xf0\x8f\xbf\xbf\"", 0, AT "1: invalid UTF-8"},
    {"\"\xed\xa0\x80\"", 0, AT "1: invalid UTF-8"},
    {"\"\xed\xbf\xbf\"", 0, AT "1: invalid UTF-8"},
    {"\"\xf4\x90\x80\x80\"", 0, AT "1: invalid UTF-8"},
    {"\"\xf5\x80\x80\x80\"", 0, AT "1: invalid UTF-8"},
    {"\"\xf8\x88\x80\x80\x80\"", 0, AT "1: invalid UTF-8"},
    {"\"\xfe\"", 0, AT "1: invalid UTF-8"},
    {"\"\xff\"", 0, AT "1: invalid UTF-8"},
    {"\"a\xc3\"", 0, AT "2: invalid UTF-8"},
    {"\"\xc3\x28\"", 0, AT "1: invalid UTF-8"},
    {"\"\xe2\x82\"", 0, AT "1: invalid UTF-8"},
    {"\"\xe2\x82", 0, AT "1: invalid UTF-8"},
    {"\"\xe2\x28\xa1\"", 0, AT "1: invalid UTF-8"},
    {"\"\xf0\x9f\x98\"", 0, AT "1: invalid UTF-8"},
    {"\"\xf0\x9f\x98\x28\"", 0, AT "1: invalid UTF-8"},
    {"{\"k\xff\":1}", 0, AT "3: invalid UTF-8"},
    /* duplicate keys (compared decoded) */
    {"{\"a\":1,\"a\":2}", 0, AT "7: duplicate key \"a\""},
    {"{\"a\":1,\"\\u0061\":2}", 0, AT "7: duplicate key \"a\""},
    {"{\"a\":1,\"a\":", 0, AT "7: duplicate key \"a\""},
    {"{\"a\":1, \"b\":2, \"a\":[}", 0, AT "15: duplicate key \"a\""},
    {"{\"a\":{\"b\":1,\"b\":2}}", 0, AT "12: duplicate key \"b\""},
    {"[{},{\"x\":[],\"x\":{}}]", 0, AT "12: duplicate key \"x\""},
    {"{\"k\\n\\\"\":1,\"k\\n\\\"\":2}", 0, AT "11: duplicate key \"k\\n\\\"\""},
    {"{\"\\u0000\":1,\"\\u0000\":2}", 0, AT "12: duplicate key \"\\u0000\""},
    {"{\"\\u0001\":1,\"\\u0001\":2}", 0, AT "12: duplicate key \"\\u0001\""},
    {"{\"\xc3\xa9\":1,\"\\u00e9\":2}", 0, AT "8: duplicate key \"\xc3\xa9\""},
    {"{\"\":1,\"\":2}", 0, AT "6: duplicate key \"\""},
};

static void test_refusals(void **state) {
  (void)state;
  for (size_t i = 0; i < sizeof refusals / sizeof refusals[0]; i++) {
    const struct refusal *r = &refusals[i];
    refused_n(r->in, r->len ? r->len : strlen(r->in), r->msg);
  }
}

static void test_refusal_without_errmsg(void **state) {
  (void)state;
  es_json_doc *doc = NULL;
  assert_int_equal(es_json_parse("{\"a\":1,\"a\":2}", 13, &doc, NULL), ES_INVALID_PAYLOAD);
  assert_null(doc);
  assert_int_equal(es_json_parse("[1,]", 4, &doc, NULL), ES_INVALID_PAYLOAD);
  assert_null(doc);
  assert_int_equal(es_json_parse(NULL, 0, &doc, NULL), ES_INVALID_PAYLOAD);
  assert_null(doc);
}

static void test_length_is_respected(void **state) {
  (void)state;
  es_json_doc *doc = parse_ok_n("[1,2]garbage", 5); /* bytes after len are not input */
  assert_int_equal(es_json_root(doc)->u.arr.n, 2);
  es_json_free(doc);
  refused_n("\"abc\"", 4, AT "4: unexpected end of input");
  refused_n("truex", 3, AT "3: unexpected end of input");
  refused_n("-1", 1, AT "1: unexpected end of input");
}

/* ----------------------- Duplicate keys ----------------------- */

static void test_same_key_in_different_objects(void **state) {
  (void)state;
  static const char *ok[] = {
      "{\"a\":{\"a\":1},\"b\":{\"a\":2}}",
      "[{\"a\":1},{\"a\":2}]",
      "{\"a\":1,\"A\":2}",
      "{\"a\":1,\"a\\u0000\":2}",
      "{\"a\":1,\"ab\":2,\"b\":3}",
      "{\"a\":{\"b\":{\"a\":{\"b\":1}}},\"b\":2}",
  };
  for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) es_json_free(parse_ok(ok[i]));
}

/* n keys "k0".."k<n-1>", each value given by val (may be NULL: the key's index). */
static char *object_text(size_t n, const char *val, const char *extra) {
  size_t cap = n * (24 + (val ? strlen(val) : 0)) + strlen(extra) + 8, len = 1;
  char *s = es_mem_alloc(cap);
  assert_non_null(s);
  s[0] = '{';
  for (size_t i = 0; i < n; i++) {
    len += (size_t)snprintf(s + len, cap - len, "%s\"k%zu\":", i ? "," : "", i);
    len += val ? (size_t)snprintf(s + len, cap - len, "%s", val) : (size_t)snprintf(s + len, cap - len, "%zu", i);
  }
  snprintf(s + len, cap - len, "%s}", extra);
  return s;
}

static void test_large_objects(void **state) {
  (void)state;
  char *s = object_text(5000, NULL, "");
  es_json_doc *doc = parse_ok(s);
  const es_json *r = es_json_root(doc);
  assert_int_equal(r->u.obj.n, 5000);
  assert_int_equal(es_json_get(r, "k4321")->u.i, 4321);
  es_json_free(doc);
  es_mem_free(s);

  s = object_text(5000, NULL, ",\"k4999\":0");
  char want[80];
  snprintf(want, sizeof want, AT "%zu: duplicate key \"k4999\"", strlen(s) - strlen("\"k4999\":0}"));
  refused(s, want);
  es_mem_free(s);

  /* Nested big objects reuse the same keys: each object's keys leave the set when it closes. */
  char *inner = object_text(300, "[1]", "");
  s = object_text(100, inner, "");
  doc = parse_ok(s);
  r = es_json_root(doc);
  assert_int_equal(r->u.obj.n, 100);
  assert_int_equal(es_json_get(r, "k99")->u.obj.n, 300);
  es_json_free(doc);
  es_mem_free(s);

  s = object_text(100, inner, ",\"k50\":1");
  snprintf(want, sizeof want, AT "%zu: duplicate key \"k50\"", strlen(s) - strlen("\"k50\":1}"));
  refused(s, want);
  es_mem_free(s);
  es_mem_free(inner);
}

/* A document of the size of an event's data or a state is one allocation, whatever it holds;
** its parse allocates nothing else, and freeing it leaves nothing behind. */
static void test_small_document_is_one_allocation(void **state) {
  (void)state;
  static const char *texts[] = {
      "{\"amount\":123}",
      "{\"status\":\"open\",\"owner\":\"acc-000001\",\"balance\":1200}",
      "{\"a\":[1,2,{\"b\":\"x\\u00e9\\n\"}],\"c\":{\"d\":[[],{}]},\"e\":-1.5e3,\"f\":null}",
      "0",
      "\"\"",
      "[0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0]",
  };
  for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
    long live = fake_mem_live(), before = fake_mem_count();
    es_json_doc *doc = parse_ok(texts[i]);
    if (fake_mem_count() - before != 1) fail_msg("<%s>: %ld allocations", texts[i], fake_mem_count() - before);
    es_json_free(doc);
    assert_int_equal(fake_mem_live(), live);
  }
}

/* es_json_parse_again: a loop over documents reuses one block while they fit in it; a bigger one
** gets a bigger block; a refused one frees it; every tree is whole and nothing leaks. */
static void test_parse_again_reuses_the_document(void **state) {
  (void)state;
  static const char *texts[] = {"{\"owner\":\"acc-000001\"}", "{\"amount\":5}", "{\"amount\":123456}",
                                "{\"a\":[1,2,3],\"b\":{\"c\":\"a much longer text than the first one held\"}}",
                                "{\"amount\":7}", "[1,", "{\"amount\":8}"};
  long live = fake_mem_live(), before = fake_mem_count();
  es_json_doc *doc = NULL;
  char *err = NULL;
  for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
    es_status rc = es_json_parse_again(texts[i], strlen(texts[i]), &doc, &err);
    if (i == 5) {
      assert_int_equal(rc, ES_INVALID_PAYLOAD);
      assert_null(doc);
      assert_string_equal(err, AT "3: unexpected end of input");
      es_mem_free(err);
      continue;
    }
    assert_int_equal(rc, ES_OK);
    assert_null(err);
    assert_int_equal(es_json_root(doc)->raw_len, strlen(texts[i]));
    if (i == 1 || i == 2) assert_int_equal(es_json_get(es_json_root(doc), "amount")->u.i, i == 1 ? 5 : 123456);
    if (i == 3) assert_string_equal(es_json_get(es_json_get(es_json_root(doc), "b"), "c")->u.str.s,
                                    "a much longer text than the first one held");
    if (i == 4) assert_int_equal(es_json_get(es_json_root(doc), "amount")->u.i, 7);
  }
  assert_int_equal(es_json_get(es_json_root(doc), "amount")->u.i, 8);
  es_json_free(doc);
  assert_int_equal(fake_mem_live(), live);
  /* the first block, one for the bigger document, one after the refusal (and the message) */
  assert_int_equal(fake_mem_count() - before, 4);
}

/* Where the scratch stacks leave the parser for the heap (past 16 members or items, the key set
** past 32 slots), every value and every duplicate is still found. */
static void test_stacks_past_their_local_size(void **state) {
  (void)state;
  char want[80];
  for (size_t n = 14; n <= 40; n++) {
    char *s = object_text(n, NULL, "");
    es_json_doc *doc = parse_ok(s);
    assert_int_equal(es_json_root(doc)->u.obj.n, n);
    char key[32];
    for (size_t k = 0; k < n; k++) {
      snprintf(key, sizeof key, "k%zu", k);
      assert_int_equal(es_json_get(es_json_root(doc), key)->u.i, (int64_t)k);
    }
    es_json_free(doc);
    es_mem_free(s);
    s = object_text(n, NULL, ",\"k0\":1");
    snprintf(want, sizeof want, AT "%zu: duplicate key \"k0\"", strlen(s) - strlen("\"k0\":1}"));
    refused(s, want);
    es_mem_free(s);
    s = repeat("[", "7,", n, "8]");
    doc = parse_ok(s);
    assert_int_equal(es_json_root(doc)->u.arr.n, n + 1);
    assert_int_equal(es_json_root(doc)->u.arr.items[n - 1]->u.i, 7);
    assert_int_equal(es_json_root(doc)->u.arr.items[n]->u.i, 8);
    es_json_free(doc);
    es_mem_free(s);
  }
  /* an inner object pushes the member stack past its local size while the outer one is open */
  char *inner = object_text(20, NULL, "");
  char *s = es_mem_printf("{\"x\":1,\"in\":%s,\"x\":2}", inner);
  snprintf(want, sizeof want, AT "%zu: duplicate key \"x\"", strlen(s) - strlen("\"x\":2}"));
  refused(s, want);
  es_mem_free(s);
  es_mem_free(inner);
}

/* ----------------------- Limits ----------------------- */

static void test_depth(void **state) {
  (void)state;
  char *s = repeat("", "[", 200, "");
  char *t = repeat(s, "]", 200, "");
  es_json_doc *doc = parse_ok(t);
  const es_json *v = es_json_root(doc);
  for (int i = 1; i < 200; i++) v = v->u.arr.items[0];
  assert_int_equal(v->u.arr.n, 0);
  es_json_free(doc);
  es_mem_free(t);
  es_mem_free(s);

  s = repeat("", "[", 201, "");
  t = repeat(s, "]", 201, "");
  refused(t, AT "200: nested deeper than 200 levels");
  refused(s, AT "200: nested deeper than 200 levels"); /* checked before anything after it */
  es_mem_free(t);
  es_mem_free(s);

  s = repeat("", "{\"a\":", 200, "1");
  t = repeat(s, "}", 200, "");
  es_json_free(parse_ok(t));
  es_mem_free(t);
  es_mem_free(s);

  s = repeat("", "{\"a\":", 201, "1");
  t = repeat(s, "}", 201, "");
  refused(t, AT "1000: nested deeper than 200 levels");
  es_mem_free(t);
  es_mem_free(s);

  s = repeat("", "[{\"a\":", 100, "[\"deep\"]");
  t = repeat(s, "}]", 100, "");
  refused(t, AT "600: nested deeper than 200 levels");
  es_mem_free(t);
  es_mem_free(s);
  s = repeat("", "[{\"a\":", 100, "\"deep\"");
  t = repeat(s, "}]", 100, "");
  es_json_free(parse_ok(t));
  es_mem_free(t);
  es_mem_free(s);
}

static void test_ten_megabyte_string(void **state) {
  (void)state;
  const size_t mb10 = 10u * 1024 * 1024;
  char *s = repeat("{\"payload\":\"", "abcdefgh", mb10 / 8, "\\n\\u00e9\"}");
  es_json_doc *doc = parse_ok(s);
  const es_json *p = es_json_get(es_json_root(doc), "payload");
  assert_int_equal(p->kind, ES_JSON_STRING);
  assert_int_equal(p->u.str.n, mb10 + 3);
  assert_memory_equal(p->u.str.s + mb10, "\n\xc3\xa9", 4);
  assert_int_equal(p->raw_len, strlen(s) - strlen("{\"payload\":}"));
  es_json_free(doc);
  es_mem_free(s);
}

/* ----------------------- Writer ----------------------- */

static char *take(es_jbuf *b, size_t *len) {
  assert_int_equal(es_jbuf_status(b), ES_OK);
  char *z = es_jbuf_take(b, len);
  assert_non_null(z);
  return z;
}

static void assert_take(es_jbuf *b, const char *want, size_t want_len) {
  size_t len = 99;
  char *z = take(b, &len);
  assert_int_equal(len, want_len);
  assert_memory_equal(z, want, want_len + 1);
  es_mem_free(z);
}

#define ASSERT_TAKE(b, want) assert_take(b, want, sizeof want - 1)

static void test_jbuf_basics(void **state) {
  (void)state;
  es_jbuf b;
  es_jbuf_init(&b);
  assert_int_equal(es_jbuf_status(&b), ES_OK);
  ASSERT_TAKE(&b, ""); /* an empty buffer still yields an allocated "" */
  es_jbuf_append(&b, "ab", 2);
  es_jbuf_appendz(&b, "cd");
  es_jbuf_append(&b, "", 0);
  assert_int_equal(b.n, 4);
  assert_string_equal(b.z, "abcd");
  ASSERT_TAKE(&b, "abcd");
  assert_null(b.z); /* take resets */
  assert_int_equal(b.n, 0);
  es_jbuf_appendz(&b, "x");
  es_jbuf_reset(&b);
  assert_null(b.z);
  es_jbuf_appendz(&b, "y");
  ASSERT_TAKE(&b, "y");

  char *big = repeat("", "0123456789", 10000, "");
  es_jbuf_appendz(&b, big);
  es_jbuf_appendz(&b, big);
  assert_int_equal(b.n, 200000);
  assert_int_equal(b.z[b.n], 0);
  assert_memory_equal(b.z + 100000, big, 100000);
  es_jbuf_reset(&b);
  es_mem_free(big);
}

static void test_jbuf_take_without_len(void **state) {
  (void)state;
  es_jbuf b;
  es_jbuf_init(&b);
  es_jbuf_appendz(&b, "abc");
  char *z = es_jbuf_take(&b, NULL);
  assert_string_equal(z, "abc");
  es_mem_free(z);
}

static void test_jbuf_int(void **state) {
  (void)state;
  es_jbuf b;
  es_jbuf_init(&b);
  es_jbuf_int(&b, 0);
  es_jbuf_appendz(&b, ",");
  es_jbuf_int(&b, -1);
  es_jbuf_appendz(&b, ",");
  es_jbuf_int(&b, 1234567);
  es_jbuf_appendz(&b, ",");
  es_jbuf_int(&b, INT64_MAX);
  es_jbuf_appendz(&b, ",");
  es_jbuf_int(&b, INT64_MIN);
  ASSERT_TAKE(&b, "0,-1,1234567,9223372036854775807,-9223372036854775808");
}

static void test_jbuf_string_escaping(void **state) {
  (void)state;
  es_jbuf b;
  es_jbuf_init(&b);
  es_jbuf_string(&b, "", 0);
  ASSERT_TAKE(&b, "\"\"");
  es_jbuf_string(&b, "plain / text", 12);
  ASSERT_TAKE(&b, "\"plain / text\"");
  const char in[] = "a\"b\\c\b\f\n\r\t\x01\x1f\x7f \xc3\xa9\xf0\x9f\x98\x80\0z";
  es_jbuf_string(&b, in, sizeof in - 1);
  ASSERT_TAKE(&b, "\"a\\\"b\\\\c\\b\\f\\n\\r\\t\\u0001\\u001f\x7f \xc3\xa9\xf0\x9f\x98\x80\\u0000z\"");
  es_jbuf_string(&b, "\x1b[0m", 4);
  ASSERT_TAKE(&b, "\"\\u001b[0m\"");
}

static void test_jbuf_string_round_trip(void **state) {
  (void)state;
  char in[200];
  size_t n = 0;
  for (int c = 0; c < 128; c++) in[n++] = (char)c;
  const char utf8[] = "\xc2\x80\xdf\xbf\xe0\xa0\x80\xef\xbf\xbf\xf0\x90\x80\x80\xf4\x8f\xbf\xbf";
  memcpy(in + n, utf8, sizeof utf8 - 1);
  n += sizeof utf8 - 1;
  es_jbuf b;
  es_jbuf_init(&b);
  es_jbuf_string(&b, in, n);
  size_t len;
  char *z = take(&b, &len);
  es_json_doc *doc = parse_ok_n(z, len);
  const es_json *v = es_json_root(doc);
  assert_int_equal(v->kind, ES_JSON_STRING);
  assert_int_equal(v->u.str.n, n);
  assert_memory_equal(v->u.str.s, in, n);
  es_json_free(doc);
  es_mem_free(z);
}

static void test_tree_round_trip(void **state) {
  (void)state;
  const char *text = "{\"a\":[1,-2.5,\"s\\u0000\\\"\",[],{},[[null,true,false]]],\"b\":{\"c\":1e300,\"d\":0.1},"
                     "\"\\u00e9\\ud83d\\ude00\":-9223372036854775808,\"e\":18446744073709551616}";
  es_json_doc *doc = parse_ok(text);
  es_jbuf b;
  es_jbuf_init(&b);
  write_tree(&b, es_json_root(doc));
  size_t len;
  char *z = take(&b, &len);
  assert_string_equal(z, "{\"a\":[1,-2.5,\"s\\u0000\\\"\",[],{},[[null,true,false]]],\"b\":{\"c\":1e+300,\"d\":0.1},"
                         "\"\xc3\xa9\xf0\x9f\x98\x80\":-9223372036854775808,\"e\":1.8446744073709552e+19}");
  es_json_doc *again = parse_ok_n(z, len);
  es_jbuf_init(&b);
  write_tree(&b, es_json_root(again));
  char *z2 = take(&b, NULL);
  assert_string_equal(z, z2);
  es_mem_free(z2);
  es_json_free(again);
  es_mem_free(z);
  es_json_free(doc);
}

/* The text es_jbuf_real writes for v; it must parse as a JSON number with exactly v's value. */
static void check_real_text(double v, const char *want) {
  es_jbuf b;
  es_jbuf_init(&b);
  es_jbuf_real(&b, v);
  size_t len;
  char *z = take(&b, &len);
  if (strcmp(z, want) != 0) fail_msg("%.17g written as %s, expected %s", v, z, want);
  es_json_doc *doc = parse_ok_n(z, len);
  const es_json *r = es_json_root(doc);
  if (isfinite(v)) {
    assert_true(r->kind == ES_JSON_REAL || r->kind == ES_JSON_INT);
    double back = r->kind == ES_JSON_REAL ? r->u.r : (double)r->u.i;
    assert_true(back == v);
  } else {
    assert_int_equal(r->kind, ES_JSON_NULL);
  }
  es_json_free(doc);
  es_mem_free(z);
}

static void test_jbuf_real(void **state) {
  (void)state;
  check_real_text(0.1, "0.1");
  check_real_text(1.5, "1.5");
  check_real_text(-2.25, "-2.25");
  check_real_text(100.0, "100");
  check_real_text(0.0, "0");
  check_real_text(-0.0, "-0");
  check_real_text(1e300, "1e+300");
  check_real_text(-1e-300, "-1e-300");
  check_real_text(1e21, "1e+21");
  check_real_text(1.0 / 3, "0.3333333333333333");
  check_real_text(0.1 + 0.2, "0.30000000000000004");
  check_real_text(123456789.125, "123456789.125");
  check_real_text(9007199254740993.0, "9007199254740992");
  check_real_text(DBL_MAX, "1.7976931348623157e+308");
  check_real_text(DBL_MIN, "2.2250738585072014e-308");
  check_real_text(4.9406564584124654e-324, "4.94065645841247e-324"); /* %.15g already reads back */
  check_real_text(1.5e-7, "1.5e-07");
  check_real_text(INFINITY, "null");
  check_real_text(-INFINITY, "null");
  check_real_text(NAN, "null");
}

static void test_jbuf_failed_stays_failed(void **state) {
  (void)state;
  es_jbuf b;
  es_jbuf_init(&b);
  es_jbuf_appendz(&b, "abc");
  char *big = repeat("", "x", 1000, "");
  fake_mem_fail_after(0);
  es_jbuf_appendz(&b, big); /* needs to grow: fails */
  fake_mem_fail_after(-1);
  assert_int_equal(es_jbuf_status(&b), ES_NOMEM);
  assert_null(b.z); /* the text was freed */
  es_jbuf_appendz(&b, "more");
  es_jbuf_string(&b, "s", 1);
  es_jbuf_int(&b, 1);
  es_jbuf_real(&b, 1.5);
  assert_int_equal(es_jbuf_status(&b), ES_NOMEM);
  assert_null(b.z);
  size_t len = 7;
  assert_null(es_jbuf_take(&b, &len));
  assert_int_equal(len, 0);
  assert_int_equal(es_jbuf_status(&b), ES_OK); /* take resets */
  es_jbuf_appendz(&b, "ok");
  ASSERT_TAKE(&b, "ok");

  es_jbuf_init(&b);
  fake_mem_fail_after(0);
  assert_null(es_jbuf_take(&b, &len)); /* even "" needs memory */
  fake_mem_fail_after(-1);
  es_mem_free(big);
}

/* ----------------------- Out of memory ----------------------- */

static void test_parse_oom(void **state) {
  (void)state;
  /* Exercises every allocation: arena chunks (ordinary and dedicated), the item and member
  ** stacks and the key set growing, a number longer than the local buffer, decoded strings. */
  char *items = repeat("[", "[1,\"x\\u00e9\"],", 200, "0]");
  char *str = repeat("\"", "abcdefgh", 2000, "\"");
  char *num = repeat("1", "0", 100, ".5");
  char *obj = object_text(40, "{\"a\":[true,null],\"b\":{}}", "");
  char *text = es_mem_printf("{\"items\":%s,\"str\":%s,\"num\":%s,\"obj\":%s}", items, str, num, obj);
  long n, baseline = fake_mem_live();
  es_status rc = ES_NOMEM;
  for (n = 0; rc == ES_NOMEM; n++) {
    es_json_doc *doc = (es_json_doc *)&doc;
    char *err = (char *)&err;
    fake_mem_fail_after(n);
    rc = es_json_parse(text, strlen(text), &doc, &err);
    fake_mem_fail_after(-1);
    if (rc == ES_NOMEM) {
      assert_null(doc);
      assert_null(err);
      assert_int_equal(fake_mem_live(), baseline);
      continue;
    }
    assert_int_equal(rc, ES_OK);
    assert_null(err);
    const es_json *r = es_json_root(doc);
    assert_int_equal(es_json_get(r, "items")->u.arr.n, 201);
    assert_int_equal(es_json_get(r, "str")->u.str.n, 16000);
    assert_int_equal(es_json_get(r, "num")->kind, ES_JSON_REAL);
    assert_int_equal(es_json_get(r, "obj")->u.obj.n, 40);
    es_json_free(doc);
    assert_int_equal(fake_mem_live(), baseline);
  }
  assert_true(n > 10); /* really went through many failure points */
  es_mem_free(text);
  es_mem_free(obj);
  es_mem_free(num);
  es_mem_free(str);
  es_mem_free(items);
}

static void test_parse_oom_on_error(void **state) {
  (void)state;
  static const char *texts[] = {
      "{\"a\":[1,2,{\"b\":\"x\"}],\"k\\n\":1,\"k\\n\":2}",
      "[1,2,{\"a\":\"b\"},1e999]",
      "[\"abc\",tru]",
  };
  static const char *msgs[] = {
      AT "29: duplicate key \"k\\n\"",
      AT "15: number out of range",
      AT "10: unexpected character ']'",
  };
  for (size_t t = 0; t < 3; t++) {
    long baseline = fake_mem_live();
    es_status rc = ES_NOMEM;
    for (long n = 0; rc == ES_NOMEM; n++) {
      es_json_doc *doc = NULL;
      char *err = NULL;
      fake_mem_fail_after(n);
      rc = es_json_parse(texts[t], strlen(texts[t]), &doc, &err);
      fake_mem_fail_after(-1);
      assert_null(doc);
      if (rc == ES_NOMEM) {
        assert_null(err);
      } else {
        assert_int_equal(rc, ES_INVALID_PAYLOAD);
        assert_string_equal(err, msgs[t]);
        es_mem_free(err);
      }
      assert_int_equal(fake_mem_live(), baseline);
    }
  }
}

static void test_jbuf_oom(void **state) {
  (void)state;
  char *big = repeat("", "0123456789", 100, "");
  long baseline = fake_mem_live();
  int done = 0;
  for (long n = 0; !done; n++) {
    es_jbuf b;
    es_jbuf_init(&b);
    fake_mem_fail_after(n);
    for (int i = 0; i < 20; i++) {
      es_jbuf_string(&b, big, 1000);
      es_jbuf_int(&b, i);
      es_jbuf_real(&b, 0.5);
    }
    size_t len = 5;
    char *z = es_jbuf_take(&b, &len);
    fake_mem_fail_after(-1);
    done = z != NULL;
    if (z) {
      assert_int_equal(len, 20 * 1002 + 30 + 20 * 3);
      assert_memory_equal(z, "\"0123456789", 11);
    } else {
      assert_int_equal(len, 0);
    }
    es_mem_free(z);
    assert_int_equal(fake_mem_live(), baseline);
  }
  es_mem_free(big);
}

int main(void) {
  const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, unit_setup, unit_teardown)
      T(test_literals),
      T(test_kind_names),
      T(test_integers),
      T(test_integer_overflow_is_real),
      T(test_reals),
      T(test_int64_exact),
      T(test_int64_other_kinds),
      T(test_strings),
      T(test_arrays_and_objects),
      T(test_many_items),
      T(test_key_with_nul_not_found_by_c_string),
      T(test_raw_spans),
      T(test_refusals),
      T(test_refusal_without_errmsg),
      T(test_length_is_respected),
      T(test_same_key_in_different_objects),
      T(test_large_objects),
      T(test_small_document_is_one_allocation),
      T(test_stacks_past_their_local_size),
      T(test_parse_again_reuses_the_document),
      T(test_depth),
      T(test_ten_megabyte_string),
      T(test_jbuf_basics),
      T(test_jbuf_take_without_len),
      T(test_jbuf_int),
      T(test_jbuf_string_escaping),
      T(test_jbuf_string_round_trip),
      T(test_tree_round_trip),
      T(test_jbuf_real),
      T(test_jbuf_failed_stays_failed),
      T(test_parse_oom),
      T(test_parse_oom_on_error),
      T(test_jbuf_oom),
#undef T
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
