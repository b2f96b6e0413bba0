/*
** test_integrity.c — the report of es_integrity_check (domain/integrity.c): each kind has a name
** and a rule; rows keep their kind, object and message in order; an empty report finishes as the
** single row `ok`, a report with rows stays as it is; a row that cannot be allocated is not added
** and marks the report out of memory, with nothing leaked.
*/
#include "unit_support.h"

#include "domain/integrity.h"

static void test_kind_names_and_rules(void **state) {
  (void)state;
  assert_str(es_integrity_kind_name(ES_IC_OK), "ok");
  assert_str(es_integrity_kind_name(ES_IC_GUARD_MISSING), "guard_missing");
  assert_str(es_integrity_kind_name(ES_IC_COLUMN_DROPPABLE), "column_droppable");
  assert_str(es_integrity_kind_name(ES_IC_NOT_CHECKED), "not_checked");
  assert_str(es_integrity_rule(ES_IC_POSITIONS), "positions are 1..n with no gap, n being the last position given");
  for (int k = ES_IC_OK; k <= ES_IC_NOT_CHECKED; k++) {
    assert_string_not_equal(es_integrity_kind_name((es_integrity_kind)k), "unknown");
    assert_true(strlen(es_integrity_rule((es_integrity_kind)k)) > 5);
  }
}

static void test_rows_in_order(void **state) {
  (void)state;
  es_integrity_report r = {0};
  assert_true(es_integrity_add(&r, ES_IC_POSITIONS, "es_events", "position %d is missing", 7));
  assert_true(es_integrity_add(&r, ES_IC_CHECKPOINT, 0, "%s", "no object"));
  assert_true(es_integrity_finish(&r));
  assert_int_equal(r.n, 2);
  assert_int_equal(r.rows[0].kind, ES_IC_POSITIONS);
  assert_str(r.rows[0].object, "es_events");
  assert_str(r.rows[0].problem, "position 7 is missing");
  assert_null(r.rows[1].object);
  assert_str(r.rows[1].problem, "no object");
  assert_int_equal(r.nomem, 0);
  es_integrity_clear(&r);
  assert_int_equal(r.n, 0);
  assert_null(r.rows);
}

static void test_empty_report_is_ok(void **state) {
  (void)state;
  es_integrity_report r = {0};
  assert_true(es_integrity_finish(&r));
  assert_int_equal(r.n, 1);
  assert_int_equal(r.rows[0].kind, ES_IC_OK);
  assert_null(r.rows[0].object);
  assert_str(r.rows[0].problem, "ok");
  es_integrity_clear(&r);
}

static void test_many_rows_grow(void **state) {
  (void)state;
  es_integrity_report r = {0};
  for (int i = 0; i < 100; i++) assert_true(es_integrity_add(&r, ES_IC_VERSIONS, "s", "row %d", i));
  assert_int_equal(r.n, 100);
  assert_str(r.rows[99].problem, "row 99");
  es_integrity_clear(&r);
}

/* Every allocation of an add fails in turn: the row is not added, the report says so, nothing leaks. */
static void test_out_of_memory(void **state) {
  (void)state;
  for (long fail = 0; fail < 4; fail++) {
    es_integrity_report r = {0};
    fake_mem_fail_after(fail);
    int added = es_integrity_add(&r, ES_IC_VIEW, "v", "view %s differs", "v");
    fake_mem_fail_after(-1);
    if (added) {
      assert_int_equal(r.n, 1);
      assert_int_equal(r.nomem, 0);
    } else {
      assert_int_equal(r.n, 0);
      assert_int_equal(r.nomem, 1);
    }
    es_integrity_clear(&r);
  }
  es_integrity_report r = {0};
  fake_mem_fail_after(0);
  assert_false(es_integrity_finish(&r));
  fake_mem_fail_after(-1);
  assert_int_equal(r.nomem, 1);
  es_integrity_clear(&r);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_kind_names_and_rules, unit_setup, unit_teardown),
      cmocka_unit_test_setup_teardown(test_rows_in_order, unit_setup, unit_teardown),
      cmocka_unit_test_setup_teardown(test_empty_report_is_ok, unit_setup, unit_teardown),
      cmocka_unit_test_setup_teardown(test_many_rows_grow, unit_setup, unit_teardown),
      cmocka_unit_test_setup_teardown(test_out_of_memory, unit_setup, unit_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
