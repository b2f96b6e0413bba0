/*
** sql_aggregates.c — aggregates defined in SQL alone, stored in the database:
**
**   SELECT es_create_aggregate('account', '{"status":"none","balance":0}', '["AccountOpened", …]');
**   CREATE VIEW account_deposit AS SELECT 'Deposited' AS type, json_object('amount', …) AS data
**     FROM es_command WHERE es_require(state ->> 'status' = 'open', 'not_open', 'the account is not open');
**   SELECT es_create_decider('account', 'Deposit', 'account_deposit');
**   CREATE VIEW account_evolve AS SELECT CASE type WHEN … END AS state FROM es_event;
**   SELECT es_create_evolver('account', 'account_evolve');
**
** At run time each SQL aggregate is registered on the connection as an ordinary aggregate type
** whose callbacks run those views (with es_command / es_event exposing the context), so it has
** exactly the semantics of a C aggregate. The state is a JSON object.
*/
#include <string.h>

#include "../domain/command.h"
#include "../domain/json.h"
#include "../domain/mem.h"
#include "../domain/message.h"
#include "../domain/query.h"
#include "conn.h"
#include "errors.h"
#include "functions.h"

/* ======================= The aggregate type behind a SQL definition ======================= */

typedef struct sql_handler {
  char *name; /* command or event type; "" for the evolver of every event type */
  char *view;
  char *sql;  /* the statement that runs the view (sqlite3_mprintf'd) */
} sql_handler;

typedef struct sql_agg {
  es_conn *conn;
  char *name;
  char *initial_state;
  sql_handler *deciders, *evolvers;
  int n_deciders, n_evolvers;
  es_json_doc *scratch; /* where the JSON a view returns is parsed, event after event (or NULL) */
} sql_agg;

typedef struct sql_state {
  char *json;
  size_t len;
  int64_t version; /* of the last event evolved, for es_command.version */
} sql_state;

static void handlers_free(sql_handler *h, int n) {
  for (int i = 0; i < n; i++) {
    es_mem_free(h[i].name);
    es_mem_free(h[i].view);
    sqlite3_free(h[i].sql);
  }
  es_mem_free(h);
}

static void sql_agg_free(void *p) {
  sql_agg *a = p;
  if (!a) return;
  handlers_free(a->deciders, a->n_deciders);
  handlers_free(a->evolvers, a->n_evolvers);
  es_json_free(a->scratch);
  es_mem_free(a->initial_state);
  es_mem_free(a->name);
  es_mem_free(a);
}

/* The handler of a command or event type, or the evolver of every event type. */
static const sql_handler *find_handler(const sql_handler *h, int n, const char *name) {
  const sql_handler *fallback = 0;
  for (int i = 0; i < n; i++) {
    if (strcmp(h[i].name, name) == 0) return &h[i];
    if (!h[i].name[0]) fallback = &h[i];
  }
  return fallback;
}

/* Parse JSON a view returned into the aggregate's scratch document; *root is the value when it is
** an object, else NULL. The document is taken while in use, so a parse nested in another (none
** is expected) would only make its own. */
static es_status parse_object(sql_agg *a, const char *json, size_t len, es_json_doc **doc, const es_json **root) {
  *doc = a->scratch;
  a->scratch = 0;
  es_status rc = es_json_parse_again(json, len, doc, 0);
  *root = rc == ES_OK && es_json_root(*doc)->kind == ES_JSON_OBJECT ? es_json_root(*doc) : 0;
  return rc;
}

/* Give the scratch document back (when another was given back meanwhile, this one goes). */
static void parse_done(sql_agg *a, es_json_doc *doc) {
  if (!a->scratch) a->scratch = doc;
  else es_json_free(doc);
}

static es_status sql_init(void *user, void *state) {
  sql_agg *a = user;
  sql_state *st = state;
  st->len = strlen(a->initial_state);
  st->json = es_mem_strndup(a->initial_state, st->len);
  return st->json ? ES_OK : ES_NOMEM;
}

static void sql_clear(void *user, void *state) {
  (void)user;
  es_mem_free(((sql_state *)state)->json);
}

/* Copy every member of a JSON object into a builder (event data, state JSON). */
static es_status copy_members(sql_agg *a, const char *json, size_t len, es_builder *b) {
  es_json_doc *doc;
  const es_json *root;
  es_status rc = parse_object(a, json, len, &doc, &root);
  if (rc == ES_OK && !root) rc = ES_INVALID_ARGUMENT;
  for (size_t i = 0; rc == ES_OK && i < root->u.obj.n; i++) {
    const es_json_member *m = &root->u.obj.members[i];
    rc = ES__OPS(b)->xSetJson(b, m->key, m->value->raw, m->value->raw_len);
  }
  parse_done(a, doc);
  return rc;
}

/* A snapshot's state: the JSON object itself. */
static es_status sql_state_from_json(void *user, void *state, const es_object *in) {
  sql_state *st = state;
  (void)user;
  char *copy = es_mem_strndup(in->json->raw, in->json->raw_len);
  if (!copy) return ES_NOMEM;
  es_mem_free(st->json);
  st->json = copy;
  st->len = in->json->raw_len;
  return ES_OK;
}

static es_status sql_state_to_json(void *user, const void *state, es_builder *out) {
  const sql_state *st = state;
  return copy_members(user, st->json, st->len, out);
}

/* Leave a message where the command loop reports a callback's failure from (the object's
** complaint slot), and return status. */
static es_status complain(const es_object *o, es_status status, char *message) {
  if (!message) return ES_NOMEM;
  es_mem_free(*o->last_error);
  *o->last_error = message;
  return status;
}

/* A decider's or evolver's statement failed; an error of ours keeps its kind and message. */
static es_status view_failed(es_conn *c, const es_object *o, const char *what, const char *view) {
  const char *ours = 0;
  es_status named = es_status_from_message(sqlite3_errmsg(c->db), &ours);
  if (named != ES_OK) return complain(o, named, es_mem_printf("%s", ours));
  return complain(o, ES_STORAGE, es_mem_printf("%s %s failed: %s", what, view, sqlite3_errmsg(c->db)));
}

static es_status sql_decide(void *user, const void *state, const es_command *cmd, es_emitter *out) {
  sql_agg *a = user;
  es_conn *c = a->conn;
  const sql_state *st = state;
  const sql_handler *h = find_handler(a->deciders, a->n_deciders, cmd->type);
  es_error err = {0};
  if (!h) return ES_UNKNOWN_COMMAND;
  const char *view = h->view;
  sqlite3_stmt *q = es_store_cached_text(c->store, h->sql, &err);
  es_error_clear(&err);
  if (!q) return view_failed(c, &cmd->payload, "decider", view);
  const es_json *payload = cmd->payload.json;
  es_sql_context ctx = {.kind = ES_CTX_COMMAND,
                        .aggregate_type = a->name,
                        .aggregate_id = cmd->aggregate_id,
                        .type = cmd->type,
                        .data = payload->raw,
                        .data_len = payload->raw_len,
                        .state = st->json,
                        .state_len = st->len,
                        .version = st->version,
                        .payload = payload};
  es_sql_clear_outcome(c);
  es_sql_context *saved = c->sql_context;
  c->sql_context = &ctx;
  es_status rc = ES_OK;
  int src;
  while (rc == ES_OK && (src = sqlite3_step(q)) == SQLITE_ROW) {
    const char *type = (const char *)sqlite3_column_text(q, 0);
    es_builder *b = es_emit(out, type ? type : "");
    if (!b) {
      rc = ES_UNDECLARED_EVENT;
      break;
    }
    if (sqlite3_column_type(q, 1) != SQLITE_NULL &&
        copy_members(a, (const char *)sqlite3_column_text(q, 1), (size_t)sqlite3_column_bytes(q, 1), b) != ES_OK) {
      rc = complain(&cmd->payload, ES_INVALID_ARGUMENT,
                    es_mem_printf("decider %s returned data that is not a JSON object for event '%s'", view, type));
    }
  }
  if (rc == ES_OK && src != SQLITE_DONE) {
    if (c->sql_payload_error) { /* es_payload_*: the same outcome as a C getter's */
      rc = complain(&cmd->payload, ES_INVALID_PAYLOAD, c->sql_payload_error);
      c->sql_payload_error = 0;
    } else if (c->sql_reject_reason) {
      rc = es_reject(out, c->sql_reject_reason, "%s", c->sql_reject_message);
    } else {
      rc = view_failed(c, &cmd->payload, "decider", view);
    }
  }
  sqlite3_reset(q);
  c->sql_context = saved;
  return rc;
}

/*
** The state after an event: one row, a JSON object in column state. The old state stays in place
** until the statement is reset, since es_event shows it to the view (without a copy) for as long
** as the view runs, a second row included.
*/
static es_status sql_evolve(void *user, void *state, const es_event *ev) {
  sql_agg *a = user;
  es_conn *c = a->conn;
  sql_state *st = state;
  const sql_handler *h = find_handler(a->evolvers, a->n_evolvers, ev->type);
  es_error err = {0};
  if (!h) { /* no evolver for this event type: the state does not change, its version does */
    st->version = ev->version;
    return ES_OK;
  }
  sqlite3_stmt *q = es_store_cached_text(c->store, h->sql, &err);
  es_error_clear(&err);
  if (!q) return view_failed(c, &ev->data, "evolver", h->view);
  es_sql_context ctx = {.kind = ES_CTX_EVENT,
                        .aggregate_type = ev->aggregate_type,
                        .aggregate_id = ev->aggregate_id,
                        .type = ev->type,
                        .data = ev->data.json->raw,
                        .data_len = ev->data.json->raw_len,
                        .state = st->json,
                        .state_len = st->len,
                        .version = ev->version,
                        .position = ev->position};
  es_sql_context *saved = c->sql_context;
  c->sql_context = &ctx;
  es_status rc = ES_OK;
  char *next = 0;
  size_t n = 0;
  int src = sqlite3_step(q);
  if (src == SQLITE_ROW && sqlite3_column_type(q, 0) == SQLITE_TEXT) {
    const char *z = (const char *)sqlite3_column_text(q, 0);
    es_json_doc *doc;
    const es_json *root;
    n = (size_t)sqlite3_column_bytes(q, 0);
    if (parse_object(a, z, n, &doc, &root) == ES_OK && root)
      rc = (next = es_mem_strndup(z, n)) ? ES_OK : ES_NOMEM;
    else
      rc = ES_INVALID_PAYLOAD;
    parse_done(a, doc);
    if (rc == ES_OK && sqlite3_step(q) == SQLITE_ROW)
      rc = complain(&ev->data, ES_INVALID_ARGUMENT,
                    es_mem_printf("evolver %s returned more than one row for event '%s'", h->view, ev->type));
  } else {
    rc = src == SQLITE_ROW || src == SQLITE_DONE ? ES_INVALID_PAYLOAD : view_failed(c, &ev->data, "evolver", h->view);
  }
  if (rc == ES_INVALID_PAYLOAD)
    rc = complain(&ev->data, ES_INVALID_ARGUMENT,
                  es_mem_printf("evolver %s did not return a state (one row, a JSON object in column state)", h->view));
  sqlite3_reset(q);
  c->sql_context = saved;
  if (rc == ES_OK) {
    es_mem_free(st->json);
    st->json = next;
    st->len = n;
    st->version = ev->version;
    next = 0;
  }
  es_mem_free(next);
  return rc;
}

/* ======================= Loading definitions into the registry ======================= */

static es_status load_handlers(es_conn *c, const char *aggregate, const char *kind, sql_handler **out, int *n,
                               es_error *err) {
  sqlite3_stmt *q = es_store_cached(
      c->store, sqlite3_mprintf("SELECT name, view FROM main.es_sql_handlers WHERE aggregate = ?1 AND kind = ?2"), err);
  if (!q) return err->status;
  sqlite3_bind_text(q, 1, aggregate, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(q, 2, kind, -1, SQLITE_STATIC);
  es_status rc = ES_OK;
  while (rc == ES_OK && sqlite3_step(q) == SQLITE_ROW) {
    sql_handler *p = es_mem_realloc(*out, sizeof(*p) * (size_t)(*n + 1));
    if (!p) {
      rc = es_error_set(err, ES_NOMEM, 0);
      break;
    }
    *out = p;
    p[*n].name = es_mem_strdup((const char *)sqlite3_column_text(q, 0));
    p[*n].view = es_mem_strdup((const char *)sqlite3_column_text(q, 1));
    p[*n].sql = p[*n].view ? sqlite3_mprintf(strcmp(kind, "decide") == 0 ? "SELECT type, data FROM main.\"%w\""
                                                                          : "SELECT state FROM main.\"%w\"",
                                             p[*n].view)
                           : 0;
    (*n)++;
    if (!p[*n - 1].name || !p[*n - 1].view || !p[*n - 1].sql) rc = es_error_set(err, ES_NOMEM, 0);
  }
  sqlite3_reset(q);
  return rc;
}

/*
** What a snapshot of a SQL aggregate must have been taken under: a hash of its initial state, its
** event types and each evolver (its event type, its view and the view's SQL as sqlite_schema keeps
** it), as the type's state_version. A change to any evolver's view is a new fingerprint.
*/
static char *definition_version(es_conn *c, const sql_agg *a, const char *events) {
  sqlite3_str *b = sqlite3_str_new(0);
  es_error ignored = {0};
  sqlite3_str_appendf(b, "%s%c%s%c", a->initial_state, 0, events, 0);
  sqlite3_stmt *q = es_store_cached(c->store, sqlite3_mprintf("SELECT sql FROM main.sqlite_schema WHERE name = ?1"), &ignored);
  for (int i = 0; i < a->n_evolvers; i++) {
    const char *sql = "";
    if (q) {
      sqlite3_bind_text(q, 1, a->evolvers[i].view, -1, SQLITE_STATIC);
      if (sqlite3_step(q) == SQLITE_ROW && sqlite3_column_text(q, 0)) sql = (const char *)sqlite3_column_text(q, 0);
    }
    sqlite3_str_appendf(b, "%s%c%s%c%s%c", a->evolvers[i].name, 0, a->evolvers[i].view, 0, sql, 0);
    if (q) sqlite3_reset(q);
  }
  es_error_clear(&ignored);
  int n = sqlite3_str_length(b);
  char *text = sqlite3_str_finish(b);
  char *version = text ? sqlite3_mprintf("sql-%lld", (long long)es_group_hash(text, (size_t)n)) : 0;
  sqlite3_free(text);
  return version;
}

/* Register one stored definition as an aggregate type of this connection. */
static es_status register_definition(es_conn *c, const char *name, const char *initial, const char *events,
                                     es_error *err) {
  es_json_doc *doc = 0;
  es_command_handler *cmds = 0;
  es_event_handler *evs = 0;
  sql_agg *a = es_mem_alloc(sizeof(*a));
  es_status rc = a ? ES_OK : es_error_set(err, ES_NOMEM, 0);
  if (rc == ES_OK) {
    memset(a, 0, sizeof(*a));
    a->conn = c;
    a->initial_state = es_mem_strdup(initial);
    a->name = es_mem_strdup(name);
    if (!a->initial_state || !a->name) rc = es_error_set(err, ES_NOMEM, 0);
  }
  if (rc == ES_OK) rc = load_handlers(c, name, "decide", &a->deciders, &a->n_deciders, err);
  if (rc == ES_OK) rc = load_handlers(c, name, "evolve", &a->evolvers, &a->n_evolvers, err);
  if (rc == ES_OK && es_json_parse(events, strlen(events), &doc, 0) != ES_OK)
    rc = es_error_set(err, ES_STORAGE, "es_sql_aggregates: events of '%s' are not a JSON array", name);
  size_t n_events = rc == ES_OK ? es_json_root(doc)->u.arr.n : 0;
  if (rc == ES_OK && (!(cmds = es_mem_alloc(sizeof(*cmds) * (size_t)(a->n_deciders + 1))) ||
                      !(evs = es_mem_alloc(sizeof(*evs) * (n_events + 1)))))
    rc = es_error_set(err, ES_NOMEM, 0);
  if (rc == ES_OK) {
    for (int i = 0; i < a->n_deciders; i++) cmds[i] = (es_command_handler){a->deciders[i].name, sql_decide};
    for (size_t i = 0; i < n_events; i++) evs[i] = (es_event_handler){es_json_root(doc)->u.arr.items[i]->u.str.s, sql_evolve};
    char *version = definition_version(c, a, events); /* NULL (no memory): no snapshots */
    es_aggregate_type def = {.iVersion = 2,
                             .name = name,
                             .state_size = sizeof(sql_state),
                             .xInit = sql_init,
                             .xClear = sql_clear,
                             .commands = cmds,
                             .n_commands = a->n_deciders,
                             .events = evs,
                             .n_events = (int)n_events,
                             .xStateToJson = sql_state_to_json,
                             .xStateFromJson = sql_state_from_json,
                             .state_version = version};
    rc = es_registry_add(c->registry, &def, a, sql_agg_free, err); /* frees a on failure */
    sqlite3_free(version);
    a = 0;
  }
  sql_agg_free(a);
  es_mem_free(cmds);
  es_mem_free(evs);
  es_json_free(doc);
  return rc;
}


/* Every definition change adds a row with generation 1 or bumps a generation, so the sum of the
** generations changes with every change of the definitions; 0 when there are none. */
static es_status definitions_version(es_conn *c, sqlite3_int64 *v, es_error *err) {
  *v = 0;
  if (!es_store_exists(c->store) || !es_store_has_definitions(c->store)) return ES_OK;
  sqlite3_stmt *q =
      es_store_cached(c->store, sqlite3_mprintf("SELECT coalesce(sum(generation), 0) FROM main.es_sql_aggregates"), err);
  if (!q) return err->status;
  if (sqlite3_step(q) == SQLITE_ROW) *v = sqlite3_column_int64(q, 0);
  sqlite3_reset(q);
  return ES_OK;
}

es_status es_sql_aggregates_sync(es_conn *c, es_error *err) {
  sqlite3_int64 v;
  if (es_store_open(c->store, 0, err) != ES_OK || definitions_version(c, &v, err) != ES_OK) return err->status;
  if (v == c->sql_definitions_seen || !es_store_has_definitions(c->store)) return ES_OK;
  sqlite3_stmt *q = es_store_cached(
      c->store, sqlite3_mprintf("SELECT name, initial_state, events FROM main.es_sql_aggregates ORDER BY name"), err);
  if (!q) return err->status;
  es_status rc = ES_OK;
  es_conn_registry_changing(c); /* every SQL type is registered anew: states folded by the old ones go */
  while (rc == ES_OK && sqlite3_step(q) == SQLITE_ROW) {
    char *name = es_mem_strdup((const char *)sqlite3_column_text(q, 0));
    char *initial = es_mem_strdup((const char *)sqlite3_column_text(q, 1));
    char *events = es_mem_strdup((const char *)sqlite3_column_text(q, 2));
    const es_agg *existing = name ? es_registry_find(c->registry, name) : 0;
    if (!name || !initial || !events) rc = es_error_set(err, ES_NOMEM, 0);
    else if (!existing || existing->xDestroy == sql_agg_free) /* a C type of that name wins */
      rc = register_definition(c, name, initial, events, err);
    es_mem_free(name);
    es_mem_free(initial);
    es_mem_free(events);
  }
  sqlite3_reset(q);
  if (rc == ES_OK) c->sql_definitions_seen = v;
  return rc;
}

/* ======================= Reading the payload in a decider ======================= */

/*
** es_payload_int(key), es_payload_text(key): a payload field, checked exactly as a C aggregate's
** es_payload_int / es_payload_text check it; a missing or wrongly typed field makes the command
** fail with invalid_payload and the same message.
*/
static void payload_field(sqlite3_context *ctx, sqlite3_value **argv, int want_int) {
  es_conn *c = sqlite3_user_data(ctx);
  const es_sql_context *sc = c->sql_context;
  const char *key = (const char *)sqlite3_value_text(argv[0]);
  char *complaint = 0;
  if (!sc || sc->kind != ES_CTX_COMMAND || !key) {
    es_result_errorf(ctx, ES_MISUSE, "es_payload_int and es_payload_text work only inside a decider view");
    return;
  }
  es_object o; /* the payload the command loop parsed, read as a C decider reads it */
  es_object_init(&o, sc->payload, "payload", &complaint);
  int64_t i = 0;
  const char *z = 0;
  size_t n = 0;
  es_status rc = want_int ? es_get_int(&o, key, &i) : es_get_text(&o, key, &z, 0); /* as C: no NUL inside */
  if (rc == ES_OK && !want_int) n = strlen(z);
  if (rc == ES_OK && want_int) sqlite3_result_int64(ctx, i);
  else if (rc == ES_OK) sqlite3_result_text64(ctx, z, n, SQLITE_TRANSIENT, SQLITE_UTF8);
  else {
    es_mem_free(c->sql_payload_error);
    c->sql_payload_error = complaint;
    complaint = 0;
    es_result_errorf(ctx, ES_INVALID_PAYLOAD, "%s", c->sql_payload_error ? c->sql_payload_error : "invalid payload");
  }
  es_mem_free(complaint);
}

void es_payload_int_fn(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  (void)argc;
  payload_field(ctx, argv, 1);
}

void es_payload_text_fn(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  (void)argc;
  payload_field(ctx, argv, 0);
}

/* ======================= es_require ======================= */

/* es_require(condition, reason, message): 1 when condition holds; otherwise the running decider
** rejects the command with that reason and message (outside a decider: an error with them). */
void es_require_fn(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  es_conn *c = sqlite3_user_data(ctx);
  (void)argc;
  if (sqlite3_value_type(argv[0]) != SQLITE_NULL && sqlite3_value_int64(argv[0]) != 0) {
    sqlite3_result_int(ctx, 1);
    return;
  }
  const char *reason = (const char *)sqlite3_value_text(argv[1]);
  const char *message = (const char *)sqlite3_value_text(argv[2]);
  es_mem_free(c->sql_reject_reason);
  es_mem_free(c->sql_reject_message);
  c->sql_reject_reason = es_mem_strdup(reason && *reason ? reason : "rejected");
  c->sql_reject_message = es_mem_strdup(message ? message : "command rejected");
  es_error e = {.status = ES_REJECTED,
                .reason = es_mem_strdup(c->sql_reject_reason ? c->sql_reject_reason : "rejected"),
                .message = es_mem_strdup(c->sql_reject_message ? c->sql_reject_message : "command rejected")};
  if (!e.reason || !e.message) e.status = ES_NOMEM;
  es_result_error(ctx, &e);
  es_error_clear(&e);
}

void es_sql_clear_outcome(es_conn *c) {
  es_mem_free(c->sql_reject_reason);
  es_mem_free(c->sql_reject_message);
  es_mem_free(c->sql_payload_error);
  c->sql_reject_reason = c->sql_reject_message = c->sql_payload_error = 0;
}

/* ======================= Definitions ======================= */

/* A view that exists and compiles with the columns a handler must return. */
static es_status check_view(es_conn *c, const char *what, const char *view, const char *columns, es_error *err) {
  sqlite3_stmt *q = 0;
  char *sql = sqlite3_mprintf("SELECT %s FROM main.\"%w\"", columns, view);
  if (!sql) return es_error_set(err, ES_NOMEM, 0);
  int is_view = 0;
  sqlite3_stmt *t = 0;
  if (sqlite3_prepare_v2(c->db, "SELECT type FROM main.sqlite_schema WHERE name = ?1", -1, &t, 0) == SQLITE_OK) {
    sqlite3_bind_text(t, 1, view, -1, SQLITE_STATIC);
    is_view = sqlite3_step(t) == SQLITE_ROW && strcmp((const char *)sqlite3_column_text(t, 0), "view") == 0;
  }
  sqlite3_finalize(t);
  es_status rc = ES_OK;
  if (!is_view) {
    rc = es_error_set(err, ES_INVALID_ARGUMENT, "%s '%s' must be a view in main (CREATE VIEW %s AS SELECT … FROM %s)",
                      what, view, view, strcmp(what, "decider") == 0 ? "es_command" : "es_event");
  } else if (sqlite3_prepare_v2(c->db, sql, -1, &q, 0) != SQLITE_OK) {
    rc = es_error_set(err, ES_INVALID_ARGUMENT, "%s '%s' cannot run (it must return columns %s): %s", what, view, columns,
                      sqlite3_errmsg(c->db));
  }
  sqlite3_finalize(q);
  sqlite3_free(sql);
  return rc;
}

typedef enum { DEF_AGGREGATE, DEF_DECIDER, DEF_EVOLVER } def_kind;

typedef struct def_args {
  def_kind kind;
  const char *aggregate, *name, *view; /* name: command or event type ("" for every event) */
  const char *initial, *events;
} def_args;

/* The stored events JSON array of an aggregate, or unknown_aggregate. */
static es_status stored_events(es_conn *c, const char *aggregate, char **events, es_error *err) {
  *events = 0;
  if (!es_store_has_definitions(c->store))
    return es_error_set(err, ES_UNKNOWN_AGGREGATE, "no SQL aggregate type '%s': define it with es_create_aggregate",
                        aggregate);
  sqlite3_stmt *q =
      es_store_cached(c->store, sqlite3_mprintf("SELECT events FROM main.es_sql_aggregates WHERE name = ?1"), err);
  if (!q) return err->status;
  sqlite3_bind_text(q, 1, aggregate, -1, SQLITE_STATIC);
  if (sqlite3_step(q) == SQLITE_ROW) *events = es_mem_strdup((const char *)sqlite3_column_text(q, 0));
  sqlite3_reset(q);
  if (!*events)
    return es_error_set(err, ES_UNKNOWN_AGGREGATE, "no SQL aggregate type '%s': define it with es_create_aggregate",
                        aggregate);
  return ES_OK;
}

/* Check the initial state and the list of event types of es_create_aggregate. */
static es_status check_aggregate_args(const def_args *a, es_error *err) {
  es_json_doc *doc = 0;
  es_status rc = es_json_parse(a->initial, strlen(a->initial), &doc, 0);
  if (rc != ES_OK || es_json_root(doc)->kind != ES_JSON_OBJECT)
    rc = es_error_set(err, ES_INVALID_ARGUMENT, "initial state of '%s' must be a JSON object", a->aggregate);
  es_json_free(doc);
  doc = 0;
  if (rc == ES_OK && (es_json_parse(a->events, strlen(a->events), &doc, 0) != ES_OK ||
                      es_json_root(doc)->kind != ES_JSON_ARRAY || es_json_root(doc)->u.arr.n == 0))
    rc = es_error_set(err, ES_INVALID_ARGUMENT, "event types of '%s' must be a non-empty JSON array of names", a->aggregate);
  for (size_t i = 0; rc == ES_OK && i < es_json_root(doc)->u.arr.n; i++) {
    const es_json *e = es_json_root(doc)->u.arr.items[i];
    if (e->kind != ES_JSON_STRING || es_check_id("event type", e->u.str.s, err) != ES_OK) {
      es_error_clear(err);
      rc = es_error_set(err, ES_INVALID_ARGUMENT, "event types of '%s' must be a non-empty JSON array of names",
                        a->aggregate);
    }
    for (size_t j = 0; rc == ES_OK && j < i; j++)
      if (strcmp(es_json_root(doc)->u.arr.items[j]->u.str.s, e->u.str.s) == 0)
        rc = es_error_set(err, ES_INVALID_ARGUMENT, "event type '%s' of '%s' is listed twice", e->u.str.s, a->aggregate);
  }
  es_json_free(doc);
  return rc;
}

/* Is type one of the names in the JSON array events? */
static int declares(const char *events, const char *type) {
  es_json_doc *doc = 0;
  int found = 0;
  if (es_json_parse(events, strlen(events), &doc, 0) == ES_OK && es_json_root(doc)->kind == ES_JSON_ARRAY)
    for (size_t i = 0; i < es_json_root(doc)->u.arr.n && !found; i++)
      found = es_json_root(doc)->u.arr.items[i]->kind == ES_JSON_STRING &&
              strcmp(es_json_root(doc)->u.arr.items[i]->u.str.s, type) == 0;
  es_json_free(doc);
  return found;
}

/* A redefinition must still declare every event type its log holds: replay needs them. */
static es_status check_logged_types(es_conn *c, const def_args *a, es_error *err) {
  if (!es_store_exists(c->store)) return ES_OK;
  sqlite3_stmt *q = es_store_cached(
      c->store, sqlite3_mprintf("SELECT DISTINCT type FROM main.es_events WHERE aggregate_type = ?1"), err);
  if (!q) return err->status;
  sqlite3_bind_text(q, 1, a->aggregate, -1, SQLITE_STATIC);
  es_status rc = ES_OK;
  while (rc == ES_OK && sqlite3_step(q) == SQLITE_ROW) {
    const char *type = (const char *)sqlite3_column_text(q, 0);
    if (type && !declares(a->events, type))
      rc = es_error_set(err, ES_INVALID_ARGUMENT,
                        "aggregate type '%s' has events of type '%s' in its log: keep declaring it", a->aggregate, type);
  }
  sqlite3_reset(q);
  sqlite3_clear_bindings(q);
  return rc;
}

static es_status store_definition(es_conn *c, const def_args *a, es_error *err) {
  es_status rc = ES_OK;
  char *events = 0;
  if (a->kind == DEF_AGGREGATE) {
    const es_agg *existing = es_registry_find(c->registry, a->aggregate);
    if (existing && existing->xDestroy != sql_agg_free)
      return es_error_set(err, ES_INVALID_ARGUMENT, "aggregate type '%s' is defined in C on this connection", a->aggregate);
    if (check_aggregate_args(a, err) != ES_OK || check_logged_types(c, a, err) != ES_OK) return err->status;
  } else {
    const es_agg *existing = es_registry_find(c->registry, a->aggregate);
    if (existing && existing->xDestroy != sql_agg_free)
      return es_error_set(err, ES_INVALID_ARGUMENT, "aggregate type '%s' is defined in C on this connection", a->aggregate);
    if (stored_events(c, a->aggregate, &events, err) != ES_OK) return err->status;
    if (a->kind == DEF_EVOLVER && a->name[0] && !declares(events, a->name))
      rc = es_error_set(err, ES_UNDECLARED_EVENT, "aggregate type '%s' does not declare event type '%s'", a->aggregate,
                        a->name);
    if (rc == ES_OK)
      rc = a->kind == DEF_DECIDER ? check_view(c, "decider", a->view, "type, data", err)
                                  : check_view(c, "evolver", a->view, "state", err);
  }
  es_mem_free(events);
  if (rc != ES_OK) return rc;
  if (!es_store_exists(c->store) && (rc = es_store_create(c->store, err)) != ES_OK) return rc;
  if ((rc = es_store_ensure_definitions(c->store, err)) != ES_OK) return rc;
  if (a->kind == DEF_AGGREGATE) {
    es_store_arm(c->store, "es_sql_aggregates");
    rc = es_store_exec(c->store,
                       sqlite3_mprintf("INSERT INTO main.es_sql_aggregates(name, initial_state, events, defined_at)"
                                       " VALUES (%Q, %Q, %Q, strftime('%%Y-%%m-%%dT%%H:%%M:%%fZ','now'))"
                                       " ON CONFLICT(name) DO UPDATE SET initial_state = excluded.initial_state,"
                                       " events = excluded.events, generation = generation + 1",
                                       a->aggregate, a->initial, a->events),
                       "recording a definition", err);
  } else {
    /* two tables, armed in turn: the guard lets only the armed one be written */
    es_store_arm(c->store, "es_sql_handlers");
    rc = es_store_exec(c->store,
                       sqlite3_mprintf("INSERT INTO main.es_sql_handlers(aggregate, kind, name, view) VALUES (%Q, %Q, %Q, %Q)"
                                       " ON CONFLICT DO UPDATE SET view = excluded.view",
                                       a->aggregate, a->kind == DEF_DECIDER ? "decide" : "evolve", a->name, a->view),
                       "recording a definition", err);
    es_store_arm(c->store, "es_sql_aggregates");
    if (rc == ES_OK)
      rc = es_store_exec(c->store,
                         sqlite3_mprintf("UPDATE main.es_sql_aggregates SET generation = generation + 1 WHERE name = %Q",
                                         a->aggregate),
                         "recording a definition", err);
  }
  es_store_arm(c->store, 0);
  return rc;
}

static es_status define_step(es_conn *c, void *arg, es_error *err) {
  es_status rc = store_definition(c, arg, err);
  return rc == ES_OK ? es_sql_aggregates_sync(c, err) : rc;
}

/* Run a definition in its own unit of work, then load it on this connection. */
static void define(sqlite3_context *ctx, const char *fname, def_args *a) {
  es_conn *c = sqlite3_user_data(ctx);
  es_error err = {0};
  es_conn_atomic(c, fname, 1, define_step, a, &err);
  if (err.status == ES_OK) sqlite3_result_int(ctx, 1);
  else es_result_error(ctx, &err);
  es_error_clear(&err);
}

/* Text arguments, checked in order; names[i] says what each is. */
static int text_args(sqlite3_context *ctx, sqlite3_value **argv, int n, const char *const *names, const char **out) {
  es_error err = {0};
  for (int i = 0; i < n; i++) {
    if (sqlite3_value_type(argv[i]) != SQLITE_TEXT) {
      es_error_set(&err, ES_INVALID_ARGUMENT, "%s must be text, got %s", names[i], es_value_type_name(argv[i]));
      break;
    }
    out[i] = (const char *)sqlite3_value_text(argv[i]);
    if (!out[i] || es_check_id(names[i], out[i], &err) != ES_OK) {
      if (!out[i]) es_error_set(&err, ES_NOMEM, 0);
      break;
    }
  }
  if (err.status == ES_OK) return 1;
  es_result_error(ctx, &err);
  es_error_clear(&err);
  return 0;
}

/* es_create_aggregate(name, initial_state, event_types): define or redefine a SQL aggregate. */
void es_create_aggregate_fn(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  static const char *const names[] = {"aggregate type", "initial state", "event types"};
  const char *v[3];
  (void)argc;
  if (!text_args(ctx, argv, 3, names, v)) return;
  def_args a = {.kind = DEF_AGGREGATE, .aggregate = v[0], .initial = v[1], .events = v[2]};
  define(ctx, "es_create_aggregate", &a);
}

/* es_create_decider(aggregate, command_type, view). */
void es_create_decider_fn(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  static const char *const names[] = {"aggregate type", "command type", "decider view"};
  const char *v[3];
  (void)argc;
  if (!text_args(ctx, argv, 3, names, v)) return;
  def_args a = {.kind = DEF_DECIDER, .aggregate = v[0], .name = v[1], .view = v[2]};
  define(ctx, "es_create_decider", &a);
}

/* es_create_evolver(aggregate, view [, event_type]): for one event type, or every other one. */
void es_create_evolver_fn(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  static const char *const names[] = {"aggregate type", "evolver view", "event type"};
  const char *v[3] = {0, 0, ""};
  if (!text_args(ctx, argv, argc, names, v)) return;
  def_args a = {.kind = DEF_EVOLVER, .aggregate = v[0], .view = v[1], .name = v[2]};
  define(ctx, "es_create_evolver", &a);
}
