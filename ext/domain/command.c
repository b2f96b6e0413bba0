/*
** command.c — the command loop (command.h). Everything that can refuse a command runs before
** the first write: arguments, payload, options, idempotency, expected version, decide, and the
** evolve of every new event. Only then does it append, through the port.
*/
#include <string.h>

#include "command.h"
#include "json.h"
#include "mem.h"
#include "message.h"
#include "options.h"
#include "state.h"

void es_command_record_clear(es_command_record *r) {
  es_mem_free(r->aggregate_type);
  es_mem_free(r->aggregate_id);
  es_mem_free(r->command_type);
  memset(r, 0, sizeof(*r));
}

es_status es_check_id(const char *what, const char *value, es_error *err) {
  if (!value) return es_error_set(err, ES_INVALID_ARGUMENT, "%s must be text, got null", what);
  size_t n = strlen(value);
  if (n == 0) return es_error_set(err, ES_INVALID_ARGUMENT, "%s must not be empty", what);
  if (n > ES_MAX_ID_BYTES)
    return es_error_set(err, ES_INVALID_ARGUMENT, "%s is %zu bytes; the limit is %d", what, n, ES_MAX_ID_BYTES);
  if (!es_utf8_valid(value, n)) return es_error_set(err, ES_INVALID_ARGUMENT, "%s must be valid UTF-8", what);
  return ES_OK;
}

static size_t max_payload(const es_command_request *req) {
  return req->max_payload_bytes ? req->max_payload_bytes : ES_DEFAULT_MAX_PAYLOAD_BYTES;
}

es_status es_command_check(const es_registry *reg, const es_command_request *req, es_error *err) {
  if (es_check_id("aggregate_type", req->aggregate_type, err) || es_check_id("aggregate_id", req->aggregate_id, err) ||
      es_check_id("command_type", req->command_type, err))
    return err->status;
  const es_agg *agg = es_registry_find(reg, req->aggregate_type);
  if (!agg)
    return es_error_set(err, ES_UNKNOWN_AGGREGATE, "no aggregate type '%s' is registered on this connection",
                        req->aggregate_type);
  if (!es_agg_command(agg, req->command_type))
    return es_error_set(err, ES_UNKNOWN_COMMAND, "aggregate type '%s' has no command '%s'", req->aggregate_type,
                        req->command_type);
  if (req->payload && req->payload_len > max_payload(req))
    return es_error_set(err, ES_INVALID_PAYLOAD, "payload is %zu bytes; the limit is %zu", req->payload_len,
                        max_payload(req));
  /* Options hold metadata (up to the payload limit) and a few short values. */
  if (req->options && req->options_len > max_payload(req) + ES_OPTIONS_SLACK_BYTES)
    return es_error_set(err, ES_INVALID_ARGUMENT, "options is %zu bytes; the limit is %zu", req->options_len,
                        max_payload(req) + ES_OPTIONS_SLACK_BYTES);
  return ES_OK;
}

/* Parse the payload: a JSON object ({} when absent). */
static es_status parse_payload(const es_command_request *req, es_json_doc **doc, es_error *err) {
  char *msg = 0;
  const char *text = req->payload ? req->payload : "{}";
  size_t len = req->payload ? req->payload_len : 2;
  es_status rc = es_json_parse(text, len, doc, &msg);
  if (rc == ES_NOMEM) rc = es_error_set(err, ES_NOMEM, 0);
  else if (rc != ES_OK) rc = es_error_set(err, ES_INVALID_PAYLOAD, "payload: %s", msg);
  else if (es_json_root(*doc)->kind != ES_JSON_OBJECT)
    rc = es_error_set(err, ES_INVALID_PAYLOAD, "payload must be a JSON object, got %s",
                      es_json_kind_name(es_json_root(*doc)->kind));
  es_mem_free(msg);
  return rc;
}

/* A command_id seen before: the same command again returns its first result; another is refused. */
static es_status check_duplicate(const es_event_store *store, const es_command_request *req, const char *command_id,
                                 es_command_result *res, int *found, es_error *err) {
  es_command_record rec = {0};
  es_status rc = store->find_command(store->self, command_id, &rec, found, err);
  if (rc != ES_OK || !*found) goto done;
  if (strcmp(rec.aggregate_type, req->aggregate_type) || strcmp(rec.aggregate_id, req->aggregate_id) ||
      strcmp(rec.command_type, req->command_type)) {
    rc = es_error_set(err, ES_INVALID_ARGUMENT, "command_id '%s' was already used by command '%s' on %s '%s'",
                      command_id, rec.command_type, rec.aggregate_type, rec.aggregate_id);
    goto done;
  }
  res->version = rec.version;
  res->position = rec.position;
  res->duplicate = 1;
done:
  es_command_record_clear(&rec);
  return rc;
}

static es_status check_expected(const es_options *o, const es_state *st, es_error *err) {
  const char *type = st->agg->def.name, *id = st->aggregate_id;
  long long actual = (long long)st->version;
  switch (o->expect) {
    case ES_EXPECT_ANY:
      return ES_OK;
    case ES_EXPECT_VERSION:
      if (st->version == o->expected_version) return ES_OK;
      return es_error_set(err, ES_CONFLICT, "expected version %lld of %s '%s', actual %lld",
                          (long long)o->expected_version, type, id, actual);
    case ES_EXPECT_NO_STREAM:
      if (st->version == 0) return ES_OK;
      return es_error_set(err, ES_CONFLICT, "expected no stream for %s '%s', actual version %lld", type, id, actual);
    case ES_EXPECT_EXISTS:
      if (st->version > 0) return ES_OK;
      return es_error_set(err, ES_CONFLICT, "expected %s '%s' to exist, it has no events", type, id);
  }
  return ES_OK;
}

/* Turn what decide returned (and recorded) into the command's outcome. */
static es_status decide_outcome(es_status rc, const es_command_request *req, char *complaint, es_error *err) {
  if (err->status != ES_OK) return err->status; /* es_reject, undeclared event, no memory */
  if (rc == ES_OK) return ES_OK;
  if (rc == ES_REJECTED) {
    es_error_set(err, ES_REJECTED, "command '%s' was rejected", req->command_type);
    if (err->status == ES_REJECTED && !(err->reason = es_mem_strdup("rejected"))) {
      es_error_clear(err);
      err->status = ES_NOMEM;
    }
    return err->status;
  }
  if (rc == ES_NOMEM) return es_error_set(err, ES_NOMEM, 0);
  if (complaint) return es_error_set(err, rc, "%s", complaint); /* a getter's, or the callback's own */
  return es_error_set(err, rc, "decide of command '%s' on aggregate type '%s' failed", req->command_type,
                      req->aggregate_type);
}

/* Render emitted events and evolve each into the state: what replay will see later, now. */
static es_status render_events(es_emitter *em, es_state *st, es_new_event *out, es_error *err) {
  for (size_t i = 0; i < em->n; i++) {
    char *data = 0;
    size_t len = 0;
    es_status rc = es_builder_to_json(&em->events[i]->data, &data, &len);
    if (rc == ES_NOMEM) return es_error_set(err, ES_NOMEM, 0);
    if (rc != ES_OK)
      return es_error_set(err, ES_INVALID_ARGUMENT,
                          "data of event '%s' from command on %s '%s': a field was set with no key or invalid JSON",
                          em->events[i]->type, st->agg->def.name, st->aggregate_id);
    out[i].type = em->events[i]->type;
    out[i].data = data;
    out[i].data_len = len;
    rc = es_state_apply(st, out[i].type, st->version + 1, 0, data, len, err);
    if (rc != ES_OK) return rc;
  }
  return ES_OK;
}

/* The stream's snapshot under the type's fingerprint, made into a state, when it is not ahead of the
** stream; 0 when there is none to use (an unreadable one is only a fold from the start). */
static int from_snapshot(es_state *st, const es_agg *agg, const es_event_store *store, const es_snapshot_store *snaps,
                         int64_t stream_version, const char *aggregate_id, es_status *rc, es_error *err) {
  char *json = 0;
  size_t len = 0;
  int found = 0;
  int64_t version = 0;
  (void)store;
  *rc = snaps->load(snaps->self, agg->def.name, aggregate_id, agg->fingerprint, &found, &version, &json, &len, err);
  int used = 0;
  if (*rc == ES_OK && found && version >= 1 && version <= stream_version) {
    es_error ignored = {0};
    if (es_state_from_json(st, agg, aggregate_id, version, json, len, &ignored) == ES_OK) {
      used = 1;
    } else {
      if (ignored.status == ES_NOMEM) *rc = es_error_set(err, ES_NOMEM, 0);
      es_state_free(st);
      memset(st, 0, sizeof(*st));
    }
    es_error_clear(&ignored);
  }
  es_mem_free(json);
  return used;
}

/* The aggregate's state: the cached one, or the snapshot, when not ahead of the stream (then only the
** events after it are folded); else folded from the whole stream. */
static es_status load_state(es_state *st, const es_agg *agg, const es_event_store *store, const es_command_env *env,
                            const char *aggregate_id, es_error *err) {
  int64_t version = 0;
  int cached = env && env->cache && es_state_cache_take(env->cache, agg, aggregate_id, st);
  int snapshots = env && env->snapshots && agg->fingerprint[0];
  es_status rc = ES_OK;
  if ((cached || snapshots) && (rc = store->stream_version(store->self, agg->def.name, aggregate_id, &version, err)) != ES_OK) {
    if (cached) es_state_free(st), memset(st, 0, sizeof(*st));
    return rc;
  }
  if (cached && version == st->version) return ES_OK; /* versions are dense: nothing to read */
  if (cached && version > st->version) return es_state_catch_up(st, store, err);
  if (cached) { /* ahead of the stream: folded from events a rollback took away */
    es_state_free(st);
    memset(st, 0, sizeof(*st));
  }
  if (snapshots && version > 0 && from_snapshot(st, agg, store, env->snapshots, version, aggregate_id, &rc, err))
    return es_state_catch_up(st, store, err);
  if (rc != ES_OK) return rc;
  return es_state_load(st, agg, store, aggregate_id, err);
}

/* Take a snapshot when the command's events cross a multiple of snapshot_every. A state that
** cannot be written as JSON is simply not snapshotted; a failure to store it fails the command. */
static es_status maybe_snapshot(const es_state *st, int64_t before, const es_command_env *env, es_error *err) {
  const es_agg *agg = st->agg;
  int64_t every = env ? env->snapshot_every : 0;
  if (!env || !env->snapshots || !agg->fingerprint[0] || every <= 0 || st->version / every == before / every)
    return ES_OK;
  char *json = 0;
  es_error ignored = {0};
  es_status rc = es_state_to_json(st, &json, &ignored);
  es_error_clear(&ignored);
  if (rc == ES_OK)
    rc = env->snapshots->save(env->snapshots->self, agg->def.name, st->aggregate_id, agg->fingerprint, st->version,
                              json, strlen(json), err);
  else
    rc = ES_OK;
  es_mem_free(json);
  return rc;
}

es_status es_command_run(const es_registry *reg, const es_event_store *store, const es_command_request *req,
                         es_command_result *res, es_error *err) {
  return es_command_run_with(reg, store, 0, req, res, err);
}

es_status es_command_run_with(const es_registry *reg, const es_event_store *store, const es_command_env *env,
                              const es_command_request *req, es_command_result *res, es_error *err) {
  es_state_cache *cache = env ? env->cache : 0;
  es_json_doc *payload = 0;
  es_options opts;
  es_state st = {0};
  es_emitter em;
  es_new_event *news = 0;
  char *complaint = 0;
  int found = 0, loaded = 0, evolved = 0;
  es_status rc;
  memset(res, 0, sizeof(*res));
  memset(&opts, 0, sizeof(opts));
  es_emitter_init(&em, 0, err);
  if ((rc = es_command_check(reg, req, err)) != ES_OK) goto done;
  const es_agg *agg = es_registry_find(reg, req->aggregate_type);
  const es_command_handler *handler = es_agg_command(agg, req->command_type);
  if ((rc = parse_payload(req, &payload, err)) != ES_OK) goto done;
  if ((rc = es_options_parse(req->options, req->options_len, max_payload(req), &opts, err)) != ES_OK) goto done;
  if (opts.command_id) {
    rc = check_duplicate(store, req, opts.command_id, res, &found, err);
    if (rc != ES_OK || found) goto done;
  }
  if ((rc = load_state(&st, agg, store, env, req->aggregate_id, err)) != ES_OK) goto done;
  loaded = 1; /* a whole state: an evolve that failed half-way never gets here */
  if ((rc = check_expected(&opts, &st, err)) != ES_OK) goto done;

  es_command cmd = {.base = {&es_domain_ops}, .type = handler->command_type, .aggregate_id = req->aggregate_id};
  es_object_init(&cmd.payload, es_json_root(payload), "payload", &complaint);
  es_emitter_init(&em, agg, err);
  rc = handler->decide(agg->user, st.data, &cmd, &em);
  rc = decide_outcome(rc, req, complaint, err); /* after decide: it may have left a complaint */
  if (rc != ES_OK) goto done;

  int64_t first_version = st.version + 1;
  if (em.n && !(news = es_mem_alloc(em.n * sizeof(*news)))) {
    rc = es_error_set(err, ES_NOMEM, 0);
    goto done;
  }
  if (news) memset(news, 0, em.n * sizeof(*news));
  evolved = 1; /* from here the state holds the new events: cached only if they are appended */
  if ((rc = render_events(&em, &st, news, err)) != ES_OK) goto done;

  es_append_request ar = {.aggregate_type = agg->def.name,
                          .aggregate_id = req->aggregate_id,
                          .command_type = handler->command_type,
                          .first_version = first_version,
                          .events = news,
                          .n_events = em.n,
                          .metadata = opts.metadata,
                          .command_id = opts.command_id};
  es_append_result out = {0};
  if ((rc = store->append(store->self, &ar, &out, err)) != ES_OK) goto done;
  if ((rc = maybe_snapshot(&st, first_version - 1, env, err)) != ES_OK) goto done;
  res->version = st.version;
  res->position = out.last_position;
  res->n_events = (int64_t)em.n;
done:
  for (size_t i = 0; news && i < em.n; i++) es_mem_free((char *)news[i].data);
  es_mem_free(news);
  es_emitter_clear(&em);
  if (cache && st.data && rc == ES_OK) es_state_cache_stage(cache, &st); /* cached if the caller commits */
  else if (cache && loaded && !evolved) es_state_cache_put(cache, &st); /* decide changes no state */
  es_state_free(&st);
  es_options_clear(&opts);
  es_json_free(payload);
  es_mem_free(complaint);
  return rc;
}

es_status es_aggregate_state_json(const es_registry *reg, const es_event_store *store, const char *aggregate_type,
                                  const char *aggregate_id, char **json, int64_t *version, es_error *err) {
  es_state st = {0};
  es_status rc;
  *json = 0;
  if (es_check_id("aggregate_type", aggregate_type, err) || es_check_id("aggregate_id", aggregate_id, err))
    return err->status;
  const es_agg *agg = es_registry_find(reg, aggregate_type);
  if (!agg)
    return es_error_set(err, ES_UNKNOWN_AGGREGATE, "no aggregate type '%s' is registered on this connection",
                        aggregate_type);
  if ((rc = es_state_load(&st, agg, store, aggregate_id, err)) == ES_OK) rc = es_state_to_json(&st, json, err);
  if (version) *version = st.version;
  es_state_free(&st);
  return rc;
}
