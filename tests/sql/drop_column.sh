#!/bin/sh
# drop_column.sh — no column of a guarded table can be dropped (issue 9, defect 2: ALTER TABLE
# es_events DROP COLUMN data used to succeed and destroy every payload). The tables: the log
# (es_events, es_commands, es_meta), es_checkpoints, es_views, es_sql_aggregates, es_sql_handlers,
# a SQL view's table and the C views' tables (dist/bank_views.so). Every column of each is listed
# from pragma_table_info and dropped in turn, with the extension loaded and without it: each
# ALTER TABLE fails (a guard names the column, or SQLite refuses a key column), and the database
# dump is the same afterwards.
# Run by run.sh as `sh tests/sql/drop_column.sh DB`; output: drop_column.expected.
db=$1
work=$(dirname "$db")
SQLITE3=${SQLITE3:-sqlite3}
sql() { "$SQLITE3" -init /dev/null -batch "$1" 2>&1; }
with_views() { { echo '.load ./dist/es'; echo '.load ./dist/bank'; echo '.load ./dist/bank_views'; cat; } | sql "$1"; }

with_views "$db" <<'SQL' >/dev/null
SELECT es_submit('account', 'a1', 'OpenAccount', '{"owner":"ada"}', '{"command_id":"open-a1"}');
SELECT es_submit('account', 'a1', 'Deposit', '{"amount":100}');
SELECT es_create_consumer('mailer', 'account');
SELECT es_create_aggregate('box', '{}', '["Filled"]');  -- creates es_sql_aggregates and es_sql_handlers
CREATE TABLE opened(id TEXT PRIMARY KEY, owner TEXT, at INTEGER);
CREATE VIEW opened_feed AS SELECT position, aggregate_id AS id, type, json_extract(data, '$.owner') AS owner FROM es_events;
CREATE TRIGGER opened_on INSTEAD OF INSERT ON opened_feed WHEN NEW.type = 'AccountOpened' BEGIN
  INSERT INTO opened VALUES (NEW.id, NEW.owner, NEW.position);
END;
SELECT es_create_view('opened', 'opened_feed');
SQL

# Every column of every guarded table, as one ALTER TABLE each.
drops=$work/drops.sql
sql "$db" >"$drops" <<'SQL'
SELECT format('ALTER TABLE "%w" DROP COLUMN "%w";', t.name, c.name)
FROM sqlite_schema t, pragma_table_info(t.name) c
WHERE t.type = 'table' AND (t.name GLOB 'es_*' OR t.name IN (SELECT name FROM es_views))
ORDER BY t.name, c.cid;
SQL
echo "== $(wc -l <"$drops" | tr -d ' ') columns in $(sql "$db" "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND (name GLOB 'es_*' OR name IN (SELECT name FROM es_views))") guarded tables"
"$SQLITE3" -init /dev/null -batch "$db" .dump >"$work/before.dump"

echo "== with the extension loaded (DEFENSIVE on)"
{ echo '.load ./dist/es'; cat "$drops"; } | sql "$db" | sed 's/^Parse error near line [0-9]*: //; s/^Runtime error near line [0-9]*: //'
echo "== without it"
sql "$db" <"$drops" | sed 's/^Parse error near line [0-9]*: //; s/^Runtime error near line [0-9]*: //'

"$SQLITE3" -init /dev/null -batch "$db" .dump >"$work/after.dump"
if cmp -s "$work/before.dump" "$work/after.dump"; then echo "dump: identical"; else echo "dump: different"; fi
echo "== and commands go on"
with_views "$db" <<'SQL'
SELECT es_submit('account', 'a1', 'Deposit', '{"amount":1}');
SELECT * FROM opened;
SELECT account_id, balance FROM account_balances;
SQL
