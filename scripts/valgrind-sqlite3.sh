#!/bin/sh
# valgrind-sqlite3.sh — the sqlite3 shell under valgrind, as $SQLITE3 for run.sh (`make sql-valgrind`):
# any memory error or leak in the extension makes the test's output differ and its status 99.
exec valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,indirect sqlite3 "$@"
