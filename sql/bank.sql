-- bank.sql — the whole bank example in SQL alone, for the sqlite3 shell: the account aggregate and
-- its two read models. Load sqlite-es first: `.load ./dist/es`, then `.read sql/bank.sql`.
.read sql/bank_aggregate.sql
.read sql/bank_views.sql
