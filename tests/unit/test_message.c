/*
** test_message.c — unit tests of what aggregate callbacks see (ext/domain/message.c), called the
** way an aggregate calls them: through es.h's inline functions and the es_ops table. Field
** readers (es_get_int/real/bool/text/json, es_has) with every JSON type and their exact
** complaints; command and event handles; the object builder (every setter, set twice keeps the
** last, es_set_json validates, failures stick, NULL builders give ES_MISUSE), its typed fields
** (each setter's kind and value, reset keeping memory, the byte block growing) and its JSON byte for
** byte what the setters used to write; rows read back (typed columns) answering every getter like
** the same row as JSON, with the same complaints; es_emit and
** es_reject with their error formatting; and out of memory in the builder and in es_reject.
*/
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "../../ext/domain/json.h"
#include "../../ext/domain/mem.h"
#include "../../ext/domain/message.h"
#include "../../ext/domain/registry.h"
#include "fake_mem.h"
#include "sample_aggregates.h"
#include "unit_support.h"

/* ----------------------- Reading objects ----------------------- */

static const char doc_text[] =
    "{\"i\":100,\"r\":100.0,\"e\":1e2,\"E\":1E+2,\"half\":1.5,\"big\":1e300,\"s\":\"5\",\"t\":true,\"f\":false,"
    "\"n\":null,\"a\":[1, 2],\"o\":{ \"x\" : 1 },\"neg\":-7,\"negr\":-7.0,\"min\":-9223372036854775808,"
    "\"max\":9223372036854775807,\"two63\":9223372036854775808,\"mintr\":-9223372036854775808.0,"
    "\"u\":\"caf\\u00e9\",\"nul\":\"a\\u0000b\",\"empty\":\"\",\"zero\":0,\"negzero\":-0.0,\"small\":1e-300}";

typedef struct reader {
  es_json_doc *doc;
  es_object obj;
  char *complaint;
} reader;

static void reader_open(reader *r, const char *text, const char *label) {
  char *msg = 0;
  memset(r, 0, sizeof(*r));
  assert_int_equal(es_json_parse(text, strlen(text), &r->doc, &msg), ES_OK);
  es_object_init(&r->obj, es_json_root(r->doc), label, &r->complaint);
}

static void reader_close(reader *r) {
  es_json_free(r->doc);
  es_mem_free(r->complaint);
  memset(r, 0, sizeof(*r));
}

/* The getter refused: ES_INVALID_PAYLOAD and this complaint. */
static void complained(reader *r, es_status rc, const char *message) {
  assert_int_equal(rc, ES_INVALID_PAYLOAD);
  assert_str(r->complaint, message);
}

static int64_t int_ok(reader *r, const char *key) {
  int64_t v = 0;
  es_status rc = es_get_int(&r->obj, key, &v);
  if (rc != ES_OK) fail_msg("es_get_int(%s): %s", key, r->complaint ? r->complaint : "-");
  return v;
}

static void test_get_int(void **state) {
  (void)state;
  reader r;
  reader_open(&r, doc_text, "payload");
  assert_true(int_ok(&r, "i") == 100);
  assert_true(int_ok(&r, "r") == 100); /* 100.0 */
  assert_true(int_ok(&r, "e") == 100); /* 1e2 */
  assert_true(int_ok(&r, "E") == 100);
  assert_true(int_ok(&r, "neg") == -7);
  assert_true(int_ok(&r, "negr") == -7);
  assert_true(int_ok(&r, "zero") == 0);
  assert_true(int_ok(&r, "negzero") == 0);
  assert_true(int_ok(&r, "min") == INT64_MIN);
  assert_true(int_ok(&r, "max") == INT64_MAX);
  assert_true(int_ok(&r, "mintr") == INT64_MIN); /* -2^63 as a number is still an int64 */
  assert_null(r.complaint);
  int64_t v = 0;
  complained(&r, es_get_int(&r.obj, "half", &v), "payload field 'half' must be an integer, got 1.5");
  complained(&r, es_get_int(&r.obj, "big", &v), "payload field 'big' must be an integer, got 1e300");
  complained(&r, es_get_int(&r.obj, "two63", &v), "payload field 'two63' must be an integer, got 9223372036854775808");
  complained(&r, es_get_int(&r.obj, "small", &v), "payload field 'small' must be an integer, got 1e-300");
  complained(&r, es_get_int(&r.obj, "s", &v), "payload field 's' must be an integer, got string");
  complained(&r, es_get_int(&r.obj, "t", &v), "payload field 't' must be an integer, got boolean");
  complained(&r, es_get_int(&r.obj, "f", &v), "payload field 'f' must be an integer, got boolean");
  complained(&r, es_get_int(&r.obj, "n", &v), "payload field 'n' must be an integer, got null");
  complained(&r, es_get_int(&r.obj, "a", &v), "payload field 'a' must be an integer, got array");
  complained(&r, es_get_int(&r.obj, "o", &v), "payload field 'o' must be an integer, got object");
  complained(&r, es_get_int(&r.obj, "amount", &v), "payload field 'amount' is missing");
  complained(&r, es_get_int(&r.obj, "x", &v), "payload field 'x' is missing"); /* nested keys are not fields */
  complained(&r, es_get_int(&r.obj, "", &v), "payload field '' is missing");
  reader_close(&r);
}

/* es_get_int on {"amount": <number>}: ok and the value, or the complaint quoting the number. */
static void int_case(const char *number, int ok, int64_t want) {
  char text[512];
  reader r;
  int64_t v = 0;
  snprintf(text, sizeof text, "{\"amount\": %s}", number);
  reader_open(&r, text, "payload");
  es_status rc = es_get_int(&r.obj, "amount", &v);
  if (ok && (rc != ES_OK || v != want))
    fail_msg("<%s>: rc %d value %lld, expected %lld (%s)", number, (int)rc, (long long)v, (long long)want,
             r.complaint ? r.complaint : "-");
  if (!ok) {
    char msg[600];
    snprintf(msg, sizeof msg, "payload field 'amount' must be an integer, got %s", number);
    if (rc != ES_INVALID_PAYLOAD) fail_msg("<%s>: accepted as %lld, expected a refusal", number, (long long)v);
    assert_str(r.complaint, msg);
  }
  reader_close(&r);
}

/* Integrality is decided on the number's exact decimal value, never through a double: 2^53 + 1
** written with a fraction keeps its value, a fraction below double precision and an underflowing
** exponent are not integers, and values within a hair of the int64 limits land on the right side
** of them. */
static void test_get_int_exact_decimal(void **state) {
  (void)state;
  int_case("100.0", 1, 100);
  int_case("1e2", 1, 100);
  int_case("1E+2", 1, 100);
  int_case("1e+02", 1, 100);
  int_case("1234500e-2", 1, 12345);
  int_case("-0.0", 1, 0);
  int_case("-0", 1, 0);
  int_case("0e5", 1, 0);
  int_case("0.000e-5", 1, 0);
  int_case("-0e-5", 1, 0);
  int_case("0e999999999999999999999999", 1, 0); /* the exponent saturates; zero stays zero */
  int_case("-0.0e-999999999999999999999999", 1, 0);
  int_case("9007199254740993", 1, 9007199254740993);
  int_case("9007199254740993.0", 1, 9007199254740993); /* 2^53 + 1: a double would say ...992 */
  int_case("9007199254740993.000", 1, 9007199254740993);
  int_case("9.007199254740993e15", 1, 9007199254740993);
  int_case("9223372036854775807", 1, INT64_MAX);
  int_case("9223372036854775807.0", 1, INT64_MAX);
  int_case("9.223372036854775807e18", 1, INT64_MAX);
  int_case("-9223372036854775808", 1, INT64_MIN);
  int_case("-9223372036854775808.000", 1, INT64_MIN);
  int_case("-9.223372036854775808e18", 1, INT64_MIN);
  int_case("1e18", 1, 1000000000000000000);
  int_case("-1e18", 1, -1000000000000000000);
  int_case("1.00000000000000000000000000000e2", 1, 100);      /* many trailing zeros */
  int_case("0.00000000000000000000000000012345e33", 1, 123450); /* many leading zeros */
  int_case("123450000000000000000000000000000e-28", 1, 12345);
  int_case("12345.000000000000000000000000000000000000000000000000000000000000000000000", 1, 12345);
  int_case("0.0000000000000000000000000000000000000000000000000000000000000000000001e70", 1, 1);

  int_case("9007199254740993.5", 0, 0);
  int_case("100.000000000000001", 0, 0);
  int_case("1.00000000000000001e2", 0, 0);
  int_case("1e-400", 0, 0);
  int_case("1e-999999999999999999999999", 0, 0);
  int_case("-1e-999999999999999999999999", 0, 0);
  int_case("1.5", 0, 0);
  int_case("-1.5", 0, 0);
  int_case("1e-1", 0, 0);
  int_case("12345e-2", 0, 0);
  int_case("123450000000000000000000000000001e-28", 0, 0);
  int_case("12345.000000000000000000000000000000000000000000000000000000000000000000001", 0, 0);
  int_case("0.0000000000000000000000000000000000000000000000000000000000000000000001e69", 0, 0);
  int_case("9223372036854775808", 0, 0);
  int_case("9223372036854775807.5", 0, 0);
  int_case("9223372036854775807.00000000000000000001", 0, 0);
  int_case("-9223372036854775809", 0, 0);
  int_case("-9223372036854775808.5", 0, 0);
  int_case("9.223372036854775808e18", 0, 0);
  int_case("-9.223372036854775809e18", 0, 0);
  int_case("9223372036854775807e1", 0, 0);
  int_case("1e19", 0, 0);
  int_case("1e300", 0, 0);
  int_case("18446744073709551616", 0, 0);
  int_case("18446744073709551616e-1", 0, 0); /* 2^64 / 10: not an integer */
  int_case("184467440737095516160e-1", 0, 0); /* 2^64: out of range */
}

/* The refusal of an integer field under another label (event data) quotes the number too. */
static void test_get_int_exact_decimal_event_data(void **state) {
  (void)state;
  reader r;
  int64_t v = 0;
  reader_open(&r, "{\"amount\":1.00000000000000001e2,\"n\":\"100\"}", "event data");
  complained(&r, es_get_int(&r.obj, "amount", &v), "event data field 'amount' must be an integer, got 1.00000000000000001e2");
  complained(&r, es_get_int(&r.obj, "n", &v), "event data field 'n' must be an integer, got string");
  reader_close(&r);
}

static void test_get_real_bool_text(void **state) {
  (void)state;
  reader r;
  reader_open(&r, doc_text, "payload");
  double d = 0;
  assert_int_equal(es_get_real(&r.obj, "i", &d), ES_OK);
  assert_true(d == 100.0);
  assert_int_equal(es_get_real(&r.obj, "half", &d), ES_OK);
  assert_true(d == 1.5);
  assert_int_equal(es_get_real(&r.obj, "big", &d), ES_OK);
  assert_true(d == 1e300);
  assert_int_equal(es_get_real(&r.obj, "min", &d), ES_OK);
  assert_true(d == -9223372036854775808.0);
  assert_int_equal(es_get_real(&r.obj, "negzero", &d), ES_OK);
  assert_true(d == 0 && signbit(d));
  complained(&r, es_get_real(&r.obj, "s", &d), "payload field 's' must be a number, got string");
  complained(&r, es_get_real(&r.obj, "t", &d), "payload field 't' must be a number, got boolean");
  complained(&r, es_get_real(&r.obj, "n", &d), "payload field 'n' must be a number, got null");
  complained(&r, es_get_real(&r.obj, "zz", &d), "payload field 'zz' is missing");

  int b = -1;
  assert_int_equal(es_get_bool(&r.obj, "t", &b), ES_OK);
  assert_int_equal(b, 1);
  assert_int_equal(es_get_bool(&r.obj, "f", &b), ES_OK);
  assert_int_equal(b, 0);
  complained(&r, es_get_bool(&r.obj, "i", &b), "payload field 'i' must be a boolean, got integer");
  complained(&r, es_get_bool(&r.obj, "zero", &b), "payload field 'zero' must be a boolean, got integer");
  complained(&r, es_get_bool(&r.obj, "s", &b), "payload field 's' must be a boolean, got string");
  complained(&r, es_get_bool(&r.obj, "n", &b), "payload field 'n' must be a boolean, got null");
  complained(&r, es_get_bool(&r.obj, "zz", &b), "payload field 'zz' is missing");

  const char *s = 0;
  size_t len = 99;
  assert_int_equal(es_get_text(&r.obj, "s", &s, &len), ES_OK);
  assert_str(s, "5");
  assert_int_equal(len, 1);
  assert_int_equal(es_get_text(&r.obj, "u", &s, &len), ES_OK);
  assert_str(s, "caf\xc3\xa9"); /* decoded */
  assert_int_equal(len, 5);
  assert_int_equal(es_get_text(&r.obj, "nul", &s, &len), ES_OK);
  assert_int_equal(len, 3); /* the length tells of an embedded NUL */
  assert_memory_equal(s, "a\0b", 4);
  assert_int_equal(es_get_text(&r.obj, "empty", &s, NULL), ES_OK); /* len may be NULL */
  assert_str(s, "");
  complained(&r, es_get_text(&r.obj, "i", &s, &len), "payload field 'i' must be a string, got integer");
  complained(&r, es_get_text(&r.obj, "n", &s, &len), "payload field 'n' must be a string, got null");
  complained(&r, es_get_text(&r.obj, "o", &s, &len), "payload field 'o' must be a string, got object");
  complained(&r, es_get_text(&r.obj, "zz", &s, &len), "payload field 'zz' is missing");
  reader_close(&r);
}

/* es_get_json gives key's value exactly as the document has it: want's bytes, and its length. */
static void json_is(reader *r, const char *key, const char *want) {
  const char *j = 0;
  size_t len = 0;
  assert_int_equal(es_get_json(&r->obj, key, &j, &len), ES_OK);
  assert_int_equal(len, strlen(want));
  assert_memory_equal(j, want, len);
}

static void test_get_json_and_has(void **state) {
  (void)state;
  reader r;
  reader_open(&r, doc_text, "payload");
  json_is(&r, "a", "[1, 2]"); /* as written */
  json_is(&r, "o", "{ \"x\" : 1 }");
  json_is(&r, "s", "\"5\"");
  json_is(&r, "u", "\"caf\\u00e9\""); /* escapes kept */
  json_is(&r, "n", "null");
  json_is(&r, "e", "1e2");
  const char *j = 0;
  size_t len = 0;
  complained(&r, es_get_json(&r.obj, "zz", &j, &len), "payload field 'zz' is missing");

  assert_true(es_has(&r.obj, "i"));
  assert_true(es_has(&r.obj, "n")); /* present, though null */
  assert_true(es_has(&r.obj, "empty"));
  assert_false(es_has(&r.obj, "zz"));
  assert_false(es_has(&r.obj, "x"));
  assert_false(es_has(&r.obj, "I"));
  reader_close(&r);
}

/* The complaint names the object it came from; the latest one is kept; no place, no complaint. */
static void test_complaints(void **state) {
  (void)state;
  reader r;
  reader_open(&r, "{\"amount\":\"x\",\"owner\":1}", "event data");
  int64_t v;
  const char *s;
  complained(&r, es_get_int(&r.obj, "amount", &v), "event data field 'amount' must be an integer, got string");
  complained(&r, es_get_text(&r.obj, "owner", &s, NULL), "event data field 'owner' must be a string, got integer");
  reader_close(&r);
  es_json_doc *doc = 0;
  char *msg = 0;
  assert_int_equal(es_json_parse("{\"a\":\"x\"}", 9, &doc, &msg), ES_OK);
  es_object o;
  es_object_init(&o, es_json_root(doc), "payload", NULL);
  assert_int_equal(es_get_int(&o, "a", &v), ES_INVALID_PAYLOAD);
  assert_int_equal(es_get_int(&o, "b", &v), ES_INVALID_PAYLOAD);
  es_json_free(doc);
  /* An object that is not one (event data written as an array) has no fields. */
  reader_open(&r, "[1,2]", "event data");
  complained(&r, es_get_int(&r.obj, "0", &v), "event data field '0' is missing");
  assert_false(es_has(&r.obj, "0"));
  reader_close(&r);
}

/* ----------------------- Command and event handles ----------------------- */

static void test_command_handle(void **state) {
  (void)state;
  reader r;
  reader_open(&r, "{\"amount\":12,\"owner\":\"ada\"}", "payload");
  es_command cmd = {.base = {&es_domain_ops}, .type = "Deposit", .aggregate_id = "acc-1"};
  es_object_init(&cmd.payload, r.obj.json, "payload", &r.complaint);
  assert_str(es_command_type(&cmd), "Deposit");
  assert_str(es_command_aggregate_id(&cmd), "acc-1");
  assert_ptr_equal(es_command_payload(&cmd), &cmd.payload);
  int64_t v = 0;
  const char *s = 0;
  assert_int_equal(es_payload_int(&cmd, "amount", &v), ES_OK);
  assert_true(v == 12);
  assert_int_equal(es_payload_text(&cmd, "owner", &s), ES_OK);
  assert_str(s, "ada");
  complained(&r, es_payload_int(&cmd, "owner", &v), "payload field 'owner' must be an integer, got string");
  complained(&r, es_payload_text(&cmd, "name", &s), "payload field 'name' is missing");
  reader_close(&r);
}

static void test_event_handle(void **state) {
  (void)state;
  reader r;
  reader_open(&r, "{\"amount\":30,\"note\":\"hi\"}", "event data");
  es_event ev = {.base = {&es_domain_ops}, .type = "Deposited", .version = 7};
  es_object_init(&ev.data, r.obj.json, "event data", &r.complaint);
  assert_str(es_event_type(&ev), "Deposited");
  assert_true(es_event_version(&ev) == 7);
  assert_ptr_equal(es_event_data(&ev), &ev.data);
  int64_t v = 0;
  const char *s = 0;
  assert_int_equal(es_event_int(&ev, "amount", &v), ES_OK);
  assert_true(v == 30);
  assert_int_equal(es_event_text(&ev, "note", &s), ES_OK);
  assert_str(s, "hi");
  complained(&r, es_event_int(&ev, "note", &v), "event data field 'note' must be an integer, got string");
  complained(&r, es_event_text(&ev, "amount", &s), "event data field 'amount' must be a string, got integer");
  reader_close(&r);
}

/* ----------------------- The builder ----------------------- */

static char *built(es_builder *b) {
  char *json = 0;
  size_t len = 0;
  es_status rc = es_builder_to_json(b, &json, &len);
  if (rc != ES_OK) fail_msg("es_builder_to_json: %s", es_status_name(rc));
  assert_non_null(json);
  assert_int_equal(len, strlen(json));
  return json;
}

static void assert_built(es_builder *b, const char *want) {
  char *json = built(b);
  assert_str(json, want);
  /* What the builder writes is JSON the parser takes back. */
  es_json_doc *doc = 0;
  char *msg = 0;
  es_status rc = es_json_parse(json, strlen(json), &doc, &msg);
  if (rc != ES_OK) print_error("builder output is not JSON: %s\n", msg ? msg : "-");
  es_mem_free(msg);
  es_json_free(doc);
  es_mem_free(json);
  assert_int_equal(rc, ES_OK);
}

static void test_builder_setters(void **state) {
  (void)state;
  es_builder b;
  es_builder_init(&b);
  assert_built(&b, "{}");
  assert_int_equal(es_set_int(&b, "i", -5), ES_OK);
  assert_int_equal(es_set_int(&b, "min", INT64_MIN), ES_OK);
  assert_int_equal(es_set_real(&b, "r", 0.1), ES_OK);
  assert_int_equal(es_set_real(&b, "whole", 100.0), ES_OK);
  assert_int_equal(es_set_real(&b, "huge", 1e300), ES_OK);
  assert_int_equal(es_set_real(&b, "nan", NAN), ES_OK);
  assert_int_equal(es_set_bool(&b, "b", 1), ES_OK);
  assert_int_equal(es_set_bool(&b, "b2", 42), ES_OK); /* any non-zero is true */
  assert_int_equal(es_set_bool(&b, "f", 0), ES_OK);
  assert_int_equal(es_set_text(&b, "t", "a\"b\\c\n\t\x01/\xc3\xa9"), ES_OK);
  assert_int_equal(es_set_text(&b, "tn", NULL), ES_OK);
  assert_int_equal(es_set_null(&b, "n"), ES_OK);
  assert_int_equal(es_set_json(&b, "j", "[1,{\"x\":2},\"s\"]"), ES_OK);
  assert_int_equal(es_set_json(&b, "jn", NULL), ES_OK);
  assert_int_equal(es_set_json(&b, "js", "7"), ES_OK);
  assert_int_equal(es_set_text(&b, "k\"ey\n", "v"), ES_OK);
  assert_built(&b,
               "{\"i\":-5,\"min\":-9223372036854775808,\"r\":0.1,\"whole\":100,\"huge\":1e+300,\"nan\":null,"
               "\"b\":true,\"b2\":true,\"f\":false,\"t\":\"a\\\"b\\\\c\\n\\t\\u0001/\xc3\xa9\",\"tn\":null,"
               "\"n\":null,\"j\":[1,{\"x\":2},\"s\"],\"jn\":null,\"js\":7,\"k\\\"ey\\n\":\"v\"}");
  es_builder_clear(&b);
  assert_built(&b, "{}"); /* cleared, and usable again */
  assert_int_equal(es_set_int(&b, "x", 1), ES_OK);
  assert_built(&b, "{\"x\":1}");
  es_builder_clear(&b);
}

static void test_builder_set_twice_keeps_last(void **state) {
  (void)state;
  es_builder b;
  es_builder_init(&b);
  assert_int_equal(es_set_int(&b, "a", 1), ES_OK);
  assert_int_equal(es_set_text(&b, "b", "x"), ES_OK);
  assert_int_equal(es_set_int(&b, "a", 2), ES_OK);
  assert_built(&b, "{\"a\":2,\"b\":\"x\"}");
  assert_int_equal(es_set_json(&b, "b", "{\"deep\":[]}"), ES_OK); /* another type */
  assert_int_equal(es_set_null(&b, "a"), ES_OK);
  assert_built(&b, "{\"a\":null,\"b\":{\"deep\":[]}}");
  for (int i = 0; i < 100; i++) assert_int_equal(es_set_int(&b, "a", i), ES_OK);
  assert_built(&b, "{\"a\":99,\"b\":{\"deep\":[]}}");
  /* Many keys (the field array grows). */
  for (int i = 0; i < 50; i++) {
    char key[16];
    snprintf(key, sizeof(key), "k%d", i);
    assert_int_equal(es_set_int(&b, key, i), ES_OK);
  }
  char *json = built(&b);
  assert_non_null(strstr(json, ",\"k0\":0,\"k1\":1,"));
  assert_non_null(strstr(json, ",\"k49\":49}"));
  es_mem_free(json);
  es_builder_clear(&b);
}

static void test_builder_set_json_validates(void **state) {
  (void)state;
  static const char *const bad[] = {"{bad", "", "1 2", "[1,]", "{'a':1}", "NaN", "{\"a\":1,\"a\":2}", "01"};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    es_builder b;
    es_builder_init(&b);
    assert_int_equal(es_set_int(&b, "before", 1), ES_OK);
    assert_int_equal(es_set_json(&b, "j", bad[i]), ES_INVALID_ARGUMENT);
    /* The failure sticks: later setters report it and the object cannot be written. */
    assert_int_equal(es_set_int(&b, "after", 1), ES_INVALID_ARGUMENT);
    assert_int_equal(es_set_json(&b, "j2", "[]"), ES_INVALID_ARGUMENT);
    char *json = (char *)&json;
    assert_int_equal(es_builder_to_json(&b, &json, NULL), ES_INVALID_ARGUMENT);
    assert_null(json);
    es_builder_clear(&b);
  }
}

static void test_builder_null_key(void **state) {
  (void)state;
  es_builder b;
  es_builder_init(&b);
  assert_int_equal(es_set_int(&b, NULL, 1), ES_INVALID_ARGUMENT);
  assert_int_equal(es_set_text(&b, "ok", "v"), ES_INVALID_ARGUMENT);
  char *json = 0;
  assert_int_equal(es_builder_to_json(&b, &json, NULL), ES_INVALID_ARGUMENT);
  assert_null(json);
  es_builder_clear(&b);
  es_builder_init(&b);
  assert_int_equal(es_set_null(&b, NULL), ES_INVALID_ARGUMENT);
  es_builder_clear(&b);
  es_builder_init(&b);
  assert_int_equal(es_set_json(&b, NULL, "1"), ES_INVALID_ARGUMENT);
  es_builder_clear(&b);
}

static void test_null_builder_is_misuse(void **state) {
  (void)state;
  assert_int_equal(es_set_int(NULL, "k", 1), ES_MISUSE);
  assert_int_equal(es_set_real(NULL, "k", 1.5), ES_MISUSE);
  assert_int_equal(es_set_bool(NULL, "k", 1), ES_MISUSE);
  assert_int_equal(es_set_text(NULL, "k", "v"), ES_MISUSE);
  assert_int_equal(es_set_null(NULL, "k"), ES_MISUSE);
  assert_int_equal(es_set_json(NULL, "k", "[]"), ES_MISUSE);
  assert_int_equal(fake_mem_live(), live_at_start);
}

/* Text that is not UTF-8 must not come out as JSON that the parser (and so replay) refuses. */
static void test_builder_text_not_utf8(void **state) {
  (void)state;
  static const char *const texts[] = {"caf\xff", "\xc3", "\xed\xa0\x80" /* a surrogate */};
  for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
    es_builder b;
    es_builder_init(&b);
    es_status rc = es_set_text(&b, "t", texts[i]);
    char *json = 0;
    es_status jrc = es_builder_to_json(&b, &json, NULL);
    es_builder_clear(&b);
    if (rc == ES_OK && jrc == ES_OK) {
      es_json_doc *doc = 0;
      char *msg = 0;
      es_status prc = es_json_parse(json, strlen(json), &doc, &msg);
      if (prc != ES_OK) print_error("text %zu: the builder wrote JSON the parser refuses: %s\n", i, msg ? msg : "-");
      es_mem_free(msg);
      es_json_free(doc);
      es_mem_free(json);
      assert_int_equal(prc, ES_OK);
    } else {
      assert_int_equal(rc, ES_INVALID_ARGUMENT);
      assert_null(json);
    }
  }
}

/* ----------------------- Typed fields ----------------------- */

static const es_field *field_of(const es_builder *b, const char *key) {
  const es_field *f = es_builder_get(b, key);
  if (!f) fail_msg("no field '%s'", key);
  return f;
}

/* Each setter keeps its value typed, as it was given. */
static void test_builder_keeps_types(void **state) {
  (void)state;
  es_builder b;
  es_builder_init(&b);
  assert_int_equal(es_set_int(&b, "i", -5), ES_OK);
  assert_int_equal(es_set_real(&b, "r", 0.25), ES_OK);
  assert_int_equal(es_set_bool(&b, "b", 42), ES_OK);
  assert_int_equal(es_set_bool(&b, "f", 0), ES_OK);
  assert_int_equal(es_set_text(&b, "t", "caf\xc3\xa9"), ES_OK);
  assert_int_equal(ES__OPS(&b)->xSetText(&b, "tn", "a\0b", 3), ES_OK); /* with its length: U+0000 kept */
  assert_int_equal(es_set_text(&b, "t0", NULL), ES_OK);
  assert_int_equal(es_set_null(&b, "n"), ES_OK);
  assert_int_equal(es_set_json(&b, "j", " [1, 2] "), ES_OK);
  assert_int_equal(ES__OPS(&b)->xSetJson(&b, "jl", "{\"a\":1}xyz", 7), ES_OK); /* with its length */
  assert_int_equal(es_set_json(&b, "j0", NULL), ES_OK);
  assert_int_equal(b.n, 11);
  assert_int_equal(field_of(&b, "i")->v.kind, ES_VALUE_INT);
  assert_int_equal(field_of(&b, "i")->v.u.i, -5);
  assert_int_equal(field_of(&b, "r")->v.kind, ES_VALUE_REAL);
  assert_true(field_of(&b, "r")->v.u.r == 0.25);
  assert_int_equal(field_of(&b, "b")->v.kind, ES_VALUE_BOOL);
  assert_int_equal(field_of(&b, "b")->v.u.i, 1);
  assert_int_equal(field_of(&b, "f")->v.u.i, 0);
  assert_int_equal(field_of(&b, "t")->v.kind, ES_VALUE_TEXT);
  assert_int_equal(field_of(&b, "t")->v.u.text.n, 5);
  assert_memory_equal(field_of(&b, "t")->v.u.text.s, "caf\xc3\xa9", 6); /* NUL-terminated */
  assert_int_equal(field_of(&b, "tn")->v.u.text.n, 3);
  assert_memory_equal(field_of(&b, "tn")->v.u.text.s, "a\0b", 4);
  assert_int_equal(field_of(&b, "t0")->v.kind, ES_VALUE_NULL);
  assert_int_equal(field_of(&b, "n")->v.kind, ES_VALUE_NULL);
  assert_int_equal(field_of(&b, "j")->v.kind, ES_VALUE_JSON);
  assert_str(field_of(&b, "j")->v.u.text.s, " [1, 2] "); /* as given */
  assert_str(field_of(&b, "jl")->v.u.text.s, "{\"a\":1}");
  assert_int_equal(field_of(&b, "j0")->v.kind, ES_VALUE_NULL);
  assert_str(field_of(&b, "i")->key, "i");
  assert_int_equal(field_of(&b, "tn")->key_len, 2);
  assert_null(es_builder_get(&b, "missing"));
  assert_null(es_builder_get(&b, NULL));
  assert_built(&b, "{\"i\":-5,\"r\":0.25,\"b\":true,\"f\":false,\"t\":\"caf\xc3\xa9\",\"tn\":\"a\\u0000b\",\"t0\":null,"
                   "\"n\":null,\"j\": [1, 2] ,\"jl\":{\"a\":1},\"j0\":null}");
  /* Set again: the value and its type change in place, the order stays. */
  assert_int_equal(es_set_text(&b, "i", "now text"), ES_OK);
  assert_int_equal(es_set_int(&b, "t", 7), ES_OK);
  assert_int_equal(b.n, 11);
  assert_ptr_equal(&b.fields[0], field_of(&b, "i"));
  assert_int_equal(field_of(&b, "i")->v.kind, ES_VALUE_TEXT);
  assert_str(field_of(&b, "i")->v.u.text.s, "now text");
  assert_int_equal(field_of(&b, "t")->v.kind, ES_VALUE_INT);
  /* Reset empties it and keeps its memory; it is usable at once. */
  char *bytes = b.bytes;
  es_field *fields = b.fields;
  es_builder_reset(&b);
  assert_int_equal(b.n, 0);
  assert_built(&b, "{}");
  assert_int_equal(es_set_text(&b, "k", "v"), ES_OK);
  assert_ptr_equal(b.bytes, bytes);
  assert_ptr_equal(b.fields, fields);
  assert_built(&b, "{\"k\":\"v\"}");
  /* A failure sticks until reset. */
  assert_int_equal(es_set_text(&b, "bad", "\xff"), ES_INVALID_ARGUMENT);
  assert_int_equal(es_set_int(&b, "x", 1), ES_INVALID_ARGUMENT);
  es_builder_reset(&b);
  assert_int_equal(es_set_int(&b, "x", 1), ES_OK);
  assert_built(&b, "{\"x\":1}");
  es_builder_clear(&b);
}

/* Keys and texts live in one block that grows: earlier fields still read right after it moved,
** and a text taken from the builder itself survives the move. */
static void test_builder_bytes_grow(void **state) {
  (void)state;
  es_builder b;
  es_builder_init(&b);
  char key[32], text[300];
  for (int i = 0; i < 40; i++) {
    snprintf(key, sizeof key, "key%d", i);
    memset(text, 'a' + i % 26, sizeof text - 1);
    text[sizeof text - 1] = 0;
    assert_int_equal(es_set_text(&b, key, text), ES_OK);
  }
  for (int i = 0; i < 40; i++) {
    snprintf(key, sizeof key, "key%d", i);
    const es_field *f = field_of(&b, key);
    assert_int_equal(f->v.u.text.n, 299);
    assert_int_equal(f->v.u.text.s[0], 'a' + i % 26);
    assert_int_equal(f->v.u.text.s[299], 0);
    assert_str(f->key, key);
  }
  /* A value given from the builder's own bytes, while the block has to move to take it: the
  ** unused end of the block is spent first (its bytes mean nothing), so the copy cannot fit. */
  for (int round = 0; round < 3; round++) {
    es_value v = field_of(&b, "key3")->v;
    char *before = b.bytes;
    b.used = b.size - 1;
    assert_int_equal(es_builder_put(&b, round ? "copy" : "key3", &v), ES_OK);
    assert_ptr_not_equal(b.bytes, before);
    assert_int_equal(field_of(&b, "key3")->v.u.text.n, 299);
    assert_int_equal(field_of(&b, "key3")->v.u.text.s[0], 'd');
    if (round) assert_int_equal(memcmp(field_of(&b, "copy")->v.u.text.s, field_of(&b, "key3")->v.u.text.s, 300), 0);
  }
  es_builder_clear(&b);
}

/* What es_builder_to_json writes for each value is what the builder used to keep as JSON text:
** the value written with es_jbuf at set time (a random sweep, compared byte for byte). */
static void test_builder_json_identical(void **state) {
  (void)state;
  static const double reals[] = {0.0, -0.0, 1.0, -1.5, 0.1, 100.0, 1e15, 1e16, 1234567890123456.0, 1e17, 1e300,
                                 -1e-300, 5e-324, 1.7976931348623157e308, 3.141592653589793, NAN, INFINITY, -INFINITY};
  static const char *const texts[] = {"", "plain", "quote\"back\\slash", "ctl\x01\x1f\b\f\n\r\t", "caf\xc3\xa9 \xf0\x9f\x98\x80",
                                      "/slash", "\x7f"};
  static const char *const jsons[] = {"null", "true", "false", "0", "-12", "1.5e3", "\"s\\u0041\"", "[1, [2], {}]",
                                      "{\"a\" : {\"b\":[null]}}", " 7 "};
  unsigned seed = 12345;
  for (int round = 0; round < 300; round++) {
    es_builder b;
    es_builder_init(&b);
    es_jbuf want;
    es_jbuf_init(&want);
    es_jbuf_appendz(&want, "{");
    int fields = 1 + round % 9;
    for (int i = 0; i < fields; i++) {
      char key[32];
      snprintf(key, sizeof key, "k%d\"%d", round, i);
      if (i) es_jbuf_appendz(&want, ",");
      es_jbuf_string(&want, key, strlen(key));
      es_jbuf_appendz(&want, ":");
      seed = seed * 1103515245u + 12345u;
      unsigned pick = (seed >> 8) % 6, which = (seed >> 16);
      switch (pick) {
        case 0: {
          int64_t v = (int64_t)((uint64_t)seed * 2654435761u) - (int64_t)(which << 20);
          if (which % 7 == 0) v = which % 2 ? INT64_MIN : INT64_MAX;
          assert_int_equal(es_set_int(&b, key, v), ES_OK);
          es_jbuf_int(&want, v);
          break;
        }
        case 1: {
          double v = reals[which % (sizeof reals / sizeof reals[0])];
          assert_int_equal(es_set_real(&b, key, v), ES_OK);
          es_jbuf_real(&want, v);
          break;
        }
        case 2:
          assert_int_equal(es_set_bool(&b, key, (int)(which % 3)), ES_OK);
          es_jbuf_appendz(&want, which % 3 ? "true" : "false");
          break;
        case 3: {
          const char *t = texts[which % (sizeof texts / sizeof texts[0])];
          assert_int_equal(es_set_text(&b, key, t), ES_OK);
          es_jbuf_string(&want, t, strlen(t));
          break;
        }
        case 4:
          assert_int_equal(es_set_null(&b, key), ES_OK);
          es_jbuf_appendz(&want, "null");
          break;
        default: {
          const char *j = jsons[which % (sizeof jsons / sizeof jsons[0])];
          assert_int_equal(es_set_json(&b, key, j), ES_OK);
          es_jbuf_appendz(&want, j);
        }
      }
    }
    es_jbuf_appendz(&want, "}");
    char *expected = es_jbuf_take(&want, 0);
    char *json = built(&b);
    assert_str(json, expected);
    es_mem_free(json);
    es_mem_free(expected);
    es_builder_clear(&b);
  }
}

/* ----------------------- Rows read back ----------------------- */

/* A row (typed columns) and the same row as a parsed JSON object must answer every getter alike:
** the same status, value and complaint. The row answers from its typed values where it can. */
static void test_row_getters_match_json(void **state) {
  (void)state;
  es_row row;
  es_row_init(&row);
  es_value v;
#define PUT(k, ...)                                    \
  do {                                                 \
    es_value tmp = {__VA_ARGS__};                      \
    v = tmp;                                           \
    assert_int_equal(es_builder_put(&row.cols, k, &v), ES_OK); \
  } while (0)
  PUT("int", .kind = ES_VALUE_INT, .u.i = 42);
  PUT("neg", .kind = ES_VALUE_INT, .u.i = INT64_MIN);
  PUT("whole", .kind = ES_VALUE_REAL, .u.r = 100.0);
  PUT("negzero", .kind = ES_VALUE_REAL, .u.r = -0.0);
  PUT("half", .kind = ES_VALUE_REAL, .u.r = 1.5);
  PUT("e18", .kind = ES_VALUE_REAL, .u.r = 1e18);
  PUT("e20", .kind = ES_VALUE_REAL, .u.r = 1e20);
  PUT("inf", .kind = ES_VALUE_REAL, .u.r = INFINITY);
  PUT("text", .kind = ES_VALUE_TEXT, .u.text = {"hello", 5});
  PUT("digits", .kind = ES_VALUE_TEXT, .u.text = {"12", 2});
  PUT("nul", .kind = ES_VALUE_TEXT, .u.text = {"a\0b", 3});
  PUT("esc", .kind = ES_VALUE_TEXT, .u.text = {"q\"\n", 3});
  PUT("null", .kind = ES_VALUE_NULL);
  PUT("bool", .kind = ES_VALUE_BOOL, .u.i = 1);
  PUT("json", .kind = ES_VALUE_JSON, .u.text = {"[1,{\"a\":2}]", 11});
  PUT("jstr", .kind = ES_VALUE_JSON, .u.text = {"\"x\"", 3});
#undef PUT
  static const char *const keys[] = {"int", "neg", "whole", "negzero", "half", "e18", "e20", "inf", "text", "digits",
                                     "nul", "esc", "null", "bool", "json", "jstr", "missing"};
  char *text = 0;
  size_t len = 0;
  assert_int_equal(es_builder_to_json(&row.cols, &text, &len), ES_OK);
  reader r;
  reader_open(&r, text, "row");
  char *row_complaint = 0;
  es_object o;
  es_object_init_row(&o, &row, "row", &row_complaint);
  for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++) {
    const char *key = keys[k];
    for (int g = 0; g < 7; g++) {
      es_mem_free(r.complaint);
      es_mem_free(row_complaint);
      r.complaint = row_complaint = 0;
      int64_t i1 = -1, i2 = -1;
      double d1 = -1, d2 = -1;
      int b1 = -1, b2 = -1;
      const char *s1 = 0, *s2 = 0;
      size_t n1 = 0, n2 = 0;
      es_status rc1 = ES_OK, rc2 = ES_OK;
      switch (g) {
        case 0: rc1 = (es_status)es_has(&r.obj, key), rc2 = (es_status)es_has(&o, key); break;
        case 1: rc1 = es_get_int(&r.obj, key, &i1), rc2 = es_get_int(&o, key, &i2); break;
        case 2: rc1 = es_get_real(&r.obj, key, &d1), rc2 = es_get_real(&o, key, &d2); break;
        case 3: rc1 = es_get_bool(&r.obj, key, &b1), rc2 = es_get_bool(&o, key, &b2); break;
        case 4: rc1 = es_get_text(&r.obj, key, &s1, 0), rc2 = es_get_text(&o, key, &s2, 0); break;
        case 5: rc1 = es_get_text(&r.obj, key, &s1, &n1), rc2 = es_get_text(&o, key, &s2, &n2); break;
        default: rc1 = es_get_json(&r.obj, key, &s1, &n1), rc2 = es_get_json(&o, key, &s2, &n2); break;
      }
      if (rc1 != rc2 || i1 != i2 || memcmp(&d1, &d2, sizeof d1) != 0 || b1 != b2 || n1 != n2 || !s1 != !s2 ||
          (s1 && memcmp(s1, s2, n1 ? n1 : strlen(s1) + 1) != 0) || !r.complaint != !row_complaint ||
          (r.complaint && strcmp(r.complaint, row_complaint) != 0))
        fail_msg("key %s getter %d: JSON %d/%s, row %d/%s", key, g, rc1, r.complaint ? r.complaint : "-", rc2,
                 row_complaint ? row_complaint : "-");
    }
  }
  /* Integers and text came from the typed columns: no JSON was made for them. */
  es_row_reset(&row);
  assert_null(row.doc);
  v.kind = ES_VALUE_INT, v.u.i = 5;
  assert_int_equal(es_builder_put(&row.cols, "a", &v), ES_OK);
  v.kind = ES_VALUE_TEXT, v.u.text.s = "t", v.u.text.n = 1;
  assert_int_equal(es_builder_put(&row.cols, "b", &v), ES_OK);
  int64_t iv;
  double dv;
  const char *sv;
  assert_int_equal(es_get_int(&o, "a", &iv), ES_OK);
  assert_int_equal(es_get_real(&o, "a", &dv), ES_OK);
  assert_int_equal(es_get_text(&o, "b", &sv, 0), ES_OK);
  assert_true(es_has(&o, "b") && !es_has(&o, "c"));
  assert_int_equal(es_get_int(&o, "c", &iv), ES_INVALID_PAYLOAD);
  assert_str(row_complaint, "row field 'c' is missing");
  assert_null(row.doc);
  assert_int_equal(es_get_int(&o, "b", &iv), ES_INVALID_PAYLOAD); /* a complaint needs the JSON kind */
  assert_str(row_complaint, "row field 'b' must be an integer, got string");
  assert_non_null(row.doc);
  es_mem_free(row_complaint);
  es_mem_free(text);
  reader_close(&r);
  es_row_clear(&row);
}

/* A row's JSON cannot be made: the getter says ES_NOMEM, and a later call can succeed. */
static void test_row_getter_oom(void **state) {
  (void)state;
  for (long n = 0;; n++) {
    es_row row;
    es_row_init(&row);
    es_value v = {.kind = ES_VALUE_TEXT, .u.text = {"x", 1}};
    assert_int_equal(es_builder_put(&row.cols, "t", &v), ES_OK);
    es_object o;
    es_object_init_row(&o, &row, "row", 0);
    int64_t out;
    fake_mem_fail_after(n);
    es_status rc = es_get_int(&o, "t", &out);
    fake_mem_fail_after(-1);
    es_row_clear(&row);
    assert_int_equal(fake_mem_live(), live_at_start);
    if (rc == ES_INVALID_PAYLOAD) break;
    assert_int_equal(rc, ES_NOMEM);
  }
}

/* ----------------------- Emitting and rejecting ----------------------- */

typedef struct emit_fx {
  es_registry *reg;
  const es_agg *agg;
  sample_user user;
  es_emitter em;
  es_error err;
} emit_fx;

static void emit_open(emit_fx *f) {
  memset(f, 0, sizeof(*f));
  f->reg = es_registry_new();
  assert_non_null(f->reg);
  assert_int_equal(es_registry_add(f->reg, sample_account_type(), &f->user, NULL, &f->err), ES_OK);
  f->agg = es_registry_find(f->reg, "account");
  es_emitter_init(&f->em, f->agg, &f->err);
}

static void emit_close(emit_fx *f) {
  es_emitter_clear(&f->em);
  es_error_clear(&f->err);
  es_registry_free(f->reg);
}

static void test_reject_formatting(void **state) {
  (void)state;
  emit_fx f;
  emit_open(&f);
  es_status rc = es_reject(&f.em, "insufficient_funds", "balance %lld is less than %lld", 5LL, 10LL);
  assert_int_equal(rc, ES_REJECTED);
  assert_int_equal(f.err.status, ES_REJECTED);
  assert_true(f.em.rejected);
  assert_str(f.err.reason, "insufficient_funds");
  assert_str(f.err.message, "balance 5 is less than 10");
  char *text = es_error_format(&f.err);
  assert_str(text, "es: rejected (insufficient_funds): balance 5 is less than 10");
  es_mem_free(text);
  /* The first rejection stands. */
  assert_int_equal(es_reject(&f.em, "other", "second"), ES_REJECTED);
  assert_str(f.err.reason, "insufficient_funds");
  assert_str(f.err.message, "balance 5 is less than 10");
  emit_close(&f);

  static const struct {
    const char *reason, *fmt, *want_reason, *want_message;
  } cases[] = {
      {NULL, "no reason given", "rejected", "no reason given"},
      {"", "empty reason", "rejected", "empty reason"},
      {"closed", NULL, "closed", "command rejected"},
      {NULL, NULL, "rejected", "command rejected"},
      {"pct", "100%% sure", "pct", "100% sure"},
      {"reason with spaces", "", "reason with spaces", ""},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    emit_open(&f);
    assert_int_equal(es_reject(&f.em, cases[i].reason, cases[i].fmt), ES_REJECTED);
    assert_str(f.err.reason, cases[i].want_reason);
    assert_str(f.err.message, cases[i].want_message);
    emit_close(&f);
  }

  /* Arguments of every kind, and a long message. */
  emit_open(&f);
  char long_text[3001];
  memset(long_text, 'w', 3000);
  long_text[3000] = 0;
  assert_int_equal(es_reject(&f.em, "r", "%s|%d|%.2f|%c|%s", "str", -3, 2.5, 'z', long_text), ES_REJECTED);
  assert_int_equal(strlen(f.err.message), strlen("str|-3|2.50|z|") + 3000);
  assert_int_equal(strncmp(f.err.message, "str|-3|2.50|z|www", 17), 0);
  emit_close(&f);
}

static void test_error_format(void **state) {
  (void)state;
  es_error e = {0};
  es_error_set(&e, ES_CONFLICT, "expected version %d, actual %d", 1, 2);
  char *text = es_error_format(&e);
  assert_str(text, "es: conflict: expected version 1, actual 2");
  es_mem_free(text);
  es_error_set(&e, ES_STORAGE, "ignored"); /* the first failure wins */
  assert_int_equal(e.status, ES_CONFLICT);
  es_error_clear(&e);
  es_error_set(&e, ES_NOMEM, "dropped");
  assert_null(e.message);
  text = es_error_format(&e);
  assert_str(text, "es: nomem: nomem");
  es_mem_free(text);
  es_error_clear(&e);
  static const char *const names[] = {"ok", "rejected", "conflict", "unknown_aggregate", "unknown_command",
                                      "invalid_argument", "invalid_payload", "undeclared_event", "protected",
                                      "busy", "storage", "nomem", "misuse"};
  for (int s = ES_OK; s <= ES_MISUSE; s++) assert_str(es_status_name((es_status)s), names[s]);
  assert_str(es_status_name((es_status)99), "unknown");
}

static void test_emit(void **state) {
  (void)state;
  emit_fx f;
  emit_open(&f);
  es_builder *b1 = es_emit(&f.em, "Deposited");
  assert_non_null(b1);
  assert_int_equal(es_set_int(b1, "amount", 5), ES_OK);
  es_builder *b2 = es_emit(&f.em, "Noted");
  assert_non_null(b2);
  assert_ptr_not_equal(b1, b2);
  for (int i = 0; i < 20; i++) assert_non_null(es_emit(&f.em, "Withdrawn")); /* the list grows */
  assert_int_equal(f.em.n, 22);
  assert_str(f.em.events[0]->type, "Deposited");
  assert_str(f.em.events[1]->type, "Noted");
  assert_ptr_equal(&f.em.events[0]->data, b1); /* still valid after the list grew */
  assert_int_equal(es_set_int(b1, "amount", 6), ES_OK);
  assert_built(b1, "{\"amount\":6}");
  assert_built(b2, "{}");
  assert_int_equal(f.err.status, ES_OK);

  assert_null(es_emit(&f.em, "Stolen"));
  assert_int_equal(f.err.status, ES_UNDECLARED_EVENT);
  assert_str(f.err.message, "aggregate type 'account' emitted undeclared event type 'Stolen'");
  assert_null(f.err.reason);
  assert_int_equal(f.em.n, 22);
  assert_null(es_emit(&f.em, "deposited")); /* case-sensitive; the first error stays */
  assert_str(f.err.message, "aggregate type 'account' emitted undeclared event type 'Stolen'");
  emit_close(&f);

  emit_open(&f);
  assert_null(es_emit(&f.em, NULL));
  assert_str(f.err.message, "aggregate type 'account' emitted undeclared event type '(null)'");
  emit_close(&f);

  /* Emitting after a rejection does not unreject. */
  emit_open(&f);
  es_reject(&f.em, "no", "no");
  es_emit(&f.em, "Deposited");
  assert_int_equal(f.err.status, ES_REJECTED);
  emit_close(&f);
}

/* ----------------------- Out of memory ----------------------- */

static void test_builder_oom(void **state) {
  (void)state;
  int done = 0;
  for (long n = 0; !done; n++) {
    es_builder b;
    es_builder_init(&b);
    fake_mem_fail_after(n);
    es_status rc = ES_OK;
    for (int i = 0; i < 6 && rc == ES_OK; i++) {
      char key[16];
      snprintf(key, sizeof(key), "k%d", i);
      rc = es_set_int(&b, key, i);
      if (rc == ES_OK) rc = es_set_text(&b, "t", "text \"quoted\"");
      if (rc == ES_OK) rc = es_set_json(&b, "j", "[1,2,{\"a\":null}]");
      if (rc == ES_OK) rc = es_set_bool(&b, "b", i & 1);
      if (rc == ES_OK) rc = es_set_null(&b, "n");
      if (rc == ES_OK) rc = es_set_real(&b, "r", 0.5);
    }
    char *json = 0;
    es_status jrc = es_builder_to_json(&b, &json, NULL);
    fake_mem_fail_after(-1);
    if (rc == ES_OK && jrc == ES_OK) {
      assert_str(json, "{\"k0\":0,\"t\":\"text \\\"quoted\\\"\",\"j\":[1,2,{\"a\":null}],\"b\":true,\"n\":null,\"r\":0.5,"
                       "\"k1\":1,\"k2\":2,\"k3\":3,\"k4\":4,\"k5\":5}");
      done = 1;
    } else {
      assert_int_equal(rc == ES_OK ? jrc : rc, ES_NOMEM);
      assert_int_equal(jrc, ES_NOMEM); /* the failure stuck */
      assert_null(json);
    }
    es_mem_free(json);
    es_builder_clear(&b);
    assert_int_equal(fake_mem_live(), live_at_start);
  }
}

static void test_reject_and_emit_oom(void **state) {
  (void)state;
  for (long n = 0;; n++) {
    emit_fx f;
    emit_open(&f);
    fake_mem_fail_after(n);
    es_builder *b = es_emit(&f.em, "Deposited");
    es_status set = es_set_int(b, "amount", 1);
    es_status rc = es_reject(&f.em, "insufficient_funds", "balance %d is less than %d", 1, 2);
    fake_mem_fail_after(-1);
    int finished = f.err.status == ES_REJECTED;
    if (finished) {
      assert_non_null(b);
      assert_int_equal(set, ES_OK);
      assert_int_equal(rc, ES_REJECTED);
      assert_str(f.err.reason, "insufficient_funds");
      assert_str(f.err.message, "balance 1 is less than 2");
    } else {
      assert_int_equal(f.err.status, ES_NOMEM);
      assert_int_equal(rc, ES_NOMEM);
      assert_null(f.err.reason);
      assert_null(f.err.message);
      if (!b) assert_int_equal(set, ES_MISUSE);
    }
    emit_close(&f);
    assert_int_equal(fake_mem_live(), live_at_start);
    if (finished) break;
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, unit_setup, unit_teardown)
      T(test_get_int),
      T(test_get_int_exact_decimal),
      T(test_get_int_exact_decimal_event_data),
      T(test_get_real_bool_text),
      T(test_get_json_and_has),
      T(test_complaints),
      T(test_command_handle),
      T(test_event_handle),
      T(test_builder_setters),
      T(test_builder_set_twice_keeps_last),
      T(test_builder_set_json_validates),
      T(test_builder_null_key),
      T(test_null_builder_is_misuse),
      T(test_builder_text_not_utf8),
      T(test_builder_keeps_types),
      T(test_builder_bytes_grow),
      T(test_builder_json_identical),
      T(test_row_getters_match_json),
      T(test_row_getter_oom),
      T(test_reject_formatting),
      T(test_error_format),
      T(test_emit),
      T(test_builder_oom),
      T(test_reject_and_emit_oom),
#undef T
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
