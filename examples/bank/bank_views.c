/*
** bank_views.c — the bank's two read models as C views, in their own loadable extension
** (`.load ./dist/es`, `.load ./dist/bank`, then `.load ./dist/bank_views`). The same tables as
** sql/bank_views.sql defines in SQL: account_balances (one row per account) and
** account_history (one row per event, with the balance after it).
*/
#include <sqlite3ext.h>
SQLITE_EXTENSION_INIT1

#include <string.h>

#include "es.h"
#include "es_fetch_api.h"

/* ---- account_balances ---- */

static es_status balances_fold(void *user, const es_event *ev, es_view_writer *out) {
  const char *type = es_event_type(ev), *owner;
  const es_object *row = 0;
  int64_t amount = 0, balance, events;
  es_builder *b;
  es_status rc;
  (void)user;
  if (strcmp(type, "AccountOpened") == 0) {
    if ((rc = es_event_text(ev, "owner", &owner)) != ES_OK) return rc;
    b = es_view_row(out);
    es_set_text(b, "account_id", es_event_aggregate_id(ev));
    es_set_text(b, "owner", owner);
    es_set_int(b, "balance", 0);
    es_set_text(b, "status", "open");
    es_set_int(b, "events", 1);
    es_set_int(b, "last_version", es_event_version(ev));
    return es_view_insert(out);
  }
  es_set_text(es_view_row(out), "account_id", es_event_aggregate_id(ev));
  if ((rc = es_view_find(out, &row)) != ES_OK) return rc;
  if (!row) return ES_OK; /* an account this view never saw opened: nothing to update */
  if ((rc = es_get_int(row, "balance", &balance)) != ES_OK || (rc = es_get_int(row, "events", &events)) != ES_OK)
    return rc;
  if (strcmp(type, "Deposited") == 0 || strcmp(type, "Withdrawn") == 0) {
    if ((rc = es_event_int(ev, "amount", &amount)) != ES_OK) return rc;
    balance += type[0] == 'D' ? amount : -amount;
  }
  b = es_view_row(out);
  es_set_text(b, "account_id", es_event_aggregate_id(ev));
  es_set_int(b, "balance", balance);
  es_set_int(b, "events", events + 1);
  es_set_int(b, "last_version", es_event_version(ev));
  if (strcmp(type, "AccountClosed") == 0) es_set_text(b, "status", "closed");
  return es_view_upsert(out);
}

static const char *const balance_events[] = {"AccountOpened", "Deposited", "Withdrawn", "AccountClosed"};

static const es_view_type balances_view = {
    .iVersion = 1,
    .name = "account_balances",
    .columns = "account_id TEXT PRIMARY KEY, owner TEXT NOT NULL, balance INTEGER NOT NULL, status TEXT NOT NULL,"
               " events INTEGER NOT NULL, last_version INTEGER NOT NULL",
    .event_types = balance_events,
    .n_event_types = 4,
    .fold = balances_fold,
};

/* ---- account_history ---- */

static es_status history_fold(void *user, const es_event *ev, es_view_writer *out) {
  const char *type = es_event_type(ev);
  const es_object *last = 0;
  int64_t amount = 0, balance = 0;
  int has_amount = strcmp(type, "Deposited") == 0 || strcmp(type, "Withdrawn") == 0;
  es_status rc;
  (void)user;
  if (has_amount && (rc = es_event_int(ev, "amount", &amount)) != ES_OK) return rc;
  es_set_text(es_view_row(out), "account_id", es_event_aggregate_id(ev));
  if ((rc = es_view_find(out, &last)) != ES_OK) return rc; /* the account's latest row */
  if (last && (rc = es_get_int(last, "balance_after", &balance)) != ES_OK) return rc;
  balance += type[0] == 'D' ? amount : type[0] == 'W' ? -amount : 0;
  es_builder *b = es_view_row(out);
  es_set_int(b, "position", es_event_position(ev));
  es_set_text(b, "account_id", es_event_aggregate_id(ev));
  es_set_text(b, "type", type);
  if (has_amount) es_set_int(b, "amount", amount);
  else es_set_null(b, "amount");
  es_set_int(b, "balance_after", balance);
  return es_view_insert(out);
}

static const char *const history_indexes[] = {"account_id"}; /* for the account's latest row */

static const es_view_type history_view = {
    .iVersion = 1,
    .name = "account_history",
    .columns = "position INTEGER PRIMARY KEY, account_id TEXT NOT NULL, type TEXT NOT NULL, amount INTEGER,"
               " balance_after INTEGER NOT NULL",
    .event_types = balance_events,
    .n_event_types = 4,
    .fold = history_fold,
    .indexes = history_indexes,
    .n_indexes = 1,
};

ES_API int sqlite3_bankviews_init(sqlite3 *db, char **pzErrMsg, const sqlite3_api_routines *pApi) {
  SQLITE_EXTENSION_INIT2(pApi);
  es_api *api = es_fetch_api(db);
  if (!api || api->iVersion < 1 || !api->xRegisterView) {
    *pzErrMsg = sqlite3_mprintf("bank_views: load sqlite-es first (.load ./dist/es)");
    return SQLITE_ERROR;
  }
  if (api->xRegisterView(api, &balances_view, 0, 0) != ES_OK) goto fail;
  if (api->xRegisterView(api, &history_view, 0, 0) != ES_OK) {
    *pzErrMsg = sqlite3_mprintf("bank_views: %s", api->xErrmsg(api));
    api->xUnregisterView(api, balances_view.name); /* this library is about to be unloaded */
    return SQLITE_ERROR;
  }
  return SQLITE_OK;
fail:
  *pzErrMsg = sqlite3_mprintf("bank_views: %s", api->xErrmsg(api));
  return SQLITE_ERROR;
}
