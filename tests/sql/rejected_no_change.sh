#!/bin/sh
# rejected_no_change.sh — DESIGN §1 rule 2: a command that is refused (rejected, conflict, invalid
# payload, unknown command or aggregate, a command_id used by another command) or that fails
# after its first write leaves the database exactly as it was: a full `.dump` and the file's
# bytes are compared before and after, each taken by a separate sqlite3 session. On a fresh
# database no refused command creates anything: the storage appears with the first accepted one.
# Run by run.sh as `sh tests/sql/rejected_no_change.sh DB`; output: rejected_no_change.expected.
db=$1
work=$(dirname "$db")
SQLITE3=${SQLITE3:-sqlite3}

# A session with the extension loaded; the SQL comes on stdin (line numbers count the two .loads).
session() {
  { echo '.load ./dist/es'; echo '.load ./dist/bank'; cat; } | "$SQLITE3" -init /dev/null -batch "$1" 2>&1
}

# Take a snapshot of $db: the full dump (with timestamps masked, so diffs are stable) and the file.
snapshot() {
  "$SQLITE3" -init /dev/null -batch "$db" .dump |
    sed 's/[0-9]\{4\}-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9]\.[0-9][0-9][0-9]Z/<time>/g' >"$work/$1.dump"
  cp "$db" "$work/$1.file"
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

# check LABEL < SQL: run SQL in its own session between two snapshots and compare them.
check() {
  echo "== $1"
  snapshot before
  session "$db"
  snapshot after
  compare
}

# The same, for failures whose wording is not the point: the message after "es: " is masked.
check_fails() {
  echo "== $1"
  snapshot before
  session "$db" | sed 's/^\(Runtime error near line [0-9]*: es: \).*/\1<message>/'
  snapshot after
  compare
}

echo "== a fresh database: refused commands and reads create nothing"
fresh=$work/fresh.db
session "$fresh" <<'EOF'
SELECT es_submit('account', 'acc-1', 'Deposit', '{"amount":5}');
SELECT es_try_submit('account', 'acc-1', 'Withdraw', '{"amount":5}');
SELECT es_submit('account', 'acc-1', 'OpenAccount', '{"owner":"ada"}', '{"expected_version":3}');
SELECT es_submit('account', 'acc-1', 'OpenAccount', '{"owner":"ada"}', '{"expected_version":"exists"}');
SELECT es_submit('account', 'acc-1', 'OpenAccount', '{"owner":');
SELECT es_submit('account', 'acc-1', 'OpenAccount', '{"owner":""}', '{"command_id":"c-1"}');
SELECT es_submit('account', 'acc-1', 'Reopen');
SELECT es_submit('bank', 'acc-1', 'OpenAccount', '{"owner":"ada"}');
SELECT es_stream_version('account', 'acc-1'), es_state('account', 'acc-1'), count(*) FROM es_stream('account', 'acc-1');
SELECT count(*) FROM sqlite_schema;
PRAGMA page_count;
EOF
echo "file size: $(wc -c <"$fresh")"
echo "-- the first accepted command creates the storage, in its own transaction"
session "$fresh" <<'EOF'
SELECT es_submit('account', 'acc-1', 'OpenAccount', '{"owner":"ada"}');
SELECT type, name, tbl_name FROM sqlite_schema ORDER BY type, name;
SELECT key, value FROM es_meta;
EOF

echo "== setup: two accounts, a command_id, a table of the application"
session "$db" <<'EOF'
CREATE TABLE notes(id INTEGER PRIMARY KEY, body TEXT);
INSERT INTO notes(body) VALUES ('kept as it is');
SELECT es_submit('account', 'acc-1', 'OpenAccount', '{"owner":"ada"}');
SELECT es_submit('account', 'acc-1', 'Deposit', '{"amount":100}', '{"command_id":"dep-1","metadata":{"user":"ops"}}');
SELECT es_submit('account', 'acc-2', 'OpenAccount', '{"owner":"bob"}');
EOF

check "rejected: insufficient funds (es_submit and es_try_submit)" <<'EOF'
SELECT es_submit('account', 'acc-1', 'Withdraw', '{"amount":1000}');
SELECT es_try_submit('account', 'acc-1', 'Withdraw', '{"amount":1000}');
EOF
check "rejected: already open, balance not zero, not open, invalid amount" <<'EOF'
SELECT es_submit('account', 'acc-1', 'OpenAccount', '{"owner":"eve"}');
SELECT es_submit('account', 'acc-1', 'CloseAccount');
SELECT es_submit('account', 'acc-9', 'Deposit', '{"amount":1}');
SELECT es_submit('account', 'acc-2', 'Deposit', '{"amount":-1}', '{"command_id":"neg-1","metadata":{"user":"ops"}}');
EOF
check "conflict: wrong version, no_stream on an existing stream, exists on a missing one" <<'EOF'
SELECT es_submit('account', 'acc-1', 'Deposit', '{"amount":1}', '{"expected_version":1}');
SELECT es_submit('account', 'acc-1', 'Deposit', '{"amount":1}', '{"expected_version":"no_stream"}');
SELECT es_try_submit('account', 'acc-9', 'OpenAccount', '{"owner":"x"}', '{"expected_version":"exists"}');
EOF
check "invalid payload: malformed, wrongly typed, missing field, over the size limit" <<'EOF'
SELECT es_submit('account', 'acc-1', 'Deposit', '{"amount":1');
SELECT es_submit('account', 'acc-1', 'Deposit', '{"amount":"1"}');
SELECT es_submit('account', 'acc-1', 'Deposit', '{}');
SELECT es_submit('account', 'acc-1', 'Deposit', '{"amount":1,"pad":"' || printf('%.*c', 10485760, 'x') || '"}');
EOF
check "unknown command, unknown aggregate, bad options" <<'EOF'
SELECT es_submit('account', 'acc-1', 'Transfer', '{"amount":1}');
SELECT es_try_submit('loan', 'acc-1', 'Deposit', '{"amount":1}');
SELECT es_submit('account', 'acc-1', 'Deposit', '{"amount":1}', '{"retries":3}');
EOF
check "command_id misuse: an id that already succeeded, on another command or aggregate" <<'EOF'
SELECT es_submit('account', 'acc-1', 'Withdraw', '{"amount":100}', '{"command_id":"dep-1"}');
SELECT es_try_submit('account', 'acc-2', 'Deposit', '{"amount":100}', '{"command_id":"dep-1"}');
EOF
check "command_id replay: the same command again answers its version and appends nothing" <<'EOF'
SELECT es_submit('account', 'acc-1', 'Deposit', '{"amount":100}', '{"command_id":"dep-1"}');
SELECT es_try_submit('account', 'acc-1', 'Deposit', '{"amount":100}', '{"command_id":"dep-1"}');
EOF
check "refusals inside the caller's transaction, which then commits" <<'EOF'
BEGIN;
SELECT es_submit('account', 'acc-1', 'Withdraw', '{"amount":1000}');
SELECT es_try_submit('account', 'acc-1', 'Deposit', '{"amount":1}', '{"expected_version":7}');
SELECT es_submit('account', 'acc-2', 'Deposit', '[]');
COMMIT;
SAVEPOINT s;
SELECT es_submit('account', 'acc-2', 'CloseAccount', '{}', '{"command_id":"close-2","expected_version":9}');
RELEASE s;
EOF
check "a batch in which every row is refused" <<'EOF'
CREATE TEMP TABLE inbox(id INTEGER PRIMARY KEY, aggregate_id TEXT, command TEXT, payload TEXT);
INSERT INTO inbox(aggregate_id, command, payload) VALUES
  ('acc-1', 'Withdraw', '{"amount":1000}'), ('acc-9', 'Deposit', '{"amount":1}'), ('acc-2', 'Deposit', 'nope');
SELECT id, es_try_submit('account', aggregate_id, command, payload) FROM inbox ORDER BY id;
EOF

echo "== setup: an application trigger that fails on every recorded command_id"
session "$db" <<'EOF'
CREATE TRIGGER refuse_commands AFTER INSERT ON es_commands BEGIN SELECT RAISE(ABORT, 'no more commands'); END;
EOF
check "a failure after the event was written rolls the event back too" <<'EOF'
SELECT es_submit('account', 'acc-1', 'Deposit', '{"amount":5}', '{"command_id":"dep-2"}');
SELECT es_try_submit('account', 'acc-1', 'Deposit', '{"amount":5}', '{"command_id":"dep-2"}');
SELECT es_stream_version('account', 'acc-1');
EOF
session "$db" <<'EOF'
DROP TRIGGER refuse_commands;
EOF

echo "== setup: application triggers that silently skip the rows es_submit writes"
session "$db" <<'EOF'
CREATE TRIGGER skip_events BEFORE INSERT ON es_events WHEN new.aggregate_id = 'acc-2' BEGIN SELECT RAISE(IGNORE); END;
CREATE TRIGGER skip_commands BEFORE INSERT ON es_commands WHEN new.command_id = 'skip-1' BEGIN SELECT RAISE(IGNORE); END;
EOF
check_fails "an event that was not stored is not reported as accepted; nor is a command_id that was not recorded" <<'EOF'
SELECT es_submit('account', 'acc-2', 'Deposit', '{"amount":5}');
SELECT es_submit('account', 'acc-1', 'Deposit', '{"amount":5}', '{"command_id":"skip-1"}');
EOF
session "$db" <<'EOF'
DROP TRIGGER skip_events;
DROP TRIGGER skip_commands;
EOF

check "control: an accepted command does change the database" <<'EOF'
SELECT es_submit('account', 'acc-1', 'Deposit', '{"amount":5}', '{"command_id":"dep-2"}');
EOF
