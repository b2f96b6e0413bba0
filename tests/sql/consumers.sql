-- consumers.sql — durable consumers: es_create_consumer, es_next, es_ack, es_consumers; delivery in
-- position order after the checkpoint, acknowledgements only forward and inside the caller's
-- transaction (so a rolled-back batch is delivered again), consumer groups, guarded checkpoints.
.load ./dist/es
.load ./dist/bank
SELECT es_submit('account', 'a' || value, 'OpenAccount', '{"owner":"x"}') FROM generate_series(1, 6);
SELECT es_create_consumer('all');
SELECT es_create_consumer('even', 'account', 0, 2);
SELECT es_create_consumer('odd', 'account', 1, 2);
.print '-- batches follow the checkpoint'
SELECT group_concat(position) FROM es_next('all', 4);
SELECT es_ack('all', 4);
SELECT group_concat(position) FROM es_next('all', 4);
SELECT group_concat(position) FROM es_next('all');
.print '-- an acknowledgement rolled back with its transaction: the batch comes again'
BEGIN;
SELECT es_ack('all', 6);
ROLLBACK;
SELECT group_concat(position) FROM es_next('all', 10);
.print '-- the two members of a group see every event once, each aggregate always with the same member'
SELECT (SELECT group_concat(position) FROM es_next('even', 100)) || ' + ' || (SELECT group_concat(position) FROM es_next('odd', 100));
SELECT count(*) FROM es_log WHERE position NOT IN (SELECT position FROM es_next('even', 100) UNION ALL SELECT position FROM es_next('odd', 100));
.print '-- position and lag'
SELECT * FROM es_consumers ORDER BY name;
.print '-- refusals'
SELECT es_ack('all', 3);
SELECT es_ack('all', 7);
SELECT es_ack('nope', 1);
SELECT es_ack('all', 'x');
SELECT * FROM es_next('nope');
SELECT * FROM es_next('all', 0);
SELECT es_create_consumer('g', 'account', 2, 2);
SELECT es_create_consumer('g', 'account', 1);
SELECT es_create_consumer('');
SELECT es_create_consumer(1);
UPDATE es_checkpoints SET position = 0;
DELETE FROM es_checkpoints;
INSERT INTO es_checkpoints(name, position, updated_at) VALUES ('x', 0, 'now');
.print '-- re-scoping a consumer keeps its checkpoint'
SELECT es_create_consumer('all', 'account');
SELECT name, aggregate_type, position FROM es_consumers WHERE name = 'all';
