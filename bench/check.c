/*
** check.c — helpers both sides of the benchmark share: opening a database with the benchmark's
** settings, errors into the result, files, and the canonical dumps (outcomes of the commands, rows
** of the log and of the read models) that bench.c compares after every pair of runs.
*/
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

int bench_fail(bench_result *r, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(r->error, sizeof r->error, fmt, ap);
  va_end(ap);
  r->ok = 0;
  return -1;
}

double bench_now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

int bench_exec(sqlite3 *db, const char *sql, bench_result *r) {
  char *err = 0;
  if (sqlite3_exec(db, sql, 0, 0, &err) == SQLITE_OK) return 0;
  bench_fail(r, "%s\n  in: %.200s", err ? err : sqlite3_errmsg(db), sql);
  sqlite3_free(err);
  return -1;
}

int bench_open(const char *path, sqlite3 **db, bench_result *r) {
  sqlite3_stmt *st = 0;
  int rc = -1;
  if (sqlite3_open_v2(path, db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, 0) != SQLITE_OK) {
    bench_fail(r, "cannot open %s: %s", path, *db ? sqlite3_errmsg(*db) : "out of memory");
    goto done;
  }
  if (sqlite3_prepare_v2(*db, "PRAGMA journal_mode=WAL", -1, &st, 0) != SQLITE_OK || sqlite3_step(st) != SQLITE_ROW ||
      strcmp((const char *)sqlite3_column_text(st, 0), "wal") != 0) {
    bench_fail(r, "cannot switch %s to WAL: %s", path, sqlite3_errmsg(*db));
    goto done;
  }
  rc = bench_exec(*db, "PRAGMA synchronous=NORMAL", r);
done:
  sqlite3_finalize(st);
  return rc;
}

int bench_close(sqlite3 *db, const char *path, bench_result *r) {
  struct stat sb;
  if (sqlite3_close(db) != SQLITE_OK) return bench_fail(r, "cannot close %s: %s", path, sqlite3_errmsg(db));
  if (stat(path, &sb) != 0) return bench_fail(r, "cannot stat %s: %s", path, strerror(errno));
  r->db_bytes = (long long)sb.st_size;
  return 0;
}

int bench_copy_file(const char *from, const char *to, bench_result *r) {
  char buf[1 << 16];
  int in = open(from, O_RDONLY), out = -1, rc = -1;
  ssize_t n = 0;
  if (in < 0) {
    bench_fail(r, "cannot read %s: %s", from, strerror(errno));
    goto done;
  }
  if ((out = open(to, O_WRONLY | O_CREAT | O_TRUNC, 0644)) < 0) {
    bench_fail(r, "cannot create %s: %s", to, strerror(errno));
    goto done;
  }
  while ((n = read(in, buf, sizeof buf)) > 0)
    if (write(out, buf, (size_t)n) != n) break;
  if (n != 0) bench_fail(r, "cannot copy %s to %s: %s", from, to, strerror(errno));
  else rc = 0;
done:
  if (in >= 0) close(in);
  if (out >= 0 && close(out) != 0 && rc == 0) rc = bench_fail(r, "cannot write %s: %s", to, strerror(errno));
  return rc;
}

char *bench_read_file(const char *path, bench_result *r) {
  FILE *f = fopen(path, "rb");
  char *text = 0;
  long n;
  if (!f) {
    bench_fail(r, "cannot read %s: %s", path, strerror(errno));
    return 0;
  }
  if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0) {
    bench_fail(r, "cannot read %s: %s", path, strerror(errno));
  } else if (!(text = malloc((size_t)n + 1))) {
    bench_fail(r, "out of memory reading %s", path);
  } else if (fread(text, 1, (size_t)n, f) != (size_t)n) {
    bench_fail(r, "cannot read %s", path);
    free(text);
    text = 0;
  } else {
    text[n] = 0;
  }
  fclose(f);
  return text;
}

void bench_remove_db(const char *path) {
  char p[4096];
  unlink(path);
  snprintf(p, sizeof p, "%s-wal", path);
  unlink(p);
  snprintf(p, sizeof p, "%s-shm", path);
  unlink(p);
}

/* ---- dumps ---- */

void bench_dump_outcomes(FILE *f, const char *outcomes, long n) {
  long accepted = 0;
  for (long i = 0; i < n; i++) accepted += outcomes[i] == 'a';
  fprintf(f, "outcomes: %ld commands, %ld accepted, %ld rejected\n", n, accepted, n - accepted);
  for (long i = 0; i < n; i += 100) fprintf(f, "%.*s\n", (int)(n - i < 100 ? n - i : 100), outcomes + i);
}

int bench_dump_query(FILE *f, sqlite3 *db, const char *title, const char *sql, bench_result *r) {
  sqlite3_stmt *st = 0;
  int rc = -1, step;
  if (sqlite3_prepare_v2(db, sql, -1, &st, 0) != SQLITE_OK) {
    bench_fail(r, "dump %s: %s", title, sqlite3_errmsg(db));
    goto done;
  }
  fprintf(f, "%s:\n", title);
  while ((step = sqlite3_step(st)) == SQLITE_ROW) {
    for (int i = 0; i < sqlite3_column_count(st); i++) {
      const char *z = (const char *)sqlite3_column_text(st, i);
      fprintf(f, "%s%s", i ? "|" : "", z ? z : "NULL");
    }
    fputc('\n', f);
  }
  if (step != SQLITE_DONE) bench_fail(r, "dump %s: %s", title, sqlite3_errmsg(db));
  else rc = 0;
done:
  sqlite3_finalize(st);
  return rc;
}

int bench_compare_dumps(const char *a, const char *b, char *why, size_t n) {
  FILE *fa = fopen(a, "r"), *fb = fopen(b, "r");
  char la[4096], lb[4096];
  int line = 0, differ = 0;
  if (!fa || !fb) {
    snprintf(why, n, "cannot read the dumps %s and %s", a, b);
    differ = -1;
    goto done;
  }
  for (;;) {
    char *ga = fgets(la, sizeof la, fa), *gb = fgets(lb, sizeof lb, fb);
    line++;
    if (!ga && !gb) break;
    if (!ga || !gb || strcmp(la, lb) != 0) {
      la[strcspn(la, "\n")] = 0;
      lb[strcspn(lb, "\n")] = 0;
      snprintf(why, n, "line %d\n    hand-written: %s\n    sqlite-es:    %s", line, ga ? la : "(end)", gb ? lb : "(end)");
      differ = line;
      break;
    }
  }
done:
  if (fa) fclose(fa);
  if (fb) fclose(fb);
  return differ;
}

void bench_state_json(const char *status, const char *owner, int64_t balance, char *buf, size_t n) {
  if (owner) snprintf(buf, n, "{\"status\":\"%s\",\"owner\":\"%s\",\"balance\":%lld}", status, owner, (long long)balance);
  else snprintf(buf, n, "{\"status\":\"%s\",\"balance\":%lld}", status, (long long)balance);
}
