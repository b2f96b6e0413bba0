-- bank_views.sql — the bank's two read models, defined in SQL alone (load after es, and after the
-- bank aggregate: examples/bank/bank.c or sql/bank_aggregate.sql).
--
-- A read model is a table, a feed (a view over es_events exposing the event's fields as named
-- columns) and one handler per event type: an INSTEAD OF INSERT trigger on the feed. sqlite-es
-- feeds each new event to the handlers inside the command's transaction; nothing else may write
-- the table.

-- account_balances: one row per account.
CREATE TABLE account_balances(
  account_id   TEXT PRIMARY KEY,
  owner        TEXT NOT NULL,
  balance      INTEGER NOT NULL,
  status       TEXT NOT NULL,
  events       INTEGER NOT NULL,
  last_version INTEGER NOT NULL
);

CREATE VIEW account_balances_feed AS
  SELECT position, aggregate_id AS account_id, version, type,
         json_extract(data, '$.owner') AS owner, json_extract(data, '$.amount') AS amount
  FROM es_events WHERE aggregate_type = 'account';

CREATE TRIGGER account_balances_on_opened INSTEAD OF INSERT ON account_balances_feed
WHEN NEW.type = 'AccountOpened' BEGIN
  INSERT INTO account_balances(account_id, owner, balance, status, events, last_version)
  VALUES (NEW.account_id, NEW.owner, 0, 'open', 1, NEW.version);
END;

CREATE TRIGGER account_balances_on_deposited INSTEAD OF INSERT ON account_balances_feed
WHEN NEW.type = 'Deposited' BEGIN
  UPDATE account_balances
  SET balance = balance + NEW.amount, events = events + 1, last_version = NEW.version
  WHERE account_id = NEW.account_id;
END;

CREATE TRIGGER account_balances_on_withdrawn INSTEAD OF INSERT ON account_balances_feed
WHEN NEW.type = 'Withdrawn' BEGIN
  UPDATE account_balances
  SET balance = balance - NEW.amount, events = events + 1, last_version = NEW.version
  WHERE account_id = NEW.account_id;
END;

CREATE TRIGGER account_balances_on_closed INSTEAD OF INSERT ON account_balances_feed
WHEN NEW.type = 'AccountClosed' BEGIN
  UPDATE account_balances
  SET status = 'closed', events = events + 1, last_version = NEW.version
  WHERE account_id = NEW.account_id;
END;

SELECT es_create_view('account_balances', 'account_balances_feed');

-- account_history: one row per event, with the balance after it.
CREATE TABLE account_history(
  position      INTEGER PRIMARY KEY,
  account_id    TEXT NOT NULL,
  type          TEXT NOT NULL,
  amount        INTEGER,
  balance_after INTEGER NOT NULL
);
CREATE INDEX account_history_by_account ON account_history(account_id, position);

CREATE VIEW account_history_feed AS
  SELECT position, aggregate_id AS account_id, type, json_extract(data, '$.amount') AS amount
  FROM es_events WHERE aggregate_type = 'account';

CREATE TRIGGER account_history_on_event INSTEAD OF INSERT ON account_history_feed BEGIN
  INSERT INTO account_history(position, account_id, type, amount, balance_after)
  VALUES (NEW.position, NEW.account_id, NEW.type, NEW.amount,
          coalesce((SELECT balance_after FROM account_history
                    WHERE account_id = NEW.account_id ORDER BY position DESC LIMIT 1), 0)
          + CASE NEW.type WHEN 'Deposited' THEN NEW.amount WHEN 'Withdrawn' THEN -NEW.amount ELSE 0 END);
END;

SELECT es_create_view('account_history', 'account_history_feed');
