/*
** hand.c — the hand-written baseline: the bank as one would write it without sqlite-es, with
** plain prepared statements. An events table like es_events (the same columns, UNIQUE and two
** indexes), a read of the account's row in account_balances per command, the decision of bank.c,
** the event appended with its data as sqlite-es stores it, and the read models kept in the same
** transaction: for setup 1 only the balances the decision needs, otherwise account_balances and
** account_history with the columns and content of the bank's views.
*/
#include <stdlib.h>
#include <string.h>

#include "bench.h"

static const char *const schema_log =
    "CREATE TABLE events(position INTEGER PRIMARY KEY, aggregate_type TEXT NOT NULL, aggregate_id TEXT NOT NULL,"
    " version INTEGER NOT NULL CHECK (version >= 1), type TEXT NOT NULL, data TEXT NOT NULL, metadata TEXT,"
    " command_id TEXT, recorded_at TEXT NOT NULL, UNIQUE (aggregate_type, aggregate_id, version));"
    "CREATE INDEX events_by_category ON events(aggregate_type, position);"
    "CREATE INDEX events_by_type ON events(type, position);";

/* Setup 1: what the decision needs, nothing more. */
static const char *const schema_state =
    "CREATE TABLE account_balances(account_id TEXT PRIMARY KEY, balance INTEGER NOT NULL, status TEXT NOT NULL,"
    " last_version INTEGER NOT NULL);";

/* Setups 2-4: the two read models of the bank's views. */
static const char *const schema_views =
    "CREATE TABLE account_balances(account_id TEXT PRIMARY KEY, owner TEXT NOT NULL, balance INTEGER NOT NULL,"
    " status TEXT NOT NULL, events INTEGER NOT NULL, last_version INTEGER NOT NULL);"
    "CREATE TABLE account_history(position INTEGER PRIMARY KEY, account_id TEXT NOT NULL, type TEXT NOT NULL,"
    " amount INTEGER, balance_after INTEGER NOT NULL);"
    "CREATE INDEX account_history_by_account ON account_history(account_id, position);";

typedef struct hand {
  sqlite3 *db;
  int views;    /* both read models (setups 2-4), or only the balances (setup 1) */
  int own_txn;  /* a transaction per command (W1a, W2) */
  sqlite3_stmt *begin, *commit, *read, *append, *open_row, *update_row, *history;
} hand;

/* Step a statement that returns no row, then reset it. */
static int step_done(hand *h, sqlite3_stmt *st, bench_result *r) {
  int rc = sqlite3_step(st);
  sqlite3_reset(st);
  if (rc == SQLITE_DONE) return 0;
  return bench_fail(r, "hand-written: %s\n  in: %s", sqlite3_errmsg(h->db), sqlite3_sql(st));
}

static int prepare(hand *h, sqlite3_stmt **st, const char *sql, bench_result *r) {
  if (sqlite3_prepare_v3(h->db, sql, -1, SQLITE_PREPARE_PERSISTENT, st, 0) == SQLITE_OK) return 0;
  return bench_fail(r, "hand-written: %s\n  in: %s", sqlite3_errmsg(h->db), sql);
}

/* The statements of a command; setup 1's balances have fewer columns and no history. */
static int hand_prepare(hand *h, bench_result *r) {
  const char *open_row = h->views ? "INSERT INTO account_balances(account_id, owner, balance, status, events, last_version)"
                                    " VALUES (?1, ?2, 0, 'open', 1, 1)"
                                  : "INSERT INTO account_balances(account_id, balance, status, last_version)"
                                    " VALUES (?1, 0, 'open', 1)";
  const char *update_row = h->views ? "UPDATE account_balances SET balance = ?2, events = events + 1, last_version = ?3"
                                      " WHERE account_id = ?1"
                                    : "UPDATE account_balances SET balance = ?2, last_version = ?3 WHERE account_id = ?1";
  if (prepare(h, &h->begin, "BEGIN IMMEDIATE", r) || prepare(h, &h->commit, "COMMIT", r) ||
      prepare(h, &h->read, "SELECT balance, status, last_version FROM account_balances WHERE account_id = ?1", r) ||
      prepare(h, &h->append,
              "INSERT INTO events(aggregate_type, aggregate_id, version, type, data, recorded_at)"
              " VALUES ('account', ?1, ?2, ?3, ?4, strftime('%Y-%m-%dT%H:%M:%fZ','now'))",
              r) ||
      prepare(h, &h->open_row, open_row, r) || prepare(h, &h->update_row, update_row, r))
    return -1;
  if (!h->views) return 0;
  return prepare(h, &h->history,
                 "INSERT INTO account_history(position, account_id, type, amount, balance_after) VALUES (?1, ?2, ?3, ?4, ?5)",
                 r);
}

static void hand_finalize(hand *h) {
  sqlite3_stmt *all[] = {h->begin, h->commit, h->read, h->append, h->open_row, h->update_row, h->history};
  for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) sqlite3_finalize(all[i]);
}

/* The decision of bank.c for the commands the stream sends: 1 accepted, 0 rejected. */
static int decide(const bench_cmd *c, const char *status, int64_t balance) {
  if (c->kind == CMD_OPEN) return status == 0;
  if (!status || strcmp(status, "open") != 0 || c->amount <= 0) return 0;
  if (c->kind == CMD_DEPOSIT) return c->amount <= INT64_MAX - balance;
  return c->amount <= balance;
}

/* Read the account's row, decide, append the event and fold it into the read models. */
static int hand_decide_and_append(hand *h, const bench_cmd *c, bench_result *r) {
  char id[32], data[64], owner[32];
  const char *status = 0, *type = c->kind == CMD_OPEN ? "AccountOpened" : c->kind == CMD_DEPOSIT ? "Deposited" : "Withdrawn";
  int64_t balance = 0, version = 0;
  int rc;
  bench_account_id(c->account, id, sizeof id);
  sqlite3_bind_text(h->read, 1, id, -1, SQLITE_STATIC);
  if ((rc = sqlite3_step(h->read)) == SQLITE_ROW) {
    balance = sqlite3_column_int64(h->read, 0);
    status = (const char *)sqlite3_column_text(h->read, 1);
    version = sqlite3_column_int64(h->read, 2);
  } else if (rc != SQLITE_DONE) {
    sqlite3_reset(h->read);
    return bench_fail(r, "hand-written: reading %s: %s", id, sqlite3_errmsg(h->db));
  }
  int accepted = decide(c, status, balance);
  sqlite3_reset(h->read); /* status pointed into the row */
  if (!accepted) return 0;
  balance += c->kind == CMD_DEPOSIT ? c->amount : c->kind == CMD_WITHDRAW ? -c->amount : 0;
  version++;
  bench_payload(c, data, sizeof data);
  sqlite3_bind_text(h->append, 1, id, -1, SQLITE_STATIC);
  sqlite3_bind_int64(h->append, 2, version);
  sqlite3_bind_text(h->append, 3, type, -1, SQLITE_STATIC);
  sqlite3_bind_text(h->append, 4, data, -1, SQLITE_STATIC);
  if (step_done(h, h->append, r)) return -1;
  if (c->kind == CMD_OPEN) {
    sqlite3_bind_text(h->open_row, 1, id, -1, SQLITE_STATIC);
    if (h->views) {
      bench_owner(c->account, owner, sizeof owner);
      sqlite3_bind_text(h->open_row, 2, owner, -1, SQLITE_STATIC);
    }
    if (step_done(h, h->open_row, r)) return -1;
  } else {
    sqlite3_bind_text(h->update_row, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(h->update_row, 2, balance);
    sqlite3_bind_int64(h->update_row, 3, version);
    if (step_done(h, h->update_row, r)) return -1;
  }
  if (!h->views) return 1;
  sqlite3_bind_int64(h->history, 1, sqlite3_last_insert_rowid(h->db));
  sqlite3_bind_text(h->history, 2, id, -1, SQLITE_STATIC);
  sqlite3_bind_text(h->history, 3, type, -1, SQLITE_STATIC);
  if (c->kind == CMD_OPEN) sqlite3_bind_null(h->history, 4);
  else sqlite3_bind_int64(h->history, 4, c->amount);
  sqlite3_bind_int64(h->history, 5, balance);
  return step_done(h, h->history, r) ? -1 : 1;
}

/* bench_submit_fn: one command, in a transaction of its own for W1a and W2. */
static int hand_submit(void *side, const bench_cmd *c, bench_result *r) {
  hand *h = side;
  if (h->own_txn && step_done(h, h->begin, r)) return -1;
  int ok = hand_decide_and_append(h, c, r);
  if (h->own_txn) {
    if (ok < 0) {
      sqlite3_exec(h->db, "ROLLBACK", 0, 0, 0);
      return -1;
    }
    if (step_done(h, h->commit, r)) return -1;
  }
  return ok;
}

static int dump_log_and_models(FILE *f, hand *h, bench_result *r) {
  if (bench_dump_query(f, h->db, "log",
                       "SELECT position, aggregate_type, aggregate_id, version, type, data, metadata, command_id"
                       " FROM events ORDER BY position",
                       r))
    return -1;
  if (!h->views) return 0;
  if (bench_dump_query(f, h->db, "account_balances",
                       "SELECT account_id, owner, balance, status, events, last_version FROM account_balances"
                       " ORDER BY account_id",
                       r))
    return -1;
  return bench_dump_query(f, h->db, "account_history",
                          "SELECT position, account_id, type, amount, balance_after FROM account_history ORDER BY position",
                          r);
}

/* W1a, W1b, W2 (and a W3 fill without the dump): a new database, the commands, the dump. */
static int run_commands(const bench_job *job, bench_result *r, int fill) {
  hand h = {0};
  char *outcomes = 0;
  FILE *f = 0;
  int rc = -1;
  h.views = job->setup != SETUP_C;
  h.own_txn = job->workload == W1A || job->workload == W2;
  bench_remove_db(job->db_path);
  if (bench_open(job->db_path, &h.db, r) || bench_exec(h.db, schema_log, r) ||
      bench_exec(h.db, h.views ? schema_views : schema_state, r) || hand_prepare(&h, r))
    goto done;
  if (bench_run_commands(job, h.db, hand_submit, &h, &outcomes, r)) goto done;
  if (!fill) {
    if (!(f = fopen(job->dump_path, "w"))) {
      bench_fail(r, "cannot write %s", job->dump_path);
      goto done;
    }
    bench_dump_outcomes(f, outcomes, (long)r->units);
    if (dump_log_and_models(f, &h, r)) goto done;
  }
  rc = 0;
done:
  if (f) fclose(f);
  free(outcomes);
  hand_finalize(&h);
  if (h.db && bench_close(h.db, job->db_path, r)) rc = -1;
  return rc;
}

/* ---- W3 ---- */

/* Running balances by account id, for folding account_history (an open-addressing table). */
typedef struct balance_map {
  size_t cap, n;
  char **keys;
  int64_t *values;
} balance_map;

static uint64_t hash_text(const char *z) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (; *z; z++) h = (h ^ (unsigned char)*z) * 0x100000001b3ULL;
  return h;
}

static int64_t *map_find(balance_map *m, const char *key);

static int map_grow(balance_map *m) {
  balance_map bigger = {m->cap ? m->cap * 2 : 1024, 0, 0, 0};
  int rc = -1;
  bigger.keys = calloc(bigger.cap, sizeof(*bigger.keys));
  bigger.values = calloc(bigger.cap, sizeof(*bigger.values));
  if (!bigger.keys || !bigger.values) goto done;
  for (size_t i = 0; i < m->cap; i++) {
    if (!m->keys[i]) continue;
    size_t j = hash_text(m->keys[i]) & (bigger.cap - 1);
    while (bigger.keys[j]) j = (j + 1) & (bigger.cap - 1);
    bigger.keys[j] = m->keys[i];
    bigger.values[j] = m->values[i];
    bigger.n++;
  }
  free(m->keys);
  free(m->values);
  *m = bigger;
  bigger.keys = 0;
  bigger.values = 0;
  rc = 0;
done:
  free(bigger.keys);
  free(bigger.values);
  return rc;
}

/* The balance of key, 0 and added when new; NULL when out of memory. */
static int64_t *map_find(balance_map *m, const char *key) {
  if ((m->n + 1) * 2 > m->cap && map_grow(m) != 0) return 0;
  size_t j = hash_text(key) & (m->cap - 1);
  while (m->keys[j] && strcmp(m->keys[j], key) != 0) j = (j + 1) & (m->cap - 1);
  if (!m->keys[j]) {
    if (!(m->keys[j] = strdup(key))) return 0;
    m->n++;
  }
  return &m->values[j];
}

static void map_free(balance_map *m) {
  for (size_t i = 0; i < m->cap; i++) free(m->keys[i]);
  free(m->keys);
  free(m->values);
}

/* An account's state folded from its stream. */
typedef struct folded {
  const char *status;
  char owner[101];
  int64_t balance;
} folded;

/* W3 replay: every account's stream read in version order and folded in C. */
static int replay(hand *h, const bench_job *job, folded *states, bench_result *r) {
  sqlite3_stmt *st = 0;
  char id[32];
  int rc = -1, step = SQLITE_DONE;
  double start = 0;
  if (prepare(h, &st,
              "SELECT type, json_extract(data, '$.owner'), json_extract(data, '$.amount') FROM events"
              " WHERE aggregate_type = 'account' AND aggregate_id = ?1 ORDER BY version",
              r))
    goto done;
  start = bench_now();
  for (long a = 0; a < job->sizes->accounts; a++) {
    folded *s = &states[a];
    s->status = "none";
    bench_account_id(a, id, sizeof id);
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
      const char *type = (const char *)sqlite3_column_text(st, 0);
      r->units++;
      if (strcmp(type, "AccountOpened") == 0) {
        const char *owner = (const char *)sqlite3_column_text(st, 1);
        s->status = "open";
        snprintf(s->owner, sizeof s->owner, "%s", owner ? owner : "");
      } else if (strcmp(type, "Deposited") == 0) {
        s->balance += sqlite3_column_int64(st, 2);
      } else if (strcmp(type, "Withdrawn") == 0) {
        s->balance -= sqlite3_column_int64(st, 2);
      } else if (strcmp(type, "AccountClosed") == 0) {
        s->status = "closed";
      }
    }
    sqlite3_reset(st);
    if (step != SQLITE_DONE) {
      bench_fail(r, "hand-written replay of %s: %s", id, sqlite3_errmsg(h->db));
      goto done;
    }
  }
  r->seconds = bench_now() - start;
  rc = 0;
done:
  sqlite3_finalize(st);
  return rc;
}

/* W3 rebuild of account_balances: emptied, then every event folded in, in log order (the stream
** never closes an account, so AccountClosed only counts as an event). */
static int rebuild_balances(hand *h, bench_result *r) {
  sqlite3_stmt *scan = 0;
  int rc = -1, step = SQLITE_DONE;
  double start = bench_now();
  if (step_done(h, h->begin, r) || bench_exec(h->db, "DELETE FROM account_balances", r) ||
      prepare(h, &scan,
              "SELECT aggregate_id, version, type, json_extract(data, '$.owner'), json_extract(data, '$.amount')"
              " FROM events WHERE aggregate_type = 'account' ORDER BY position",
              r) ||
      prepare(h, &h->update_row,
              "UPDATE account_balances SET balance = balance + ?2, events = events + 1, last_version = ?3"
              " WHERE account_id = ?1",
              r))
    goto done;
  while ((step = sqlite3_step(scan)) == SQLITE_ROW) {
    const char *type = (const char *)sqlite3_column_text(scan, 2);
    sqlite3_int64 amount = sqlite3_column_int64(scan, 4);
    r->units++;
    if (strcmp(type, "AccountOpened") == 0) {
      sqlite3_bind_value(h->open_row, 1, sqlite3_column_value(scan, 0));
      sqlite3_bind_value(h->open_row, 2, sqlite3_column_value(scan, 3));
      if (step_done(h, h->open_row, r)) goto done;
      continue;
    }
    sqlite3_bind_value(h->update_row, 1, sqlite3_column_value(scan, 0));
    sqlite3_bind_int64(h->update_row, 2, type[0] == 'D' ? amount : type[0] == 'W' ? -amount : 0);
    sqlite3_bind_value(h->update_row, 3, sqlite3_column_value(scan, 1));
    if (step_done(h, h->update_row, r)) goto done;
  }
  if (step != SQLITE_DONE) {
    bench_fail(r, "hand-written rebuild: %s", sqlite3_errmsg(h->db));
    goto done;
  }
  if (step_done(h, h->commit, r)) goto done;
  r->seconds = bench_now() - start;
  rc = 0;
done:
  sqlite3_finalize(scan);
  if (!sqlite3_get_autocommit(h->db)) sqlite3_exec(h->db, "ROLLBACK", 0, 0, 0);
  return rc;
}

/* W3 rebuild of account_history: emptied, then a row per event with the account's running balance. */
static int rebuild_history(hand *h, bench_result *r) {
  sqlite3_stmt *scan = 0;
  balance_map m = {0};
  int rc = -1, step = SQLITE_DONE;
  double start = bench_now();
  if (step_done(h, h->begin, r) || bench_exec(h->db, "DELETE FROM account_history", r) ||
      prepare(h, &scan,
              "SELECT position, aggregate_id, type, json_extract(data, '$.amount') FROM events"
              " WHERE aggregate_type = 'account' ORDER BY position",
              r))
    goto done;
  while ((step = sqlite3_step(scan)) == SQLITE_ROW) {
    const char *type = (const char *)sqlite3_column_text(scan, 2);
    int64_t *balance = map_find(&m, (const char *)sqlite3_column_text(scan, 1));
    if (!balance) {
      bench_fail(r, "out of memory");
      goto done;
    }
    r->units++;
    *balance += type[0] == 'D' ? sqlite3_column_int64(scan, 3) : type[0] == 'W' ? -sqlite3_column_int64(scan, 3) : 0;
    sqlite3_bind_value(h->history, 1, sqlite3_column_value(scan, 0));
    sqlite3_bind_value(h->history, 2, sqlite3_column_value(scan, 1));
    sqlite3_bind_value(h->history, 3, sqlite3_column_value(scan, 2));
    sqlite3_bind_value(h->history, 4, sqlite3_column_value(scan, 3));
    sqlite3_bind_int64(h->history, 5, *balance);
    if (step_done(h, h->history, r)) goto done;
  }
  if (step != SQLITE_DONE) {
    bench_fail(r, "hand-written rebuild: %s", sqlite3_errmsg(h->db));
    goto done;
  }
  if (step_done(h, h->commit, r)) goto done;
  r->seconds = bench_now() - start;
  rc = 0;
done:
  sqlite3_finalize(scan);
  map_free(&m);
  if (!sqlite3_get_autocommit(h->db)) sqlite3_exec(h->db, "ROLLBACK", 0, 0, 0);
  return rc;
}

/* W3: the template's log (and read models) copied, one of replay or rebuild timed, then dumped. */
static int run_w3(const bench_job *job, bench_result *r) {
  hand h = {.views = job->setup != SETUP_C};
  folded *states = 0;
  FILE *f = 0;
  char id[32], json[256];
  int rc = -1;
  bench_remove_db(job->db_path);
  if (bench_copy_file(job->template_path, job->db_path, r) || bench_open(job->db_path, &h.db, r) ||
      hand_prepare(&h, r))
    goto done;
  if (job->workload == W3_REPLAY) {
    if (!(states = calloc((size_t)job->sizes->accounts, sizeof(*states)))) {
      bench_fail(r, "out of memory");
      goto done;
    }
    if (replay(&h, job, states, r)) goto done;
  } else {
    sqlite3_finalize(h.update_row); /* rebuild_balances prepares its own (a delta, not a balance) */
    h.update_row = 0;
    if ((job->workload == W3_REBUILD_BAL ? rebuild_balances : rebuild_history)(&h, r)) goto done;
  }
  if (!(f = fopen(job->dump_path, "w"))) {
    bench_fail(r, "cannot write %s", job->dump_path);
    goto done;
  }
  if (states) {
    fprintf(f, "states:\n");
    for (long a = 0; a < job->sizes->accounts; a++) {
      bench_account_id(a, id, sizeof id);
      bench_state_json(states[a].status, strcmp(states[a].status, "none") ? states[a].owner : 0, states[a].balance, json,
                       sizeof json);
      fprintf(f, "%s|%s\n", id, json);
    }
  } else if (dump_log_and_models(f, &h, r)) {
    goto done;
  }
  rc = 0;
done:
  if (f) fclose(f);
  free(states);
  hand_finalize(&h);
  if (h.db && bench_close(h.db, job->db_path, r)) rc = -1;
  return rc;
}

int bench_hand_run(const bench_job *job, bench_result *r) {
  return job->workload == W1A || job->workload == W1B || job->workload == W2 ? run_commands(job, r, 0) : run_w3(job, r);
}

int bench_hand_fill(const bench_job *job, bench_result *r) { return run_commands(job, r, 1); }
