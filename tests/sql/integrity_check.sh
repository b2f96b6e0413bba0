#!/bin/sh
# integrity_check.sh — es_integrity_check, the event store's PRAGMA integrity_check (issue 9). A
# sound database (the C bank with its C views, a SQL view, a SQL aggregate, a consumer) reports
# `ok`, in full and quick modes, from a read-only connection too, and the check changes nothing.
# Then each kind of damage is made by hand in a copy of it (guards dropped, writable_schema with
# DEFENSIVE off, rows changed behind sqlite-es's back) and the report must name it: a guard missing
# or changed, a column that can be dropped, positions with a gap, below or above the last position
# given, a stream's versions, command ids, a checkpoint past the end, a read model that differs
# from a fold of the log or lost its table, a definition that no longer compiles, an
# altered or incomplete storage, an older format, and what could not be checked.
# Run by run.sh as `sh tests/sql/integrity_check.sh DB`; output: integrity_check.expected.
db=$1
work=$(dirname "$db")
SQLITE3=${SQLITE3:-sqlite3}
sql() { "$SQLITE3" -init /dev/null -batch "$@" 2>&1; }
with_views() { { echo '.load ./dist/es'; echo '.load ./dist/bank'; echo '.load ./dist/bank_views'; cat; } | sql "$1"; }
check() { # check DB [mode]: the report, as kind|object|problem, with the bank's C views registered
  { echo '.load ./dist/es'; echo '.load ./dist/bank'; echo '.load ./dist/bank_views'; report "$2"; } | sql "$1"
}
report() { echo '.nullvalue NULL'; echo "SELECT kind, object, problem FROM es_integrity_check${1:+('$1')};"; }
fresh() { cp "$db" "$work/$1.db"; echo "$work/$1.db"; }
dump() { "$SQLITE3" -init /dev/null -batch "$1" .dump; }

echo "== no storage yet"
check "$work/empty.db"

with_views "$db" <<'SQL' >/dev/null
SELECT es_submit('account', 'a1', 'OpenAccount', '{"owner":"ada"}', '{"command_id":"open-a1"}');
SELECT es_submit('account', 'a1', 'Deposit', '{"amount":100}', '{"command_id":"dep-a1"}');
SELECT es_submit('account', 'b2', 'OpenAccount', '{"owner":"bob"}');
SELECT es_submit('account', 'a1', 'Withdraw', '{"amount":30}');
SELECT es_submit('account', 'b2', 'Deposit', '{"amount":5}');
SELECT es_create_consumer('mailer', 'account');
SELECT es_ack('mailer', 3);
SELECT es_create_aggregate('box', '{"n":0}', '["Filled"]');
CREATE VIEW box_fill AS SELECT 'Filled' AS type, json_object('by', json_extract(payload, '$.by')) AS data FROM es_command;
SELECT es_create_decider('box', 'Fill', 'box_fill');
CREATE VIEW box_evolve AS SELECT json_set(state, '$.n', json_extract(state, '$.n') + json_extract(data, '$.by')) AS state FROM es_event;
SELECT es_create_evolver('box', 'box_evolve');
SELECT es_submit('box', 'x1', 'Fill', '{"by":2}');
CREATE TABLE opened(id TEXT PRIMARY KEY, owner TEXT NOT NULL, at INTEGER NOT NULL);
CREATE VIEW opened_feed AS SELECT position, aggregate_id AS id, type, json_extract(data, '$.owner') AS owner FROM es_events;
CREATE TRIGGER opened_on INSTEAD OF INSERT ON opened_feed WHEN NEW.type = 'AccountOpened' BEGIN
  INSERT INTO opened VALUES (NEW.id, NEW.owner, NEW.position);
END;
SELECT es_create_view('opened', 'opened_feed');
SQL

echo "== a sound database: ok, in full and quick modes and from a read-only connection; nothing changes"
dump "$db" >"$work/before.dump"
check "$db"
check "$db" quick
{ echo '.load ./dist/es'; echo '.load ./dist/bank_views'; echo 'SELECT kind, problem FROM es_integrity_check;'; } |
  sql -readonly "$db"
dump "$db" >"$work/after.dump"
if cmp -s "$work/before.dump" "$work/after.dump"; then echo "dump: identical"; else echo "dump: different"; fi
sql "$db" "SELECT count(*) FROM sqlite_temp_schema"
check "$db" nope

echo "== a guard missing, a guard recreated as a no-op, a guard rewritten through writable_schema"
d=$(fresh guards)
sql "$d" "DROP TRIGGER es_events_no_update; DROP TRIGGER es_view_opened_insert;
  DROP TRIGGER es_commands_no_delete;
  CREATE TRIGGER es_commands_no_delete BEFORE DELETE ON es_commands WHEN 0 BEGIN SELECT 1; END;
  PRAGMA writable_schema = ON;
  UPDATE sqlite_schema SET sql = replace(sql, 'WHEN es_internal_write', 'WHEN 0 AND es_internal_write')
   WHERE name = 'es_checkpoints_update_guard';
  PRAGMA writable_schema = OFF;"
check "$d"

echo "== columns that can be dropped: a column guard missing, a column added to a view's table"
d=$(fresh columns)
sql "$d" "DROP TRIGGER es_events_columns; DROP TRIGGER es_view_opened_insert; ALTER TABLE opened ADD COLUMN note TEXT;"
check "$d"

echo "== positions: an event deleted in the middle, the last one deleted, one appended behind sqlite-es's back"
d=$(fresh gap)
sql "$d" "DROP TRIGGER es_events_no_delete; DELETE FROM es_events WHERE position IN (2, 3)"
check "$d" quick
d=$(fresh tail)
sql "$d" "DROP TRIGGER es_events_no_delete; DELETE FROM es_events WHERE position = 6"
check "$d" quick
d=$(fresh smuggled)
sql "$d" "DROP TRIGGER es_events_insert_guard;
  INSERT INTO es_events(aggregate_type, aggregate_id, version, type, data, recorded_at)
  VALUES ('account', 'a1', 4, 'Deposited', '{\"amount\":1000}', '2020-01-01T00:00:00.000Z')"
check "$d" quick

echo "== versions: an event's version changed, a stream's first event deleted"
d=$(fresh versions)
sql "$d" "DROP TRIGGER es_events_no_update; UPDATE es_events SET version = 7 WHERE position = 4;
  DROP TRIGGER es_events_no_delete; DELETE FROM es_events WHERE position = 3"
check "$d" quick

echo "== command ids: a recorded command whose event is gone, events whose command id is not recorded"
d=$(fresh commands)
sql "$d" "DROP TRIGGER es_events_no_update; UPDATE es_events SET command_id = NULL WHERE position = 2;
  DROP TRIGGER es_commands_no_delete; DELETE FROM es_commands WHERE command_id = 'open-a1'"
check "$d" quick

echo "== a checkpoint past the last position given"
d=$(fresh checkpoint)
sql "$d" "DROP TRIGGER es_checkpoints_update_guard; UPDATE es_checkpoints SET position = 1000"
check "$d" quick

echo "== read models: rows changed (C view and SQL view), a view's table dropped"
d=$(fresh views)
sql "$d" "DROP TRIGGER es_view_account_balances_update; UPDATE account_balances SET balance = 1000000 WHERE account_id = 'a1';
  DROP TRIGGER es_view_opened_delete; DELETE FROM opened WHERE id = 'b2';
  DROP TRIGGER es_view_account_history_insert;
  INSERT INTO account_history VALUES (100, 'a1', 'Deposited', 1, 1);"
check "$d"
d=$(fresh notable)
sql "$d" "DROP TABLE opened"
check "$d"

echo "== definitions that no longer compile: a decider's view, an evolver's view, a feed, a handler"
d=$(fresh definitions)
sql "$d" "DROP VIEW box_fill; DROP VIEW box_evolve; CREATE VIEW box_evolve AS SELECT nope AS state FROM es_event;"
check "$d" quick
d=$(fresh feed)
sql "$d" "DROP TRIGGER opened_on;
  CREATE TRIGGER opened_on INSTEAD OF INSERT ON opened_feed BEGIN INSERT INTO opened(id, nope) VALUES (NEW.id, 1); END;"
check "$d" quick

echo "== the storage: a table altered, one dropped, an older format"
d=$(fresh altered)
sql "$d" "ALTER TABLE es_events ADD COLUMN note TEXT"
check "$d" quick
d=$(fresh incomplete)
sql "$d" "DROP TABLE es_commands"
check "$d" quick
cp tests/fixtures/format1.db "$work/format1.db"
{ echo '.load ./dist/es'; report; } | sql "$work/format1.db"

echo "== what could not be checked: a C view not registered here, the check inside a writing statement"
{ echo '.load ./dist/es'; report; } | sql "$db"
{ echo '.load ./dist/es'; echo '.load ./dist/bank_views'; echo '.nullvalue NULL'
  echo 'CREATE TEMP TABLE report(kind, object, problem);'
  echo 'INSERT INTO report SELECT kind, object, problem FROM es_integrity_check;'
  echo 'SELECT * FROM report;'; } | sql "$db"
