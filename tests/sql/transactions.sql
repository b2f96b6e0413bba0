-- transactions.sql — DESIGN §6 in the stock shell: es_submit commits by itself in autocommit,
-- and inside the caller's BEGIN or SAVEPOINT it only ever adds to the caller's transaction (kept
-- by COMMIT or RELEASE, gone after ROLLBACK or ROLLBACK TO, invisible to another connection until
-- then, never committed or aborted by a failing command); batches `SELECT es_submit(…) FROM t`
-- apply each row's command, and a refused row in es_try_submit undoes no other; a savepoint of
-- the caller named like the extension's (es_call) is not disturbed; a batch in BEGIN IMMEDIATE;
-- the storage created inside a transaction that is rolled back is really gone afterwards.
-- Connection 1 is a second connection to the same file (no extension: it only counts events).
-- Run by transactions.sh, which puts the database path in place of @DB@.
-- Expected output: transactions.expected.
.load ./dist/es
.load ./dist/bank
.nullvalue NULL
.connection 1
.open @DB@
.connection 0
-- temp.mark remembers the last position before a section, to show only what the section added.
CREATE TEMP TABLE mark(p INTEGER);
INSERT INTO temp.mark VALUES (0);

.print '-- autocommit: committed when es_submit returns'
SELECT es_submit('account', 'acc-1', 'OpenAccount', '{"owner":"ada"}');
.connection 1
SELECT count(*) FROM es_events;
.connection 0

.print '-- BEGIN … COMMIT: part of the caller transaction, seen by others only after COMMIT'
BEGIN;
SELECT es_submit('account', 'acc-1', 'Deposit', '{"amount":10}');
SELECT es_submit('account', 'acc-1', 'Deposit', '{"amount":20}');
SELECT es_stream_version('account', 'acc-1'), es_state('account', 'acc-1');
.connection 1
SELECT count(*) FROM es_events;
.connection 0
COMMIT;
.connection 1
SELECT count(*) FROM es_events;
.connection 0

.print '-- BEGIN … ROLLBACK: gone, and the next command reuses the version and the position'
BEGIN;
SELECT es_submit('account', 'acc-1', 'Deposit', '{"amount":5}');
SELECT es_submit('account', 'acc-2', 'OpenAccount', '{"owner":"bob"}', '{"command_id":"open-2"}');
ROLLBACK;
SELECT es_stream_version('account', 'acc-1'), es_stream_version('account', 'acc-2'), es_state('account', 'acc-1');
SELECT count(*) FROM es_commands;
SELECT es_submit('account', 'acc-2', 'OpenAccount', '{"owner":"bob"}', '{"command_id":"open-2"}');
SELECT position, aggregate_id, version, type FROM es_events WHERE position > 3;

.print '-- a refused command inside BEGIN undoes only itself: the transaction goes on and commits'
BEGIN;
SELECT es_submit('account', 'acc-1', 'Deposit', '{"amount":1}');
SELECT es_submit('account', 'acc-1', 'Withdraw', '{"amount":1000}');
SELECT es_submit('account', 'acc-1', 'Deposit', '{"amount":1}', '{"expected_version":99}');
SELECT es_submit('account', 'acc-1', 'Deposit', '{"amount":"x"}');
SELECT es_submit('account', 'acc-1', 'Deposit', '{"amount":2}');
COMMIT;
SELECT position, version, type, data FROM es_stream('account', 'acc-1', 3);

.print '-- SAVEPOINT … ROLLBACK TO: gone; RELEASE: kept'
SAVEPOINT s;
SELECT es_submit('account', 'acc-1', 'Withdraw', '{"amount":7}');
SELECT es_stream_version('account', 'acc-1');
ROLLBACK TO s;
SELECT es_stream_version('account', 'acc-1');
SELECT es_submit('account', 'acc-1', 'Withdraw', '{"amount":8}');
.connection 1
SELECT count(*) FROM es_events;
.connection 0
RELEASE s;
.connection 1
SELECT count(*) FROM es_events;
.connection 0
SELECT position, version, type, data FROM es_stream('account', 'acc-1', 5);
.print '-- a released savepoint inside BEGIN is still undone by ROLLBACK'
BEGIN;
SAVEPOINT inner_sp;
SELECT es_submit('account', 'acc-1', 'Withdraw', '{"amount":1}');
RELEASE inner_sp;
ROLLBACK;
SELECT es_stream_version('account', 'acc-1'), es_state('account', 'acc-1');

.print '-- a savepoint of the caller named es_call (the name the extension uses) is not disturbed'
SAVEPOINT es_call;
SELECT es_submit('account', 'acc-2', 'Deposit', '{"amount":3}');
SELECT es_submit('account', 'acc-2', 'Withdraw', '{"amount":3000}');
SELECT es_submit('account', 'acc-2', 'Deposit', '{"amount":4}');
SELECT es_stream_version('account', 'acc-2');
ROLLBACK TO es_call;
SELECT es_stream_version('account', 'acc-2');
SELECT es_submit('account', 'acc-2', 'Deposit', '{"amount":6}');
RELEASE es_call;
.connection 1
SELECT count(*) FROM es_events;
.connection 0
SELECT es_stream_version('account', 'acc-2'), es_state('account', 'acc-2');

.print '-- SELECT es_submit(…) FROM t in autocommit: the command of every row is applied, the same aggregate several times'
CREATE TABLE inbox(id INTEGER PRIMARY KEY, aggregate_id TEXT, command TEXT, payload TEXT);
INSERT INTO inbox(aggregate_id, command, payload) VALUES
  ('acc-3', 'OpenAccount', '{"owner":"cy"}'),
  ('acc-4', 'OpenAccount', '{"owner":"di"}'),
  ('acc-3', 'Deposit', '{"amount":30}'),
  ('acc-4', 'Deposit', '{"amount":40}'),
  ('acc-3', 'Withdraw', '{"amount":10}');
UPDATE temp.mark SET p = (SELECT max(position) FROM es_events);
SELECT id, es_submit('account', aggregate_id, command, payload) FROM inbox ORDER BY id;
.connection 1
SELECT count(*) FROM es_events;
.connection 0
SELECT position, aggregate_id, version, type, data FROM es_events WHERE position > (SELECT p FROM temp.mark) ORDER BY position;

.print '-- es_try_submit over rows: a refused row does not undo the others'
DELETE FROM inbox;
INSERT INTO inbox(aggregate_id, command, payload) VALUES
  ('acc-3', 'Withdraw', '{"amount":5}'),
  ('acc-4', 'Withdraw', '{"amount":400}'),
  ('acc-5', 'Deposit', '{"amount":1}'),
  ('acc-4', 'Deposit', '{"amount":"4"}'),
  ('acc-3', 'Withdraw', '{"amount":5}');
UPDATE temp.mark SET p = (SELECT max(position) FROM es_events);
SELECT id, es_try_submit('account', aggregate_id, command, payload) FROM inbox ORDER BY id;
SELECT position, aggregate_id, version, type, data FROM es_events WHERE position > (SELECT p FROM temp.mark) ORDER BY position;

.print '-- es_submit over rows: a refused row stops the statement; the rows before it are kept, the ones after never run'
DELETE FROM inbox;
INSERT INTO inbox(aggregate_id, command, payload) VALUES
  ('acc-4', 'Deposit', '{"amount":1}'),
  ('acc-4', 'Withdraw', '{"amount":1000}'),
  ('acc-4', 'Deposit', '{"amount":2}');
UPDATE temp.mark SET p = (SELECT max(position) FROM es_events);
SELECT max(es_submit('account', aggregate_id, command, payload)) FROM inbox;
SELECT position, aggregate_id, version, type, data FROM es_events WHERE position > (SELECT p FROM temp.mark) ORDER BY position;

.print '-- a batch inside BEGIN IMMEDIATE: invisible to others until COMMIT; refused rows leave no trace'
DELETE FROM inbox;
INSERT INTO inbox(aggregate_id, command, payload) VALUES
  ('acc-5', 'OpenAccount', '{"owner":"eve"}'),
  ('acc-5', 'Withdraw', '{"amount":1}'),
  ('acc-5', 'Deposit', '{"amount":50}'),
  ('acc-6', 'CloseAccount', NULL),
  ('acc-5', 'Withdraw', '{"amount":20}');
UPDATE temp.mark SET p = (SELECT max(position) FROM es_events);
BEGIN IMMEDIATE;
SELECT id, es_try_submit('account', aggregate_id, command, payload) FROM inbox ORDER BY id;
.connection 1
SELECT count(*) FROM es_events;
.connection 0
COMMIT;
.connection 1
SELECT count(*) FROM es_events;
.connection 0
SELECT position, aggregate_id, version, type, data FROM es_events WHERE position > (SELECT p FROM temp.mark) ORDER BY position;
.print '-- the same batch again inside BEGIN IMMEDIATE … ROLLBACK: all gone'
BEGIN IMMEDIATE;
SELECT id, es_try_submit('account', aggregate_id, command, payload) FROM inbox ORDER BY id;
ROLLBACK;
SELECT count(*), max(position) FROM es_events;
.print '-- in BEGIN IMMEDIATE, an es_submit batch stopped by a refused row keeps the rows before it until the caller decides'
UPDATE temp.mark SET p = (SELECT max(position) FROM es_events);
BEGIN IMMEDIATE;
SELECT max(es_submit('account', aggregate_id, command, payload)) FROM inbox WHERE id >= 3;
SELECT count(*), max(position) FROM es_events;
COMMIT;
SELECT position, aggregate_id, version, type, data FROM es_events WHERE position > (SELECT p FROM temp.mark) ORDER BY position;

.print '-- the whole log: positions gapless, versions 1..n per aggregate'
SELECT min(position), max(position), count(*) FROM es_events;
SELECT aggregate_id, min(version), max(version), count(*), es_state('account', aggregate_id)
  FROM es_events GROUP BY aggregate_id ORDER BY aggregate_id;

.print '-- a fresh database: storage created inside a transaction that is rolled back is gone, and is created again'
.connection 2
.open @DB@-fresh
.load ./dist/es
.load ./dist/bank
BEGIN;
SELECT es_submit('account', 'acc-1', 'OpenAccount', '{"owner":"ada"}');
ROLLBACK;
SELECT count(*) FROM sqlite_schema;
SELECT es_stream_version('account', 'acc-1');
BEGIN;
SELECT es_submit('account', 'acc-1', 'OpenAccount', '{"owner":"ada"}');
SELECT es_stream_version('account', 'acc-1');
.print '-- … even when the schema cookie climbs back to the value it had inside that transaction'
-- As many CREATE TABLEs as the storage took schema changes, so the cookie matches again after them.
.once @DB@-ddl.sql
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < (SELECT schema_version FROM pragma_schema_version))
SELECT 'CREATE TABLE app_' || i || '(x);' FROM n;
ROLLBACK;
.read @DB@-ddl.sql
SELECT count(*) FROM sqlite_schema WHERE name GLOB 'es_*';
SELECT es_stream_version('account', 'acc-1');
SELECT es_state('account', 'acc-1');
SELECT es_submit('account', 'acc-1', 'OpenAccount', '{"owner":"ada"}');
SELECT es_submit('account', 'acc-1', 'Deposit', '{"amount":1}');
SELECT position, version, type FROM es_stream('account', 'acc-1');

.print '-- a fresh database, the documented batch in BEGIN IMMEDIATE: the first row creates the storage, a later row is refused, every row runs'
.connection 3
.open @DB@-batch
.load ./dist/es
.load ./dist/bank
CREATE TABLE inbox(id INTEGER PRIMARY KEY, aggregate_id TEXT, command TEXT, payload TEXT);
INSERT INTO inbox(aggregate_id, command, payload) VALUES
  ('acc-1', 'OpenAccount', '{"owner":"ada"}'),
  ('acc-1', 'Withdraw', '{"amount":1}'),
  ('acc-1', 'Deposit', '{"amount":50}'),
  ('acc-2', 'OpenAccount', '{"owner":"bob"}');
BEGIN IMMEDIATE;
SELECT id, es_try_submit('account', aggregate_id, command, payload) FROM inbox ORDER BY id;
COMMIT;
SELECT position, aggregate_id, version, type FROM es_events;
.connection 0
