/*
** test_registry.c — unit tests of the aggregate-type registry (ext/domain/registry.h): every
** definition it refuses, with its exact message; xDestroy called exactly once on a failed
** registration, on replacement and at the end; replacement by name (generation changes, the old
** type is gone); the definition deep-copied; lookups; and out of memory at every allocation.
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

static es_status decide_stub(void *user, const void *state, const es_command *cmd, es_emitter *out) {
  (void)user, (void)state, (void)cmd, (void)out;
  return ES_OK;
}
static es_status decide_other(void *user, const void *state, const es_command *cmd, es_emitter *out) {
  (void)user, (void)state, (void)cmd, (void)out;
  return ES_REJECTED;
}
static es_status evolve_stub(void *user, void *state, const es_event *ev) {
  (void)user, (void)state, (void)ev;
  return ES_OK;
}

static es_command_handler good_commands[] = {{"Deposit", decide_stub}, {"Withdraw", decide_other}};
static es_event_handler good_events[] = {{"Deposited", evolve_stub}, {"Withdrawn", NULL}};

/* A valid definition named "x", to break one field at a time. */
static es_aggregate_type good_def(void) {
  es_aggregate_type d = {.iVersion = 1,
                         .name = "x",
                         .state_size = 8,
                         .commands = good_commands,
                         .n_commands = 2,
                         .events = good_events,
                         .n_events = 2};
  return d;
}

/* ----------------------- Lookups ----------------------- */

static void test_register_and_find(void **state) {
  (void)state;
  es_registry *r = new_registry();
  sample_user ua = {0}, uc = {0};
  es_error err = {0};
  assert_int_equal(es_registry_count(r), 0);
  assert_null(es_registry_at(r, 0));
  assert_null(es_registry_find(r, "account"));
  assert_int_equal(es_registry_add(r, sample_account_type(), &ua, sample_user_destroy, &err), ES_OK);
  assert_int_equal(es_registry_add(r, sample_counter_type(), &uc, NULL, &err), ES_OK);
  assert_int_equal(err.status, ES_OK);
  assert_null(err.message);
  assert_int_equal(es_registry_count(r), 2);

  const es_agg *a = es_registry_find(r, "account");
  const es_agg *c = es_registry_find(r, "counter");
  assert_non_null(a);
  assert_non_null(c);
  assert_ptr_equal(es_registry_at(r, 0), a); /* registration order */
  assert_ptr_equal(es_registry_at(r, 1), c);
  assert_null(es_registry_at(r, 2));
  assert_null(es_registry_find(r, "Account")); /* names are case-sensitive */
  assert_null(es_registry_find(r, "accoun"));
  assert_null(es_registry_find(r, "accounts"));
  assert_null(es_registry_find(r, ""));

  assert_str(a->def.name, "account");
  assert_ptr_equal(a->user, &ua);
  assert_true(a->xDestroy == sample_user_destroy);
  assert_ptr_equal(c->user, &uc);
  assert_null(c->xDestroy);
  assert_int_not_equal(a->generation, c->generation);
  assert_int_equal(a->def.state_size, sizeof(account_state));
  assert_true(a->def.xInit == sample_account_type()->xInit);
  assert_true(a->def.xClear == sample_account_type()->xClear);
  assert_true(a->def.xStateToJson == sample_account_type()->xStateToJson);
  assert_null(c->def.xStateToJson);
  assert_int_equal(a->def.n_commands, sample_account_type()->n_commands);
  assert_int_equal(a->def.n_events, 4);

  const es_command_handler *h = es_agg_command(a, "Deposit");
  assert_non_null(h);
  assert_str(h->command_type, "Deposit");
  assert_true(h->decide == sample_account_type()->commands[1].decide);
  assert_null(es_agg_command(a, "deposit"));
  assert_null(es_agg_command(a, "Deposited")); /* an event is not a command */
  assert_null(es_agg_command(a, "Increment")); /* another type's command */
  assert_non_null(es_agg_command(c, "Increment"));
  const es_event_handler *e = es_agg_event(a, "Opened");
  assert_non_null(e);
  assert_str(e->event_type, "Opened");
  assert_non_null(e->evolve);
  e = es_agg_event(a, "Noted");
  assert_non_null(e); /* declared, with no evolve */
  assert_null(e->evolve);
  assert_null(es_agg_event(a, "Deposit"));
  assert_null(es_agg_event(a, "Stolen"));

  es_registry_free(r);
  assert_int_equal(ua.destroyed, 1);
  assert_int_equal(uc.destroyed, 0); /* no xDestroy was given */
}

static void test_definition_is_copied(void **state) {
  (void)state;
  es_registry *r = new_registry();
  es_error err = {0};
  sample_user u = {0};
  char name[16], cmd0[16], cmd1[16], ev0[16], version[16];
  strcpy(name, "temp");
  strcpy(version, "v1");
  strcpy(cmd0, "Start");
  strcpy(cmd1, "Stop");
  strcpy(ev0, "Started");
  es_command_handler cmds[2] = {{cmd0, decide_stub}, {cmd1, decide_other}};
  es_event_handler evs[1] = {{ev0, evolve_stub}};
  es_aggregate_type d = {.iVersion = 3, .name = name, .commands = cmds, .n_commands = 2, .events = evs, .n_events = 1,
                         .state_version = version};
  assert_int_equal(es_registry_add(r, &d, &u, sample_user_destroy, &err), ES_OK);
  /* The caller's definition goes away. */
  memset(name, 'z', sizeof(name) - 1);
  memset(cmd0, 'z', sizeof(cmd0) - 1);
  memset(cmd1, 'z', sizeof(cmd1) - 1);
  memset(ev0, 'z', sizeof(ev0) - 1);
  memset(version, 'z', sizeof(version) - 1);
  memset(cmds, 0, sizeof(cmds));
  memset(evs, 0, sizeof(evs));
  memset(&d, 0, sizeof(d));

  const es_agg *a = es_registry_find(r, "temp");
  assert_non_null(a);
  assert_int_equal(a->def.iVersion, 2); /* what this build understands of it */
  assert_string_equal(a->def.state_version, "v1");
  assert_string_equal(a->fingerprint, ""); /* no state JSON: no snapshots */
  assert_ptr_not_equal(a->def.name, name);
  assert_int_equal(a->def.n_commands, 2);
  assert_int_equal(a->def.n_events, 1);
  assert_true(es_agg_command(a, "Start")->decide == decide_stub);
  assert_true(es_agg_command(a, "Stop")->decide == decide_other);
  assert_true(es_agg_event(a, "Started")->evolve == evolve_stub);
  assert_int_equal(a->def.state_size, 0);
  assert_null(a->def.xInit);
  es_registry_free(r);
  assert_int_equal(u.destroyed, 1);
}

static void test_no_commands_no_events(void **state) {
  (void)state;
  es_registry *r = new_registry();
  es_error err = {0};
  es_aggregate_type d = {.iVersion = 1, .name = "empty"};
  assert_int_equal(es_registry_add(r, &d, NULL, NULL, &err), ES_OK);
  const es_agg *a = es_registry_find(r, "empty");
  assert_non_null(a);
  assert_null(es_agg_command(a, "Anything"));
  assert_null(es_agg_event(a, "Anything"));
  /* Arrays may be given with a count of zero. */
  d.name = "empty2";
  d.commands = good_commands;
  d.events = good_events;
  assert_int_equal(es_registry_add(r, &d, NULL, NULL, &err), ES_OK);
  assert_null(es_agg_command(es_registry_find(r, "empty2"), "Deposit"));
  es_registry_free(r);
  es_registry_free(NULL);
}

/* ----------------------- Refused definitions ----------------------- */

/* def must be refused with this message; xDestroy runs once; the registry is unchanged. */
static void refused(es_registry *r, const es_aggregate_type *def, const char *message) {
  sample_user u = {0};
  es_error err = {0};
  size_t n = es_registry_count(r);
  assert_int_equal(es_registry_add(r, def, &u, sample_user_destroy, &err), ES_INVALID_ARGUMENT);
  assert_int_equal(err.status, ES_INVALID_ARGUMENT);
  assert_null(err.reason);
  assert_str(err.message, message);
  es_error_clear(&err);
  assert_int_equal(u.destroyed, 1);
  assert_int_equal(es_registry_count(r), n);
  /* Without an xDestroy it is refused the same way. */
  assert_int_equal(es_registry_add(r, def, &u, NULL, &err), ES_INVALID_ARGUMENT);
  assert_str(err.message, message);
  es_error_clear(&err);
  assert_int_equal(u.destroyed, 1);
}

static void test_refused_definitions(void **state) {
  (void)state;
  es_registry *r = new_registry();
  es_aggregate_type d;
  char long_name[202];
  memset(long_name, 'n', 201);
  long_name[201] = 0;

  refused(r, NULL, "aggregate type definition is NULL");
  d = good_def(), d.iVersion = 0;
  refused(r, &d, "aggregate type iVersion must be at least 1");
  d = good_def(), d.iVersion = -1;
  refused(r, &d, "aggregate type iVersion must be at least 1");

  static const char *const bad_names[] = {"", "a\tb", "a\nb", "\x1f", "line\r"};
  const char *name_msg = "aggregate type name must be 1 to 200 bytes with no control characters";
  d = good_def(), d.name = NULL;
  refused(r, &d, name_msg);
  for (size_t i = 0; i < sizeof(bad_names) / sizeof(bad_names[0]); i++) {
    d = good_def(), d.name = bad_names[i];
    refused(r, &d, name_msg);
  }
  d = good_def(), d.name = long_name;
  refused(r, &d, name_msg);

  d = good_def(), d.n_commands = -1;
  refused(r, &d, "aggregate type 'x': bad handler arrays");
  d = good_def(), d.n_events = -1;
  refused(r, &d, "aggregate type 'x': bad handler arrays");
  d = good_def(), d.commands = NULL;
  refused(r, &d, "aggregate type 'x': bad handler arrays");
  d = good_def(), d.events = NULL;
  refused(r, &d, "aggregate type 'x': bad handler arrays");

  es_command_handler cmds[3] = {{"Deposit", decide_stub}, {NULL, decide_stub}, {"Close", decide_stub}};
  d = good_def(), d.commands = cmds, d.n_commands = 3;
  refused(r, &d, "aggregate type 'x': command 1 has no valid name");
  cmds[1].command_type = "";
  refused(r, &d, "aggregate type 'x': command 1 has no valid name");
  cmds[1].command_type = "Bad\x01";
  refused(r, &d, "aggregate type 'x': command 1 has no valid name");
  cmds[1].command_type = long_name;
  refused(r, &d, "aggregate type 'x': command 1 has no valid name");
  cmds[1].command_type = "Withdraw";
  cmds[1].decide = NULL;
  refused(r, &d, "aggregate type 'x': command 'Withdraw' has no decide callback");
  cmds[1].decide = decide_stub;
  cmds[2].command_type = "Deposit";
  refused(r, &d, "aggregate type 'x': command 'Deposit' is declared twice");

  es_event_handler evs[3] = {{NULL, evolve_stub}, {"Deposited", NULL}, {"Closed", evolve_stub}};
  d = good_def(), d.events = evs, d.n_events = 3;
  refused(r, &d, "aggregate type 'x': event 0 has no valid name");
  evs[0].event_type = "\tTabbed";
  refused(r, &d, "aggregate type 'x': event 0 has no valid name");
  evs[0].event_type = "Opened";
  evs[2].event_type = "Deposited";
  refused(r, &d, "aggregate type 'x': event 'Deposited' is declared twice");
  evs[2].event_type = "Closed";

  /* With every fault fixed it registers, and 200-byte names and non-ASCII names are fine. */
  long_name[200] = 0;
  d.name = long_name;
  sample_user u = {0};
  es_error err = {0};
  assert_int_equal(es_registry_add(r, &d, &u, sample_user_destroy, &err), ES_OK);
  d.name = "compte-\xc3\xa9pargne";
  assert_int_equal(es_registry_add(r, &d, &u, sample_user_destroy, &err), ES_OK);
  assert_int_equal(es_registry_count(r), 2);
  assert_non_null(es_registry_find(r, long_name));
  assert_int_equal(u.destroyed, 0);
  es_registry_free(r);
  assert_int_equal(u.destroyed, 2);
}

/* ----------------------- Replacement ----------------------- */

static void test_replace_by_name(void **state) {
  (void)state;
  es_registry *r = new_registry();
  es_error err = {0};
  sample_user u1 = {0}, u2 = {0}, uc = {0}, ubad = {0};
  assert_int_equal(es_registry_add(r, sample_account_type(), &u1, sample_user_destroy, &err), ES_OK);
  assert_int_equal(es_registry_add(r, sample_counter_type(), &uc, sample_user_destroy, &err), ES_OK);
  unsigned g1 = es_registry_find(r, "account")->generation;
  unsigned gc = es_registry_find(r, "counter")->generation;

  /* A failed registration under the same name leaves the registered type alone. */
  es_aggregate_type bad = good_def();
  bad.name = "account";
  bad.n_commands = -1;
  assert_int_equal(es_registry_add(r, &bad, &ubad, sample_user_destroy, &err), ES_INVALID_ARGUMENT);
  assert_str(err.message, "aggregate type 'account': bad handler arrays");
  es_error_clear(&err);
  assert_int_equal(ubad.destroyed, 1);
  assert_int_equal(u1.destroyed, 0);
  assert_int_equal(es_registry_find(r, "account")->generation, g1);
  assert_ptr_equal(es_registry_find(r, "account")->user, &u1);

  /* Replace "account" with another definition of that name. */
  es_aggregate_type d = good_def();
  d.name = "account";
  assert_int_equal(es_registry_add(r, &d, &u2, sample_user_destroy, &err), ES_OK);
  assert_int_equal(u1.destroyed, 1); /* the old type's user was let go */
  assert_int_equal(u2.destroyed, 0);
  assert_int_equal(es_registry_count(r), 2);
  const es_agg *a = es_registry_find(r, "account");
  assert_ptr_equal(es_registry_at(r, 0), a); /* it keeps its place */
  assert_ptr_equal(a->user, &u2);
  assert_int_not_equal(a->generation, g1);
  assert_int_not_equal(a->generation, gc);
  assert_int_equal(es_registry_find(r, "counter")->generation, gc); /* the others keep theirs */
  assert_non_null(es_agg_command(a, "Withdraw"));
  assert_null(es_agg_command(a, "Open")); /* the old commands are gone */
  assert_null(es_agg_event(a, "Opened"));
  assert_null(a->def.xInit);

  /* And again: every replacement gets a new generation. */
  unsigned g2 = a->generation;
  assert_int_equal(es_registry_add(r, sample_account_type(), &u1, sample_user_destroy, &err), ES_OK);
  assert_int_equal(u2.destroyed, 1);
  a = es_registry_find(r, "account");
  assert_int_not_equal(a->generation, g2);
  assert_int_not_equal(a->generation, g1);
  assert_non_null(es_agg_command(a, "Open"));

  es_registry_free(r);
  assert_int_equal(u1.destroyed, 2);
  assert_int_equal(u2.destroyed, 1);
  assert_int_equal(uc.destroyed, 1);
  assert_int_equal(ubad.destroyed, 1);
}

static void test_many_types(void **state) {
  (void)state;
  es_registry *r = new_registry();
  es_error err = {0};
  sample_user u = {0};
  char names[40][24];
  for (int i = 0; i < 40; i++) {
    es_aggregate_type d = good_def();
    snprintf(names[i], sizeof(names[i]), "type-%d", i);
    d.name = names[i];
    assert_int_equal(es_registry_add(r, &d, &u, sample_user_destroy, &err), ES_OK);
  }
  assert_int_equal(es_registry_count(r), 40);
  for (int i = 0; i < 40; i++) {
    assert_str(es_registry_at(r, (size_t)i)->def.name, names[i]);
    assert_ptr_equal(es_registry_find(r, names[i]), es_registry_at(r, (size_t)i));
  }
  es_registry_free(r);
  assert_int_equal(u.destroyed, 40);
}

/* ----------------------- Out of memory ----------------------- */

static void test_new_oom(void **state) {
  (void)state;
  fake_mem_fail_after(0);
  assert_null(es_registry_new());
  fake_mem_fail_after(-1);
}

/*
** Registering under allocation failure n, for every n: ES_NOMEM with xDestroy called once and the
** registry unchanged (a replaced type still there), or ES_OK; never a leak. Run against an empty
** registry and against one where the name is already taken.
*/
static void registry_oom_loop(int replace) {
  int succeeded = 0;
  for (long n = 0; !succeeded && n < 10000; n++) {
    es_registry *r = new_registry();
    es_error err = {0};
    sample_user old = {0}, u = {0};
    if (replace) assert_int_equal(es_registry_add(r, sample_account_type(), &old, sample_user_destroy, &err), ES_OK);
    unsigned g = replace ? es_registry_find(r, "account")->generation : 0;
    fake_mem_fail_after(n);
    es_status rc = es_registry_add(r, sample_account_type(), &u, sample_user_destroy, &err);
    fake_mem_fail_after(-1);
    if (rc == ES_OK) {
      succeeded = 1;
      assert_int_equal(u.destroyed, 0);
      assert_int_equal(old.destroyed, replace ? 1 : 0);
      assert_ptr_equal(es_registry_find(r, "account")->user, &u);
    } else {
      assert_int_equal(rc, ES_NOMEM);
      assert_int_equal(err.status, ES_NOMEM);
      assert_null(err.message);
      assert_int_equal(u.destroyed, 1);
      assert_int_equal(old.destroyed, 0);
      assert_int_equal(es_registry_count(r), replace ? 1 : 0);
      if (replace) {
        assert_ptr_equal(es_registry_find(r, "account")->user, &old);
        assert_int_equal(es_registry_find(r, "account")->generation, g);
      }
    }
    es_error_clear(&err);
    es_registry_free(r);
    assert_int_equal(fake_mem_live(), live_at_start);
  }
  assert_true(succeeded);
}

static void test_add_oom(void **state) {
  (void)state;
  registry_oom_loop(0);
}

static void test_replace_oom(void **state) {
  (void)state;
  registry_oom_loop(1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, unit_setup, unit_teardown)
      T(test_register_and_find),
      T(test_definition_is_copied),
      T(test_no_commands_no_events),
      T(test_refused_definitions),
      T(test_replace_by_name),
      T(test_many_types),
      T(test_new_oom),
      T(test_add_oom),
      T(test_replace_oom),
#undef T
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
