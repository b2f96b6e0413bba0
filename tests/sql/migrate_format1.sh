#!/bin/sh
# migrate_format1.sh — a database written by storage format 1 (tests/fixtures/format1.db: the SQL
# bank with its two SQL views, command ids, two consumers) opened by this build: reads work as they
# are; the first write upgrades it to format 2 in its own transaction (es_meta records the last
# position given, every guard is replaced by its format-2 text, es_meta's UPDATE guard lets the
# append step through), and then everything goes on: commands, views, consumers, idempotency, the
# guards, es_protect() with nothing to do. A write that fails rolls the upgrade back with it.
# Run by run.sh as `sh tests/sql/migrate_format1.sh DB`; output: migrate_format1.expected.
db=$1
SQLITE3=${SQLITE3:-sqlite3}
sql() { "$SQLITE3" -init /dev/null -batch "$1" 2>&1; }
with_ext() { { echo '.load ./dist/es'; echo '.nullvalue NULL'; cat; } | sql "$1"; }
cp tests/fixtures/format1.db "$db"

echo "== format 1, read by this build"
with_ext "$db" <<'SQL'
SELECT key, value FROM es_meta ORDER BY key;
SELECT es_stream_version('account', 'acc-1'), es_stream_version('account', 'acc-2');
SELECT es_state('account', 'acc-1');
SELECT count(*), max(position) FROM es_log;
SELECT * FROM es_consumers ORDER BY name;
SELECT account_id, balance FROM account_balances ORDER BY account_id;
SELECT count(*) FROM sqlite_schema WHERE type = 'trigger' AND name GLOB 'es_*';
SQL

echo "== a write that fails (rejected) upgrades nothing"
with_ext "$db" <<'SQL'
SELECT es_submit('account', 'acc-2', 'Withdraw', '{"amount":1000}');
SELECT key, value FROM es_meta ORDER BY key;
SQL

echo "== the first write upgrades it, in its own transaction"
with_ext "$db" <<'SQL'
BEGIN;
SELECT es_submit('account', 'acc-2', 'Deposit', '{"amount":5}');
SELECT key, value FROM es_meta ORDER BY key;
ROLLBACK;
SELECT key, value FROM es_meta ORDER BY key;
SELECT es_submit('account', 'acc-2', 'Deposit', '{"amount":5}');
SELECT key, value FROM es_meta ORDER BY key;
SELECT name FROM sqlite_schema WHERE type = 'trigger' AND name GLOB 'es_*' ORDER BY name;
SELECT es_protect();
SQL

echo "== and everything goes on"
with_ext "$db" <<'SQL'
SELECT es_submit('account', 'acc-1', 'Deposit', '{"amount":100}', '{"command_id":"dep-1"}');
SELECT es_submit('account', 'acc-1', 'Withdraw', '{"amount":7}');
SELECT position, aggregate_id, version, type FROM es_events WHERE position > 5 ORDER BY position;
SELECT account_id, balance FROM account_balances ORDER BY account_id;
SELECT count(*) FROM account_history;
SELECT * FROM es_consumers ORDER BY name;
SELECT position, type FROM es_next('mailer', 10);
SELECT key, value FROM es_meta ORDER BY key;
UPDATE es_meta SET value = 1 WHERE key = 'format';
DELETE FROM es_events;
UPDATE account_balances SET balance = 0;
ALTER TABLE es_events DROP COLUMN data;
SQL
echo "== without the extension the upgraded file is still guarded"
sql "$db" <<'SQL'
UPDATE es_meta SET value = 1 WHERE key = 'format';
DELETE FROM es_meta;
SELECT key, value FROM es_meta ORDER BY key;
SQL
