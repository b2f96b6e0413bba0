/*
** test_registry_views.c — unit tests of the view types in the registry (ext/domain/registry.h):
** every definition it refuses, with its exact message (NULL, iVersion, bad name, the reserved
** es_ and sqlite_ prefixes, no columns, no fold, no event types, bad or duplicate event types),
** xDestroy called exactly once on a refusal, on replacement, on removal and at the end; the
** definition deep-copied; replacement by name keeping its place; removal; es_view_handles; views
** and aggregate types not sharing names; and out of memory at every allocation.
*/
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "../../ext/domain/mem.h"
#include "../../ext/domain/registry.h"
#include "fake_mem.h"
#include "sample_aggregates.h"
#include "unit_support.h"

static es_registry *new_registry(void) {
  es_registry *r = es_registry_new();
  assert_non_null(r);
  return r;
}

static es_status fold_a(void *user, const es_event *ev, es_view_writer *out) {
  (void)user, (void)ev, (void)out;
  return ES_OK;
}
static es_status fold_b(void *user, const es_event *ev, es_view_writer *out) {
  (void)user, (void)ev, (void)out;
  return ES_STORAGE;
}

static const char *const good_types[] = {"Deposited", "Withdrawn"};

/* A valid definition named "x", to break one field at a time. */
static es_view_type good_def(void) {
  es_view_type d = {.iVersion = 1,
                    .name = "x",
                    .columns = "id TEXT PRIMARY KEY, n INTEGER",
                    .event_types = good_types,
                    .n_event_types = 2,
                    .fold = fold_a};
  return d;
}

/* ----------------------- Refused definitions ----------------------- */

/* def must be refused with this message; xDestroy runs once; the registry is unchanged. */
static void refused(es_registry *r, const es_view_type *def, const char *message) {
  sample_user u = {0};
  es_error err = {0};
  size_t n = es_registry_view_count(r);
  assert_int_equal(es_registry_add_view(r, def, &u, sample_user_destroy, &err), ES_INVALID_ARGUMENT);
  assert_int_equal(err.status, ES_INVALID_ARGUMENT);
  assert_null(err.reason);
  assert_str(err.message, message);
  es_error_clear(&err);
  assert_int_equal(u.destroyed, 1);
  assert_int_equal(es_registry_view_count(r), n);
  /* Without an xDestroy it is refused the same way. */
  assert_int_equal(es_registry_add_view(r, def, &u, NULL, &err), ES_INVALID_ARGUMENT);
  assert_str(err.message, message);
  es_error_clear(&err);
  assert_int_equal(u.destroyed, 1);
  assert_int_equal(es_registry_view_count(r), n);
}

static void test_refused_definitions(void **state) {
  (void)state;
  es_registry *r = new_registry();
  es_view_type d;
  char long_name[202];
  memset(long_name, 'n', 201);
  long_name[201] = 0;

  refused(r, NULL, "view type definition is NULL");
  d = good_def(), d.iVersion = 0;
  refused(r, &d, "view type iVersion must be at least 1");
  d = good_def(), d.iVersion = -3;
  refused(r, &d, "view type iVersion must be at least 1");

  const char *name_msg = "view name must be 1 to 200 bytes with no control characters";
  static const char *const bad_names[] = {"", "a\tb", "a\nb", "\x1f", "line\r", "\x7f\x01"};
  d = good_def(), d.name = NULL;
  refused(r, &d, name_msg);
  for (size_t i = 0; i < sizeof(bad_names) / sizeof(bad_names[0]); i++) {
    d = good_def(), d.name = bad_names[i];
    refused(r, &d, name_msg);
  }
  d = good_def(), d.name = long_name;
  refused(r, &d, name_msg);

  static const struct {
    const char *name, *msg;
  } reserved[] = {
      {"es_", "view 'es_': names starting with es_ or sqlite_ are reserved"},
      {"es_events", "view 'es_events': names starting with es_ or sqlite_ are reserved"},
      {"es_balances", "view 'es_balances': names starting with es_ or sqlite_ are reserved"},
      {"sqlite_", "view 'sqlite_': names starting with es_ or sqlite_ are reserved"},
      {"sqlite_master", "view 'sqlite_master': names starting with es_ or sqlite_ are reserved"},
      {"sqlite_stat1", "view 'sqlite_stat1': names starting with es_ or sqlite_ are reserved"},
      /* SQLite's names ignore ASCII case: ES_EVENTS is es_events. */
      {"ES_EVENTS", "view 'ES_EVENTS': names starting with es_ or sqlite_ are reserved"},
      {"Es_views", "view 'Es_views': names starting with es_ or sqlite_ are reserved"},
      {"SQLite_master", "view 'SQLite_master': names starting with es_ or sqlite_ are reserved"},
  };
  for (size_t i = 0; i < sizeof(reserved) / sizeof(reserved[0]); i++) {
    d = good_def(), d.name = reserved[i].name;
    refused(r, &d, reserved[i].msg);
  }

  d = good_def(), d.columns = NULL;
  refused(r, &d, "view 'x' has no column definitions");
  d = good_def(), d.columns = "";
  refused(r, &d, "view 'x' has no column definitions");
  d = good_def(), d.fold = NULL;
  refused(r, &d, "view 'x' has no fold callback");
  d = good_def(), d.n_event_types = 0;
  refused(r, &d, "view 'x' handles no event type");
  d = good_def(), d.n_event_types = -1;
  refused(r, &d, "view 'x' handles no event type");
  d = good_def(), d.event_types = NULL;
  refused(r, &d, "view 'x' handles no event type");

  const char *types[4] = {"Opened", NULL, "Closed", "Deposited"};
  d = good_def(), d.event_types = types, d.n_event_types = 4;
  refused(r, &d, "view 'x': event type 1 has no valid name");
  types[1] = "";
  refused(r, &d, "view 'x': event type 1 has no valid name");
  types[1] = "Bad\x01";
  refused(r, &d, "view 'x': event type 1 has no valid name");
  types[1] = long_name;
  refused(r, &d, "view 'x': event type 1 has no valid name");
  types[1] = "Deposited";
  refused(r, &d, "view 'x': event type 'Deposited' is listed twice");
  types[1] = "Withdrawn";
  types[3] = "Opened";
  refused(r, &d, "view 'x': event type 'Opened' is listed twice");
  types[3] = "Deposited";
  assert_int_equal(es_registry_view_count(r), 0);

  /* With every fault fixed it registers; 200-byte, non-ASCII and look-alike names are fine. */
  long_name[200] = 0;
  sample_user u = {0};
  es_error err = {0};
  static const char *const fine[] = {"es", "e_s", "ES-x", "sqlite", "my_es_view", "caf\xc3\xa9 view"};
  d.name = long_name;
  assert_int_equal(es_registry_add_view(r, &d, &u, sample_user_destroy, &err), ES_OK);
  for (size_t i = 0; i < sizeof(fine) / sizeof(fine[0]); i++) {
    d.name = fine[i];
    assert_int_equal(es_registry_add_view(r, &d, &u, sample_user_destroy, &err), ES_OK);
    assert_non_null(es_registry_find_view(r, fine[i]));
  }
  assert_int_equal(err.status, ES_OK);
  assert_int_equal(es_registry_view_count(r), 7);
  assert_non_null(es_registry_find_view(r, long_name));
  assert_int_equal(u.destroyed, 0);
  es_registry_free(r);
  assert_int_equal(u.destroyed, 7);
}

/* ----------------------- Registration, lookup, copies ----------------------- */

static void test_register_and_find(void **state) {
  (void)state;
  es_registry *r = new_registry();
  sample_user ua = {0}, ub = {0};
  es_error err = {0};
  assert_int_equal(es_registry_view_count(r), 0);
  assert_null(es_registry_view_at(r, 0));
  assert_null(es_registry_find_view(r, "balances"));

  es_view_type a = good_def(), b = good_def();
  a.name = "balances";
  b.name = "history";
  b.fold = fold_b;
  b.columns = "position INTEGER PRIMARY KEY";
  static const char *const one[] = {"Opened"};
  b.event_types = one;
  b.n_event_types = 1;
  assert_int_equal(es_registry_add_view(r, &a, &ua, sample_user_destroy, &err), ES_OK);
  assert_int_equal(es_registry_add_view(r, &b, &ub, NULL, &err), ES_OK);
  assert_int_equal(err.status, ES_OK);
  assert_null(err.message);
  assert_int_equal(es_registry_view_count(r), 2);

  const es_view *va = es_registry_find_view(r, "balances");
  const es_view *vb = es_registry_find_view(r, "history");
  assert_non_null(va);
  assert_non_null(vb);
  assert_ptr_equal(es_registry_view_at(r, 0), va); /* registration order */
  assert_ptr_equal(es_registry_view_at(r, 1), vb);
  assert_null(es_registry_view_at(r, 2));
  assert_null(es_registry_find_view(r, "Balances")); /* names are compared exactly */
  assert_null(es_registry_find_view(r, "balance"));
  assert_null(es_registry_find_view(r, ""));
  assert_str(va->def.name, "balances");
  assert_str(va->def.columns, "id TEXT PRIMARY KEY, n INTEGER");
  assert_int_equal(va->def.n_event_types, 2);
  assert_str(va->def.event_types[0], "Deposited");
  assert_str(va->def.event_types[1], "Withdrawn");
  assert_true(va->def.fold == fold_a);
  assert_ptr_equal(va->user, &ua);
  assert_true(va->xDestroy == sample_user_destroy);
  assert_str(vb->def.columns, "position INTEGER PRIMARY KEY");
  assert_true(vb->def.fold == fold_b);
  assert_ptr_equal(vb->user, &ub);
  assert_null(vb->xDestroy);

  /* Views and aggregate types are apart: neither finds the other. */
  assert_int_equal(es_registry_count(r), 0);
  assert_null(es_registry_find(r, "balances"));
  sample_user uagg = {0};
  assert_int_equal(es_registry_add(r, sample_account_type(), &uagg, sample_user_destroy, &err), ES_OK);
  es_view_type same = good_def();
  same.name = "account";
  assert_int_equal(es_registry_add_view(r, &same, NULL, NULL, &err), ES_OK);
  assert_non_null(es_registry_find(r, "account"));
  assert_non_null(es_registry_find_view(r, "account"));
  assert_int_equal(es_registry_count(r), 1);
  assert_int_equal(es_registry_view_count(r), 3);

  es_registry_free(r);
  assert_int_equal(ua.destroyed, 1);
  assert_int_equal(ub.destroyed, 0); /* no xDestroy was given */
  assert_int_equal(uagg.destroyed, 1);
}

static void test_definition_is_copied(void **state) {
  (void)state;
  es_registry *r = new_registry();
  es_error err = {0};
  sample_user u = {0};
  char name[16], columns[64], t0[16], t1[16];
  strcpy(name, "temp");
  strcpy(columns, "k TEXT PRIMARY KEY");
  strcpy(t0, "Started");
  strcpy(t1, "Stopped");
  const char *types[2] = {t0, t1};
  es_view_type d = {.iVersion = 5, .name = name, .columns = columns, .event_types = types, .n_event_types = 2,
                    .fold = fold_b};
  assert_int_equal(es_registry_add_view(r, &d, &u, sample_user_destroy, &err), ES_OK);
  /* The caller's definition goes away. */
  memset(name, 'z', sizeof(name) - 1);
  memset(columns, 'z', sizeof(columns) - 1);
  memset(t0, 'z', sizeof(t0) - 1);
  memset(t1, 'z', sizeof(t1) - 1);
  types[0] = types[1] = 0;
  memset(&d, 0, sizeof(d));

  const es_view *v = es_registry_find_view(r, "temp");
  assert_non_null(v);
  assert_int_equal(v->def.iVersion, 1); /* what this build understands of it */
  assert_ptr_not_equal(v->def.name, name);
  assert_ptr_not_equal(v->def.event_types, types);
  assert_str(v->def.columns, "k TEXT PRIMARY KEY");
  assert_int_equal(v->def.n_event_types, 2);
  assert_str(v->def.event_types[0], "Started");
  assert_str(v->def.event_types[1], "Stopped");
  assert_true(v->def.fold == fold_b);
  assert_true(es_view_handles(v, "Started"));
  assert_true(es_view_handles(v, "Stopped"));
  es_registry_free(r);
  assert_int_equal(u.destroyed, 1);
}

/* ----------------------- es_view_handles ----------------------- */

static void test_handles(void **state) {
  (void)state;
  es_registry *r = new_registry();
  es_error err = {0};
  static const char *const types[] = {"AccountOpened", "Deposited", "caf\xc3\xa9 bu"};
  es_view_type d = good_def();
  d.event_types = types;
  d.n_event_types = 3;
  assert_int_equal(es_registry_add_view(r, &d, NULL, NULL, &err), ES_OK);
  const es_view *v = es_registry_find_view(r, "x");
  assert_true(es_view_handles(v, "AccountOpened"));
  assert_true(es_view_handles(v, "Deposited"));
  assert_true(es_view_handles(v, "caf\xc3\xa9 bu"));
  assert_false(es_view_handles(v, "Withdrawn"));
  assert_false(es_view_handles(v, "deposited")); /* exact, case-sensitive */
  assert_false(es_view_handles(v, "Deposite"));
  assert_false(es_view_handles(v, "Depositedd"));
  assert_false(es_view_handles(v, "AccountOpened "));
  assert_false(es_view_handles(v, ""));
  es_registry_free(r);
}

/* ----------------------- Replacement and removal ----------------------- */

static void test_replace_by_name(void **state) {
  (void)state;
  es_registry *r = new_registry();
  es_error err = {0};
  sample_user u1 = {0}, u2 = {0}, uo = {0}, ubad = {0};
  es_view_type d = good_def(), other = good_def();
  d.name = "balances";
  other.name = "history";
  assert_int_equal(es_registry_add_view(r, &d, &u1, sample_user_destroy, &err), ES_OK);
  assert_int_equal(es_registry_add_view(r, &other, &uo, sample_user_destroy, &err), ES_OK);

  /* A refused definition under the same name leaves the registered view alone. */
  es_view_type bad = d;
  bad.fold = NULL;
  assert_int_equal(es_registry_add_view(r, &bad, &ubad, sample_user_destroy, &err), ES_INVALID_ARGUMENT);
  assert_str(err.message, "view 'balances' has no fold callback");
  es_error_clear(&err);
  assert_int_equal(ubad.destroyed, 1);
  assert_int_equal(u1.destroyed, 0);
  assert_ptr_equal(es_registry_find_view(r, "balances")->user, &u1);

  /* Replace "balances": the old one's xDestroy runs, the new one takes its place. */
  static const char *const one[] = {"Closed"};
  es_view_type d2 = d;
  d2.columns = "id TEXT PRIMARY KEY";
  d2.event_types = one;
  d2.n_event_types = 1;
  d2.fold = fold_b;
  assert_int_equal(es_registry_add_view(r, &d2, &u2, sample_user_destroy, &err), ES_OK);
  assert_int_equal(u1.destroyed, 1);
  assert_int_equal(u2.destroyed, 0);
  assert_int_equal(uo.destroyed, 0);
  assert_int_equal(es_registry_view_count(r), 2);
  const es_view *v = es_registry_find_view(r, "balances");
  assert_ptr_equal(es_registry_view_at(r, 0), v); /* it keeps its place */
  assert_ptr_equal(v->user, &u2);
  assert_true(v->def.fold == fold_b);
  assert_str(v->def.columns, "id TEXT PRIMARY KEY");
  assert_true(es_view_handles(v, "Closed"));
  assert_false(es_view_handles(v, "Deposited")); /* the old event types are gone */

  /* Replacing with the same user pointer: its xDestroy still runs for the old registration. */
  assert_int_equal(es_registry_add_view(r, &d2, &u2, sample_user_destroy, &err), ES_OK);
  assert_int_equal(u2.destroyed, 1);

  es_registry_free(r);
  assert_int_equal(u1.destroyed, 1);
  assert_int_equal(u2.destroyed, 2);
  assert_int_equal(uo.destroyed, 1);
  assert_int_equal(ubad.destroyed, 1);
}

static void test_remove(void **state) {
  (void)state;
  es_registry *r = new_registry();
  es_error err = {0};
  sample_user u[4] = {{0}};
  static const char *const names[] = {"a", "b", "c", "d"};
  for (int i = 0; i < 4; i++) {
    es_view_type d = good_def();
    d.name = names[i];
    assert_int_equal(es_registry_add_view(r, &d, &u[i], sample_user_destroy, &err), ES_OK);
  }
  assert_int_equal(es_registry_remove_view(r, "zz"), 0);
  assert_int_equal(es_registry_remove_view(r, "B"), 0);
  assert_int_equal(es_registry_remove_view(r, ""), 0);
  assert_int_equal(es_registry_view_count(r), 4);
  for (int i = 0; i < 4; i++) assert_int_equal(u[i].destroyed, 0);

  /* From the middle: xDestroy runs, the others keep their order. */
  assert_int_equal(es_registry_remove_view(r, "b"), 1);
  assert_int_equal(u[1].destroyed, 1);
  assert_int_equal(es_registry_view_count(r), 3);
  assert_null(es_registry_find_view(r, "b"));
  assert_str(es_registry_view_at(r, 0)->def.name, "a");
  assert_str(es_registry_view_at(r, 1)->def.name, "c");
  assert_str(es_registry_view_at(r, 2)->def.name, "d");
  assert_null(es_registry_view_at(r, 3));
  assert_int_equal(es_registry_remove_view(r, "b"), 0); /* only once */
  assert_int_equal(u[1].destroyed, 1);
  /* The last, then the first. */
  assert_int_equal(es_registry_remove_view(r, "d"), 1);
  assert_int_equal(es_registry_remove_view(r, "a"), 1);
  assert_int_equal(es_registry_view_count(r), 1);
  assert_ptr_equal(es_registry_view_at(r, 0), es_registry_find_view(r, "c"));
  /* A removed name can be registered again. */
  es_view_type d = good_def();
  d.name = "b";
  assert_int_equal(es_registry_add_view(r, &d, &u[1], sample_user_destroy, &err), ES_OK);
  assert_str(es_registry_view_at(r, 1)->def.name, "b");
  /* Removing a view leaves the aggregate types alone. */
  assert_int_equal(es_registry_add(r, sample_counter_type(), NULL, NULL, &err), ES_OK);
  assert_int_equal(es_registry_remove_view(r, "counter"), 0);
  assert_non_null(es_registry_find(r, "counter"));

  es_registry_free(r);
  assert_int_equal(u[0].destroyed, 1);
  assert_int_equal(u[1].destroyed, 2);
  assert_int_equal(u[2].destroyed, 1);
  assert_int_equal(u[3].destroyed, 1);
}

static void test_many_views(void **state) {
  (void)state;
  es_registry *r = new_registry();
  es_error err = {0};
  sample_user u = {0};
  char names[40][24];
  for (int i = 0; i < 40; i++) {
    es_view_type d = good_def();
    snprintf(names[i], sizeof(names[i]), "view-%d", i);
    d.name = names[i];
    assert_int_equal(es_registry_add_view(r, &d, &u, sample_user_destroy, &err), ES_OK);
  }
  assert_int_equal(es_registry_view_count(r), 40);
  for (int i = 0; i < 40; i++) {
    assert_str(es_registry_view_at(r, (size_t)i)->def.name, names[i]);
    assert_ptr_equal(es_registry_find_view(r, names[i]), es_registry_view_at(r, (size_t)i));
  }
  for (int i = 0; i < 40; i += 2) assert_int_equal(es_registry_remove_view(r, names[i]), 1);
  assert_int_equal(u.destroyed, 20);
  assert_int_equal(es_registry_view_count(r), 20);
  for (int i = 0; i < 20; i++) assert_str(es_registry_view_at(r, (size_t)i)->def.name, names[2 * i + 1]);
  es_registry_free(r);
  assert_int_equal(u.destroyed, 40);
}

/* ----------------------- Out of memory ----------------------- */

/*
** Registering under allocation failure n, for every n: ES_NOMEM with xDestroy called once and the
** registry unchanged (a replaced view still there), or ES_OK; never a leak.
*/
static void view_oom_loop(int replace) {
  int succeeded = 0;
  long n;
  for (n = 0; !succeeded && n < 10000; n++) {
    es_registry *r = new_registry();
    es_error err = {0};
    sample_user old = {0}, u = {0};
    es_view_type d = good_def();
    if (replace) {
      assert_int_equal(es_registry_add_view(r, &d, &old, sample_user_destroy, &err), ES_OK);
      d.fold = fold_b;
    }
    fake_mem_fail_after(n);
    es_status rc = es_registry_add_view(r, &d, &u, sample_user_destroy, &err);
    fake_mem_fail_after(-1);
    if (rc == ES_OK) {
      succeeded = 1;
      assert_int_equal(u.destroyed, 0);
      assert_int_equal(old.destroyed, replace ? 1 : 0);
      assert_ptr_equal(es_registry_find_view(r, "x")->user, &u);
      assert_str(es_registry_find_view(r, "x")->def.event_types[1], "Withdrawn");
    } else {
      assert_int_equal(rc, ES_NOMEM);
      assert_int_equal(err.status, ES_NOMEM);
      assert_null(err.message);
      assert_int_equal(u.destroyed, 1);
      assert_int_equal(old.destroyed, 0);
      assert_int_equal(es_registry_view_count(r), replace ? 1 : 0);
      if (replace) {
        assert_ptr_equal(es_registry_find_view(r, "x")->user, &old);
        assert_true(es_registry_find_view(r, "x")->def.fold == fold_a);
      }
    }
    es_error_clear(&err);
    es_registry_free(r);
    assert_int_equal(fake_mem_live(), live_at_start);
  }
  assert_true(succeeded);
  assert_true(n > 5); /* name, columns, the type array, two types, the view list */
}

static void test_add_view_oom(void **state) {
  (void)state;
  view_oom_loop(0);
}

static void test_replace_view_oom(void **state) {
  (void)state;
  view_oom_loop(1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, unit_setup, unit_teardown)
      T(test_refused_definitions),
      T(test_register_and_find),
      T(test_definition_is_copied),
      T(test_handles),
      T(test_replace_by_name),
      T(test_remove),
      T(test_many_views),
      T(test_add_view_oom),
      T(test_replace_view_oom),
#undef T
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
