/*
** test_state_cache.c — the cache of aggregate states (domain/state_cache.c) and the command loop
** using it (es_command_run_with) against the in-memory store: a state found is used only when
** the stream has not moved behind it (a stream that went on is caught up, one that went back is
** folded again); the state a command leaves is cached only when its unit of work commits; a
** rejected command keeps the state it took, a command that failed after evolving loses it; a type
** registered anew never finds the old states; the limit evicts the least recently used (0 caches
** nothing); out of memory only costs a fold. Snapshots through a fake snapshot port: taken when a
** command's events cross a multiple of snapshot_every, used (with the events after them) when the
** cache has nothing, under the type's fingerprint only and never ahead of the stream; an unreadable
** one only costs a fold; a failing port fails the command. Every state made is cleared, nothing leaks.
*/
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "../../ext/domain/command.h"
#include "../../ext/domain/mem.h"
#include "../../ext/domain/registry.h"
#include "../../ext/domain/state_cache.h"
#include "fake_mem.h"
#include "fake_store.h"
#include "sample_aggregates.h"
#include "unit_support.h"

static struct {
  es_registry *reg;
  fake_store *fs;
  es_state_cache *cache;
  sample_user user;
} F;

static int setup(void **state) {
  es_error err = {0};
  unit_setup(state);
  memset(&F, 0, sizeof(F));
  sample_log_reset();
  F.reg = es_registry_new();
  F.fs = fake_store_new();
  F.cache = es_state_cache_new(ES_DEFAULT_STATE_CACHE_ENTRIES);
  assert_non_null(F.reg);
  assert_non_null(F.fs);
  assert_non_null(F.cache);
  assert_int_equal(es_registry_add(F.reg, sample_account_type(), &F.user, sample_user_destroy, &err), ES_OK);
  return 0;
}

static int teardown(void **state) {
  fake_mem_fail_after(-1);
  es_state_cache_free(F.cache); /* before the registry: states are cleared by their type */
  fake_store_free(F.fs);
  es_registry_free(F.reg);
  assert_int_equal(F.user.inits, F.user.clears);
  return unit_teardown(state);
}

/* Run a command through the cache, then commit the cache as the caller would (or abort it). */
static es_status submit(const char *id, const char *cmd, const char *payload, int commit, es_error *err) {
  es_command_request req = {.aggregate_type = "account",
                            .aggregate_id = id,
                            .command_type = cmd,
                            .payload = payload,
                            .payload_len = payload ? strlen(payload) : 0};
  es_command_result res;
  es_command_env env = {.cache = F.cache};
  es_status rc = es_command_run_with(F.reg, &F.fs->port, &env, &req, &res, err);
  if (rc == ES_OK && commit) es_state_cache_commit(F.cache);
  else es_state_cache_abort(F.cache);
  return rc;
}

static void accepted(const char *id, const char *cmd, const char *payload) {
  es_error err = {0};
  if (submit(id, cmd, payload, 1, &err) != ES_OK)
    fail_msg("%s failed: %s", cmd, err.message ? err.message : es_status_name(err.status));
}

static es_state_cache_stats stats(void) {
  es_state_cache_stats s;
  es_state_cache_stats_get(F.cache, &s);
  return s;
}

static void test_second_command_folds_only_its_event(void **state) {
  (void)state;
  accepted("a1", "Open", "{\"owner\":\"ada\"}");
  accepted("a1", "Deposit", "{\"amount\":5}");
  accepted("a1", "Deposit", "{\"amount\":7}");
  assert_str(sample_log(), "Opened@1,Deposited@2,Deposited@3"); /* each event evolved once */
  assert_int_equal(stats().entries, 1);
  assert_int_equal(stats().hits, 2);
  assert_int_equal(stats().misses, 1);
  assert_int_equal(F.fs->calls[FAKE_READ_STREAM], 1); /* at the stream's version: nothing to read */
  assert_int_equal(F.fs->calls[FAKE_STREAM_VERSION], 2);
}

static void test_uncommitted_state_is_not_cached(void **state) {
  (void)state;
  es_error err = {0};
  accepted("a1", "Open", "{\"owner\":\"ada\"}");
  assert_int_equal(submit("a1", "Deposit", "{\"amount\":5}", 0, &err), ES_OK); /* the caller rolled back */
  assert_int_equal(stats().entries, 0);
  fake_store_free(F.fs); /* the log as the rollback left it: only the Opened event */
  F.fs = fake_store_new();
  assert_int_equal(fake_store_put(F.fs, "account", "a1", 1, "Opened", "{\"owner\":\"ada\"}"), ES_OK);
  sample_log_reset();
  accepted("a1", "Deposit", "{\"amount\":9}");
  assert_str(sample_log(), "Opened@1,Deposited@2");
}

static void test_state_ahead_of_the_stream_is_folded_again(void **state) {
  (void)state;
  accepted("a1", "Open", "{\"owner\":\"ada\"}");
  accepted("a1", "Deposit", "{\"amount\":5}");
  /* A caller's ROLLBACK after the cache committed (a savepoint of ours inside its transaction): the
  ** log is back to version 1, the cached state says 2. */
  fake_store_free(F.fs);
  F.fs = fake_store_new();
  assert_int_equal(fake_store_put(F.fs, "account", "a1", 1, "Opened", "{\"owner\":\"ada\"}"), ES_OK);
  sample_log_reset();
  es_error err = {0};
  assert_int_equal(submit("a1", "Withdraw", "{\"amount\":1}", 1, &err), ES_REJECTED); /* the cached 5 would pass */
  assert_str(err.message, "balance 0 is less than 1");
  es_error_clear(&err);
  assert_str(sample_log(), "Opened@1"); /* folded again from the stream */
}

static void test_rejection_keeps_the_state(void **state) {
  (void)state;
  es_error err = {0};
  accepted("a1", "Open", "{\"owner\":\"ada\"}");
  assert_int_equal(submit("a1", "Withdraw", "{\"amount\":1}", 1, &err), ES_REJECTED);
  es_error_clear(&err);
  assert_int_equal(stats().entries, 1);
  sample_log_reset();
  accepted("a1", "Deposit", "{\"amount\":3}");
  assert_str(sample_log(), "Deposited@2");
}

static void test_failure_after_evolve_drops_the_state(void **state) {
  (void)state;
  es_error err = {0};
  accepted("a1", "Open", "{\"owner\":\"ada\"}");
  fake_store_fail(F.fs, FAKE_APPEND, ES_STORAGE, 13, "disk full");
  assert_int_equal(submit("a1", "Deposit", "{\"amount\":3}", 1, &err), ES_STORAGE);
  es_error_clear(&err);
  fake_store_fail(F.fs, FAKE_APPEND, ES_OK, 0, 0);
  assert_int_equal(stats().entries, 0); /* it held the unappended Deposited */
  sample_log_reset();
  accepted("a1", "Deposit", "{\"amount\":4}");
  assert_str(sample_log(), "Opened@1,Deposited@2");
}

static void test_an_evolve_failing_in_the_catch_up_drops_the_state(void **state) {
  (void)state;
  es_error err = {0};
  accepted("a1", "Open", "{\"owner\":\"ada\"}");
  assert_int_equal(fake_store_put(F.fs, "account", "a1", 2, "Deposited", "{\"amount\":1}"), ES_OK); /* another writer */
  F.user.evolve_fail_version = 2;
  F.user.evolve_fail_status = ES_STORAGE;
  assert_int_equal(submit("a1", "Deposit", "{\"amount\":3}", 1, &err), ES_STORAGE);
  es_error_clear(&err);
  assert_int_equal(stats().entries, 0);
}

static void test_state_behind_the_stream_folds_only_the_rest(void **state) {
  (void)state;
  accepted("a1", "Open", "{\"owner\":\"ada\"}");
  assert_int_equal(fake_store_put(F.fs, "account", "a1", 2, "Deposited", "{\"amount\":4}"), ES_OK); /* not seen */
  sample_log_reset();
  accepted("a1", "Withdraw", "{\"amount\":4}"); /* the balance of 4 comes from the event it caught up */
  assert_int_equal(F.fs->last_read_after, 1);
  assert_str(sample_log(), "Deposited@2,Withdrawn@3");
  assert_int_equal(stats().hits, 1);
}

static void test_new_registration_never_uses_old_states(void **state) {
  (void)state;
  es_error err = {0};
  accepted("a1", "Open", "{\"owner\":\"ada\"}");
  const es_agg *old = es_registry_find(F.reg, "account");
  unsigned old_generation = old->generation;
  es_state st;
  assert_int_equal(es_state_cache_take(F.cache, old, "a1", &st), 1);
  es_state_cache_put(F.cache, &st);
  es_state_cache_clear(F.cache); /* what the caller does before the registry changes */
  assert_int_equal(es_registry_add(F.reg, sample_account_type(), &F.user, 0, &err), ES_OK);
  const es_agg *now = es_registry_find(F.reg, "account");
  assert_int_not_equal(now->generation, old_generation);
  sample_log_reset();
  accepted("a1", "Deposit", "{\"amount\":1}");
  assert_str(sample_log(), "Opened@1,Deposited@2");
  /* A state cached under one generation is not found under another, even at the same address. */
  unsigned g = now->generation;
  ((es_agg *)now)->generation = g + 100;
  assert_int_equal(es_state_cache_take(F.cache, now, "a1", &st), 0);
  ((es_agg *)now)->generation = g;
  assert_int_equal(es_state_cache_take(F.cache, now, "a1", &st), 1);
  es_state_free(&st);
}

static void test_limit_evicts_least_recently_used(void **state) {
  (void)state;
  es_state_cache_set_limit(F.cache, 2);
  accepted("a1", "Open", "{\"owner\":\"a\"}");
  accepted("a2", "Open", "{\"owner\":\"b\"}");
  accepted("a1", "Deposit", "{\"amount\":1}"); /* a1 becomes the most recent */
  accepted("a3", "Open", "{\"owner\":\"c\"}");  /* evicts a2 */
  assert_int_equal(stats().entries, 2);
  assert_int_equal(stats().evictions, 1);
  sample_log_reset();
  accepted("a2", "Deposit", "{\"amount\":1}");
  accepted("a1", "Deposit", "{\"amount\":1}");
  /* a2 was folded again, and evicted a1 (the least recently used then), folded again too */
  assert_str(sample_log(), "Opened@1,Deposited@2,Opened@1,Deposited@2,Deposited@3");
  es_state_cache_set_limit(F.cache, 0);
  assert_int_equal(stats().entries, 0);
  sample_log_reset();
  accepted("a3", "Deposit", "{\"amount\":1}");
  accepted("a3", "Deposit", "{\"amount\":1}");
  assert_str(sample_log(), "Opened@1,Deposited@2,Opened@1,Deposited@2,Deposited@3");
  assert_int_equal(stats().entries, 0);
}

static void test_many_streams(void **state) {
  (void)state;
  char id[32];
  for (int i = 0; i < 500; i++) {
    snprintf(id, sizeof id, "acc-%d", i);
    accepted(id, "Open", "{\"owner\":\"x\"}");
  }
  sample_log_reset();
  for (int i = 0; i < 500; i++) {
    snprintf(id, sizeof id, "acc-%d", i);
    accepted(id, "Deposit", "{\"amount\":2}");
  }
  assert_int_equal(sample_log_count(), 500); /* only the new events */
  assert_int_equal(stats().entries, 500);
}

/* Out of memory at each allocation: the command's outcome is the same or nomem, never a wrong
** state; nothing leaks. */
static void test_out_of_memory(void **state) {
  (void)state;
  accepted("a1", "Open", "{\"owner\":\"ada\"}");
  for (long fail = 0; fail < 40; fail++) {
    es_error err = {0};
    fake_mem_fail_after(fail);
    es_status rc = submit("a1", "Deposit", "{\"amount\":1}", 1, &err);
    fake_mem_fail_after(-1);
    assert_true(rc == ES_OK || rc == ES_NOMEM);
    es_error_clear(&err);
  }
  es_error err = {0};
  es_state_cache_clear(F.cache);
  es_state st;
  es_status rc = es_state_load(&st, es_registry_find(F.reg, "account"), &F.fs->port, "a1", &err);
  assert_int_equal(rc, ES_OK);
  assert_int_equal(((account_state *)st.data)->balance, fake_store_stream_version(F.fs, "account", "a1") - 1);
  es_state_free(&st);
}

/* ----------------------- snapshots ----------------------- */

/* One snapshot per stream and fingerprint, in memory. */
typedef struct fake_snap {
  char type[32], id[32], fp[32];
  int64_t version;
  char json[256];
  int loads, saves;
  es_status fail; /* every call fails with this when not ES_OK */
} fake_snap;

static fake_snap SNAP;

static es_status snap_load(void *self, const char *type, const char *id, const char *fp, int *found, int64_t *version,
                           char **state, size_t *len, es_error *err) {
  fake_snap *f = self;
  f->loads++;
  *found = 0;
  if (f->fail != ES_OK) return es_error_set(err, f->fail, "snapshot port failed");
  if (strcmp(f->type, type) || strcmp(f->id, id) || strcmp(f->fp, fp)) return ES_OK;
  if (!(*state = es_mem_strdup(f->json))) return es_error_set(err, ES_NOMEM, 0);
  *len = strlen(f->json);
  *version = f->version;
  *found = 1;
  return ES_OK;
}

static es_status snap_save(void *self, const char *type, const char *id, const char *fp, int64_t version,
                           const char *state, size_t len, es_error *err) {
  fake_snap *f = self;
  f->saves++;
  if (f->fail != ES_OK) return es_error_set(err, f->fail, "snapshot port failed");
  snprintf(f->type, sizeof f->type, "%s", type);
  snprintf(f->id, sizeof f->id, "%s", id);
  snprintf(f->fp, sizeof f->fp, "%s", fp);
  snprintf(f->json, sizeof f->json, "%.*s", (int)len, state);
  f->version = version;
  return ES_OK;
}

static es_status snap_submit(const char *id, const char *cmd, const char *payload, int64_t every, es_error *err) {
  es_snapshot_store port = {.self = &SNAP, .load = snap_load, .save = snap_save};
  es_command_env env = {.snapshots = &port, .snapshot_every = every};
  es_command_request req = {.aggregate_type = "account", .aggregate_id = id, .command_type = cmd, .payload = payload,
                            .payload_len = payload ? strlen(payload) : 0};
  es_command_result res;
  return es_command_run_with(F.reg, &F.fs->port, &env, &req, &res, err);
}

static void snap_ok(const char *id, const char *cmd, const char *payload, int64_t every) {
  es_error err = {0};
  if (snap_submit(id, cmd, payload, every, &err) != ES_OK)
    fail_msg("%s failed: %s", cmd, err.message ? err.message : es_status_name(err.status));
}

static void test_snapshots_taken_and_used(void **state) {
  (void)state;
  memset(&SNAP, 0, sizeof(SNAP));
  snap_ok("a1", "Open", "{\"owner\":\"ada\"}", 3);
  snap_ok("a1", "Deposit", "{\"amount\":5}", 3);
  assert_int_equal(SNAP.saves, 0);
  snap_ok("a1", "Split", "{\"amount\":1,\"parts\":3}", 3); /* versions 3..5: crosses 3 */
  assert_int_equal(SNAP.saves, 1);
  assert_int_equal(SNAP.version, 5);
  assert_str(SNAP.json, "{\"owner\":\"ada\",\"open\":true,\"balance\":8,\"applied\":5}");
  assert_str(SNAP.fp, es_registry_find(F.reg, "account")->fingerprint);
  assert_int_equal(strlen(SNAP.fp), 16);
  sample_log_reset();
  snap_ok("a1", "Deposit", "{\"amount\":2}", 3); /* from the snapshot at 5: only the new event evolves */
  assert_str(sample_log(), "Deposited@6");
  assert_int_equal(SNAP.saves, 2); /* 6 crosses 6 */
  /* ahead of the stream (a rollback elsewhere, tampering): folded from the start */
  SNAP.version = 50;
  sample_log_reset();
  snap_ok("a1", "Deposit", "{\"amount\":1}", 0);
  assert_str(sample_log(), "Opened@1,Deposited@2,Deposited@3,Deposited@4,Deposited@5,Deposited@6,Deposited@7");
  /* unreadable, or another fingerprint: the same */
  SNAP.version = 6;
  snprintf(SNAP.json, sizeof SNAP.json, "{\"owner\":\"ada\",\"open\":\"yes\"}");
  sample_log_reset();
  snap_ok("a1", "Deposit", "{\"amount\":1}", 0);
  assert_int_equal(sample_log_count(), 8);
  snprintf(SNAP.json, sizeof SNAP.json, "{\"owner\":\"ada\",\"open\":true,\"balance\":9,\"applied\":6}");
  SNAP.fp[0] = 'x';
  sample_log_reset();
  snap_ok("a1", "Deposit", "{\"amount\":1}", 0);
  assert_int_equal(sample_log_count(), 9);
  /* a type without a fingerprint (counter: no state JSON) never asks */
  static sample_user counter_user;
  es_error err = {0};
  assert_int_equal(es_registry_add(F.reg, sample_counter_type(), &counter_user, sample_user_destroy, &err), ES_OK);
  assert_str(es_registry_find(F.reg, "counter")->fingerprint, "");
  int loads = SNAP.loads;
  es_command_request req = {.aggregate_type = "counter", .aggregate_id = "c", .command_type = "Increment"};
  es_snapshot_store port = {.self = &SNAP, .load = snap_load, .save = snap_save};
  es_command_env env = {.snapshots = &port, .snapshot_every = 1};
  es_command_result res;
  assert_int_equal(es_command_run_with(F.reg, &F.fs->port, &env, &req, &res, &err), ES_OK);
  assert_int_equal(SNAP.loads, loads);
  assert_int_equal(SNAP.saves, 2); /* and none for it */
}

static void test_snapshot_port_failures_fail_the_command(void **state) {
  (void)state;
  es_error err = {0};
  memset(&SNAP, 0, sizeof(SNAP));
  snap_ok("a1", "Open", "{\"owner\":\"ada\"}", 0);
  SNAP.fail = ES_STORAGE;
  assert_int_equal(snap_submit("a1", "Deposit", "{\"amount\":1}", 0, &err), ES_STORAGE);
  assert_str(err.message, "snapshot port failed");
  es_error_clear(&err);
  SNAP.fail = ES_OK;
  snap_ok("a1", "Deposit", "{\"amount\":1}", 0); /* the load worked; now the save fails */
  SNAP.fail = ES_STORAGE;
  assert_int_equal(snap_submit("a1", "Deposit", "{\"amount\":1}", 1, &err), ES_STORAGE);
  es_error_clear(&err);
}

int main(void) {
  const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
      T(test_second_command_folds_only_its_event),
      T(test_uncommitted_state_is_not_cached),
      T(test_state_ahead_of_the_stream_is_folded_again),
      T(test_rejection_keeps_the_state),
      T(test_failure_after_evolve_drops_the_state),
      T(test_an_evolve_failing_in_the_catch_up_drops_the_state),
      T(test_state_behind_the_stream_folds_only_the_rest),
      T(test_new_registration_never_uses_old_states),
      T(test_limit_evicts_least_recently_used),
      T(test_many_streams),
      T(test_out_of_memory),
      T(test_snapshots_taken_and_used),
      T(test_snapshot_port_failures_fail_the_command),
#undef T
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
