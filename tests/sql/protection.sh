#!/bin/sh
# protection.sh — runs protection.sql, then what needs more than one session: the same writes
# with the database reopened WITHOUT the extension (UPDATE and DELETE refused with the same
# messages, every INSERT refused because es_internal_write does not exist, reads fine), and the
# tampering that es_config('defensive', 0) allows, which takes effect when the file is reopened and
# is then found by the next command (the guard's text is not the one installed).
# Run by run.sh as `sh tests/sql/protection.sh DB`; output: protection.expected.
db=$1
work=$(dirname "$db")
SQLITE3=${SQLITE3:-sqlite3}
sql() { "$SQLITE3" -init /dev/null -batch "$1" 2>&1; }
with_ext() { { echo '.load ./dist/es'; echo '.load ./dist/bank'; cat; } | sql "$1"; }

sql "$db" <tests/sql/protection.sql

echo "== reopened without the extension"
plain=$work/plain.db
with_ext "$plain" <<'EOF'
SELECT es_submit('account', 'acc-1', 'OpenAccount', '{"owner":"ada"}', '{"command_id":"open-1"}');
SELECT es_submit('account', 'acc-1', 'Deposit', '{"amount":100}');
EOF
sql "$plain" <<'EOF'
.nullvalue NULL
.print '-- reading works'
SELECT position, aggregate_id, version, type, data, command_id FROM es_events;
SELECT command_id, version FROM es_commands;
SELECT key, value FROM es_meta;
.print '-- UPDATE and DELETE: the same messages'
UPDATE es_events SET data = '{"amount":1000000}' WHERE position = 2;
DELETE FROM es_events;
UPDATE es_commands SET version = 99;
DELETE FROM es_commands;
UPDATE es_meta SET value = 99;
DELETE FROM es_meta;
.print '-- INSERT in every form: es_internal_write does not exist, so the statement cannot even be prepared'
INSERT INTO es_events(aggregate_type, aggregate_id, version, type, data, recorded_at)
  VALUES ('account', 'acc-1', 3, 'Deposited', '{"amount":5}', '2020-01-01T00:00:00.000Z');
INSERT OR REPLACE INTO es_events(position, aggregate_type, aggregate_id, version, type, data, recorded_at)
  VALUES (2, 'account', 'acc-1', 2, 'Deposited', '{"amount":1000000}', '2020-01-01T00:00:00.000Z');
REPLACE INTO es_events(position, aggregate_type, aggregate_id, version, type, data, recorded_at)
  VALUES (2, 'account', 'acc-1', 2, 'Deposited', '{"amount":1000000}', '2020-01-01T00:00:00.000Z');
INSERT INTO es_events(position, aggregate_type, aggregate_id, version, type, data, recorded_at)
  VALUES (2, 'account', 'acc-1', 2, 'Deposited', '{"amount":5}', '2020-01-01T00:00:00.000Z')
  ON CONFLICT(position) DO UPDATE SET data = '{"amount":1000000}';
INSERT INTO es_commands VALUES ('open-2', 'account', 'acc-2', 'OpenAccount', 1, 1, '2020-01-01T00:00:00.000Z');
REPLACE INTO es_meta VALUES ('format', 99);
.print '-- nothing changed'
SELECT position, aggregate_id, version, type, data, command_id FROM es_events;
SELECT count(*) FROM es_commands;
SELECT key, value FROM es_meta;
EOF
echo "-- with the extension again, commands go on from where they were"
with_ext "$plain" <<'EOF'
SELECT es_submit('account', 'acc-1', 'Deposit', '{"amount":1}');
SELECT es_state('account', 'acc-1');
EOF

echo "== DEFENSIVE switched off: writable_schema can rewrite a trigger"
tamper=$work/tamper.db
with_ext "$tamper" <<'EOF'
SELECT es_submit('account', 'acc-1', 'OpenAccount', '{"owner":"ada"}');
SELECT es_config('defensive', 0);
PRAGMA writable_schema = ON;
UPDATE sqlite_schema SET sql = 'CREATE TRIGGER es_events_no_update BEFORE UPDATE ON es_events BEGIN SELECT 1; END'
 WHERE name = 'es_events_no_update';
PRAGMA writable_schema = OFF;
.print '-- this session still runs the trigger it compiled'
UPDATE es_events SET data = '{"owner":"eve"}';
EOF
echo "-- reopened: the rewritten trigger lets UPDATE through (tamper evidence is the only defence against"
echo "-- the write itself), but the changed guard is found: commands are refused until es_protect() replaces it"
with_ext "$tamper" <<'EOF'
SELECT sql FROM sqlite_schema WHERE name = 'es_events_no_update';
UPDATE es_events SET data = '{"owner":"eve"}';
SELECT position, data FROM es_events;
SELECT es_submit('account', 'acc-1', 'Deposit', '{"amount":1}');
SELECT es_protect();
UPDATE es_events SET data = '{"owner":"ada"}';
SELECT es_submit('account', 'acc-1', 'Deposit', '{"amount":1}');
EOF
