/*
** test_view.c — unit tests of folding one event into a C view (ext/domain/view.c, es_view_apply)
** against the in-memory view store (fake_view_store.h), called the way a view calls them: through
** es.h's inline functions. The fold sees the whole event (type, version, position, aggregate type
** and id, recorded_at, data and metadata fields; absent metadata or data is an empty object);
** insert, upsert and delete reach the port with exactly the columns set (each es_view_row() a new
** row), typed as they were set; find hands back the row (typed columns) as an object readable
** with es_get_*, valid until the next find; every failure has its kind
** and exact message, prefixed with the view and the event (no column set, invalid column values,
** unknown operation, failures of the port propagated with their native code, a fold giving up
** after a getter's complaint, malformed stored data and rows); and out of memory at every
** allocation ends in ES_NOMEM or success, never a leak. An event folded by several views through
** one es_view_input is parsed once; a parse that failed is reported by each of them.
*/
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "../../ext/domain/mem.h"
#include "../../ext/domain/registry.h"
#include "../../ext/domain/view.h"
#include "fake_mem.h"
#include "fake_view_store.h"
#include "unit_support.h"

/* ----------------------- a probing view ----------------------- */

/* What the fold does is a script chosen per test; what it saw is kept here. */
typedef struct probe probe;
typedef es_status (*script_fn)(probe *p, const es_event *ev, es_view_writer *out);

struct probe {
  script_fn script;
  int calls;
  /* the event, as the fold saw it */
  char type[64], aggregate_type[64], aggregate_id[64], recorded_at[64];
  int recorded_at_null;
  int64_t version, position;
  /* fields read by the scripts */
  int64_t amount, meta_n, row_balance;
  double rate;
  int flag, has_missing, meta_has_user, data_has_anything;
  char note[64], tags[64], meta_user[64], row_owner[64];
  es_status st[16]; /* statuses the script's calls returned, in order */
  int n_st;
  const es_object *meta, *data;
};

static void keep(probe *p, es_status rc) {
  if (p->n_st < 16) p->st[p->n_st++] = rc;
}

static void copy(char *dst, size_t n, const char *src) { snprintf(dst, n, "%s", src ? src : "(null)"); }

static es_status probe_fold(void *user, const es_event *ev, es_view_writer *out) {
  probe *p = user;
  p->calls++;
  return p->script(p, ev, out);
}

static const char *const handled[] = {"Deposited", "Opened"};

/* A registry with view `name` (probe_fold, user p), a store with its table (key "id"), the event. */
typedef struct vfx {
  es_registry *reg;
  fake_view_store *fs;
  const es_view *view;
  probe p;
  es_error err;
} vfx;

static void vfx_open_named(vfx *x, const char *name, script_fn script) {
  memset(x, 0, sizeof(*x));
  x->p.script = script;
  x->reg = es_registry_new();
  assert_non_null(x->reg);
  es_view_type def = {.iVersion = 1,
                      .name = name,
                      .columns = "id TEXT PRIMARY KEY, balance INTEGER",
                      .event_types = handled,
                      .n_event_types = 2,
                      .fold = probe_fold};
  assert_int_equal(es_registry_add_view(x->reg, &def, &x->p, 0, &x->err), ES_OK);
  x->view = es_registry_find_view(x->reg, name);
  assert_non_null(x->view);
  x->fs = fake_view_store_new();
  assert_non_null(x->fs);
  assert_int_equal(fake_view_store_add_table(x->fs, name, "id"), ES_OK);
}

static void vfx_open(vfx *x, script_fn script) { vfx_open_named(x, "v", script); }

static void vfx_close(vfx *x) {
  assert_int_equal(x->fs->bad_ops, 0);
  assert_int_equal(x->fs->log_overflow, 0);
  fake_view_store_free(x->fs);
  es_registry_free(x->reg);
  es_error_clear(&x->err);
}

static const char sample_data[] =
    "{\"amount\":250,\"note\":\"caf\\u00e9\",\"rate\":1.5,\"flag\":true,\"tags\":[1, {\"a\" : null}]}";
static const char sample_meta[] = "{\"user\":\"ada\",\"n\":3}";

/* Deposited, position 42, account 'acc-1' version 7, with data and metadata (either may be NULL). */
static es_view_event event_with(const char *data, const char *metadata) {
  es_view_event e = {.position = 42,
                     .version = 7,
                     .aggregate_type = "account",
                     .aggregate_id = "acc-1",
                     .type = "Deposited",
                     .recorded_at = "2024-05-06T07:08:09.123Z",
                     .data = data,
                     .data_len = data ? strlen(data) : 0,
                     .metadata = metadata,
                     .metadata_len = metadata ? strlen(metadata) : 0};
  return e;
}

static es_view_event sample_event(void) { return event_with(sample_data, sample_meta); }

#define PREFIX "view 'v' failed on event 'Deposited' (position 42, account 'acc-1' version 7): "

/* Apply the sample event; it must fail with this status and message (NULL: none). */
static void apply_fails(vfx *x, es_status status, const char *message) {
  es_view_event e = sample_event();
  assert_int_equal(es_view_apply(x->view, &x->fs->port, &e, &x->err), status);
  assert_int_equal(x->err.status, status);
  assert_null(x->err.reason);
  assert_str(x->err.message, message);
}

/* ----------------------- what the fold sees ----------------------- */

static es_status see_everything(probe *p, const es_event *ev, es_view_writer *out) {
  (void)out;
  const es_object *d = es_event_data(ev);
  const es_object *m = es_event_metadata(ev);
  const char *text;
  size_t len;
  copy(p->type, sizeof p->type, es_event_type(ev));
  copy(p->aggregate_type, sizeof p->aggregate_type, es_event_aggregate_type(ev));
  copy(p->aggregate_id, sizeof p->aggregate_id, es_event_aggregate_id(ev));
  p->recorded_at_null = es_event_recorded_at(ev) == 0;
  copy(p->recorded_at, sizeof p->recorded_at, es_event_recorded_at(ev));
  p->version = es_event_version(ev);
  p->position = es_event_position(ev);
  p->data = d;
  p->meta = m;
  keep(p, es_event_int(ev, "amount", &p->amount));
  keep(p, es_event_text(ev, "note", &text));
  if (p->st[p->n_st - 1] == ES_OK) copy(p->note, sizeof p->note, text);
  keep(p, es_get_real(d, "rate", &p->rate));
  keep(p, es_get_bool(d, "flag", &p->flag));
  keep(p, es_get_json(d, "tags", &text, &len));
  if (p->st[p->n_st - 1] == ES_OK) snprintf(p->tags, sizeof p->tags, "%.*s", (int)len, text);
  p->has_missing = es_has(d, "missing");
  p->meta_has_user = es_has(m, "user");
  keep(p, es_get_text(m, "user", &text, 0));
  if (p->st[p->n_st - 1] == ES_OK) copy(p->meta_user, sizeof p->meta_user, text);
  keep(p, es_get_int(m, "n", &p->meta_n));
  return ES_OK;
}

static void test_fold_sees_the_event(void **state) {
  (void)state;
  vfx x;
  vfx_open(&x, see_everything);
  es_view_event e = sample_event();
  assert_int_equal(es_view_apply(x.view, &x.fs->port, &e, &x.err), ES_OK);
  assert_int_equal(x.err.status, ES_OK);
  assert_null(x.err.message);
  assert_int_equal(x.p.calls, 1);
  assert_str(x.p.type, "Deposited");
  assert_str(x.p.aggregate_type, "account");
  assert_str(x.p.aggregate_id, "acc-1");
  assert_str(x.p.recorded_at, "2024-05-06T07:08:09.123Z");
  assert_int_equal(x.p.version, 7);
  assert_int_equal(x.p.position, 42);
  assert_int_equal(x.p.n_st, 7);
  for (int i = 0; i < x.p.n_st; i++) assert_int_equal(x.p.st[i], ES_OK);
  assert_int_equal(x.p.amount, 250);
  assert_str(x.p.note, "caf\xc3\xa9");
  assert_true(x.p.rate == 1.5);
  assert_int_equal(x.p.flag, 1);
  assert_str(x.p.tags, "[1, {\"a\" : null}]");
  assert_int_equal(x.p.has_missing, 0);
  assert_int_equal(x.p.meta_has_user, 1);
  assert_str(x.p.meta_user, "ada");
  assert_int_equal(x.p.meta_n, 3);
  assert_non_null(x.p.data);
  assert_non_null(x.p.meta);
  assert_ptr_not_equal(x.p.data, x.p.meta);
  /* Reading is all it did: the port was not called. */
  assert_str(x.fs->log, "");
  vfx_close(&x);
}

/* The same fold on an event of another type and position: nothing is cached between events. */
static void test_fold_sees_each_event(void **state) {
  (void)state;
  vfx x;
  vfx_open(&x, see_everything);
  es_view_event e = sample_event();
  assert_int_equal(es_view_apply(x.view, &x.fs->port, &e, &x.err), ES_OK);
  x.p.n_st = 0;
  e.type = "Opened";
  e.position = 43;
  e.version = 1;
  e.aggregate_type = "savings";
  e.aggregate_id = "s-9";
  e.recorded_at = "2025-01-01T00:00:00.000Z";
  e.data = "{\"amount\":-1,\"note\":\"\",\"rate\":2,\"flag\":false,\"tags\":{}}";
  e.data_len = strlen(e.data);
  e.metadata = "{\"user\":\"bob\",\"n\":-4}";
  e.metadata_len = strlen(e.metadata);
  assert_int_equal(es_view_apply(x.view, &x.fs->port, &e, &x.err), ES_OK);
  assert_int_equal(x.p.calls, 2);
  assert_str(x.p.type, "Opened");
  assert_str(x.p.aggregate_type, "savings");
  assert_str(x.p.aggregate_id, "s-9");
  assert_str(x.p.recorded_at, "2025-01-01T00:00:00.000Z");
  assert_int_equal(x.p.version, 1);
  assert_int_equal(x.p.position, 43);
  assert_int_equal(x.p.amount, -1);
  assert_str(x.p.note, "");
  assert_true(x.p.rate == 2.0);
  assert_int_equal(x.p.flag, 0);
  assert_str(x.p.tags, "{}");
  assert_str(x.p.meta_user, "bob");
  assert_int_equal(x.p.meta_n, -4);
  vfx_close(&x);
}

/* Only data_len bytes of the data are the event's: what follows is not read. */
static void test_lengths_are_respected(void **state) {
  (void)state;
  vfx x;
  vfx_open(&x, see_everything);
  char data[sizeof(sample_data) + 16], meta[sizeof(sample_meta) + 16];
  snprintf(data, sizeof data, "%sgarbage", sample_data);
  snprintf(meta, sizeof meta, "%s,{junk", sample_meta);
  es_view_event e = event_with(data, meta);
  e.data_len = strlen(sample_data);
  e.metadata_len = strlen(sample_meta);
  assert_int_equal(es_view_apply(x.view, &x.fs->port, &e, &x.err), ES_OK);
  assert_int_equal(x.p.amount, 250);
  assert_str(x.p.meta_user, "ada");
  vfx_close(&x);
}

static es_status see_empty(probe *p, const es_event *ev, es_view_writer *out) {
  (void)out;
  const char *text = 0;
  int64_t n = 0;
  p->meta = es_event_metadata(ev);
  p->data = es_event_data(ev);
  p->meta_has_user = es_has(p->meta, "user");
  p->data_has_anything = es_has(p->data, "amount");
  keep(p, es_get_text(p->meta, "user", &text, 0));
  keep(p, es_get_int(p->meta, "n", &n));
  keep(p, es_event_int(ev, "amount", &n));
  p->recorded_at_null = es_event_recorded_at(ev) == 0;
  return ES_OK; /* the complaints above are dropped: a fold may tolerate absent fields */
}

/* Metadata absent: an empty object (so are data absent and an explicit "{}"). */
static void test_absent_metadata_is_an_empty_object(void **state) {
  (void)state;
  static const char *const metas[] = {0, "{}", " { } "};
  for (size_t i = 0; i < 3; i++) {
    vfx x;
    vfx_open(&x, see_empty);
    es_view_event e = event_with(i == 0 ? 0 : "{}", metas[i]);
    assert_int_equal(es_view_apply(x.view, &x.fs->port, &e, &x.err), ES_OK);
    assert_null(x.err.message);
    assert_non_null(x.p.meta);
    assert_non_null(x.p.data);
    assert_int_equal(x.p.meta_has_user, 0);
    assert_int_equal(x.p.data_has_anything, 0);
    assert_int_equal(x.p.n_st, 3);
    assert_int_equal(x.p.st[0], ES_INVALID_PAYLOAD);
    assert_int_equal(x.p.st[1], ES_INVALID_PAYLOAD);
    assert_int_equal(x.p.st[2], ES_INVALID_PAYLOAD);
    assert_int_equal(x.p.recorded_at_null, 0);
    vfx_close(&x);
  }
}

/* ----------------------- writing through the port ----------------------- */

static es_status write_everything(probe *p, const es_event *ev, es_view_writer *out) {
  es_builder *b = es_view_row(out);
  keep(p, es_set_text(b, "id", es_event_aggregate_id(ev)));
  es_set_int(b, "balance", 1);
  es_set_int(b, "balance", 250); /* set twice: the last value */
  es_set_real(b, "rate", 1.5);
  es_set_bool(b, "open", 1);
  es_set_null(b, "closed_at");
  es_set_json(b, "tags", "[1, 2]");
  es_set_text(b, "note", "a \"quoted\" caf\xc3\xa9");
  keep(p, es_view_insert(out));
  /* Each es_view_row() starts a new row: only what is set after it is written. */
  b = es_view_row(out);
  es_set_text(b, "id", "acc-1");
  es_set_int(b, "balance", 300);
  keep(p, es_view_upsert(out));
  b = es_view_row(out);
  es_set_text(b, "id", "acc-2");
  es_set_int(b, "balance", 1);
  keep(p, es_view_upsert(out));
  b = es_view_row(out);
  es_set_text(b, "id", "acc-3");
  keep(p, es_view_insert(out));
  b = es_view_row(out);
  es_set_text(b, "id", "acc-2");
  keep(p, es_view_delete(out));
  return ES_OK;
}

static void test_writes_reach_the_port(void **state) {
  (void)state;
  vfx x;
  vfx_open(&x, write_everything);
  es_view_event e = sample_event();
  assert_int_equal(es_view_apply(x.view, &x.fs->port, &e, &x.err), ES_OK);
  assert_null(x.err.message);
  assert_int_equal(x.p.n_st, 6);
  for (int i = 0; i < 6; i++) assert_int_equal(x.p.st[i], ES_OK);
  assert_str(x.fs->log,
             "insert v {\"id\":\"acc-1\",\"balance\":250,\"rate\":1.5,\"open\":true,\"closed_at\":null,\"tags\":[1, 2],"
             "\"note\":\"a \\\"quoted\\\" caf\xc3\xa9\"}\n"
             "upsert v {\"id\":\"acc-1\",\"balance\":300}\n"
             "upsert v {\"id\":\"acc-2\",\"balance\":1}\n"
             "insert v {\"id\":\"acc-3\"}\n"
             "delete v {\"id\":\"acc-2\"}\n");
  assert_int_equal(x.fs->calls[FVS_INSERT], 2);
  assert_int_equal(x.fs->calls[FVS_UPSERT], 2);
  assert_int_equal(x.fs->calls[FVS_DELETE], 1);
  assert_int_equal(x.fs->calls[FVS_FIND], 0);
  assert_str(fake_view_store_dump(x.fs, "v"),
             "{\"id\":\"acc-1\",\"balance\":300,\"rate\":1.5,\"open\":true,\"closed_at\":null,\"tags\":[1, 2],"
             "\"note\":\"a \\\"quoted\\\" caf\xc3\xa9\"}\n"
             "{\"id\":\"acc-3\"}\n");
  vfx_close(&x);
}

/* The port is told the view's own table: its name. */
static es_status insert_one(probe *p, const es_event *ev, es_view_writer *out) {
  es_set_text(es_view_row(out), "id", es_event_aggregate_id(ev));
  keep(p, es_view_insert(out));
  return p->st[p->n_st - 1];
}

static void test_writes_go_to_the_views_table(void **state) {
  (void)state;
  vfx x;
  vfx_open_named(&x, "balances by owner", insert_one);
  assert_int_equal(fake_view_store_add_table(x.fs, "v", "id"), ES_OK);
  es_view_event e = sample_event();
  assert_int_equal(es_view_apply(x.view, &x.fs->port, &e, &x.err), ES_OK);
  assert_str(x.fs->log, "insert balances by owner {\"id\":\"acc-1\"}\n");
  assert_str(fake_view_store_dump(x.fs, "balances by owner"), "{\"id\":\"acc-1\"}\n");
  assert_str(fake_view_store_dump(x.fs, "v"), "");
  vfx_close(&x);
}

/* ----------------------- finding rows ----------------------- */

static es_status find_rows(probe *p, const es_event *ev, es_view_writer *out) {
  const es_object *row = (const es_object *)p; /* must be overwritten */
  const char *text;
  es_set_text(es_view_row(out), "id", es_event_aggregate_id(ev));
  keep(p, es_view_find(out, &row));
  if (!row) return ES_STORAGE;
  keep(p, es_get_int(row, "balance", &p->row_balance));
  keep(p, es_get_text(row, "owner", &text, 0));
  if (p->st[p->n_st - 1] == ES_OK) copy(p->row_owner, sizeof p->row_owner, text);
  p->has_missing = es_has(row, "missing");
  /* No such row: ES_OK and NULL. */
  es_builder *b = es_view_row(out);
  es_set_text(b, "id", "nobody");
  keep(p, es_view_find(out, &row));
  if (row) return ES_STORAGE;
  /* Several columns; the row found last is the one to read. */
  b = es_view_row(out);
  es_set_text(b, "owner", "bob");
  es_set_int(b, "balance", 7);
  keep(p, es_view_find(out, &row));
  if (!row) return ES_STORAGE;
  keep(p, es_get_text(row, "id", &text, 0));
  if (p->st[p->n_st - 1] == ES_OK) copy(p->note, sizeof p->note, text);
  /* A field the row does not have: the getter's complaint names the row. */
  keep(p, es_get_int(row, "missing", &p->amount));
  return p->st[p->n_st - 1];
}

static void test_find_returns_the_row(void **state) {
  (void)state;
  vfx x;
  vfx_open(&x, find_rows);
  assert_int_equal(fake_view_store_put(x.fs, "v", "id", "\"acc-1\"", "balance", "5", "owner", "\"ada\"", NULL), ES_OK);
  assert_int_equal(fake_view_store_put(x.fs, "v", "id", "\"acc-2\"", "balance", "7", "owner", "\"bob\"", NULL), ES_OK);
  apply_fails(&x, ES_INVALID_PAYLOAD, PREFIX "row field 'missing' is missing");
  assert_int_equal(x.p.n_st, 7);
  for (int i = 0; i < 6; i++) assert_int_equal(x.p.st[i], ES_OK);
  assert_int_equal(x.p.row_balance, 5);
  assert_str(x.p.row_owner, "ada");
  assert_int_equal(x.p.has_missing, 0);
  assert_str(x.p.note, "acc-2");
  assert_str(x.fs->log, "find v {\"id\":\"acc-1\"} -> {\"id\":\"acc-1\",\"balance\":5,\"owner\":\"ada\"}\n"
                        "find v {\"id\":\"nobody\"} -> null\n"
                        "find v {\"owner\":\"bob\",\"balance\":7}"
                        " -> {\"id\":\"acc-2\",\"balance\":7,\"owner\":\"bob\"}\n");
  vfx_close(&x);
}

/* Find, then write what was found back with a change: the bank's pattern. */
static es_status find_then_upsert(probe *p, const es_event *ev, es_view_writer *out) {
  const es_object *row = 0;
  int64_t balance = 0, amount = 0;
  es_status rc;
  if ((rc = es_event_int(ev, "amount", &amount)) != ES_OK) return rc;
  es_set_text(es_view_row(out), "id", es_event_aggregate_id(ev));
  if ((rc = es_view_find(out, &row)) != ES_OK) return rc;
  if (row && (rc = es_get_int(row, "balance", &balance)) != ES_OK) return rc;
  es_builder *b = es_view_row(out);
  es_set_text(b, "id", es_event_aggregate_id(ev));
  es_set_int(b, "balance", balance + amount);
  keep(p, es_view_upsert(out));
  return p->st[p->n_st - 1];
}

static void test_find_then_upsert(void **state) {
  (void)state;
  vfx x;
  vfx_open(&x, find_then_upsert);
  es_view_event e = sample_event();
  for (int i = 0; i < 3; i++) {
    es_error_clear(&x.err);
    assert_int_equal(es_view_apply(x.view, &x.fs->port, &e, &x.err), ES_OK);
  }
  assert_str(fake_view_store_dump(x.fs, "v"), "{\"id\":\"acc-1\",\"balance\":750}\n");
  assert_int_equal(x.fs->calls[FVS_FIND], 3);
  assert_int_equal(x.fs->calls[FVS_UPSERT], 3);
  vfx_close(&x);
}

/* ----------------------- failures ----------------------- */

static es_status no_column_insert(probe *p, const es_event *ev, es_view_writer *out) {
  (void)p, (void)ev;
  es_view_row(out);
  return es_view_insert(out);
}
static es_status no_column_never_started(probe *p, const es_event *ev, es_view_writer *out) {
  (void)p, (void)ev;
  return es_view_upsert(out);
}
static es_status no_column_delete(probe *p, const es_event *ev, es_view_writer *out) {
  (void)p, (void)ev;
  es_view_row(out);
  return es_view_delete(out);
}
static es_status no_column_find(probe *p, const es_event *ev, es_view_writer *out) {
  const es_object *row = (const es_object *)p;
  (void)ev;
  es_view_row(out);
  es_status rc = es_view_find(out, &row);
  if (row) return ES_STORAGE; /* *row must be NULL on failure */
  return rc;
}
/* A row set, written, then a new row with nothing set: the old columns are gone. */
static es_status no_column_after_write(probe *p, const es_event *ev, es_view_writer *out) {
  (void)ev;
  es_set_text(es_view_row(out), "id", "x");
  keep(p, es_view_insert(out));
  es_view_row(out);
  return es_view_insert(out);
}
static es_status invalid_text(probe *p, const es_event *ev, es_view_writer *out) {
  (void)ev;
  es_builder *b = es_view_row(out);
  es_set_text(b, "id", "x");
  keep(p, es_set_text(b, "name", "caf\xff"));
  keep(p, es_set_int(b, "balance", 1)); /* the failure sticks */
  return es_view_insert(out);
}
static es_status invalid_key(probe *p, const es_event *ev, es_view_writer *out) {
  (void)ev;
  es_builder *b = es_view_row(out);
  keep(p, es_set_int(b, NULL, 1));
  es_set_text(b, "id", "x");
  return es_view_upsert(out);
}
static es_status invalid_key_utf8(probe *p, const es_event *ev, es_view_writer *out) {
  (void)ev;
  es_builder *b = es_view_row(out);
  keep(p, es_set_int(b, "bal\xc3", 1));
  return es_view_delete(out);
}
static es_status invalid_json(probe *p, const es_event *ev, es_view_writer *out) {
  const es_object *row = 0;
  (void)ev;
  es_builder *b = es_view_row(out);
  es_set_text(b, "id", "x");
  keep(p, es_set_json(b, "tags", "[1,"));
  return es_view_find(out, &row);
}
static es_status unknown_op_4(probe *p, const es_event *ev, es_view_writer *out) {
  (void)p, (void)ev;
  es_set_text(es_view_row(out), "id", "x");
  return ES__OPS(out)->xViewWrite(out, 4);
}
static es_status unknown_op_0(probe *p, const es_event *ev, es_view_writer *out) {
  (void)p, (void)ev;
  es_set_text(es_view_row(out), "id", "x");
  return ES__OPS(out)->xViewWrite(out, 0);
}

typedef struct fail_case {
  const char *name;
  script_fn script;
  es_status status;
  const char *message;
  const char *log; /* the port's calls */
} fail_case;

/* Misuse of the writer: refused before the port is called (or after the calls that were fine). */
static void test_writer_misuse(void **state) {
  (void)state;
  static const fail_case cases[] = {
      {"no column", no_column_insert, ES_INVALID_ARGUMENT, PREFIX "no column was set on the row", ""},
      {"never started", no_column_never_started, ES_INVALID_ARGUMENT, PREFIX "no column was set on the row", ""},
      {"delete", no_column_delete, ES_INVALID_ARGUMENT, PREFIX "no column was set on the row", ""},
      {"find", no_column_find, ES_INVALID_ARGUMENT, PREFIX "no column was set on the row", ""},
      {"after a write", no_column_after_write, ES_INVALID_ARGUMENT, PREFIX "no column was set on the row",
       "insert v {\"id\":\"x\"}\n"},
      {"invalid text", invalid_text, ES_INVALID_ARGUMENT,
       PREFIX "a column was set with no valid name or an invalid value", ""},
      {"NULL key", invalid_key, ES_INVALID_ARGUMENT, PREFIX "a column was set with no valid name or an invalid value",
       ""},
      {"key not UTF-8", invalid_key_utf8, ES_INVALID_ARGUMENT,
       PREFIX "a column was set with no valid name or an invalid value", ""},
      {"invalid JSON", invalid_json, ES_INVALID_ARGUMENT,
       PREFIX "a column was set with no valid name or an invalid value", ""},
      {"op 4", unknown_op_4, ES_INVALID_ARGUMENT, PREFIX "unknown view write operation 4", ""},
      {"op 0", unknown_op_0, ES_INVALID_ARGUMENT, PREFIX "unknown view write operation 0", ""},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
    print_message("case %s\n", cases[i].name);
    vfx x;
    vfx_open(&x, cases[i].script);
    apply_fails(&x, cases[i].status, cases[i].message);
    assert_str(x.fs->log, cases[i].log);
    assert_int_equal(x.p.calls, 1);
    vfx_close(&x);
  }
}

/* The setters' own statuses, as the scripts above kept them. */
static void test_setter_statuses(void **state) {
  (void)state;
  vfx x;
  vfx_open(&x, invalid_text);
  apply_fails(&x, ES_INVALID_ARGUMENT, PREFIX "a column was set with no valid name or an invalid value");
  assert_int_equal(x.p.n_st, 2);
  assert_int_equal(x.p.st[0], ES_INVALID_ARGUMENT);
  assert_int_equal(x.p.st[1], ES_INVALID_ARGUMENT);
  vfx_close(&x);
  vfx_open(&x, invalid_json);
  apply_fails(&x, ES_INVALID_ARGUMENT, PREFIX "a column was set with no valid name or an invalid value");
  assert_int_equal(x.p.st[0], ES_INVALID_ARGUMENT);
  vfx_close(&x);
}

/* Failures of the port: their kind, message and native code, prefixed with the view and event. */
static es_status write_three(probe *p, const es_event *ev, es_view_writer *out) {
  const es_object *row = 0;
  (void)ev;
  es_set_text(es_view_row(out), "id", "a");
  keep(p, es_view_insert(out));
  if (p->st[p->n_st - 1] != ES_OK) return p->st[p->n_st - 1];
  es_set_text(es_view_row(out), "id", "a");
  keep(p, es_view_find(out, &row));
  if (p->st[p->n_st - 1] != ES_OK) return p->st[p->n_st - 1];
  es_builder *b = es_view_row(out);
  es_set_text(b, "id", "a");
  es_set_int(b, "balance", 1);
  keep(p, es_view_upsert(out));
  return p->st[p->n_st - 1];
}

static void test_port_failures_propagate(void **state) {
  (void)state;
  static const struct {
    fake_view_op op;
    es_status status;
    int native;
    const char *msg;
    int after;
    const char *log;
  } cases[] = {
      {FVS_INSERT, ES_STORAGE, 1555, "UNIQUE constraint failed: v.id", 0, "insert v {\"id\":\"a\"} -> storage\n"},
      {FVS_INSERT, ES_BUSY, 5, "database is locked", 0, "insert v {\"id\":\"a\"} -> busy\n"},
      {FVS_FIND, ES_STORAGE, 10, "disk I/O error", 0,
       "insert v {\"id\":\"a\"}\nfind v {\"id\":\"a\"} -> storage\n"},
      {FVS_UPSERT, ES_PROTECTED, 1811, "v is a read model", 0,
       "insert v {\"id\":\"a\"}\nfind v {\"id\":\"a\"} -> {\"id\":\"a\"}\n"
       "upsert v {\"id\":\"a\",\"balance\":1} -> protected\n"},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
    vfx x;
    vfx_open(&x, write_three);
    fake_view_store_fail(x.fs, cases[i].op, cases[i].status, cases[i].native, cases[i].msg, cases[i].after);
    char want[512];
    snprintf(want, sizeof want, PREFIX "%s", cases[i].msg);
    apply_fails(&x, cases[i].status, want);
    assert_int_equal(x.err.native_code, cases[i].native);
    assert_str(x.fs->log, cases[i].log);
    assert_int_equal(x.p.st[x.p.n_st - 1], cases[i].status); /* the fold got the port's status */
    vfx_close(&x);
  }
  /* A failure without a message: its kind stands in. */
  vfx x;
  vfx_open(&x, write_three);
  fake_view_store_fail(x.fs, FVS_INSERT, ES_STORAGE, 0, 0, 0);
  apply_fails(&x, ES_STORAGE, PREFIX "storage");
  vfx_close(&x);
  /* Out of memory in the port: ES_NOMEM, no message, no prefix. */
  vfx_open(&x, write_three);
  fake_view_store_fail(x.fs, FVS_FIND, ES_NOMEM, 0, 0, 0);
  apply_fails(&x, ES_NOMEM, 0);
  vfx_close(&x);
  /* A failure after calls that succeeded: the upsert, after an insert and a find. */
  vfx_open(&x, write_three);
  fake_view_store_fail(x.fs, FVS_UPSERT, ES_STORAGE, 19, "NOT NULL constraint failed: v.balance", 0);
  apply_fails(&x, ES_STORAGE, PREFIX "NOT NULL constraint failed: v.balance");
  assert_int_equal(x.err.native_code, 19);
  assert_int_equal(x.fs->calls[FVS_INSERT], 1);
  assert_int_equal(x.fs->calls[FVS_FIND], 1);
  assert_int_equal(x.fs->calls[FVS_UPSERT], 1);
  vfx_close(&x);
}

/* A fold that ignores a failed write and returns ES_OK still fails: the store's error stands. */
static es_status ignore_failure(probe *p, const es_event *ev, es_view_writer *out) {
  (void)ev;
  es_set_text(es_view_row(out), "id", "a");
  keep(p, es_view_insert(out));
  es_set_text(es_view_row(out), "id", "b");
  keep(p, es_view_insert(out)); /* fine */
  return ES_OK;
}

static void test_ignored_port_failure_still_fails(void **state) {
  (void)state;
  vfx x;
  vfx_open(&x, ignore_failure);
  fake_view_store_fail(x.fs, FVS_INSERT, ES_STORAGE, 1555, "UNIQUE constraint failed: v.id", 0);
  apply_fails(&x, ES_STORAGE, PREFIX "UNIQUE constraint failed: v.id");
  vfx_close(&x);
  /* The same with the refusal coming from the writer itself. */
  vfx_open(&x, ignore_failure);
  assert_int_equal(fake_view_store_put(x.fs, "v", "id", "\"a\"", NULL), ES_OK);
  apply_fails(&x, ES_STORAGE, PREFIX "UNIQUE constraint failed: v.id");
  assert_int_equal(x.p.st[1], ES_OK);
  assert_str(fake_view_store_dump(x.fs, "v"), "{\"id\":\"a\"}\n{\"id\":\"b\"}\n");
  vfx_close(&x);
}

/* The fold gives up: with a getter's complaint when it made one, else a generic message. */
static es_status missing_data(probe *p, const es_event *ev, es_view_writer *out) {
  int64_t n;
  (void)p, (void)out;
  return es_event_int(ev, "missing", &n);
}
static es_status wrong_type(probe *p, const es_event *ev, es_view_writer *out) {
  const char *s;
  (void)p, (void)out;
  return es_event_text(ev, "amount", &s);
}
static es_status missing_meta(probe *p, const es_event *ev, es_view_writer *out) {
  int flag;
  (void)p, (void)out;
  return es_get_bool(es_event_metadata(ev), "user", &flag);
}
static es_status two_complaints(probe *p, const es_event *ev, es_view_writer *out) {
  int64_t n;
  (void)p, (void)out;
  es_event_int(ev, "first", &n);
  es_event_int(ev, "note", &n); /* the last complaint is the one reported */
  return ES_INVALID_PAYLOAD;
}
static es_status complaint_then_write(probe *p, const es_event *ev, es_view_writer *out) {
  double r;
  (void)p;
  es_status rc = es_get_real(es_event_data(ev), "note", &r);
  es_set_text(es_view_row(out), "id", "a");
  es_view_insert(out); /* succeeds; the fold still gives up */
  return rc;
}
static es_status plain_invalid_payload(probe *p, const es_event *ev, es_view_writer *out) {
  (void)p, (void)ev, (void)out;
  return ES_INVALID_PAYLOAD;
}
static es_status plain_storage(probe *p, const es_event *ev, es_view_writer *out) {
  (void)p, (void)ev, (void)out;
  return ES_STORAGE;
}
static es_status plain_rejected(probe *p, const es_event *ev, es_view_writer *out) {
  (void)p, (void)ev, (void)out;
  return ES_REJECTED;
}
static es_status plain_nomem(probe *p, const es_event *ev, es_view_writer *out) {
  (void)p, (void)ev, (void)out;
  return ES_NOMEM;
}
static es_status complaint_tolerated(probe *p, const es_event *ev, es_view_writer *out) {
  int64_t n;
  (void)p, (void)out;
  es_event_int(ev, "missing", &n);
  return ES_OK;
}

static void test_fold_gives_up(void **state) {
  (void)state;
  static const fail_case cases[] = {
      {"missing", missing_data, ES_INVALID_PAYLOAD, PREFIX "event data field 'missing' is missing", ""},
      {"wrong type", wrong_type, ES_INVALID_PAYLOAD, PREFIX "event data field 'amount' must be a string, got integer",
       ""},
      {"metadata", missing_meta, ES_INVALID_PAYLOAD,
       PREFIX "event metadata field 'user' must be a boolean, got string", ""},
      {"two", two_complaints, ES_INVALID_PAYLOAD, PREFIX "event data field 'note' must be an integer, got string", ""},
      {"then write", complaint_then_write, ES_INVALID_PAYLOAD,
       PREFIX "event data field 'note' must be a number, got string", "insert v {\"id\":\"a\"}\n"},
      {"plain", plain_invalid_payload, ES_INVALID_PAYLOAD, PREFIX "the fold callback failed", ""},
      {"storage", plain_storage, ES_STORAGE, PREFIX "the fold callback failed", ""},
      {"rejected", plain_rejected, ES_REJECTED, PREFIX "the fold callback failed", ""},
      {"nomem", plain_nomem, ES_NOMEM, 0, ""},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
    print_message("case %s\n", cases[i].name);
    vfx x;
    vfx_open(&x, cases[i].script);
    apply_fails(&x, cases[i].status, cases[i].message);
    assert_str(x.fs->log, cases[i].log);
    vfx_close(&x);
  }
  vfx x;
  vfx_open(&x, complaint_tolerated);
  es_view_event e = sample_event();
  assert_int_equal(es_view_apply(x.view, &x.fs->port, &e, &x.err), ES_OK);
  assert_null(x.err.message);
  vfx_close(&x);
}

/* The prefix names this event: its own type, position, aggregate and version. */
static void test_prefix_names_the_event(void **state) {
  (void)state;
  vfx x;
  vfx_open_named(&x, "balances", missing_data);
  es_view_event e = sample_event();
  e.type = "Opened";
  e.position = 9000000000LL;
  e.version = 12;
  e.aggregate_type = "savings account";
  e.aggregate_id = "s/1 'x'";
  assert_int_equal(es_view_apply(x.view, &x.fs->port, &e, &x.err), ES_INVALID_PAYLOAD);
  assert_str(x.err.message, "view 'balances' failed on event 'Opened' (position 9000000000, savings account 's/1 'x''"
                            " version 12): event data field 'missing' is missing");
  vfx_close(&x);
}

/* ----------------------- malformed stored data ----------------------- */

static void test_malformed_stored_data(void **state) {
  (void)state;
  static const struct {
    const char *data, *meta;
    es_status status;
    const char *message;
  } cases[] = {
      {"{\"amount\":", sample_meta, ES_INVALID_PAYLOAD, 0},
      {"[1, 2]", sample_meta, ES_INVALID_PAYLOAD, PREFIX "not a JSON object"},
      {"\"text\"", sample_meta, ES_INVALID_PAYLOAD, PREFIX "not a JSON object"},
      {"", sample_meta, ES_INVALID_PAYLOAD, 0},
      {sample_data, "{\"user\":", ES_INVALID_PAYLOAD, 0},
      {sample_data, "null", ES_INVALID_PAYLOAD, PREFIX "not a JSON object"},
      {sample_data, "{\"a\":1,\"a\":2}", ES_INVALID_PAYLOAD, 0},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
    vfx x;
    vfx_open(&x, see_everything);
    es_view_event e = event_with(cases[i].data, cases[i].meta);
    assert_int_equal(es_view_apply(x.view, &x.fs->port, &e, &x.err), cases[i].status);
    assert_int_equal(x.err.status, cases[i].status);
    assert_non_null(x.err.message);
    if (cases[i].message) {
      assert_str(x.err.message, cases[i].message);
    } else { /* the parser's own message, after the prefix */
      if (strncmp(x.err.message, PREFIX "malformed JSON at offset ", strlen(PREFIX "malformed JSON at offset ")) != 0)
        fail_msg("case %zu: got <%s>", i, x.err.message);
    }
    assert_int_equal(x.p.calls, 0); /* the fold never saw it */
    vfx_close(&x);
  }
}

/* The parser's messages, pinned exactly for two inputs. */
static void test_malformed_stored_data_messages(void **state) {
  (void)state;
  vfx x;
  vfx_open(&x, see_everything);
  es_view_event e = event_with("{\"amount\":", sample_meta);
  assert_int_equal(es_view_apply(x.view, &x.fs->port, &e, &x.err), ES_INVALID_PAYLOAD);
  assert_str(x.err.message, PREFIX "malformed JSON at offset 10: unexpected end of input");
  vfx_close(&x);
  vfx_open(&x, see_everything);
  e = event_with(sample_data, "{\"a\":1,\"a\":2}");
  assert_int_equal(es_view_apply(x.view, &x.fs->port, &e, &x.err), ES_INVALID_PAYLOAD);
  assert_str(x.err.message, PREFIX "malformed JSON at offset 7: duplicate key \"a\"");
  vfx_close(&x);
}

/* A stored row the store hands back as something that is not JSON. */
static es_status find_only(probe *p, const es_event *ev, es_view_writer *out) {
  const es_object *row = (const es_object *)p;
  es_set_text(es_view_row(out), "id", es_event_aggregate_id(ev));
  es_status rc = es_view_find(out, &row);
  if (row) return ES_MISUSE; /* *row must be NULL on failure */
  return rc;
}

static void test_malformed_row(void **state) {
  (void)state;
  vfx x;
  vfx_open(&x, find_only);
  assert_int_equal(fake_view_store_put(x.fs, "v", "id", "\"acc-1\"", "balance", "{", NULL), ES_OK);
  apply_fails(&x, ES_STORAGE, PREFIX "a row could not be read back");
  vfx_close(&x);
}

/* ----------------------- typed values through the port ----------------------- */

/* A port that keeps what it was given and hands back a row of typed columns. */
typedef struct typed_port {
  es_view_store port;
  es_value got[8];
  char keys[8][16];
  char texts[8][32];
  size_t n;
  int op;
  int bad_text; /* find puts text that is not UTF-8 */
} typed_port;

static es_status typed_write(void *self, const char *table, int op, const es_field *cols, size_t n, es_error *err) {
  typed_port *t = self;
  (void)table, (void)err;
  t->op = op;
  t->n = n;
  for (size_t i = 0; i < n && i < 8; i++) {
    t->got[i] = cols[i].v;
    snprintf(t->keys[i], sizeof t->keys[i], "%s", cols[i].key);
    if (cols[i].v.kind == ES_VALUE_TEXT || cols[i].v.kind == ES_VALUE_JSON) {
      memcpy(t->texts[i], cols[i].v.u.text.s, cols[i].v.u.text.n < 31 ? cols[i].v.u.text.n + 1 : 32);
      t->got[i].u.text.s = t->texts[i];
    }
  }
  return ES_OK;
}

static es_status typed_find(void *self, const char *table, const es_field *cols, size_t n, es_builder *row, int *found,
                            es_error *err) {
  typed_port *t = self;
  (void)table, (void)cols, (void)n, (void)err;
  es_value v = {.kind = ES_VALUE_INT, .u.i = 41};
  es_builder_put(row, "count", &v);
  v.kind = ES_VALUE_REAL, v.u.r = 2.5;
  es_builder_put(row, "rate", &v);
  v.kind = ES_VALUE_TEXT, v.u.text.s = t->bad_text ? "caf\xff" : "ada", v.u.text.n = t->bad_text ? 4 : 3;
  es_builder_put(row, "owner", &v);
  v.kind = ES_VALUE_NULL;
  es_builder_put(row, "closed", &v);
  *found = 1;
  return ES_OK;
}

/* Sets one column of each kind, finds, writes again, and reads the found row after the write. */
static es_status typed_fold(probe *p, const es_event *ev, es_view_writer *out) {
  const es_object *row = 0;
  const char *owner;
  es_builder *b = es_view_row(out);
  (void)ev;
  es_set_int(b, "i", -3);
  es_set_real(b, "r", 0.5);
  es_set_bool(b, "b", 7);
  es_set_text(b, "t", "x\"y");
  es_set_null(b, "n");
  es_set_json(b, "j", "[1, 2]");
  keep(p, es_view_insert(out));
  es_set_text(es_view_row(out), "id", "a");
  keep(p, es_view_find(out, &row));
  if (!row) return p->st[p->n_st - 1];
  es_set_text(es_view_row(out), "id", "b");
  keep(p, es_view_delete(out)); /* the found row stays readable until the next find */
  keep(p, es_get_int(row, "count", &p->row_balance));
  keep(p, es_get_real(row, "rate", &p->rate));
  keep(p, es_get_text(row, "owner", &owner, 0));
  if (p->st[p->n_st - 1] == ES_OK) copy(p->row_owner, sizeof p->row_owner, owner);
  p->has_missing = es_has(row, "closed");
  return ES_OK;
}

static void test_port_gets_typed_values(void **state) {
  (void)state;
  vfx x;
  vfx_open(&x, typed_fold);
  typed_port t;
  memset(&t, 0, sizeof(t));
  t.port.self = &t;
  t.port.write = typed_write;
  t.port.find = typed_find;
  es_view_event e = sample_event();
  assert_int_equal(es_view_apply(x.view, &t.port, &e, &x.err), ES_OK);
  /* The last write was the delete; the insert before it is checked by the second run below. */
  assert_int_equal(t.op, ES_VIEW_DELETE);
  assert_int_equal(t.n, 1);
  assert_str(t.keys[0], "id");
  assert_int_equal(x.p.n_st, 6);
  for (int i = 0; i < 6; i++) assert_int_equal(x.p.st[i], ES_OK);
  assert_int_equal(x.p.row_balance, 41);
  assert_true(x.p.rate == 2.5);
  assert_str(x.p.row_owner, "ada");
  assert_int_equal(x.p.has_missing, 1);

  /* Again, with a row whose text the builder refuses: it cannot be read back, so the fold stops
  ** after the insert, whose columns arrived typed as they were set. */
  t.bad_text = 1;
  es_error_clear(&x.err);
  assert_int_equal(es_view_apply(x.view, &t.port, &e, &x.err), ES_STORAGE);
  assert_str(x.err.message, PREFIX "a row could not be read back");
  assert_int_equal(t.op, ES_VIEW_INSERT);
  assert_int_equal(t.n, 6);
  static const char *const keys[] = {"i", "r", "b", "t", "n", "j"};
  for (int i = 0; i < 6; i++) assert_str(t.keys[i], keys[i]);
  assert_int_equal(t.got[0].kind, ES_VALUE_INT);
  assert_int_equal(t.got[0].u.i, -3);
  assert_int_equal(t.got[1].kind, ES_VALUE_REAL);
  assert_true(t.got[1].u.r == 0.5);
  assert_int_equal(t.got[2].kind, ES_VALUE_BOOL);
  assert_int_equal(t.got[2].u.i, 1);
  assert_int_equal(t.got[3].kind, ES_VALUE_TEXT);
  assert_int_equal(t.got[3].u.text.n, 3);
  assert_str(t.got[3].u.text.s, "x\"y");
  assert_int_equal(t.got[4].kind, ES_VALUE_NULL);
  assert_int_equal(t.got[5].kind, ES_VALUE_JSON);
  assert_str(t.got[5].u.text.s, "[1, 2]");
  vfx_close(&x);
}

/* ----------------------- out of memory ----------------------- */

/* Everything that allocates: parsing, getters, find (parse of the row), builders, the store. */
static es_status busy_fold(probe *p, const es_event *ev, es_view_writer *out) {
  const es_object *row = 0;
  const char *user;
  int64_t amount, balance = 0;
  es_status rc;
  (void)p;
  if ((rc = es_event_int(ev, "amount", &amount)) != ES_OK) return rc;
  if ((rc = es_get_text(es_event_metadata(ev), "user", &user, 0)) != ES_OK) return rc;
  es_set_text(es_view_row(out), "id", es_event_aggregate_id(ev));
  if ((rc = es_view_find(out, &row)) != ES_OK) return rc;
  if (row && (rc = es_get_int(row, "balance", &balance)) != ES_OK) return rc;
  es_builder *b = es_view_row(out);
  es_set_text(b, "id", es_event_aggregate_id(ev));
  es_set_int(b, "balance", balance + amount);
  es_set_text(b, "by", user);
  es_set_json(b, "tags", "[\"x\", {\"y\": 2}]");
  es_set_real(b, "rate", 0.25);
  es_set_bool(b, "open", 1);
  es_set_null(b, "closed");
  if ((rc = es_view_upsert(out)) != ES_OK) return rc;
  b = es_view_row(out);
  es_set_text(b, "id", "log-42");
  es_set_int(b, "balance", amount);
  if ((rc = es_view_insert(out)) != ES_OK) return rc;
  es_set_text(es_view_row(out), "id", "gone");
  if ((rc = es_view_delete(out)) != ES_OK) return rc;
  return ES_OK;
}

static void test_oom_loop(void **state) {
  (void)state;
  int succeeded = 0;
  long n;
  for (n = 0; !succeeded && n < 10000; n++) {
    vfx x;
    vfx_open(&x, busy_fold);
    assert_int_equal(fake_view_store_put(x.fs, "v", "id", "\"acc-1\"", "balance", "50", NULL), ES_OK);
    assert_int_equal(fake_view_store_put(x.fs, "v", "id", "\"gone\"", NULL), ES_OK);
    es_view_event e = sample_event();
    fake_mem_fail_after(n);
    es_status rc = es_view_apply(x.view, &x.fs->port, &e, &x.err);
    fake_mem_fail_after(-1);
    if (rc == ES_OK) {
      succeeded = 1;
      assert_int_equal(x.err.status, ES_OK);
      assert_str(fake_view_store_dump(x.fs, "v"),
                 "{\"id\":\"acc-1\",\"balance\":300,\"by\":\"ada\",\"tags\":[\"x\", {\"y\": 2}],\"rate\":0.25,"
                 "\"open\":true,\"closed\":null}\n"
                 "{\"id\":\"log-42\",\"balance\":250}\n");
    } else {
      assert_int_equal(rc, ES_NOMEM);
      assert_int_equal(x.err.status, ES_NOMEM);
      assert_null(x.err.message);
    }
    vfx_close(&x);
    assert_int_equal(fake_mem_live(), live_at_start);
  }
  assert_true(succeeded);
  assert_true(n > 10); /* the loop really went through failures */
}

/* Failing paths under OOM: the error, with or without its prefix (which needs memory), or
** ES_NOMEM; never a leak. */
static void oom_failure_loop(script_fn script, int port_fails, es_status status, const char *plain) {
  int full = 0;
  char want[512];
  snprintf(want, sizeof want, PREFIX "%s", plain);
  for (long n = 0; !full && n < 10000; n++) {
    vfx x;
    vfx_open(&x, script);
    if (port_fails) fake_view_store_fail(x.fs, FVS_INSERT, status, 7, plain, 0);
    es_view_event e = sample_event();
    fake_mem_fail_after(n);
    es_status rc = es_view_apply(x.view, &x.fs->port, &e, &x.err);
    fake_mem_fail_after(-1);
    if (rc == ES_NOMEM) {
      assert_null(x.err.message);
    } else {
      assert_int_equal(rc, status);
      assert_int_equal(x.err.status, status);
      assert_non_null(x.err.message);
      if (strcmp(x.err.message, want) == 0) full = 1;
      else assert_str(x.err.message, plain); /* the prefix could not be allocated: the message stays */
      if (port_fails) assert_int_equal(x.err.native_code, 7);
    }
    vfx_close(&x);
    assert_int_equal(fake_mem_live(), live_at_start);
  }
  assert_true(full);
}

static void test_oom_getter_failure(void **state) {
  (void)state;
  oom_failure_loop(wrong_type, 0, ES_INVALID_PAYLOAD, "event data field 'amount' must be a string, got integer");
}

static void test_oom_port_failure(void **state) {
  (void)state;
  oom_failure_loop(insert_one, 1, ES_STORAGE, "disk I/O error");
}

/* ----------------------- one parse for every view that folds an event ----------------------- */

/* Views v and w, both probe_fold with the same probe, folding the sample event through one input:
** its data and metadata are parsed by the first fold and read again by the second, which
** allocates nothing for them; both see the same fields. */
static void test_one_parse_for_many_views(void **state) {
  (void)state;
  vfx x;
  vfx_open(&x, see_everything);
  es_view_type def = {.iVersion = 1, .name = "w", .columns = "id TEXT PRIMARY KEY", .event_types = handled,
                      .n_event_types = 2, .fold = probe_fold};
  assert_int_equal(es_registry_add_view(x.reg, &def, &x.p, 0, &x.err), ES_OK);
  const es_view *w = es_registry_find_view(x.reg, "w");
  es_view_event e = sample_event();
  es_view_input in;
  es_view_input_init(&in, &e);
  long before = fake_mem_count();
  assert_int_equal(es_view_fold(x.view, &x.fs->port, &in, &x.err), ES_OK);
  long first = fake_mem_count() - before;
  es_json_doc *data = in.data, *meta = in.metadata;
  assert_non_null(data);
  assert_non_null(meta);
  assert_int_equal(x.p.amount, 250);
  memset(&x.p, 0, sizeof(x.p));
  x.p.script = see_everything;
  before = fake_mem_count();
  assert_int_equal(es_view_fold(w, &x.fs->port, &in, &x.err), ES_OK);
  long second = fake_mem_count() - before;
  assert_ptr_equal(in.data, data); /* not parsed again */
  assert_ptr_equal(in.metadata, meta);
  assert_true(second < first);
  assert_int_equal(x.p.calls, 1);
  assert_int_equal(x.p.amount, 250);
  assert_str(x.p.meta_user, "ada");
  es_view_input_clear(&in);
  assert_null(in.data);
  vfx_close(&x);
  assert_int_equal(fake_mem_live(), live_at_start);
}

/* A parse that fails is not kept: each view that folds the event reports it, under its own name. */
static void test_failed_parse_is_not_kept(void **state) {
  (void)state;
  vfx x;
  vfx_open(&x, see_everything);
  es_view_type def = {.iVersion = 1, .name = "w", .columns = "id TEXT PRIMARY KEY", .event_types = handled,
                      .n_event_types = 2, .fold = probe_fold};
  assert_int_equal(es_registry_add_view(x.reg, &def, &x.p, 0, &x.err), ES_OK);
  es_view_event e = event_with("{\"amount\":250}", "[1]"); /* metadata that is not an object */
  es_view_input in;
  es_view_input_init(&in, &e);
  assert_int_equal(es_view_fold(x.view, &x.fs->port, &in, &x.err), ES_INVALID_PAYLOAD);
  assert_str(x.err.message, PREFIX "not a JSON object");
  assert_null(in.data);
  assert_null(in.metadata);
  es_error_clear(&x.err);
  assert_int_equal(es_view_fold(es_registry_find_view(x.reg, "w"), &x.fs->port, &in, &x.err), ES_INVALID_PAYLOAD);
  assert_str(x.err.message, "view 'w' failed on event 'Deposited' (position 42, account 'acc-1' version 7): not a JSON object");
  assert_int_equal(x.p.calls, 0);
  es_view_input_clear(&in);
  vfx_close(&x);
  assert_int_equal(fake_mem_live(), live_at_start);
}

/* Out of memory anywhere in two folds sharing one input: ES_NOMEM or success, never a leak. */
static void test_oom_shared_input(void **state) {
  (void)state;
  int succeeded = 0;
  for (long n = 0; !succeeded && n < 10000; n++) {
    vfx x;
    vfx_open(&x, see_everything);
    es_view_type def = {.iVersion = 1, .name = "w", .columns = "id TEXT PRIMARY KEY", .event_types = handled,
                        .n_event_types = 2, .fold = probe_fold};
    assert_int_equal(es_registry_add_view(x.reg, &def, &x.p, 0, &x.err), ES_OK);
    es_view_event e = sample_event();
    es_view_input in;
    es_view_input_init(&in, &e);
    fake_mem_fail_after(n);
    es_status rc = es_view_fold(x.view, &x.fs->port, &in, &x.err);
    if (rc == ES_OK) rc = es_view_fold(es_registry_find_view(x.reg, "w"), &x.fs->port, &in, &x.err);
    fake_mem_fail_after(-1);
    if (rc == ES_OK) succeeded = 1;
    else assert_int_equal(rc, ES_NOMEM);
    es_view_input_clear(&in);
    vfx_close(&x);
    assert_int_equal(fake_mem_live(), live_at_start);
  }
  assert_true(succeeded);
}

int main(void) {
  const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, unit_setup, unit_teardown)
      T(test_fold_sees_the_event),
      T(test_fold_sees_each_event),
      T(test_lengths_are_respected),
      T(test_absent_metadata_is_an_empty_object),
      T(test_writes_reach_the_port),
      T(test_writes_go_to_the_views_table),
      T(test_find_returns_the_row),
      T(test_find_then_upsert),
      T(test_writer_misuse),
      T(test_setter_statuses),
      T(test_port_failures_propagate),
      T(test_ignored_port_failure_still_fails),
      T(test_fold_gives_up),
      T(test_prefix_names_the_event),
      T(test_malformed_stored_data),
      T(test_malformed_stored_data_messages),
      T(test_malformed_row),
      T(test_port_gets_typed_values),
      T(test_oom_loop),
      T(test_oom_getter_failure),
      T(test_oom_port_failure),
      T(test_one_parse_for_many_views),
      T(test_failed_parse_is_not_kept),
      T(test_oom_shared_input),
#undef T
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
