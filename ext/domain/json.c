/*
** json.c — the strict JSON (RFC 8259) parser and the JSON text buffer declared in json.h.
**
** Parsing is one recursive-descent pass over the input (depth is checked before each descent).
** Every node and decoded string lives in an arena owned by the document, so es_json_free is a
** walk over a few chunks. Children of an open array/object are collected on scratch stacks shared
** by the whole parse and copied into the arena when the container closes. Duplicate keys are
** found through a hash set of the members of all open objects, so large objects stay linear.
**
** Small documents (event data, states, payloads: tens of bytes, parsed once per event replayed)
** cost one allocation: the document and its first chunk, sized to the input, are one block, and
** the scratch stacks and the key set start in the parser itself, on the C stack.
*/
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "mem.h"

#define ES_STR_(x) #x
#define ES_STR(x) ES_STR_(x)

#define MSG_END "unexpected end of input"
#define MSG_DEPTH "nested deeper than " ES_STR(ES_JSON_MAX_DEPTH) " levels"

/* sqlite3_malloc64 guarantees 8-byte alignment only, so the arena asks for no more than that:
** its nodes hold pointers, int64 and double, never anything wider. */
typedef union arena_unit {
  void *p;
  int64_t i;
  double d;
} arena_unit;
#define ARENA_ALIGN sizeof(arena_unit)
#define ARENA_FIRST_CHUNK 4096
#define ARENA_MAX_CHUNK (1024 * 1024)
#define NUMBUF_SIZE 64

/* ----------------------- The document and its arena ----------------------- */

typedef struct chunk {
  struct chunk *next;
  size_t cap, used;
  arena_unit data[];
} chunk;

struct es_json_doc {
  es_json *root;
  chunk *head;      /* the chunk being filled; dedicated big chunks are linked behind it */
  size_t next_size; /* size of the next ordinary chunk (doubles up to ARENA_MAX_CHUNK) */
  chunk *first;     /* allocated with the document (freed with it), or NULL */
};

/* The first chunk's size for an input of len bytes: enough for any document that short (the
** densest, [0,0,…], needs a node and an item slot per two bytes), capped at ARENA_FIRST_CHUNK;
** should a document need more, the arena grows as usual. */
#define ARENA_PER_INPUT_BYTE 24
#define ARENA_MIN_FIRST 64

/* Adds a chunk able to hold n bytes; big requests get a chunk of their own, linked behind the
** current one so that its free space is not wasted. */
static void *arena_grow(es_json_doc *d, size_t n) {
  int dedicated = n > d->next_size / 2;
  size_t cap = dedicated ? n : d->next_size;
  if (cap > SIZE_MAX - sizeof(chunk)) return NULL;
  chunk *c = es_mem_alloc(sizeof(chunk) + cap);
  if (!c) return NULL;
  c->cap = cap;
  c->used = n;
  if (dedicated && d->head) {
    c->next = d->head->next;
    d->head->next = c;
  } else {
    c->next = d->head;
    d->head = c;
    if (!dedicated && d->next_size < ARENA_MAX_CHUNK) d->next_size *= 2;
  }
  return c->data;
}

static void *arena_alloc(es_json_doc *d, size_t n) {
  if (n > SIZE_MAX - ARENA_ALIGN) return NULL;
  n = (n + ARENA_ALIGN - 1) & ~(ARENA_ALIGN - 1);
  chunk *c = d->head;
  if (c && c->cap - c->used >= n) {
    void *r = (char *)c->data + c->used;
    c->used += n;
    return r;
  }
  return arena_grow(d, n);
}

void es_json_free(es_json_doc *doc) {
  if (!doc) return;
  chunk *c = doc->head;
  while (c) {
    chunk *next = c->next;
    if (c != doc->first) es_mem_free(c);
    c = next;
  }
  es_mem_free(doc);
}

/* The size of the first chunk for an input of len bytes. */
static size_t first_chunk_size(size_t len) {
  if (len >= (ARENA_FIRST_CHUNK - ARENA_MIN_FIRST) / ARENA_PER_INPUT_BYTE) return ARENA_FIRST_CHUNK;
  return (ARENA_MIN_FIRST + len * ARENA_PER_INPUT_BYTE + ARENA_ALIGN - 1) & ~(ARENA_ALIGN - 1);
}

/* A document whose first chunk shares its allocation, sized for an input of len bytes (capped at
** ARENA_FIRST_CHUNK: a bigger input grows the arena as it goes). */
static es_json_doc *doc_new(size_t len) {
  size_t cap = first_chunk_size(len);
  size_t head = (sizeof(es_json_doc) + ARENA_ALIGN - 1) & ~(ARENA_ALIGN - 1);
  es_json_doc *d = es_mem_alloc(head + sizeof(chunk) + cap);
  if (!d) return NULL;
  memset(d, 0, sizeof *d);
  d->first = (chunk *)((char *)d + head);
  d->first->next = NULL;
  d->first->cap = cap;
  d->first->used = 0;
  d->head = d->first;
  d->next_size = ARENA_FIRST_CHUNK;
  return d;
}

const es_json *es_json_root(const es_json_doc *doc) { return doc ? doc->root : NULL; }

/* ----------------------- Parser state and errors ----------------------- */

#define LOCAL_ITEMS 16
#define LOCAL_MEMS 16
#define LOCAL_SLOTS 32 /* a power of two, at least twice LOCAL_MEMS (the key set's load) */

typedef struct parser {
  const unsigned char *s;
  size_t len, pos;
  es_json_doc *doc;
  es_json **items; /* scratch stack: the items of the open arrays */
  size_t n_items, cap_items;
  es_json_member *mems; /* scratch stack: the members of the open objects */
  size_t n_mems, cap_mems;
  size_t *slots; /* hash set over mems: index + 1, 0 = empty; linear probing */
  size_t cap_slots;
  es_status rc;
  size_t err_off;
  const char *what; /* the error phrase; NULL = "unexpected character/byte" at err_off */
  const char *dup;  /* the duplicate key, when that is the error */
  size_t dup_len;
  /* Last (left uncleared): where the three stacks above start, so that a small document
  ** allocates none of them. */
  es_json *local_items[LOCAL_ITEMS];
  es_json_member local_mems[LOCAL_MEMS];
  size_t local_slots[LOCAL_SLOTS];
} parser;

static int fail(parser *p, size_t off, const char *what) {
  p->rc = ES_INVALID_PAYLOAD;
  p->err_off = off;
  p->what = what;
  return -1;
}

/* Fails at the current byte, or with "unexpected end of input" when there is none: the usual
** way a structural expectation is not met. */
static int fail_here(parser *p, const char *what) {
  return p->pos >= p->len ? fail(p, p->len, MSG_END) : fail(p, p->pos, what);
}

static int nomem(parser *p) {
  p->rc = ES_NOMEM;
  return -1;
}

/* Turns the recorded error into the message the caller gets (the input is still alive). */
static char *format_error(const parser *p) {
  const char *pre = "malformed JSON at offset";
  if (p->dup) {
    es_jbuf b;
    es_jbuf_init(&b);
    es_jbuf_string(&b, p->dup, p->dup_len);
    char *k = es_jbuf_take(&b, NULL);
    char *m = k ? es_mem_printf("%s %zu: duplicate key %s", pre, p->err_off, k) : NULL;
    es_mem_free(k);
    return m;
  }
  if (p->what) return es_mem_printf("%s %zu: %s", pre, p->err_off, p->what);
  unsigned char c = p->s[p->err_off];
  if (c >= 0x20 && c < 0x7f) return es_mem_printf("%s %zu: unexpected character '%c'", pre, p->err_off, c);
  return es_mem_printf("%s %zu: unexpected byte 0x%02x", pre, p->err_off, (unsigned)c);
}

static void skip_ws(parser *p) {
  while (p->pos < p->len) {
    unsigned char c = p->s[p->pos];
    if (c != ' ' && c != '\t' && c != '\n' && c != '\r') break;
    p->pos++;
  }
}

static es_json *new_node(parser *p, es_json_kind kind, size_t start) {
  es_json *v = arena_alloc(p->doc, sizeof *v);
  if (!v) return NULL;
  memset(v, 0, sizeof *v);
  v->kind = kind;
  v->raw = (const char *)p->s + start;
  v->raw_len = p->pos - start;
  return v;
}

/* Grows a scratch stack (elements of size sz) so that one more element fits; it starts in the
** parser (local) and moves to the heap when that is full. */
static int reserve(void **arr, size_t *cap, size_t n, size_t sz, void *local) {
  if (n < *cap) return 0;
  size_t ncap = *cap * 2;
  if (ncap > SIZE_MAX / sz) return -1;
  void *a = *arr == local ? es_mem_alloc(ncap * sz) : es_mem_realloc(*arr, ncap * sz);
  if (!a) return -1;
  if (*arr == local) memcpy(a, local, n * sz);
  *arr = a;
  *cap = ncap;
  return 0;
}

/* ----------------------- Strings ----------------------- */

/* Length of the valid UTF-8 sequence starting at s (1..4), or 0 when it is invalid: overlong,
** a surrogate, above U+10FFFF, a stray continuation byte or truncated. */
static size_t utf8_len(const unsigned char *s, size_t n) {
  unsigned char c = s[0];
  size_t need;
  if (c < 0x80) return 1;
  if (c >= 0xC2 && c <= 0xDF) need = 2;
  else if (c >= 0xE0 && c <= 0xEF) need = 3;
  else if (c >= 0xF0 && c <= 0xF4) need = 4;
  else return 0;
  /* The second byte's range is what excludes overlongs (E0, F0), surrogates (ED), > U+10FFFF (F4). */
  unsigned char lo = c == 0xE0 ? 0xA0 : c == 0xF0 ? 0x90 : 0x80;
  unsigned char hi = c == 0xED ? 0x9F : c == 0xF4 ? 0x8F : 0xBF;
  if (n < need || s[1] < lo || s[1] > hi) return 0;
  for (size_t i = 2; i < need; i++)
    if (s[i] < 0x80 || s[i] > 0xBF) return 0;
  return need;
}

int es_utf8_valid(const char *s, size_t n) {
  const unsigned char *u = (const unsigned char *)s;
  for (size_t i = 0, k; i < n; i += k)
    if (!(k = utf8_len(u + i, n - i))) return 0;
  return 1;
}

/* Encodes a code point (not a surrogate) as UTF-8 into out when not NULL; returns its length. */
static size_t utf8_put(uint32_t cp, char *out) {
  static const unsigned char lead[] = {0, 0x00, 0xC0, 0xE0, 0xF0};
  size_t n = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
  if (out) {
    for (size_t i = n - 1; i > 0; i--, cp >>= 6) out[i] = (char)(0x80 | (cp & 0x3F));
    out[0] = (char)(lead[n] | cp);
  }
  return n;
}

/* Reads the four hex digits of a \u escape starting at offset at. */
static int hex4(parser *p, size_t at, uint32_t *cp) {
  uint32_t v = 0;
  for (size_t i = at; i < at + 4; i++) {
    if (i >= p->len) return fail(p, p->len, MSG_END);
    unsigned char c = p->s[i];
    int d = c >= '0' && c <= '9' ? c - '0' : (c | 0x20) >= 'a' && (c | 0x20) <= 'f' ? (c | 0x20) - 'a' + 10 : -1;
    if (d < 0) return fail(p, i, "invalid \\u escape");
    v = v << 4 | (uint32_t)d;
  }
  *cp = v;
  return 0;
}

/* Decodes the \u escape at offset at (a surrogate pair takes two) into a code point; *next is
** the offset after it. Lone or mis-paired surrogates are refused at the first backslash. */
static int unicode_escape(parser *p, size_t at, uint32_t *cp, size_t *next) {
  uint32_t hi, lo;
  size_t i = at + 6;
  if (hex4(p, at + 2, &hi)) return -1;
  if (hi >= 0xDC00 && hi <= 0xDFFF) return fail(p, at, "unpaired surrogate");
  if (hi < 0xD800 || hi > 0xDBFF) {
    *cp = hi;
    *next = i;
    return 0;
  }
  if (i >= p->len || (p->s[i] == '\\' && i + 1 >= p->len)) return fail(p, p->len, MSG_END);
  if (p->s[i] != '\\' || p->s[i + 1] != 'u') return fail(p, at, "unpaired surrogate");
  if (hex4(p, i + 2, &lo)) return -1;
  if (lo < 0xDC00 || lo > 0xDFFF) return fail(p, at, "unpaired surrogate");
  *cp = 0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00);
  *next = i + 6;
  return 0;
}

/* Decodes the escape whose backslash is at *i, appending to out (when not NULL) at *k. */
static int escape(parser *p, size_t *i, char *out, size_t *k) {
  static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
  size_t at = *i;
  if (at + 1 >= p->len) return fail(p, p->len, MSG_END);
  unsigned char c = p->s[at + 1];
  const char *m = memchr(from, c, sizeof from - 1);
  if (m) {
    if (out) out[*k] = to[m - from];
    *k += 1;
    *i = at + 2;
    return 0;
  }
  if (c != 'u') return fail(p, at + 1, "invalid escape");
  uint32_t cp;
  if (unicode_escape(p, at, &cp, i)) return -1;
  *k += utf8_put(cp, out ? out + *k : NULL);
  return 0;
}

/* Walks the string whose opening quote is at p->pos, validating it (out == NULL) or writing its
** decoded bytes to out (a second walk, once valid): one routine, so both walks agree. *n gets
** the decoded length and *end the offset after the closing quote. */
static int scan_string(parser *p, char *out, size_t *n, size_t *end) {
  size_t i = p->pos + 1, k = 0;
  for (;;) {
    if (i >= p->len) return fail(p, p->len, MSG_END);
    unsigned char c = p->s[i];
    if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') { /* the usual byte: itself */
      if (out) out[k] = (char)c;
      i++;
      k++;
      continue;
    }
    if (c == '"') break;
    if (c == '\\') {
      if (escape(p, &i, out, &k)) return -1;
      continue;
    }
    if (c < 0x20) return fail(p, i, "control character in string");
    size_t m = utf8_len(p->s + i, p->len - i);
    if (!m) return fail(p, i, "invalid UTF-8");
    if (out) memcpy(out + k, p->s + i, m);
    i += m;
    k += m;
  }
  *n = k;
  *end = i + 1;
  return 0;
}

/* Decodes the string at p->pos into the arena (NUL-terminated) and moves past it. A string whose
** decoded length is its raw length has no escape (each one is shorter than its text): it is
** copied as it stands. */
static int decode_string(parser *p, char **z, size_t *n) {
  size_t end;
  if (scan_string(p, NULL, n, &end)) return -1;
  *z = arena_alloc(p->doc, *n + 1);
  if (!*z) return nomem(p);
  if (*n == end - p->pos - 2) memcpy(*z, p->s + p->pos + 1, *n);
  else (void)scan_string(p, *z, n, &end);
  (*z)[*n] = 0;
  p->pos = end;
  return 0;
}

static int parse_string(parser *p, es_json **out) {
  size_t start = p->pos, n;
  char *z;
  if (decode_string(p, &z, &n)) return -1;
  if (!(*out = new_node(p, ES_JSON_STRING, start))) return nomem(p);
  (*out)->u.str.s = z;
  (*out)->u.str.n = n;
  return 0;
}

/* ----------------------- Numbers and literals ----------------------- */

static int is_digit(parser *p, size_t i) { return i < p->len && p->s[i] >= '0' && p->s[i] <= '9'; }

/* One or more digits at *i (a fraction or an exponent needs at least one). */
static int digits(parser *p, size_t *i) {
  if (!is_digit(p, *i)) return *i >= p->len ? fail(p, p->len, MSG_END) : fail(p, *i, "invalid number");
  while (is_digit(p, *i)) *i += 1;
  return 0;
}

/* Checks the number grammar from p->pos; *end is the offset after the literal. */
static int scan_number(parser *p, size_t *end, int *is_int) {
  size_t i = p->pos;
  *is_int = 1;
  if (p->s[i] == '-') i++;
  if (i < p->len && p->s[i] == '0') {
    if (is_digit(p, i + 1)) return fail(p, i, "leading zero in number");
    i++;
  } else if (digits(p, &i)) return -1;
  if (i < p->len && p->s[i] == '.') {
    *is_int = 0;
    i++;
    if (digits(p, &i)) return -1;
  }
  if (i < p->len && (p->s[i] == 'e' || p->s[i] == 'E')) {
    *is_int = 0;
    i++;
    if (i < p->len && (p->s[i] == '+' || p->s[i] == '-')) i++;
    if (digits(p, &i)) return -1;
  }
  *end = i;
  return 0;
}

/* Stores the value of a validated integer literal; returns 0 when it does not fit int64. */
static int to_int(const unsigned char *s, size_t n, int64_t *out) {
  int neg = s[0] == '-';
  uint64_t lim = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX, v = 0;
  for (size_t i = (size_t)neg; i < n; i++) {
    unsigned d = (unsigned)(s[i] - '0');
    if (v > (lim - d) / 10) return 0;
    v = v * 10 + d;
  }
  *out = !neg ? (int64_t)v : v > (uint64_t)INT64_MAX ? INT64_MIN : -(int64_t)v;
  return 1;
}

/* strtod needs a NUL-terminated copy. It follows the locale's decimal point, but the grammar was
** checked with '.', which is right in the C locale that SQLite runs under; a locale that stops
** strtod early is caught by the end check and refused rather than misread. */
static int to_real(parser *p, size_t start, size_t n, double *out) {
  char local[NUMBUF_SIZE], *buf = local, *end;
  int rc = 0;
  if (n >= sizeof local && !(buf = es_mem_alloc(n + 1))) return nomem(p);
  memcpy(buf, p->s + start, n);
  buf[n] = 0;
  *out = strtod(buf, &end);
  if (end != buf + n) rc = fail(p, start, "invalid number");
  else if (isinf(*out)) rc = fail(p, start, "number out of range");
  if (buf != local) es_mem_free(buf);
  return rc;
}

static int parse_number(parser *p, es_json **out) {
  size_t start = p->pos, end;
  int is_int;
  int64_t i = 0;
  double r = 0;
  if (scan_number(p, &end, &is_int)) return -1;
  if (is_int) is_int = to_int(p->s + start, end - start, &i);
  if (!is_int && to_real(p, start, end - start, &r)) return -1;
  p->pos = end;
  if (!(*out = new_node(p, is_int ? ES_JSON_INT : ES_JSON_REAL, start))) return nomem(p);
  if (is_int) (*out)->u.i = i;
  else (*out)->u.r = r;
  return 0;
}

/* Exponents are read up to this magnitude and saturate there: any nonzero digit scaled that far
** is out of int64 range or below 1, and the position arithmetic below stays far from overflow. */
#define EXP_CAP ((int64_t)1 << 60)

/* Digit j of a literal's integer digits followed by its fraction digits, as a value 0..9. */
static unsigned digit_at(const unsigned char *int_digits, size_t n_int, const unsigned char *frac_digits, size_t j) {
  return (unsigned)((j < n_int ? int_digits[j] : frac_digits[j - n_int]) - '0');
}

/* The exact value of a validated number literal s[0..n) when it is an integer int64 holds, read
** from its digits and exponent: a double would round 9007199254740993.0 to ...992 and 1e-400 to
** 0. Returns 1 and *out, else 0. */
static int exact_int(const unsigned char *s, size_t n, int64_t *out) {
  size_t i = 0, n_int, n_frac = 0, first, last;
  const unsigned char *int_digits, *frac_digits = s;
  int neg = 0;
  int64_t e = 0;
  if ((uint64_t)n >= (uint64_t)EXP_CAP) return 0; /* no such text fits in memory; keeps the sums below exact */
  if (i < n && s[i] == '-') {
    neg = 1;
    i++;
  }
  for (int_digits = s + i; i < n && s[i] >= '0' && s[i] <= '9'; i++) {}
  n_int = (size_t)(s + i - int_digits);
  if (i < n && s[i] == '.') {
    for (frac_digits = s + ++i; i < n && s[i] >= '0' && s[i] <= '9'; i++) {}
    n_frac = (size_t)(s + i - frac_digits);
  }
  if (i < n && (s[i] == 'e' || s[i] == 'E')) {
    int e_neg = 0;
    if (++i < n && (s[i] == '+' || s[i] == '-')) e_neg = s[i++] == '-';
    for (; i < n && s[i] >= '0' && s[i] <= '9'; i++) {
      int64_t d = s[i] - '0';
      e = e > (EXP_CAP - d) / 10 ? EXP_CAP : e * 10 + d;
    }
    if (e_neg) e = -e;
  }
  /* The significant digits run from first to last (the first and last nonzero ones); the last
  ** one's place value is 10^place. */
  for (first = 0; first < n_int + n_frac && !digit_at(int_digits, n_int, frac_digits, first); first++) {}
  if (first == n_int + n_frac) { /* zero, whatever its sign and exponent */
    *out = 0;
    return 1;
  }
  for (last = n_int + n_frac - 1; !digit_at(int_digits, n_int, frac_digits, last); last--) {}
  int64_t place = (int64_t)n_int - 1 - (int64_t)last + e;
  int64_t sig = (int64_t)(last - first) + 1;
  if (place < 0 || sig + place > 19) return 0; /* a fraction, or 10^19 and above */
  uint64_t lim = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX, v = 0;
  for (size_t j = first; j <= last; j++) {
    unsigned d = digit_at(int_digits, n_int, frac_digits, j);
    if (v > (lim - d) / 10) return 0;
    v = v * 10 + d;
  }
  for (; place > 0; place--) {
    if (v > lim / 10) return 0;
    v *= 10;
  }
  *out = !neg ? (int64_t)v : v > (uint64_t)INT64_MAX ? INT64_MIN : -(int64_t)v;
  return 1;
}

int es_json_int64(const es_json *v, int64_t *out) {
  if (v && v->kind == ES_JSON_INT) {
    *out = v->u.i;
    return 1;
  }
  return v && v->kind == ES_JSON_REAL && exact_int((const unsigned char *)v->raw, v->raw_len, out);
}

static int parse_literal(parser *p, const char *word, es_json_kind kind, es_json **out) {
  size_t start = p->pos;
  for (; *word; word++, p->pos++)
    if (p->pos >= p->len || p->s[p->pos] != (unsigned char)*word) return fail_here(p, NULL);
  if (!(*out = new_node(p, kind, start))) return nomem(p);
  return 0;
}

/* ----------------------- Arrays ----------------------- */

static int parse_value(parser *p, unsigned depth, es_json **out);

/* Moves the items of the array being closed from the scratch stack into its node. */
static int close_array(parser *p, size_t start, size_t base, es_json **out) {
  size_t n = p->n_items - base;
  es_json **items = NULL;
  if (n && !(items = arena_alloc(p->doc, n * sizeof *items))) return nomem(p);
  if (n) memcpy(items, p->items + base, n * sizeof *items);
  p->n_items = base;
  if (!(*out = new_node(p, ES_JSON_ARRAY, start))) return nomem(p);
  (*out)->u.arr.items = items;
  (*out)->u.arr.n = n;
  return 0;
}

static int parse_array(parser *p, unsigned depth, es_json **out) {
  size_t start = p->pos, base = p->n_items;
  p->pos++;
  skip_ws(p);
  if (p->pos < p->len && p->s[p->pos] == ']') {
    p->pos++;
    return close_array(p, start, base, out);
  }
  for (;;) {
    es_json *v;
    if (parse_value(p, depth + 1, &v)) return -1;
    if (reserve((void **)&p->items, &p->cap_items, p->n_items, sizeof *p->items, p->local_items)) return nomem(p);
    p->items[p->n_items++] = v;
    skip_ws(p);
    if (p->pos < p->len && p->s[p->pos] == ']') {
      p->pos++;
      return close_array(p, start, base, out);
    }
    if (p->pos >= p->len || p->s[p->pos] != ',') return fail_here(p, "expected ',' or ']'");
    p->pos++;
    skip_ws(p);
  }
}

/* ----------------------- Objects and the key set ----------------------- */

/* FNV-1a: cheap for short keys. Not seeded, so keys crafted to collide can still make one
** object's key checks quadratic; the input size bounds that. */
static size_t hash_key(const char *k, size_t n) {
  uint64_t h = 14695981039346656037u;
  for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)k[i]) * 1099511628211u;
  return (size_t)(h ^ h >> 32);
}

/* The slot holding a member of the current object (index >= base) with that key, else the
** empty slot where the probe stopped. */
static size_t keyset_find(const parser *p, const char *k, size_t n, size_t base, int *found) {
  size_t mask = p->cap_slots - 1, h = hash_key(k, n) & mask;
  *found = 0;
  for (; p->slots[h]; h = (h + 1) & mask) {
    const es_json_member *m = &p->mems[p->slots[h] - 1];
    if (p->slots[h] - 1 >= base && m->key_len == n && memcmp(m->key, k, n) == 0) {
      *found = 1;
      break;
    }
  }
  return h;
}

/* Doubles the key set, re-inserting members in stack order so that removing the most recent
** members by emptying their slots (see keyset_pop) stays exact with linear probing. */
static int keyset_grow(parser *p) {
  size_t cap = p->cap_slots ? p->cap_slots * 2 : LOCAL_SLOTS;
  if (cap > SIZE_MAX / sizeof(size_t)) return -1;
  size_t *slots = cap == LOCAL_SLOTS ? p->local_slots : es_mem_alloc(cap * sizeof *slots);
  if (!slots) return -1;
  memset(slots, 0, cap * sizeof *slots);
  if (p->slots != p->local_slots) es_mem_free(p->slots);
  p->slots = slots;
  p->cap_slots = cap;
  for (size_t i = 0; i < p->n_mems; i++) {
    size_t h = hash_key(p->mems[i].key, p->mems[i].key_len) & (cap - 1);
    while (slots[h]) h = (h + 1) & (cap - 1);
    slots[h] = i + 1;
  }
  return 0;
}

/* Forgets the members of the object being closed, newest first: with linear probing, emptying
** the slot of the most recently inserted entry restores exactly the set before it. */
static void keyset_pop(parser *p, size_t base) {
  size_t mask = p->cap_slots - 1;
  for (size_t i = p->n_mems; i-- > base;) {
    size_t h = hash_key(p->mems[i].key, p->mems[i].key_len) & mask;
    while (p->slots[h] != i + 1) h = (h + 1) & mask;
    p->slots[h] = 0;
  }
}

/* Pushes a member with this key (not yet a value) onto the scratch stack and the key set,
** refusing a key already used in the current object (members from index base). */
static int push_key(parser *p, size_t at, const char *k, size_t n, size_t base) {
  int found;
  if (reserve((void **)&p->mems, &p->cap_mems, p->n_mems, sizeof *p->mems, p->local_mems)) return nomem(p);
  if ((p->n_mems + 1) * 2 > p->cap_slots && keyset_grow(p)) return nomem(p);
  size_t h = keyset_find(p, k, n, base, &found);
  if (found) {
    p->dup = k;
    p->dup_len = n;
    return fail(p, at, NULL);
  }
  p->mems[p->n_mems] = (es_json_member){k, n, NULL};
  p->slots[h] = ++p->n_mems;
  return 0;
}

static int parse_member(parser *p, unsigned depth, size_t base) {
  size_t at = p->pos, n, idx = p->n_mems;
  char *k;
  es_json *v;
  if (p->pos >= p->len || p->s[p->pos] != '"') return fail_here(p, "expected a string key");
  if (decode_string(p, &k, &n) || push_key(p, at, k, n, base)) return -1;
  skip_ws(p);
  if (p->pos >= p->len || p->s[p->pos] != ':') return fail_here(p, "expected ':' after object key");
  p->pos++;
  skip_ws(p);
  if (parse_value(p, depth + 1, &v)) return -1;
  p->mems[idx].value = v; /* not through a pointer: nested objects may move the stack */
  return 0;
}

/* Moves the members of the object being closed from the scratch stack into its node. */
static int close_object(parser *p, size_t start, size_t base, es_json **out) {
  size_t n = p->n_mems - base;
  es_json_member *mems = NULL;
  if (n && !(mems = arena_alloc(p->doc, n * sizeof *mems))) return nomem(p);
  if (n) {
    memcpy(mems, p->mems + base, n * sizeof *mems);
    keyset_pop(p, base);
  }
  p->n_mems = base;
  if (!(*out = new_node(p, ES_JSON_OBJECT, start))) return nomem(p);
  (*out)->u.obj.members = mems;
  (*out)->u.obj.n = n;
  return 0;
}

static int parse_object(parser *p, unsigned depth, es_json **out) {
  size_t start = p->pos, base = p->n_mems;
  p->pos++;
  skip_ws(p);
  if (p->pos < p->len && p->s[p->pos] == '}') {
    p->pos++;
    return close_object(p, start, base, out);
  }
  for (;;) {
    if (parse_member(p, depth, base)) return -1;
    skip_ws(p);
    if (p->pos < p->len && p->s[p->pos] == '}') {
      p->pos++;
      return close_object(p, start, base, out);
    }
    if (p->pos >= p->len || p->s[p->pos] != ',') return fail_here(p, "expected ',' or '}'");
    p->pos++;
    skip_ws(p);
  }
}

/* ----------------------- Values and documents ----------------------- */

/* Parses the value at p->pos (whitespace already skipped); depth counts the open containers. */
static int parse_value(parser *p, unsigned depth, es_json **out) {
  if (p->pos >= p->len) return fail(p, p->len, MSG_END);
  unsigned char c = p->s[p->pos];
  if ((c == '[' || c == '{') && depth >= ES_JSON_MAX_DEPTH) return fail(p, p->pos, MSG_DEPTH);
  switch (c) {
    case '[': return parse_array(p, depth, out);
    case '{': return parse_object(p, depth, out);
    case '"': return parse_string(p, out);
    case 'n': return parse_literal(p, "null", ES_JSON_NULL, out);
    case 't': return parse_literal(p, "true", ES_JSON_TRUE, out);
    case 'f': return parse_literal(p, "false", ES_JSON_FALSE, out);
    default:
      if (c == '-' || (c >= '0' && c <= '9')) return parse_number(p, out);
      return fail(p, p->pos, NULL);
  }
}

/* The document of an earlier parse made ready for an input of len bytes: emptied (its chunks but
** the first freed), or replaced by a new one when its first chunk is smaller than a new document's
** would be. NULL when there is no memory (doc is freed). */
static es_json_doc *doc_reuse(es_json_doc *doc, size_t len) {
  if (!doc) return doc_new(len);
  if (doc->first->cap < first_chunk_size(len)) {
    es_json_free(doc);
    return doc_new(len);
  }
  for (chunk *c = doc->head, *next; c; c = next) {
    next = c->next;
    if (c != doc->first) es_mem_free(c);
  }
  doc->first->next = NULL;
  doc->first->used = 0;
  doc->head = doc->first;
  doc->next_size = ARENA_FIRST_CHUNK;
  doc->root = NULL;
  return doc;
}

/* Parses into doc (a new or emptied document, owned from here on); see es_json_parse. */
static es_status parse_doc(const char *text, size_t len, es_json_doc *doc, es_json_doc **out, char **errmsg) {
  parser p;
  es_json *root = NULL;
  memset(&p, 0, offsetof(parser, local_items)); /* the local stacks need no clearing */
  p.s = (const unsigned char *)text;
  p.len = len;
  p.items = p.local_items;
  p.cap_items = LOCAL_ITEMS;
  p.mems = p.local_mems;
  p.cap_mems = LOCAL_MEMS;
  *out = NULL;
  if (errmsg) *errmsg = NULL;
  if (!(p.doc = doc)) return ES_NOMEM;
  skip_ws(&p);
  if (parse_value(&p, 0, &root) == 0) {
    skip_ws(&p);
    if (p.pos < p.len) (void)fail(&p, p.pos, "trailing characters after the value");
  }
  if (p.rc == ES_OK) {
    p.doc->root = root;
    *out = p.doc;
    p.doc = NULL;
  } else if (p.rc == ES_INVALID_PAYLOAD && errmsg && !(*errmsg = format_error(&p))) {
    p.rc = ES_NOMEM;
  }
  if (p.items != p.local_items) es_mem_free(p.items);
  if (p.mems != p.local_mems) es_mem_free(p.mems);
  if (p.slots != p.local_slots) es_mem_free(p.slots);
  es_json_free(p.doc);
  return p.rc;
}

es_status es_json_parse(const char *text, size_t len, es_json_doc **out, char **errmsg) {
  return parse_doc(text, len, doc_new(len), out, errmsg);
}

es_status es_json_parse_again(const char *text, size_t len, es_json_doc **doc, char **errmsg) {
  es_json_doc *d = *doc;
  *doc = NULL;
  return parse_doc(text, len, doc_reuse(d, len), doc, errmsg);
}

const es_json *es_json_get(const es_json *o, const char *key) {
  if (!o || o->kind != ES_JSON_OBJECT || !key) return NULL;
  size_t n = strlen(key);
  for (size_t i = 0; i < o->u.obj.n; i++) {
    const es_json_member *m = &o->u.obj.members[i];
    if (m->key_len == n && memcmp(m->key, key, n) == 0) return m->value;
  }
  return NULL;
}

const char *es_json_kind_name(es_json_kind k) {
  switch (k) {
    case ES_JSON_NULL: return "null";
    case ES_JSON_FALSE:
    case ES_JSON_TRUE: return "boolean";
    case ES_JSON_INT: return "integer";
    case ES_JSON_REAL: return "number";
    case ES_JSON_STRING: return "string";
    case ES_JSON_ARRAY: return "array";
    case ES_JSON_OBJECT: return "object";
  }
  return "unknown";
}

/* ----------------------- Writing JSON ----------------------- */

void es_jbuf_init(es_jbuf *b) {
  b->z = NULL;
  b->n = 0;
  b->cap = 0;
  b->status = ES_OK;
}

void es_jbuf_reset(es_jbuf *b) {
  es_mem_free(b->z);
  es_jbuf_init(b);
}

es_status es_jbuf_status(const es_jbuf *b) { return b->status; }

/* Makes room for n more bytes plus the NUL; on failure the buffer drops its text for good. */
static int jbuf_reserve(es_jbuf *b, size_t n) {
  if (b->status != ES_OK) return -1;
  if (n < b->cap - b->n) return 0; /* cap > n whenever z is set: room for the NUL */
  size_t cap = b->cap ? b->cap : 64;
  while (cap - b->n <= n && cap <= SIZE_MAX / 2) cap *= 2;
  char *z = cap - b->n > n ? es_mem_realloc(b->z, cap) : NULL;
  if (!z) {
    es_mem_free(b->z);
    b->z = NULL;
    b->n = b->cap = 0;
    b->status = ES_NOMEM;
    return -1;
  }
  b->z = z;
  b->cap = cap;
  return 0;
}

void es_jbuf_append(es_jbuf *b, const char *s, size_t n) {
  if (jbuf_reserve(b, n)) return;
  if (n) memcpy(b->z + b->n, s, n);
  b->n += n;
  b->z[b->n] = 0;
}

void es_jbuf_appendz(es_jbuf *b, const char *s) { es_jbuf_append(b, s, strlen(s)); }

void es_jbuf_string(es_jbuf *b, const char *s, size_t n) {
  static const char hex[] = "0123456789abcdef", from[] = "\"\\\b\f\n\r\t", to[] = "\"\\bfnrt";
  size_t run = 0; /* start of the bytes not yet written, which need no escaping */
  es_jbuf_append(b, "\"", 1);
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    es_jbuf_append(b, s + run, i - run);
    run = i + 1;
    const char *m = memchr(from, c, sizeof from - 1);
    char esc[6] = {'\\', m ? to[m - from] : 'u', '0', '0', hex[c >> 4], hex[c & 15]};
    es_jbuf_append(b, esc, m ? 2 : 6);
  }
  es_jbuf_append(b, s + run, n - run);
  es_jbuf_append(b, "\"", 1);
}

void es_jbuf_int(es_jbuf *b, int64_t v) {
  char buf[24];
  int n = snprintf(buf, sizeof buf, "%lld", (long long)v);
  es_jbuf_append(b, buf, (size_t)n);
}

/* %.17g always round-trips, but often prints noise (0.1 → 0.10000000000000001), so the first
** precision that reads back exactly wins. %g never yields a form JSON refuses for finite values
** (no leading '.', no bare '.', exponents like e+300 are valid). Assumes the C locale, as the
** parser does. */
void es_jbuf_real(es_jbuf *b, double v) {
  char buf[32];
  int n = 0;
  if (!isfinite(v)) {
    es_jbuf_append(b, "null", 4);
    return;
  }
  for (int prec = 15; prec <= 17; prec++) {
    n = snprintf(buf, sizeof buf, "%.*g", prec, v);
    if (strtod(buf, NULL) == v) break;
  }
  es_jbuf_append(b, buf, (size_t)n);
}

char *es_jbuf_take(es_jbuf *b, size_t *len) {
  char *z = NULL;
  if (b->status == ES_OK) z = b->z ? b->z : es_mem_strndup("", 0);
  if (len) *len = z ? b->n : 0;
  if (z == b->z) b->z = NULL; /* ownership passes to the caller */
  es_jbuf_reset(b);
  return z;
}
