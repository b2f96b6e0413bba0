/*
** integrity.c — es_integrity_check's walk of the storage: each rule of domain/integrity.h checked
** against what SQLite holds (the schema, the guards' texts, the log, es_commands, the checkpoints,
** the definitions; the read models in views.c), a row added to the report for each one broken.
** It reads only: the read models are folded into TEMP copies inside a savepoint that is rolled
** back. At most LIST_MAX rows of one kind are listed, then how many more there are.
*/
#include <string.h>

#include "../domain/integrity.h"
#include "../domain/json.h"
#include "store_internal.h"

#define LIST_MAX 10

/* Prepare sql and bind integers ?1.. from binds; NULL with err set on failure. */
static sqlite3_stmt *query(es_store *s, const char *sql, const int64_t *binds, int n, es_error *err) {
  sqlite3_stmt *q = 0;
  if (sqlite3_prepare_v2(s->db, sql, -1, &q, 0) != SQLITE_OK) {
    es_store_error(s->db, sqlite3_errcode(s->db), "checking the storage", err);
    sqlite3_finalize(q);
    return 0;
  }
  for (int i = 0; i < n; i++) sqlite3_bind_int64(q, i + 1, binds[i]);
  return q;
}

/* Step q: SQLITE_ROW, or SQLITE_DONE, or an error recorded in err (then SQLITE_ERROR). */
static int next_row(es_store *s, sqlite3_stmt *q, es_error *err) {
  int rc = sqlite3_step(q);
  if (rc == SQLITE_ROW || rc == SQLITE_DONE) return rc;
  es_store_error(s->db, rc, "checking the storage", err);
  return SQLITE_ERROR;
}

static const char *text(sqlite3_stmt *q, int i) {
  const char *z = (const char *)sqlite3_column_text(q, i);
  return z ? z : "";
}

typedef struct span_text {
  char z[64];
} span_text;

/* "position 7" or "positions 7 to 9". */
static span_text span(int64_t from, int64_t to) {
  span_text t;
  if (from == to) sqlite3_snprintf((int)sizeof t.z, t.z, "position %lld", (long long)from);
  else sqlite3_snprintf((int)sizeof t.z, t.z, "positions %lld to %lld", (long long)from, (long long)to);
  return t;
}

/* "and N more": the rows of a kind past LIST_MAX. */
static void more(es_integrity_report *r, es_integrity_kind kind, int64_t listed, int64_t total, const char *what) {
  if (total > listed) es_integrity_add(r, kind, 0, "… and %lld more %s", (long long)(total - listed), what);
}

/* ======================= Tables and guards ======================= */

typedef struct guard_walk {
  es_store *s;
  es_integrity_report *r;
  es_error *err;
} guard_walk;

/* Is column col of table one SQLite itself refuses to drop (a key, or in an index)? */
static int held_by_sqlite(es_store *s, const char *table, const char *col) {
  sqlite3_stmt *q = 0;
  int held = 0;
  if (sqlite3_prepare_v2(s->db, "SELECT 1 FROM pragma_table_info(?1, 'main') WHERE pk > 0 AND name = ?2 COLLATE NOCASE"
                         " UNION ALL SELECT 1 FROM pragma_index_list(?1, 'main') il, pragma_index_info(il.name, 'main') ii"
                         " WHERE ii.name = ?2 COLLATE NOCASE",
                         -1, &q, 0) == SQLITE_OK) {
    sqlite3_bind_text(q, 1, table, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 2, col, -1, SQLITE_STATIC);
    held = sqlite3_step(q) == SQLITE_ROW;
  }
  sqlite3_finalize(q);
  return held;
}

/* The columns a `_columns` guard should name and does not (none of them when it is missing) that
** nothing else keeps from being dropped; a guard that names them all but says more is changed. */
static void droppable_columns(guard_walk *w, const es_guard *g, const char *stored) {
  const es_table_def *def = es_table_named(g->table);
  char **cols = 0;
  int n = 0, unnamed = 0;
  es_error ignored = {0};
  if (def ? es_table_defined_columns(def, &cols, &n, &ignored) : es_table_columns(w->s, g->table, &cols, &n, &ignored))
    w->r->nomem = 1;
  es_error_clear(&ignored);
  sqlite3_str *list = sqlite3_str_new(0);
  for (int i = 0; i < n; i++) {
    char *ref = sqlite3_mprintf("OLD.\"%w\"", cols[i]);
    int named = ref && stored && strstr(stored, ref);
    sqlite3_free(ref);
    if (named) continue;
    unnamed++;
    if (!held_by_sqlite(w->s, g->table, cols[i])) sqlite3_str_appendf(list, "%s%s", sqlite3_str_length(list) ? ", " : "", cols[i]);
  }
  es_table_columns_free(cols, n);
  char *droppable = sqlite3_str_finish(list);
  if (droppable && *droppable)
    es_integrity_add(w->r, ES_IC_COLUMN_DROPPABLE, g->table,
                     "%s %s of %s can be dropped by ALTER TABLE … DROP COLUMN (trigger %s %s): restore it with SELECT"
                     " es_protect()",
                     strchr(droppable, ',') ? "columns" : "column", droppable, g->table, g->name,
                     stored ? "does not name them all" : "is missing");
  else if (!unnamed || !stored)
    es_integrity_add(w->r, stored ? ES_IC_GUARD_CHANGED : ES_IC_GUARD_MISSING, g->name, "trigger %s %s, so %s is not"
                     " protected; restore it with SELECT es_protect()", g->name,
                     stored ? "is not the guard sqlite-es installed (it was changed)" : "is missing", g->what);
  sqlite3_free(droppable);
}

static int report_guard(void *arg, const es_guard *g, es_guard_state st, const char *stored) {
  guard_walk *w = arg;
  size_t n = strlen(g->name);
  if (st == ES_GUARD_OK) return 1;
  if (n > 8 && strcmp(g->name + n - 8, "_columns") == 0) {
    droppable_columns(w, g, stored);
    return 1;
  }
  char *problem = es_guard_problem(g, st);
  if (!problem) w->r->nomem = 1;
  else es_integrity_add(w->r, st == ES_GUARD_MISSING ? ES_IC_GUARD_MISSING : ES_IC_GUARD_CHANGED, g->name, "%s", problem);
  sqlite3_free(problem);
  return 1;
}

/* The tables, the format and the guards. *go_on = 0 when the log cannot be checked further. */
static es_status check_storage(es_store *s, es_integrity_report *r, int *go_on, int64_t *format, es_error *err) {
  int log_tables = 0;
  es_status rc = ES_OK;
  *go_on = 0;
  for (int id = 0; rc == ES_OK && id < ES_TABLE_COUNT; id++) {
    int found = 0;
    char *problem = 0;
    rc = es_table_check(s, (es_table_id)id, &found, &problem, err);
    if (problem) es_integrity_add(r, ES_IC_STORAGE, es_table((es_table_id)id)->name, "%s", problem);
    sqlite3_free(problem);
    if (id <= ES_TABLE_META) log_tables += found;
  }
  if (rc != ES_OK || log_tables == 0) return rc; /* no storage: nothing to check */
  if (log_tables != 3) {
    es_integrity_add(r, ES_IC_STORAGE, 0, "the sqlite-es storage in this database is incomplete (%d of its 3 tables):"
                     " nothing else can be checked", log_tables);
    return ES_OK;
  }
  sqlite3_stmt *q = query(s, "SELECT value FROM main.es_meta WHERE key = 'format'", 0, 0, err);
  if (!q) return err->status;
  int step = next_row(s, q, err);
  *format = step == SQLITE_ROW && sqlite3_column_type(q, 0) == SQLITE_INTEGER ? sqlite3_column_int64(q, 0) : 0;
  sqlite3_finalize(q);
  if (step == SQLITE_ERROR) return err->status;
  if (*format < 1) {
    es_integrity_add(r, ES_IC_STORAGE, "es_meta", "es_meta holds no valid storage format: nothing else can be checked");
    return ES_OK;
  }
  if (*format > ES_STORAGE_FORMAT) {
    es_integrity_add(r, ES_IC_STORAGE, "es_meta", "the storage has format %lld, newer than this build's (%d): upgrade"
                     " sqlite-es to check it", (long long)*format, ES_STORAGE_FORMAT);
    return ES_OK;
  }
  *go_on = 1;
  if (*format < ES_STORAGE_FORMAT) {
    es_integrity_add(r, ES_IC_STORAGE, "es_meta", "the storage has format %lld: the next write upgrades it to format %d,"
                     " and its guards can be checked after that", (long long)*format, ES_STORAGE_FORMAT);
    return ES_OK;
  }
  guard_walk w = {s, r, err};
  return es_guards_check(s, report_guard, &w, err);
}

/* ======================= The log ======================= */

/* Positions 1..n without a gap, and n the last position given (es_meta). *head: what a checkpoint
** may reach. */
static es_status check_positions(es_store *s, es_integrity_report *r, int64_t format, int64_t *head, int64_t *end,
                                 es_error *err) {
  sqlite3_stmt *q = query(s, "SELECT count(*), coalesce(min(position), 0), coalesce(max(position), 0),"
                             " (SELECT value FROM main.es_meta WHERE key = 'last_position') FROM main.es_events", 0, 0, err);
  if (!q) return err->status;
  if (next_row(s, q, err) != SQLITE_ROW) {
    sqlite3_finalize(q);
    return err->status;
  }
  int64_t count = sqlite3_column_int64(q, 0), min = sqlite3_column_int64(q, 1), max = sqlite3_column_int64(q, 2);
  int recorded = sqlite3_column_type(q, 3) == SQLITE_INTEGER;
  int64_t last = sqlite3_column_int64(q, 3);
  sqlite3_finalize(q);
  *end = max;
  *head = recorded ? last : max;
  if (format >= 2 && !recorded)
    es_integrity_add(r, ES_IC_STORAGE, "es_meta", "es_meta does not record the last position given");
  if (count != max) { /* positions start at 1, so a gap-free log has count = max */
    int64_t listed = 0, gaps = 0;
    if (min > 1) {
      gaps++, listed++;
      es_integrity_add(r, ES_IC_POSITIONS, "es_events", "%s %s missing from es_events: %s deleted", span(1, min - 1).z,
                       min == 2 ? "is" : "are", min == 2 ? "an event was" : "events were");
    }
    int64_t bind = max;
    q = query(s, "SELECT e.position + 1, (SELECT min(n.position) FROM main.es_events n WHERE n.position > e.position) - 1"
                 " FROM main.es_events e WHERE e.position < ?1 AND NOT EXISTS"
                 " (SELECT 1 FROM main.es_events x WHERE x.position = e.position + 1) ORDER BY e.position",
              &bind, 1, err);
    if (!q) return err->status;
    int step;
    while ((step = next_row(s, q, err)) == SQLITE_ROW) {
      int64_t from = sqlite3_column_int64(q, 0), to = sqlite3_column_int64(q, 1);
      if (++gaps > LIST_MAX) continue;
      listed++;
      es_integrity_add(r, ES_IC_POSITIONS, "es_events", "%s %s missing from es_events: %s deleted", span(from, to).z,
                       from == to ? "is" : "are", from == to ? "an event was" : "events were");
    }
    sqlite3_finalize(q);
    if (step == SQLITE_ERROR) return err->status;
    more(r, ES_IC_POSITIONS, listed, gaps, "gaps in the positions");
  }
  if (recorded && max < last)
    es_integrity_add(r, ES_IC_POSITIONS, "es_events", "%s %s given, but es_events ends at position %lld: events at the"
                     " end of the log were deleted", span(max + 1, last).z, max + 1 == last ? "was" : "were",
                     (long long)max);
  if (recorded && max > last)
    es_integrity_add(r, ES_IC_POSITIONS, "es_events", "es_events holds %s, which sqlite-es never gave (the last it gave is"
                     " %lld): events were appended behind its back", span(last + 1, max).z, (long long)last);
  return ES_OK;
}

/* Each stream's versions are 1..n in log order: the first event of a stream that breaks it. */
static es_status check_versions(es_store *s, es_integrity_report *r, es_error *err) {
  sqlite3_stmt *q = query(s, "SELECT aggregate_type, aggregate_id, position, version, n FROM (SELECT aggregate_type,"
                             " aggregate_id, position, version, row_number() OVER (PARTITION BY aggregate_type, aggregate_id"
                             " ORDER BY position) AS n FROM main.es_events) WHERE version <> n"
                             " ORDER BY aggregate_type, aggregate_id, position",
                          0, 0, err);
  if (!q) return err->status;
  int64_t streams = 0, listed = 0;
  char *last_type = 0, *last_id = 0;
  int step;
  while ((step = next_row(s, q, err)) == SQLITE_ROW) {
    if (last_type && strcmp(last_type, text(q, 0)) == 0 && strcmp(last_id, text(q, 1)) == 0) continue;
    sqlite3_free(last_type);
    sqlite3_free(last_id);
    last_type = sqlite3_mprintf("%s", text(q, 0));
    last_id = sqlite3_mprintf("%s", text(q, 1));
    if (++streams > LIST_MAX) continue;
    listed++;
    char *object = sqlite3_mprintf("%s %Q", text(q, 0), text(q, 1));
    es_integrity_add(r, ES_IC_VERSIONS, object, "%s: the event at position %lld has version %lld where version %lld"
                     " comes next (a stream's versions are 1..n in log order)", object ? object : "a stream",
                     (long long)sqlite3_column_int64(q, 2), (long long)sqlite3_column_int64(q, 3),
                     (long long)sqlite3_column_int64(q, 4));
    sqlite3_free(object);
  }
  sqlite3_free(last_type);
  sqlite3_free(last_id);
  sqlite3_finalize(q);
  if (step == SQLITE_ERROR) return err->status;
  more(r, ES_IC_VERSIONS, listed, streams, "streams whose versions are not 1..n");
  return ES_OK;
}

/* Each recorded command id has its last event where es_commands says, and each event's command id
** is recorded. */
static es_status check_commands(es_store *s, es_integrity_report *r, es_error *err) {
  sqlite3_stmt *q = query(s, "SELECT c.command_id, c.aggregate_type, c.aggregate_id, c.version, c.position"
                             " FROM main.es_commands c WHERE c.position > 0 AND NOT EXISTS (SELECT 1 FROM main.es_events e"
                             " WHERE e.position = c.position AND e.command_id IS c.command_id"
                             " AND e.aggregate_type = c.aggregate_type AND e.aggregate_id = c.aggregate_id"
                             " AND e.version = c.version) ORDER BY c.position",
                          0, 0, err);
  if (!q) return err->status;
  int64_t n = 0;
  int step;
  while ((step = next_row(s, q, err)) == SQLITE_ROW)
    if (++n <= LIST_MAX)
      es_integrity_add(r, ES_IC_COMMANDS, text(q, 0), "command id '%s' records its last event at position %lld (%s '%s'"
                       " version %lld), which es_events does not hold", text(q, 0), (long long)sqlite3_column_int64(q, 4),
                       text(q, 1), text(q, 2), (long long)sqlite3_column_int64(q, 3));
  sqlite3_finalize(q);
  if (step == SQLITE_ERROR) return err->status;
  more(r, ES_IC_COMMANDS, n < LIST_MAX ? n : LIST_MAX, n, "command ids whose events are missing");
  q = query(s, "SELECT command_id, min(position), max(position) FROM main.es_events WHERE command_id IS NOT NULL"
               " AND command_id NOT IN (SELECT command_id FROM main.es_commands) GROUP BY command_id ORDER BY 2",
            0, 0, err);
  if (!q) return err->status;
  n = 0;
  while ((step = next_row(s, q, err)) == SQLITE_ROW)
    if (++n <= LIST_MAX)
      es_integrity_add(r, ES_IC_COMMANDS, text(q, 0), "the events at positions %lld to %lld carry command id '%s', which"
                       " es_commands does not record: a retry of that command would append them again",
                       (long long)sqlite3_column_int64(q, 1), (long long)sqlite3_column_int64(q, 2), text(q, 0));
  sqlite3_finalize(q);
  if (step == SQLITE_ERROR) return err->status;
  more(r, ES_IC_COMMANDS, n < LIST_MAX ? n : LIST_MAX, n, "command ids not recorded");
  return ES_OK;
}

/* No checkpoint past the last position given: its consumer would skip every event up to there. */
static es_status check_checkpoints(es_store *s, es_integrity_report *r, int64_t head, es_error *err) {
  if (!es_table_exists(s, ES_TABLE_CHECKPOINTS)) return ES_OK;
  sqlite3_stmt *q = query(s, "SELECT name, position FROM main.es_checkpoints WHERE position > ?1 OR position < 0"
                             " ORDER BY name", &head, 1, err);
  if (!q) return err->status;
  int step;
  while ((step = next_row(s, q, err)) == SQLITE_ROW)
    es_integrity_add(r, ES_IC_CHECKPOINT, text(q, 0), "consumer '%s' is at position %lld, past the last position given"
                     " (%lld): it would skip every event up to there", text(q, 0), (long long)sqlite3_column_int64(q, 1),
                     (long long)head);
  sqlite3_finalize(q);
  return step == SQLITE_ERROR ? err->status : ES_OK;
}

/* ======================= Definitions ======================= */

/* Stored SQL aggregates: their JSON parses, and each decider and evolver view compiles. */
static es_status check_definitions(es_store *s, es_integrity_report *r, es_error *err) {
  if (!es_table_exists(s, ES_TABLE_SQL_AGGREGATES) || !es_table_exists(s, ES_TABLE_SQL_HANDLERS)) return ES_OK;
  sqlite3_stmt *q = query(s, "SELECT name, initial_state, events FROM main.es_sql_aggregates ORDER BY name", 0, 0, err);
  if (!q) return err->status;
  int step;
  while ((step = next_row(s, q, err)) == SQLITE_ROW) {
    for (int col = 1; col <= 2; col++) {
      es_json_doc *doc = 0;
      const char *z = text(q, col);
      es_json_kind want = col == 1 ? ES_JSON_OBJECT : ES_JSON_ARRAY;
      if (es_json_parse(z, strlen(z), &doc, 0) != ES_OK || es_json_root(doc)->kind != want)
        es_integrity_add(r, ES_IC_DEFINITION, text(q, 0), "aggregate '%s': its %s is not a JSON %s", text(q, 0),
                         col == 1 ? "initial state" : "list of event types", col == 1 ? "object" : "array");
      es_json_free(doc);
    }
  }
  sqlite3_finalize(q);
  if (step == SQLITE_ERROR) return err->status;
  q = query(s, "SELECT aggregate, kind, name, view FROM main.es_sql_handlers ORDER BY aggregate, kind, name", 0, 0, err);
  if (!q) return err->status;
  while ((step = next_row(s, q, err)) == SQLITE_ROW) {
    int decide = strcmp(text(q, 1), "decide") == 0;
    char *sql = sqlite3_mprintf(decide ? "SELECT type, data FROM main.\"%w\"" : "SELECT state FROM main.\"%w\"", text(q, 3));
    sqlite3_stmt *probe = 0;
    if (!sql) r->nomem = 1;
    else if (sqlite3_prepare_v2(s->db, sql, -1, &probe, 0) != SQLITE_OK)
      es_integrity_add(r, ES_IC_DEFINITION, text(q, 3), "%s %s of aggregate '%s' (%s%s%s) no longer compiles: %s",
                       decide ? "decider" : "evolver", text(q, 3), text(q, 0),
                       decide ? "command '" : *text(q, 2) ? "event type '" : "every event type without an evolver of its own",
                       text(q, 2), *text(q, 2) ? "'" : "", sqlite3_errmsg(s->db));
    sqlite3_finalize(probe);
    sqlite3_free(sql);
  }
  sqlite3_finalize(q);
  return step == SQLITE_ERROR ? err->status : ES_OK;
}

/* ======================= The whole check ======================= */

es_status es_store_integrity_check(es_store *s, const es_registry *reg, int quick, es_integrity_report *r,
                                   es_error *err) {
  int go_on = 0;
  int64_t format = 0, head = 0, end = 0;
  es_status rc = check_storage(s, r, &go_on, &format, err);
  if (rc == ES_OK && go_on) rc = check_positions(s, r, format, &head, &end, err);
  if (rc == ES_OK && go_on) rc = check_versions(s, r, err);
  if (rc == ES_OK && go_on) rc = check_commands(s, r, err);
  if (rc == ES_OK && go_on) rc = check_checkpoints(s, r, head, err);
  if (rc == ES_OK && go_on) rc = check_definitions(s, r, err);
  if (rc == ES_OK && go_on) rc = es_views_integrity(s, reg, quick, end, r, err);
  if (rc == ES_OK && r->nomem) rc = es_error_set(err, ES_NOMEM, 0);
  if (rc == ES_OK && !es_integrity_finish(r)) rc = es_error_set(err, ES_NOMEM, 0);
  return rc;
}
