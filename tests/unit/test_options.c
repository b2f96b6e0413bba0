/*
** test_options.c — unit tests of the options of es_submit (ext/domain/options.h):
** expected_version (integer, "any", "no_stream", "exists"), command_id and metadata, each accepted
** form, each wrong type with its exact message, unknown options, malformed JSON, options that are
** not an object, the metadata limit, and out of memory at every allocation.
*/
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "../../ext/domain/mem.h"
#include "../../ext/domain/options.h"
#include "fake_mem.h"
#include "unit_support.h"

#define LIMIT 1000 /* the metadata limit these tests pass, unless they test it */

/* Parse text that must be accepted. */
static es_options parsed(const char *text) {
  es_options o;
  es_error err = {0};
  memset(&o, 0x5a, sizeof(o));
  es_status rc = es_options_parse(text, text ? strlen(text) : 0, LIMIT, &o, &err);
  if (rc != ES_OK) fail_msg("options <%s> refused: %s", text, err.message ? err.message : "-");
  assert_int_equal(err.status, ES_OK);
  assert_null(err.message);
  return o;
}

static void refused_n(const char *text, size_t len, size_t limit, const char *message) {
  es_options o;
  es_error err = {0};
  memset(&o, 0x5a, sizeof(o));
  es_status rc = es_options_parse(text, len, limit, &o, &err);
  if (rc != ES_INVALID_ARGUMENT) {
    if (rc == ES_OK) es_options_clear(&o);
    es_error_clear(&err);
    fail_msg("options <%.*s>: %s, expected invalid_argument", (int)len, text, es_status_name(rc));
  }
  assert_int_equal(err.status, ES_INVALID_ARGUMENT);
  assert_null(err.reason);
  assert_str(err.message, message);
  es_error_clear(&err);
  /* Nothing is left behind. */
  assert_int_equal(o.expect, ES_EXPECT_ANY);
  assert_null(o.command_id);
  assert_null(o.metadata);
}

static void refused(const char *text, const char *message) { refused_n(text, strlen(text), LIMIT, message); }

#define EXPECTED_MSG "option expected_version must be an integer >= 0, \"any\", \"no_stream\" or \"exists\""
#define COMMAND_ID_MSG "option command_id must be a non-empty string of at most 1000 bytes"
#define UNKNOWN_MSG(k) "unknown option '" k "' (known: expected_version, command_id, metadata)"

/* ----------------------- Accepted ----------------------- */

static void test_no_options(void **state) {
  (void)state;
  es_options o = parsed(NULL);
  assert_int_equal(o.expect, ES_EXPECT_ANY);
  assert_int_equal(o.expected_version, 0);
  assert_null(o.command_id);
  assert_null(o.metadata);
  o = parsed("{}");
  assert_int_equal(o.expect, ES_EXPECT_ANY);
  assert_null(o.command_id);
  assert_null(o.metadata);
  o = parsed(" \n{ }\t");
  assert_int_equal(o.expect, ES_EXPECT_ANY);
  es_options_clear(&o);
}

static void test_expected_version(void **state) {
  (void)state;
  es_options o = parsed("{\"expected_version\":0}");
  assert_int_equal(o.expect, ES_EXPECT_VERSION);
  assert_int_equal(o.expected_version, 0);
  o = parsed("{\"expected_version\":42}");
  assert_int_equal(o.expect, ES_EXPECT_VERSION);
  assert_int_equal(o.expected_version, 42);
  o = parsed("{\"expected_version\":9223372036854775807}");
  assert_int_equal(o.expect, ES_EXPECT_VERSION);
  assert_true(o.expected_version == INT64_MAX);
  /* Any number whose exact decimal value is an integer >= 0 in int64, as for integer payload fields. */
  static const struct {
    const char *in;
    int64_t v;
  } exact[] = {
      {"3.0", 3}, {"3e0", 3}, {"0.3e1", 3}, {"300e-2", 3}, {"-0.0", 0}, {"0e5", 0}, {"0.000e-5", 0},
      {"9007199254740993.0", 9007199254740993}, {"9.223372036854775807e18", INT64_MAX},
      {"0e999999999999999999999999", 0},
  };
  for (size_t i = 0; i < sizeof(exact) / sizeof(exact[0]); i++) {
    char text[128];
    snprintf(text, sizeof(text), "{\"expected_version\":%s}", exact[i].in);
    o = parsed(text);
    assert_int_equal(o.expect, ES_EXPECT_VERSION);
    if (o.expected_version != exact[i].v)
      fail_msg("<%s>: %lld, expected %lld", exact[i].in, (long long)o.expected_version, (long long)exact[i].v);
  }
  o = parsed("{\"expected_version\":\"any\"}");
  assert_int_equal(o.expect, ES_EXPECT_ANY);
  o = parsed("{\"expected_version\":\"no_stream\"}");
  assert_int_equal(o.expect, ES_EXPECT_NO_STREAM);
  o = parsed("{\"expected_version\":\"exists\"}");
  assert_int_equal(o.expect, ES_EXPECT_EXISTS);
  /* Escapes are decoded before the comparison. */
  o = parsed("{\"expected_version\":\"\\u0061ny\"}");
  assert_int_equal(o.expect, ES_EXPECT_ANY);
  es_options_clear(&o);
}

static void test_expected_version_wrong(void **state) {
  (void)state;
  static const char *const bad[] = {
      "-1", "-9223372036854775808", "1.5", "9223372036854775808", "1e300", "\"ANY\"", "\"Any\"", "\"\"",
      "\"no stream\"", "\"exist\"", "\"1\"", "true", "false", "[]", "[1]", "{}", "{\"v\":1}",
      /* numbers that are not exactly an integer >= 0 in int64 (a double would round some of them) */
      "3.000000000000000001", "0.30000000000000001e1", "1e-400", "-1e-400", "1e-999999999999999999999999", "-1e0",
      "-0.5", "9007199254740993.5", "9.223372036854775808e18", "9223372036854775807.5", "1e19",
  };
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    char text[128];
    snprintf(text, sizeof(text), "{\"expected_version\":%s}", bad[i]);
    refused(text, EXPECTED_MSG);
  }
}

/* The comparison must cover the whole decoded string, not stop at an escaped NUL. */
static void test_expected_version_with_nul(void **state) {
  (void)state;
  refused("{\"expected_version\":\"any\\u0000junk\"}", EXPECTED_MSG);
  refused("{\"expected_version\":\"exists\\u0000\"}", EXPECTED_MSG);
}

static void test_command_id(void **state) {
  (void)state;
  es_options o = parsed("{\"command_id\":\"c-1\"}");
  assert_str(o.command_id, "c-1");
  assert_int_equal(o.expect, ES_EXPECT_ANY);
  es_options_clear(&o);
  assert_null(o.command_id);
  o = parsed("{\"command_id\":null}");
  assert_null(o.command_id);
  /* Decoded. */
  o = parsed("{\"command_id\":\"caf\\u00e9 \\\"1\\\"\"}");
  assert_str(o.command_id, "caf\xc3\xa9 \"1\"");
  es_options_clear(&o);
  /* 1000 bytes is the most. */
  char text[1100];
  int n = snprintf(text, sizeof(text), "{\"command_id\":\"");
  memset(text + n, 'k', 1000);
  strcpy(text + n + 1000, "\"}");
  o = parsed(text);
  assert_int_equal(strlen(o.command_id), 1000);
  es_options_clear(&o);
  strcpy(text + n + 1000, "k\"}");
  refused(text, COMMAND_ID_MSG);
}

static void test_command_id_wrong(void **state) {
  (void)state;
  static const char *const bad[] = {"\"\"", "5", "0", "1.5", "true", "false", "[]", "[\"c-1\"]", "{}", "\"a\\u0000b\"",
                                    "\"\\u0000\""};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    char text[128];
    snprintf(text, sizeof(text), "{\"command_id\":%s}", bad[i]);
    refused(text, COMMAND_ID_MSG);
  }
}

static void test_metadata(void **state) {
  (void)state;
  es_options o = parsed("{\"metadata\":{}}");
  assert_str(o.metadata, "{}");
  es_options_clear(&o);
  /* Kept as written: the object's own text, whitespace inside included. */
  o = parsed("{\"metadata\" : { \"user\" : \"ada\", \"ids\":[1, 2], \"n\":{\"x\":null} } , \"command_id\":\"c\"}");
  assert_str(o.metadata, "{ \"user\" : \"ada\", \"ids\":[1, 2], \"n\":{\"x\":null} }");
  assert_str(o.command_id, "c");
  es_options_clear(&o);
  o = parsed("{\"metadata\":null}");
  assert_null(o.metadata);
}

static void test_metadata_wrong(void **state) {
  (void)state;
  refused("{\"metadata\":[]}", "option metadata must be a JSON object, got array");
  refused("{\"metadata\":\"{}\"}", "option metadata must be a JSON object, got string");
  refused("{\"metadata\":5}", "option metadata must be a JSON object, got integer");
  refused("{\"metadata\":5.5}", "option metadata must be a JSON object, got number");
  refused("{\"metadata\":true}", "option metadata must be a JSON object, got boolean");
  refused("{\"metadata\":false}", "option metadata must be a JSON object, got boolean");
}

static void test_metadata_limit(void **state) {
  (void)state;
  const char *text = "{\"metadata\":{\"k\":\"0123456789\"}}"; /* the object is 18 bytes */
  es_options o;
  es_error err = {0};
  assert_int_equal(es_options_parse(text, strlen(text), 18, &o, &err), ES_OK);
  assert_str(o.metadata, "{\"k\":\"0123456789\"}");
  es_options_clear(&o);
  refused_n(text, strlen(text), 17, "option metadata is 18 bytes; the limit is 17");
  refused_n(text, strlen(text), 0, "option metadata is 18 bytes; the limit is 0");
  /* Only metadata counts against it. */
  const char *other = "{\"command_id\":\"a-long-command-id\",\"metadata\":{}}";
  assert_int_equal(es_options_parse(other, strlen(other), 2, &o, &err), ES_OK);
  assert_str(o.metadata, "{}");
  es_options_clear(&o);
}

static void test_all_together(void **state) {
  (void)state;
  es_options o = parsed("{\"metadata\":{\"a\":1},\"expected_version\":\"exists\",\"command_id\":\"x\"}");
  assert_int_equal(o.expect, ES_EXPECT_EXISTS);
  assert_str(o.command_id, "x");
  assert_str(o.metadata, "{\"a\":1}");
  es_options_clear(&o);
  assert_int_equal(o.expect, ES_EXPECT_ANY);
  assert_null(o.command_id);
  assert_null(o.metadata);
  /* An error after good options frees what they took. */
  refused("{\"command_id\":\"x\",\"metadata\":{\"a\":1},\"expected_version\":-1}", EXPECTED_MSG);
  refused("{\"command_id\":\"x\",\"metadata\":{\"a\":1},\"other\":1}", UNKNOWN_MSG("other"));
  /* The first bad member is the one reported. */
  refused("{\"nope\":1,\"expected_version\":-1}", UNKNOWN_MSG("nope"));
  refused("{\"expected_version\":-1,\"nope\":1}", EXPECTED_MSG);
}

static void test_len_is_respected(void **state) {
  (void)state;
  const char *text = "{\"command_id\":\"c\"}{\"nope\":1}";
  es_options o;
  es_error err = {0};
  assert_int_equal(es_options_parse(text, 18, LIMIT, &o, &err), ES_OK);
  assert_str(o.command_id, "c");
  es_options_clear(&o);
  refused_n(text, strlen(text), LIMIT, "options: malformed JSON at offset 18: trailing characters after the value");
}

/* ----------------------- Refused documents ----------------------- */

static void test_unknown_options(void **state) {
  (void)state;
  refused("{\"nope\":1}", UNKNOWN_MSG("nope"));
  refused("{\"Command_id\":\"c\"}", UNKNOWN_MSG("Command_id"));
  refused("{\"expectedVersion\":1}", UNKNOWN_MSG("expectedVersion"));
  refused("{\"\":1}", UNKNOWN_MSG(""));
  refused("{\"metadata \":{}}", UNKNOWN_MSG("metadata "));
}

/* A key with an escaped NUL is not the key that ends there. */
static void test_unknown_option_with_nul(void **state) {
  (void)state;
  static const char *const texts[] = {"{\"metadata\\u0000x\":{}}", "{\"command_id\\u0000\":\"c\"}",
                                      "{\"expected_version\\u0000\":1}"};
  for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
    es_options o;
    es_error err = {0};
    es_status rc = es_options_parse(texts[i], strlen(texts[i]), LIMIT, &o, &err);
    int unknown = rc == ES_INVALID_ARGUMENT && err.message && strncmp(err.message, "unknown option '", 16) == 0;
    if (!unknown) print_error("options %s: %s (%s)\n", texts[i], es_status_name(rc), err.message ? err.message : "-");
    es_error_clear(&err);
    if (rc == ES_OK) es_options_clear(&o);
    assert_true(unknown);
  }
}

static void test_malformed(void **state) {
  (void)state;
  refused("", "options: malformed JSON at offset 0: unexpected end of input");
  refused("   ", "options: malformed JSON at offset 3: unexpected end of input");
  refused("{", "options: malformed JSON at offset 1: unexpected end of input");
  refused("{\"command_id\":\"c\",}", "options: malformed JSON at offset 18: expected a string key");
  refused("{'command_id':'c'}", "options: malformed JSON at offset 1: expected a string key");
  refused("{\"command_id\" \"c\"}", "options: malformed JSON at offset 14: expected ':' after object key");
  refused("{\"expected_version\":01}", "options: malformed JSON at offset 20: leading zero in number");
  refused("{\"command_id\":\"a\",\"command_id\":\"b\"}",
          "options: malformed JSON at offset 18: duplicate key \"command_id\"");
  refused("{} {}", "options: malformed JSON at offset 3: trailing characters after the value");
}

static void test_not_an_object(void **state) {
  (void)state;
  refused("[]", "options must be a JSON object, got array");
  refused("[{\"command_id\":\"c\"}]", "options must be a JSON object, got array");
  refused("null", "options must be a JSON object, got null");
  refused("1", "options must be a JSON object, got integer");
  refused("1.5", "options must be a JSON object, got number");
  refused("\"{}\"", "options must be a JSON object, got string");
  refused("true", "options must be a JSON object, got boolean");
}

/* ----------------------- Out of memory ----------------------- */

static void test_oom(void **state) {
  (void)state;
  const char *texts[] = {"{\"metadata\":{\"a\":[1,2,3]},\"expected_version\":7,\"command_id\":\"cmd-1\"}",
                         "{\"nope\":1}", "{\"command_id\":", "[1]"};
  for (size_t t = 0; t < sizeof(texts) / sizeof(texts[0]); t++) {
    es_options want;
    es_error want_err = {0};
    long count = fake_mem_count();
    es_status want_rc = es_options_parse(texts[t], strlen(texts[t]), LIMIT, &want, &want_err);
    long allocations = fake_mem_count() - count;
    assert_true(allocations > 0);
    for (long n = 0; n <= allocations; n++) {
      es_options o;
      es_error err = {0};
      fake_mem_fail_after(n);
      es_status rc = es_options_parse(texts[t], strlen(texts[t]), LIMIT, &o, &err);
      fake_mem_fail_after(-1);
      assert_int_equal(rc, err.status);
      if (n == allocations || rc != ES_NOMEM) {
        assert_int_equal(rc, want_rc);
        assert_str(err.message, want_err.message);
      }
      if (rc == ES_OK) {
        assert_int_equal(o.expect, want.expect);
        assert_int_equal(o.expected_version, want.expected_version);
        assert_str(o.command_id, want.command_id);
        assert_str(o.metadata, want.metadata);
        es_options_clear(&o);
      } else {
        assert_null(o.command_id);
        assert_null(o.metadata);
      }
      if (rc == ES_NOMEM) assert_null(err.message);
      es_error_clear(&err);
    }
    if (want_rc == ES_OK) es_options_clear(&want);
    es_error_clear(&want_err);
    assert_int_equal(fake_mem_live(), live_at_start);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, unit_setup, unit_teardown)
      T(test_no_options),
      T(test_expected_version),
      T(test_expected_version_wrong),
      T(test_expected_version_with_nul),
      T(test_command_id),
      T(test_command_id_wrong),
      T(test_metadata),
      T(test_metadata_wrong),
      T(test_metadata_limit),
      T(test_all_together),
      T(test_len_is_respected),
      T(test_unknown_options),
      T(test_unknown_option_with_nul),
      T(test_malformed),
      T(test_not_an_object),
      T(test_oom),
#undef T
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
