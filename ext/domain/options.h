/*
** options.h — the options object of es_submit: expected_version, command_id, metadata.
*/
#ifndef ES_DOMAIN_OPTIONS_H
#define ES_DOMAIN_OPTIONS_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

#define ES_MAX_COMMAND_ID_BYTES 1000

typedef enum es_expect {
  ES_EXPECT_ANY,       /* no check (the default) */
  ES_EXPECT_VERSION,   /* exactly expected_version (0 = the stream has no events) */
  ES_EXPECT_NO_STREAM, /* the stream has no events */
  ES_EXPECT_EXISTS     /* the stream has at least one event */
} es_expect;

typedef struct es_options {
  es_expect expect;
  int64_t expected_version;
  char *command_id; /* es_mem_alloc'd, or NULL */
  char *metadata;   /* JSON object text, es_mem_alloc'd, or NULL */
} es_options;

/* Parse options JSON (NULL text = no options). Errors are ES_INVALID_ARGUMENT or ES_NOMEM. */
es_status es_options_parse(const char *text, size_t len, size_t max_metadata_bytes, es_options *o,
                           es_error *err);
void es_options_clear(es_options *o);

#endif
