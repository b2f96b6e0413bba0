#!/bin/sh
# views_sql.sh — runs views_sql.sql, then what needs more than one session: the view tables with
# the database reopened WITHOUT the extension (reads work, every write fails because
# es_internal_write does not exist, also through a feed); es_projections showing a view behind the
# log after an event was appended behind sqlite-es's back, and the next command refused (the log
# holds an event sqlite-es did not append), changing nothing; handlers that fail (writing another view's table, the
# log or es_views, RAISE, a constraint of its own table): the command fails, the message names the
# view and the event, and a full .dump and the file's bytes are identical before and after;
# reserved names in another case; the same guards on the tables of C views (dist/bank_views.so),
# and a connection without them refused until es_drop_view.
# Run by run.sh as `sh tests/sql/views_sql.sh DB`; output: views_sql.expected.
db=$1
work=$(dirname "$db")
SQLITE3=${SQLITE3:-sqlite3}
sql() { "$SQLITE3" -init /dev/null -batch "$1" 2>&1; }
# A session with the extension (and the bank) loaded; line numbers in messages count the .loads.
with_ext() { { echo '.load ./dist/es'; echo '.load ./dist/bank'; echo '.nullvalue NULL'; cat; } | sql "$1"; }
with_views() { { echo '.load ./dist/es'; echo '.load ./dist/bank'; echo '.load ./dist/bank_views'; echo '.nullvalue NULL'; cat; } | sql "$1"; }

sql "$db" <tests/sql/views_sql.sql

echo "== reopened without the extension"
sql "$db" <<'EOF'
.nullvalue NULL
.print '-- reading works, es_projections too'
SELECT account_id, balance, status FROM account_balances ORDER BY account_id;
SELECT count(*) FROM account_history;
SELECT name, table_name, kind, position, lag FROM es_projections ORDER BY name;
.print '-- every write to a view table: es_internal_write does not exist, so the statement cannot be prepared'
INSERT INTO account_balances VALUES ('a9', 'eve', 1000000, 'open', 1, 1);
INSERT OR REPLACE INTO account_balances VALUES ('a1', 'eve', 1000000, 'open', 1, 1);
INSERT INTO account_balances VALUES ('a1', 'eve', 0, 'open', 1, 1) ON CONFLICT(account_id) DO UPDATE SET balance = 1000000;
UPDATE account_balances SET balance = 1000000;
DELETE FROM account_balances;
INSERT INTO account_history VALUES (100, 'a1', 'Deposited', 5, 5);
UPDATE account_history SET balance_after = 0;
DELETE FROM account_history;
.print '-- through a feed, and on es_views'
INSERT INTO account_history_feed(position, account_id, type, amount) VALUES (100, 'a1', 'Deposited', 5);
INSERT INTO account_balances_feed(position, account_id, version, type, owner, amount)
  VALUES (100, 'a1', 9, 'Deposited', NULL, 1000000);
INSERT INTO es_views VALUES ('x', 'sql', 'x_feed', 0, '2020-01-01T00:00:00.000Z');
UPDATE es_views SET position = 0;
DELETE FROM es_views;
.print '-- nothing changed'
SELECT account_id, balance, status FROM account_balances ORDER BY account_id;
SELECT count(*) FROM account_history;
SELECT name, position, lag FROM es_projections ORDER BY name;
EOF

echo "== a view behind the log: an event appended with the log's guard dropped (no extension loaded)"
sql "$db" <<'EOF'
DROP TRIGGER es_events_insert_guard;
INSERT INTO es_events(aggregate_type, aggregate_id, version, type, data, recorded_at)
  SELECT 'account', 'a1', max(version) + 1, 'Deposited', '{"amount":1000}', '2020-01-01T00:00:00.000Z'
  FROM es_events WHERE aggregate_type = 'account' AND aggregate_id = 'a1';
SELECT position, version, type FROM es_events WHERE position = (SELECT max(position) FROM es_events);
SELECT name, position, lag FROM es_projections ORDER BY name;
EOF
echo "-- with the extension: es_protect() restores the guard; the next command is refused (the event bypassed"
echo "-- every decision and was never given its position), and the views stay as they were"
with_ext "$db" <<'EOF'
SELECT name, position, lag FROM es_projections ORDER BY name;
SELECT es_protect();
SELECT es_submit('account', 'a1', 'Deposit', '{"amount":1}');
SELECT name, position, lag FROM es_projections ORDER BY name;
SELECT account_id, balance, events, last_version FROM account_balances WHERE account_id = 'a1';
SELECT count(*) FROM account_history WHERE position > 11;
EOF

# Take a snapshot of a database: the full dump (timestamps masked, so diffs are stable) and the file.
snapshot() {
  "$SQLITE3" -init /dev/null -batch "$1" .dump |
    sed 's/[0-9]\{4\}-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9]\.[0-9][0-9][0-9]Z/<time>/g' >"$work/$2.dump"
  cp "$1" "$work/$2.file"
}
compare() {
  if cmp -s "$work/before.dump" "$work/after.dump"; then
    echo "dump: identical"
  else
    echo "dump: different"
    diff "$work/before.dump" "$work/after.dump" | sed -n 's/^[<>] /    &/p'
  fi
  if cmp -s "$work/before.file" "$work/after.file"; then echo "file: identical"; else echo "file: different"; fi
}

fail=$work/fail.db
echo "== failing handlers: setup (the bank's SQL views and a view 'audit' whose handlers are replaced below)"
with_ext "$fail" <<'EOF'
SELECT es_submit('account', 'a1', 'OpenAccount', '{"owner":"ada"}');
SELECT es_submit('account', 'a1', 'Deposit', '{"amount":100}');
.read sql/bank_views.sql
CREATE TABLE audit(position INTEGER PRIMARY KEY, type TEXT NOT NULL);
CREATE VIEW audit_feed AS SELECT position, type, aggregate_id AS account_id FROM es_events;
CREATE TRIGGER audit_on_event INSTEAD OF INSERT ON audit_feed WHEN NEW.type <> 'Withdrawn' BEGIN
  INSERT INTO audit VALUES (NEW.position, NEW.type);
END;
SELECT es_create_view('audit', 'audit_feed');
EOF

# bad LABEL HANDLER-BODY: install a Withdrawn handler on audit_feed, then run a Withdraw (es_submit,
# es_try_submit) between two snapshots: the failing command must leave no trace; then inside the
# caller's transaction after an accepted Deposit, which is kept (except after RAISE(ROLLBACK), which
# SQLite applies to the caller's whole transaction).
bad() {
  echo "== $1"
  with_ext "$fail" <<EOF
CREATE TRIGGER audit_on_withdrawn INSTEAD OF INSERT ON audit_feed WHEN NEW.type = 'Withdrawn' BEGIN
  $2
END;
EOF
  snapshot "$fail" before
  with_ext "$fail" <<'EOF'
SELECT es_submit('account', 'a1', 'Withdraw', '{"amount":10}');
SELECT es_try_submit('account', 'a1', 'Withdraw', '{"amount":10}', '{"command_id":"w-1"}');
EOF
  snapshot "$fail" after
  compare
  echo "-- inside the caller's transaction, after an accepted Deposit (kept): the Withdraw leaves no trace"
  with_ext "$fail" <<'EOF'
BEGIN;
SELECT es_submit('account', 'a1', 'Deposit', '{"amount":1}');
SELECT es_submit('account', 'a1', 'Withdraw', '{"amount":10}');
COMMIT;
SELECT max(position), es_stream_version('account', 'a1') FROM es_events;
SELECT balance, events, last_version FROM account_balances;
SELECT max(position) FROM account_history;
SELECT max(position) FROM audit;
SELECT name, position, lag FROM es_projections ORDER BY name;
DROP TRIGGER audit_on_withdrawn;
EOF
}

bad "a handler that writes another view's table" "UPDATE account_balances SET balance = 0;"
bad "a handler that inserts into another view's table" \
  "INSERT INTO account_history VALUES (NEW.position + 1000, NEW.account_id, 'Forged', 0, 0);"
bad "a handler that writes the log" \
  "INSERT INTO es_events(aggregate_type, aggregate_id, version, type, data, recorded_at)
    VALUES ('account', NEW.account_id, 99, 'Deposited', '{\"amount\":1}', '2020-01-01T00:00:00.000Z');"
bad "a handler that writes es_views" "UPDATE es_views SET position = 0 WHERE name = 'account_balances';"
bad "a handler that deletes from es_views" "DELETE FROM es_views;"
bad "a handler that RAISEs (ABORT)" "SELECT RAISE(ABORT, 'withdrawals are not audited');"
bad "a handler that RAISEs (FAIL)" "SELECT RAISE(FAIL, 'withdrawals are not audited');"
bad "a handler that RAISEs (ROLLBACK): SQLite rolls back the caller's transaction, the Deposit too" \
  "SELECT RAISE(ROLLBACK, 'withdrawals are not audited');"
bad "a handler that breaks a constraint of its own table" "INSERT INTO audit VALUES (NEW.position, NULL);"

echo "-- control: with a correct handler the Withdraw is accepted and every view follows"
with_ext "$fail" <<'EOF'
CREATE TRIGGER audit_on_withdrawn INSTEAD OF INSERT ON audit_feed WHEN NEW.type = 'Withdrawn' BEGIN
  INSERT INTO audit VALUES (NEW.position, 'W');
END;
SELECT es_submit('account', 'a1', 'Withdraw', '{"amount":10}');
SELECT balance, events, last_version FROM account_balances;
SELECT * FROM audit ORDER BY position;
SELECT name, position, lag FROM es_projections ORDER BY name;
EOF

echo "== reserved names in another case (SQLite names ignore case): refused too, nothing created"
reserved=$work/reserved.db
with_ext "$reserved" <<'EOF'
CREATE TABLE ES_MINE(k TEXT PRIMARY KEY);
CREATE TABLE Es_Thing(k TEXT PRIMARY KEY);
CREATE VIEW any_feed AS SELECT position, type FROM es_events;
CREATE TRIGGER any_feed_on_event INSTEAD OF INSERT ON any_feed BEGIN SELECT 1; END;
SELECT es_create_view('ES_MINE', 'any_feed');
SELECT es_create_view('Es_Thing', 'any_feed');
SELECT count(*) FROM sqlite_schema WHERE name GLOB 'es_*';
EOF

cview=$work/cviews.db
echo "== C views (dist/bank_views.so): the same guards, the same refusals without the extension"
with_views "$cview" <<'EOF'
SELECT es_submit('account', 'a1', 'OpenAccount', '{"owner":"ada"}');
SELECT es_submit('account', 'a1', 'Deposit', '{"amount":100}');
SELECT * FROM account_balances;
SELECT * FROM account_history ORDER BY position;
SELECT name, table_name, kind, position, lag FROM es_projections ORDER BY name;
INSERT INTO account_balances VALUES ('a9', 'eve', 1000000, 'open', 1, 1);
UPDATE account_balances SET balance = 1000000;
DELETE FROM account_history;
SELECT es_rebuild('account_balances'), es_rebuild('account_history');
SELECT * FROM account_balances;
SELECT es_create_view('account_balances', 'account_balances_feed');
EOF
sql "$cview" <<'EOF'
UPDATE account_balances SET balance = 1000000;
DELETE FROM account_history;
SELECT count(*) FROM account_history;
EOF
echo "-- a connection without the C views cannot append (unknown_view), nor rebuild them; es_drop_view forgets one"
with_ext "$cview" <<'EOF'
SELECT es_submit('account', 'a1', 'Deposit', '{"amount":1}');
SELECT es_try_submit('account', 'a1', 'Deposit', '{"amount":1}');
SELECT es_rebuild('account_history');
SELECT count(*) FROM es_events;
SELECT es_drop_view('account_history');
SELECT es_submit('account', 'a1', 'Deposit', '{"amount":1}');
SELECT es_drop_view('account_balances');
SELECT es_submit('account', 'a1', 'Deposit', '{"amount":1}');
SELECT count(*) FROM es_events;
SELECT name FROM es_projections;
SELECT * FROM account_balances;
EOF
