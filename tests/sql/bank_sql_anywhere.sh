#!/bin/sh
# bank_sql_anywhere.sh — sql/bank.sql, the whole SQL bank in one file, is `.read` by its absolute
# path from a directory that is not the repository root and defines the aggregate and both read
# models; it is what scripts/bank_sql.sh makes of its two parts (run `make` after editing them);
# and the SQL that ships (sql/, examples/) uses no `->`/`->>`, which need SQLite 3.38 while the
# extension works from 3.35.
# Run by run.sh as `sh tests/sql/bank_sql_anywhere.sh DB`; output: bank_sql_anywhere.expected.
db=$1
work=$(dirname "$db")
root=$(pwd)
SQLITE3=${SQLITE3:-sqlite3}

if sh scripts/bank_sql.sh | cmp -s - sql/bank.sql; then
  echo "sql/bank.sql: up to date"
else
  echo "sql/bank.sql: stale, run make (scripts/bank_sql.sh writes it from its two parts)"
fi

echo "== .read by absolute path from another directory"
mkdir -p "$work/elsewhere"
cd "$work/elsewhere" || exit 2
"$SQLITE3" -init /dev/null -batch "$db" <<EOF2 2>&1
.load $root/dist/es
.output /dev/null
.read $root/sql/bank.sql
.output stdout
SELECT name FROM es_aggregates;
SELECT name, kind FROM es_projections ORDER BY name;
SELECT es_submit('account', 'acc-1', 'OpenAccount', '{"owner":"ada"}');
SELECT es_submit('account', 'acc-1', 'Deposit', '{"amount":100}');
SELECT es_submit('account', 'acc-1', 'Withdraw', '{"amount":30}');
SELECT es_submit('account', 'acc-1', 'Withdraw', '{"amount":500}');
SELECT * FROM account_balances;
SELECT * FROM account_history;
EOF2
cd "$root" || exit 2

echo "== -> or ->> in the shipped SQL (none expected)"
grep -n -e '->' sql/*.sql examples/*/*.sql
echo "(end)"
