/*
** schema.c — what the sqlite-es storage in `main` consists of: its tables, each with the text
** SQLite keeps for it in sqlite_schema (checked whenever the schema changes: a table changed
** outside sqlite-es, such as by ALTER TABLE … ADD COLUMN, is reported and not written), the
** indexes and views created with it, and how it is guarded (protection.c writes its guards from
** this). The log's three tables are created together by the first write; the others when first
** needed.
*/
#include <string.h>

#include "store_internal.h"

static const es_table_def tables[ES_TABLE_COUNT] = {
    [ES_TABLE_META] = {"es_meta", "key value", "CREATE TABLE es_meta(key TEXT PRIMARY KEY NOT NULL, value ANY) WITHOUT ROWID", 0,
                       ES_GUARD_META, "describes the storage format", 0, 0, "the log"},
    [ES_TABLE_EVENTS] = {"es_events", "position aggregate_type aggregate_id version type data metadata command_id recorded_at",
                         "CREATE TABLE es_events( position INTEGER PRIMARY KEY, aggregate_type TEXT NOT NULL,"
                         " aggregate_id TEXT NOT NULL, version INTEGER NOT NULL CHECK (version >= 1), type TEXT NOT NULL,"
                         " data TEXT NOT NULL, metadata TEXT, command_id TEXT, recorded_at TEXT NOT NULL,"
                         " UNIQUE (aggregate_type, aggregate_id, version))",
                         "CREATE INDEX IF NOT EXISTS main.es_events_by_category ON es_events(aggregate_type, position);"
                         "CREATE INDEX IF NOT EXISTS main.es_events_by_type ON es_events(type, position);",
                         ES_GUARD_LOG, "is the append-only event log", 0, 0, "the log"},
    [ES_TABLE_COMMANDS] = {"es_commands", "command_id aggregate_type aggregate_id command_type version position recorded_at",
                           "CREATE TABLE es_commands( command_id TEXT PRIMARY KEY NOT NULL, aggregate_type TEXT NOT NULL,"
                           " aggregate_id TEXT NOT NULL, command_type TEXT NOT NULL, version INTEGER NOT NULL,"
                           " position INTEGER NOT NULL, recorded_at TEXT NOT NULL) WITHOUT ROWID",
                           0, ES_GUARD_LOG, "records commands that succeeded", 0, 0, "the log"},
    [ES_TABLE_VIEWS] = {"es_views", "name kind feed position defined_at",
                        "CREATE TABLE es_views( name TEXT PRIMARY KEY NOT NULL, kind TEXT NOT NULL CHECK (kind IN ('c',"
                        " 'sql')), feed TEXT, position INTEGER NOT NULL DEFAULT 0, defined_at TEXT NOT NULL) WITHOUT ROWID",
                        /* every read model is at the last position given (each command brings them all
                        ** there); lag counts events appended behind sqlite-es's back, which none has seen */
                        "CREATE VIEW IF NOT EXISTS main.es_projections(name, table_name, kind, position, lag) AS"
                        " SELECT v.name, v.name, v.kind, h.last, h.end - h.last FROM main.es_views AS v,"
                        " (SELECT coalesce(max(position), 0) AS end,"
                        " coalesce((SELECT value FROM main.es_meta WHERE key = 'last_position'), max(position), 0) AS last"
                        " FROM main.es_events) AS h;",
                        ES_GUARD_ARMED, "lists the read models", "define them with es_create_view()",
                        "forget one with es_drop_view()", "the list of read models"},
    [ES_TABLE_CHECKPOINTS] = {"es_checkpoints", "name aggregate_type group_member group_size position updated_at",
                              "CREATE TABLE es_checkpoints( name TEXT PRIMARY KEY NOT NULL, aggregate_type TEXT,"
                              " group_member INTEGER NOT NULL DEFAULT 0, group_size INTEGER NOT NULL DEFAULT 0,"
                              " position INTEGER NOT NULL DEFAULT 0, updated_at TEXT NOT NULL) WITHOUT ROWID",
                              "CREATE VIEW IF NOT EXISTS main.es_consumers(name, aggregate_type, group_member, group_size,"
                              " position, lag) AS SELECT name, aggregate_type, group_member, group_size, position,"
                              " (SELECT coalesce(max(position), 0) FROM main.es_events) - position FROM main.es_checkpoints;",
                              ES_GUARD_ARMED, "holds the checkpoints of consumers",
                              "change them with es_create_consumer and es_ack",
                              "change them with es_create_consumer and es_ack", "es_checkpoints"},
    [ES_TABLE_SQL_AGGREGATES] = {"es_sql_aggregates", "name initial_state events generation defined_at",
                                 "CREATE TABLE es_sql_aggregates( name TEXT PRIMARY KEY NOT NULL, initial_state TEXT NOT"
                                 " NULL, events TEXT NOT NULL, generation INTEGER NOT NULL DEFAULT 1, defined_at TEXT NOT"
                                 " NULL) WITHOUT ROWID",
                                 0, ES_GUARD_ARMED, "holds aggregate definitions",
                                 "change them with es_create_aggregate, es_create_decider and es_create_evolver",
                                 "change them with es_create_aggregate, es_create_decider and es_create_evolver",
                                 "es_sql_aggregates"},
    [ES_TABLE_SQL_HANDLERS] = {"es_sql_handlers", "aggregate kind name view",
                               "CREATE TABLE es_sql_handlers( aggregate TEXT NOT NULL, kind TEXT NOT NULL CHECK (kind IN"
                               " ('decide', 'evolve')), name TEXT NOT NULL, view TEXT NOT NULL, PRIMARY KEY (aggregate,"
                               " kind, name)) WITHOUT ROWID",
                               0, ES_GUARD_ARMED, "holds aggregate definitions",
                               "change them with es_create_aggregate, es_create_decider and es_create_evolver",
                               "change them with es_create_aggregate, es_create_decider and es_create_evolver",
                               "es_sql_handlers"},
    [ES_TABLE_SNAPSHOTS] = {"es_snapshots", "aggregate_type aggregate_id fingerprint version state recorded_at",
                            "CREATE TABLE es_snapshots( aggregate_type TEXT NOT NULL, aggregate_id TEXT NOT NULL,"
                            " fingerprint TEXT NOT NULL, version INTEGER NOT NULL, state TEXT NOT NULL, recorded_at"
                            " TEXT NOT NULL, PRIMARY KEY (aggregate_type, aggregate_id, fingerprint)) WITHOUT ROWID",
                            0, ES_GUARD_CACHE, "holds snapshots of aggregate states",
                            "sqlite-es takes them (delete them at will: they only save time)", 0, "es_snapshots"},
};

const es_table_def *es_table(es_table_id id) { return &tables[id]; }

const es_table_def *es_table_named(const char *name) {
  for (int i = 0; i < ES_TABLE_COUNT; i++)
    if (name && sqlite3_stricmp(tables[i].name, name) == 0) return &tables[i];
  return 0;
}

/* The text sqlite_schema keeps for a table of ours, or NULL (and *found = 0) when it is absent. */
static es_status stored_sql(es_store *s, const char *name, char **sql, int *found, es_error *err) {
  *sql = 0;
  *found = 0;
  sqlite3_stmt *q =
      es_store_cached(s, sqlite3_mprintf("SELECT sql FROM main.sqlite_schema WHERE type = 'table' AND name = ?1"), err);
  if (!q) return err->status;
  sqlite3_bind_text(q, 1, name, -1, SQLITE_STATIC);
  int rc = sqlite3_step(q);
  if (rc == SQLITE_ROW) {
    *found = 1;
    *sql = sqlite3_mprintf("%s", sqlite3_column_text(q, 0));
    if (!*sql) rc = SQLITE_NOMEM;
  }
  sqlite3_reset(q);
  sqlite3_clear_bindings(q);
  if (rc == SQLITE_NOMEM) return es_error_set(err, ES_NOMEM, 0);
  return rc == SQLITE_ROW || rc == SQLITE_DONE ? ES_OK : es_store_error(s->db, rc, "reading the schema", err);
}

/* Known from the last verification while the schema has not changed since (a PRAGMA reads the
** cookie from the header), else read from sqlite_schema, which SQLite scans row by row. */
int es_table_exists(es_store *s, es_table_id id) {
  if (es_store_schema_unchanged(s)) return (s->tables >> id) & 1;
  es_error ignored = {0};
  char *sql = 0;
  int found = 0;
  stored_sql(s, tables[id].name, &sql, &found, &ignored);
  sqlite3_free(sql);
  es_error_clear(&ignored);
  return found;
}

/* Columns of table, one per row of pragma_table_info, in order; *n counts them. */
es_status es_table_columns(es_store *s, const char *table, char ***out, int *n, es_error *err) {
  *out = 0;
  *n = 0;
  sqlite3_stmt *q = es_store_cached(s, sqlite3_mprintf("SELECT name FROM pragma_table_info(?1, 'main') ORDER BY cid"), err);
  if (!q) return err->status;
  sqlite3_bind_text(q, 1, table, -1, SQLITE_STATIC);
  es_status rc = ES_OK;
  int src;
  while (rc == ES_OK && (src = sqlite3_step(q)) == SQLITE_ROW) {
    char **p = sqlite3_realloc64(*out, sizeof(*p) * (size_t)(*n + 1));
    if (!p) {
      rc = es_error_set(err, ES_NOMEM, 0);
      break;
    }
    *out = p;
    if (!(p[*n] = sqlite3_mprintf("%s", sqlite3_column_text(q, 0)))) rc = es_error_set(err, ES_NOMEM, 0);
    else (*n)++;
  }
  if (rc == ES_OK && src != SQLITE_DONE) rc = es_store_error(s->db, src, "reading a table's columns", err);
  sqlite3_reset(q);
  sqlite3_clear_bindings(q);
  if (rc != ES_OK) es_table_columns_free(*out, *n), *out = 0, *n = 0;
  return rc;
}

es_status es_table_defined_columns(const es_table_def *t, char ***out, int *n, es_error *err) {
  *out = 0;
  *n = 0;
  for (const char *p = t->columns; *p;) {
    const char *end = strchr(p, ' ');
    size_t len = end ? (size_t)(end - p) : strlen(p);
    char **grown = sqlite3_realloc64(*out, sizeof(char *) * (size_t)(*n + 1));
    if (!grown || !(grown[*n] = sqlite3_mprintf("%.*s", (int)len, p))) {
      if (grown) *out = grown;
      es_table_columns_free(*out, *n);
      *out = 0, *n = 0;
      return es_error_set(err, ES_NOMEM, 0);
    }
    *out = grown;
    (*n)++;
    p += len + (end != 0);
  }
  return ES_OK;
}

void es_table_columns_free(char **cols, int n) {
  for (int i = 0; i < n; i++) sqlite3_free(cols[i]);
  sqlite3_free(cols);
}

/* Is name one of the columns t is defined with (its space-separated list)? */
static int defined_column(const es_table_def *t, const char *name) {
  size_t n = strlen(name);
  for (const char *p = t->columns; *p;) {
    const char *end = strchr(p, ' ');
    size_t len = end ? (size_t)(end - p) : strlen(p);
    if (len == n && sqlite3_strnicmp(p, name, (int)n) == 0) return 1;
    p += len + (end != 0);
  }
  return 0;
}

/* What is wrong with a table whose text differs from ours: a column added, or something else. */
static char *describe_change(es_store *s, const es_table_def *t) {
  char **cols = 0;
  int n = 0;
  es_error ignored = {0};
  char *msg = 0;
  es_table_columns(s, t->name, &cols, &n, &ignored);
  es_error_clear(&ignored);
  for (int i = 0; i < n && !msg; i++)
    if (!defined_column(t, cols[i]))
      msg = sqlite3_mprintf("%s has a column %s that sqlite-es did not create (ALTER TABLE … ADD COLUMN): remove it with"
                            " ALTER TABLE %s DROP COLUMN %s",
                            t->name, cols[i], t->name, cols[i]);
  es_table_columns_free(cols, n);
  if (!msg) msg = sqlite3_mprintf("the definition of %s was changed outside sqlite-es", t->name);
  return msg;
}

/* Same definition? The name is compared by the lookup: ALTER TABLE … RENAME there and back quotes it. */
static int same_definition(const char *stored, const char *ours) {
  const char *a = strchr(stored, '('), *b = strchr(ours, '(');
  return a && b && strcmp(a, b) == 0;
}

es_status es_table_check(es_store *s, es_table_id id, int *found, char **problem, es_error *err) {
  char *sql = 0;
  *problem = 0;
  es_status rc = stored_sql(s, tables[id].name, &sql, found, err);
  if (rc == ES_OK && *found && !same_definition(sql, tables[id].sql) && !(*problem = describe_change(s, &tables[id])))
    rc = es_error_set(err, ES_NOMEM, 0);
  sqlite3_free(sql);
  return rc;
}

es_status es_table_create(es_store *s, es_table_id id, es_error *err) {
  const es_table_def *t = &tables[id];
  const char *rest = t->sql + strlen("CREATE TABLE ");
  es_status rc = es_store_exec(s, sqlite3_mprintf("CREATE TABLE IF NOT EXISTS main.%s;%s", rest, t->extra ? t->extra : ""),
                               "creating the sqlite-es storage", err);
  s->schema_cookie = -1; /* verify again: what es_table_exists knows is out of date */
  if (rc == ES_OK) rc = es_guards_repair(s, t->name, 0, err);
  return rc;
}

es_status es_table_ensure(es_store *s, es_table_id id, es_error *err) {
  if (es_table_exists(s, id)) return ES_OK;
  return es_table_create(s, id, err);
}

es_status es_store_ensure_definitions(es_store *s, es_error *err) {
  es_status rc = es_table_ensure(s, ES_TABLE_SQL_AGGREGATES, err);
  return rc == ES_OK ? es_table_ensure(s, ES_TABLE_SQL_HANDLERS, err) : rc;
}

int es_store_has_definitions(es_store *s) { return es_table_exists(s, ES_TABLE_SQL_AGGREGATES); }
