/*
** bench.c — `make bench`: sqlite-es against a hand-written C baseline doing the same work (issue 10,
** DESIGN §8). Every measurement runs in a child process of its own (so its peak RSS is its own),
** the baseline and sqlite-es interleaved, each repeated; after every pair the two databases'
** dumps must be equal (same commands accepted and rejected, same log, same read models) or the
** benchmark stops. Prints a Markdown table of medians and appends JSON lines (report.c).
**
** Sizes come from the environment (BENCH_ACCOUNTS, BENCH_W1A, BENCH_W1B, BENCH_W2, BENCH_W2_BLOCK,
** BENCH_W3, BENCH_ROUNDS; BENCH_FULL=1 for the sizes); BENCH_ONLY and BENCH_SETUPS pick
** workloads and setups (e.g. BENCH_ONLY=W1a,W3 BENCH_SETUPS=1,4); BENCH_JSONL names the JSON lines
** file (build/bench.jsonl), BENCH_SQL_DIR the SQL bank's directory, TMPDIR where the databases go.
*/
#define _DEFAULT_SOURCE /* wait4: the peak RSS of one child */
#include <errno.h>
#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

#ifndef BENCH_SQL_DIR
#define BENCH_SQL_DIR "sql"
#endif

#define MAX_MEASURES 32

/* A size from the environment, or its default; -1 when it is not a positive integer. */
static long env_size(const char *name, long dflt) {
  const char *v = getenv(name);
  char *end;
  if (!v || !*v) return dflt;
  errno = 0;
  long n = strtol(v, &end, 10);
  if (errno || *end || n <= 0) {
    fprintf(stderr, "bench: %s must be a positive integer, got '%s'\n", name, v);
    return -1;
  }
  return n;
}

/* Whether a comma-separated list from the environment names item (no list: everything). */
static int env_lists(const char *name, const char *item) {
  const char *v = getenv(name);
  size_t n = strlen(item);
  if (!v || !*v) return 1;
  for (const char *p = v; *p;) {
    size_t len = strcspn(p, ",");
    if (len == n && strncasecmp(p, item, n) == 0) return 1;
    p += len + (p[len] == ',');
  }
  return 0;
}

static int read_sizes(bench_sizes *z, int full) {
  z->accounts = env_size("BENCH_ACCOUNTS", 1000);
  z->w1a = env_size("BENCH_W1A", 11000);
  z->w1b = env_size("BENCH_W1B", full ? 101000 : 21000);
  z->w2 = env_size("BENCH_W2", 10000);
  z->w2_block = env_size("BENCH_W2_BLOCK", 1000);
  z->w3 = env_size("BENCH_W3", full ? 1000000 : 100000);
  z->rounds = env_size("BENCH_ROUNDS", 3);
  if (z->accounts < 0 || z->w1a < 0 || z->w1b < 0 || z->w2 < 0 || z->w2_block < 0 || z->w3 < 0 || z->rounds < 0)
    return -1;
  if ((z->w2 + z->w2_block - 1) / z->w2_block > BENCH_MAX_BLOCKS) {
    fprintf(stderr, "bench: BENCH_W2 / BENCH_W2_BLOCK makes more than %d blocks\n", BENCH_MAX_BLOCKS);
    return -1;
  }
  if (z->w3 < z->accounts) {
    fprintf(stderr, "bench: BENCH_W3 (events) must be at least BENCH_ACCOUNTS (each account is opened)\n");
    return -1;
  }
  return 0;
}

/* The measurements: every workload on the setups it means something for (W3's replay depends on
** the aggregate only, its rebuilds on the views only). */
static size_t plan(bench_measure *m) {
  static const struct {
    bench_workload w;
    const char *only;
    int setups[4];
  } rows[] = {
      {W1A, "W1a", {1, 2, 3, 4}},           {W1B, "W1b", {1, 2, 3, 4}},           {W2, "W2", {1, 2, 3, 4}},
      {W3_REPLAY, "W3", {1, 4, 0, 0}},      {W3_REBUILD_BAL, "W3", {2, 3, 4, 0}}, {W3_REBUILD_HIST, "W3", {2, 3, 4, 0}},
  };
  size_t n = 0;
  for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
    if (!env_lists("BENCH_ONLY", rows[i].only)) continue;
    for (int k = 0; k < 4 && rows[i].setups[k]; k++) {
      char s[2] = {(char)('0' + rows[i].setups[k]), 0};
      if (!env_lists("BENCH_SETUPS", s)) continue;
      m[n].workload = rows[i].w;
      m[n].setup = (bench_setup)rows[i].setups[k];
      n++;
    }
  }
  return n;
}

/* In the child: run the job, send its result up the pipe, exit without touching the parent's
** stdio buffers. */
_Noreturn static void child_main(const bench_job *job, int fill, bench_result *res, int fd) {
  const char *p = (const char *)res;
  memset(res, 0, sizeof *res);
  res->ok = 1;
  int rc = job->side == SIDE_HAND ? (fill ? bench_hand_fill : bench_hand_run)(job, res)
                                  : (fill ? bench_es_fill : bench_es_run)(job, res);
  if (rc != 0) res->ok = 0;
  for (size_t done = 0; done < sizeof *res;) {
    ssize_t w = write(fd, p + done, sizeof *res - done);
    if (w <= 0) _exit(2);
    done += (size_t)w;
  }
  _exit(0);
}

/* Run one side of a job (or a W3 fill) in a child process; its result comes back through a pipe,
** its peak RSS through wait4. Nonzero (the reason printed) when the child failed. */
static int run_child(const bench_job *job, int fill, bench_result *res, long *rss_kb) {
  int fds[2] = {-1, -1}, status = 0, rc = -1;
  struct rusage ru;
  size_t got = 0;
  const char *who = job->side == SIDE_HAND ? "hand-written" : "sqlite-es";
  pid_t pid = -1;
  if (pipe(fds) != 0) {
    perror("bench: pipe");
    goto done;
  }
  fflush(stdout);
  fflush(stderr);
  if ((pid = fork()) < 0) {
    perror("bench: fork");
    goto done;
  }
  if (pid == 0) {
    close(fds[0]);
    child_main(job, fill, res, fds[1]);
  }
  close(fds[1]);
  fds[1] = -1;
  while (got < sizeof *res) {
    ssize_t n = read(fds[0], (char *)res + got, sizeof *res - got);
    if (n <= 0) break;
    got += (size_t)n;
  }
  while (wait4(pid, &status, 0, &ru) < 0)
    if (errno != EINTR) {
      perror("bench: wait4");
      goto done;
    }
  *rss_kb = ru.ru_maxrss;
  if (WIFSIGNALED(status))
    fprintf(stderr, "bench: the %s run of %s on setup %d died of signal %d\n", who, bench_workload_name(job->workload),
            (int)job->setup, WTERMSIG(status));
  else if (got < sizeof *res || !res->ok)
    fprintf(stderr, "bench: the %s run of %s on setup %d failed: %s\n", who, bench_workload_name(job->workload),
            (int)job->setup, got < sizeof *res ? "no result" : res->error);
  else rc = 0;
done:
  if (fds[0] >= 0) close(fds[0]);
  if (fds[1] >= 0) close(fds[1]);
  return rc;
}

static void keep_sample(bench_sample *s, const bench_result *r, long rss_kb) {
  s->rate = r->seconds > 0 ? (double)r->units / r->seconds : 0;
  s->units = r->units;
  s->accepted = r->accepted;
  s->rejected = r->rejected;
  s->db_bytes = r->db_bytes;
  s->rss_kb = rss_kb;
  s->n_blocks = r->n_blocks;
  if (r->n_blocks && (s->blocks = malloc((size_t)r->n_blocks * sizeof(double))) != 0)
    memcpy(s->blocks, r->block_rate, (size_t)r->n_blocks * sizeof(double));
  else s->n_blocks = 0;
}

static void path_in(char *buf, size_t n, const char *dir, const char *name) { snprintf(buf, n, "%s/%s", dir, name); }

/* The W3 template a side's run of a setup copies: the baseline has one with read models and one
** without (setup 1); sqlite-es one per setup, its views already built. */
static void template_path(char *buf, size_t n, const char *dir, bench_side side, bench_setup setup) {
  if (side == SIDE_HAND) snprintf(buf, n, "%s/w3_hand_%s.db", dir, setup == SETUP_C ? "log" : "views");
  else snprintf(buf, n, "%s/w3_es_%d.db", dir, (int)setup);
}

/* Fill one W3 template in a child; a log must have as many events as the others (*events). */
static int fill_one(bench_job *job, const char *dir, long long *events, bench_result *res) {
  char path[4096];
  long rss;
  template_path(path, sizeof path, dir, job->side, job->setup);
  job->db_path = path;
  if (run_child(job, 1, res, &rss)) return -1;
  if (job->template_path) return 0; /* derived from sqlite-es's log: no new event */
  if (*events >= 0 && res->accepted != *events) {
    fprintf(stderr, "bench: CROSS-CHECK FAILED: W3's logs differ: %lld events and %lld\n", *events, res->accepted);
    return -1;
  }
  *events = res->accepted;
  return 0;
}

/* W3's logs, filled once by each side's own code (a child each) and copied by every W3 run, so a
** run times only what it measures: the baseline's with and without read models as the plan needs,
** sqlite-es's with the C aggregate, then one per other setup derived from it (views built). */
static int fill_templates(const bench_measure *m, size_t n, const bench_sizes *z, const char *dir, const char *sql_dir,
                          bench_result *res) {
  char es_log[4096];
  long long events = -1;
  int hand_done[5] = {0}, es_done[5] = {0};
  bench_job job = {.workload = W3_REPLAY, .sizes = z, .sql_dir = sql_dir};
  fprintf(stderr, "bench: filling W3's logs (%ld events each)\n", z->w3);
  for (size_t i = 0; i < n; i++) {
    bench_setup kind = m[i].setup == SETUP_C ? SETUP_C : SETUP_C_CVIEWS;
    if (m[i].workload < W3_REPLAY || hand_done[kind]) continue;
    hand_done[kind] = 1;
    job.side = SIDE_HAND;
    job.setup = kind;
    if (fill_one(&job, dir, &events, res)) return -1;
  }
  job.side = SIDE_ES;
  job.setup = SETUP_C;
  if (fill_one(&job, dir, &events, res)) return -1;
  template_path(es_log, sizeof es_log, dir, SIDE_ES, SETUP_C);
  job.template_path = es_log;
  for (size_t i = 0; i < n; i++) {
    if (m[i].workload < W3_REPLAY || m[i].setup == SETUP_C || es_done[m[i].setup]) continue;
    es_done[m[i].setup] = 1;
    job.setup = m[i].setup;
    if (fill_one(&job, dir, &events, res)) return -1;
  }
  return 0;
}

/* One measurement of one round: both sides (in the given order), then their dumps compared. */
static int run_pair(bench_measure *m, long round, const bench_sizes *z, const char *dir, const char *sql_dir,
                    bench_result *res) {
  char db[2][4096], dump[2][4096], tmpl[2][4096], why[9000];
  path_in(db[SIDE_HAND], sizeof db[0], dir, "hand.db");
  path_in(db[SIDE_ES], sizeof db[0], dir, "es.db");
  path_in(dump[SIDE_HAND], sizeof dump[0], dir, "hand.dump");
  path_in(dump[SIDE_ES], sizeof dump[0], dir, "es.dump");
  template_path(tmpl[SIDE_HAND], sizeof tmpl[0], dir, SIDE_HAND, m->setup);
  template_path(tmpl[SIDE_ES], sizeof tmpl[0], dir, SIDE_ES, m->setup);
  for (int k = 0; k < 2; k++) {
    bench_side side = (bench_side)((k + round) % 2); /* the baseline first in even rounds, sqlite-es in odd */
    bench_job job = {.workload = m->workload, .setup = m->setup, .side = side, .sizes = z, .db_path = db[side],
                     .dump_path = dump[side], .template_path = tmpl[side], .sql_dir = sql_dir};
    long rss;
    if (run_child(&job, 0, res, &rss)) return -1;
    keep_sample(&m->rounds[side][round], res, rss);
    bench_remove_db(db[side]);
  }
  if (bench_compare_dumps(dump[SIDE_HAND], dump[SIDE_ES], why, sizeof why) != 0) {
    fprintf(stderr,
            "bench: CROSS-CHECK FAILED: %s on setup %d (%s), round %ld: the databases differ at %s\n"
            "  (the dumps are kept: %s and %s)\n",
            bench_workload_name(m->workload), (int)m->setup, bench_setup_name(m->setup), round + 1, why,
            dump[SIDE_HAND], dump[SIDE_ES]);
    return -1;
  }
  unlink(dump[SIDE_HAND]);
  unlink(dump[SIDE_ES]);
  return 0;
}

static void print_progress(const bench_measure *m, long round, long rounds) {
  const bench_sample *h = &m->rounds[SIDE_HAND][round], *e = &m->rounds[SIDE_ES][round];
  fprintf(stderr, "bench: %-22s setup %d  round %ld/%ld: hand-written %10.0f/s  sqlite-es %10.0f/s  ratio %.2f\n",
          bench_workload_name(m->workload), (int)m->setup, round + 1, rounds, h->rate, e->rate,
          h->rate > 0 ? e->rate / h->rate : 0);
}

/* Remove the temporary directory; after a failure keep it with the dumps only (the databases,
** W3's templates among them, can be large). */
static void clean_dir(const char *dir, int failed) {
  DIR *d = opendir(dir);
  struct dirent *e;
  char p[4096];
  size_t len;
  if (d) {
    while ((e = readdir(d)) != 0) {
      if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
      len = strlen(e->d_name);
      if (failed && len > 5 && strcmp(e->d_name + len - 5, ".dump") == 0) continue;
      path_in(p, sizeof p, dir, e->d_name);
      unlink(p);
    }
    closedir(d);
  }
  if (!failed) rmdir(dir);
  else if (rmdir(dir) != 0) fprintf(stderr, "bench: the dumps are left in %s\n", dir);
}

/* Every measurement, every round, then the table and the JSON lines. Nonzero on any failure. */
static int run_all(const bench_context *cx, bench_measure *m, size_t n, const char *sql_dir, bench_result *res) {
  const bench_sizes *z = cx->sizes;
  int w3 = 0;
  bench_report_header(stdout, cx);
  fflush(stdout);
  for (size_t i = 0; i < n; i++) w3 |= m[i].workload >= W3_REPLAY;
  if (w3 && fill_templates(m, n, z, cx->tmpdir, sql_dir, res) != 0) return -1;
  for (long round = 0; round < z->rounds; round++)
    for (size_t i = 0; i < n; i++) {
      if (run_pair(&m[i], round, z, cx->tmpdir, sql_dir, res) != 0) return -1;
      print_progress(&m[i], round, z->rounds);
    }
  bench_report_table(stdout, cx, m, n);
  if (bench_report_json(cx, m, n) != 0) return -1;
  printf("\nJSON lines appended to %s\n", cx->jsonl);
  return 0;
}

int main(void) {
  bench_sizes z;
  bench_measure m[MAX_MEASURES] = {0};
  bench_result *res = 0;
  char dir[4096] = "", started[32];
  const char *tmp = getenv("TMPDIR"), *sql_dir = getenv("BENCH_SQL_DIR"), *jsonl = getenv("BENCH_JSONL"),
             *commit = getenv("BENCH_COMMIT");
  int full = getenv("BENCH_FULL") && strcmp(getenv("BENCH_FULL"), "1") == 0, rc = 1;
  size_t n = 0;
  time_t now = time(0);
  strftime(started, sizeof started, "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
  if (read_sizes(&z, full) != 0) goto done;
  if ((n = plan(m)) == 0) {
    fprintf(stderr, "bench: BENCH_ONLY and BENCH_SETUPS leave nothing to measure\n");
    goto done;
  }
  snprintf(dir, sizeof dir, "%s/es_bench_XXXXXX", tmp && *tmp ? tmp : "/tmp");
  if (!mkdtemp(dir)) {
    perror("bench: mkdtemp");
    dir[0] = 0;
    goto done;
  }
  if (!(res = malloc(sizeof *res))) goto done;
  for (size_t i = 0; i < n; i++)
    for (int s = 0; s < 2; s++)
      if (!(m[i].rounds[s] = calloc((size_t)z.rounds, sizeof(bench_sample)))) goto done;
  bench_context cx = {.sizes = &z,
                      .started = started,
                      .tmpdir = dir,
                      .jsonl = jsonl && *jsonl ? jsonl : "build/bench.jsonl",
                      .commit = commit && *commit ? commit : "unknown",
                      .full = full};
  rc = run_all(&cx, m, n, sql_dir && *sql_dir ? sql_dir : BENCH_SQL_DIR, res) ? 1 : 0;
done:
  if (dir[0]) clean_dir(dir, rc != 0);
  for (size_t i = 0; i < n; i++)
    for (int s = 0; s < 2; s++) {
      for (long k = 0; m[i].rounds[s] && k < z.rounds; k++) free(m[i].rounds[s][k].blocks);
      free(m[i].rounds[s]);
    }
  free(res);
  return rc;
}
