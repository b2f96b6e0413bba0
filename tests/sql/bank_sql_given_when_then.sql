-- bank_sql_given_when_then.sql — the bank written in SQL alone (sql/bank_aggregate.sql), tested
-- given-when-then with es_test_command: given these events, when this command, then these events
-- (and state) or this failure. The real log stays empty throughout.
.load ./dist/es
.output /dev/null
.read sql/bank_aggregate.sql
.output stdout
.mode list
CREATE TEMP TABLE given(name TEXT PRIMARY KEY, events TEXT NOT NULL);
INSERT INTO given VALUES
  ('nothing', '[]'),
  ('opened', '[{"type":"AccountOpened","data":{"owner":"ada"}}]'),
  ('funded', '[{"type":"AccountOpened","data":{"owner":"ada"}},{"type":"Deposited","data":{"amount":100}}]'),
  ('closed', '[{"type":"AccountOpened","data":{"owner":"ada"}},{"type":"AccountClosed"}]');

CREATE TEMP TABLE cases(n INTEGER PRIMARY KEY, given TEXT, command TEXT, payload TEXT, expect TEXT);
INSERT INTO cases(given, command, payload, expect) VALUES
  ('nothing', 'OpenAccount', '{"owner":"ada"}',
   '{"ok":true,"events":[{"type":"AccountOpened","data":{"owner":"ada"}}],"state":{"status":"open","owner":"ada","balance":0}}'),
  ('opened', 'OpenAccount', '{"owner":"bob"}',
   '{"ok":false,"error":"rejected","reason":"already_open","message":"account test is already open"}'),
  ('nothing', 'OpenAccount', '{"owner":""}',
   '{"ok":false,"error":"rejected","reason":"invalid_owner","message":"owner must be 1 to 100 bytes"}'),
  ('nothing', 'OpenAccount', '{}',
   '{"ok":false,"error":"invalid_payload","reason":null,"message":"payload field ''owner'' is missing"}'),
  ('nothing', 'Deposit', '{"amount":5}',
   '{"ok":false,"error":"rejected","reason":"not_open","message":"the account is not open"}'),
  ('opened', 'Deposit', '{"amount":5}',
   '{"ok":true,"events":[{"type":"Deposited","data":{"amount":5}}],"state":{"status":"open","owner":"ada","balance":5}}'),
  ('opened', 'Deposit', '{"amount":0}',
   '{"ok":false,"error":"rejected","reason":"invalid_amount","message":"amount must be positive, got 0"}'),
  ('opened', 'Deposit', '{"amount":"5"}',
   '{"ok":false,"error":"invalid_payload","reason":null,"message":"payload field ''amount'' must be an integer, got string"}'),
  ('closed', 'Deposit', '{"amount":5}',
   '{"ok":false,"error":"rejected","reason":"account_closed","message":"the account is closed"}'),
  ('funded', 'Withdraw', '{"amount":30}',
   '{"ok":true,"events":[{"type":"Withdrawn","data":{"amount":30}}],"state":{"status":"open","owner":"ada","balance":70}}'),
  ('funded', 'Withdraw', '{"amount":500}',
   '{"ok":false,"error":"rejected","reason":"insufficient_funds","message":"balance 100 is less than 500"}'),
  ('funded', 'CloseAccount', NULL,
   '{"ok":false,"error":"rejected","reason":"balance_not_zero","message":"balance is 100; withdraw it before closing"}'),
  ('opened', 'CloseAccount', NULL,
   '{"ok":true,"events":[{"type":"AccountClosed","data":{}}],"state":{"status":"closed","owner":"ada","balance":0}}'),
  ('opened', 'Transfer', '{}',
   '{"ok":false,"error":"unknown_command","reason":null,"message":"aggregate type ''account'' has no command ''Transfer''"}');

-- every case: its number, and "ok" when the outcome is exactly the expected one
SELECT c.n || ' ' || c.given || ' ' || c.command || ': ' ||
       CASE WHEN es_test_command('account', g.events, c.command, c.payload) = c.expect THEN 'ok'
            ELSE 'GOT ' || es_test_command('account', g.events, c.command, c.payload) END
FROM cases c JOIN given g ON g.name = c.given ORDER BY c.n;

-- nothing reached the log
SELECT 'events in the log: ' || count(*) FROM es_events;

-- the refusals of es_test_command itself, with their messages
SELECT es_test_command('account', 'nope', 'Deposit', '{}');
SELECT es_test_command('account', '{}', 'Deposit', '{}');
SELECT es_test_command('account', '[{"data":{}}]', 'Deposit', '{}');
SELECT es_test_command('account', '[{"type":"Deposited","data":[]}]', 'Deposit', '{}');
SELECT es_test_command(NULL, '[]', 'Deposit', '{}');
SELECT es_test_command('account', '[]', 'Deposit', 5);
SELECT es_test_command('nope', '[]', 'Deposit', '{}');
SELECT es_test_command('account', '[{"type":"Nope"}]', 'Deposit', '{"amount":1}');
