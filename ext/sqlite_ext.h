/*
** sqlite_ext.h — include this (not sqlite3.h) in every file outside ext/domain/ that calls
** sqlite3_*. In the loadable build calls go through the api table set up by es.c; in the static
** build (SQLITE_CORE) they are direct.
*/
#ifndef ES_SQLITE_EXT_H
#define ES_SQLITE_EXT_H

#ifdef SQLITE_CORE
#include <sqlite3.h>
#else
#include <sqlite3ext.h>
SQLITE_EXTENSION_INIT3
#endif

#endif
