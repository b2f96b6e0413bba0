/* options.c — parsing and checking the options of es_submit (options.h). */
#include <string.h>

#include "json.h"
#include "mem.h"
#include "options.h"

void es_options_clear(es_options *o) {
  es_mem_free(o->command_id);
  es_mem_free(o->metadata);
  memset(o, 0, sizeof(*o));
}

static es_status parse_expected(const es_json *v, es_options *o, es_error *err) {
  if (v->kind == ES_JSON_NULL) return ES_OK; /* like every option: null means absent */
  int64_t version;
  if (es_json_int64(v, &version) && version >= 0) { /* 3.0 and 3e0 are 3, as for integer payload fields */
    o->expect = ES_EXPECT_VERSION;
    o->expected_version = version;
    return ES_OK;
  }
  if (v->kind == ES_JSON_STRING) {
    const char *s = v->u.str.s;
    if (strlen(s) != v->u.str.n) goto bad;
    if (strcmp(s, "any") == 0) o->expect = ES_EXPECT_ANY;
    else if (strcmp(s, "no_stream") == 0) o->expect = ES_EXPECT_NO_STREAM;
    else if (strcmp(s, "exists") == 0) o->expect = ES_EXPECT_EXISTS;
    else goto bad;
    return ES_OK;
  }
bad:
  return es_error_set(err, ES_INVALID_ARGUMENT,
                      "option expected_version must be an integer >= 0, \"any\", \"no_stream\" or \"exists\"");
}

static es_status parse_member(const es_json_member *m, size_t max_metadata_bytes, es_options *o,
                              es_error *err) {
  const es_json *v = m->value;
  if (strlen(m->key) != m->key_len)
    return es_error_set(err, ES_INVALID_ARGUMENT, "unknown option '%s' (known: expected_version, command_id, metadata)", m->key);
  if (strcmp(m->key, "expected_version") == 0) return parse_expected(v, o, err);
  if (strcmp(m->key, "command_id") == 0) {
    if (v->kind == ES_JSON_NULL) return ES_OK;
    if (v->kind != ES_JSON_STRING || v->u.str.n == 0 || v->u.str.n > ES_MAX_COMMAND_ID_BYTES ||
        strlen(v->u.str.s) != v->u.str.n)
      return es_error_set(err, ES_INVALID_ARGUMENT,
                          "option command_id must be a non-empty string of at most %d bytes",
                          ES_MAX_COMMAND_ID_BYTES);
    o->command_id = es_mem_strndup(v->u.str.s, v->u.str.n);
    return o->command_id ? ES_OK : es_error_set(err, ES_NOMEM, 0);
  }
  if (strcmp(m->key, "metadata") == 0) {
    if (v->kind == ES_JSON_NULL) return ES_OK;
    if (v->kind != ES_JSON_OBJECT)
      return es_error_set(err, ES_INVALID_ARGUMENT, "option metadata must be a JSON object, got %s",
                          es_json_kind_name(v->kind));
    if (v->raw_len > max_metadata_bytes)
      return es_error_set(err, ES_INVALID_ARGUMENT, "option metadata is %zu bytes; the limit is %zu",
                          v->raw_len, max_metadata_bytes);
    o->metadata = es_mem_strndup(v->raw, v->raw_len);
    return o->metadata ? ES_OK : es_error_set(err, ES_NOMEM, 0);
  }
  return es_error_set(err, ES_INVALID_ARGUMENT,
                      "unknown option '%s' (known: expected_version, command_id, metadata)", m->key);
}

es_status es_options_parse(const char *text, size_t len, size_t max_metadata_bytes, es_options *o,
                           es_error *err) {
  es_json_doc *doc = 0;
  char *msg = 0;
  es_status rc = ES_OK;
  memset(o, 0, sizeof(*o));
  if (!text) goto done;
  rc = es_json_parse(text, len, &doc, &msg);
  if (rc == ES_NOMEM) {
    rc = es_error_set(err, ES_NOMEM, 0);
    goto done;
  }
  if (rc != ES_OK) {
    rc = es_error_set(err, ES_INVALID_ARGUMENT, "options: %s", msg);
    goto done;
  }
  const es_json *root = es_json_root(doc);
  if (root->kind != ES_JSON_OBJECT) {
    rc = es_error_set(err, ES_INVALID_ARGUMENT, "options must be a JSON object, got %s",
                      es_json_kind_name(root->kind));
    goto done;
  }
  for (size_t i = 0; i < root->u.obj.n && rc == ES_OK; i++)
    rc = parse_member(&root->u.obj.members[i], max_metadata_bytes, o, err);
done:
  if (rc != ES_OK) es_options_clear(o);
  es_json_free(doc);
  es_mem_free(msg);
  return rc;
}
