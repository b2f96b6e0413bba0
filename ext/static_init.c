/*
** static_init.c — for applications that compile sqlite-es in (the static variant, SQLITE_CORE):
** es_register_auto_extension() makes every connection opened afterwards load sqlite-es.
*/
#include <sqlite3.h>

#include "es.h"

int sqlite3_es_init(sqlite3 *db, char **pzErrMsg, const sqlite3_api_routines *pApi);

int es_register_auto_extension(void) { return sqlite3_auto_extension((void (*)(void))sqlite3_es_init); }
