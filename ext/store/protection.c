/*
** protection.c — what keeps the storage written only by sqlite-es (DESIGN §7): ordinary tables
** guarded by triggers. The log's UPDATE and DELETE always raise; every other write raises unless
** es_internal_write(table) returns 1, which it does only while the store has armed that table
** (one row, or every row of a view's own handlers). Without the extension loaded,
** es_internal_write does not exist, so those writes fail.
**
** Each guarded table also has a `<guard>_columns` trigger that names every column, because SQLite
** refuses ALTER TABLE … DROP COLUMN of a column a trigger refers to.
**
** Guards are known by what they say, not only by name: the expected text of each is written here
** and compared with sqlite_schema's, so a guard dropped and recreated as a no-op is found as
** surely as a missing one. es_protect() replaces both.
*/
#include <string.h>

#include "store_internal.h"

/* ======================= The guard function ======================= */

int es_store_guard_consume(es_store *s, const char *table) {
  if (!s->armed_table || !table || strcmp(s->armed_table, table) != 0) return 0;
  if (!s->armed_sticky) s->armed_table = 0;
  return 1;
}

void es_store_arm(es_store *s, const char *table) { es_store_arm_table(s, table); }

void es_store_arm_table(es_store *s, const char *table) {
  s->armed_table = table;
  s->armed_sticky = table != 0;
}

es_status es_store_guarded_write(es_store *s, sqlite3_stmt *st, const char *table, const char *doing, es_error *err) {
  s->wrote = 1;
  s->armed_table = table;
  s->armed_sticky = 0;
  int rc = sqlite3_step(st);
  s->armed_table = 0; /* a statement that failed before its trigger ran must not leave it armed */
  if (rc != SQLITE_DONE) return es_store_error(s->db, rc, doing, err);
  /* A trigger of the application's with RAISE(IGNORE) would skip the row silently. */
  if (sqlite3_changes(s->db) != 1)
    return es_error_set(err, ES_PROTECTED, "a trigger on %s skipped a row the store wrote (RAISE(IGNORE)): %s failed",
                        table, doing);
  return ES_OK;
}

/* ======================= The guards each table should have ======================= */

static void guard_clear(es_guard *g) {
  sqlite3_free(g->name);
  sqlite3_free(g->table);
  sqlite3_free(g->sql);
  sqlite3_free(g->what);
  memset(g, 0, sizeof(*g));
}

void es_guards_free(es_guard *g, int n) {
  for (int i = 0; i < n; i++) guard_clear(&g[i]);
  sqlite3_free(g);
}

/* Append one guard; its strings are taken (NULL means no memory). */
static es_status add_guard(es_guard **list, int *n, const char *table, const char *what, char *name, char *sql,
                           es_error *err) {
  es_guard *p = name && sql ? sqlite3_realloc64(*list, sizeof(*p) * (size_t)(*n + 1)) : 0;
  if (p) {
    *list = p;
    p[*n] = (es_guard){.name = name, .table = sqlite3_mprintf("%s", table), .sql = sql, .what = sqlite3_mprintf("%s", what)};
    (*n)++;
    if (p[*n - 1].table && p[*n - 1].what) return ES_OK;
    return es_error_set(err, ES_NOMEM, 0);
  }
  sqlite3_free(name);
  sqlite3_free(sql);
  return es_error_set(err, ES_NOMEM, 0);
}

/* CREATE TRIGGER text, as sqlite_schema keeps it: always refuse (armed = 0) or unless armed. */
static char *guard_sql(const char *name, const char *op, const char *table, int armed, const char *msg) {
  if (!msg) return 0;
  char *when = armed ? sqlite3_mprintf(" WHEN es_internal_write(%Q) IS NOT 1", table) : sqlite3_mprintf("");
  char *sql = when ? sqlite3_mprintf("CREATE TRIGGER \"%w\" BEFORE %s ON \"%w\"%s BEGIN SELECT RAISE(ABORT, %Q); END",
                                     name, op, table, when, msg)
                   : 0;
  sqlite3_free(when);
  return sql;
}

/* The trigger naming every column of a table, so that none of them can be dropped: the columns a
** table of ours is defined with (one added behind its back stays droppable), or all of a read
** model's. */
static es_status columns_guard(const char *table, char **cols, int n, const char *name, char **sql, es_error *err) {
  *sql = 0;
  sqlite3_str *b = sqlite3_str_new(0);
  sqlite3_str_appendf(b, "CREATE TRIGGER \"%w\" BEFORE DELETE ON \"%w\" BEGIN"
                         " /* names every column, so that ALTER TABLE … DROP COLUMN is refused */ SELECT",
                      name, table);
  for (int i = 0; i < n; i++) sqlite3_str_appendf(b, "%s OLD.\"%w\"", i ? "," : "", cols[i]);
  sqlite3_str_appendall(b, "; END");
  *sql = sqlite3_str_finish(b);
  return *sql ? ES_OK : es_error_set(err, ES_NOMEM, 0);
}

/* Every guard of one table: a table of ours (def), or a read model's table (def NULL). */
static es_status guards_of(es_store *s, const char *table, const es_table_def *def, es_guard **list, int *n,
                           es_error *err) {
  char **cols = 0;
  int n_cols = 0;
  es_status rc = def ? es_table_defined_columns(def, &cols, &n_cols, err) : es_table_columns(s, table, &cols, &n_cols, err);
  if (rc != ES_OK || n_cols == 0) return rc; /* a read model whose table is gone has nothing to guard */
  char *what = def ? 0 : sqlite3_mprintf("read model %s", table);
  const char *w = def ? def->what : what;
  if (!w) rc = es_error_set(err, ES_NOMEM, 0);
  else if (!def) { /* a read model: each write only by its own handlers */
    char *msg = sqlite3_mprintf("es: protected: %s is a read model: only its view handlers write it, from the events in"
                                " es_events (rebuild it with SELECT es_rebuild('%s'))",
                                table, table);
    static const char *const ops[3] = {"INSERT", "UPDATE", "DELETE"}, *const suffix[3] = {"insert", "update", "delete"};
    for (int i = 0; rc == ES_OK && i < 3; i++) {
      char *name = sqlite3_mprintf("es_view_%s_%s", table, suffix[i]);
      rc = add_guard(list, n, table, w, name, guard_sql(name, ops[i], table, 1, msg), err);
    }
    sqlite3_free(msg);
  } else if (def->style == ES_GUARD_ARMED || def->style == ES_GUARD_CACHE) { /* written by sqlite-es only */
    char *msg_write = sqlite3_mprintf("es: protected: %s %s: %s", table, def->why, def->advice_write);
    char *msg_delete = def->advice_delete ? sqlite3_mprintf("es: protected: %s %s: %s", table, def->why, def->advice_delete)
                                          : 0;
    static const char *const ops[3] = {"INSERT", "UPDATE", "DELETE"}, *const suffix[3] = {"insert", "update", "delete"};
    for (int i = 0; rc == ES_OK && i < (def->style == ES_GUARD_CACHE ? 2 : 3); i++) {
      char *name = sqlite3_mprintf("%s_%s_guard", table, suffix[i]);
      rc = add_guard(list, n, table, w, name, guard_sql(name, ops[i], table, 1, i == 2 ? msg_delete : msg_write), err);
    }
    sqlite3_free(msg_write);
    sqlite3_free(msg_delete);
  } else { /* the log: UPDATE (but es_meta's, by the append step) and DELETE always refused */
    char *m_update = sqlite3_mprintf("es: protected: %s %s: UPDATE is refused", table, def->why);
    char *m_delete = sqlite3_mprintf("es: protected: %s %s: DELETE is refused", table, def->why);
    char *m_insert = sqlite3_mprintf("es: protected: %s %s: only es_submit() writes it", table, def->why);
    int meta = def->style == ES_GUARD_META;
    char *n1 = sqlite3_mprintf(meta ? "%s_update_guard" : "%s_no_update", table);
    char *n2 = sqlite3_mprintf("%s_no_delete", table), *n3 = sqlite3_mprintf("%s_insert_guard", table);
    rc = add_guard(list, n, table, w, n1, guard_sql(n1, "UPDATE", table, meta, m_update), err);
    if (rc == ES_OK) rc = add_guard(list, n, table, w, n2, guard_sql(n2, "DELETE", table, 0, m_delete), err);
    else sqlite3_free(n2);
    if (rc == ES_OK) rc = add_guard(list, n, table, w, n3, guard_sql(n3, "INSERT", table, 1, m_insert), err);
    else sqlite3_free(n3);
    sqlite3_free(m_update);
    sqlite3_free(m_delete);
    sqlite3_free(m_insert);
  }
  if (rc == ES_OK) {
    char *name = def ? sqlite3_mprintf("%s_columns", table) : sqlite3_mprintf("es_view_%s_columns", table);
    char *sql = 0;
    if (name && columns_guard(table, cols, n_cols, name, &sql, err) != ES_OK) {
      sqlite3_free(name);
      rc = err->status;
    } else {
      rc = add_guard(list, n, table, w, name, sql, err);
    }
  }
  es_table_columns_free(cols, n_cols);
  sqlite3_free(what);
  return rc;
}

es_status es_guards_expected(es_store *s, es_guard **out, int *n, es_error *err) {
  es_status rc = ES_OK;
  *out = 0;
  *n = 0;
  for (int id = 0; rc == ES_OK && id < ES_TABLE_COUNT; id++)
    if (es_table_exists(s, (es_table_id)id)) rc = guards_of(s, es_table((es_table_id)id)->name, es_table((es_table_id)id), out, n, err);
  char **views = 0;
  int n_views = 0;
  if (rc == ES_OK) rc = es_views_names(s, &views, &n_views, err);
  for (int i = 0; rc == ES_OK && i < n_views; i++) rc = guards_of(s, views[i], 0, out, n, err);
  es_table_columns_free(views, n_views);
  if (rc != ES_OK) es_guards_free(*out, *n), *out = 0, *n = 0;
  return rc;
}

/* ======================= Checking and installing ======================= */

/* The triggers of main, by name: what each guard is compared with. */
typedef struct trigger_list {
  char **names, **sqls;
  int n;
} trigger_list;

static void triggers_free(trigger_list *t) {
  for (int i = 0; i < t->n; i++) sqlite3_free(t->names[i]), sqlite3_free(t->sqls[i]);
  sqlite3_free(t->names);
  sqlite3_free(t->sqls);
  memset(t, 0, sizeof(*t));
}

static es_status triggers_load(es_store *s, trigger_list *t, es_error *err) {
  memset(t, 0, sizeof(*t));
  sqlite3_stmt *q = es_store_cached(s, sqlite3_mprintf("SELECT name, sql FROM main.sqlite_schema WHERE type = 'trigger'"), err);
  if (!q) return err->status;
  es_status rc = ES_OK;
  int src;
  while (rc == ES_OK && (src = sqlite3_step(q)) == SQLITE_ROW) {
    char **names = sqlite3_realloc64(t->names, sizeof(char *) * (size_t)(t->n + 1));
    if (names) t->names = names;
    char **sqls = names ? sqlite3_realloc64(t->sqls, sizeof(char *) * (size_t)(t->n + 1)) : 0;
    if (sqls) t->sqls = sqls;
    if (!names || !sqls) {
      rc = es_error_set(err, ES_NOMEM, 0);
      break;
    }
    names[t->n] = sqlite3_mprintf("%s", sqlite3_column_text(q, 0));
    sqls[t->n] = sqlite3_mprintf("%s", sqlite3_column_text(q, 1));
    t->n++;
    if (!names[t->n - 1] || !sqls[t->n - 1]) rc = es_error_set(err, ES_NOMEM, 0);
  }
  if (rc == ES_OK && src != SQLITE_DONE) rc = es_store_error(s->db, src, "reading the schema", err);
  sqlite3_reset(q);
  if (rc != ES_OK) triggers_free(t);
  return rc;
}

/* Trigger names are case-insensitive in SQLite: es_checkpoints_INSERT_guard is ours, renamed. */
static es_guard_state state_of(const trigger_list *t, const es_guard *g, const char **stored) {
  for (int i = 0; i < t->n; i++) {
    if (sqlite3_stricmp(t->names[i], g->name) != 0) continue;
    if (stored) *stored = t->sqls[i];
    return strcmp(t->sqls[i], g->sql) == 0 ? ES_GUARD_OK : ES_GUARD_ALTERED;
  }
  if (stored) *stored = 0;
  return ES_GUARD_MISSING;
}

es_status es_guards_check(es_store *s, es_guard_fn fn, void *arg, es_error *err) {
  es_guard *g = 0;
  int n = 0;
  trigger_list t;
  es_status rc = es_guards_expected(s, &g, &n, err);
  if (rc == ES_OK) rc = triggers_load(s, &t, err);
  else memset(&t, 0, sizeof(t));
  int go_on = 1;
  for (int i = 0; rc == ES_OK && go_on && i < n; i++) {
    const char *stored = 0;
    es_guard_state st = state_of(&t, &g[i], &stored);
    go_on = fn(arg, &g[i], st, stored);
  }
  triggers_free(&t);
  es_guards_free(g, n);
  return rc;
}

char *es_guard_problem(const es_guard *g, es_guard_state st) {
  if (st == ES_GUARD_MISSING)
    return sqlite3_mprintf("trigger %s is missing, so %s is not protected; restore it with SELECT es_protect()", g->name,
                           g->what);
  return sqlite3_mprintf("trigger %s is not the guard sqlite-es installed (it was changed), so %s is not protected;"
                         " restore it with SELECT es_protect()",
                         g->name, g->what);
}

/* (Re)create one guard: a wrong one of that name is dropped first. */
static es_status install(es_store *s, const es_guard *g, es_guard_state st, es_error *err) {
  es_status rc = ES_OK;
  if (st == ES_GUARD_ALTERED)
    rc = es_store_exec(s, sqlite3_mprintf("DROP TRIGGER IF EXISTS main.\"%w\"", g->name), "replacing a guard", err);
  if (rc == ES_OK)
    rc = es_store_exec(s, sqlite3_mprintf("CREATE TRIGGER main.%s", g->sql + strlen("CREATE TRIGGER ")),
                       "installing a guard", err);
  return rc;
}

typedef struct repair {
  es_store *s;
  const char *table; /* only this table's guards, or NULL for all */
  int created;
  es_status rc;
  es_error *err;
} repair;

static int repair_one(void *arg, const es_guard *g, es_guard_state st, const char *stored) {
  repair *r = arg;
  (void)stored;
  if (st == ES_GUARD_OK || (r->table && sqlite3_stricmp(r->table, g->table) != 0)) return 1;
  r->rc = install(r->s, g, st, r->err);
  if (r->rc == ES_OK) r->created++;
  return r->rc == ES_OK;
}

es_status es_guards_repair(es_store *s, const char *table, int *created, es_error *err) {
  repair r = {.s = s, .table = table, .rc = ES_OK, .err = err};
  es_status rc = es_guards_check(s, repair_one, &r, err);
  if (created) *created = r.created;
  return rc != ES_OK ? rc : r.rc;
}

es_status es_guards_drop_view(es_store *s, const char *table, es_error *err) {
  return es_store_exec(s,
                       sqlite3_mprintf("DROP TRIGGER IF EXISTS main.\"es_view_%w_insert\";"
                                       "DROP TRIGGER IF EXISTS main.\"es_view_%w_update\";"
                                       "DROP TRIGGER IF EXISTS main.\"es_view_%w_delete\";"
                                       "DROP TRIGGER IF EXISTS main.\"es_view_%w_columns\"",
                                       table, table, table, table),
                       "unprotecting a view's table", err);
}

es_status es_store_protect(es_store *s, int *created, es_error *err) {
  *created = 0;
  es_status rc = es_store_open(s, ES_OPEN_REPAIR, err); /* refuses a newer format or an incomplete storage */
  if (rc != ES_OK || !s->exists) return rc; /* nothing to protect yet */
  rc = es_guards_repair(s, 0, created, err);
  s->schema_cookie = -1;
  return rc;
}
