/*
** fake_store.h — an in-memory event store behind the event-store port (ext/ports/event_store.h),
** for unit tests of the domain. It keeps streams of events (type, data JSON text, version,
** position), command records and a global position counter, like the SQLite adapter; it records
** every call (counts, the arguments of the last read, the last append request) so tests can
** prove that nothing was appended on a failure; and it can be told to fail an operation with a
** given es_status, message and native code, to test that typed errors propagate unchanged.
** All its memory goes through es_mem_* (so fake_mem's failure injection reaches it too).
*/
#ifndef ES_FAKE_STORE_H
#define ES_FAKE_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "../../ext/ports/event_store.h"

typedef enum fake_op { FAKE_READ_STREAM, FAKE_FIND_COMMAND, FAKE_APPEND, FAKE_STREAM_VERSION, FAKE_N_OPS } fake_op;

/* One event of the log. */
typedef struct fake_event {
  int64_t position;
  int64_t version;
  char *aggregate_type;
  char *aggregate_id;
  char *type;
  char *data; /* NUL-terminated; data_len excludes the NUL */
  size_t data_len;
  char *metadata;   /* or NULL */
  char *command_id; /* or NULL */
} fake_event;

/* A command_id that succeeded. */
typedef struct fake_command {
  char *command_id;
  char *aggregate_type;
  char *aggregate_id;
  char *command_type;
  int64_t version;
  int64_t position;
} fake_command;

/* A deep copy of the last append request (valid = 0 before the first one). */
typedef struct fake_append_copy {
  int valid;
  char *aggregate_type;
  char *aggregate_id;
  char *command_type;
  int64_t first_version;
  size_t n_events;
  char **types; /* n_events of each */
  char **datas;
  size_t *data_lens;
  char *metadata;   /* or NULL */
  char *command_id; /* or NULL */
} fake_append_copy;

/* What the next calls of one operation do instead of their work. */
typedef struct fake_failure {
  es_status status; /* ES_OK = no failure */
  int native_code;
  const char *message; /* borrowed; NULL = no message */
  size_t after_events; /* read_stream only: events delivered before it fails */
} fake_failure;

#define FAKE_MAX_TEXT 1024

typedef struct fake_store {
  es_event_store port; /* give &port to the domain; port.self is this struct */

  fake_event *events; /* in position order */
  size_t n_events, cap_events;
  fake_command *commands;
  size_t n_commands, cap_commands;
  int64_t last_position; /* global, gapless */

  /* Calls, per operation: how many, and the status each last returned. */
  int calls[FAKE_N_OPS];
  es_status last_status[FAKE_N_OPS];
  /* The last read_stream's arguments and how many events it delivered. */
  char last_read_type[FAKE_MAX_TEXT + 1];
  char last_read_id[FAKE_MAX_TEXT + 1];
  int64_t last_read_after;
  size_t last_read_delivered;
  /* The last find_command's argument. */
  char last_find_id[FAKE_MAX_TEXT + 1];
  /* The last append request, copied (also when the append failed). */
  fake_append_copy last_append;

  fake_failure fail[FAKE_N_OPS];
} fake_store;

/* A new, empty store (NULL on no memory), and its end. */
fake_store *fake_store_new(void);
void fake_store_free(fake_store *fs);

/* Make every later call of op fail with status (ES_OK stops it). The message is borrowed. */
void fake_store_fail(fake_store *fs, fake_op op, es_status status, int native_code, const char *message);
/* read_stream: deliver n events before failing (set after fake_store_fail). */
void fake_store_fail_after_events(fake_store *fs, size_t n);

/* Forget the recorded calls (not the log). */
void fake_store_reset_calls(fake_store *fs);

/*
** Put an event straight into the log with no check at all (no call is recorded): for streams
** the domain could never have written (gaps, undeclared types, malformed data). Takes the next
** position. ES_OK or ES_NOMEM.
*/
es_status fake_store_put(fake_store *fs, const char *aggregate_type, const char *aggregate_id, int64_t version,
                         const char *type, const char *data);

/* The version of a stream (its highest), 0 when it has no events. */
int64_t fake_store_stream_version(const fake_store *fs, const char *aggregate_type, const char *aggregate_id);
/* The record of a command_id, or NULL. */
const fake_command *fake_store_find(const fake_store *fs, const char *command_id);

#endif
