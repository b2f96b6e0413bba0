/*
** integrity.h — what es_integrity_check reports: the rules a sound event store obeys, one kind
** per rule, and the report (one row per problem, in plain words, or a single `ok`). The store walks
** the log, the guards, the checkpoints, the definitions and the read models, and adds a row for
** each rule broken; it never repairs anything.
*/
#ifndef ES_DOMAIN_INTEGRITY_H
#define ES_DOMAIN_INTEGRITY_H

#include <stddef.h>

/* X(kind, name, the rule) */
#define ES_INTEGRITY_KINDS(X)                                                                                  \
  X(ES_IC_OK, "ok", "nothing is wrong")                                                                        \
  X(ES_IC_STORAGE, "storage", "the storage is complete, of this build's format, its tables as sqlite-es made them") \
  X(ES_IC_GUARD_MISSING, "guard_missing", "every guard trigger is present")                                    \
  X(ES_IC_GUARD_CHANGED, "guard_changed", "every guard trigger says what sqlite-es installed")                 \
  X(ES_IC_COLUMN_DROPPABLE, "column_droppable", "no column of a guarded table can be dropped")                 \
  X(ES_IC_POSITIONS, "positions", "positions are 1..n with no gap, n being the last position given")          \
  X(ES_IC_VERSIONS, "versions", "each stream's versions are 1..n in log order")                               \
  X(ES_IC_COMMANDS, "commands", "each recorded command id has its events, and each event's command id is recorded") \
  X(ES_IC_CHECKPOINT, "checkpoint", "no consumer's checkpoint is past the last position given")               \
  X(ES_IC_VIEW, "view", "each read model has its table and equals a fold of the log")    \
  X(ES_IC_DEFINITION, "definition", "every stored definition still compiles")                                 \
  X(ES_IC_NOT_CHECKED, "not_checked", "everything could be checked")

typedef enum es_integrity_kind {
#define ES_IC_ENUM(kind, name, rule) kind,
  ES_INTEGRITY_KINDS(ES_IC_ENUM)
#undef ES_IC_ENUM
} es_integrity_kind;

const char *es_integrity_kind_name(es_integrity_kind k);
const char *es_integrity_rule(es_integrity_kind k);

typedef struct es_integrity_row {
  es_integrity_kind kind;
  char *object;  /* the table, trigger, stream, command id, consumer or view concerned, or NULL */
  char *problem; /* in plain words */
} es_integrity_row;

typedef struct es_integrity_report {
  es_integrity_row *rows;
  size_t n, cap;
  int nomem; /* a row could not be added */
} es_integrity_report;

/* Add a row (problem formatted); object may be NULL. Returns 0 when out of memory. */
int es_integrity_add(es_integrity_report *r, es_integrity_kind kind, const char *object, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* When no row was added: the single row `ok`. */
int es_integrity_finish(es_integrity_report *r);
void es_integrity_clear(es_integrity_report *r);

#endif
