-- views_order.sql — DESIGN rule 5: events are persisted before any read model is updated, in the
-- same transaction. A handler that looks for its own event in es_events must find it, and a handler
-- that fails takes the event with it.
.load ./dist/es
.load ./dist/bank
CREATE TABLE seen(position INTEGER PRIMARY KEY, in_log INTEGER NOT NULL, log_size INTEGER NOT NULL);
CREATE VIEW seen_feed AS SELECT position, type FROM es_events;
CREATE TRIGGER seen_on_event INSTEAD OF INSERT ON seen_feed BEGIN
  SELECT RAISE(ABORT, 'the event is not in the log yet') WHERE NOT EXISTS (SELECT 1 FROM es_events WHERE position = NEW.position);
  INSERT INTO seen VALUES (NEW.position, 1, (SELECT count(*) FROM es_events));
END;
SELECT es_create_view('seen', 'seen_feed');
SELECT es_submit('account', 'a1', 'OpenAccount', '{"owner":"ada"}');
SELECT es_submit('account', 'a1', 'Deposit', '{"amount":5}');
SELECT * FROM seen;
-- the log and the view move together: a failing handler removes the event it was fed
CREATE TRIGGER seen_refuses_big INSTEAD OF INSERT ON seen_feed WHEN NEW.type = 'Withdrawn' BEGIN
  SELECT RAISE(ABORT, 'withdrawals are refused by this view');
END;
SELECT es_submit('account', 'a1', 'Withdraw', '{"amount":1}');
SELECT count(*) AS events, (SELECT count(*) FROM seen) AS seen FROM es_events;
