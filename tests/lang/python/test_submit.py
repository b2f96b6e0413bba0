"""sqlite-es from Python's standard sqlite3 module (Debian's /usr/bin/python3, SQLite 3.40).

What a Python user sees: loading dist/es.so and dist/bank.so, the versions es_submit returns, the
exception class, message and SQLite error code of every failure kind, es_try_submit's JSON,
es_state, how es_submit interacts with Python's isolation_level (implicit transactions), loading
rules per connection, closing, and trusted_schema=OFF. Run through tests/lang/python/run.py.
"""
import ctypes
import ctypes.util
import json
import os
import sqlite3
import tempfile
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
DIST = os.environ.get("ES_DIST") or os.path.join(ROOT, "dist")
ES = os.path.join(DIST, "es.so")
BANK = os.path.join(DIST, "bank.so")

MISUSE_MSG = ("es: misuse: es_submit cannot be atomic inside a statement that writes (INSERT … SELECT,"
              " UPDATE … SET, a trigger): call it from a plain SELECT")
REJECTED_MSG = "es: rejected (insufficient_funds): balance 100 is less than 500"


def compact(value):
    return json.dumps(value, separators=(",", ":"))


def load(conn, *paths):
    """Load extensions the way the brief says: enable, load, disable again."""
    conn.enable_load_extension(True)
    try:
        for p in paths:
            conn.load_extension(p)
    finally:
        conn.enable_load_extension(False)


class EsCase(unittest.TestCase):
    """A fresh database file per test; connections opened through connect() are closed at the end."""

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="es-py-")
        self.path = os.path.join(self.tmp.name, "test.db")
        self.conns = []

    def tearDown(self):
        for c in self.conns:
            c.close()
        self.tmp.cleanup()

    def connect(self, extensions=(ES, BANK), **kw):
        c = sqlite3.connect(self.path, **kw)
        self.conns.append(c)
        if extensions:
            load(c, *extensions)
        return c

    def observer(self):
        """A second connection without the extension: reading es_events needs none."""
        return self.connect(extensions=(), isolation_level=None)

    @staticmethod
    def call(c, fn, agg_id, command, payload=None, options=None, agg_type="account"):
        args = [agg_type, agg_id, command, compact(payload if payload is not None else {})]
        if options is not None:
            args.append(compact(options))
        sql = "SELECT %s(%s)" % (fn, ",".join("?" * len(args)))
        return c.execute(sql, args).fetchone()[0]

    def submit(self, c, agg_id, command, payload=None, options=None, agg_type="account"):
        return self.call(c, "es_submit", agg_id, command, payload, options, agg_type)

    def try_submit(self, c, agg_id, command, payload=None, options=None, agg_type="account"):
        return json.loads(self.call(c, "es_try_submit", agg_id, command, payload, options, agg_type))

    @staticmethod
    def events(c):
        return c.execute("SELECT position, aggregate_type, aggregate_id, version, type, data, metadata, command_id"
                         " FROM es_events ORDER BY position").fetchall()

    @staticmethod
    def count(c, table="es_events"):
        return c.execute("SELECT count(*) FROM " + table).fetchone()[0]

    def open_with_100(self, c, agg_id="a1"):
        self.assertEqual(self.submit(c, agg_id, "OpenAccount", {"owner": "ada"}), 1)
        self.assertEqual(self.submit(c, agg_id, "Deposit", {"amount": 100}), 2)

    def assertSqliteError(self, cm, cls, message, code, name):
        """The exception's exact class, message, and (Python >= 3.11) SQLite result code and name."""
        e = cm.exception
        self.assertIs(type(e), cls, "%s: %s" % (type(e).__name__, e))
        self.assertEqual(str(e), message)
        if hasattr(e, "sqlite_errorcode"):
            self.assertEqual((e.sqlite_errorcode, e.sqlite_errorname), (code, name))


class SubmitOutcomes(EsCase):
    """es_submit's return value and the exception of each failure kind."""

    def test_returns_the_version_after_each_command(self):
        c = self.connect()
        self.assertEqual(self.submit(c, "a1", "OpenAccount", {"owner": "ada"}), 1)
        self.assertEqual(self.submit(c, "a1", "Deposit", {"amount": 100}), 2)
        self.assertEqual(self.submit(c, "a2", "OpenAccount", {"owner": "bob"}), 1)
        self.assertEqual(self.submit(c, "a1", "Withdraw", {"amount": 30}), 3)
        self.assertEqual(self.submit(c, "a1", "Deposit", {"amount": 5}, {"command_id": "c-1", "metadata": {"user": "u"}}), 4)
        self.assertEqual(type(self.submit(c, "a2", "Deposit", {"amount": 1})), int)
        self.assertEqual(self.events(c), [
            (1, "account", "a1", 1, "AccountOpened", '{"owner":"ada"}', None, None),
            (2, "account", "a1", 2, "Deposited", '{"amount":100}', None, None),
            (3, "account", "a2", 1, "AccountOpened", '{"owner":"bob"}', None, None),
            (4, "account", "a1", 3, "Withdrawn", '{"amount":30}', None, None),
            (5, "account", "a1", 4, "Deposited", '{"amount":5}', '{"user":"u"}', "c-1"),
            (6, "account", "a2", 2, "Deposited", '{"amount":1}', None, None),
        ])
        self.assertEqual(c.execute("SELECT es_stream_version('account','a1'), es_stream_version('account','a2'),"
                                   " es_stream_version('account','none')").fetchone(), (4, 2, 0))

    def test_duplicate_command_id_returns_the_original_version(self):
        c = self.connect()
        self.open_with_100(c)
        self.assertEqual(self.submit(c, "a1", "Deposit", {"amount": 7}, {"command_id": "k"}), 3)
        self.assertEqual(self.submit(c, "a1", "Deposit", {"amount": 9}, {"command_id": "a"}), 4)
        self.assertEqual(self.submit(c, "a1", "Deposit", {"amount": 7}, {"command_id": "k"}), 3)
        self.assertEqual(self.count(c), 4)

    def test_rejected_raises_integrity_error_and_changes_nothing(self):
        c = self.connect()
        self.open_with_100(c)
        before = list(c.iterdump())
        with self.assertRaises(sqlite3.IntegrityError) as cm:
            self.submit(c, "a1", "Withdraw", {"amount": 500})
        self.assertSqliteError(cm, sqlite3.IntegrityError, REJECTED_MSG, 1043, "SQLITE_CONSTRAINT_FUNCTION")
        self.assertFalse(c.in_transaction)
        self.assertEqual(list(c.iterdump()), before)
        self.assertEqual(list(self.observer().iterdump()), before)

    def test_conflict_raises_integrity_error(self):
        c = self.connect()
        self.open_with_100(c)
        with self.assertRaises(sqlite3.IntegrityError) as cm:
            self.submit(c, "a1", "Deposit", {"amount": 1}, {"expected_version": 1})
        self.assertSqliteError(cm, sqlite3.IntegrityError, "es: conflict: expected version 1 of account 'a1', actual 2",
                               19, "SQLITE_CONSTRAINT")
        with self.assertRaises(sqlite3.IntegrityError) as cm:
            self.submit(c, "a1", "Deposit", {"amount": 1}, {"expected_version": "no_stream"})
        self.assertSqliteError(cm, sqlite3.IntegrityError,
                               "es: conflict: expected no stream for account 'a1', actual version 2",
                               19, "SQLITE_CONSTRAINT")
        self.assertEqual(self.submit(c, "a1", "Deposit", {"amount": 1}, {"expected_version": 2}), 3)
        self.assertEqual(self.count(c), 3)

    def test_invalid_payload_raises_integrity_error_with_sqlite_mismatch(self):
        c = self.connect()
        self.open_with_100(c)
        with self.assertRaises(sqlite3.IntegrityError) as cm:
            self.submit(c, "a1", "Deposit", {"amount": "100"})
        self.assertSqliteError(cm, sqlite3.IntegrityError,
                               "es: invalid_payload: payload field 'amount' must be an integer, got string",
                               20, "SQLITE_MISMATCH")
        with self.assertRaises(sqlite3.IntegrityError) as cm:
            c.execute("SELECT es_submit('account', 'a1', 'Deposit', '{bad')")
        self.assertSqliteError(cm, sqlite3.IntegrityError,
                               "es: invalid_payload: payload: malformed JSON at offset 1: expected a string key",
                               20, "SQLITE_MISMATCH")
        self.assertEqual(self.count(c), 2)

    def test_unknown_aggregate_and_command_raise_operational_error(self):
        c = self.connect()
        with self.assertRaises(sqlite3.OperationalError) as cm:
            self.submit(c, "a1", "OpenAccount", {"owner": "ada"}, agg_type="nope")
        self.assertSqliteError(cm, sqlite3.OperationalError,
                               "es: unknown_aggregate: no aggregate type 'nope' is registered on this connection",
                               1, "SQLITE_ERROR")
        with self.assertRaises(sqlite3.OperationalError) as cm:
            self.submit(c, "a1", "Nope")
        self.assertSqliteError(cm, sqlite3.OperationalError,
                               "es: unknown_command: aggregate type 'account' has no command 'Nope'", 1, "SQLITE_ERROR")
        with self.assertRaises(sqlite3.OperationalError) as cm:
            c.execute("SELECT es_submit(1, 'a1', 'OpenAccount')")
        self.assertSqliteError(cm, sqlite3.OperationalError,
                               "es: invalid_argument: aggregate_type must be text, got integer", 1, "SQLITE_ERROR")
        has_log = c.execute("SELECT count(*) FROM sqlite_schema WHERE name = 'es_events'").fetchone()[0]
        self.assertEqual(self.count(c) if has_log else 0, 0)  # nothing written (the log may not exist yet)

    def test_direct_writes_to_the_log_raise_integrity_error(self):
        c = self.connect(isolation_level=None)
        self.open_with_100(c)
        cases = [
            ("INSERT INTO es_events(aggregate_type, aggregate_id, version, type, data, recorded_at)"
             " VALUES ('account', 'a1', 3, 'Deposited', '{\"amount\":1}', 'now')",
             "es: protected: es_events is the append-only event log: only es_submit() writes it"),
            ("UPDATE es_events SET data = '{\"amount\":1000}' WHERE position = 2",
             "es: protected: es_events is the append-only event log: UPDATE is refused"),
            ("DELETE FROM es_events", "es: protected: es_events is the append-only event log: DELETE is refused"),
        ]
        before = self.events(c)
        for sql, message in cases:
            with self.subTest(sql=sql):
                with self.assertRaises(sqlite3.IntegrityError) as cm:
                    c.execute(sql)
                self.assertSqliteError(cm, sqlite3.IntegrityError, message, 1811, "SQLITE_CONSTRAINT_TRIGGER")
        self.assertEqual(self.events(c), before)


class Misuse(EsCase):
    """es_submit inside a writing statement, a trigger or a view: refused before anything is written."""

    def test_insert_select_raises_interface_error_and_writes_nothing(self):
        c = self.connect()  # default isolation_level: Python opens a transaction before the INSERT
        c.execute("CREATE TABLE t(x)")
        self.open_with_100(c)
        before = list(self.observer().iterdump())
        with self.assertRaises(sqlite3.InterfaceError) as cm:
            c.execute("INSERT INTO t SELECT es_submit('account', 'a1', 'Deposit', '{\"amount\":1}')")
        self.assertSqliteError(cm, sqlite3.InterfaceError, MISUSE_MSG, 21, "SQLITE_MISUSE")
        # Inside Python's still-open implicit transaction, nothing was written either.
        self.assertTrue(c.in_transaction)
        self.assertEqual((self.count(c), self.count(c, "t")), (2, 0))
        self.assertEqual(c.execute("SELECT es_stream_version('account', 'a1')").fetchone()[0], 2)
        c.commit()
        self.assertEqual(list(self.observer().iterdump()), before)

    def test_update_set_raises_interface_error_and_writes_nothing(self):
        c = self.connect(isolation_level=None)
        c.execute("CREATE TABLE t(x)")
        c.execute("INSERT INTO t VALUES (0)")
        self.open_with_100(c)
        before = list(c.iterdump())
        with self.assertRaises(sqlite3.InterfaceError) as cm:
            c.execute("UPDATE t SET x = es_submit('account', 'a1', 'Deposit', '{\"amount\":1}')")
        self.assertSqliteError(cm, sqlite3.InterfaceError, MISUSE_MSG, 21, "SQLITE_MISUSE")
        self.assertFalse(c.in_transaction)
        self.assertEqual(list(c.iterdump()), before)

    def test_es_try_submit_raises_for_misuse(self):
        c = self.connect(isolation_level=None)
        c.execute("CREATE TABLE t(x)")
        self.open_with_100(c)
        with self.assertRaises(sqlite3.InterfaceError) as cm:
            c.execute("INSERT INTO t SELECT es_try_submit('account', 'a1', 'Deposit', '{\"amount\":1}')")
        self.assertSqliteError(cm, sqlite3.InterfaceError, MISUSE_MSG.replace("es_submit", "es_try_submit", 1),
                               21, "SQLITE_MISUSE")
        self.assertEqual((self.count(c), self.count(c, "t")), (2, 0))

    def test_trigger_calling_es_submit_is_refused(self):
        c = self.connect(isolation_level=None)
        c.execute("CREATE TABLE t(x)")
        c.execute("CREATE TRIGGER t_submit AFTER INSERT ON t BEGIN"
                  " SELECT es_submit('account', 'a1', 'Deposit', '{\"amount\":1}'); END")
        self.open_with_100(c)
        with self.assertRaises(sqlite3.OperationalError) as cm:
            c.execute("INSERT INTO t VALUES (1)")
        self.assertSqliteError(cm, sqlite3.OperationalError, "unsafe use of es_submit()", 1, "SQLITE_ERROR")
        self.assertEqual((self.count(c), self.count(c, "t")), (2, 0))

    def test_view_calling_es_submit_is_refused(self):
        c = self.connect(isolation_level=None)
        self.open_with_100(c)
        c.execute("CREATE VIEW v AS SELECT es_submit('account', 'a1', 'Deposit', '{\"amount\":1}') AS version")
        with self.assertRaises(sqlite3.OperationalError) as cm:
            c.execute("SELECT * FROM v").fetchall()
        self.assertSqliteError(cm, sqlite3.OperationalError, "unsafe use of es_submit()", 1, "SQLITE_ERROR")
        self.assertEqual(self.count(c), 2)

    def test_python_refuses_executemany_of_a_select(self):
        # Not the extension's doing: Python only runs DML through executemany(). Batches are
        # written as SELECT es_submit(...) FROM a table instead (PythonTransactions).
        c = self.connect()
        with self.assertRaises(sqlite3.ProgrammingError) as cm:
            c.executemany("SELECT es_submit('account', ?, 'OpenAccount', '{\"owner\":\"x\"}')", [("a",), ("b",)])
        self.assertEqual(str(cm.exception), "executemany() can only execute DML statements.")


class PythonTransactions(EsCase):
    """es_submit under Python's isolation_level: its own transaction in autocommit, or joins the open one."""

    def test_default_isolation_select_commits_at_once(self):
        c = self.connect()
        self.assertEqual(c.isolation_level, "")
        self.assertEqual(self.submit(c, "a1", "OpenAccount", {"owner": "ada"}), 1)
        self.assertFalse(c.in_transaction)  # a SELECT does not open Python's implicit transaction
        self.assertEqual(self.count(self.observer()), 1)

    def test_default_isolation_joins_the_implicit_transaction(self):
        c = self.connect()
        c.execute("CREATE TABLE t(x)")
        self.open_with_100(c)
        other = self.observer()
        c.execute("INSERT INTO t VALUES (1)")  # Python's implicit BEGIN
        self.assertTrue(c.in_transaction)
        self.assertEqual(self.submit(c, "a1", "Deposit", {"amount": 5}), 3)
        self.assertTrue(c.in_transaction)  # es_submit did not commit the caller's transaction
        self.assertEqual(self.count(c), 3)
        self.assertEqual((self.count(other), self.count(other, "t")), (2, 0))
        c.rollback()
        self.assertEqual((self.count(c), self.count(c, "t")), (2, 0))
        self.assertEqual(c.execute("SELECT es_stream_version('account', 'a1')").fetchone()[0], 2)
        self.assertEqual(json.loads(c.execute("SELECT es_state('account', 'a1')").fetchone()[0])["balance"], 100)
        # The same again, committed: both writes land together.
        c.execute("INSERT INTO t VALUES (2)")
        self.assertEqual(self.submit(c, "a1", "Deposit", {"amount": 5}), 3)
        c.commit()
        self.assertEqual((self.count(other), self.count(other, "t")), (3, 1))

    def test_isolation_none_autocommit_commits_at_once(self):
        c = self.connect(isolation_level=None)
        self.assertEqual(self.submit(c, "a1", "OpenAccount", {"owner": "ada"}), 1)
        self.assertFalse(c.in_transaction)
        self.assertEqual(self.count(self.observer()), 1)

    def test_isolation_none_explicit_begin_rollback_and_commit(self):
        c = self.connect(isolation_level=None)
        self.open_with_100(c)
        other = self.observer()
        c.execute("BEGIN")
        self.assertEqual(self.submit(c, "a1", "Deposit", {"amount": 1}), 3)
        self.assertEqual(self.submit(c, "a1", "Deposit", {"amount": 2}), 4)
        self.assertTrue(c.in_transaction)
        self.assertEqual(self.count(other), 2)
        c.execute("ROLLBACK")
        self.assertEqual(self.count(c), 2)
        self.assertEqual(c.execute("SELECT es_stream_version('account', 'a1')").fetchone()[0], 2)
        c.execute("BEGIN IMMEDIATE")
        self.assertEqual(self.submit(c, "a1", "Deposit", {"amount": 3}), 3)
        c.execute("COMMIT")
        self.assertEqual([r[3:6] for r in self.events(other)][-1], (3, "Deposited", '{"amount":3}'))

    def test_rejection_inside_the_callers_transaction_leaves_it_open(self):
        c = self.connect(isolation_level=None)
        self.open_with_100(c)
        c.execute("BEGIN")
        self.assertEqual(self.submit(c, "a1", "Deposit", {"amount": 1}), 3)
        with self.assertRaises(sqlite3.IntegrityError) as cm:
            self.submit(c, "a1", "Withdraw", {"amount": 500})
        self.assertEqual(str(cm.exception), "es: rejected (insufficient_funds): balance 101 is less than 500")
        self.assertTrue(c.in_transaction)
        c.execute("COMMIT")
        self.assertEqual(self.count(self.observer()), 3)

    def test_savepoint_rollback_to(self):
        c = self.connect(isolation_level=None)
        self.open_with_100(c)
        c.execute("SAVEPOINT u")
        self.assertEqual(self.submit(c, "a1", "Deposit", {"amount": 1}), 3)
        c.execute("ROLLBACK TO u")
        c.execute("RELEASE u")
        self.assertFalse(c.in_transaction)
        self.assertEqual(self.count(self.observer()), 2)

    def test_batch_over_rows_inside_begin_immediate(self):
        c = self.connect(isolation_level=None)
        self.open_with_100(c)
        c.execute("CREATE TABLE inbox(id INTEGER PRIMARY KEY, command TEXT, amount INTEGER)")
        c.executemany("INSERT INTO inbox(command, amount) VALUES (?, ?)",
                      [("Deposit", 10), ("Withdraw", 500), ("Withdraw", 20)])
        c.execute("BEGIN IMMEDIATE")
        rows = c.execute("SELECT es_try_submit('account', 'a1', command, json_object('amount', amount))"
                         " FROM inbox ORDER BY id").fetchall()
        c.execute("COMMIT")
        self.assertEqual([json.loads(r[0]) for r in rows], [
            {"ok": True, "version": 3, "position": 3, "events": 1},
            {"ok": False, "error": "rejected", "reason": "insufficient_funds",
             "message": "balance 110 is less than 500"},
            {"ok": True, "version": 4, "position": 4, "events": 1},
        ])
        self.assertEqual(json.loads(c.execute("SELECT es_state('account', 'a1')").fetchone()[0])["balance"], 90)


class TrySubmit(EsCase):
    """es_try_submit: JSON for domain outcomes, parsable by json.loads, with the documented keys."""

    def test_outcomes(self):
        c = self.connect()
        self.assertEqual(self.try_submit(c, "a1", "OpenAccount", {"owner": "ada"}),
                         {"ok": True, "version": 1, "position": 1, "events": 1})
        self.assertEqual(self.try_submit(c, "a1", "Deposit", {"amount": 100}, {"command_id": "d1"}),
                         {"ok": True, "version": 2, "position": 2, "events": 1})
        self.assertEqual(self.try_submit(c, "a1", "Deposit", {"amount": 100}, {"command_id": "d1"}),
                         {"ok": True, "version": 2, "position": 2, "events": 0, "duplicate": True})
        cases = [
            (("a1", "Withdraw", {"amount": 500}),
             {"ok": False, "error": "rejected", "reason": "insufficient_funds",
              "message": "balance 100 is less than 500"}),
            (("a1", "Deposit", {"amount": 1}, {"expected_version": 1}),
             {"ok": False, "error": "conflict", "reason": None,
              "message": "expected version 1 of account 'a1', actual 2"}),
            (("a1", "Deposit", {"amount": "1"}),
             {"ok": False, "error": "invalid_payload", "reason": None,
              "message": "payload field 'amount' must be an integer, got string"}),
            (("a1", "Nope"),
             {"ok": False, "error": "unknown_command", "reason": None,
              "message": "aggregate type 'account' has no command 'Nope'"}),
            (("a1", "Deposit", {"amount": 1}, None, "nope"),
             {"ok": False, "error": "unknown_aggregate", "reason": None,
              "message": "no aggregate type 'nope' is registered on this connection"}),
            (("a1", "Deposit", {"amount": 1}, {"bogus": 1}),
             {"ok": False, "error": "invalid_argument", "reason": None,
              "message": "unknown option 'bogus' (known: expected_version, command_id, metadata)"}),
        ]
        before = list(c.iterdump())
        for args, expected in cases:
            with self.subTest(args=args):
                self.assertEqual(self.try_submit(c, *args), expected)
        self.assertFalse(c.in_transaction)
        self.assertEqual(list(c.iterdump()), before)

    def test_result_keys(self):
        c = self.connect()
        ok = self.try_submit(c, "a1", "OpenAccount", {"owner": "ada"})
        self.assertEqual(sorted(ok), ["events", "ok", "position", "version"])
        bad = self.try_submit(c, "a1", "OpenAccount", {"owner": "ada"})
        self.assertEqual(sorted(bad), ["error", "message", "ok", "reason"])
        self.assertEqual((bad["error"], bad["reason"]), ("rejected", "already_open"))


class State(EsCase):
    """es_state: the aggregate's state as JSON."""

    def test_state_json(self):
        c = self.connect()
        state = lambda agg_id: json.loads(c.execute("SELECT es_state('account', ?)", (agg_id,)).fetchone()[0])
        self.assertEqual(state("a1"), {"status": "none", "balance": 0})
        self.open_with_100(c)
        self.assertEqual(state("a1"), {"status": "open", "owner": "ada", "balance": 100})
        self.submit(c, "a1", "Withdraw", {"amount": 100})
        self.submit(c, "a1", "CloseAccount")
        self.assertEqual(state("a1"), {"status": "closed", "owner": "ada", "balance": 0})
        with self.assertRaises(sqlite3.OperationalError) as cm:
            c.execute("SELECT es_state('nope', 'a1')")
        self.assertSqliteError(cm, sqlite3.OperationalError,
                               "es: unknown_aggregate: no aggregate type 'nope' is registered on this connection",
                               1, "SQLITE_ERROR")

    def test_state_sees_other_connections_commits(self):
        a, b = self.connect(), self.connect()
        self.open_with_100(a)
        self.assertEqual(json.loads(b.execute("SELECT es_state('account','a1')").fetchone()[0])["balance"], 100)
        self.submit(a, "a1", "Deposit", {"amount": 11})
        self.assertEqual(json.loads(b.execute("SELECT es_state('account','a1')").fetchone()[0])["balance"], 111)
        self.assertEqual(self.submit(b, "a1", "Deposit", {"amount": 1}), 4)
        self.assertEqual(json.loads(a.execute("SELECT es_state('account','a1')").fetchone()[0])["balance"], 112)


class Loading(EsCase):
    """Loading rules: order, twice, per connection, and closing."""

    def test_bank_before_es_fails_with_a_hint(self):
        c = self.connect(extensions=())
        with self.assertRaises(sqlite3.OperationalError) as cm:
            load(c, BANK)
        self.assertEqual(str(cm.exception), "error during initialization: bank: load sqlite-es first (.load ./dist/es)")
        load(c, ES, BANK)  # the right order still works on the same connection
        self.assertEqual(self.submit(c, "a1", "OpenAccount", {"owner": "ada"}), 1)

    def test_loading_es_twice_keeps_registered_aggregates(self):
        c = self.connect()
        self.open_with_100(c)
        load(c, ES)
        self.assertEqual(c.execute("SELECT name FROM es_aggregates").fetchall(), [("account",)])
        self.assertEqual(self.submit(c, "a1", "Deposit", {"amount": 1}), 3)
        self.assertEqual(json.loads(c.execute("SELECT es_state('account', 'a1')").fetchone()[0])["balance"], 101)

    def test_each_connection_needs_its_own_load(self):
        a = self.connect()
        self.open_with_100(a)
        b = self.connect(extensions=())
        with self.assertRaises(sqlite3.OperationalError) as cm:
            self.submit(b, "a1", "Deposit", {"amount": 1})
        self.assertEqual(str(cm.exception), "no such function: es_submit")
        load(b, ES)
        with self.assertRaises(sqlite3.OperationalError) as cm:
            self.submit(b, "a1", "Deposit", {"amount": 1})
        self.assertEqual(str(cm.exception),
                         "es: unknown_aggregate: no aggregate type 'account' is registered on this connection")
        load(b, BANK)
        self.assertEqual(self.submit(b, "a1", "Deposit", {"amount": 1}), 3)
        self.assertEqual(self.submit(a, "a1", "Deposit", {"amount": 1}), 4)
        self.assertEqual(self.count(a), 4)

    def test_closing_after_use_does_not_raise(self):
        for i in range(20):
            c = sqlite3.connect(self.path)
            load(c, ES, BANK)
            if i == 0:
                self.assertEqual(self.submit(c, "a1", "OpenAccount", {"owner": "ada"}), 1)
            self.assertEqual(self.submit(c, "a1", "Deposit", {"amount": 1}), i + 2)
            self.try_submit(c, "a1", "Withdraw", {"amount": 10 ** 6})
            with self.assertRaises(sqlite3.IntegrityError):
                self.submit(c, "a1", "Withdraw", {"amount": 10 ** 6})
            c.execute("SELECT es_state('account', 'a1'), es_stream_version('account', 'a1')").fetchall()
            c.execute("SELECT * FROM es_stream('account', 'a1')").fetchall()
            if i % 2:  # leave Python's implicit transaction open: close() discards it
                c.execute("CREATE TABLE IF NOT EXISTS t(x)")
                c.execute("INSERT INTO t VALUES (1)")
                self.submit(c, "a1", "Deposit", {"amount": 1000})
                self.assertTrue(c.in_transaction)
            c.close()
        check = self.observer()
        self.assertEqual(check.execute("SELECT max(version), sum(json_extract(data, '$.amount'))"
                                       " FROM es_events").fetchone(), (21, 20))
        self.assertEqual(check.execute("PRAGMA integrity_check").fetchone()[0], "ok")

    def test_sqlite3_close_finds_no_unfinalized_statements(self):
        # Python closes with sqlite3_close_v2, which hides leftover statements. Plain sqlite3_close
        # (through ctypes, same system library) returns SQLITE_BUSY if the extension left any.
        name = ctypes.util.find_library("sqlite3")
        if not name:
            self.skipTest("libsqlite3 not found for ctypes")
        lib = ctypes.CDLL(name)
        vp, cp = ctypes.c_void_p, ctypes.c_char_p
        lib.sqlite3_open.argtypes = [cp, ctypes.POINTER(vp)]
        lib.sqlite3_enable_load_extension.argtypes = [vp, ctypes.c_int]
        lib.sqlite3_load_extension.argtypes = [vp, cp, cp, ctypes.POINTER(vp)]
        lib.sqlite3_exec.argtypes = [vp, cp, vp, vp, vp]
        lib.sqlite3_errmsg.argtypes = [vp]
        lib.sqlite3_errmsg.restype = cp
        lib.sqlite3_close.argtypes = [vp]
        lib.sqlite3_close_v2.argtypes = [vp]
        db = vp()
        self.assertEqual(lib.sqlite3_open(self.path.encode(), ctypes.byref(db)), 0)
        try:
            self.assertEqual(lib.sqlite3_enable_load_extension(db, 1), 0)
            for so in (ES, BANK):
                self.assertEqual(lib.sqlite3_load_extension(db, so.encode(), None, None), 0, lib.sqlite3_errmsg(db))
            sql = (b"SELECT es_submit('account','a1','OpenAccount','{\"owner\":\"ada\"}');"
                   b"SELECT es_try_submit('account','a1','Withdraw','{\"amount\":5}');"
                   b"SELECT es_state('account','a1'), es_stream_version('account','a1');"
                   b"SELECT * FROM es_stream('account','a1');"
                   b"BEGIN; SELECT es_submit('account','a1','Deposit','{\"amount\":5}'); COMMIT;")
            self.assertEqual(lib.sqlite3_exec(db, sql, None, None, None), 0, lib.sqlite3_errmsg(db))
        except BaseException:
            lib.sqlite3_close_v2(db)
            raise
        rc = lib.sqlite3_close(db)
        if rc != 0:
            lib.sqlite3_close_v2(db)
        self.assertEqual(rc, 0, "sqlite3_close: unfinalized statements left by the extension")
        self.assertEqual(self.count(self.observer()), 2)


class TrustedSchema(EsCase):
    """PRAGMA trusted_schema=OFF: the log's guard function is INNOCUOUS, es_submit is DIRECTONLY."""

    def test_submit_still_writes_with_trusted_schema_off(self):
        c = self.connect(isolation_level=None)
        c.execute("PRAGMA trusted_schema = OFF")
        self.assertEqual(c.execute("PRAGMA trusted_schema").fetchone()[0], 0)
        self.open_with_100(c)  # the first command creates the schema and its guard triggers
        self.assertEqual(self.submit(c, "a1", "Withdraw", {"amount": 40}), 3)
        self.assertEqual([r[4] for r in self.events(c)], ["AccountOpened", "Deposited", "Withdrawn"])
        # A second connection with trusted_schema OFF, on the existing schema.
        d = self.connect(isolation_level=None)
        d.execute("PRAGMA trusted_schema = OFF")
        self.assertEqual(self.submit(d, "a1", "Deposit", {"amount": 1}), 4)
        # and the guard still refuses a direct insert
        with self.assertRaises(sqlite3.IntegrityError) as cm:
            d.execute("INSERT INTO es_events(aggregate_type, aggregate_id, version, type, data, recorded_at)"
                      " VALUES ('account', 'a1', 5, 'Deposited', '{\"amount\":1}', 'now')")
        self.assertSqliteError(cm, sqlite3.IntegrityError,
                               "es: protected: es_events is the append-only event log: only es_submit() writes it",
                               1811, "SQLITE_CONSTRAINT_TRIGGER")
        self.assertEqual(self.count(d), 4)

    def test_view_calling_es_submit_is_refused_with_trusted_schema_off(self):
        c = self.connect(isolation_level=None)
        self.open_with_100(c)
        c.execute("PRAGMA trusted_schema = OFF")
        c.execute("CREATE VIEW v AS SELECT es_submit('account', 'a1', 'Deposit', '{\"amount\":1}') AS version")
        with self.assertRaises(sqlite3.OperationalError) as cm:
            c.execute("SELECT * FROM v").fetchall()
        self.assertSqliteError(cm, sqlite3.OperationalError, "unsafe use of es_submit()", 1, "SQLITE_ERROR")
        self.assertEqual(self.count(c), 2)


if __name__ == "__main__":
    unittest.main()
