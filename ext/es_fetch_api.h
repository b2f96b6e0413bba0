/*
** es_fetch_api.h — es_fetch_api(db): the es_api of a connection sqlite-es is loaded into, or NULL.
** Header-only, for other extensions: include it after sqlite3ext.h (or sqlite3.h) and es.h, so its
** sqlite3_* calls go wherever the includer's do.
*/
#ifndef ES_FETCH_API_H
#define ES_FETCH_API_H

static inline es_api *es_fetch_api(sqlite3 *db) {
  es_api *api = 0;
  sqlite3_stmt *st = 0;
  if (sqlite3_prepare_v2(db, "SELECT es_api(?1)", -1, &st, 0) == SQLITE_OK) {
    sqlite3_bind_pointer(st, 1, (void *)&api, "es_api_ptr", 0);
    sqlite3_step(st);
  }
  sqlite3_finalize(st);
  return api;
}

#endif
