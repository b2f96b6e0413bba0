/*
** store.h — the SQLite storage of sqlite-es: the schema in `main` (created on first append,
** format-versioned, verified whenever the schema changes), its protection, and the adapter that
** implements the event-store port (ports/event_store.h) with cached prepared statements.
*/
#ifndef ES_STORE_H
#define ES_STORE_H

#include "../domain/registry.h"
#include "../ports/event_store.h"
#include "../ports/snapshot_store.h"
#include "../ports/view_store.h"
#include "../sqlite_ext.h"

/* The on-disk format written by this build; newer ones are refused, older ones upgraded by the
** first write. 2: es_meta records the last position given (positions are never given twice),
** guards name every column, es_meta's UPDATE guard lets the append step move that record. */
#define ES_STORAGE_FORMAT 2

typedef struct es_store es_store;

es_store *es_store_new(sqlite3 *db);
void es_store_free(es_store *s);
/* Finalize every cached statement (they are prepared again on demand). */
void es_store_flush(es_store *s);

/* Check the storage before use: absent is fine (it is created by the first append); an
** incomplete or newer-format storage is an error. A write (ES_OPEN_WRITE, ES_OPEN_REPAIR) first
** upgrades an older format; ES_OPEN_WRITE also refuses a storage that is not protected (a guard
** missing or changed) or was altered (a table changed). Cheap when the schema is unchanged. */
typedef enum es_open_mode { ES_OPEN_READ, ES_OPEN_WRITE, ES_OPEN_REPAIR } es_open_mode;
es_status es_store_open(es_store *s, es_open_mode mode, es_error *err);
int es_store_exists(const es_store *s); /* as of the last es_store_open */
/* PRAGMA data_version: changes when another connection (or process) commits to the database. */
es_status es_store_data_version(es_store *s, int64_t *version, es_error *err);
/* Why the storage may not be written, as of the last es_store_open (NULL: it may). */
const char *es_store_damage(const es_store *s);
/*
** A call of ours starts (1) or ends (0). Between the two, no SQL of the application's runs but what
** the call itself runs (deciders, evolvers and view handlers, which do no DDL), so the schema
** verified by the call's es_store_open holds until the call ends or changes the schema itself.
*/
void es_store_call(es_store *s, int running);
/* Start of a write call; es_store_wrote then says whether it wrote anything. */
void es_store_begin_call(es_store *s);
int es_store_wrote(const es_store *s);

es_event_store es_store_port(es_store *s);
/* The snapshot port (snapshots.c). */
es_snapshot_store es_store_snapshot_port(es_store *s);
/* Create the storage in the current transaction (the first append, or a view definition). */
es_status es_store_create(es_store *s, es_error *err);

/* A log query, translated to SQL, prepared and bound (log_reader.c); the caller finalizes it. */
struct es_log_query;
sqlite3_stmt *es_store_prepare_query(es_store *s, const struct es_log_query *q, es_error *err);

/* The tables of SQL aggregate definitions (es_sql_aggregates, es_sql_handlers), created with their
** guards when missing (schema.c). */
es_status es_store_ensure_definitions(es_store *s, es_error *err);
/* Does es_sql_aggregates exist (cheap while the schema is unchanged)? */
int es_store_has_definitions(es_store *s);

/* ---- es_integrity_check (integrity.c) ---- */

/* Walk the storage and add a row to r for each rule of domain/integrity.h it breaks (or `ok`).
** Reads only; unless quick, each read model is folded into a TEMP copy of its table inside a
** savepoint that is rolled back, and compared. */
struct es_integrity_report;
es_status es_store_integrity_check(es_store *s, const es_registry *reg, int quick, struct es_integrity_report *r,
                                   es_error *err);

/* ---- durable consumers (consumers.c) ---- */

typedef struct es_consumer {
  char aggregate_type[1001]; /* the category it follows, when has_aggregate_type */
  int has_aggregate_type;
  int64_t group_member, group_size;
  int64_t position; /* of the last event it acknowledged */
} es_consumer;

/* Create (or re-scope, keeping its checkpoint) a consumer; aggregate_type NULL follows every event. */
es_status es_consumer_create(es_store *s, const char *name, const char *aggregate_type, int64_t member, int64_t size,
                             es_error *err);
es_status es_consumer_find(es_store *s, const char *name, es_consumer *out, es_error *err);
/* Move the checkpoint forward to position (never back, never past the end of the log). */
es_status es_consumer_ack(es_store *s, const char *name, int64_t position, es_error *err);

/* ---- read models (views.c) ---- */

/* Attach the registered C views the database does not know yet: create and guard their tables and
** build them from the whole log. Every other view is always at the end of the log: each command
** brings them all there (es_views_apply) in its own transaction. */
es_status es_views_catch_up(es_store *s, const es_registry *reg, es_error *err);
/* After a command appended the events in (from, to]: attach new C views, then fold or feed those
** events into every other view. */
es_status es_views_apply(es_store *s, const es_registry *reg, int64_t from, int64_t to, es_error *err);
/* Define (or redefine) a SQL view: table `name`, handlers = INSTEAD OF INSERT triggers on the view
** `feed`; checked, guarded and built from the whole log. *applied counts the events it fed. */
es_status es_views_define_sql(es_store *s, const es_registry *reg, const char *name, const char *feed,
                              int64_t *applied, es_error *err);
/* Empty a view's table and build it again from the whole log. */
es_status es_views_rebuild(es_store *s, const es_registry *reg, const char *name, int64_t *applied, es_error *err);
/* Forget a view: its row in es_views and its guards go; its table stays, as an ordinary table. */
es_status es_views_drop(es_store *s, const char *name, es_error *err);
es_view_store es_store_view_port(es_store *s);

/* A prepared statement for sql (taking ownership of it), kept by SQL text (stmt_cache.c); never
** one that is running. NULL with err set on failure. Reset it after use. */
sqlite3_stmt *es_store_cached(es_store *s, char *sql, es_error *err);
/* The same for text the caller keeps (copied only when a statement is prepared for it): a caller
** that runs the same text often need not format it each time. */
sqlite3_stmt *es_store_cached_text(es_store *s, const char *sql, es_error *err);
/* Run sql (taking ownership of it) with sqlite3_exec, as a write of the current call. */
es_status es_store_exec(es_store *s, char *sql, const char *doing, es_error *err);
/* Arm the guard of table for every write until es_store_arm(s, NULL). */
void es_store_arm(es_store *s, const char *table);

es_status es_store_stream_version(es_store *s, const char *aggregate_type, const char *aggregate_id,
                                  int64_t *version, es_error *err);

/* Map the connection's last SQLite error to a typed error; doing says what failed. */
es_status es_store_error(sqlite3 *db, int rc, const char *doing, es_error *err);

/* ---- protection (protection.c) ---- */

/* The guard es_internal_write(table) consults: 1 for the one write the store has armed. */
int es_store_guard_consume(es_store *s, const char *table);
/* Recreate missing guards and replace changed ones; *created says how many. */
es_status es_store_protect(es_store *s, int *created, es_error *err);

#endif
