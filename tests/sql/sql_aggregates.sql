-- sql_aggregates.sql — aggregates defined in SQL (issue 4), in the stock shell: every definition error
-- of es_create_aggregate, es_create_decider and es_create_evolver with its exact message (and nothing
-- stored by a refused definition); the run-time errors of deciders and evolvers (an undeclared event
-- type, event data or a state that is not a JSON object, an evolver returning no row); what a working
-- decider sees in es_command (es_command.version is the aggregate's version even when its last event
-- has no evolver); redefined evolvers and aggregates applying to the existing log; es_require and
-- es_payload_int / es_payload_text outside a decider; es_command / es_event empty outside one;
-- direct writes to es_sql_aggregates / es_sql_handlers refused; and refused commands and definitions
-- leaving the database unchanged: a hash of every table and the schema (sha3_query, what .sha3sum
-- computes; kept in a temp table because timestamps make the value differ between runs) is compared
-- before and after. Expected output: sql_aggregates.expected.
.load ./dist/es
.load ./dist/bank
.nullvalue NULL

.print '-- es_create_aggregate: arguments are text of 1 to 1000 bytes'
SELECT es_create_aggregate(NULL, '{}', '["A"]');
SELECT es_create_aggregate(1, '{}', '["A"]');
SELECT es_create_aggregate(x'74', '{}', '["A"]');
SELECT es_create_aggregate('', '{}', '["A"]');
SELECT es_create_aggregate(printf('%.*c', 1001, 't'), '{}', '["A"]');
SELECT es_create_aggregate('t', NULL, '["A"]');
SELECT es_create_aggregate('t', 2.5, '["A"]');
SELECT es_create_aggregate('t', '', '["A"]');
SELECT es_create_aggregate('t', '{}', NULL);
SELECT es_create_aggregate('t', '{}', x'5b5d');
SELECT es_create_aggregate('t', '{}', '');
.print '-- wrong number of arguments: refused when the statement is prepared'
SELECT es_create_aggregate('t', '{}');
SELECT es_create_decider('t', 'C');
SELECT es_create_evolver('t');
SELECT es_create_evolver('t', 'v', 'A', 'x');

.print '-- the initial state must be a JSON object'
SELECT es_create_aggregate('t', '[]', '["A"]');
SELECT es_create_aggregate('t', '1', '["A"]');
SELECT es_create_aggregate('t', '"s"', '["A"]');
SELECT es_create_aggregate('t', 'null', '["A"]');
SELECT es_create_aggregate('t', 'nope', '["A"]');
SELECT es_create_aggregate('t', '{"n":', '["A"]');
SELECT es_create_aggregate('t', '{"n":1,"n":2}', '["A"]');

.print '-- the event types must be a non-empty JSON array of distinct names'
SELECT es_create_aggregate('t', '{}', '[]');
SELECT es_create_aggregate('t', '{}', '{}');
SELECT es_create_aggregate('t', '{}', '"A"');
SELECT es_create_aggregate('t', '{}', 'nope');
SELECT es_create_aggregate('t', '{}', '["A", 1]');
SELECT es_create_aggregate('t', '{}', '["A", null]');
SELECT es_create_aggregate('t', '{}', '["A", ""]');
SELECT es_create_aggregate('t', '{}', '[["A"]]');
SELECT es_create_aggregate('t', '{}', '["A", "A"]');
SELECT es_create_aggregate('t', '{}', '["A", "B", "C", "B"]');

.print '-- a name defined in C on this connection (dist/bank.so)'
SELECT es_create_aggregate('account', '{"status":"none","balance":0}', '["AccountOpened"]');

.print '-- deciders and evolvers of an aggregate that is not defined in SQL'
SELECT es_create_decider('nope', 'C', 'v');
SELECT es_create_evolver('nope', 'v');
SELECT es_create_evolver('nope', 'v', 'A');
SELECT es_create_decider('account', 'Deposit', 'v');

.print '-- nothing was stored by the refused definitions'
SELECT count(*) FROM sqlite_schema;

.print '-- a valid aggregate: t, state {"n":0}, events A and B; an evolver for A that keeps the state'
SELECT es_create_aggregate('t', '{"n":0}', '["A", "B"]');
CREATE VIEW e_keep AS SELECT state FROM es_event;
SELECT es_create_evolver('t', 'e_keep', 'A');
CREATE TABLE a_table(type TEXT, data TEXT, state TEXT);
CREATE VIEW d_no_data AS SELECT 'A' AS type FROM es_command;
CREATE VIEW d_no_type AS SELECT '{}' AS data FROM es_command;
CREATE VIEW e_no_state AS SELECT state AS new_state FROM es_event;
CREATE VIEW d_broken AS SELECT type, data FROM gone;
SELECT name, initial_state, events, generation FROM es_sql_aggregates;
SELECT aggregate, kind, name, view FROM es_sql_handlers;
.print '-- from here on, refused definitions and writes must leave the database as it is (hash compared below)'
CREATE TEMP TABLE snap(label TEXT PRIMARY KEY, h BLOB);
CREATE TEMP VIEW db_hash AS SELECT sha3_query(
  (SELECT group_concat(printf('SELECT * FROM main."%w"', name), ';') FROM main.sqlite_schema WHERE type = 'table')
  || ';SELECT type, name, tbl_name, sql FROM main.sqlite_schema') AS h;
INSERT INTO snap SELECT 'definitions', h FROM db_hash;

.print '-- es_create_decider and es_create_evolver: arguments are text of 1 to 1000 bytes'
SELECT es_create_decider(NULL, 'C', 'v');
SELECT es_create_decider('t', 7, 'v');
SELECT es_create_decider('t', 'C', NULL);
SELECT es_create_decider('t', '', 'v');
SELECT es_create_decider('t', 'C', '');
SELECT es_create_decider('t', printf('%.*c', 1001, 'C'), 'v');
SELECT es_create_evolver('t', NULL);
SELECT es_create_evolver('t', '');
SELECT es_create_evolver('t', 'v', NULL);
SELECT es_create_evolver('t', 'v', '');

.print '-- the view must exist, be a view (not a table, not a temp view) in main'
SELECT es_create_decider('t', 'C', 'no_such_view');
SELECT es_create_evolver('t', 'no_such_view');
SELECT es_create_decider('t', 'C', 'a_table');
SELECT es_create_evolver('t', 'a_table');
CREATE TEMP VIEW a_temp_view AS SELECT 'A' AS type, '{}' AS data, '{}' AS state FROM es_command;
SELECT es_create_decider('t', 'C', 'a_temp_view');
SELECT es_create_evolver('t', 'a_temp_view');
SELECT es_create_decider('t', 'C', 'es_command');
SELECT es_create_evolver('t', 'es_event');

.print '-- the view must return the required columns: type and data for a decider, state for an evolver'
SELECT es_create_decider('t', 'C', 'd_no_data');
SELECT es_create_decider('t', 'C', 'd_no_type');
SELECT es_create_evolver('t', 'e_no_state');
SELECT es_create_evolver('t', 'e_no_state', 'A');
SELECT es_create_decider('t', 'C', 'd_broken');
SELECT es_create_evolver('t', 'd_broken');

.print '-- an evolver for an event type the aggregate does not declare'
SELECT es_create_evolver('t', 'e_keep', 'Z');
SELECT es_create_evolver('t', 'e_keep', 'a');

.print '-- es_create_aggregate refused again (a name defined in C, a bad initial state, a duplicate): t is kept'
SELECT es_create_aggregate('account', '{"status":"none","balance":0}', '["AccountOpened"]');
SELECT es_create_aggregate('t', '[]', '["A"]');
SELECT es_create_aggregate('t', '{}', '["A", "A"]');

.print '-- writing the definition tables directly is refused'
INSERT INTO es_sql_aggregates(name, initial_state, events, defined_at) VALUES ('x', '{}', '["A"]', '2020-01-01T00:00:00.000Z');
INSERT OR REPLACE INTO es_sql_aggregates(name, initial_state, events, defined_at) VALUES ('t', '{}', '["A"]', '2020-01-01T00:00:00.000Z');
UPDATE es_sql_aggregates SET initial_state = '{"n":100}';
DELETE FROM es_sql_aggregates;
INSERT INTO es_sql_handlers VALUES ('t', 'decide', 'C', 'e_keep');
REPLACE INTO es_sql_handlers VALUES ('t', 'evolve', 'A', 'd_no_data');
UPDATE es_sql_handlers SET view = 'd_no_data';
DELETE FROM es_sql_handlers;
.print '-- nothing changed: the definitions are as they were (generation 2) and so is every table'
SELECT name, initial_state, events, generation FROM es_sql_aggregates;
SELECT aggregate, kind, name, view FROM es_sql_handlers;
SELECT CASE WHEN h = (SELECT h FROM snap WHERE label = 'definitions') THEN 'unchanged' ELSE 'CHANGED' END FROM db_hash;

.print '-- outside a decider or an evolver: es_command and es_event are empty'
SELECT count(*) FROM es_command;
SELECT count(*) FROM es_event;
SELECT * FROM es_command;
SELECT * FROM es_event;
.print '-- es_require: 1 when the condition holds; otherwise an error with the reason and the message (NULL fails)'
SELECT es_require(1, 'r', 'm'), es_require(2 > 1, 'r', 'm');
SELECT es_require(0, 'too_small', 'the value is too small');
SELECT es_require(NULL, 'unknown', 'the value is unknown');
.print '-- es_payload_int and es_payload_text work only inside a decider'
SELECT es_payload_int('amount');
SELECT es_payload_text('owner');

.print '-- deciders that break the rules at run time'
CREATE VIEW d_undeclared AS SELECT 'C' AS type, json_object() AS data FROM es_command;
CREATE VIEW d_second_undeclared AS
  SELECT 'A' AS type, json_object() AS data FROM es_command UNION ALL SELECT 'Nope', json_object() FROM es_command;
CREATE VIEW d_null_type AS SELECT NULL AS type, json_object() AS data FROM es_command;
CREATE VIEW d_array AS SELECT 'A' AS type, json_array(1, 2) AS data FROM es_command;
CREATE VIEW d_text AS SELECT 'A' AS type, 'not json' AS data FROM es_command;
CREATE VIEW d_number AS SELECT 'B' AS type, 42 AS data FROM es_command;
CREATE VIEW d_reject AS SELECT 'A' AS type, json_object() AS data FROM es_command
  WHERE es_require(state ->> 'n' > 5, 'too_few', 'n is ' || (state ->> 'n') || ', not more than 5');
CREATE VIEW d_payload AS SELECT 'A' AS type, json_object('k', es_payload_int('k'), 's', es_payload_text('s')) AS data
  FROM es_command;
SELECT es_create_decider('t', 'Undeclared', 'd_undeclared');
SELECT es_create_decider('t', 'SecondUndeclared', 'd_second_undeclared');
SELECT es_create_decider('t', 'NullType', 'd_null_type');
SELECT es_create_decider('t', 'Array', 'd_array');
SELECT es_create_decider('t', 'Text', 'd_text');
SELECT es_create_decider('t', 'Number', 'd_number');
SELECT es_create_decider('t', 'Reject', 'd_reject');
SELECT es_create_decider('t', 'Payload', 'd_payload');
SELECT name, generation FROM es_sql_aggregates;
INSERT INTO snap SELECT 'commands', h FROM db_hash;
SELECT es_try_submit('t', 'x', 'Undeclared');
SELECT es_submit('t', 'x', 'Undeclared');
SELECT es_try_submit('t', 'x', 'SecondUndeclared');
SELECT es_try_submit('t', 'x', 'NullType');
SELECT es_try_submit('t', 'x', 'Array');
SELECT es_submit('t', 'x', 'Array');
SELECT es_try_submit('t', 'x', 'Text');
SELECT es_try_submit('t', 'x', 'Number');
SELECT es_try_submit('t', 'x', 'Reject');
SELECT es_submit('t', 'x', 'Reject');
SELECT es_try_submit('t', 'x', 'Payload', '{"s":"v"}');
SELECT es_try_submit('t', 'x', 'Payload', '{"k":"1","s":"v"}');
SELECT es_try_submit('t', 'x', 'Payload', '{"k":1,"s":"v\u0000"}');
SELECT es_try_submit('t', 'x', 'Payload', '{"k":1.00000000000000001e2,"s":"v"}');
SELECT es_submit('t', 'x', 'Payload', '{"k":9007199254740993.5,"s":"v"}');
SELECT es_submit('t', 'x', 'Payload', '{"k":1e-400,"s":"v"}');
SELECT es_submit('t', 'x', 'Payload', '{"k":1}');
SELECT es_try_submit('t', 'x', 'NoDecider');
.print '-- none of them changed anything'
SELECT CASE WHEN h = (SELECT h FROM snap WHERE label = 'commands') THEN 'unchanged' ELSE 'CHANGED' END FROM db_hash;
SELECT count(*) FROM es_events;

.print '-- a decider that works: its events, data and the context it sees'
CREATE VIEW d_show AS
  SELECT 'A' AS type, json_object('aggregate_type', aggregate_type, 'aggregate_id', aggregate_id,
                                  'command_type', command_type, 'payload', json(payload), 'state', json(state),
                                  'version', version) AS data FROM es_command
  UNION ALL SELECT 'B', NULL FROM es_command WHERE payload ->> 'twice';
SELECT es_create_decider('t', 'Show', 'd_show');
SELECT es_try_submit('t', 'x', 'Show', '{"q":[1,"é"]}');
SELECT es_try_submit('t', 'x', 'Payload', '{"k":7,"s":"v"}');
SELECT es_try_submit('t', 'x', 'Show', '{"twice":true}');
SELECT position, aggregate_id, version, type, data FROM es_events ORDER BY position;
.print '-- the evolver of A keeps the state, B has none: the state stays the initial one'
SELECT es_state('t', 'x');
.print '-- es_command.version is the version of the aggregate, also when the last event had no evolver (B, version 4)'
SELECT es_try_submit('t', 'x', 'Show');
SELECT version, data ->> 'version' FROM es_events WHERE position = (SELECT max(position) FROM es_events);

.print '-- evolvers that break the rules at run time (here the evolver of every type but A, which has its own):'
.print '-- replaying the log fails (x has a B event), and so does a new B event (y, which has no events)'
CREATE VIEW e_no_row AS SELECT json_object() AS state FROM es_event WHERE 0;
CREATE VIEW e_array AS SELECT json_array(1) AS state FROM es_event;
CREATE VIEW e_null AS SELECT NULL AS state FROM es_event;
CREATE VIEW e_number AS SELECT 1 AS state FROM es_event;
CREATE VIEW e_text AS SELECT 'not json' AS state FROM es_event;
CREATE VIEW e_count AS SELECT json_set(state, '$.n', (state ->> 'n') + 1, '$.last', type) AS state FROM es_event;
SELECT es_create_evolver('t', 'e_no_row');
INSERT INTO snap SELECT 'evolvers', h FROM db_hash;
SELECT es_try_submit('t', 'x', 'Show');
SELECT es_try_submit('t', 'y', 'Show', '{"twice":1}');
SELECT es_submit('t', 'y', 'Show', '{"twice":1}');
SELECT es_state('t', 'x');
SELECT es_state('t', 'y');
SELECT CASE WHEN h = (SELECT h FROM snap WHERE label = 'evolvers') THEN 'unchanged' ELSE 'CHANGED' END FROM db_hash;
SELECT es_create_evolver('t', 'e_array');
SELECT es_try_submit('t', 'x', 'Show');
SELECT es_try_submit('t', 'y', 'Show', '{"twice":1}');
SELECT es_create_evolver('t', 'e_null');
SELECT es_try_submit('t', 'x', 'Show');
SELECT es_create_evolver('t', 'e_number');
SELECT es_try_submit('t', 'y', 'Show', '{"twice":1}');
SELECT es_create_evolver('t', 'e_text', 'B');
SELECT es_try_submit('t', 'x', 'Show');
SELECT es_state('t', 'x');
.print '-- no event was appended; a command that emits only A (its evolver keeps the state) still works on y'
SELECT count(*) FROM es_events;
SELECT es_try_submit('t', 'y', 'Show');
SELECT name, generation FROM es_sql_aggregates;
SELECT aggregate, kind, name, view FROM es_sql_handlers WHERE kind = 'evolve' ORDER BY name;
.print '-- working evolvers again: one for every event type, the state follows the whole log'
SELECT es_create_evolver('t', 'e_count');
SELECT es_create_evolver('t', 'e_count', 'B');
SELECT es_state('t', 'x');
SELECT es_try_submit('t', 'x', 'Show', '{"twice":1}');
SELECT es_state('t', 'x');
SELECT es_try_submit('t', 'x', 'Reject');

.print '-- redefining the aggregate: a new initial state applies to the existing log; generation goes up;'
.print '-- the deciders and evolvers stay'
SELECT es_create_aggregate('t', '{"n":100}', '["A", "B"]');
SELECT name, initial_state, events, generation FROM es_sql_aggregates;
SELECT es_state('t', 'x');
SELECT aggregate, kind, name, view FROM es_sql_handlers ORDER BY kind, name;
.print '-- a redefinition without B is refused: its log holds B events, which replay needs'
SELECT es_create_aggregate('t', '{"n":100}', '["A"]');
SELECT es_try_submit('t', 'x', 'Show');
SELECT es_state('t', 'x');
SELECT es_create_aggregate('t', '{"n":100}', '["A", "B"]');
SELECT es_state('t', 'x');

.print '-- es_payload_int reads the exact value of an integral number, not its nearest double'
SELECT es_submit('t', 'exact', 'Payload', '{"k":9007199254740993.0,"s":"v"}');
SELECT es_submit('t', 'exact', 'Payload', '{"k":9.223372036854775807e18,"s":"v"}');
SELECT version, data FROM es_events WHERE aggregate_id = 'exact' ORDER BY version;
