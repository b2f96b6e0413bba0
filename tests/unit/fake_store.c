/*
** fake_store.c — the in-memory event store the domain's unit tests run against (fake_store.h).
** It behaves like the SQLite adapter (ext/store/event_store.c) where the port says how: streams
** in version order after a given version, gapless global positions, command_id records kept
** even when a command appends no event, and an append that either keeps everything or nothing.
** It is stricter than SQLite where that catches domain bugs: an append must start exactly at
** the stream's version + 1.
*/
#include <stdio.h>
#include <string.h>

#include "../../ext/domain/mem.h"
#include "fake_store.h"

/* ----------------------- Helpers ----------------------- */

static void copy_text(char *dst, const char *src) {
  snprintf(dst, FAKE_MAX_TEXT + 1, "%s", src ? src : "(null)");
}

static void event_clear(fake_event *e) {
  es_mem_free(e->aggregate_type);
  es_mem_free(e->aggregate_id);
  es_mem_free(e->type);
  es_mem_free(e->data);
  es_mem_free(e->metadata);
  es_mem_free(e->command_id);
  memset(e, 0, sizeof(*e));
}

static void command_clear(fake_command *c) {
  es_mem_free(c->command_id);
  es_mem_free(c->aggregate_type);
  es_mem_free(c->aggregate_id);
  es_mem_free(c->command_type);
  memset(c, 0, sizeof(*c));
}

static void append_copy_clear(fake_append_copy *a) {
  for (size_t i = 0; i < a->n_events; i++) {
    if (a->types) es_mem_free(a->types[i]);
    if (a->datas) es_mem_free(a->datas[i]);
  }
  es_mem_free(a->types);
  es_mem_free(a->datas);
  es_mem_free(a->data_lens);
  es_mem_free(a->aggregate_type);
  es_mem_free(a->aggregate_id);
  es_mem_free(a->command_type);
  es_mem_free(a->metadata);
  es_mem_free(a->command_id);
  memset(a, 0, sizeof(*a));
}

/* A copy of s, or NULL when s is NULL; *bad is set when a copy failed. */
static char *dup_opt(const char *s, int *bad) {
  if (!s) return 0;
  char *z = es_mem_strdup(s);
  if (!z) *bad = 1;
  return z;
}

static es_status injected(fake_store *fs, fake_op op, es_error *err) {
  const fake_failure *f = &fs->fail[op];
  es_status rc = f->message ? es_error_set(err, f->status, "%s", f->message) : es_error_set(err, f->status, 0);
  if (rc == f->status) err->native_code = f->native_code;
  return rc;
}

static es_status grow_events(fake_store *fs, size_t more) {
  if (fs->n_events + more <= fs->cap_events) return ES_OK;
  size_t cap = fs->cap_events ? fs->cap_events : 8;
  while (cap < fs->n_events + more) cap *= 2;
  fake_event *p = es_mem_realloc(fs->events, cap * sizeof(*p));
  if (!p) return ES_NOMEM;
  fs->events = p;
  fs->cap_events = cap;
  return ES_OK;
}

static es_status grow_commands(fake_store *fs) {
  if (fs->n_commands < fs->cap_commands) return ES_OK;
  size_t cap = fs->cap_commands ? fs->cap_commands * 2 : 8;
  fake_command *p = es_mem_realloc(fs->commands, cap * sizeof(*p));
  if (!p) return ES_NOMEM;
  fs->commands = p;
  fs->cap_commands = cap;
  return ES_OK;
}

/* ----------------------- The port ----------------------- */

static es_status fk_read_stream(void *self, const char *aggregate_type, const char *aggregate_id,
                                int64_t after_version, es_stored_event_fn fn, void *arg, es_error *err) {
  fake_store *fs = self;
  fs->calls[FAKE_READ_STREAM]++;
  copy_text(fs->last_read_type, aggregate_type);
  copy_text(fs->last_read_id, aggregate_id);
  fs->last_read_after = after_version;
  fs->last_read_delivered = 0;
  const fake_failure *f = &fs->fail[FAKE_READ_STREAM];
  es_status rc = ES_OK;
  for (size_t i = 0; i < fs->n_events; i++) {
    const fake_event *e = &fs->events[i];
    if (strcmp(e->aggregate_type, aggregate_type) || strcmp(e->aggregate_id, aggregate_id) ||
        e->version <= after_version)
      continue;
    if (f->status != ES_OK && fs->last_read_delivered == f->after_events) break;
    es_stored_event ev = {
        .position = e->position, .version = e->version, .type = e->type, .data = e->data, .data_len = e->data_len};
    fs->last_read_delivered++;
    if ((rc = fn(arg, &ev, err)) != ES_OK) break;
  }
  if (rc == ES_OK && f->status != ES_OK) rc = injected(fs, FAKE_READ_STREAM, err);
  fs->last_status[FAKE_READ_STREAM] = rc;
  return rc;
}

static es_status fk_stream_version(void *self, const char *aggregate_type, const char *aggregate_id, int64_t *version,
                                   es_error *err) {
  fake_store *fs = self;
  fs->calls[FAKE_STREAM_VERSION]++;
  *version = 0;
  es_status rc = fs->fail[FAKE_STREAM_VERSION].status != ES_OK ? injected(fs, FAKE_STREAM_VERSION, err) : ES_OK;
  if (rc == ES_OK) *version = fake_store_stream_version(fs, aggregate_type, aggregate_id);
  fs->last_status[FAKE_STREAM_VERSION] = rc;
  return rc;
}

static es_status fk_find_command(void *self, const char *command_id, es_command_record *out, int *found,
                                 es_error *err) {
  fake_store *fs = self;
  es_status rc = ES_OK;
  fs->calls[FAKE_FIND_COMMAND]++;
  copy_text(fs->last_find_id, command_id);
  *found = 0;
  memset(out, 0, sizeof(*out));
  if (fs->fail[FAKE_FIND_COMMAND].status != ES_OK) {
    rc = injected(fs, FAKE_FIND_COMMAND, err);
    goto done;
  }
  const fake_command *c = fake_store_find(fs, command_id);
  if (c) {
    out->aggregate_type = es_mem_strdup(c->aggregate_type);
    out->aggregate_id = es_mem_strdup(c->aggregate_id);
    out->command_type = es_mem_strdup(c->command_type);
    out->version = c->version;
    out->position = c->position;
    if (!out->aggregate_type || !out->aggregate_id || !out->command_type) {
      es_command_record_clear(out);
      rc = es_error_set(err, ES_NOMEM, 0);
      goto done;
    }
    *found = 1;
  }
done:
  fs->last_status[FAKE_FIND_COMMAND] = rc;
  return rc;
}

/* Copy the request for the tests to look at. */
static es_status record_append(fake_store *fs, const es_append_request *req) {
  fake_append_copy *a = &fs->last_append;
  int bad = 0;
  append_copy_clear(a);
  a->aggregate_type = dup_opt(req->aggregate_type, &bad);
  a->aggregate_id = dup_opt(req->aggregate_id, &bad);
  a->command_type = dup_opt(req->command_type, &bad);
  a->metadata = dup_opt(req->metadata, &bad);
  a->command_id = dup_opt(req->command_id, &bad);
  a->first_version = req->first_version;
  if (req->n_events) {
    a->types = es_mem_alloc(req->n_events * sizeof(char *));
    a->datas = es_mem_alloc(req->n_events * sizeof(char *));
    a->data_lens = es_mem_alloc(req->n_events * sizeof(size_t));
    if (!a->types || !a->datas || !a->data_lens) {
      bad = 1;
    } else {
      memset(a->types, 0, req->n_events * sizeof(char *));
      memset(a->datas, 0, req->n_events * sizeof(char *));
      a->n_events = req->n_events;
      for (size_t i = 0; i < req->n_events; i++) {
        a->types[i] = dup_opt(req->events[i].type, &bad);
        a->datas[i] = req->events[i].data ? es_mem_strndup(req->events[i].data, req->events[i].data_len) : 0;
        if (req->events[i].data && !a->datas[i]) bad = 1;
        a->data_lens[i] = req->events[i].data_len;
      }
    }
  }
  if (bad) {
    append_copy_clear(a);
    return ES_NOMEM;
  }
  a->valid = 1;
  return ES_OK;
}

static es_status append_work(fake_store *fs, const es_append_request *req, es_append_result *out, es_error *err) {
  fake_event *news = 0;
  fake_command cmd = {0};
  es_status rc = ES_OK;
  int bad = 0;
  if (record_append(fs, req) != ES_OK) return es_error_set(err, ES_NOMEM, 0);
  if (fs->fail[FAKE_APPEND].status != ES_OK) return injected(fs, FAKE_APPEND, err);
  if (req->n_events == 0 && !req->command_id) return ES_OK;
  int64_t current = fake_store_stream_version(fs, req->aggregate_type, req->aggregate_id);
  if (req->n_events && req->first_version != current + 1) {
    rc = es_error_set(err, ES_STORAGE, "fake store: append at version %lld to %s '%s', which is at version %lld",
                      (long long)req->first_version, req->aggregate_type, req->aggregate_id, (long long)current);
    err->native_code = 2067; /* SQLITE_CONSTRAINT_UNIQUE, as a clash would be in SQLite */
    return rc;
  }
  if (req->command_id && fake_store_find(fs, req->command_id)) {
    rc = es_error_set(err, ES_STORAGE, "UNIQUE constraint failed: es_commands.command_id");
    err->native_code = 1555; /* SQLITE_CONSTRAINT_PRIMARYKEY */
    return rc;
  }
  /* Make every copy first, so that failing leaves the log as it was. */
  if (grow_events(fs, req->n_events) != ES_OK || (req->command_id && grow_commands(fs) != ES_OK))
    return es_error_set(err, ES_NOMEM, 0);
  if (req->n_events) {
    news = es_mem_alloc(req->n_events * sizeof(*news));
    if (!news) return es_error_set(err, ES_NOMEM, 0);
    memset(news, 0, req->n_events * sizeof(*news));
  }
  for (size_t i = 0; i < req->n_events; i++) {
    fake_event *e = &news[i];
    e->position = fs->last_position + 1 + (int64_t)i;
    e->version = req->first_version + (int64_t)i;
    e->aggregate_type = dup_opt(req->aggregate_type, &bad);
    e->aggregate_id = dup_opt(req->aggregate_id, &bad);
    e->type = dup_opt(req->events[i].type, &bad);
    e->data = es_mem_strndup(req->events[i].data ? req->events[i].data : "", req->events[i].data_len);
    if (!e->data) bad = 1;
    e->data_len = req->events[i].data_len;
    e->metadata = dup_opt(req->metadata, &bad);
    e->command_id = dup_opt(req->command_id, &bad);
  }
  if (req->command_id) {
    cmd.command_id = dup_opt(req->command_id, &bad);
    cmd.aggregate_type = dup_opt(req->aggregate_type, &bad);
    cmd.aggregate_id = dup_opt(req->aggregate_id, &bad);
    cmd.command_type = dup_opt(req->command_type, &bad);
    cmd.version = req->first_version - 1 + (int64_t)req->n_events;
    cmd.position = req->n_events ? fs->last_position + (int64_t)req->n_events : 0;
  }
  if (bad) {
    for (size_t i = 0; i < req->n_events; i++) event_clear(&news[i]);
    command_clear(&cmd);
    es_mem_free(news);
    return es_error_set(err, ES_NOMEM, 0);
  }
  /* Commit. */
  if (req->n_events) memcpy(fs->events + fs->n_events, news, req->n_events * sizeof(*news));
  fs->n_events += req->n_events;
  fs->last_position += (int64_t)req->n_events;
  if (req->command_id) fs->commands[fs->n_commands++] = cmd;
  out->last_position = req->n_events ? fs->last_position : 0;
  es_mem_free(news);
  return ES_OK;
}

static es_status fk_append(void *self, const es_append_request *req, es_append_result *out, es_error *err) {
  fake_store *fs = self;
  fs->calls[FAKE_APPEND]++;
  out->last_position = 0;
  es_status rc = append_work(fs, req, out, err);
  fs->last_status[FAKE_APPEND] = rc;
  return rc;
}

/* ----------------------- For the tests ----------------------- */

fake_store *fake_store_new(void) {
  fake_store *fs = es_mem_alloc(sizeof(*fs));
  if (!fs) return 0;
  memset(fs, 0, sizeof(*fs));
  fs->port.self = fs;
  fs->port.read_stream = fk_read_stream;
  fs->port.stream_version = fk_stream_version;
  fs->port.find_command = fk_find_command;
  fs->port.append = fk_append;
  return fs;
}

void fake_store_free(fake_store *fs) {
  if (!fs) return;
  for (size_t i = 0; i < fs->n_events; i++) event_clear(&fs->events[i]);
  for (size_t i = 0; i < fs->n_commands; i++) command_clear(&fs->commands[i]);
  es_mem_free(fs->events);
  es_mem_free(fs->commands);
  append_copy_clear(&fs->last_append);
  es_mem_free(fs);
}

void fake_store_fail(fake_store *fs, fake_op op, es_status status, int native_code, const char *message) {
  fs->fail[op].status = status;
  fs->fail[op].native_code = native_code;
  fs->fail[op].message = message;
  fs->fail[op].after_events = 0;
}

void fake_store_fail_after_events(fake_store *fs, size_t n) { fs->fail[FAKE_READ_STREAM].after_events = n; }

void fake_store_reset_calls(fake_store *fs) {
  memset(fs->calls, 0, sizeof(fs->calls));
  memset(fs->last_status, 0, sizeof(fs->last_status));
  fs->last_read_type[0] = fs->last_read_id[0] = fs->last_find_id[0] = 0;
  fs->last_read_after = 0;
  fs->last_read_delivered = 0;
  append_copy_clear(&fs->last_append);
}

es_status fake_store_put(fake_store *fs, const char *aggregate_type, const char *aggregate_id, int64_t version,
                         const char *type, const char *data) {
  int bad = 0;
  if (grow_events(fs, 1) != ES_OK) return ES_NOMEM;
  fake_event e = {.position = fs->last_position + 1, .version = version};
  e.aggregate_type = dup_opt(aggregate_type, &bad);
  e.aggregate_id = dup_opt(aggregate_id, &bad);
  e.type = dup_opt(type, &bad);
  e.data = dup_opt(data, &bad);
  e.data_len = data ? strlen(data) : 0;
  if (bad) {
    event_clear(&e);
    return ES_NOMEM;
  }
  fs->events[fs->n_events++] = e;
  fs->last_position++;
  return ES_OK;
}

int64_t fake_store_stream_version(const fake_store *fs, const char *aggregate_type, const char *aggregate_id) {
  int64_t v = 0;
  for (size_t i = 0; i < fs->n_events; i++) {
    const fake_event *e = &fs->events[i];
    if (!strcmp(e->aggregate_type, aggregate_type) && !strcmp(e->aggregate_id, aggregate_id) && e->version > v)
      v = e->version;
  }
  return v;
}

const fake_command *fake_store_find(const fake_store *fs, const char *command_id) {
  for (size_t i = 0; i < fs->n_commands; i++)
    if (strcmp(fs->commands[i].command_id, command_id) == 0) return &fs->commands[i];
  return 0;
}
