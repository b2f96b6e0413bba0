-- demo_sql_views.sql — the same bank defined in SQL alone (sql/bank.sql): aggregate and read models.
.load ./dist/es
.mode table --wrap 0
.print '== sql/bank.sql: the aggregate (deciders and an evolver as views) and both read models, in plain SQL'
.output /dev/null
.read sql/bank.sql
.output stdout
SELECT 'acc-1 OpenAccount ada' AS command, es_submit('account', 'acc-1', 'OpenAccount', '{"owner":"ada"}') AS version
UNION ALL SELECT 'acc-1 Deposit 100', es_submit('account', 'acc-1', 'Deposit', '{"amount":100}')
UNION ALL SELECT 'acc-1 Withdraw 30', es_submit('account', 'acc-1', 'Withdraw', '{"amount":30}');
SELECT es_submit('account', 'acc-1', 'Withdraw', '{"amount":500}');
SELECT es_try_submit('account', 'acc-1', 'Deposit', '{"amount":"lots"}') AS outcome;
SELECT es_state('account', 'acc-1') AS state;
SELECT * FROM account_balances;
SELECT * FROM account_history;
SELECT * FROM es_projections;
