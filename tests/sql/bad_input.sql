-- bad_input.sql — every kind of bad input to the write side and to the readers, each with its
-- exact message (and, through the shell's "(N)" suffix, its SQLite result code): ids and types
-- that are NULL, empty, not text or too long; wrong argument counts; malformed JSON; payloads
-- that are not objects; wrongly typed and missing fields; payloads over the limit and
-- es_config('max_payload_bytes'); options of the wrong type, unknown or wrongly typed; unknown
-- aggregates and commands; es_stream and friends with bad arguments. Nothing here may write:
-- the last lines check the log. Expected output: bad_input.expected (run by run.sh).
.load ./dist/es
.load ./dist/bank
.nullvalue NULL

.print '-- setup: one account'
SELECT es_submit('account', 'acc-1', 'OpenAccount', '{"owner":"ada"}');

.print '-- aggregate_type: NULL, empty, integer, real, blob, 1001 bytes'
SELECT es_submit(NULL, 'acc-1', 'Deposit', '{"amount":1}');
SELECT es_submit('', 'acc-1', 'Deposit', '{"amount":1}');
SELECT es_submit(7, 'acc-1', 'Deposit', '{"amount":1}');
SELECT es_submit(1.5, 'acc-1', 'Deposit', '{"amount":1}');
SELECT es_submit(x'6163636f756e74', 'acc-1', 'Deposit', '{"amount":1}');
SELECT es_submit(printf('%.*c', 1001, 'a'), 'acc-1', 'Deposit', '{"amount":1}');
.print '-- aggregate_id: NULL, empty, integer, blob, NUL inside, 1001 bytes; 1000 bytes is accepted'
SELECT es_submit('account', NULL, 'Deposit', '{"amount":1}');
SELECT es_submit('account', '', 'Deposit', '{"amount":1}');
SELECT es_submit('account', 1, 'Deposit', '{"amount":1}');
SELECT es_submit('account', x'616363', 'Deposit', '{"amount":1}');
SELECT es_submit('account', 'acc' || char(0) || '-1', 'Deposit', '{"amount":1}');
SELECT es_submit('account', printf('%.*c', 1001, 'i'), 'OpenAccount', '{"owner":"long"}');
SELECT es_submit('account', printf('%.*c', 1000, 'i'), 'OpenAccount', '{"owner":"long"}');
.print '-- command_type: NULL, empty, integer, blob, 1001 bytes'
SELECT es_submit('account', 'acc-1', NULL, '{"amount":1}');
SELECT es_submit('account', 'acc-1', '', '{"amount":1}');
SELECT es_submit('account', 'acc-1', 2, '{"amount":1}');
SELECT es_submit('account', 'acc-1', x'4465706f736974', '{"amount":1}');
SELECT es_submit('account', 'acc-1', printf('%.*c', 1001, 'c'), '{"amount":1}');
.print '-- the first bad argument is the one reported'
SELECT es_submit(NULL, NULL, NULL);
.print '-- es_try_submit reports them as JSON (invalid_argument is a domain outcome)'
SELECT es_try_submit(NULL, 'acc-1', 'Deposit', '{"amount":1}');
SELECT es_try_submit('account', 'acc-1', x'00', '{"amount":1}');

.print '-- argument counts: 3 to 5'
SELECT es_submit();
SELECT es_submit('account', 'acc-1');
SELECT es_submit('account', 'acc-1', 'Deposit', '{"amount":1}', '{}', '{}');
SELECT es_try_submit('account', 'acc-1');
SELECT es_try_submit('account', 'acc-1', 'Deposit', '{"amount":1}', '{}', '{}');

.print '-- unknown aggregate type and command type (names are case-sensitive; an event type is not a command)'
SELECT es_submit('nope', 'acc-1', 'Deposit', '{"amount":1}');
SELECT es_submit('Account', 'acc-1', 'Deposit', '{"amount":1}');
SELECT es_submit('account', 'acc-1', 'deposit', '{"amount":1}');
SELECT es_submit('account', 'acc-1', 'Deposited', '{"amount":1}');
SELECT es_try_submit('nope', 'acc-1', 'Deposit', '{"amount":1}');
SELECT es_try_submit('account', 'acc-1', 'Nope');

.print '-- payload not JSON text: integer, real, blob'
SELECT es_submit('account', 'acc-1', 'Deposit', 5);
SELECT es_submit('account', 'acc-1', 'Deposit', 5.5);
SELECT es_submit('account', 'acc-1', 'Deposit', x'7b7d');
.print '-- malformed JSON payloads, with the offset of the fault'
SELECT es_submit('account', 'acc-1', 'Deposit', '');
SELECT es_submit('account', 'acc-1', 'Deposit', '   ');
SELECT es_submit('account', 'acc-1', 'Deposit', '{');
SELECT es_submit('account', 'acc-1', 'Deposit', '{"amount":');
SELECT es_submit('account', 'acc-1', 'Deposit', '{"amount":1,}');
SELECT es_submit('account', 'acc-1', 'Deposit', '{amount:1}');
SELECT es_submit('account', 'acc-1', 'Deposit', '{''amount'':1}');
SELECT es_submit('account', 'acc-1', 'Deposit', '{"amount" 1}');
SELECT es_submit('account', 'acc-1', 'Deposit', '{"amount":1 "x":2}');
SELECT es_submit('account', 'acc-1', 'Deposit', '{"amount":1}}');
SELECT es_submit('account', 'acc-1', 'Deposit', '{"amount":1} x');
SELECT es_submit('account', 'acc-1', 'Deposit', '{"amount":01}');
SELECT es_submit('account', 'acc-1', 'Deposit', '{"amount":1.}');
SELECT es_submit('account', 'acc-1', 'Deposit', '{"amount":-}');
SELECT es_submit('account', 'acc-1', 'Deposit', '{"amount":tru}');
SELECT es_submit('account', 'acc-1', 'Deposit', '{"amount":1,"amount":2}');
SELECT es_submit('account', 'acc-1', 'Deposit', '{"a":"\x"}');
SELECT es_submit('account', 'acc-1', 'Deposit', '{"a":"\u12"}');
SELECT es_submit('account', 'acc-1', 'Deposit', '{"a":"\ud800"}');
SELECT es_submit('account', 'acc-1', 'Deposit', '{"a":"' || char(9) || '"}');
SELECT es_submit('account', 'acc-1', 'Deposit', '{"a":"unterminated}');
SELECT es_submit('account', 'acc-1', 'Deposit', CAST(x'7b2261223a22ff227d' AS TEXT));
SELECT es_submit('account', 'acc-1', 'Deposit', '{"amount":1}' || char(0));
SELECT es_submit('account', 'acc-1', 'Deposit', printf('%.*c', 201, '[') || printf('%.*c', 201, ']'));
SELECT es_try_submit('account', 'acc-1', 'Deposit', '{"amount":');

.print '-- payloads that are not objects'
SELECT es_submit('account', 'acc-1', 'Deposit', '[{"amount":1}]');
SELECT es_submit('account', 'acc-1', 'Deposit', '"amount"');
SELECT es_submit('account', 'acc-1', 'Deposit', '5');
SELECT es_submit('account', 'acc-1', 'Deposit', '-1.5e3');
SELECT es_submit('account', 'acc-1', 'Deposit', 'true');
SELECT es_submit('account', 'acc-1', 'Deposit', 'null');
SELECT es_try_submit('account', 'acc-1', 'Deposit', '[]');
.print '-- SQL NULL is no payload, i.e. {}: Deposit then misses its amount'
SELECT es_submit('account', 'acc-1', 'Deposit', NULL);
SELECT es_submit('account', 'acc-1', 'Deposit');
SELECT es_try_submit('account', 'acc-1', 'Deposit', NULL);

.print '-- wrongly typed and missing fields'
SELECT es_submit('account', 'acc-1', 'Deposit', '{"amount":"5"}');
SELECT es_submit('account', 'acc-1', 'Deposit', '{"amount":1.5}');
SELECT es_submit('account', 'acc-1', 'Deposit', '{"amount":true}');
SELECT es_submit('account', 'acc-1', 'Deposit', '{"amount":null}');
SELECT es_submit('account', 'acc-1', 'Deposit', '{"amount":[5]}');
SELECT es_submit('account', 'acc-1', 'Deposit', '{"amount":{"value":5}}');
SELECT es_submit('account', 'acc-1', 'Deposit', '{"amount":1e300}');
SELECT es_submit('account', 'acc-1', 'Deposit', '{"amount":9223372036854775808}');
SELECT es_submit('account', 'acc-1', 'Deposit', '{"Amount":5}');
SELECT es_submit('account', 'acc-2', 'OpenAccount', '{"owner":42}');
SELECT es_submit('account', 'acc-2', 'OpenAccount', '{"owner":null}');
SELECT es_submit('account', 'acc-2', 'OpenAccount', '{}');
SELECT es_try_submit('account', 'acc-1', 'Deposit', '{"amount":"5"}');
.print '-- well-typed but refused by the aggregate: a rejection, not bad input'
SELECT es_submit('account', 'acc-1', 'Deposit', '{"amount":0}');
SELECT es_submit('account', 'acc-1', 'Deposit', '{"amount":-5}');
SELECT es_submit('account', 'acc-2', 'OpenAccount', '{"owner":""}');
.print '-- an integral number is an integer: 2.0 and 3e0 are accepted as 2 and 3'
SELECT es_submit('account', 'acc-1', 'Deposit', '{"amount":2.0}');
SELECT es_submit('account', 'acc-1', 'Deposit', '{"amount":3e0}');

.print '-- payload size: 10 MB is over the default limit of 1 MiB, checked before parsing'
SELECT es_config('max_payload_bytes');
SELECT es_submit('account', 'acc-1', 'Deposit', '{"amount":1,"pad":"' || printf('%.*c', 10485760, 'x') || '"}');
SELECT es_try_submit('account', 'acc-1', 'Deposit', '{"amount":1,"pad":"' || printf('%.*c', 10485760, 'x') || '"}');
SELECT es_submit('account', 'acc-1', 'Deposit', printf('%.*c', 10485760, '{'));
.print '-- exactly at the limit is allowed; one byte more is not'
SELECT es_submit('account', 'acc-1', 'Deposit', '{"amount":4,"pad":"' || printf('%.*c', 1048576 - 21, 'x') || '"}');
SELECT es_submit('account', 'acc-1', 'Deposit', '{"amount":4,"pad":"' || printf('%.*c', 1048576 - 20, 'x') || '"}');
.print '-- raising the limit lets a 2 MB payload through; the event holds only what the aggregate put in it'
SELECT es_submit('account', 'acc-1', 'Deposit', '{"amount":5,"pad":"' || printf('%.*c', 2097152, 'x') || '"}');
SELECT es_config('max_payload_bytes', 4194304);
SELECT es_config('max_payload_bytes');
SELECT es_submit('account', 'acc-1', 'Deposit', '{"amount":5,"pad":"' || printf('%.*c', 2097152, 'x') || '"}');
SELECT version, data FROM es_stream('account', 'acc-1', 4);
SELECT es_submit('account', 'acc-1', 'Deposit', '{"amount":1,"pad":"' || printf('%.*c', 10485760, 'x') || '"}');
.print '-- the limit also bounds metadata'
SELECT es_submit('account', 'acc-1', 'Deposit', '{"amount":1}', '{"metadata":{"pad":"' || printf('%.*c', 4194304, 'm') || '"}}');
SELECT es_config('max_payload_bytes', 1048576);
.print '-- es_config: bad names and values'
SELECT es_config('max_payload_bytes', 1);
SELECT es_config('max_payload_bytes', 1000000001);
SELECT es_config('max_payload_bytes', '2000000');
SELECT es_config('max_payload_bytes', 2000000.0);
SELECT es_config('max_payload_bytes', NULL);
SELECT es_config('defensive', 2);
SELECT es_config('defensive', 'on');
SELECT es_config('max_payload', 5);
SELECT es_config('nope');
SELECT es_config();
SELECT es_config('defensive', 1, 2);
SELECT es_config('max_payload_bytes');

.print '-- options not JSON text: integer, blob'
SELECT es_submit('account', 'acc-1', 'Deposit', '{"amount":1}', 1);
SELECT es_submit('account', 'acc-1', 'Deposit', '{"amount":1}', x'7b7d');
.print '-- options malformed or not an object'
SELECT es_submit('account', 'acc-1', 'Deposit', '{"amount":1}', '{');
SELECT es_submit('account', 'acc-1', 'Deposit', '{"amount":1}', '{"command_id":"x",}');
SELECT es_submit('account', 'acc-1', 'Deposit', '{"amount":1}', '{"command_id":"x","command_id":"y"}');
SELECT es_submit('account', 'acc-1', 'Deposit', '{"amount":1}', '[]');
SELECT es_submit('account', 'acc-1', 'Deposit', '{"amount":1}', '"any"');
SELECT es_submit('account', 'acc-1', 'Deposit', '{"amount":1}', '3');
SELECT es_submit('account', 'acc-1', 'Deposit', '{"amount":1}', 'null');
.print '-- unknown option names (names are exact)'
SELECT es_submit('account', 'acc-1', 'Deposit', '{"amount":1}', '{"expectedVersion":1}');
SELECT es_submit('account', 'acc-1', 'Deposit', '{"amount":1}', '{"Command_id":"c"}');
SELECT es_submit('account', 'acc-1', 'Deposit', '{"amount":1}', '{"metadata":{},"ttl":5}');
.print '-- expected_version of the wrong type or value'
SELECT es_submit('account', 'acc-1', 'Deposit', '{"amount":1}', '{"expected_version":"1"}');
SELECT es_submit('account', 'acc-1', 'Deposit', '{"amount":1}', '{"expected_version":-1}');
SELECT es_submit('account', 'acc-1', 'Deposit', '{"amount":1}', '{"expected_version":1.5}');
SELECT es_submit('account', 'acc-1', 'Deposit', '{"amount":1}', '{"expected_version":true}');
SELECT es_submit('account', 'acc-1', 'Deposit', '{"amount":1}', '{"expected_version":[1]}');
SELECT es_submit('account', 'acc-1', 'Deposit', '{"amount":1}', '{"expected_version":"ANY"}');
SELECT es_submit('account', 'acc-1', 'Deposit', '{"amount":1}', '{"expected_version":"latest"}');
.print '-- command_id of the wrong type or value'
SELECT es_submit('account', 'acc-1', 'Deposit', '{"amount":1}', '{"command_id":5}');
SELECT es_submit('account', 'acc-1', 'Deposit', '{"amount":1}', '{"command_id":""}');
SELECT es_submit('account', 'acc-1', 'Deposit', '{"amount":1}', '{"command_id":["c"]}');
SELECT es_submit('account', 'acc-1', 'Deposit', '{"amount":1}', '{"command_id":"c\u0000d"}');
SELECT es_submit('account', 'acc-1', 'Deposit', '{"amount":1}', '{"command_id":"' || printf('%.*c', 1001, 'c') || '"}');
.print '-- metadata of the wrong type'
SELECT es_submit('account', 'acc-1', 'Deposit', '{"amount":1}', '{"metadata":"user=ops"}');
SELECT es_submit('account', 'acc-1', 'Deposit', '{"amount":1}', '{"metadata":[1,2]}');
SELECT es_submit('account', 'acc-1', 'Deposit', '{"amount":1}', '{"metadata":7}');
SELECT es_submit('account', 'acc-1', 'Deposit', '{"amount":1}', '{"metadata":true}');
SELECT es_try_submit('account', 'acc-1', 'Deposit', '{"amount":1}', '{"metadata":7}');

.print '-- es_stream: ids missing, NULL or not text; after_version not an integer; too many arguments'
SELECT * FROM es_stream;
SELECT * FROM es_stream();
SELECT * FROM es_stream('account');
SELECT * FROM es_stream(NULL, 'acc-1');
SELECT * FROM es_stream('account', NULL);
SELECT * FROM es_stream(1, 'acc-1');
SELECT * FROM es_stream('account', 1);
SELECT * FROM es_stream('account', x'00');
SELECT * FROM es_stream('', 'acc-1');
SELECT * FROM es_stream('account', printf('%.*c', 1001, 'i'));
SELECT * FROM es_stream('account', 'acc-1', NULL);
SELECT * FROM es_stream('account', 'acc-1', '1');
SELECT * FROM es_stream('account', 'acc-1', 1.5);
SELECT * FROM es_stream('account', 'acc-1', 1, 2);
SELECT version FROM es_stream WHERE aggregate_type = 'account';
.print '-- es_stream_version and es_state: the same checks'
SELECT es_stream_version(NULL, 'acc-1');
SELECT es_stream_version('account', 5);
SELECT es_stream_version('account', '');
SELECT es_stream_version('account');
SELECT es_state('account', NULL);
SELECT es_state(x'00', 'acc-1');
SELECT es_state('account', printf('%.*c', 1001, 'i'));
SELECT es_state('nope', 'acc-1');
SELECT es_state('account', 'acc-1', 3);

.print '-- nothing above wrote anything but the accepted commands'
SELECT position, aggregate_id = printf('%.*c', 1000, 'i'), version, type, length(data) FROM es_events ORDER BY position;
SELECT count(*) FROM es_commands;
SELECT es_state('account', 'acc-1');
SELECT es_stream_version('account', 'acc-2');

.print '-- edges of the example: the largest amount is accepted; a deposit that would overflow the balance is refused'
SELECT es_submit('account', 'big', 'OpenAccount', '{"owner":"big"}');
SELECT es_submit('account', 'big', 'Deposit', '{"amount":9223372036854775807}');
SELECT json_extract(es_try_submit('account', 'big', 'Deposit', '{"amount":1}'), '$.error');
SELECT json_extract(es_state('account', 'big'), '$.balance'), es_stream_version('account', 'big');
.print '-- a text field holding an escaped NUL is refused or stored whole, never cut short'
SELECT json_extract(es_try_submit('account', 'nul', 'OpenAccount', '{"owner":"ad\u0000a"}'), '$.ok') IN (0, 1);
SELECT count(*) FROM es_events WHERE aggregate_id = 'nul' AND instr(data, '\u0000') = 0;
.print '-- an aggregate_id that is not valid UTF-8 is refused like any bad argument (payload text already is), and not stored'
SELECT json_extract(es_try_submit('account', CAST(x'ff' AS TEXT), 'OpenAccount', '{"owner":"x"}'), '$.error');
SELECT json_extract(es_try_submit('account', 'acc-' || CAST(x'c328' AS TEXT), 'OpenAccount', '{"owner":"x"}'), '$.error');
SELECT count(*) FROM es_events WHERE aggregate_id IN (CAST(x'ff' AS TEXT), 'acc-' || CAST(x'c328' AS TEXT));
.print '-- integer fields take a number only when its exact decimal value is an integer in int64 (never decided through a double)'
SELECT es_submit('account', 'ints', 'OpenAccount', '{"owner":"ints"}');
SELECT es_submit('account', 'ints', 'Deposit', '{"amount":9007199254740993.0}');
SELECT es_submit('account', 'ints', 'Deposit', '{"amount":100.0}');
SELECT es_submit('account', 'ints', 'Deposit', '{"amount":1e2}');
SELECT es_submit('account', 'ints', 'Deposit', '{"amount":1E+2}');
SELECT es_submit('account', 'ints', 'Deposit', '{"amount":1234500e-2}');
SELECT es_submit('account', 'ints', 'Deposit', '{"amount":0.00000000000000000000000000012345e33}');
SELECT es_submit('account', 'ints', 'Deposit', '{"amount":1.000000000000000000000000000000e1}');
SELECT es_submit('account', 'ints', 'Withdraw', '{"amount":9.007199254740993e15}');
SELECT version, data FROM es_events WHERE aggregate_id = 'ints' ORDER BY version;
SELECT es_submit('account', 'ints', 'Deposit', '{"amount":-0.0}');
SELECT es_submit('account', 'ints', 'Deposit', '{"amount":0e5}');
SELECT es_submit('account', 'ints', 'Deposit', '{"amount":0.000e-5}');
SELECT es_submit('account', 'ints', 'Deposit', '{"amount":100.000000000000001}');
SELECT es_submit('account', 'ints', 'Deposit', '{"amount":1.00000000000000001e2}');
SELECT es_submit('account', 'ints', 'Deposit', '{"amount":1e-400}');
SELECT es_submit('account', 'ints', 'Deposit', '{"amount":1e-999999999999}');
SELECT es_submit('account', 'ints', 'Deposit', '{"amount":1e400}');
SELECT es_submit('account', 'ints', 'Deposit', '{"amount":1e999999999999}');
SELECT es_submit('account', 'ints', 'Deposit', '{"amount":9007199254740993.5}');
SELECT es_submit('account', 'ints', 'Deposit', '{"amount":1.5}');
SELECT es_submit('account', 'ints', 'Deposit', '{"amount":1e-1}');
SELECT es_submit('account', 'ints', 'Deposit', '{"amount":12345e-2}');
SELECT es_submit('account', 'ints', 'Deposit', '{"amount":9223372036854775808}');
SELECT es_submit('account', 'ints', 'Deposit', '{"amount":9.223372036854775808e18}');
SELECT es_submit('account', 'ints', 'Deposit', '{"amount":-9223372036854775809}');
SELECT es_submit('account', 'ints', 'Deposit', '{"amount":100.00000000000000000000000000000000000000000000000001}');
SELECT es_try_submit('account', 'ints', 'Deposit', '{"amount":100.000000000000001}');
.print '-- the edges of int64 written as reals (the decider then refuses them as amounts: not positive, or an overflow)'
SELECT es_submit('account', 'ints', 'Deposit', '{"amount":9.223372036854775807e18}');
SELECT es_submit('account', 'ints', 'Deposit', '{"amount":-9223372036854775808.0}');
SELECT es_submit('account', 'ints', 'Deposit', '{"amount":-9.223372036854775808e18}');
.print '-- expected_version follows the same rule'
SELECT es_submit('account', 'ints', 'Deposit', '{"amount":1}', '{"expected_version":9.0}');
SELECT es_submit('account', 'ints', 'Deposit', '{"amount":1}', '{"expected_version":10.000000000000000001}');
SELECT es_submit('account', 'ints', 'Deposit', '{"amount":1}', '{"expected_version":1e-400}');
SELECT es_stream_version('account', 'ints');
