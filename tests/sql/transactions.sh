#!/bin/sh
# transactions.sh — runs transactions.sql with the database path in place of @DB@, so that the
# script can open a second connection to the same file (.connection 1) and a fresh database.
# Run by run.sh as `sh tests/sql/transactions.sh DB`; output: transactions.expected.
db=$1
SQLITE3=${SQLITE3:-sqlite3}
case $db in *'|'*) echo "transactions.sh: the database path must not contain '|'" >&2; exit 2;; esac
sed "s|@DB@|$db|g" tests/sql/transactions.sql | "$SQLITE3" -init /dev/null -batch "$db" 2>&1
