-- batch_outbox.sql — the README's SQL-only batch pattern: an inbox processed with es_try_submit in
-- one BEGIN IMMEDIATE, each command atomic on its own, rejected rows in the middle; the rows then
-- move to an outbox (their command_id is in es_commands) or an error table, in the same transaction.
-- Then batches that fail midway inside the caller's transaction (es_submit on a rejection,
-- es_try_submit on a failing read-model handler): the statement stops at the failing row, the rows
-- before it keep their events (each command is atomic on its own), the rows after it do not run,
-- and the transaction stays open for the caller to commit or roll back. (In the output the shell's
-- error line comes before the rows the statement returned before failing: stderr is not buffered.)
.load ./dist/es
.output /dev/null
.read sql/bank.sql
.output stdout
CREATE TABLE inbox(id INTEGER PRIMARY KEY, account TEXT, command TEXT, payload TEXT);
CREATE TABLE outbox(id INTEGER PRIMARY KEY, account TEXT, command TEXT, payload TEXT);
CREATE TABLE failed(id INTEGER PRIMARY KEY, account TEXT, command TEXT, payload TEXT);
INSERT INTO inbox(account, command, payload) VALUES
  ('a1', 'OpenAccount', '{"owner":"ada"}'),
  ('a1', 'Withdraw', '{"amount":5}'),
  ('a1', 'Deposit', '{"amount":50}'),
  ('a2', 'Deposit', '{"amount":1}'),
  ('a1', 'Deposit', '{"amount":"x"}'),
  ('a1', 'Withdraw', '{"amount":20}');
BEGIN IMMEDIATE;
SELECT id, es_try_submit('account', account, command, payload, json_object('command_id', 'inbox-' || id)) FROM inbox;
INSERT INTO outbox SELECT i.* FROM inbox i WHERE 'inbox-' || i.id IN (SELECT command_id FROM es_commands);
INSERT INTO failed SELECT i.* FROM inbox i WHERE 'inbox-' || i.id NOT IN (SELECT command_id FROM es_commands);
DELETE FROM inbox;
COMMIT;
SELECT 'outbox', id, command FROM outbox;
SELECT 'failed', id, command FROM failed;
SELECT 'event', position, aggregate_id, version, type, data, command_id FROM es_events;
SELECT 'balance', account_id, balance, events FROM account_balances;

.print '-- es_submit, rejected at row 3 of 4, inside BEGIN IMMEDIATE: rows 1 and 2 stay, row 4 does not run'
CREATE TABLE batch(n INTEGER PRIMARY KEY, account TEXT, command TEXT, payload TEXT);
INSERT INTO batch(account, command, payload) VALUES
  ('b1', 'OpenAccount', '{"owner":"bo"}'),
  ('b1', 'Deposit', '{"amount":10}'),
  ('b1', 'Withdraw', '{"amount":500}'),
  ('b1', 'Deposit', '{"amount":20}');
BEGIN IMMEDIATE;
SELECT n, es_submit('account', account, command, payload) FROM batch;
SELECT 'still in the transaction', version, type, data FROM es_events WHERE aggregate_id = 'b1';
COMMIT;
SELECT 'committed', version, type, data FROM es_events WHERE aggregate_id = 'b1';
SELECT 'balance', account_id, balance, events FROM account_balances WHERE account_id = 'b1';

.print '-- the same batch rolled back by the caller after the failure: nothing of it stays'
UPDATE batch SET account = 'b2';
BEGIN IMMEDIATE;
SELECT n, es_submit('account', account, command, payload) FROM batch;
ROLLBACK;
SELECT 'b2 events', count(*) FROM es_events WHERE aggregate_id = 'b2';

.print '-- es_try_submit, a read-model handler failing at row 3 (es_try_submit raises it: not an outcome of the command): rows 1 and 2 stay'
CREATE TABLE small_amounts(position INTEGER PRIMARY KEY, amount INTEGER);
CREATE VIEW small_amounts_feed AS SELECT position, json_extract(data, '$.amount') AS amount FROM es_events;
CREATE TRIGGER small_amounts_on_event INSTEAD OF INSERT ON small_amounts_feed BEGIN
  SELECT RAISE(ABORT, 'amounts over 1000 are not handled') WHERE NEW.amount > 1000;
  INSERT INTO small_amounts VALUES (NEW.position, NEW.amount);
END;
SELECT es_create_view('small_amounts', 'small_amounts_feed');
UPDATE batch SET account = 'b3';
UPDATE batch SET command = 'Deposit', payload = '{"amount":5000}' WHERE n = 3;
BEGIN IMMEDIATE;
SELECT n, es_try_submit('account', account, command, payload) FROM batch;
COMMIT;
SELECT 'committed', version, type, data FROM es_events WHERE aggregate_id = 'b3';
SELECT 'balance', account_id, balance, events FROM account_balances WHERE account_id = 'b3';
