/*
** report.c — what `make bench` prints and records: the machine and versions, a Markdown table of
** the medians with issue 10's targets marked met or missed (never an exit status: a benchmark
** does not fail the build), and one JSON line per measurement appended to build/bench.jsonl.
*/
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"
#include "es.h"

#ifndef BENCH_CFLAGS
#define BENCH_CFLAGS "unknown"
#endif

#define RSS_TARGET_KB 10240L /* peak RSS within 10 MB of the hand-written program's */
#define W2_TARGET 0.9        /* W2: the last block's rate within 10% of the first's */

const char *bench_workload_name(bench_workload w) {
  static const char *const names[] = {"W1a", "W1b", "W2", "W3 replay", "W3 rebuild balances", "W3 rebuild history"};
  return names[w];
}

const char *bench_setup_name(bench_setup s) {
  static const char *const names[] = {"?", "C aggregate", "C aggregate + C views", "C aggregate + SQL views",
                                      "SQL aggregate + SQL views"};
  return names[s];
}

static const char *setup_key(bench_setup s) {
  static const char *const keys[] = {"?", "c", "c+c_views", "c+sql_views", "sql+sql_views"};
  return keys[s];
}

/* ---- the machine ---- */

typedef struct machine {
  char uname[512], cpu[256];
  long cores;
} machine;

static void read_machine(machine *mc) {
  struct utsname u;
  char line[512];
  FILE *f = fopen("/proc/cpuinfo", "r");
  if (uname(&u) == 0) snprintf(mc->uname, sizeof mc->uname, "%s %s %s", u.sysname, u.release, u.machine);
  else snprintf(mc->uname, sizeof mc->uname, "unknown");
  snprintf(mc->cpu, sizeof mc->cpu, "unknown");
  while (f && fgets(line, sizeof line, f)) {
    char *colon = strchr(line, ':');
    if (strncmp(line, "model name", 10) != 0 || !colon) continue;
    colon += 1 + strspn(colon + 1, " \t");
    colon[strcspn(colon, "\n")] = 0;
    snprintf(mc->cpu, sizeof mc->cpu, "%s", colon);
    break;
  }
  if (f) fclose(f);
  mc->cores = sysconf(_SC_NPROCESSORS_ONLN);
}

void bench_report_header(FILE *out, const bench_context *cx) {
  machine mc;
  const bench_sizes *z = cx->sizes;
  read_machine(&mc);
  fprintf(out, "sqlite-es %s (%s) against a hand-written baseline, %s\n", ES_VERSION_STRING, cx->commit, cx->started);
  fprintf(out, "machine: %s, %s, %ld cores; SQLite %s; cc %s; WAL, synchronous=NORMAL, a file in %s\n", mc.uname,
          mc.cpu, mc.cores, sqlite3_libversion(), BENCH_CFLAGS, cx->tmpdir);
  fprintf(out,
          "sizes%s: %ld accounts; W1a %ld and W1b %ld commands (the OpenAccount ones included); W2 %ld commands, "
          "blocks of %ld; W3 a log of %ld events; median of %ld rounds\n\n",
          cx->full ? " (BENCH_FULL=1)" : "", z->accounts, z->w1a, z->w1b, z->w2, z->w2_block, z->w3, z->rounds);
}

/* ---- medians and targets ---- */

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* The median over the rounds of one field of a side's samples (block >= 0: that W2 block's rate). */
static double median(const bench_measure *m, bench_side side, long rounds, int field, int block) {
  double v[rounds > 0 ? rounds : 1];
  long n = 0;
  for (long k = 0; k < rounds; k++) {
    const bench_sample *s = &m->rounds[side][k];
    if (block >= 0) {
      if (block < s->n_blocks) v[n++] = s->blocks[block];
    } else {
      v[n++] = field == 0 ? s->rate : field == 1 ? (double)s->rss_kb : (double)s->db_bytes;
    }
  }
  if (n == 0) return 0;
  qsort(v, (size_t)n, sizeof v[0], cmp_double);
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

enum { F_RATE, F_RSS, F_DB };

/* Issue 10's ratio target for a workload on a setup, or 0 when it sets none. */
static double ratio_target(bench_workload w, bench_setup s) {
  switch (w) {
    case W1A:
      return s == SETUP_C ? 0.85 : s == SETUP_C_CVIEWS ? 0.75 : s == SETUP_SQL ? 0.6 : 0;
    case W1B:
      return s == SETUP_C || s == SETUP_C_CVIEWS ? 0.7 : s == SETUP_SQL ? 0.4 : 0;
    case W3_REPLAY:
      return s == SETUP_C ? 0.8 : 0;
    case W3_REBUILD_BAL:
    case W3_REBUILD_HIST:
      return 0.8;
    case W2:
      break;
  }
  return 0;
}

static int blocks_of(const bench_measure *m, long rounds) {
  int n = BENCH_MAX_BLOCKS;
  for (long k = 0; k < rounds; k++)
    for (int s = 0; s < 2; s++)
      if (m->rounds[s][k].n_blocks < n) n = m->rounds[s][k].n_blocks;
  return n;
}

/* ---- the table ---- */

static const char *fmt_rate(double r, char *buf, size_t n) {
  if (r >= 1e6) snprintf(buf, n, "%.2fM", r / 1e6);
  else if (r >= 1e4) snprintf(buf, n, "%.1fk", r / 1e3);
  else if (r >= 1e3) snprintf(buf, n, "%.2fk", r / 1e3);
  else snprintf(buf, n, "%.0f", r);
  return buf;
}

static const char *fmt_mb(double bytes, char *buf, size_t n) {
  snprintf(buf, n, "%.1f MB", bytes / (1024.0 * 1024.0));
  return buf;
}

/* One row: the rates, the ratio and its target, peak RSS and database sizes of both sides. */
static void table_row(FILE *out, const char *workload, bench_setup setup, double hand, double es, const char *target,
                      double rss_hand_kb, double rss_es_kb, double db_hand, double db_es, const char *unit) {
  char a[32], b[32], c[32], d[32], e[32], f[32];
  double delta = rss_es_kb - rss_hand_kb;
  fprintf(out, "| %s | %s | %s %s | %s | %.2f | %s | %s | %s | %+.1f MB %s | %s | %s |\n", workload,
          bench_setup_name(setup), fmt_rate(hand, a, sizeof a), unit, fmt_rate(es, b, sizeof b),
          hand > 0 ? es / hand : 0, target, fmt_mb(rss_hand_kb * 1024, c, sizeof c), fmt_mb(rss_es_kb * 1024, d, sizeof d),
          delta / 1024, delta <= RSS_TARGET_KB ? "met" : "missed", fmt_mb(db_hand, e, sizeof e), fmt_mb(db_es, f, sizeof f));
}

void bench_report_table(FILE *out, const bench_context *cx, const bench_measure *m, size_t n) {
  long rounds = cx->sizes->rounds;
  char target[128];
  fprintf(out, "\n| workload | setup | hand-written | sqlite-es | ratio | target (ratio) | peak RSS hand | peak RSS es |"
               " RSS Δ (≤ 10 MB) | DB hand | DB es |\n");
  fprintf(out, "|---|---|---|---|---|---|---|---|---|---|---|\n");
  for (size_t i = 0; i < n; i++) {
    const bench_measure *x = &m[i];
    double rh = median(x, SIDE_HAND, rounds, F_RSS, -1), re = median(x, SIDE_ES, rounds, F_RSS, -1);
    double dh = median(x, SIDE_HAND, rounds, F_DB, -1), de = median(x, SIDE_ES, rounds, F_DB, -1);
    const char *unit = x->workload >= W3_REPLAY ? "ev/s" : "cmd/s";
    if (x->workload == W2) {
      int nb = blocks_of(x, rounds);
      if (nb == 0) continue;
      double h0 = median(x, SIDE_HAND, rounds, 0, 0), e0 = median(x, SIDE_ES, rounds, 0, 0);
      double h1 = median(x, SIDE_HAND, rounds, 0, nb - 1), e1 = median(x, SIDE_ES, rounds, 0, nb - 1);
      char w[64];
      snprintf(w, sizeof w, "W2 first %ld", cx->sizes->w2_block);
      table_row(out, w, x->setup, h0, e0, "", rh, re, dh, de, unit);
      snprintf(w, sizeof w, "W2 last %ld", cx->sizes->w2_block);
      snprintf(target, sizeof target, "last/first %.2f (hand %.2f), ≥ %.2f %s", e0 > 0 ? e1 / e0 : 0,
               h0 > 0 ? h1 / h0 : 0, W2_TARGET, e0 > 0 && e1 / e0 >= W2_TARGET ? "met" : "missed");
      table_row(out, w, x->setup, h1, e1, target, rh, re, dh, de, unit);
      continue;
    }
    double h = median(x, SIDE_HAND, rounds, F_RATE, -1), e = median(x, SIDE_ES, rounds, F_RATE, -1);
    double t = ratio_target(x->workload, x->setup);
    if (t > 0) snprintf(target, sizeof target, "≥ %.2f %s", t, h > 0 && e / h >= t ? "met" : "missed");
    else snprintf(target, sizeof target, "—");
    table_row(out, bench_workload_name(x->workload), x->setup, h, e, target, rh, re, dh, de, unit);
  }
  fprintf(out, "\nRatio = sqlite-es / hand-written (higher is better); medians of %ld rounds.\n", rounds);
  for (size_t i = 0; i < n; i++) { /* the stream is the same for every setup: the first one's counts */
    const bench_sample *s = &m[i].rounds[SIDE_ES][0];
    if (m[i].workload > W2 || m[i].setup != m[0].setup) continue;
    fprintf(out, "Rejected by both sides alike, %s: %lld of %lld commands (%.1f%%).\n", bench_workload_name(m[i].workload),
            s->rejected, s->accepted + s->rejected, 100.0 * (double)s->rejected / (double)(s->accepted + s->rejected));
  }
  for (size_t i = 0; i < n; i++) {
    int nb = blocks_of(&m[i], rounds);
    char a[32];
    if (m[i].workload != W2 || nb == 0) continue;
    for (int side = 0; side < 2; side++) {
      fprintf(out, "W2 per block of %ld, %s, %s:", cx->sizes->w2_block, bench_setup_name(m[i].setup),
              side == SIDE_HAND ? "hand-written" : "sqlite-es");
      for (int b = 0; b < nb; b++) fprintf(out, " %s", fmt_rate(median(&m[i], (bench_side)side, rounds, 0, b), a, sizeof a));
      fprintf(out, " cmd/s\n");
    }
  }
}

/* ---- JSON lines ---- */

static void json_str(FILE *f, const char *z) {
  fputc('"', f);
  for (; *z; z++) {
    unsigned char c = (unsigned char)*z;
    if (c == '"' || c == '\\') fprintf(f, "\\%c", c);
    else if (c < 0x20) fprintf(f, "\\u%04x", c);
    else fputc(c, f);
  }
  fputc('"', f);
}

/* One side of a measurement: medians, then every round. */
static void json_side(FILE *f, const bench_measure *x, bench_side side, long rounds) {
  fprintf(f, "{\"rate\":%.3f,\"peak_rss_kb\":%.0f,\"db_bytes\":%.0f,\"rounds\":[", median(x, side, rounds, F_RATE, -1),
          median(x, side, rounds, F_RSS, -1), median(x, side, rounds, F_DB, -1));
  for (long k = 0; k < rounds; k++) {
    const bench_sample *s = &x->rounds[side][k];
    fprintf(f, "%s{\"rate\":%.3f,\"units\":%lld,\"accepted\":%lld,\"rejected\":%lld,\"peak_rss_kb\":%ld,\"db_bytes\":%lld",
            k ? "," : "", s->rate, s->units, s->accepted, s->rejected, s->rss_kb, s->db_bytes);
    if (s->n_blocks) {
      fprintf(f, ",\"block_rates\":[");
      for (int b = 0; b < s->n_blocks; b++) fprintf(f, "%s%.3f", b ? "," : "", s->blocks[b]);
      fprintf(f, "]");
    }
    fprintf(f, "}");
  }
  fprintf(f, "]");
  if (x->workload == W2) {
    int nb = blocks_of(x, rounds);
    fprintf(f, ",\"block_rates\":[");
    for (int b = 0; b < nb; b++) fprintf(f, "%s%.3f", b ? "," : "", median(x, side, rounds, 0, b));
    fprintf(f, "]");
  }
  fprintf(f, "}");
}

int bench_report_json(const bench_context *cx, const bench_measure *m, size_t n) {
  FILE *f = fopen(cx->jsonl, "a");
  machine mc;
  const bench_sizes *z = cx->sizes;
  long rounds = z->rounds;
  char now[32];
  time_t t = time(0);
  if (!f) {
    fprintf(stderr, "bench: cannot append to %s\n", cx->jsonl);
    return -1;
  }
  strftime(now, sizeof now, "%Y-%m-%dT%H:%M:%SZ", gmtime(&t));
  read_machine(&mc);
  for (size_t i = 0; i < n; i++) {
    const bench_measure *x = &m[i];
    double h = median(x, SIDE_HAND, rounds, F_RATE, -1), e = median(x, SIDE_ES, rounds, F_RATE, -1);
    double rh = median(x, SIDE_HAND, rounds, F_RSS, -1), re = median(x, SIDE_ES, rounds, F_RSS, -1);
    fprintf(f, "{\"run\":\"%s\",\"timestamp\":\"%s\",\"workload\":", cx->started, now);
    json_str(f, bench_workload_name(x->workload));
    fprintf(f, ",\"setup\":\"%s\",\"setup_name\":", setup_key(x->setup));
    json_str(f, bench_setup_name(x->setup));
    fprintf(f, ",\"unit\":\"%s\",\"ratio\":%.4f", x->workload >= W3_REPLAY ? "events/s" : "commands/s", h > 0 ? e / h : 0);
    if (x->workload == W2) {
      int nb = blocks_of(x, rounds);
      double e0 = nb ? median(x, SIDE_ES, rounds, 0, 0) : 0, e1 = nb ? median(x, SIDE_ES, rounds, 0, nb - 1) : 0;
      fprintf(f, ",\"target\":{\"last_over_first_min\":%.2f,\"last_over_first\":%.4f,\"met\":%s}", W2_TARGET,
              e0 > 0 ? e1 / e0 : 0, e0 > 0 && e1 / e0 >= W2_TARGET ? "true" : "false");
    } else if (ratio_target(x->workload, x->setup) > 0) {
      double tgt = ratio_target(x->workload, x->setup);
      fprintf(f, ",\"target\":{\"ratio_min\":%.2f,\"met\":%s}", tgt, h > 0 && e / h >= tgt ? "true" : "false");
    }
    fprintf(f, ",\"rss_target\":{\"max_delta_kb\":%ld,\"delta_kb\":%.0f,\"met\":%s}", RSS_TARGET_KB, re - rh,
            re - rh <= RSS_TARGET_KB ? "true" : "false");
    fprintf(f, ",\"hand\":");
    json_side(f, x, SIDE_HAND, rounds);
    fprintf(f, ",\"es\":");
    json_side(f, x, SIDE_ES, rounds);
    fprintf(f, ",\"machine\":{\"uname\":");
    json_str(f, mc.uname);
    fprintf(f, ",\"cpu\":");
    json_str(f, mc.cpu);
    fprintf(f, ",\"cores\":%ld},\"sqlite\":", mc.cores);
    json_str(f, sqlite3_libversion());
    fprintf(f, ",\"sqlite_es\":{\"version\":\"%s\",\"commit\":", ES_VERSION_STRING);
    json_str(f, cx->commit);
    fprintf(f, "},\"settings\":{\"journal_mode\":\"wal\",\"synchronous\":\"normal\",\"build\":");
    json_str(f, "static (dist/libsqlite_es.a), system libsqlite3, " BENCH_CFLAGS);
    fprintf(f, ",\"tmpdir\":");
    json_str(f, cx->tmpdir);
    fprintf(f, ",\"full\":%s},\"sizes\":{\"accounts\":%ld,\"w1a\":%ld,\"w1b\":%ld,\"w2\":%ld,\"w2_block\":%ld,"
               "\"w3_events\":%ld,\"rounds\":%ld}}\n",
            cx->full ? "true" : "false", z->accounts, z->w1a, z->w1b, z->w2, z->w2_block, z->w3, rounds);
  }
  return fclose(f) == 0 ? 0 : -1;
}
