#!/bin/sh
# sql_aggregates_reconnect.sh — SQL aggregates are stored in the database, so a new connection
# lists them in es_aggregates before it runs any command (es_aggregates loads the stored
# definitions itself), and an open connection sees one defined by another connection; a stored
# definition that cannot be loaded makes es_aggregates fail with the reason, not come back short.
# Run by run.sh as `sh tests/sql/sql_aggregates_reconnect.sh DB`; output: sql_aggregates_reconnect.expected.
db=$1
work=$(dirname "$db")
SQLITE3=${SQLITE3:-sqlite3}
sql() { "$SQLITE3" -init /dev/null -batch "$1" 2>&1; }
with_ext() { { echo '.load ./dist/es'; cat; } | sql "$1"; }

echo "== session 1: none on a fresh database (nothing is created); then the bank defined in SQL (sql/bank.sql)"
with_ext "$db" <<'EOF2'
SELECT count(*) FROM es_aggregates;
SELECT count(*) FROM sqlite_schema;
.output /dev/null
.read sql/bank.sql
.output stdout
SELECT * FROM es_aggregates;
EOF2

echo "== session 2: es_aggregates is its first statement"
with_ext "$db" <<'EOF2'
SELECT * FROM es_aggregates;
SELECT count(*) FROM es_events;
EOF2

echo "== session 3 lists the aggregates, session 4 defines one, session 3 lists them again"
cat >"$work/define.sql" <<'EOF2'
.load ./dist/es
CREATE VIEW counter_evolve AS SELECT state FROM es_event;
SELECT es_create_aggregate('counter', '{}', '["Counted"]');
SELECT es_create_evolver('counter', 'counter_evolve');
EOF2
with_ext "$db" <<EOF2
SELECT name FROM es_aggregates;
.shell "$SQLITE3" -init /dev/null -batch "$db" <"$work/define.sql" >/dev/null
SELECT name, commands, events FROM es_aggregates;
EOF2

echo "== a stored definition that cannot be loaded (edited without the extension): es_aggregates fails"
sql "$db" <<'EOF2'
DROP TRIGGER es_sql_aggregates_update_guard;
UPDATE es_sql_aggregates SET events = 'not json', generation = generation + 1 WHERE name = 'counter';
EOF2
with_ext "$db" <<'EOF2'
SELECT name FROM es_aggregates;
SELECT 'the next statement runs';
EOF2
