-- es_log.sql — es_log, the log as a read-only table (issue 5), in the stock shell: no log yet (no rows,
-- no error, nothing created); the rows and their order for every constraint es_log takes (=, IN with
-- duplicates, NULLs and a subquery, BETWEEN, >, >=, <, <=, = NULL, version > and >=) and their
-- combinations; LIMIT with and without ORDER BY, with OFFSET, ORDER BY position DESC with LIMIT (the
-- last rows), and terms es_log cannot use (data LIKE, version =) with LIMIT (the limit applies after
-- them); constraint values that are not plain integers (NULL, 2.5, 0, the int64 extremes, text),
-- each next to the same query on es_events, which must give the same rows; EXPLAIN QUERY PLAN of a
-- category read through es_log and of the SQL the translator makes for it (es_events_by_category);
-- es_hash values (FNV-1a 64 >> 1) and es_hash(id) % 3 putting each id in exactly one member; es_log
-- is read-only. Expected output: es_log.expected.
.load ./dist/es
.load ./dist/bank
.nullvalue NULL

.print '-- no log yet: no rows, no error, and reading creates nothing'
SELECT count(*) FROM es_log;
SELECT * FROM es_log WHERE aggregate_type = 'account' AND aggregate_id IN ('a1', 'a2') AND position > 0 ORDER BY position LIMIT 3;
SELECT count(*) FROM es_log WHERE type = 'Deposited' AND version > 1;
SELECT count(*) FROM sqlite_schema;

.print '-- a second category (note, defined in SQL) and 14 events; a1 is also a note id'
SELECT es_create_aggregate('note', '{}', '["Noted"]');
CREATE VIEW note_write AS SELECT 'Noted' AS type, payload AS data FROM es_command;
SELECT es_create_decider('note', 'Write', 'note_write');
SELECT es_submit('account', 'a2', 'OpenAccount', '{"owner":"bo"}');
SELECT es_submit('account', 'a1', 'OpenAccount', '{"owner":"ada"}');
SELECT es_submit('note', 'n1', 'Write', '{"text":"first"}');
SELECT es_submit('account', 'a2', 'Deposit', '{"amount":100}');
SELECT es_submit('account', 'a1', 'Deposit', '{"amount":50}', '{"command_id":"c-5","metadata":{"by":"test"}}');
SELECT es_submit('note', 'n2', 'Write', '{"text":"second"}');
SELECT es_submit('account', 'a2', 'Withdraw', '{"amount":30}');
SELECT es_submit('note', 'n1', 'Write', '{"text":"third"}');
SELECT es_submit('account', 'a3', 'OpenAccount', '{"owner":"cy"}');
SELECT es_submit('account', 'a1', 'Deposit', '{"amount":7}');
SELECT es_submit('account', 'a3', 'Deposit', '{"amount":1}');
SELECT es_submit('account', 'a1', 'Withdraw', '{"amount":57}');
SELECT es_submit('account', 'a1', 'CloseAccount', '{}');
SELECT es_submit('note', 'a1', 'Write', '{"text":"same id, other category"}');

.print '-- the whole log, in position order, every column as in es_events; rowid is the position'
SELECT position, aggregate_type, aggregate_id, version, type, data, metadata, command_id FROM es_log;
SELECT count(*), sum(l.rowid = l.position),
       sum(l.aggregate_type IS e.aggregate_type AND l.aggregate_id IS e.aggregate_id AND l.version IS e.version
           AND l.type IS e.type AND l.data IS e.data AND l.metadata IS e.metadata
           AND l.command_id IS e.command_id AND l.recorded_at IS e.recorded_at)
  FROM es_log AS l JOIN es_events AS e ON e.position = l.position;

.print '-- aggregate_type ='
SELECT position, aggregate_type, aggregate_id, version, type FROM es_log WHERE aggregate_type = 'note';
.print '-- aggregate_id = (both categories)'
SELECT position, aggregate_type, aggregate_id, version, type FROM es_log WHERE aggregate_id = 'a1';
.print '-- type ='
SELECT position, aggregate_type, aggregate_id, version, type FROM es_log WHERE type = 'Deposited';
.print '-- one stream: aggregate_type = and aggregate_id ='
SELECT position, aggregate_type, aggregate_id, version, type FROM es_log WHERE aggregate_type = 'account' AND aggregate_id = 'a2';
.print '-- one stream and a type'
SELECT position, aggregate_type, aggregate_id, version, type FROM es_log WHERE aggregate_id = 'a1' AND aggregate_type = 'account' AND type = 'Deposited';
.print '-- a value no row has'
SELECT count(*) FROM es_log WHERE aggregate_type = 'loan';
SELECT count(*) FROM es_log WHERE aggregate_id = 'A1';

.print '-- IN, with duplicates and NULLs: position order, each row once'
SELECT position, aggregate_type, aggregate_id, version, type FROM es_log WHERE aggregate_id IN ('a3', 'n2', 'a3', NULL, 'zz');
SELECT position, aggregate_type, aggregate_id, version, type FROM es_log WHERE type IN ('Withdrawn', 'AccountClosed', 'Withdrawn');
SELECT position, aggregate_type, aggregate_id, version, type FROM es_log WHERE aggregate_type IN ('note', 'nope', NULL);
.print '-- IN of NULLs only, and an empty IN: no rows'
SELECT count(*) FROM es_log WHERE aggregate_id IN (NULL);
SELECT count(*) FROM es_log WHERE aggregate_type IN (NULL, NULL);
SELECT count(*) FROM es_log WHERE type IN ();
.print '-- IN of a subquery, and IN on two columns'
SELECT position, aggregate_type, aggregate_id, version, type FROM es_log WHERE aggregate_id IN (SELECT 'n1' UNION ALL SELECT 'a2');
SELECT position, aggregate_type, aggregate_id, version, type FROM es_log WHERE aggregate_type IN ('account', 'note') AND aggregate_id IN ('a1', 'n2');
.print '-- IN on position: position order whatever the order of the list'
SELECT position, aggregate_id FROM es_log WHERE position IN (9, 2, 5, 9, 99);

.print '-- = NULL matches nothing'
SELECT count(*) FROM es_log WHERE aggregate_type = NULL;
SELECT count(*) FROM es_log WHERE aggregate_id = NULL;
SELECT count(*) FROM es_log WHERE type = NULL;
SELECT count(*) FROM es_log WHERE position = NULL;
SELECT count(*) FROM es_log WHERE version = NULL;

.print '-- position =, BETWEEN, >, >=, <, <='
SELECT position, aggregate_id, version, type FROM es_log WHERE position = 7;
SELECT count(*) FROM es_log WHERE position = 15;
SELECT position FROM es_log WHERE position BETWEEN 4 AND 7;
SELECT position FROM es_log WHERE position > 11;
SELECT position FROM es_log WHERE position >= 11;
SELECT position FROM es_log WHERE position < 3;
SELECT position FROM es_log WHERE position <= 3;
SELECT position FROM es_log WHERE position > 4 AND position < 7;
SELECT position FROM es_log WHERE position >= 4 AND position <= 7 AND position > 5 AND position < 100;
SELECT count(*) FROM es_log WHERE position > 14;
SELECT count(*) FROM es_log WHERE position < 1;
SELECT count(*) FROM es_log WHERE position > 9 AND position < 8;
SELECT count(*) FROM es_log WHERE position = 3 AND position = 4;
.print '-- position and a category: events after a checkpoint'
SELECT position, aggregate_type, aggregate_id, version, type FROM es_log WHERE aggregate_type = 'account' AND position > 10;

.print '-- version > and >='
SELECT position, aggregate_type, aggregate_id, version, type FROM es_log WHERE version > 2;
SELECT position, aggregate_type, aggregate_id, version, type FROM es_log WHERE version >= 3 AND aggregate_type = 'account';
SELECT position, aggregate_type, aggregate_id, version, type FROM es_log WHERE aggregate_type = 'account' AND aggregate_id = 'a1' AND version > 3;

.print '-- everything at once'
SELECT position, aggregate_type, aggregate_id, version, type FROM es_log
 WHERE aggregate_type IN ('account', 'note') AND aggregate_id IN ('a1', 'a2', 'n1') AND type IN ('Deposited', 'Withdrawn', 'Noted')
   AND position > 3 AND position <= 12 AND version > 1;

.print '-- LIMIT without ORDER BY: the first rows'
SELECT position FROM es_log LIMIT 3;
SELECT position FROM es_log WHERE aggregate_type = 'account' AND position > 4 LIMIT 2;
.print '-- LIMIT with ORDER BY position'
SELECT position FROM es_log ORDER BY position LIMIT 3;
SELECT position FROM es_log WHERE type = 'Noted' ORDER BY position ASC LIMIT 2;
.print '-- LIMIT 0, LIMIT -1 (no limit), LIMIT and OFFSET'
SELECT count(*) FROM (SELECT position FROM es_log LIMIT 0);
SELECT position FROM es_log WHERE aggregate_type = 'note' LIMIT -1;
SELECT position FROM es_log ORDER BY position LIMIT -1;
SELECT position FROM es_log LIMIT 2 OFFSET 3;
SELECT position FROM es_log WHERE aggregate_id = 'a1' ORDER BY position LIMIT 2 OFFSET 1;
.print '-- ORDER BY position DESC with LIMIT: the last rows, newest first'
SELECT position FROM es_log ORDER BY position DESC LIMIT 3;
SELECT position FROM es_log WHERE aggregate_type = 'account' ORDER BY position DESC LIMIT 2;
.print '-- another order with LIMIT: sorted first, then limited'
SELECT aggregate_id, position FROM es_log ORDER BY aggregate_id, position LIMIT 4;
SELECT position, version FROM es_log ORDER BY version DESC, position LIMIT 3;
.print '-- a term es_log cannot use, with LIMIT: the limit applies to the rows that pass it'
SELECT position, data FROM es_log WHERE data LIKE '%amount%' LIMIT 2;
SELECT position, data FROM es_log WHERE aggregate_type = 'account' AND data LIKE '%amount%' ORDER BY position LIMIT 2;
SELECT position FROM es_log WHERE version = 2 LIMIT 2;
SELECT position FROM es_log WHERE aggregate_type = 'note' AND length(data) > 20 LIMIT 1;
SELECT position FROM es_log WHERE aggregate_id = 'a1' OR aggregate_id = 'a3' ORDER BY position LIMIT 3;

.print '-- values that are not plain integers: es_log and es_events must give the same rows'
.print '-- (predicate | es_log, in its order | es_events, in position order)'
SELECT 'position >= NULL', (SELECT group_concat(position, ' ') FROM es_log WHERE position >= NULL),
       (SELECT group_concat(position, ' ') FROM (SELECT position FROM es_events WHERE position >= NULL ORDER BY position));
SELECT 'position <= NULL', (SELECT group_concat(position, ' ') FROM es_log WHERE position <= NULL),
       (SELECT group_concat(position, ' ') FROM (SELECT position FROM es_events WHERE position <= NULL ORDER BY position));
SELECT 'position > NULL', (SELECT group_concat(position, ' ') FROM es_log WHERE position > NULL),
       (SELECT group_concat(position, ' ') FROM (SELECT position FROM es_events WHERE position > NULL ORDER BY position));
SELECT 'version >= NULL', (SELECT group_concat(position, ' ') FROM es_log WHERE version >= NULL),
       (SELECT group_concat(position, ' ') FROM (SELECT position FROM es_events WHERE version >= NULL ORDER BY position));
SELECT 'version > NULL', (SELECT group_concat(position, ' ') FROM es_log WHERE version > NULL),
       (SELECT group_concat(position, ' ') FROM (SELECT position FROM es_events WHERE version > NULL ORDER BY position));
SELECT 'position = 0', (SELECT group_concat(position, ' ') FROM es_log WHERE position = 0),
       (SELECT group_concat(position, ' ') FROM (SELECT position FROM es_events WHERE position = 0 ORDER BY position));
SELECT 'position = -3', (SELECT group_concat(position, ' ') FROM es_log WHERE position = -3),
       (SELECT group_concat(position, ' ') FROM (SELECT position FROM es_events WHERE position = -3 ORDER BY position));
SELECT 'position > -3', (SELECT group_concat(position, ' ') FROM es_log WHERE position > -3),
       (SELECT group_concat(position, ' ') FROM (SELECT position FROM es_events WHERE position > -3 ORDER BY position));
SELECT 'position <= 0', (SELECT group_concat(position, ' ') FROM es_log WHERE position <= 0),
       (SELECT group_concat(position, ' ') FROM (SELECT position FROM es_events WHERE position <= 0 ORDER BY position));
SELECT 'position = 2.5', (SELECT group_concat(position, ' ') FROM es_log WHERE position = 2.5),
       (SELECT group_concat(position, ' ') FROM (SELECT position FROM es_events WHERE position = 2.5 ORDER BY position));
SELECT 'position = 2.0', (SELECT group_concat(position, ' ') FROM es_log WHERE position = 2.0),
       (SELECT group_concat(position, ' ') FROM (SELECT position FROM es_events WHERE position = 2.0 ORDER BY position));
SELECT 'position > 12.5', (SELECT group_concat(position, ' ') FROM es_log WHERE position > 12.5),
       (SELECT group_concat(position, ' ') FROM (SELECT position FROM es_events WHERE position > 12.5 ORDER BY position));
SELECT 'position >= 12.5', (SELECT group_concat(position, ' ') FROM es_log WHERE position >= 12.5),
       (SELECT group_concat(position, ' ') FROM (SELECT position FROM es_events WHERE position >= 12.5 ORDER BY position));
SELECT 'position < 2.5', (SELECT group_concat(position, ' ') FROM es_log WHERE position < 2.5),
       (SELECT group_concat(position, ' ') FROM (SELECT position FROM es_events WHERE position < 2.5 ORDER BY position));
SELECT 'position <= 2.5', (SELECT group_concat(position, ' ') FROM es_log WHERE position <= 2.5),
       (SELECT group_concat(position, ' ') FROM (SELECT position FROM es_events WHERE position <= 2.5 ORDER BY position));
SELECT 'version >= 4.5', (SELECT group_concat(position, ' ') FROM es_log WHERE version >= 4.5),
       (SELECT group_concat(position, ' ') FROM (SELECT position FROM es_events WHERE version >= 4.5 ORDER BY position));
SELECT 'position > ''12''', (SELECT group_concat(position, ' ') FROM es_log WHERE position > '12'),
       (SELECT group_concat(position, ' ') FROM (SELECT position FROM es_events WHERE position > '12' ORDER BY position));
SELECT 'position > ''abc''', (SELECT group_concat(position, ' ') FROM es_log WHERE position > 'abc'),
       (SELECT group_concat(position, ' ') FROM (SELECT position FROM es_events WHERE position > 'abc' ORDER BY position));
SELECT 'position >= int64 min', (SELECT group_concat(position, ' ') FROM es_log WHERE position >= -9223372036854775808),
       (SELECT group_concat(position, ' ') FROM (SELECT position FROM es_events WHERE position >= -9223372036854775808 ORDER BY position));
SELECT 'position < int64 min', (SELECT group_concat(position, ' ') FROM es_log WHERE position < -9223372036854775808),
       (SELECT group_concat(position, ' ') FROM (SELECT position FROM es_events WHERE position < -9223372036854775808 ORDER BY position));
SELECT 'position <= int64 max', (SELECT group_concat(position, ' ') FROM es_log WHERE position <= 9223372036854775807),
       (SELECT group_concat(position, ' ') FROM (SELECT position FROM es_events WHERE position <= 9223372036854775807 ORDER BY position));
SELECT 'position > int64 max', (SELECT group_concat(position, ' ') FROM es_log WHERE position > 9223372036854775807),
       (SELECT group_concat(position, ' ') FROM (SELECT position FROM es_events WHERE position > 9223372036854775807 ORDER BY position));
SELECT 'version >= int64 min', (SELECT group_concat(position, ' ') FROM es_log WHERE version >= -9223372036854775808),
       (SELECT group_concat(position, ' ') FROM (SELECT position FROM es_events WHERE version >= -9223372036854775808 ORDER BY position));
SELECT 'aggregate_id = 3 (an integer)', (SELECT group_concat(position, ' ') FROM es_log WHERE aggregate_id = 3),
       (SELECT group_concat(position, ' ') FROM (SELECT position FROM es_events WHERE aggregate_id = 3 ORDER BY position));
.print '-- two terms on one text column must both hold (AND), not either'
SELECT 'type = Deposited AND type = Withdrawn',
       (SELECT group_concat(position, ' ') FROM es_log WHERE type = 'Deposited' AND type = (SELECT 'Withdrawn')),
       (SELECT group_concat(position, ' ') FROM (SELECT position FROM es_events WHERE type = 'Deposited' AND type = (SELECT 'Withdrawn') ORDER BY position));
SELECT 'aggregate_id IN (a1, a2) AND IN (a2, a3)',
       (SELECT group_concat(position, ' ') FROM es_log WHERE aggregate_id IN ('a1', 'a2') AND aggregate_id IN ('a2', 'a3')),
       (SELECT group_concat(position, ' ') FROM (SELECT position FROM es_events WHERE aggregate_id IN ('a1', 'a2') AND aggregate_id IN ('a2', 'a3') ORDER BY position));
SELECT 'aggregate_type = account AND IN (note, x)',
       (SELECT group_concat(position, ' ') FROM es_log WHERE aggregate_type = (SELECT 'account') AND aggregate_type IN ('note', 'x')),
       (SELECT group_concat(position, ' ') FROM (SELECT position FROM es_events WHERE aggregate_type = (SELECT 'account') AND aggregate_type IN ('note', 'x') ORDER BY position));

.print '-- the plan: es_log takes both terms (t: aggregate_type =, g: position >) and the order'
EXPLAIN QUERY PLAN SELECT * FROM es_log WHERE aggregate_type = 'account' AND position > 1000;
EXPLAIN QUERY PLAN SELECT * FROM es_log WHERE aggregate_type = 'account' AND position > 1000 ORDER BY position LIMIT 10;
.print '-- the SQL the translator makes for it (written out here): the category index'
EXPLAIN QUERY PLAN SELECT position, aggregate_type, aggregate_id, version, type, data, metadata, command_id, recorded_at FROM main.es_events WHERE position > ?1 AND aggregate_type = ?2 ORDER BY position;
.print '-- and for a type, and for positions only'
EXPLAIN QUERY PLAN SELECT position, aggregate_type, aggregate_id, version, type, data, metadata, command_id, recorded_at FROM main.es_events WHERE position > ?1 AND type = ?2 ORDER BY position;
EXPLAIN QUERY PLAN SELECT position, aggregate_type, aggregate_id, version, type, data, metadata, command_id, recorded_at FROM main.es_events WHERE position > ?1 ORDER BY position LIMIT ?2;
.print '-- ORDER BY position DESC is not the order es_log gives: SQLite sorts'
EXPLAIN QUERY PLAN SELECT position FROM es_log ORDER BY position DESC LIMIT 3;

.print '-- es_hash: FNV-1a 64 of the UTF-8 text, shifted right by one'
SELECT es_hash('') = 7347990519673328018 /* 14695981039346656037 >> 1 */, es_hash('a') = 6319093600277820998, es_hash('foobar') = 4812695130666218484;
SELECT es_hash('acc-1'), es_hash('a1'), es_hash('a2'), es_hash('a3'), es_hash('é');
SELECT es_hash(42) = es_hash('42'), es_hash(NULL) IS NULL;
.print '-- es_hash(id) % 3 puts each of 300 ids in exactly one of 3 members, none empty'
WITH RECURSIVE ids(n, id) AS (SELECT 1, 'id-1' UNION ALL SELECT n + 1, 'id-' || (n + 1) FROM ids WHERE n < 300)
SELECT count(*), sum((es_hash(id) % 3 = 0) + (es_hash(id) % 3 = 1) + (es_hash(id) % 3 = 2) = 1),
       min(es_hash(id)) >= 0, count(DISTINCT es_hash(id))
  FROM ids;
WITH RECURSIVE ids(n, id) AS (SELECT 1, 'id-1' UNION ALL SELECT n + 1, 'id-' || (n + 1) FROM ids WHERE n < 300)
SELECT es_hash(id) % 3 AS member, count(*) > 50 FROM ids GROUP BY member ORDER BY member;
.print '-- the account category split between 3 members: every event once, each id in one member'
SELECT 0, group_concat(position, ' '), group_concat(DISTINCT aggregate_id) FROM es_log WHERE aggregate_type = 'account' AND es_hash(aggregate_id) % 3 = 0;
SELECT 1, group_concat(position, ' '), group_concat(DISTINCT aggregate_id) FROM es_log WHERE aggregate_type = 'account' AND es_hash(aggregate_id) % 3 = 1;
SELECT 2, group_concat(position, ' '), group_concat(DISTINCT aggregate_id) FROM es_log WHERE aggregate_type = 'account' AND es_hash(aggregate_id) % 3 = 2;

.print '-- es_log is read-only'
INSERT INTO es_log(position, aggregate_type, aggregate_id, version, type, data) VALUES (15, 'account', 'a9', 1, 'AccountOpened', '{}');
UPDATE es_log SET data = '{}' WHERE position = 1;
DELETE FROM es_log;
SELECT count(*), max(position) FROM es_log;
