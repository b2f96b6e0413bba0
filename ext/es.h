/*
** es.h — the public C API of sqlite-es, for authors of aggregates (and, later, views).
**
** An aggregate type is a table of C callbacks: an initial state, one decide callback per
** command type, one evolve callback per event type, and optionally state to/from JSON. It is
** registered on one connection through the versioned es_api struct, fetched FTS5-style:
**
**     es_api *api = 0;
**     sqlite3_stmt *st;
**     sqlite3_prepare_v2(db, "SELECT es_api(?1)", -1, &st, 0);
**     sqlite3_bind_pointer(st, 1, (void*)&api, "es_api_ptr", 0);
**     sqlite3_step(st); sqlite3_finalize(st);
**     if (api && api->iVersion >= 1) api->xRegisterAggregate(api, &account_type, 0, 0);
**
** Callbacks never see sqlite3*: they read commands, events and state JSON through the opaque
** handles below and the inline accessors at the end of this file, which call through a function
** table carried by each handle. So an aggregate compiled as its own loadable extension needs no
** symbol from sqlite-es at link time. Structs here only ever grow at the end (iVersion says how far).
*/
#ifndef ES_H
#define ES_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Marks the entry points a loadable exports (they are built with -fvisibility=hidden). */
#if defined(ES_STATIC)
#define ES_API
#elif defined(_WIN32)
#define ES_API __declspec(dllexport)
#else
#define ES_API __attribute__((visibility("default")))
#endif

#define ES_VERSION_MAJOR 0
#define ES_VERSION_MINOR 1
#define ES_VERSION_PATCH 0
#define ES_VERSION_STRING "0.1.0"

/* ======================= Typed errors ======================= */

/*
** Every failure has a kind, the same in C, in error messages ("es: <kind>: …") and in
** es_try_submit's JSON ("error":"<kind>"). Ports between the domain and storage return these.
*/
#define ES_STATUS_LIST(X)                                                                    \
  X(ES_OK, "ok")                                                                             \
  X(ES_REJECTED, "rejected")                   /* a business rule refused the command */     \
  X(ES_CONFLICT, "conflict")                   /* expected version did not match */          \
  X(ES_UNKNOWN_AGGREGATE, "unknown_aggregate") /* no aggregate type of that name */          \
  X(ES_UNKNOWN_COMMAND, "unknown_command")     /* the aggregate has no such command */       \
  X(ES_INVALID_ARGUMENT, "invalid_argument")   /* wrong SQL arguments or options */          \
  X(ES_INVALID_PAYLOAD, "invalid_payload")     /* malformed or wrongly typed JSON */         \
  X(ES_UNDECLARED_EVENT, "undeclared_event")   /* an event type the aggregate did not declare */ \
  X(ES_PROTECTED, "protected")                 /* a write to the log from outside */         \
  X(ES_BUSY, "busy")                           /* the database is locked */                  \
  X(ES_STORAGE, "storage")                     /* any other SQLite error */                  \
  X(ES_NOMEM, "nomem")                         /* out of memory */                           \
  X(ES_MISUSE, "misuse")                       /* called where it cannot be atomic */    \
  X(ES_UNKNOWN_VIEW, "unknown_view")           /* no such view, or a C view not registered */

typedef enum es_status {
#define ES_STATUS_ENUM(name, text) name,
  ES_STATUS_LIST(ES_STATUS_ENUM)
#undef ES_STATUS_ENUM
} es_status;

/* ======================= Opaque handles ======================= */

typedef struct es_command es_command; /* the command being decided (read-only) */
typedef struct es_event es_event;     /* an event being applied by evolve (read-only) */
typedef struct es_object es_object;   /* a JSON object: a payload, event data or state JSON */
typedef struct es_emitter es_emitter; /* where decide emits events, or rejects */
typedef struct es_builder es_builder; /* writes one flat JSON object: event data, state JSON */
typedef struct es_view_writer es_view_writer; /* how a view's fold writes its own table */

/* ======================= Aggregate types ======================= */

/*
** The state is a block of state_size bytes that sqlite-es allocates zeroed, then hands to xInit.
** If it owns memory (allocate it with es_api.xMalloc), xClear releases it before the block is freed.
*/
typedef es_status (*es_decide_fn)(void *user, const void *state, const es_command *cmd,
                                  es_emitter *out);
typedef es_status (*es_evolve_fn)(void *user, void *state, const es_event *ev);

typedef struct es_command_handler {
  const char *command_type; /* e.g. "Deposit" */
  es_decide_fn decide;
} es_command_handler;

/* Every event type the aggregate may emit is declared here; evolve may be NULL (no state change). */
typedef struct es_event_handler {
  const char *event_type; /* e.g. "Deposited": a fact, named in the past tense */
  es_evolve_fn evolve;
} es_event_handler;

typedef struct es_aggregate_type {
  int iVersion; /* 1, or 2 to set the members below the marker */
  const char *name;
  size_t state_size;
  es_status (*xInit)(void *user, void *state);        /* optional: initial state (else zeroes) */
  void (*xClear)(void *user, void *state);             /* optional: free what state owns */
  const es_command_handler *commands;
  int n_commands;
  const es_event_handler *events;
  int n_events;
  es_status (*xStateToJson)(void *user, const void *state, es_builder *out); /* optional */
  es_status (*xStateFromJson)(void *user, void *state, const es_object *in); /* optional */
  /* below: iVersion >= 2 */
  /* Snapshots: a name for how this code folds events into a state ("1", "2024-06"). Change it
  ** whenever evolve or the state's layout changes: a snapshot taken under another is never used.
  ** Snapshots need it, xStateToJson and xStateFromJson; NULL: no snapshots of this type. */
  const char *state_version;
} es_aggregate_type;

/* ======================= View (read model) types ======================= */

/*
** A view owns one table, created from `columns` (a column-definition list, e.g.
** "account_id TEXT PRIMARY KEY, balance INTEGER NOT NULL") if it does not exist; a table of that
** name that the database does not know as a view is taken over: emptied, guarded and rebuilt from
** the log. Its fold is called
** for each event of a type it handles, in log order, inside the command's transaction; it writes
** its table only, through the writer (es_view_* below). Events of other types cost nothing.
*/
typedef es_status (*es_fold_fn)(void *user, const es_event *ev, es_view_writer *out);

typedef struct es_view_type {
  int iVersion; /* 1 */
  const char *name;  /* the view, and the table it owns */
  const char *columns;
  const char *const *event_types; /* the event types it handles */
  int n_event_types;
  es_fold_fn fold;
  const char *const *indexes; /* optional: column lists to index, e.g. "account_id, position" */
  int n_indexes;
  /* below: iVersion >= 2 */
} es_view_type;

/* ======================= The es_api struct ======================= */

typedef struct es_api es_api;
struct es_api {
  int iVersion; /* 1 */
  /*
  ** Register (or replace) an aggregate type on this connection. The definition is copied, so
  ** it need not outlive the call; user is passed to every callback and xDestroy(user) is called
  ** when the type is replaced or the connection closes (also when registration fails).
  ** On failure, xErrmsg() says why. Calling it from inside a callback fails with ES_MISUSE.
  */
  es_status (*xRegisterAggregate)(es_api *api, const es_aggregate_type *type, void *user,
                                  void (*xDestroy)(void *user));
  const char *(*xErrmsg)(es_api *api);
  void *(*xMalloc)(es_api *api, size_t n); /* memory for state, through SQLite's allocator */
  void (*xFree)(es_api *api, void *p);
  /*
  ** Register (or replace) a view type on this connection, like xRegisterAggregate. When the
  ** database already has events, the view's table is brought up to date at once, in one
  ** transaction; if that fails, nothing stays registered. Views are per connection: a connection
  ** that appends events must have every C view the database knows registered, or its commands are
  ** refused (SELECT es_drop_view(name) makes the database forget one).
  */
  es_status (*xRegisterView)(es_api *api, const es_view_type *type, void *user, void (*xDestroy)(void *user));
  /*
  ** Forget a view registered on this connection (its xDestroy runs); the database keeps its table
  ** and position. An extension registering several views calls it to undo the earlier ones when a
  ** later one fails: SQLite unloads an extension whose init fails. ES_UNKNOWN_VIEW if none.
  */
  es_status (*xUnregisterView)(es_api *api, const char *name);
  /* below: iVersion >= 2 */
};

#if defined(ES_STATIC)
struct sqlite3;
/* In a static build (ES_STATIC, SQLITE_CORE): the api of a connection sqlite-es is loaded into. */
es_api *es_api_from_db(struct sqlite3 *db);
/* Load sqlite-es into every connection opened from now on (sqlite3_auto_extension). */
int es_register_auto_extension(void);
#endif

/* ======================= Accessors (through each handle's function table) ======================= */

/*
** The function table behind every handle. Use the inline functions below instead: they are
** the stable API. Getters return ES_OK, or ES_INVALID_PAYLOAD when the field is missing or of
** another JSON type; the message is recorded for the command's error, so a callback may simply
** return the status it got.
*/
typedef struct es_ops {
  int iVersion; /* 1 */
  const char *(*xCommandType)(const es_command *);
  const char *(*xCommandAggregateId)(const es_command *);
  const es_object *(*xCommandPayload)(const es_command *);
  const char *(*xEventType)(const es_event *);
  int64_t (*xEventVersion)(const es_event *);
  const es_object *(*xEventData)(const es_event *);
  int (*xHas)(const es_object *, const char *key);
  es_status (*xGetInt)(const es_object *, const char *key, int64_t *out);
  es_status (*xGetReal)(const es_object *, const char *key, double *out);
  es_status (*xGetBool)(const es_object *, const char *key, int *out);
  es_status (*xGetText)(const es_object *, const char *key, const char **out, size_t *len);
  es_status (*xGetJson)(const es_object *, const char *key, const char **out, size_t *len);
  es_builder *(*xEmit)(es_emitter *, const char *event_type);
  es_status (*xRejectV)(es_emitter *, const char *reason, const char *fmt, va_list ap);
  es_status (*xSetInt)(es_builder *, const char *key, int64_t v);
  es_status (*xSetReal)(es_builder *, const char *key, double v);
  es_status (*xSetBool)(es_builder *, const char *key, int v);
  es_status (*xSetText)(es_builder *, const char *key, const char *v, size_t len);
  es_status (*xSetNull)(es_builder *, const char *key);
  es_status (*xSetJson)(es_builder *, const char *key, const char *json, size_t len);
  const char *(*xEventAggregateType)(const es_event *);
  const char *(*xEventAggregateId)(const es_event *);
  int64_t (*xEventPosition)(const es_event *);
  const char *(*xEventRecordedAt)(const es_event *);
  const es_object *(*xEventMetadata)(const es_event *);
  es_builder *(*xViewRow)(es_view_writer *);
  es_status (*xViewWrite)(es_view_writer *, int op);
  es_status (*xViewFind)(es_view_writer *, const es_object **row);
  /* below: iVersion >= 2 */
} es_ops;

/* Each handle starts with a pointer to the table (an implementation detail of the inlines). */
typedef struct es_handle {
  const es_ops *ops;
} es_handle;

#define ES__OPS(h) (((const es_handle *)(const void *)(h))->ops)

static inline const char *es_command_type(const es_command *c) { return ES__OPS(c)->xCommandType(c); }
static inline const char *es_command_aggregate_id(const es_command *c) {
  return ES__OPS(c)->xCommandAggregateId(c);
}
static inline const es_object *es_command_payload(const es_command *c) {
  return ES__OPS(c)->xCommandPayload(c);
}
static inline const char *es_event_type(const es_event *e) { return ES__OPS(e)->xEventType(e); }
static inline int64_t es_event_version(const es_event *e) { return ES__OPS(e)->xEventVersion(e); }
static inline const es_object *es_event_data(const es_event *e) { return ES__OPS(e)->xEventData(e); }
/* Where the event belongs and when it was recorded. In evolve, an event decided by the running
** command has position 0 and recorded_at NULL: it is not appended yet. */
static inline const char *es_event_aggregate_type(const es_event *e) { return ES__OPS(e)->xEventAggregateType(e); }
static inline const char *es_event_aggregate_id(const es_event *e) { return ES__OPS(e)->xEventAggregateId(e); }
static inline int64_t es_event_position(const es_event *e) { return ES__OPS(e)->xEventPosition(e); }
static inline const char *es_event_recorded_at(const es_event *e) { return ES__OPS(e)->xEventRecordedAt(e); }
/* The command's metadata object (empty when it had none). */
static inline const es_object *es_event_metadata(const es_event *e) { return ES__OPS(e)->xEventMetadata(e); }

/* Field readers of a JSON object. es_get_int accepts a number only when its exact decimal value is
** an integer int64 holds (100, 100.0, 1e2; not 1.5, 100.000000000000001, 1e-400 or 2^63). */
static inline int es_has(const es_object *o, const char *k) { return ES__OPS(o)->xHas(o, k); }
static inline es_status es_get_int(const es_object *o, const char *k, int64_t *v) {
  return ES__OPS(o)->xGetInt(o, k, v);
}
static inline es_status es_get_real(const es_object *o, const char *k, double *v) {
  return ES__OPS(o)->xGetReal(o, k, v);
}
static inline es_status es_get_bool(const es_object *o, const char *k, int *v) {
  return ES__OPS(o)->xGetBool(o, k, v);
}
/* Text is UTF-8, NUL-terminated, valid while the callback runs. With len NULL, a string that
** contains U+0000 is refused (ES_INVALID_PAYLOAD) rather than silently cut short. */
static inline es_status es_get_text(const es_object *o, const char *k, const char **v, size_t *len) {
  return ES__OPS(o)->xGetText(o, k, v, len);
}
/* The field's JSON text as written (any JSON type); not NUL-terminated, so len is required. */
static inline es_status es_get_json(const es_object *o, const char *k, const char **v, size_t *len) {
  return ES__OPS(o)->xGetJson(o, k, v, len);
}

/* Shorthands for the command payload and the event data. */
static inline es_status es_payload_int(const es_command *c, const char *k, int64_t *v) {
  return es_get_int(es_command_payload(c), k, v);
}
static inline es_status es_payload_text(const es_command *c, const char *k, const char **v) {
  return es_get_text(es_command_payload(c), k, v, 0);
}
static inline es_status es_event_int(const es_event *e, const char *k, int64_t *v) {
  return es_get_int(es_event_data(e), k, v);
}
static inline es_status es_event_text(const es_event *e, const char *k, const char **v) {
  return es_get_text(es_event_data(e), k, v, 0);
}

/*
** Emit an event of a declared type; set its data fields on the returned builder. Returns NULL
** on an undeclared type or no memory: the command then fails with that error, whatever decide
** returns, and setters on NULL are harmless no-ops.
*/
static inline es_builder *es_emit(es_emitter *out, const char *event_type) {
  return ES__OPS(out)->xEmit(out, event_type);
}

/* Refuse the command: returns ES_REJECTED, for `return es_reject(out, "reason_code", "fmt", …);` */
static inline es_status es_reject(es_emitter *out, const char *reason, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  es_status rc = ES__OPS(out)->xRejectV(out, reason, fmt, ap);
  va_end(ap);
  return rc;
}

/* Field writers. Setting a key twice keeps the last value. */
#define ES__SET(b, call) ((b) ? ES__OPS(b)->call : ES_MISUSE)
static inline es_status es_set_int(es_builder *b, const char *k, int64_t v) {
  return ES__SET(b, xSetInt(b, k, v));
}
static inline es_status es_set_real(es_builder *b, const char *k, double v) {
  return ES__SET(b, xSetReal(b, k, v));
}
static inline es_status es_set_bool(es_builder *b, const char *k, int v) {
  return ES__SET(b, xSetBool(b, k, v));
}
static inline es_status es_set_text(es_builder *b, const char *k, const char *v) {
  return ES__SET(b, xSetText(b, k, v, (size_t)-1));
}
static inline es_status es_set_null(es_builder *b, const char *k) { return ES__SET(b, xSetNull(b, k)); }
/* A field whose value is JSON text (checked): an array, a nested object, … */
static inline es_status es_set_json(es_builder *b, const char *k, const char *json) {
  return ES__SET(b, xSetJson(b, k, json, (size_t)-1));
}

/*
** Writing a view's table: set the columns of a row on es_view_row()'s builder, then insert,
** upsert (insert, or update the set columns of the row with the same key), delete (every set
** column must match) or find (the row whose set columns match, the one with the largest rowid in a
** rowid table; *row is NULL when there is none, and is valid until the next call on the writer).
** Each es_view_row() starts a new row.
*/
enum { ES_VIEW_INSERT = 1, ES_VIEW_UPSERT = 2, ES_VIEW_DELETE = 3 };
static inline es_builder *es_view_row(es_view_writer *w) { return ES__OPS(w)->xViewRow(w); }
static inline es_status es_view_insert(es_view_writer *w) { return ES__OPS(w)->xViewWrite(w, ES_VIEW_INSERT); }
static inline es_status es_view_upsert(es_view_writer *w) { return ES__OPS(w)->xViewWrite(w, ES_VIEW_UPSERT); }
static inline es_status es_view_delete(es_view_writer *w) { return ES__OPS(w)->xViewWrite(w, ES_VIEW_DELETE); }
static inline es_status es_view_find(es_view_writer *w, const es_object **row) {
  return ES__OPS(w)->xViewFind(w, row);
}

#ifdef __cplusplus
}
#endif
#endif /* ES_H */
