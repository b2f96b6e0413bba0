/*
** test_error.c — typed errors (domain/error.c): es_status_from_message recognises our own
** "es: <kind>: <message>" texts that come back through SQLite (a guard's RAISE, a refused nested
** call), for every kind but rejections, and nothing else; formatting and parsing agree.
*/
#include "unit_support.h"

#include <stdio.h>

#include "domain/error.h"
#include "domain/mem.h"

static void test_our_messages_are_recognised(void **state) {
  (void)state;
  const char *rest = 0;
  assert_int_equal(es_status_from_message("es: protected: es_events is the append-only event log", &rest), ES_PROTECTED);
  assert_str(rest, "es_events is the append-only event log");
  assert_int_equal(es_status_from_message("es: misuse: es_submit cannot run while es_submit is running", &rest), ES_MISUSE);
  assert_str(rest, "es_submit cannot run while es_submit is running");
  assert_int_equal(es_status_from_message("es: unknown_view: no view named 'x'", &rest), ES_UNKNOWN_VIEW);
  assert_str(rest, "no view named 'x'");
}

static void test_other_texts_are_not(void **state) {
  (void)state;
  const char *rest = "unchanged";
  static const char *const others[] = {
      "no such table: es_events", "es: rejected (not_open): the account is not open", "es:protected: x", "es: protected x",
      "es: protectedx: y", "es: ok: fine", "ES: protected: x", "", "es: ", "es: nomem"};
  for (size_t i = 0; i < sizeof(others) / sizeof(*others); i++) {
    assert_int_equal(es_status_from_message(others[i], &rest), ES_OK);
    assert_str(rest, "unchanged");
  }
  assert_int_equal(es_status_from_message(0, &rest), ES_OK);
}

/* Every kind but ok and rejected survives a trip through its formatted text. */
static void test_format_then_parse(void **state) {
  (void)state;
  for (int k = ES_CONFLICT; k <= ES_UNKNOWN_VIEW; k++) {
    es_error e = {0};
    es_error_set(&e, (es_status)k, "detail %d", k);
    char *text = es_error_format(&e);
    assert_non_null(text);
    const char *rest = 0;
    es_status back = es_status_from_message(text, &rest);
    if (k == ES_NOMEM) { /* no memory keeps no message: "es: nomem: nomem" */
      assert_int_equal(back, ES_NOMEM);
      assert_str(rest, "nomem");
    } else {
      assert_int_equal(back, k);
      char want[32];
      snprintf(want, sizeof want, "detail %d", k);
      assert_str(rest, want);
    }
    es_mem_free(text);
    es_error_clear(&e);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_our_messages_are_recognised, unit_setup, unit_teardown),
      cmocka_unit_test_setup_teardown(test_other_texts_are_not, unit_setup, unit_teardown),
      cmocka_unit_test_setup_teardown(test_format_then_parse, unit_setup, unit_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
