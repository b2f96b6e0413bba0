-- batch_outbox.sql — the README's SQL-only batch pattern: an inbox processed with es_try_submit in
-- one BEGIN IMMEDIATE, each command atomic on its own, rejected rows in the middle; the rows then
-- move to an outbox (their command_id is in es_commands) or an error table, in the same transaction.
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
