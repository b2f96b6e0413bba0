"""Aggregates defined in SQL alone (issue 4), from Python's standard sqlite3 module (Debian's /usr/bin/python3).

(1) Equivalence: 10,000 seeded bank commands (many accounts; opens, deposits, withdrawals and closes with
rejections of every reason; invalid payloads: wrong types, missing fields, owners with NUL characters,
malformed JSON; conflicts through expected_version; command_id replays and reuses; invalid options;
unknown commands and aggregate types) are run with es_try_submit once against the C bank (dist/bank.so
and dist/bank_views.so) and once against the SQL bank (sql/bank_aggregate.sql and sql/bank_views.sql).
Every result JSON is identical byte for byte (the first difference is reported with its command), and
so are es_events, es_state of every account, account_balances and account_history.
(2) Batch: SELECT es_try_submit(...) FROM inbox inside BEGIN IMMEDIATE, with rejected rows in the middle,
leaves exactly the accepted commands' events (SQL bank); the application then moves the rows to an
outbox and an error table in the same transaction.
(3) A second connection that loads only dist/es finds the SQL aggregate (and the SQL views) in the
database and can submit.
(4) Redefining a decider (es_create_decider with another view), and the evolver, takes effect on the next
command, on the defining connection and on another one that was already open and had used the old one.
Run through tests/lang/python/run.py.
"""
import json
import os
import random
import sqlite3
import tempfile
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
DIST = os.environ.get("ES_DIST") or os.path.join(ROOT, "dist")
ES = os.path.join(DIST, "es.so")
BANK = os.path.join(DIST, "bank.so")
BANK_VIEWS = os.path.join(DIST, "bank_views.so")
AGGREGATE_SQL = os.path.join(ROOT, "sql", "bank_aggregate.sql")
VIEWS_SQL = os.path.join(ROOT, "sql", "bank_views.sql")

SEED = 4_2026_1128
N_COMMANDS = 10000
N_ACCOUNTS = 150
BATCH = 100
INT64_MAX = 2 ** 63 - 1

EVENTS_SQL = ("SELECT position, aggregate_type, aggregate_id, version, type, data, metadata, command_id"
              " FROM es_events ORDER BY position")
BALANCES_SQL = "SELECT account_id, owner, balance, status, events, last_version FROM account_balances ORDER BY account_id"
HISTORY_SQL = "SELECT position, account_id, type, amount, balance_after FROM account_history ORDER BY position"
REASONS = {"not_open", "account_closed", "invalid_amount", "already_open", "invalid_owner", "insufficient_funds",
           "balance_not_zero", "balance_overflow"}


def compact(value, ascii_only=True):
    return json.dumps(value, separators=(",", ":"), ensure_ascii=ascii_only)


def load(conn, *paths):
    conn.enable_load_extension(True)
    try:
        for p in paths:
            conn.load_extension(p)
    finally:
        conn.enable_load_extension(False)


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def typed(rows):
    """Rows with each value's Python type kept, so 1 and 1.0 or '1' and 1 do not compare equal."""
    return [tuple((type(v).__name__, v) for v in row) for row in rows]


def try_submit(conn, args):
    """The raw result text of es_try_submit, or a description of what it raised (never expected)."""
    try:
        return conn.execute("SELECT es_try_submit(%s)" % ",".join("?" * len(args)), args).fetchone()[0]
    except sqlite3.Error as e:
        return "raised %s: %s" % (type(e).__name__, e)


# Owners: (value, weight). Valid ones at the byte limits, with characters JSON must escape, and
# invalid ones: empty, too long in bytes, NUL inside (invalid payload), not strings.
OWNERS = [
    ("ada", 20), ("bob", 20), ("cy", 10), ("émile", 8), ("李雷", 5), ("o'neil \"the\" \\ bank/", 4),
    ("tab\there\nnewline", 3), ("".join(chr(i) for i in range(1, 32)) + "\x7f", 2), ("\u2028\u2029\ufeff", 2),
    ("\U0001F600" * 25, 2), ("é" * 50, 2), ("x" * 100, 2),  # exactly 100 bytes: accepted
    ("", 4), ("x" * 101, 3), ("é" * 51, 2), ("\U0001F600" * 26, 2),  # invalid_owner
    ("a\u0000b", 3), ("\u0000", 2), ("ada\u0000", 2),  # NUL: invalid_payload
    (5, 2), (None, 2), (True, 1), (["ada"], 1), ({"name": "ada"}, 1), (1.5, 1),  # wrong types
]
# Amounts that are not integers (each an invalid_payload), as raw JSON text of the field.
BAD_AMOUNTS = ['"5"', '5.5', 'null', 'true', '[5]', '{"v":5}', '9223372036854775808', '1e19', '-9223372036854775809']
# Amounts written as numbers that are integers all the same (accepted like the integer).
ODD_AMOUNTS = ['5.0', '1e2', '1.5e1', '100.000']
# Payloads or options that are not what they must be, and commands that do not exist.
MALFORMED = [
    ("account", "OpenAccount", "[1]", None), ("account", "Deposit", "nope", None),
    ("account", "Deposit", "null", None), ("account", "Deposit", '{"amount":1,"amount":2}', None),
    ("account", "OpenAccount", '"ada"', None), ("account", "Withdraw", '{"amount":1', None),
    ("account", "Deposit", '{"amount":1}', "[]"), ("account", "Deposit", '{"amount":1}', '{"bogus":1}'),
    ("account", "Deposit", '{"amount":1}', '{"expected_version":"bogus"}'),
    ("account", "Deposit", '{"amount":1}', '{"expected_version":-1}'),
    ("account", "Deposit", '{"amount":1}', '{"command_id":""}'),
    ("account", "Deposit", '{"amount":1}', '{"metadata":[1]}'),
    ("account", "Transfer", '{"amount":1}', None), ("account", "deposit", '{"amount":1}', None),
    ("account", "Close", "{}", None), ("Account", "Deposit", '{"amount":1}', None),
    ("bank", "OpenAccount", '{"owner":"ada"}', None),
]


class Workload:
    """Seeded bank commands. Each is chosen from a shadow of the accounts kept from the outcomes of
    the C bank, so amounts and expected versions are sometimes right and often wrong; the commands are
    recorded so that the SQL bank receives exactly the same ones."""

    def __init__(self, seed):
        self.rng = random.Random(seed)
        # The accounts in use; a closed one is replaced by a new one, and sometimes used again.
        self.accounts = ["acc-%04d" % i for i in range(N_ACCOUNTS - 4)] + ["Ünïcode-1", "o'brien", "a b", 'q"uote']
        self.n_accounts = N_ACCOUNTS - 4
        self.closed = []
        self.state = {}  # account -> [status, balance, version]
        self.sent_ids = []  # (command_id, args) of commands sent with a command_id
        self.next_id = 0

    def next(self):
        rng = self.rng
        if self.sent_ids and rng.random() < 0.03:
            command_id, args = rng.choice(self.sent_ids)
            if rng.random() < 0.8:
                return args  # the same command again: a replay (or the same refusal again)
            account = rng.choice(self.accounts)  # the same id on another command: refused if it was recorded
            return ("account", account, "Deposit", compact({"amount": 1}), compact({"command_id": command_id}))
        account = rng.choice(self.closed if self.closed and rng.random() < 0.06 else self.accounts)
        if rng.random() < 0.02:
            aggregate_type, command, payload, options = rng.choice(MALFORMED)
            args = (aggregate_type, account, command, payload)
            return args + (options,) if options is not None else args
        status, balance, version = self.state.get(account, ["none", 0, 0])
        r = rng.random()
        if status == "none" and r < 0.6 or r < 0.07:
            command = "OpenAccount"
            q = rng.random()
            if q < 0.04:
                payload = "{}"  # missing owner
            elif q < 0.07:
                payload = compact({"owner": "ada", "note": "extra fields are ignored"})
            else:
                owner = rng.choices([o for o, _ in OWNERS], weights=[w for _, w in OWNERS])[0]
                payload = compact({"owner": owner}, ascii_only=rng.random() < 0.5)
        elif r < 0.50 or r < 0.97:
            command = "Deposit" if r < 0.50 else "Withdraw"
            q = rng.random()
            if q < 0.04:
                payload = '{"amount":%s}' % rng.choice(BAD_AMOUNTS)
            elif q < 0.06:
                payload = rng.choice(["{}", '{"amt":5}'])  # missing amount
            elif q < 0.08:
                payload = '{"amount":%s}' % rng.choice(ODD_AMOUNTS)
            elif q < 0.14:
                payload = compact({"amount": rng.randint(-5, 0)})
            elif command == "Deposit":
                amount = rng.choices([rng.randint(1, 500), 2 ** 62, INT64_MAX - balance, INT64_MAX - balance + 1],
                                     weights=[90, 4, 2, 2])[0]
                payload = compact({"amount": amount})
            else:
                amount = rng.choices([rng.randint(1, 600), balance, balance + 1], weights=[55, 40, 5])[0]
                payload = compact({"amount": max(amount, 1)})
        else:
            command = "CloseAccount"
            payload = rng.choice(["{}", "{}", '{"reason":"moving"}'])
        if status == "open" and balance == 0 and rng.random() < 0.15:
            command, payload = "CloseAccount", "{}"  # empty accounts get closed, so account_closed happens
        options = {}
        if rng.random() < 0.10:
            options["expected_version"] = rng.choice(
                [version, version, version + 1, max(version - 1, 0), "no_stream", "exists", "any"])
        if rng.random() < 0.10:
            self.next_id += 1
            options["command_id"] = "cmd-%d" % self.next_id
        if rng.random() < 0.05:
            options["metadata"] = {"user": rng.choice(["u1", "ü2", "u\"3"]), "n": rng.randint(1, 9)}
        args = ("account", account, command, payload)
        if options:
            args += (compact(options, ascii_only=rng.random() < 0.5),)
        if "command_id" in options:
            self.sent_ids.append((options["command_id"], args))
        return args

    def observe(self, args, result):
        """Update the shadow from an accepted (and not replayed) command."""
        if not result["ok"] or result.get("duplicate"):
            return
        account, command, payload = args[1], args[2], json.loads(args[3])
        entry = self.state.setdefault(account, ["none", 0, 0])
        entry[2] = result["version"]
        if command == "OpenAccount":
            entry[0] = "open"
        elif command == "Deposit":
            entry[1] += int(payload["amount"])
        elif command == "Withdraw":
            entry[1] -= int(payload["amount"])
        elif command == "CloseAccount":
            entry[0] = "closed"
            self.accounts.remove(account)
            self.closed.append(account)
            self.accounts.append("acc-%04d" % self.n_accounts)
            self.n_accounts += 1


class SqlBankCase(unittest.TestCase):
    """A temporary directory per test; connections opened through connect() are closed at the end."""

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="es-py-sqlagg-")
        self.conns = []

    def tearDown(self):
        for c in self.conns:
            c.close()
        self.tmp.cleanup()

    def path(self, name):
        return os.path.join(self.tmp.name, name)

    def connect(self, name, extensions=(ES,)):
        c = sqlite3.connect(self.path(name), isolation_level=None)
        self.conns.append(c)
        load(c, *extensions)
        return c

    def sql_bank(self, name):
        """A connection to a new database with the bank defined in SQL (aggregate and views)."""
        c = self.connect(name)
        c.executescript(read(AGGREGATE_SQL))  # executescript cannot run the .read lines of sql/bank.sql
        c.executescript(read(VIEWS_SQL))
        return c

    @staticmethod
    def submit(c, account, command, payload, options=None):
        args = ["account", account, command, compact(payload)]
        if options is not None:
            args.append(compact(options))
        return json.loads(c.execute("SELECT es_try_submit(%s)" % ",".join("?" * len(args)), args).fetchone()[0])


class Equivalence(SqlBankCase):
    def test_c_and_sql_banks_give_identical_results_logs_states_and_views(self):
        c_db = self.connect("c.db", (ES, BANK, BANK_VIEWS))
        sql_db = self.sql_bank("sql.db")

        # The commands are chosen while the C bank runs them, in BEGIN IMMEDIATE batches.
        workload = Workload(SEED)
        commands, c_results = [], []
        for _ in range(0, N_COMMANDS, BATCH):
            c_db.execute("BEGIN IMMEDIATE")
            for _ in range(BATCH):
                args = workload.next()
                text = try_submit(c_db, args)
                self.assertFalse(text.startswith("raised"), "C bank: %r %s" % (args, text))
                workload.observe(args, json.loads(text))
                commands.append(args)
                c_results.append(text)
            c_db.execute("COMMIT")

        sql_results = []
        for start in range(0, N_COMMANDS, BATCH):
            sql_db.execute("BEGIN IMMEDIATE")
            sql_results.extend(try_submit(sql_db, args) for args in commands[start:start + BATCH])
            sql_db.execute("COMMIT")
        for i, (args, a, b) in enumerate(zip(commands, c_results, sql_results)):
            if a != b:
                self.fail("command %d is the first whose outcome differs: %r\n  C:   %s\n  SQL: %s" % (i + 1, args, a, b))
        self.assertEqual(len(sql_results), N_COMMANDS)

        # The workload is what it claims to be.
        results = [json.loads(t) for t in c_results]
        kinds = {}
        for r in results:
            key = "ok" if r["ok"] and not r.get("duplicate") else "duplicate" if r["ok"] else r["error"]
            kinds[key] = kinds.get(key, 0) + 1
        self.assertGreater(kinds.get("ok", 0), 3000, kinds)
        self.assertGreater(kinds.get("rejected", 0), 2000, kinds)
        self.assertGreater(kinds.get("invalid_payload", 0), 300, kinds)
        self.assertGreater(kinds.get("conflict", 0), 200, kinds)
        self.assertGreater(kinds.get("duplicate", 0), 50, kinds)
        self.assertGreater(kinds.get("invalid_argument", 0), 50, kinds)
        self.assertGreater(kinds.get("unknown_command", 0), 10, kinds)
        self.assertGreater(kinds.get("unknown_aggregate", 0), 10, kinds)
        reasons = {}
        for r in results:
            if not r["ok"] and r["error"] == "rejected":
                reasons[r["reason"]] = reasons.get(r["reason"], 0) + 1
        self.assertEqual(set(reasons), REASONS, reasons)
        self.assertTrue(all(n >= 50 for n in reasons.values()), reasons)
        messages = {r["message"] for r in results if not r["ok"] and r["error"] == "invalid_payload"}
        for m in ("payload field 'owner' must be a string without NUL characters, got string",
                  "payload field 'owner' is missing", "payload field 'owner' must be a string, got integer",
                  "payload field 'amount' must be an integer, got string",
                  "payload field 'amount' must be an integer, got 5.5", "payload field 'amount' is missing",
                  "payload must be a JSON object, got array"):
            self.assertIn(m, messages)

        # The same log: every column but the timestamp, positions included.
        events = c_db.execute(EVENTS_SQL).fetchall()
        self.assertEqual(len(events), sum(r["events"] for r in results if r["ok"] and not r.get("duplicate")))
        self.assertEqual([e[0] for e in events], list(range(1, len(events) + 1)))
        self.assertEqual(typed(sql_db.execute(EVENTS_SQL).fetchall()), typed(events))
        self.assertGreater(sum(1 for e in events if e[6] is not None), 100)  # metadata
        self.assertGreater(sum(1 for e in events if e[7] is not None), 300)  # command_id

        # The same state of every account, as es_state renders it (also the never opened ones).
        statuses = {}
        for account in sorted({args[1] for args in commands}):
            c_state = c_db.execute("SELECT es_state('account', ?)", (account,)).fetchone()[0]
            self.assertEqual(sql_db.execute("SELECT es_state('account', ?)", (account,)).fetchone()[0], c_state,
                             account)
            status = json.loads(c_state)["status"]
            statuses[status] = statuses.get(status, 0) + 1
        self.assertGreater(statuses.get("open", 0), 100, statuses)
        self.assertGreater(statuses.get("closed", 0), 100, statuses)
        self.assertGreater(statuses.get("none", 0), 5, statuses)

        # The same read models.
        for query in (BALANCES_SQL, HISTORY_SQL):
            c_rows = typed(c_db.execute(query).fetchall())
            self.assertEqual(typed(sql_db.execute(query).fetchall()), c_rows, query)
            self.assertGreater(len(c_rows), N_ACCOUNTS // 2)


class Batch(SqlBankCase):
    INBOX = [
        # (account, command, payload, options, expected result)
        ("a1", "OpenAccount", {"owner": "ada"}, None, {"ok": True, "version": 1, "position": 1, "events": 1}),
        ("a1", "Deposit", {"amount": 100}, None, {"ok": True, "version": 2, "position": 2, "events": 1}),
        ("a1", "Withdraw", {"amount": 500}, None,
         {"ok": False, "error": "rejected", "reason": "insufficient_funds", "message": "balance 100 is less than 500"}),
        ("a2", "Deposit", {"amount": 5}, None,
         {"ok": False, "error": "rejected", "reason": "not_open", "message": "the account is not open"}),
        ("a1", "Withdraw", {"amount": "40"}, None,
         {"ok": False, "error": "invalid_payload", "reason": None,
          "message": "payload field 'amount' must be an integer, got string"}),
        ("a1", "Withdraw", {"amount": 40}, None, {"ok": True, "version": 3, "position": 3, "events": 1}),
        ("a1", "Deposit", {"amount": 1}, {"expected_version": 1},
         {"ok": False, "error": "conflict", "reason": None, "message": "expected version 1 of account 'a1', actual 3"}),
        ("a1", "CloseAccount", {}, None,
         {"ok": False, "error": "rejected", "reason": "balance_not_zero",
          "message": "balance is 60; withdraw it before closing"}),
        ("a2", "OpenAccount", {"owner": ""}, None,
         {"ok": False, "error": "rejected", "reason": "invalid_owner", "message": "owner must be 1 to 100 bytes"}),
        ("a2", "OpenAccount", {"owner": "b\u0000b"}, None,
         {"ok": False, "error": "invalid_payload", "reason": None,
          "message": "payload field 'owner' must be a string without NUL characters, got string"}),
        ("a2", "OpenAccount", {"owner": "bob"}, {"command_id": "open-a2"},
         {"ok": True, "version": 1, "position": 4, "events": 1}),
        ("a2", "OpenAccount", {"owner": "bob"}, {"command_id": "open-a2"},
         {"ok": True, "version": 1, "position": 4, "events": 0, "duplicate": True}),
        ("a1", "Frobnicate", {}, None,
         {"ok": False, "error": "unknown_command", "reason": None,
          "message": "aggregate type 'account' has no command 'Frobnicate'"}),
        ("a1", "Withdraw", {"amount": 60}, None, {"ok": True, "version": 4, "position": 5, "events": 1}),
        ("a1", "CloseAccount", {}, None, {"ok": True, "version": 5, "position": 6, "events": 1}),
        ("a1", "Deposit", {"amount": 1}, None,
         {"ok": False, "error": "rejected", "reason": "account_closed", "message": "the account is closed"}),
        ("a2", "Deposit", {"amount": 7}, {"metadata": {"batch": 1}},
         {"ok": True, "version": 2, "position": 7, "events": 1}),
    ]

    def test_a_batch_with_rejections_in_the_middle_keeps_exactly_the_accepted_commands(self):
        c = self.sql_bank("batch.db")
        c.executescript("""
            CREATE TABLE inbox(id INTEGER PRIMARY KEY, account TEXT NOT NULL, command TEXT NOT NULL,
                               payload TEXT NOT NULL, options TEXT);
            CREATE TABLE outbox(id INTEGER PRIMARY KEY, account TEXT NOT NULL, version INTEGER NOT NULL);
            CREATE TABLE failed(id INTEGER PRIMARY KEY, account TEXT NOT NULL, error TEXT NOT NULL, message TEXT NOT NULL);
        """)
        c.executemany("INSERT INTO inbox(account, command, payload, options) VALUES (?, ?, ?, ?)",
                      [(a, cmd, compact(p), compact(o) if o is not None else None) for a, cmd, p, o, _ in self.INBOX])
        c.execute("BEGIN IMMEDIATE")
        rows = c.execute("SELECT id, account, es_try_submit('account', account, command, payload, options)"
                         " FROM inbox ORDER BY id").fetchall()
        self.assertTrue(c.in_transaction)
        self.assertEqual([(i, json.loads(r)) for i, _, r in rows],
                         [(i + 1, row[4]) for i, row in enumerate(self.INBOX)])
        # The application moves each row to the outbox or the error table, in the same transaction.
        for i, account, text in rows:
            r = json.loads(text)
            if r["ok"]:
                c.execute("INSERT INTO outbox VALUES (?, ?, ?)", (i, account, r["version"]))
            else:
                c.execute("INSERT INTO failed VALUES (?, ?, ?, ?)", (i, account, r["error"], r["message"]))
            c.execute("DELETE FROM inbox WHERE id = ?", (i,))
        c.execute("COMMIT")

        self.assertEqual(c.execute("SELECT position, aggregate_id, version, type, data, metadata, command_id"
                                   " FROM es_events ORDER BY position").fetchall(), [
            (1, "a1", 1, "AccountOpened", '{"owner":"ada"}', None, None),
            (2, "a1", 2, "Deposited", '{"amount":100}', None, None),
            (3, "a1", 3, "Withdrawn", '{"amount":40}', None, None),
            (4, "a2", 1, "AccountOpened", '{"owner":"bob"}', None, "open-a2"),
            (5, "a1", 4, "Withdrawn", '{"amount":60}', None, None),
            (6, "a1", 5, "AccountClosed", "{}", None, None),
            (7, "a2", 2, "Deposited", '{"amount":7}', '{"batch":1}', None),
        ])
        self.assertEqual(c.execute("SELECT es_state('account', 'a1'), es_state('account', 'a2')").fetchone(),
                         ('{"status":"closed","owner":"ada","balance":0}', '{"status":"open","owner":"bob","balance":7}'))
        self.assertEqual(c.execute(BALANCES_SQL).fetchall(), [("a1", "ada", 0, "closed", 5, 5), ("a2", "bob", 7, "open", 2, 2)])
        self.assertEqual(c.execute(HISTORY_SQL).fetchall(), [
            (1, "a1", "AccountOpened", None, 0), (2, "a1", "Deposited", 100, 100), (3, "a1", "Withdrawn", 40, 60),
            (4, "a2", "AccountOpened", None, 0), (5, "a1", "Withdrawn", 60, 0), (6, "a1", "AccountClosed", None, 0),
            (7, "a2", "Deposited", 7, 7)])
        self.assertEqual(c.execute("SELECT count(*) FROM inbox").fetchone()[0], 0)
        self.assertEqual(c.execute("SELECT id, version FROM outbox ORDER BY id").fetchall(),
                         [(1, 1), (2, 2), (6, 3), (11, 1), (12, 1), (14, 4), (15, 5), (17, 2)])
        self.assertEqual([r[0] for r in c.execute("SELECT id FROM failed ORDER BY id")],
                         [3, 4, 5, 7, 8, 9, 10, 13, 16])
        self.assertEqual(c.execute("SELECT count(*) FROM es_commands").fetchone()[0], 1)  # the command_id


class Definitions(SqlBankCase):
    def test_a_connection_with_only_es_loaded_finds_the_sql_aggregate_in_the_database(self):
        definer = self.sql_bank("shared.db")
        self.assertEqual(self.submit(definer, "a1", "OpenAccount", {"owner": "ada"}),
                         {"ok": True, "version": 1, "position": 1, "events": 1})
        other = self.connect("shared.db")  # es only: no bank.so, no script
        self.assertEqual(other.execute("SELECT es_state('account', 'a1')").fetchone()[0],
                         '{"status":"open","owner":"ada","balance":0}')
        self.assertEqual(self.submit(other, "a1", "Deposit", {"amount": 30}),
                         {"ok": True, "version": 2, "position": 2, "events": 1})
        self.assertEqual(self.submit(other, "a1", "Withdraw", {"amount": 31}),
                         {"ok": False, "error": "rejected", "reason": "insufficient_funds",
                          "message": "balance 30 is less than 31"})
        self.assertEqual(self.submit(other, "a2", "OpenAccount", {"owner": 7}),
                         {"ok": False, "error": "invalid_payload", "reason": None,
                          "message": "payload field 'owner' must be a string, got integer"})
        self.assertEqual(self.submit(other, "a2", "OpenAccount", {"owner": "bob"}),
                         {"ok": True, "version": 1, "position": 3, "events": 1})
        with self.assertRaises(sqlite3.IntegrityError) as cm:
            other.execute("SELECT es_submit('account', 'a2', 'Withdraw', '{\"amount\":1}')").fetchone()
        self.assertEqual(str(cm.exception), "es: rejected (insufficient_funds): balance 0 is less than 1")
        # The views are stored in the database too: both connections see them maintained.
        for c in (definer, other):
            self.assertEqual(c.execute(BALANCES_SQL).fetchall(),
                             [("a1", "ada", 30, "open", 2, 2), ("a2", "bob", 0, "open", 1, 1)])
            self.assertEqual(c.execute("SELECT es_state('account', 'a1')").fetchone()[0],
                             '{"status":"open","owner":"ada","balance":30}')
        # And the defining connection sees what the other one appended.
        self.assertEqual(self.submit(definer, "a1", "Deposit", {"amount": 1}),
                         {"ok": True, "version": 3, "position": 4, "events": 1})

    def test_a_connection_opened_before_the_definitions_finds_them(self):
        early = self.connect("early.db")
        self.assertEqual(self.submit(early, "a1", "OpenAccount", {"owner": "ada"}),
                         {"ok": False, "error": "unknown_aggregate", "reason": None,
                          "message": "no aggregate type 'account' is registered on this connection"})
        self.sql_bank("early.db")
        self.assertEqual(self.submit(early, "a1", "OpenAccount", {"owner": "ada"}),
                         {"ok": True, "version": 1, "position": 1, "events": 1})
        self.assertEqual(early.execute(BALANCES_SQL).fetchall(), [("a1", "ada", 0, "open", 1, 1)])

    def test_redefining_a_decider_or_the_evolver_takes_effect_on_the_next_command_on_every_connection(self):
        definer = self.sql_bank("redef.db")
        other = self.connect("redef.db")
        self.assertEqual(self.submit(other, "a1", "OpenAccount", {"owner": "ada"})["version"], 1)
        self.assertEqual(self.submit(other, "a1", "Deposit", {"amount": 100})["version"], 2)  # old decider used
        self.assertEqual(self.submit(definer, "a1", "Deposit", {"amount": 1})["version"], 3)

        # A new Deposit decider: at most 50 per deposit, its own reason and messages, and two events per
        # command (the amount, then a bonus of 1).
        definer.executescript("""
            CREATE VIEW account_deposit_v2 AS
              SELECT 'Deposited' AS type, json_object('amount', es_payload_int('amount')) AS data
              FROM es_command
              WHERE es_require(state ->> 'status' = 'open', 'not_open', 'v2: the account is not open')
                AND es_require(es_payload_int('amount') BETWEEN 1 AND 50, 'over_limit',
                               'v2: at most 50 per deposit, got ' || es_payload_int('amount'))
              UNION ALL
              SELECT 'Deposited', json_object('amount', 1, 'bonus', 1) FROM es_command;
        """)
        self.assertEqual(definer.execute("SELECT es_create_decider('account', 'Deposit', 'account_deposit_v2')")
                         .fetchone()[0], 1)
        over = {"ok": False, "error": "rejected", "reason": "over_limit", "message": "v2: at most 50 per deposit, got 60"}
        for c, version in ((definer, 5), (other, 7)):
            self.assertEqual(self.submit(c, "a1", "Deposit", {"amount": 60}), over)
            self.assertEqual(self.submit(c, "a1", "Deposit", {"amount": 10}),
                             {"ok": True, "version": version, "position": version, "events": 2})
        self.assertEqual(self.submit(other, "a9", "Deposit", {"amount": 10}),
                         {"ok": False, "error": "rejected", "reason": "not_open", "message": "v2: the account is not open"})
        self.assertEqual(other.execute("SELECT version, type, data FROM es_events WHERE position > 3 ORDER BY position")
                         .fetchall(), [(4, "Deposited", '{"amount":10}'), (5, "Deposited", '{"amount":1,"bonus":1}'),
                                       (6, "Deposited", '{"amount":10}'), (7, "Deposited", '{"amount":1,"bonus":1}')])
        # Other commands still use their own deciders.
        self.assertEqual(self.submit(other, "a1", "Withdraw", {"amount": 1000}),
                         {"ok": False, "error": "rejected", "reason": "insufficient_funds",
                          "message": "balance 123 is less than 1000"})

        # Back to the original view: on both connections at once.
        self.assertEqual(other.execute("SELECT es_create_decider('account', 'Deposit', 'account_deposit')")
                         .fetchone()[0], 1)
        for c, version in ((other, 8), (definer, 9)):
            self.assertEqual(self.submit(c, "a1", "Deposit", {"amount": 60}),
                             {"ok": True, "version": version, "position": version, "events": 1})

        # A new evolver changes the state of the existing log at once, for every connection: this one
        # ignores deposits smaller than 5.
        definer.executescript("""
            CREATE VIEW account_evolve_v2 AS
              SELECT CASE WHEN type = 'Deposited' AND (data ->> 'amount') < 5 THEN state
                          ELSE (SELECT state FROM account_evolve) END AS state
              FROM es_event;
            SELECT es_create_evolver('account', 'account_evolve_v2');
        """)
        for c in (definer, other):
            self.assertEqual(c.execute("SELECT es_state('account', 'a1')").fetchone()[0],
                             '{"status":"open","owner":"ada","balance":240}')
        self.assertEqual(self.submit(other, "a1", "Withdraw", {"amount": 241}),
                         {"ok": False, "error": "rejected", "reason": "insufficient_funds",
                          "message": "balance 240 is less than 241"})
        # The read models are not aggregates: they still count every deposit.
        self.assertEqual(other.execute("SELECT balance FROM account_balances WHERE account_id = 'a1'").fetchone()[0], 243)
        self.assertEqual(definer.execute("SELECT name, kind, view FROM es_sql_handlers"
                                         " WHERE aggregate = 'account' ORDER BY kind, name").fetchall(), [
            ("CloseAccount", "decide", "account_close"), ("Deposit", "decide", "account_deposit"),
            ("OpenAccount", "decide", "account_open_account"), ("Withdraw", "decide", "account_withdraw"),
            ("", "evolve", "account_evolve_v2")])


if __name__ == "__main__":
    unittest.main()
