/*
** es_side.c — the sqlite-es side of the benchmark: the static build (es_register_auto_extension)
** with the bank set up four ways (C aggregate; + C views; + SQL views; SQL aggregate + SQL views),
** commands sent with SELECT es_submit, streams replayed with es_state, views rebuilt with es_rebuild.
*/
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "es.h"

/* The bank example compiled in (examples/bank/bank.c and bank_views.c under SQLITE_CORE). */
int sqlite3_bank_init(sqlite3 *db, char **pzErrMsg, const sqlite3_api_routines *pApi);
int sqlite3_bankviews_init(sqlite3 *db, char **pzErrMsg, const sqlite3_api_routines *pApi);

typedef struct es_side {
  sqlite3 *db;
  sqlite3_stmt *submit;
} es_side;

/* Run a file of SQL (the SQL bank) on the connection. */
static int exec_file(sqlite3 *db, const char *dir, const char *name, bench_result *r) {
  char path[4096];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  char *sql = bench_read_file(path, r);
  int rc = sql ? bench_exec(db, sql, r) : -1;
  free(sql);
  return rc;
}

/* Register a C part of the bank (its init function, as the static build's tests do). */
static int init_c(sqlite3 *db, int (*init)(sqlite3 *, char **, const sqlite3_api_routines *), const char *what,
                  bench_result *r) {
  char *err = 0;
  if (init(db, &err, 0) == SQLITE_OK) return 0;
  bench_fail(r, "%s: %s", what, err ? err : "failed");
  sqlite3_free(err);
  return -1;
}

/* Open the database with sqlite-es and the bank of the setup. On a new database the SQL parts are
** run (their views built from the log, if any); a database that has them (defined: a W3 template)
** only needs the C parts registered. */
static int es_open(es_side *e, const char *path, bench_setup setup, int defined, const char *sql_dir, bench_result *r) {
  if (es_register_auto_extension() != SQLITE_OK) return bench_fail(r, "es_register_auto_extension failed");
  if (bench_open(path, &e->db, r)) return -1;
  switch (setup) {
    case SETUP_C:
      return init_c(e->db, sqlite3_bank_init, "bank", r);
    case SETUP_C_CVIEWS:
      if (init_c(e->db, sqlite3_bank_init, "bank", r)) return -1;
      return init_c(e->db, sqlite3_bankviews_init, "bank_views", r);
    case SETUP_C_SQLVIEWS:
      if (init_c(e->db, sqlite3_bank_init, "bank", r)) return -1;
      return defined ? 0 : exec_file(e->db, sql_dir, "bank_views.sql", r);
    case SETUP_SQL:
      return defined ? 0 : exec_file(e->db, sql_dir, "bank.sql", r);
  }
  return bench_fail(r, "unknown setup %d", (int)setup);
}

/* bench_submit_fn: SELECT es_submit(…), autocommit or inside the caller's transaction. */
static int es_submit_one(void *side, const bench_cmd *c, bench_result *r) {
  es_side *e = side;
  char id[32], payload[64];
  bench_account_id(c->account, id, sizeof id);
  bench_payload(c, payload, sizeof payload);
  sqlite3_bind_text(e->submit, 1, id, -1, SQLITE_STATIC);
  sqlite3_bind_text(e->submit, 2, bench_cmd_type(c->kind), -1, SQLITE_STATIC);
  sqlite3_bind_text(e->submit, 3, payload, -1, SQLITE_STATIC);
  int rc = sqlite3_step(e->submit);
  int accepted = rc == SQLITE_ROW;
  if (!accepted && strncmp(sqlite3_errmsg(e->db), "es: rejected", 12) != 0) {
    bench_fail(r, "sqlite-es: %s %s %s: %s", bench_cmd_type(c->kind), id, payload, sqlite3_errmsg(e->db));
    sqlite3_reset(e->submit);
    return -1;
  }
  sqlite3_reset(e->submit);
  return accepted;
}

static int dump_log_and_models(FILE *f, es_side *e, bench_setup setup, bench_result *r) {
  if (bench_dump_query(f, e->db, "log",
                       "SELECT position, aggregate_type, aggregate_id, version, type, data, metadata, command_id"
                       " FROM es_events ORDER BY position",
                       r))
    return -1;
  if (setup == SETUP_C) return 0;
  if (bench_dump_query(f, e->db, "account_balances",
                       "SELECT account_id, owner, balance, status, events, last_version FROM account_balances"
                       " ORDER BY account_id",
                       r))
    return -1;
  return bench_dump_query(f, e->db, "account_history",
                          "SELECT position, account_id, type, amount, balance_after FROM account_history ORDER BY position",
                          r);
}

/* W1a, W1b, W2 (and a W3 fill, C aggregate, without the dump): a new database, commands, dump. */
static int run_commands(const bench_job *job, bench_result *r, int fill) {
  es_side e = {0};
  char *outcomes = 0;
  FILE *f = 0;
  int rc = -1;
  bench_setup setup = fill ? SETUP_C : job->setup;
  bench_remove_db(job->db_path);
  if (es_open(&e, job->db_path, setup, 0, job->sql_dir, r)) goto done;
  if (sqlite3_prepare_v3(e.db, "SELECT es_submit('account', ?1, ?2, ?3)", -1, SQLITE_PREPARE_PERSISTENT, &e.submit,
                         0) != SQLITE_OK) {
    bench_fail(r, "sqlite-es: %s", sqlite3_errmsg(e.db));
    goto done;
  }
  if (bench_run_commands(job, e.db, es_submit_one, &e, &outcomes, r)) goto done;
  if (!fill) {
    if (!(f = fopen(job->dump_path, "w"))) {
      bench_fail(r, "cannot write %s", job->dump_path);
      goto done;
    }
    bench_dump_outcomes(f, outcomes, (long)r->units);
    if (dump_log_and_models(f, &e, setup, r)) goto done;
  }
  rc = 0;
done:
  if (f) fclose(f);
  free(outcomes);
  sqlite3_finalize(e.submit);
  if (e.db && bench_close(e.db, job->db_path, r)) rc = -1;
  return rc;
}

/* W3 replay: es_state of every account; the states are kept for the dump. */
static int replay(es_side *e, const bench_job *job, char **states, bench_result *r) {
  sqlite3_stmt *st = 0;
  char id[32];
  int rc = -1;
  double start = 0;
  if (sqlite3_prepare_v2(e->db, "SELECT es_state('account', ?1)", -1, &st, 0) != SQLITE_OK) {
    bench_fail(r, "sqlite-es: %s", sqlite3_errmsg(e->db));
    goto done;
  }
  start = bench_now();
  for (long a = 0; a < job->sizes->accounts; a++) {
    bench_account_id(a, id, sizeof id);
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    if (sqlite3_step(st) != SQLITE_ROW) {
      bench_fail(r, "sqlite-es: es_state of %s: %s", id, sqlite3_errmsg(e->db));
      goto done;
    }
    if (!(states[a] = strdup((const char *)sqlite3_column_text(st, 0)))) {
      bench_fail(r, "out of memory");
      goto done;
    }
    sqlite3_reset(st);
  }
  r->seconds = bench_now() - start;
  rc = 0;
done:
  sqlite3_finalize(st);
  return rc;
}

/* W3 rebuild: SELECT es_rebuild(view); the events it applied are the units. */
static int rebuild(es_side *e, const char *view, bench_result *r) {
  sqlite3_stmt *st = 0;
  int rc = -1;
  double start = bench_now();
  if (sqlite3_prepare_v2(e->db, "SELECT es_rebuild(?1)", -1, &st, 0) != SQLITE_OK) {
    bench_fail(r, "sqlite-es: %s", sqlite3_errmsg(e->db));
    goto done;
  }
  sqlite3_bind_text(st, 1, view, -1, SQLITE_STATIC);
  if (sqlite3_step(st) != SQLITE_ROW) {
    bench_fail(r, "sqlite-es: es_rebuild('%s'): %s", view, sqlite3_errmsg(e->db));
    goto done;
  }
  r->units = sqlite3_column_int64(st, 0);
  if (sqlite3_step(st) != SQLITE_DONE) {
    bench_fail(r, "sqlite-es: es_rebuild('%s'): %s", view, sqlite3_errmsg(e->db));
    goto done;
  }
  r->seconds = bench_now() - start;
  rc = 0;
done:
  sqlite3_finalize(st);
  return rc;
}

/* W3: the template's log copied, the setup's views built from it (not timed), then one of replay
** or rebuild timed, then dumped. */
static int run_w3(const bench_job *job, bench_result *r) {
  es_side e = {0};
  char **states = 0;
  FILE *f = 0;
  char id[32];
  int rc = -1;
  bench_remove_db(job->db_path);
  if (bench_copy_file(job->template_path, job->db_path, r) ||
      es_open(&e, job->db_path, job->setup, 1, job->sql_dir, r))
    goto done;
  if (job->workload == W3_REPLAY) {
    if (!(states = calloc((size_t)job->sizes->accounts, sizeof(*states)))) {
      bench_fail(r, "out of memory");
      goto done;
    }
    if (replay(&e, job, states, r)) goto done;
    sqlite3_stmt *count = 0;
    if (sqlite3_prepare_v2(e.db, "SELECT count(*) FROM es_events", -1, &count, 0) == SQLITE_OK &&
        sqlite3_step(count) == SQLITE_ROW)
      r->units = sqlite3_column_int64(count, 0);
    sqlite3_finalize(count);
  } else if (rebuild(&e, job->workload == W3_REBUILD_BAL ? "account_balances" : "account_history", r)) {
    goto done;
  }
  if (!(f = fopen(job->dump_path, "w"))) {
    bench_fail(r, "cannot write %s", job->dump_path);
    goto done;
  }
  if (states) {
    fprintf(f, "states:\n");
    for (long a = 0; a < job->sizes->accounts; a++) {
      bench_account_id(a, id, sizeof id);
      fprintf(f, "%s|%s\n", id, states[a]);
    }
  } else if (dump_log_and_models(f, &e, job->setup, r)) {
    goto done;
  }
  rc = 0;
done:
  if (f) fclose(f);
  if (states)
    for (long a = 0; a < job->sizes->accounts; a++) free(states[a]);
  free(states);
  if (e.db && bench_close(e.db, job->db_path, r)) rc = -1;
  return rc;
}

int bench_es_run(const bench_job *job, bench_result *r) {
  return job->workload == W1A || job->workload == W1B || job->workload == W2 ? run_commands(job, r, 0) : run_w3(job, r);
}

/* A W3 template for the setup's views: the C aggregate's log (template_path) copied and opened
** with the setup, which builds its views; so the timed runs start from views already built. */
static int derive_template(const bench_job *job, bench_result *r) {
  es_side e = {0};
  int rc = -1;
  bench_remove_db(job->db_path);
  if (bench_copy_file(job->template_path, job->db_path, r) == 0 && es_open(&e, job->db_path, job->setup, 0, job->sql_dir, r) == 0)
    rc = 0;
  if (e.db && bench_close(e.db, job->db_path, r)) rc = -1;
  return rc;
}

int bench_es_fill(const bench_job *job, bench_result *r) {
  return job->setup == SETUP_C ? run_commands(job, r, 1) : derive_template(job, r);
}
