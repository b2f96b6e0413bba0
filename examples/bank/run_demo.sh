#!/bin/sh
# run_demo.sh — `make demo`: the bank example in the sqlite3 shell, on a temporary database.
set -eu
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
# Fail loudly if the extensions do not load (the demo itself shows errors on purpose).
sqlite3 "$dir/check.db" '.load ./dist/es' '.load ./dist/bank' '.load ./dist/bank_views' 'SELECT es_version();' >/dev/null
echo "sqlite-es demo: the bank account aggregate (examples/bank/bank.c) on a temporary database"
echo "(\"Runtime error\" lines are commands the aggregate refused, or writes the log refused: that is the point)"
echo
sqlite3 "$dir/bank.db" < examples/bank/demo.sql 2>&1 || true
echo
echo "== Part 2: the same bank written in SQL alone (sql/bank.sql)"
sqlite3 "$dir/bank_sql.db" < examples/bank/demo_sql_views.sql 2>&1 || true
