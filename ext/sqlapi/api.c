/* api.c — the es_api struct handed to other extensions (es.h): registration and memory. */
#include <string.h>

#include "../domain/mem.h"
#include "conn.h"
#include "../es_fetch_api.h" /* after conn.h: it needs es.h and SQLite */

static es_status api_register_aggregate(es_api *api, const es_aggregate_type *type, void *user,
                                        void (*xDestroy)(void *)) {
  es_api_impl *impl = (es_api_impl *)api;
  es_error err = {0};
  es_status rc;
  if (impl->conn->running) {
    rc = es_error_set(&err, ES_MISUSE, "aggregate types cannot be registered from inside a command");
    if (xDestroy) xDestroy(user);
  } else {
    es_conn_registry_changing(impl->conn);
    rc = es_registry_add(impl->conn->registry, type, user, xDestroy, &err);
  }
  es_mem_free(impl->errmsg);
  impl->errmsg = rc == ES_OK ? 0 : es_error_format(&err);
  es_error_clear(&err);
  return rc;
}

static es_status api_register_view(es_api *api, const es_view_type *type, void *user, void (*xDestroy)(void *)) {
  es_api_impl *impl = (es_api_impl *)api;
  es_conn *c = impl->conn;
  es_error err = {0};
  es_status rc;
  if (c->running) {
    rc = es_error_set(&err, ES_MISUSE, "view types cannot be registered from inside a command");
    if (xDestroy) xDestroy(user);
  } else {
    rc = es_registry_add_view(c->registry, type, user, xDestroy, &err);
    /* Defining a view when events exist builds it at once, in one transaction. If that fails, the
    ** registration is undone: an extension whose init fails is unloaded, callbacks and all. */
    if (rc == ES_OK && (rc = es_attach_views_now(c, &err)) != ES_OK) es_registry_remove_view(c->registry, type->name);
  }
  es_mem_free(impl->errmsg);
  impl->errmsg = rc == ES_OK ? 0 : es_error_format(&err);
  es_error_clear(&err);
  return rc;
}

static es_status api_unregister_view(es_api *api, const char *name) {
  es_api_impl *impl = (es_api_impl *)api;
  if (impl->conn->running || !name) return ES_MISUSE;
  return es_registry_remove_view(impl->conn->registry, name) ? ES_OK : ES_UNKNOWN_VIEW;
}

static const char *api_errmsg(es_api *api) {
  es_api_impl *impl = (es_api_impl *)api;
  return impl->errmsg ? impl->errmsg : "not an error";
}

static void *api_malloc(es_api *api, size_t n) {
  (void)api;
  return es_mem_alloc(n);
}

static void api_free(es_api *api, void *p) {
  (void)api;
  es_mem_free(p);
}

void es_api_init(es_conn *c) {
  memset(&c->api, 0, sizeof(c->api));
  c->api.pub.iVersion = 1;
  c->api.pub.xRegisterAggregate = api_register_aggregate;
  c->api.pub.xErrmsg = api_errmsg;
  c->api.pub.xMalloc = api_malloc;
  c->api.pub.xFree = api_free;
  c->api.pub.xRegisterView = api_register_view;
  c->api.pub.xUnregisterView = api_unregister_view;
  c->api.conn = c;
}

void es_api_clear(es_conn *c) {
  es_mem_free(c->api.errmsg);
  c->api.errmsg = 0;
}

#ifdef ES_STATIC
es_api *es_api_from_db(sqlite3 *db) { return es_fetch_api(db); }
#endif
