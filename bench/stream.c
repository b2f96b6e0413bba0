/*
** stream.c — the benchmark's command stream: deterministic (a fixed seed), so the hand-written
** baseline and sqlite-es submit exactly the same commands. It follows each account's balance as
** bank.c would decide, to make about one command in ten a Withdraw the bank must reject.
*/
#include <inttypes.h>
#include <stdlib.h>

#include "bench.h"

#define SEED 0x5eed0f5e11e5ULL
#define MAX_AMOUNT 1000

/* splitmix64: small, fast and the same everywhere. */
static uint64_t next_random(bench_stream *s) {
  uint64_t z = (s->rng += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

int bench_stream_init(bench_stream *s, long accounts) {
  s->rng = SEED;
  s->accounts = accounts;
  s->next = 0;
  s->balance = calloc((size_t)accounts, sizeof(*s->balance));
  return s->balance ? 0 : -1;
}

void bench_stream_next(bench_stream *s, bench_cmd *c) {
  long i = s->next++;
  if (i < s->accounts) {
    c->kind = CMD_OPEN;
    c->account = i;
    c->amount = 0;
    return;
  }
  c->account = i % s->accounts;
  int64_t *balance = &s->balance[c->account];
  uint64_t dice = next_random(s) % 100, amount = 1 + next_random(s) % MAX_AMOUNT;
  if (dice < 10) { /* more than the account holds: rejected (insufficient_funds) */
    c->kind = CMD_WITHDRAW;
    c->amount = *balance + (int64_t)amount;
  } else if (dice < 45 && *balance > 0) {
    c->kind = CMD_WITHDRAW;
    c->amount = 1 + (int64_t)(amount - 1) % *balance;
    *balance -= c->amount;
  } else {
    c->kind = CMD_DEPOSIT;
    c->amount = (int64_t)amount;
    *balance += c->amount;
  }
}

void bench_stream_free(bench_stream *s) {
  free(s->balance);
  s->balance = 0;
}

const char *bench_cmd_type(bench_cmd_kind k) {
  return k == CMD_OPEN ? "OpenAccount" : k == CMD_DEPOSIT ? "Deposit" : "Withdraw";
}

void bench_account_id(long account, char *buf, size_t n) { snprintf(buf, n, "acc-%ld", account); }

void bench_owner(long account, char *buf, size_t n) { snprintf(buf, n, "owner-%ld", account); }

void bench_payload(const bench_cmd *c, char *buf, size_t n) {
  if (c->kind == CMD_OPEN) snprintf(buf, n, "{\"owner\":\"owner-%ld\"}", c->account);
  else snprintf(buf, n, "{\"amount\":%" PRId64 "}", c->amount);
}

/* How many accounts and commands a job runs; a W3 fill runs until it has w3 events (n < 0). */
static void job_shape(const bench_job *job, long *accounts, long *n) {
  const bench_sizes *z = job->sizes;
  *accounts = job->workload == W2 ? 1 : z->accounts;
  *n = job->workload == W1A ? z->w1a : job->workload == W1B ? z->w1b : job->workload == W2 ? z->w2 : -1;
}

int bench_run_commands(const bench_job *job, sqlite3 *db, bench_submit_fn submit, void *side, char **outcomes,
                       bench_result *r) {
  bench_stream s = {0};
  long accounts, n, cap, done = 0;
  double start, block_start;
  int one_txn = job->workload != W1A && job->workload != W2, rc = -1;
  char *out = 0;
  job_shape(job, &accounts, &n);
  cap = n >= 0 ? n : job->sizes->w3 + job->sizes->w3 / 4 + accounts + 16;
  if (bench_stream_init(&s, accounts) != 0 || !(out = malloc((size_t)cap))) {
    bench_fail(r, "out of memory for %ld commands", cap);
    goto done;
  }
  start = block_start = bench_now();
  if (one_txn && bench_exec(db, "BEGIN IMMEDIATE", r) != 0) goto done;
  for (; n >= 0 ? done < n : r->accepted < job->sizes->w3; done++) {
    bench_cmd c;
    if (done == cap) {
      bench_fail(r, "the fill needed more than %ld commands for %ld events", cap, job->sizes->w3);
      goto done;
    }
    bench_stream_next(&s, &c);
    int ok = submit(side, &c, r);
    if (ok < 0) goto done;
    out[done] = ok ? 'a' : 'r';
    if (ok) r->accepted++;
    else r->rejected++;
    if (job->workload == W2 && ((done + 1) % job->sizes->w2_block == 0 || done + 1 == n)) {
      double now = bench_now();
      long size = (done + 1) % job->sizes->w2_block ? (done + 1) % job->sizes->w2_block : job->sizes->w2_block;
      if (r->n_blocks < BENCH_MAX_BLOCKS) r->block_rate[r->n_blocks++] = (double)size / (now - block_start);
      block_start = now;
    }
  }
  if (one_txn && bench_exec(db, "COMMIT", r) != 0) goto done;
  r->seconds = bench_now() - start;
  r->units = done;
  *outcomes = out;
  out = 0;
  rc = 0;
done:
  if (rc != 0 && one_txn && !sqlite3_get_autocommit(db)) sqlite3_exec(db, "ROLLBACK", 0, 0, 0);
  free(out);
  bench_stream_free(&s);
  return rc;
}
