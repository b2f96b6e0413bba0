-- views_sql.sql — read models defined in SQL (issue 3), in the stock shell with the extension
-- loaded: every definition that cannot work is refused by es_create_view with its exact message
-- and leaves nothing behind; a view is built from the whole log when defined (the count is
-- returned); events of types a view does not handle leave its table untouched (total_changes()
-- deltas) while es_projections still advances; redefinition; every direct write to a view's table
-- (and an INSERT into its feed from outside) is refused with the read-model message; es_rebuild
-- returns the events applied and gives the same table; es_drop_view makes the table an ordinary,
-- no longer maintained one. Run by views_sql.sh, which then reopens the database without the
-- extension and checks failing handlers against full dumps. Expected output: views_sql.expected.
.load ./dist/es
.load ./dist/bank
.nullvalue NULL

.print '-- arguments: text of 1 to 1000 bytes, else invalid_argument (es_create_view, es_rebuild, es_drop_view)'
SELECT es_create_view(NULL, 'f');
SELECT es_create_view('t', NULL);
SELECT es_create_view('', 'f');
SELECT es_create_view('t', '');
SELECT es_create_view(1, 'f');
SELECT es_create_view('t', 2.5);
SELECT es_create_view(x'74', 'f');
SELECT es_create_view(printf('%.*c', 1001, 't'), 'f');
SELECT es_rebuild(NULL);
SELECT es_rebuild('');
SELECT es_rebuild(7);
SELECT es_drop_view(NULL);
SELECT es_drop_view('');
SELECT es_drop_view(x'00');
.print '-- wrong number of arguments: refused when the statement is prepared'
SELECT es_create_view('t');
SELECT es_create_view('t', 'f', 'g');
SELECT es_rebuild();
SELECT es_drop_view('a', 'b');

.print '-- reserved names: es_* and sqlite_* (views_sql.sh checks the same names in another case)'
CREATE TABLE es_mine(k TEXT PRIMARY KEY);
CREATE VIEW any_feed AS SELECT position, type FROM es_events;
CREATE TRIGGER any_feed_on_event INSTEAD OF INSERT ON any_feed BEGIN SELECT 1; END;
SELECT es_create_view('es_mine', 'any_feed');
SELECT es_create_view('es_events', 'any_feed');
SELECT es_create_view('es_views', 'any_feed');
SELECT es_create_view('sqlite_schema', 'any_feed');
SELECT es_create_view('sqlite_x', 'any_feed');
SELECT es_rebuild('es_events');
SELECT es_drop_view('es_events');
DROP TABLE es_mine;
DROP TRIGGER any_feed_on_event;
DROP VIEW any_feed;

.print '-- definitions that cannot work are refused by es_create_view'
CREATE TABLE deposits(position INTEGER PRIMARY KEY, account_id TEXT NOT NULL, amount INTEGER NOT NULL);
.print '-- no such table, a view instead of a table'
SELECT es_create_view('nosuch', 'deposits_feed');
CREATE VIEW not_a_table AS SELECT 1 AS position;
SELECT es_create_view('not_a_table', 'deposits');
DROP VIEW not_a_table;
.print '-- the feed: missing, a table, a view without an INSTEAD OF INSERT trigger'
SELECT es_create_view('deposits', 'deposits_feed');
CREATE TABLE deposits_feed(position INTEGER, type TEXT);
SELECT es_create_view('deposits', 'deposits_feed');
DROP TABLE deposits_feed;
SELECT es_create_view('deposits', 'deposits');
CREATE VIEW deposits_feed AS
  SELECT position, type, aggregate_id AS account_id, data ->> 'amount' AS amount FROM es_events;
SELECT es_create_view('deposits', 'deposits_feed');
CREATE TRIGGER deposits_after AFTER INSERT ON deposits BEGIN SELECT 1; END;
SELECT es_create_view('deposits', 'deposits_feed');
DROP TRIGGER deposits_after;
.print '-- a handler naming an unknown column of the event, of its table, or an unknown table'
CREATE TRIGGER deposits_on_deposited INSTEAD OF INSERT ON deposits_feed WHEN NEW.type = 'Deposited' BEGIN
  INSERT INTO deposits(position, account_id, amount) VALUES (NEW.position, NEW.account_id, NEW.amount_cents);
END;
SELECT es_create_view('deposits', 'deposits_feed');
DROP TRIGGER deposits_on_deposited;
CREATE TRIGGER deposits_on_deposited INSTEAD OF INSERT ON deposits_feed WHEN NEW.type = 'Deposited' BEGIN
  INSERT INTO deposits(position, account, amount) VALUES (NEW.position, NEW.account_id, NEW.amount);
END;
SELECT es_create_view('deposits', 'deposits_feed');
DROP TRIGGER deposits_on_deposited;
CREATE TRIGGER deposits_on_deposited INSTEAD OF INSERT ON deposits_feed WHEN NEW.type = 'Deposited' BEGIN
  INSERT INTO deposit_rows(position, account_id, amount) VALUES (NEW.position, NEW.account_id, NEW.amount);
END;
SELECT es_create_view('deposits', 'deposits_feed');
DROP TRIGGER deposits_on_deposited;
.print '-- a feed without a position column'
CREATE VIEW no_position AS SELECT type, aggregate_id AS account_id FROM es_events;
CREATE TRIGGER no_position_on_event INSTEAD OF INSERT ON no_position BEGIN
  INSERT INTO deposits(position, account_id, amount) VALUES (1, NEW.account_id, 0);
END;
SELECT es_create_view('deposits', 'no_position');
DROP VIEW no_position;
.print '-- refused definitions create nothing: no storage, no guard, the table still writable'
SELECT count(*) FROM sqlite_schema WHERE name GLOB 'es_*';
INSERT INTO deposits VALUES (0, 'scratch', 1);
DELETE FROM deposits;

.print '-- a valid definition on a fresh database creates the storage and feeds 0 events'
CREATE TRIGGER deposits_on_deposited INSTEAD OF INSERT ON deposits_feed WHEN NEW.type = 'Deposited' BEGIN
  INSERT INTO deposits(position, account_id, amount) VALUES (NEW.position, NEW.account_id, NEW.amount);
END;
SELECT es_create_view('deposits', 'deposits_feed');
SELECT name, table_name, kind, position, lag FROM es_projections;
SELECT name, kind, feed FROM es_views;
SELECT name FROM sqlite_schema WHERE type = 'trigger' AND tbl_name = 'deposits' ORDER BY name;

.print '-- event types the view does not handle: its table untouched, its position still advances'
.print '-- (total_changes() after each command: AccountOpened and Withdrawn change 2 rows, the event and the'
.print "-- last position given (in es_meta); Deposited changes 3, the row of deposits too: a view keeps no position"
.print "-- of its own, every view is at the last position given)"
SELECT total_changes();
SELECT es_submit('account', 'a1', 'OpenAccount', '{"owner":"ada"}');
SELECT total_changes();
SELECT count(*) FROM deposits;
SELECT position, lag FROM es_projections;
SELECT es_submit('account', 'a1', 'Deposit', '{"amount":100}');
SELECT total_changes();
SELECT * FROM deposits;
SELECT es_submit('account', 'a1', 'Withdraw', '{"amount":30}');
SELECT total_changes();
SELECT * FROM deposits;
SELECT position, lag FROM es_projections;
.print '-- a rejected command changes nothing, not even the position'
SELECT es_try_submit('account', 'a1', 'Withdraw', '{"amount":1000}');
SELECT total_changes();
SELECT position, lag FROM es_projections;

.print '-- more events, then views defined after them are built from the whole log (the count is returned)'
SELECT es_submit('account', 'a2', 'OpenAccount', '{"owner":"bob"}');
SELECT es_submit('account', 'a2', 'Deposit', '{"amount":5}');
SELECT es_submit('account', 'a2', 'Withdraw', '{"amount":5}');
SELECT es_submit('account', 'a2', 'CloseAccount');
.read sql/bank_views.sql
SELECT * FROM account_balances ORDER BY account_id;
SELECT * FROM account_history ORDER BY position;
SELECT name, table_name, kind, position, lag FROM es_projections ORDER BY name;

.print '-- every command updates every view in its transaction; lag 0 after it'
SELECT es_submit('account', 'a1', 'Deposit', '{"amount":12}');
SELECT es_submit('account', 'a3', 'OpenAccount', '{"owner":"cy"}');
SELECT * FROM account_balances ORDER BY account_id;
SELECT * FROM account_history WHERE position > 7 ORDER BY position;
SELECT * FROM deposits ORDER BY position;
SELECT name, position, lag FROM es_projections ORDER BY name;
.print "-- in the caller's transaction too: a rolled-back transaction takes the view rows with it"
BEGIN;
SELECT es_submit('account', 'a3', 'Deposit', '{"amount":7}');
SELECT balance, events FROM account_balances WHERE account_id = 'a3';
SELECT name, position, lag FROM es_projections ORDER BY name;
ROLLBACK;
SELECT balance, events FROM account_balances WHERE account_id = 'a3';
SELECT count(*) FROM deposits;
SELECT name, position, lag FROM es_projections ORDER BY name;

.print "-- direct writes to a view's table: refused, naming the table and how it is maintained"
INSERT INTO account_balances VALUES ('a9', 'eve', 1000000, 'open', 1, 1);
INSERT OR REPLACE INTO account_balances VALUES ('a1', 'eve', 1000000, 'open', 1, 1);
REPLACE INTO account_balances VALUES ('a1', 'eve', 1000000, 'open', 1, 1);
INSERT INTO account_balances VALUES ('a1', 'eve', 0, 'open', 1, 1) ON CONFLICT(account_id) DO UPDATE SET balance = 1000000;
INSERT OR IGNORE INTO account_balances VALUES ('a9', 'eve', 1000000, 'open', 1, 1);
INSERT INTO account_balances SELECT 'b-' || account_id, owner, balance, status, events, last_version FROM account_balances;
UPDATE account_balances SET balance = 1000000 WHERE account_id = 'a1';
UPDATE account_balances SET balance = balance;
DELETE FROM account_balances WHERE account_id = 'a2';
DELETE FROM account_balances;
INSERT INTO account_history VALUES (100, 'a1', 'Deposited', 5, 5);
UPDATE account_history SET balance_after = 0;
DELETE FROM account_history;
INSERT INTO deposits VALUES (100, 'a1', 5);
UPDATE deposits SET amount = 0;
DELETE FROM deposits;
.print "-- the guard cannot be borrowed: es_internal_write is 0 outside the view's own step"
SELECT es_internal_write('account_balances');
INSERT INTO deposits SELECT 101, 'a1', es_internal_write('deposits');
.print '-- an INSERT into a feed from outside: the handlers run, and their writes are refused'
INSERT INTO account_history_feed(position, account_id, type, amount) VALUES (100, 'a1', 'Deposited', 5);
INSERT INTO account_balances_feed(position, account_id, version, type, owner, amount)
  VALUES (100, 'a1', 9, 'Deposited', NULL, 1000000);
INSERT INTO account_balances_feed(position, account_id, version, type, owner, amount)
  VALUES (100, 'a9', 1, 'AccountOpened', 'eve', NULL);
INSERT INTO deposits_feed(position, type, account_id, amount) VALUES (100, 'Deposited', 'a1', 5);
INSERT INTO deposits_feed SELECT * FROM deposits_feed;
.print '-- es_views and es_projections cannot be written either'
INSERT INTO es_views VALUES ('x', 'sql', 'x_feed', 0, '2020-01-01T00:00:00.000Z');
UPDATE es_views SET position = 0;
DELETE FROM es_views WHERE name = 'deposits';
UPDATE es_projections SET position = 0;
.print '-- nothing changed'
SELECT * FROM account_balances ORDER BY account_id;
SELECT count(*), sum(balance_after) FROM account_history;
SELECT * FROM deposits ORDER BY position;
SELECT name, kind, feed FROM es_views ORDER BY name;

.print '-- es_rebuild: empties the table and folds the whole log again; returns the events fed; same table'
CREATE TEMP TABLE balances_before AS SELECT * FROM account_balances;
CREATE TEMP TABLE history_before AS SELECT * FROM account_history;
CREATE TEMP TABLE deposits_before AS SELECT * FROM deposits;
SELECT es_rebuild('account_balances'), es_rebuild('account_history'), es_rebuild('deposits');
SELECT (SELECT count(*) FROM account_balances), (SELECT count(*) FROM balances_before),
       (SELECT count(*) FROM (SELECT * FROM account_balances EXCEPT SELECT * FROM balances_before)),
       (SELECT count(*) FROM (SELECT * FROM balances_before EXCEPT SELECT * FROM account_balances));
SELECT (SELECT count(*) FROM account_history), (SELECT count(*) FROM history_before),
       (SELECT count(*) FROM (SELECT * FROM account_history EXCEPT SELECT * FROM history_before)),
       (SELECT count(*) FROM (SELECT * FROM history_before EXCEPT SELECT * FROM account_history));
SELECT (SELECT count(*) FROM deposits), (SELECT count(*) FROM deposits_before),
       (SELECT count(*) FROM (SELECT * FROM deposits EXCEPT SELECT * FROM deposits_before)),
       (SELECT count(*) FROM (SELECT * FROM deposits_before EXCEPT SELECT * FROM deposits));
SELECT name, position, lag FROM es_projections ORDER BY name;
.print '-- es_rebuild of something that is not a view: unknown_view'
SELECT es_rebuild('nope');
SELECT es_rebuild('deposits_feed');
SELECT es_rebuild('es_events');

.print '-- redefinition: the same definition again rebuilds it (count returned), same table'
SELECT es_create_view('deposits', 'deposits_feed');
SELECT (SELECT count(*) FROM (SELECT * FROM deposits EXCEPT SELECT * FROM deposits_before)),
       (SELECT count(*) FROM deposits) = (SELECT count(*) FROM deposits_before);
.print '-- a new feed that only passes Deposited events: it is fed 3 events, and gives the same table'
CREATE VIEW deposits_only AS
  SELECT position, aggregate_id AS account_id, data ->> 'amount' AS amount FROM es_events WHERE type = 'Deposited';
CREATE TRIGGER deposits_only_on_deposited INSTEAD OF INSERT ON deposits_only BEGIN
  INSERT INTO deposits(position, account_id, amount) VALUES (NEW.position, NEW.account_id, NEW.amount);
END;
SELECT es_create_view('deposits', 'deposits_only');
SELECT name, kind, feed FROM es_views WHERE name = 'deposits';
SELECT * FROM deposits ORDER BY position;
.print '-- a redefinition that cannot work is refused and the old one stays in force'
CREATE VIEW deposits_broken AS SELECT position, type FROM es_events;
CREATE TRIGGER deposits_broken_on_event INSTEAD OF INSERT ON deposits_broken BEGIN
  INSERT INTO deposits(position, account_id, amount) VALUES (NEW.position, NEW.account_id, 0);
END;
SELECT es_create_view('deposits', 'deposits_broken');
SELECT name, kind, feed FROM es_views WHERE name = 'deposits';
SELECT es_submit('account', 'a3', 'Deposit', '{"amount":8}');
SELECT * FROM deposits ORDER BY position;
DROP VIEW deposits_broken;

.print '-- es_drop_view: forgotten (1), unguarded, no longer maintained; a second drop is unknown_view'
SELECT es_drop_view('deposits');
SELECT es_drop_view('deposits');
SELECT name FROM es_projections ORDER BY name;
SELECT count(*) FROM sqlite_schema WHERE type = 'trigger' AND tbl_name = 'deposits';
SELECT es_submit('account', 'a3', 'Deposit', '{"amount":9}');
SELECT * FROM deposits ORDER BY position;
INSERT INTO deposits VALUES (1000, 'mine', 1);
UPDATE deposits SET amount = amount * 10 WHERE position = 1000;
DELETE FROM deposits WHERE position < 1000;
SELECT * FROM deposits;
SELECT es_rebuild('deposits');
.print '-- the other views went on'
SELECT account_id, balance, events, last_version FROM account_balances WHERE account_id = 'a3';
SELECT name, position, lag FROM es_projections ORDER BY name;
SELECT max(position) FROM es_events;
