/*
** sample_aggregates.h — small aggregate types written against the public API (ext/es.h) for the
** domain's unit tests. Their callbacks log every evolve in the order it ran, count xInit, xClear,
** decide and xDestroy through the user pointer, and allocate in xInit and in evolve (through
** es_mem_*), so a missing xClear shows up as a leak.
**
** "account" (state: owner, open, balance, events applied; xInit/xClear; xStateToJson):
**   Open {owner}          → Opened {owner}; rejected already_open
**   Deposit {amount}      → Deposited {amount}; returns the getter's ES_INVALID_PAYLOAD when amount
**                           is missing or not an integer; rejected not_open, invalid_amount
**   Withdraw {amount}     → Withdrawn {amount}; rejected not_open, invalid_amount, insufficient_funds
**   Split {amount,parts}  → parts × Deposited {amount} (several events)
**   Touch {}              → no event
**   Note {text}           → Noted {text} (a declared event type with no evolve)
**   Sneaky {}             → Deposited {amount:1}, then the undeclared "Stolen"; returns ES_OK
**   EmitNull {}           → es_emit(out, NULL)
**   Fail {status}         → returns that status (whatever it is), after emitting Noted
**   RejectPlain {}        → returns ES_REJECTED without es_reject
**   RejectDefault {}      → es_reject(out, NULL, NULL)
**   BadData {}            → Noted whose data has a field set with invalid JSON (es_set_json)
**   Mangle {}             → Noted {text:"caf\xff"}: text that is not UTF-8
** events: Opened, Deposited, Withdrawn, Noted (no evolve).
**
** "counter" (an int64 count; no xInit, xClear or xStateToJson):
**   Increment {} → Incremented {}
*/
#ifndef ES_SAMPLE_AGGREGATES_H
#define ES_SAMPLE_AGGREGATES_H

#include <stddef.h>
#include <stdint.h>

#include "../../ext/es.h"

/* Passed as the user pointer of both types. */
typedef struct sample_user {
  int destroyed; /* xDestroy calls */
  int inits;     /* xInit calls */
  int clears;    /* xClear calls */
  int decides;   /* decide calls, any command */
  es_status init_status;         /* xInit returns this once it has allocated (ES_OK normally) */
  int64_t evolve_fail_version;   /* evolve of the event with this version fails (0: never) */
  es_status evolve_fail_status;  /* … with this status */
} sample_user;

typedef struct account_state {
  char *tag;   /* allocated by xInit, freed by xClear */
  char *owner; /* allocated by the evolve of Opened */
  int open;
  int64_t balance;
  int64_t applied; /* events evolved into this state */
} account_state;

const es_aggregate_type *sample_account_type(void);
const es_aggregate_type *sample_counter_type(void);

/* The xDestroy to register with: counts into ((sample_user *)user)->destroyed. */
void sample_user_destroy(void *user);

/* The evolve log: "Type@version" of every evolve that ran, in order, comma-separated. */
void sample_log_reset(void);
const char *sample_log(void);
size_t sample_log_count(void);

#endif
