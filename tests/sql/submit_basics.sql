-- submit_basics.sql — the accepted path of the write side, through the stock sqlite3 shell:
-- es_submit's versions, the exact rows of es_events, es_stream (with after_version),
-- es_stream_version, es_state, es_try_submit's JSON for every outcome, the expected_version
-- forms, command_id idempotency, metadata on the events, gapless positions across aggregates,
-- es_aggregates and es_version. Expected output: submit_basics.expected (run by run.sh).
.load ./dist/es
.load ./dist/bank
.nullvalue NULL

.print '-- identity: a version string, repeated as the first line of es_debug(), which names this SQLite'
SELECT es_version() GLOB '[0-9]*.[0-9]*.[0-9]*',
       es_debug() LIKE 'Version: ' || es_version() || char(10) || '%',
       instr(es_debug(), char(10) || 'SQLite: ' || sqlite_version() || ' ') > 0;

.print '-- es_aggregates: the types registered on this connection'
SELECT name, commands, events FROM es_aggregates;

.print '-- before any command: no storage, empty reads'
SELECT es_stream_version('account', 'acc-1');
SELECT count(*) FROM es_stream('account', 'acc-1');
SELECT es_state('account', 'acc-1');
SELECT count(*) FROM sqlite_schema;

.print '-- accepted commands return the version after them: 1, 2, 3'
SELECT es_submit('account', 'acc-1', 'OpenAccount', '{"owner":"ada"}');
SELECT es_submit('account', 'acc-1', 'Deposit', '{"amount":100}');
SELECT es_submit('account', 'acc-1', 'Withdraw', '{"amount":30}');

.print '-- the log: one row per event, data as the aggregate built it'
SELECT position, aggregate_type, aggregate_id, version, type, data, metadata, command_id FROM es_events ORDER BY position;
.print '-- recorded_at is UTC with milliseconds on every row'
SELECT count(*) FROM es_events
 WHERE recorded_at GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9]Z';

.print '-- es_stream: the events of one aggregate in version order; after_version skips the first ones'
SELECT position, version, type, data, metadata, command_id FROM es_stream('account', 'acc-1');
SELECT position, version, type FROM es_stream('account', 'acc-1', 1);
SELECT position, version, type FROM es_stream('account', 'acc-1', 0);
SELECT count(*) FROM es_stream('account', 'acc-1', 3);
SELECT count(*) FROM es_stream('account', 'acc-1', 99);
SELECT count(*) FROM es_stream('account', 'nobody');
.print '-- its hidden columns echo the arguments; recorded_at matches the log'
SELECT aggregate_type, aggregate_id, after_version FROM es_stream('account', 'acc-1', 2);
SELECT aggregate_type, aggregate_id, after_version FROM es_stream('account', 'acc-1') LIMIT 1;
SELECT count(*) FROM es_stream('account', 'acc-1') AS s JOIN es_events AS e USING (position) WHERE s.recorded_at = e.recorded_at;
.print '-- as a table with the ids in WHERE'
SELECT version FROM es_stream WHERE aggregate_type = 'account' AND aggregate_id = 'acc-1' AND after_version = 2;

.print '-- es_stream_version: current version, 0 for an aggregate with no events (even of an unregistered type)'
SELECT es_stream_version('account', 'acc-1');
SELECT es_stream_version('account', 'nobody');
SELECT es_stream_version('no_such_type', 'acc-1');

.print '-- es_state: folded from the events'
SELECT es_state('account', 'acc-1');
SELECT es_state('account', 'nobody');

.print '-- es_try_submit: ok, rejected, conflict'
SELECT es_try_submit('account', 'acc-1', 'Deposit', '{"amount":5}');
SELECT es_try_submit('account', 'acc-1', 'Withdraw', '{"amount":1000}');
SELECT es_try_submit('account', 'acc-1', 'Deposit', '{"amount":5}', '{"expected_version":1}');
SELECT es_try_submit('account', 'acc-1', 'CloseAccount');
SELECT es_try_submit('account', 'acc-2', 'Deposit', '{"amount":5}');
.print '-- es_submit raises the same outcomes'
SELECT es_submit('account', 'acc-1', 'Withdraw', '{"amount":1000}');
SELECT es_submit('account', 'acc-1', 'Deposit', '{"amount":5}', '{"expected_version":1}');
SELECT es_submit('account', 'acc-1', 'OpenAccount', '{"owner":"bob"}');

.print '-- expected_version: exact integer'
SELECT es_submit('account', 'acc-1', 'Deposit', '{"amount":1}', '{"expected_version":4}');
SELECT es_submit('account', 'acc-1', 'Deposit', '{"amount":1}', '{"expected_version":4}');
SELECT es_submit('account', 'acc-1', 'Deposit', '{"amount":1}', '{"expected_version":99}');
.print '-- expected_version 0: only for an aggregate with no events'
SELECT es_submit('account', 'acc-2', 'OpenAccount', '{"owner":"bob"}', '{"expected_version":0}');
SELECT es_submit('account', 'acc-2', 'Deposit', '{"amount":1}', '{"expected_version":0}');
.print '-- "any"'
SELECT es_submit('account', 'acc-2', 'Deposit', '{"amount":2}', '{"expected_version":"any"}');
.print '-- "no_stream": only for an aggregate with no events'
SELECT es_submit('account', 'acc-3', 'OpenAccount', '{"owner":"cy"}', '{"expected_version":"no_stream"}');
SELECT es_submit('account', 'acc-3', 'Deposit', '{"amount":3}', '{"expected_version":"no_stream"}');
SELECT es_try_submit('account', 'acc-3', 'Deposit', '{"amount":3}', '{"expected_version":"no_stream"}');
.print '-- "exists": only for an aggregate with events'
SELECT es_submit('account', 'acc-3', 'Deposit', '{"amount":3}', '{"expected_version":"exists"}');
SELECT es_submit('account', 'acc-4', 'OpenAccount', '{"owner":"di"}', '{"expected_version":"exists"}');
SELECT es_try_submit('account', 'acc-4', 'OpenAccount', '{"owner":"di"}', '{"expected_version":"exists"}');
.print '-- a conflict is checked before decide: the conflict wins over a rejection'
SELECT es_submit('account', 'acc-3', 'Withdraw', '{"amount":1000}', '{"expected_version":1}');

.print '-- command_id: the first run appends and records it'
SELECT es_submit('account', 'acc-2', 'Deposit', '{"amount":10}', '{"command_id":"cmd-1"}');
.print '-- the same command again: its original version, nothing appended'
SELECT es_submit('account', 'acc-2', 'Deposit', '{"amount":10}', '{"command_id":"cmd-1"}');
SELECT es_try_submit('account', 'acc-2', 'Deposit', '{"amount":10}', '{"command_id":"cmd-1"}');
.print '-- even with another payload, or an expected_version that no longer holds: it already succeeded'
SELECT es_submit('account', 'acc-2', 'Deposit', '{"amount":999}', '{"command_id":"cmd-1"}');
SELECT es_submit('account', 'acc-2', 'Deposit', '{"amount":10}', '{"command_id":"cmd-1","expected_version":3}');
.print '-- another command on the aggregate moves it on; the retry still answers 3'
SELECT es_submit('account', 'acc-2', 'Deposit', '{"amount":20}');
SELECT es_submit('account', 'acc-2', 'Deposit', '{"amount":10}', '{"command_id":"cmd-1"}');
SELECT es_try_submit('account', 'acc-2', 'Deposit', '{"amount":10}', '{"command_id":"cmd-1"}');
.print '-- the id on another command, type or aggregate is refused'
SELECT es_submit('account', 'acc-2', 'Withdraw', '{"amount":10}', '{"command_id":"cmd-1"}');
SELECT es_submit('account', 'acc-1', 'Deposit', '{"amount":10}', '{"command_id":"cmd-1"}');
SELECT es_try_submit('account', 'acc-1', 'Deposit', '{"amount":10}', '{"command_id":"cmd-1"}');
.print '-- a rejected command does not use up its id: it can run once it is accepted'
SELECT es_submit('account', 'acc-2', 'Withdraw', '{"amount":500}', '{"command_id":"cmd-2"}');
SELECT es_submit('account', 'acc-2', 'Deposit', '{"amount":500}');
SELECT es_submit('account', 'acc-2', 'Withdraw', '{"amount":500}', '{"command_id":"cmd-2"}');
SELECT es_submit('account', 'acc-2', 'Withdraw', '{"amount":500}', '{"command_id":"cmd-2"}');
.print '-- command_id null is no id'
SELECT es_submit('account', 'acc-2', 'Deposit', '{"amount":1}', '{"command_id":null}');
SELECT es_submit('account', 'acc-2', 'Deposit', '{"amount":1}', '{"command_id":null}');
.print '-- es_commands: one row per command id that succeeded'
SELECT command_id, aggregate_type, aggregate_id, command_type, version, position FROM es_commands ORDER BY command_id;

.print '-- metadata is stored on the events of its command; command_id too'
SELECT es_submit('account', 'acc-4', 'OpenAccount', '{"owner":"di"}',
                 '{"metadata":{"user":"ops","correlation_id":"c-9","tags":["a","b"]},"command_id":"cmd-3"}');
SELECT es_try_submit('account', 'acc-4', 'Deposit', '{"amount":7}', '{"metadata":{"user":"ops"}}');
SELECT es_submit('account', 'acc-4', 'Deposit', '{"amount":8}', '{"metadata":null}');
SELECT es_submit('account', 'acc-4', 'Deposit', '{"amount":9}', '{"metadata":{}}');
SELECT es_submit('account', 'acc-4', 'Deposit', '{"amount":1}', NULL);
SELECT version, type, data, metadata, command_id FROM es_stream('account', 'acc-4');
.print '-- es_try_submit with a command_id: ok the first time, duplicate after'
SELECT es_try_submit('account', 'acc-4', 'Withdraw', '{"amount":5}', '{"command_id":"cmd-4"}');
SELECT es_try_submit('account', 'acc-4', 'Withdraw', '{"amount":5}', '{"command_id":"cmd-4"}');
SELECT command_id, aggregate_id, command_type, version, position FROM es_commands ORDER BY command_id;

.print '-- payload and options may be left out or NULL: {} and no options'
SELECT es_submit('account', 'acc-5', 'OpenAccount', '{"owner":"eve"}');
SELECT es_submit('account', 'acc-5', 'CloseAccount');
SELECT es_submit('account', 'acc-5', 'CloseAccount', NULL, NULL);
SELECT es_state('account', 'acc-5');

.print '-- the whole log: positions 1..n with no gap across aggregates, versions 1..n per aggregate'
SELECT position, aggregate_id, version, type, data, metadata, command_id FROM es_events ORDER BY position;
SELECT min(position), max(position), count(*) FROM es_events;
SELECT aggregate_id, min(version), max(version), count(*) FROM es_events GROUP BY aggregate_type, aggregate_id ORDER BY 1;
SELECT aggregate_id, es_stream_version('account', aggregate_id), es_state('account', aggregate_id)
  FROM es_events GROUP BY aggregate_id ORDER BY 1;

.print '-- es_submit leaves last_insert_rowid() to the caller'
CREATE TABLE t(x);
INSERT INTO t VALUES ('a'), ('b');
SELECT es_submit('account', 'acc-1', 'Deposit', '{"amount":1}');
SELECT last_insert_rowid();
