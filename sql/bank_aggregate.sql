-- bank_aggregate.sql — the bank account aggregate in SQL alone: the same commands, events, rules,
-- rejection reasons and messages as the C aggregate in examples/bank/bank.c.
--
-- A decider is a view over es_command (the command and the state before it) that returns the
-- events to emit, one row each (type, data); es_require rejects with a reason and a message, and
-- es_payload_int / es_payload_text read the payload with the same checks as the C accessors.
-- The evolver is a view over es_event that returns the state after an event.

SELECT es_create_aggregate('account', '{"status":"none","balance":0}',
                           '["AccountOpened", "Deposited", "Withdrawn", "AccountClosed"]');

CREATE VIEW account_open_account AS
  SELECT 'AccountOpened' AS type, json_object('owner', es_payload_text('owner')) AS data
  FROM es_command
  WHERE es_payload_text('owner') IS NOT NULL
    AND es_require(json_extract(state, '$.status') = 'none', 'already_open',
                   'account ' || aggregate_id || ' is already open')
    AND es_require(length(CAST(es_payload_text('owner') AS BLOB)) BETWEEN 1 AND 100,
                   'invalid_owner', 'owner must be 1 to 100 bytes');
SELECT es_create_decider('account', 'OpenAccount', 'account_open_account');

CREATE VIEW account_deposit AS
  SELECT 'Deposited' AS type, json_object('amount', es_payload_int('amount')) AS data
  FROM es_command
  WHERE es_require(json_extract(state, '$.status') <> 'none', 'not_open', 'the account is not open')
    AND es_require(json_extract(state, '$.status') <> 'closed', 'account_closed', 'the account is closed')
    AND es_require(es_payload_int('amount') > 0, 'invalid_amount',
                   'amount must be positive, got ' || es_payload_int('amount'))
    AND es_require(es_payload_int('amount') <= 9223372036854775807 - json_extract(state, '$.balance'),
                   'balance_overflow',
                   'a deposit of ' || es_payload_int('amount') || ' would take the balance past 9223372036854775807');
SELECT es_create_decider('account', 'Deposit', 'account_deposit');

CREATE VIEW account_withdraw AS
  SELECT 'Withdrawn' AS type, json_object('amount', es_payload_int('amount')) AS data
  FROM es_command
  WHERE es_require(json_extract(state, '$.status') <> 'none', 'not_open', 'the account is not open')
    AND es_require(json_extract(state, '$.status') <> 'closed', 'account_closed', 'the account is closed')
    AND es_require(es_payload_int('amount') > 0, 'invalid_amount',
                   'amount must be positive, got ' || es_payload_int('amount'))
    AND es_require(es_payload_int('amount') <= json_extract(state, '$.balance'), 'insufficient_funds',
                   'balance ' || json_extract(state, '$.balance') || ' is less than ' || es_payload_int('amount'));
SELECT es_create_decider('account', 'Withdraw', 'account_withdraw');

CREATE VIEW account_close AS
  SELECT 'AccountClosed' AS type, json_object() AS data
  FROM es_command
  WHERE es_require(json_extract(state, '$.status') <> 'none', 'not_open', 'the account is not open')
    AND es_require(json_extract(state, '$.status') <> 'closed', 'account_closed', 'the account is closed')
    AND es_require(json_extract(state, '$.balance') = 0, 'balance_not_zero',
                   'balance is ' || json_extract(state, '$.balance') || '; withdraw it before closing');
SELECT es_create_decider('account', 'CloseAccount', 'account_close');

CREATE VIEW account_evolve AS
  SELECT CASE type
           WHEN 'AccountOpened'
             THEN json_object('status', 'open', 'owner', json_extract(data, '$.owner'), 'balance', 0)
           WHEN 'Deposited'
             THEN json_set(state, '$.balance', json_extract(state, '$.balance') + json_extract(data, '$.amount'))
           WHEN 'Withdrawn'
             THEN json_set(state, '$.balance', json_extract(state, '$.balance') - json_extract(data, '$.amount'))
           WHEN 'AccountClosed' THEN json_set(state, '$.status', 'closed')
         END AS state
  FROM es_event;
SELECT es_create_evolver('account', 'account_evolve');
