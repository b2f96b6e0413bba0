/*
** bench.h — what the parts of `make bench` share: the workloads and setups, the sizes, one job
** (what a child process runs) and its result, the deterministic command stream both sides
** submit, and the helpers that write the canonical dumps the cross-check compares.
**
** bench.c runs every measurement in a child process, once for the hand-written baseline
** (hand.c: plain prepared statements, no extension) and once for sqlite-es (es_side.c), and
** report.c prints the table and appends the JSON lines.
*/
#ifndef BENCH_H
#define BENCH_H

#include <stdint.h>
#include <stdio.h>

#include <sqlite3.h>

/* The four ways of running the bank on sqlite-es (numbered as in the README). */
typedef enum {
  SETUP_C = 1,      /* the C aggregate (examples/bank/bank.c), no read model */
  SETUP_C_CVIEWS,   /* the C aggregate and the two C views (examples/bank/bank_views.c) */
  SETUP_C_SQLVIEWS, /* the C aggregate and the two SQL views (sql/bank_views.sql) */
  SETUP_SQL         /* the SQL aggregate and the SQL views (sql/bank.sql) */
} bench_setup;

typedef enum {
  W1A,              /* accounts opened, then commands round-robin, a transaction per command */
  W1B,              /* the same in one BEGIN IMMEDIATE transaction */
  W2,               /* every command on one account, a transaction each, rate per block */
  W3_REPLAY,        /* the state of every account folded from its stream */
  W3_REBUILD_BAL,   /* account_balances emptied and folded again from the whole log */
  W3_REBUILD_HIST   /* account_history likewise */
} bench_workload;

typedef enum { SIDE_HAND, SIDE_ES } bench_side;

#define BENCH_MAX_BLOCKS 1000

typedef struct bench_sizes {
  long accounts; /* accounts opened by W1a, W1b and W3's log */
  long w1a, w1b; /* commands in all, the OpenAccount commands included */
  long w2;       /* commands on W2's one account, its OpenAccount included */
  long w2_block; /* commands per W2 block */
  long w3;       /* events in W3's log */
  long rounds;   /* each measurement is repeated this often; the median is reported */
} bench_sizes;

/* One measurement of one side, run in a child process. */
typedef struct bench_job {
  bench_workload workload;
  bench_setup setup;
  bench_side side;
  const bench_sizes *sizes;
  const char *db_path;   /* the database to create (or to copy the template into) */
  const char *dump_path; /* where to write the canonical dump the cross-check compares */
  const char *template_path; /* W3: the filled log to start from */
  const char *sql_dir;   /* where bank.sql and bank_views.sql are */
} bench_job;

/* What a child reports back through a pipe (fixed size, so one write). */
typedef struct bench_result {
  int ok;
  char error[1024];
  double seconds;  /* the measured part only */
  long long units; /* commands (W1, W2) or events (W3) measured */
  long long accepted, rejected;
  long long db_bytes; /* the database file after the connection closed (WAL checkpointed) */
  int n_blocks;       /* W2 */
  double block_rate[BENCH_MAX_BLOCKS];
} bench_result;

/* ---- the command stream (stream.c): the same on both sides, from a fixed seed ---- */

typedef enum { CMD_OPEN, CMD_DEPOSIT, CMD_WITHDRAW } bench_cmd_kind;

typedef struct bench_cmd {
  bench_cmd_kind kind;
  long account;   /* index 0..accounts-1 */
  int64_t amount; /* Deposit, Withdraw */
} bench_cmd;

typedef struct bench_stream {
  uint64_t rng;
  long accounts, next;
  int64_t *balance; /* what each account holds if the bank decides as bank.c does */
} bench_stream;

int bench_stream_init(bench_stream *s, long accounts);
/* The next command: the accounts' OpenAccount first, then Deposit/Withdraw round-robin. About
** one in ten is a Withdraw of more than the balance (rejected); the others are accepted. */
void bench_stream_next(bench_stream *s, bench_cmd *c);
void bench_stream_free(bench_stream *s);

/* A side's way of submitting one command: 1 accepted, 0 rejected, -1 failed (r->error). */
typedef int (*bench_submit_fn)(void *side, const bench_cmd *c, bench_result *r);

/* Submit the job's commands through submit and time them: W1a and W2 a transaction per command
** (the side's own business), W1b and a W3 fill in one BEGIN IMMEDIATE on db; a W3 fill stops at
** the sizes' w3 events. Sets r's seconds, units, accepted, rejected and W2's block rates, and
** *outcomes to a malloc'd 'a'/'r' per command (its length r->units). */
int bench_run_commands(const bench_job *job, sqlite3 *db, bench_submit_fn submit, void *side, char **outcomes,
                       bench_result *r);

const char *bench_cmd_type(bench_cmd_kind k); /* OpenAccount, Deposit, Withdraw */
void bench_account_id(long account, char *buf, size_t n);
void bench_owner(long account, char *buf, size_t n);
/* The command's payload, which is also the event's data as sqlite-es stores it. */
void bench_payload(const bench_cmd *c, char *buf, size_t n);

/* ---- helpers both sides use (check.c) ---- */

/* Run SQL with no result; on failure put SQLite's message in r->error and return nonzero. */
int bench_exec(sqlite3 *db, const char *sql, bench_result *r);
/* Open path read-write (created), WAL, synchronous=NORMAL: the settings of every run. */
int bench_open(const char *path, sqlite3 **db, bench_result *r);
/* Close db, then record the database file's size. */
int bench_close(sqlite3 *db, const char *path, bench_result *r);
int bench_fail(bench_result *r, const char *fmt, ...);
double bench_now(void); /* seconds, monotonic */
int bench_copy_file(const char *from, const char *to, bench_result *r);
char *bench_read_file(const char *path, bench_result *r); /* malloc'd, NUL-terminated */
void bench_remove_db(const char *path); /* the file and its -wal and -shm */

/* The accept ('a') or reject ('r') of every command, in order, 100 a line. */
void bench_dump_outcomes(FILE *f, const char *outcomes, long n);
/* Every row of sql, '|'-separated, under a title line; nonzero (r->error) on failure. */
int bench_dump_query(FILE *f, sqlite3 *db, const char *title, const char *sql, bench_result *r);
/* The first line where two dumps differ, or 0 when they are equal. */
int bench_compare_dumps(const char *a, const char *b, char *why, size_t n);

/* The JSON of an account's state as es_state renders it (status, owner, balance). */
void bench_state_json(const char *status, const char *owner, int64_t balance, char *buf, size_t n);

/* ---- the two sides ---- */

int bench_hand_run(const bench_job *job, bench_result *r);
int bench_es_run(const bench_job *job, bench_result *r);
/* W3's logs: w3 events appended by each side's own code, in one transaction; the baseline keeps
** the read models of the job's setup, sqlite-es runs the C aggregate alone. For another setup,
** bench_es_fill copies that log (template_path) and opens it with the setup, which builds its views. */
int bench_hand_fill(const bench_job *job, bench_result *r);
int bench_es_fill(const bench_job *job, bench_result *r);

/* ---- what the parent keeps of each run, and the report (report.c) ---- */

typedef struct bench_sample {
  double rate; /* units per second */
  long long units, accepted, rejected, db_bytes;
  long rss_kb; /* the child's peak resident set (getrusage ru_maxrss) */
  int n_blocks;
  double *blocks; /* W2: the rate of each block (malloc'd) */
} bench_sample;

/* One row of the table (two for W2): a workload on a setup, both sides, every round. */
typedef struct bench_measure {
  bench_workload workload;
  bench_setup setup;
  bench_sample *rounds[2]; /* [side][round] */
} bench_measure;

typedef struct bench_context {
  const bench_sizes *sizes;
  const char *started; /* when this run of the benchmark started, UTC */
  const char *tmpdir;  /* where the databases were */
  const char *jsonl;   /* the JSON lines file appended to */
  const char *commit;  /* the sources' commit (BENCH_COMMIT, from git describe --dirty) */
  int full;            /* BENCH_FULL=1: the sizes */
} bench_context;

const char *bench_workload_name(bench_workload w);
const char *bench_setup_name(bench_setup s);
/* The machine, SQLite, sqlite-es and the sizes, before the measurements. */
void bench_report_header(FILE *out, const bench_context *cx);
/* The Markdown table of medians, with each target met or missed. */
void bench_report_table(FILE *out, const bench_context *cx, const bench_measure *m, size_t n);
/* One JSON object per measurement appended to cx->jsonl; nonzero when it cannot be written. */
int bench_report_json(const bench_context *cx, const bench_measure *m, size_t n);

#endif
