-- protection.sql — DESIGN §7 and rule 4 in the stock shell, extension loaded: every way of
-- writing es_events, es_commands and es_meta other than es_submit is refused with its exact
-- message; DEFENSIVE is on (writable_schema cannot rewrite the triggers) and es_config can switch
-- it off; what SQLite cannot stop (DROP TRIGGER, ALTER TABLE, DROP TABLE) is shown, and es_submit
-- refuses to run on a storage left unprotected, altered or incomplete; es_protect() restores the triggers;
-- an application trigger that writes to the log makes the command fail with nothing kept;
-- es_submit from triggers and writing statements is refused before anything is written.
-- Run by protection.sh, which then reopens databases without the extension and with DEFENSIVE
-- off. Expected output: protection.expected.
.load ./dist/es
.load ./dist/bank
.nullvalue NULL

.print '-- setup: the storage, with a command_id recorded'
SELECT es_submit('account', 'acc-1', 'OpenAccount', '{"owner":"ada"}', '{"command_id":"open-1"}');
SELECT es_submit('account', 'acc-1', 'Deposit', '{"amount":100}');

.print '-- es_events: UPDATE, DELETE, INSERT, INSERT OR REPLACE, REPLACE, UPSERT, INSERT OR IGNORE, INSERT … SELECT'
UPDATE es_events SET data = '{"amount":1000000}' WHERE position = 2;
UPDATE es_events SET position = position + 10;
DELETE FROM es_events WHERE position = 2;
DELETE FROM es_events;
INSERT INTO es_events(aggregate_type, aggregate_id, version, type, data, recorded_at)
  VALUES ('account', 'acc-1', 3, 'Deposited', '{"amount":5}', '2020-01-01T00:00:00.000Z');
INSERT OR REPLACE INTO es_events(position, aggregate_type, aggregate_id, version, type, data, recorded_at)
  VALUES (2, 'account', 'acc-1', 2, 'Deposited', '{"amount":1000000}', '2020-01-01T00:00:00.000Z');
REPLACE INTO es_events(position, aggregate_type, aggregate_id, version, type, data, recorded_at)
  VALUES (2, 'account', 'acc-1', 2, 'Deposited', '{"amount":1000000}', '2020-01-01T00:00:00.000Z');
INSERT INTO es_events(position, aggregate_type, aggregate_id, version, type, data, recorded_at)
  VALUES (2, 'account', 'acc-1', 2, 'Deposited', '{"amount":5}', '2020-01-01T00:00:00.000Z')
  ON CONFLICT(position) DO UPDATE SET data = '{"amount":1000000}';
INSERT INTO es_events(aggregate_type, aggregate_id, version, type, data, recorded_at)
  VALUES ('account', 'acc-1', 2, 'Deposited', '{"amount":5}', '2020-01-01T00:00:00.000Z')
  ON CONFLICT(aggregate_type, aggregate_id, version) DO UPDATE SET data = excluded.data;
INSERT OR IGNORE INTO es_events(aggregate_type, aggregate_id, version, type, data, recorded_at)
  VALUES ('account', 'acc-1', 3, 'Deposited', '{"amount":5}', '2020-01-01T00:00:00.000Z');
INSERT INTO es_events(aggregate_type, aggregate_id, version, type, data, recorded_at)
  SELECT aggregate_type, aggregate_id, version + 2, type, data, recorded_at FROM es_events;
.print '-- the guard cannot be borrowed: es_internal_write is 0 outside the append step'
SELECT es_internal_write('es_events');
INSERT INTO es_events(aggregate_type, aggregate_id, version, type, data, recorded_at)
  SELECT 'account', 'acc-1', 3, 'Deposited', '{"amount":5}', es_internal_write('es_events');

.print '-- es_commands: UPDATE, DELETE, INSERT, INSERT OR REPLACE, REPLACE, UPSERT'
UPDATE es_commands SET version = 99;
DELETE FROM es_commands;
INSERT INTO es_commands VALUES ('open-2', 'account', 'acc-2', 'OpenAccount', 1, 1, '2020-01-01T00:00:00.000Z');
INSERT OR REPLACE INTO es_commands VALUES ('open-1', 'account', 'acc-1', 'Deposit', 9, 9, '2020-01-01T00:00:00.000Z');
REPLACE INTO es_commands VALUES ('open-1', 'account', 'acc-1', 'Deposit', 9, 9, '2020-01-01T00:00:00.000Z');
INSERT INTO es_commands VALUES ('open-1', 'account', 'acc-1', 'OpenAccount', 1, 1, '2020-01-01T00:00:00.000Z')
  ON CONFLICT(command_id) DO UPDATE SET version = 9;

.print '-- es_meta: UPDATE, DELETE, INSERT, INSERT OR REPLACE, REPLACE, UPSERT'
UPDATE es_meta SET value = 99 WHERE key = 'format';
DELETE FROM es_meta;
INSERT INTO es_meta VALUES ('owner', 'me');
INSERT OR REPLACE INTO es_meta VALUES ('format', 99);
REPLACE INTO es_meta VALUES ('format', 99);
INSERT INTO es_meta VALUES ('format', 1) ON CONFLICT(key) DO UPDATE SET value = 99;

.print '-- all three tables are as the commands left them'
SELECT position, aggregate_type, aggregate_id, version, type, data, metadata, command_id FROM es_events;
SELECT command_id, aggregate_type, aggregate_id, command_type, version, position FROM es_commands;
SELECT key, value FROM es_meta;

.print '-- DEFENSIVE is on: writable_schema cannot rewrite or delete the triggers'
.dbconfig defensive
SELECT es_config('defensive');
PRAGMA writable_schema = ON;
UPDATE sqlite_schema SET sql = 'CREATE TRIGGER es_events_no_update BEFORE UPDATE ON es_events BEGIN SELECT 1; END'
 WHERE name = 'es_events_no_update';
DELETE FROM sqlite_schema WHERE name = 'es_events_no_delete';
UPDATE sqlite_master SET sql = sql WHERE type = 'trigger';
PRAGMA writable_schema = OFF;
SELECT count(*) FROM sqlite_schema WHERE type = 'trigger' AND sql LIKE '%RAISE(ABORT, ''es: protected: %';
.print '-- the documented opt-out: es_config with defensive 0 switches it off (protection.sh shows the tampering it allows), 1 back on'
SELECT es_config('defensive', 0);
SELECT es_config('defensive');
.dbconfig defensive
SELECT es_config('defensive', 1);
SELECT es_config('defensive');
.dbconfig defensive

.print '-- DROP TRIGGER cannot be stopped; es_submit then refuses to run, naming the trigger'
DROP TRIGGER es_events_no_update;
SELECT es_submit('account', 'acc-1', 'Deposit', '{"amount":1}');
SELECT es_try_submit('account', 'acc-1', 'Deposit', '{"amount":1}');
.print '-- es_protect() restores what is missing and says how many; then commands run again'
SELECT es_protect();
SELECT es_protect();
SELECT es_submit('account', 'acc-1', 'Deposit', '{"amount":1}');
UPDATE es_events SET data = '{}';
DROP TRIGGER es_meta_insert_guard;
DROP TRIGGER es_commands_no_delete;
DROP TRIGGER es_events_insert_guard;
SELECT es_submit('account', 'acc-1', 'Deposit', '{"amount":1}');
SELECT es_protect();
SELECT es_submit('account', 'acc-1', 'Deposit', '{"amount":1}');
SELECT count(*) FROM sqlite_schema WHERE type = 'trigger' AND name GLOB 'es_*';
.print '-- es_protect() also refuses to run inside a writing statement'
CREATE TABLE t(x);
INSERT INTO t SELECT es_protect();

.print '-- an application trigger that writes to the log: the command fails and nothing is kept'
CREATE TRIGGER copy_events AFTER INSERT ON es_events BEGIN
  INSERT INTO es_events(aggregate_type, aggregate_id, version, type, data, recorded_at)
    VALUES (new.aggregate_type, 'copy', new.version, new.type, new.data, new.recorded_at);
END;
SELECT es_submit('account', 'acc-1', 'Deposit', '{"amount":1}');
SELECT es_try_submit('account', 'acc-1', 'Deposit', '{"amount":1}');
SELECT es_submit('account', 'acc-2', 'OpenAccount', '{"owner":"bob"}', '{"command_id":"open-2"}');
DROP TRIGGER copy_events;
SELECT count(*), max(position), es_stream_version('account', 'acc-1'), es_stream_version('account', 'acc-2') FROM es_events;
SELECT count(*) FROM es_commands;

.print '-- es_submit from a trigger: refused by SQLite in the main schema (DIRECTONLY)'
CREATE TRIGGER t_submit AFTER INSERT ON t BEGIN
  SELECT es_submit('account', 'acc-1', 'Deposit', '{"amount":1}');
END;
INSERT INTO t VALUES (1);
DROP TRIGGER t_submit;
CREATE TRIGGER t_try_submit AFTER INSERT ON t BEGIN
  SELECT es_try_submit('account', 'acc-1', 'Deposit', '{"amount":1}');
END;
INSERT INTO t VALUES (2);
DROP TRIGGER t_try_submit;
.print '-- a TEMP trigger may call it (SQLite trusts TEMP), and es_submit refuses: misuse, nothing written'
CREATE TEMP TRIGGER t_submit AFTER INSERT ON t BEGIN
  SELECT es_submit('account', 'acc-1', 'Deposit', '{"amount":1}');
END;
INSERT INTO t VALUES (3);
DROP TRIGGER t_submit;
CREATE TEMP TRIGGER t_try_submit AFTER INSERT ON t BEGIN
  SELECT es_try_submit('account', 'acc-1', 'Deposit', '{"amount":1}');
END;
INSERT INTO t VALUES (4);
DROP TRIGGER t_try_submit;
.print '-- a view calling it is refused by SQLite; a CHECK constraint compiled in this session reaches es_submit: misuse'
CREATE VIEW v_submit AS SELECT es_submit('account', 'acc-1', 'Deposit', '{"amount":1}') AS v;
SELECT * FROM v_submit;
DROP VIEW v_submit;
CREATE TABLE c(x CHECK (es_submit('account', 'acc-1', 'Deposit', '{"amount":1}') > 0));
INSERT INTO c VALUES (1);
DROP TABLE c;

.print '-- es_submit inside statements that write: misuse before anything is written'
INSERT INTO t VALUES (5);
INSERT INTO t SELECT es_submit('account', 'acc-1', 'Deposit', '{"amount":1}');
INSERT INTO t SELECT es_try_submit('account', 'acc-1', 'Deposit', '{"amount":1}');
INSERT INTO t VALUES (es_submit('account', 'acc-1', 'Deposit', '{"amount":1}'));
UPDATE t SET x = es_submit('account', 'acc-1', 'Deposit', '{"amount":1}');
UPDATE t SET x = es_try_submit('account', 'acc-1', 'Deposit', '{"amount":1}');
DELETE FROM t WHERE x = es_submit('account', 'acc-1', 'Deposit', '{"amount":1}');
SELECT x FROM t;
SELECT count(*), max(position), es_stream_version('account', 'acc-1') FROM es_events;
SELECT es_state('account', 'acc-1');

.print '-- ALTER TABLE … ADD COLUMN cannot be stopped; commands report it and write nothing until the column goes'
ALTER TABLE es_events ADD COLUMN note TEXT;
SELECT es_submit('account', 'acc-1', 'Deposit', '{"amount":1}');
SELECT es_try_submit('account', 'acc-1', 'Deposit', '{"amount":1}');
SELECT es_protect();
SELECT es_submit('account', 'acc-1', 'Deposit', '{"amount":1}');
SELECT es_stream_version('account', 'acc-1');
ALTER TABLE es_events DROP COLUMN note;
SELECT es_submit('account', 'acc-1', 'Deposit', '{"amount":1}');
SELECT position, version, type FROM es_events WHERE position = (SELECT max(position) FROM es_events);
.print '-- ALTER TABLE … RENAME cannot be stopped (the triggers follow the table); es_submit reports the storage incomplete'
ALTER TABLE es_events RENAME TO es_events_renamed;
SELECT es_submit('account', 'acc-1', 'Deposit', '{"amount":1}');
SELECT es_try_submit('account', 'acc-1', 'Deposit', '{"amount":1}');
SELECT es_stream_version('account', 'acc-1');
SELECT es_protect();
SELECT name, tbl_name FROM sqlite_schema WHERE name GLOB 'es_events_*' ORDER BY name;
UPDATE es_events_renamed SET data = '{}';
.print '-- renamed back, it works again'
ALTER TABLE es_events_renamed RENAME TO es_events;
SELECT es_submit('account', 'acc-1', 'Deposit', '{"amount":1}');
.print '-- DROP TABLE cannot be stopped (no DELETE trigger fires) and takes its triggers; es_submit reports the storage incomplete'
DROP TABLE es_events;
SELECT es_submit('account', 'acc-1', 'Deposit', '{"amount":1}');
SELECT es_try_submit('account', 'acc-1', 'Deposit', '{"amount":1}');
SELECT es_protect();
SELECT count(*) FROM sqlite_schema WHERE name GLOB 'es_events*';
