-- demo_sql_views.sql — the same bank, with its read models defined in SQL (sql/bank_views.sql).
.load ./dist/es
.load ./dist/bank
.mode table --wrap 0
SELECT es_submit('account', 'acc-1', 'OpenAccount', '{"owner":"ada"}') AS v1,
       es_submit('account', 'acc-1', 'Deposit', '{"amount":100}') AS v2,
       es_submit('account', 'acc-1', 'Withdraw', '{"amount":30}') AS v3;
.print '== Defining the read models after the events builds them from the whole log (views.sql)'
.read sql/bank_views.sql
.print ''
.print '== From now on every command updates them in its own transaction'
SELECT es_submit('account', 'acc-2', 'OpenAccount', '{"owner":"grace"}') AS version;
SELECT * FROM account_balances;
SELECT * FROM account_history;
SELECT * FROM es_projections;
