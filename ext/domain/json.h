/*
** json.h — strict JSON (RFC 8259) for payloads, metadata, options and event data: a parser into a
** read-only tree, and a growable text buffer that writes JSON. No SQLite: the domain owns it, so it
** is unit-tested (and fuzzed) on its own. All memory goes through es_mem_* (mem.h).
*/
#ifndef ES_DOMAIN_JSON_H
#define ES_DOMAIN_JSON_H

#include <stddef.h>
#include <stdint.h>

#include "../es.h"

#define ES_JSON_MAX_DEPTH 200 /* deeper nesting is refused, so parsing never exhausts the stack */

typedef enum es_json_kind {
  ES_JSON_NULL,
  ES_JSON_FALSE,
  ES_JSON_TRUE,
  ES_JSON_INT,    /* an integer literal that fits int64 (no fraction, no exponent) */
  ES_JSON_REAL,   /* any other number (u.r is its nearest double; raw is its exact text) */
  ES_JSON_STRING,
  ES_JSON_ARRAY,
  ES_JSON_OBJECT
} es_json_kind;

typedef struct es_json es_json;
typedef struct es_json_member {
  const char *key; /* decoded, NUL-terminated */
  size_t key_len;
  es_json *value;
} es_json_member;

struct es_json {
  es_json_kind kind;
  const char *raw; /* this value's text in the parsed input (not NUL-terminated) */
  size_t raw_len;
  union {
    int64_t i;
    double r;
    struct { const char *s; size_t n; } str;          /* decoded UTF-8, NUL-terminated */
    struct { es_json **items; size_t n; } arr;
    struct { es_json_member *members; size_t n; } obj; /* in input order; keys are unique */
  } u;
};

/* A parsed document: owns every node and string; the input text must outlive it (raw spans). */
typedef struct es_json_doc es_json_doc;

/*
** Parse text[0..len) as exactly one JSON value with optional surrounding whitespace.
** Refused: anything RFC 8259 refuses (trailing commas, comments, single quotes, leading zeros,
** NaN/Infinity, unescaped control characters, bad escapes, lone surrogates, invalid UTF-8,
** trailing garbage), duplicate keys in one object, nesting deeper than ES_JSON_MAX_DEPTH.
** Returns ES_OK and *out; ES_INVALID_PAYLOAD with *errmsg (es_mem_alloc'd, e.g.
** "malformed JSON at offset 7: expected ':' after object key"); ES_NOMEM (no message).
*/
es_status es_json_parse(const char *text, size_t len, es_json_doc **out, char **errmsg);
/*
** es_json_parse for a loop over many small documents (the events of a stream): *doc is the
** document of the previous parse (or NULL), whose memory the new one reuses; its tree is gone.
** Returns what es_json_parse returns, with the new document (or NULL) in *doc. Free the last
** with es_json_free.
*/
es_status es_json_parse_again(const char *text, size_t len, es_json_doc **doc, char **errmsg);
const es_json *es_json_root(const es_json_doc *doc);
void es_json_free(es_json_doc *doc);

/* 1 when s[0..n) is valid UTF-8 (no overlongs, surrogates or code points above U+10FFFF). */
int es_utf8_valid(const char *s, size_t n);

/* The member of an object with that key, or NULL (also when o is not an object). */
const es_json *es_json_get(const es_json *o, const char *key);

/*
** 1 and *out when v is a number whose exact decimal value is an integer that int64 holds: 100,
** 100.0, 1e2, 1234500e-2, -0.0, 9.223372036854775807e18. 0 (and *out untouched) for anything
** else: 1.5, 100.000000000000001, 1e-400, 9223372036854775808, a string. Decided on the number's
** text, never through a double, so 9007199254740993.0 is 9007199254740993.
*/
int es_json_int64(const es_json *v, int64_t *out);

/* "null", "boolean", "integer", "number", "string", "array", "object": for error messages. */
const char *es_json_kind_name(es_json_kind k);

/* ----------------------- Writing JSON ----------------------- */

/* A growable text buffer. After a failed append (no memory) it stays failed: check es_jbuf_status. */
typedef struct es_jbuf {
  char *z;      /* NUL-terminated when not failed */
  size_t n;     /* bytes used, excluding the NUL */
  size_t cap;
  es_status status;
} es_jbuf;

void es_jbuf_init(es_jbuf *b);
void es_jbuf_reset(es_jbuf *b); /* free the text and start over */
es_status es_jbuf_status(const es_jbuf *b);
void es_jbuf_append(es_jbuf *b, const char *s, size_t n);
void es_jbuf_appendz(es_jbuf *b, const char *s);
void es_jbuf_string(es_jbuf *b, const char *s, size_t n); /* a quoted, escaped JSON string */
void es_jbuf_int(es_jbuf *b, int64_t v);
void es_jbuf_real(es_jbuf *b, double v); /* shortest text that round-trips; non-finite → null */
/* Give up ownership of the text (es_mem_free it later); NULL if failed. The buffer is reset. */
char *es_jbuf_take(es_jbuf *b, size_t *len);

#endif
