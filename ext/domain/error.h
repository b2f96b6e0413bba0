/*
** error.h — a failure as the domain reports it: its kind (es_status), the aggregate's reason
** code for rejections, a message, and the storage's native error code when there is one.
*/
#ifndef ES_DOMAIN_ERROR_H
#define ES_DOMAIN_ERROR_H

#include "../es.h"

typedef struct es_error {
  es_status status;
  char *reason;     /* rejection reason code, else NULL */
  char *message;    /* human-readable detail, else NULL */
  int native_code;  /* e.g. SQLite's extended result code for ES_STORAGE/ES_BUSY, else 0 */
} es_error;

/* Name of a kind as used in messages and JSON ("rejected", "conflict", …). */
const char *es_status_name(es_status s);

/* Record a failure (first one wins; later ones are ignored). Returns s. On no memory the
** message is dropped and the status becomes ES_NOMEM. */
es_status es_error_set(es_error *e, es_status s, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
es_status es_error_setv(es_error *e, es_status s, const char *fmt, va_list ap);
es_status es_error_reject(es_error *e, const char *reason, const char *fmt, va_list ap);
void es_error_clear(es_error *e);
/* Put context in front of a recorded message ("view 'x' failed on …: " + message). */
void es_error_prefix(es_error *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* "es: <kind>[ (<reason>)]: <message>", allocated with es_mem_alloc (NULL on no memory). */
char *es_error_format(const es_error *e);

/* The kind named by a text "es: <kind>: <message>" (one of our errors that came back through
** SQLite: a guard's RAISE, a refused nested call), and where its message starts; ES_OK for any
** other text. Rejections ("es: rejected (<reason>): …") are not recognised: they carry a reason. */
es_status es_status_from_message(const char *text, const char **message);

#endif
