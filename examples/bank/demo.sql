-- demo.sql — a tour of sqlite-es in the sqlite3 shell (run by `make demo`).
.load ./dist/es
.load ./dist/bank
.load ./dist/bank_views
.mode table --wrap 0

.print '== Commands go in through es_submit; each returns the new version of the aggregate'
SELECT 'acc-1 OpenAccount ada' AS command, es_submit('account', 'acc-1', 'OpenAccount', '{"owner":"ada"}') AS version
UNION ALL SELECT 'acc-1 Deposit 100', es_submit('account', 'acc-1', 'Deposit', '{"amount":100}')
UNION ALL SELECT 'acc-2 OpenAccount grace', es_submit('account', 'acc-2', 'OpenAccount', '{"owner":"grace"}')
UNION ALL SELECT 'acc-2 Deposit 40', es_submit('account', 'acc-2', 'Deposit', '{"amount":40}');

.print ''
.print '== The aggregate decides: a withdrawal larger than the balance is rejected, and changes nothing'
SELECT es_submit('account', 'acc-1', 'Withdraw', '{"amount":500}');
SELECT es_submit('account', 'acc-1', 'Deposit', '{"amount":-5}');
SELECT es_submit('account', 'acc-9', 'Deposit', '{"amount":5}');

.print ''
.print '== es_try_submit reports outcomes as JSON instead of raising (for batches)'
SELECT es_try_submit('account', 'acc-1', 'Withdraw', '{"amount":30}') AS outcome
UNION ALL SELECT es_try_submit('account', 'acc-2', 'CloseAccount')
UNION ALL SELECT es_try_submit('account', 'acc-1', 'Withdraw', '{"amount":30}', '{"expected_version":2}');

.print ''
.print '== Idempotency: the same command_id twice appends once'
SELECT es_try_submit('account', 'acc-2', 'Withdraw', '{"amount":40}', '{"command_id":"req-7"}') AS first_try;
SELECT es_try_submit('account', 'acc-2', 'Withdraw', '{"amount":40}', '{"command_id":"req-7"}') AS retry;
SELECT es_submit('account', 'acc-2', 'CloseAccount', '{}', '{"metadata":{"user":"grace"}}') AS version;

.print ''
.print '== The log: append-only, positions gapless and in commit order'
SELECT position, aggregate_id, version, type, data, metadata, command_id FROM es_events;

.print ''
.print '== Current state, rebuilt from the events of each aggregate'
SELECT 'acc-1' AS account, es_stream_version('account', 'acc-1') AS version, es_state('account', 'acc-1') AS state
UNION ALL SELECT 'acc-2', es_stream_version('account', 'acc-2'), es_state('account', 'acc-2');

.print ''
.print '== Read models (C views, dist/bank_views.so), updated in the same transaction as the events'
SELECT * FROM account_balances;
SELECT * FROM account_history;
SELECT * FROM es_projections;

.print ''
.print '== One stream, after version 1'
SELECT version, type, data FROM es_stream('account', 'acc-1', 1);

.print ''
.print '== The log cannot be edited, even by hand'
UPDATE es_events SET data = '{"amount":1000000}' WHERE position = 2;
DELETE FROM es_events;
INSERT INTO es_events(aggregate_type, aggregate_id, version, type, data, recorded_at)
  VALUES ('account', 'acc-1', 4, 'Deposited', '{"amount":1000000}', 'now');
SELECT count(*) AS events_still_there FROM es_events;
UPDATE account_balances SET balance = 1000000 WHERE account_id = 'acc-1';

.print ''
.print '== A read model can be rebuilt from the log at any time (returns the events applied)'
SELECT es_rebuild('account_history') AS events_applied;
