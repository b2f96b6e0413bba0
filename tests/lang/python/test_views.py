"""Read models (issue 3) from Python's standard sqlite3 module (Debian's /usr/bin/python3).

(1) 10,000 seeded random bank commands (about 50 accounts; opens, deposits, withdrawals and closes,
many of them rejected, some with a wrong expected_version, some command_id replays and misuses),
submitted with es_try_submit in BEGIN IMMEDIATE batches to a database with the bank's C views
(dist/bank_views.so), one with its SQL views (sql/bank_views.sql) and one with none: the
outcomes and the logs are identical; account_balances and account_history equal a fold of es_events
written here in Python (never reading the view tables); es_rebuild gives the identical table; the
C and SQL tables are identical; and views defined after all the events (SQL and C, on copies of the
database without views) give identical tables too.
(2) A failing handler leaves no event and no change anywhere (conn.iterdump() before and after).
(3) A view ignores the event types it does not handle: total_changes() shows no row of its table
touched, and its position in es_projections still advances.
(4) A C view the database knows but the connection has not registered: es_submit raises
unknown_view (OperationalError) with its exact message; es_drop_view makes the database forget it.
Run through tests/lang/python/run.py.
"""
import json
import os
import random
import shutil
import sqlite3
import tempfile
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
DIST = os.environ.get("ES_DIST") or os.path.join(ROOT, "dist")
ES = os.path.join(DIST, "es.so")
BANK = os.path.join(DIST, "bank.so")
BANK_VIEWS = os.path.join(DIST, "bank_views.so")
VIEWS_SQL = os.path.join(ROOT, "sql", "bank_views.sql")

SEED = 20261128
N_COMMANDS = 10000
N_ACCOUNTS = 50
BATCH = 100

BALANCES_SQL = "SELECT account_id, owner, balance, status, events, last_version FROM account_balances ORDER BY account_id"
HISTORY_SQL = "SELECT position, account_id, type, amount, balance_after FROM account_history ORDER BY position"
EVENTS_SQL = ("SELECT position, aggregate_type, aggregate_id, version, type, data, metadata, command_id"
              " FROM es_events ORDER BY position")
UNKNOWN_VIEW_MSG = ("es: unknown_view: view '%s' is a C view that is not registered on this connection: load the"
                    " extension that defines it, or forget it with SELECT es_drop_view('%s')")
SQLITE_ERROR = 1
SQLITE_CONSTRAINT_TRIGGER = 1811


def compact(value):
    return json.dumps(value, separators=(",", ":"))


def load(conn, *paths):
    conn.enable_load_extension(True)
    try:
        for p in paths:
            conn.load_extension(p)
    finally:
        conn.enable_load_extension(False)


def typed(rows):
    """Rows with each value's Python type kept, so 1 and 1.0 or '1' and 1 do not compare equal."""
    return [tuple((type(v).__name__, v) for v in row) for row in rows]


def fold(events):
    """The two bank read models computed from the log alone: (balances rows, history rows), ordered
    like BALANCES_SQL and HISTORY_SQL. events: rows of EVENTS_SQL."""
    accounts = {}
    last_balance = {}
    history = []
    for position, aggregate_type, account, version, type_, data, _metadata, _command_id in events:
        if aggregate_type != "account":
            continue
        body = json.loads(data)
        amount = body["amount"] if type_ in ("Deposited", "Withdrawn") else None
        if type_ == "AccountOpened":
            accounts[account] = [account, body["owner"], 0, "open", 1, version]
        else:
            row = accounts[account]
            if type_ == "Deposited":
                row[2] += amount
            elif type_ == "Withdrawn":
                row[2] -= amount
            elif type_ == "AccountClosed":
                row[3] = "closed"
            else:
                raise AssertionError("unexpected event type %r" % type_)
            row[4] += 1
            row[5] = version
        balance = last_balance.get(account, 0)
        balance += amount if type_ == "Deposited" else -amount if type_ == "Withdrawn" else 0
        last_balance[account] = balance
        history.append((position, account, type_, amount, balance))
    balances = [tuple(accounts[k]) for k in sorted(accounts)]
    return balances, history


class Workload:
    """Seeded random bank commands. Each is chosen from a shadow of the accounts kept from the
    outcomes (so amounts and expected versions are sometimes right, often wrong); the list of
    commands is recorded so that other databases receive exactly the same ones."""

    def __init__(self, seed):
        self.rng = random.Random(seed)
        self.accounts = ["acc-%02d" % i for i in range(N_ACCOUNTS)]
        self.state = {}  # account -> [status, balance, version]
        self.sent_ids = []  # (command_id, args) of commands sent with a command_id
        self.next_id = 0

    def next(self):
        rng = self.rng
        if self.sent_ids and rng.random() < 0.03:
            command_id, args = rng.choice(self.sent_ids)
            if rng.random() < 0.8:
                return args  # the same command again: a replay
            account = rng.choice(self.accounts)  # the same id on another command: refused if it was recorded
            return ("account", account, "Deposit", compact({"amount": 1}), compact({"command_id": command_id}))
        account = rng.choice(self.accounts)
        status, balance, version = self.state.get(account, ["none", 0, 0])
        r = rng.random()
        if status == "none" and r < 0.6 or r < 0.08:
            owner = rng.choice(["ada", "bob", "cy", "dee", "", "x" * 101, "émile"])
            command, payload = "OpenAccount", {"owner": owner}
        elif r < 0.50:
            amount = rng.choices([rng.randint(1, 200), rng.randint(-5, 0), 2 ** 62], weights=[90, 6, 4])[0]
            command, payload = "Deposit", {"amount": amount}
        elif r < 0.99:
            amount = rng.choices([rng.randint(1, 300), max(balance, 1), rng.randint(-3, 0)], weights=[60, 32, 8])[0]
            command, payload = "Withdraw", {"amount": amount}
        else:
            command, payload = "CloseAccount", {}
        options = {}
        if rng.random() < 0.10:
            options["expected_version"] = rng.choice(
                [version, version, version + 1, max(version - 1, 0), "no_stream", "exists"])
        if rng.random() < 0.10:
            self.next_id += 1
            options["command_id"] = "cmd-%d" % self.next_id
        args = ("account", account, command, compact(payload))
        if options:
            args += (compact(options),)
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
            entry[1] += payload["amount"]
        elif command == "Withdraw":
            entry[1] -= payload["amount"]
        elif command == "CloseAccount":
            entry[0] = "closed"


def try_submit(conn, args):
    sql = "SELECT es_try_submit(%s)" % ",".join("?" * len(args))
    return json.loads(conn.execute(sql, args).fetchone()[0])


def run_commands(conn, commands):
    """Submit commands (a list of argument tuples) in BEGIN IMMEDIATE batches; the outcomes."""
    results = []
    for start in range(0, len(commands), BATCH):
        conn.execute("BEGIN IMMEDIATE")
        for args in commands[start:start + BATCH]:
            results.append(try_submit(conn, args))
        conn.execute("COMMIT")
    return results


class ViewsCase(unittest.TestCase):
    """A temporary directory per test; connections opened through connect() are closed at the end."""

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="es-py-views-")
        self.conns = []

    def tearDown(self):
        for c in self.conns:
            c.close()
        self.tmp.cleanup()

    def path(self, name):
        return os.path.join(self.tmp.name, name)

    def connect(self, name, extensions=(ES, BANK), sql_views=False):
        c = sqlite3.connect(self.path(name), isolation_level=None)
        self.conns.append(c)
        if extensions:
            load(c, *extensions)
        if sql_views:
            with open(VIEWS_SQL, encoding="utf-8") as f:
                c.executescript(f.read())
        return c

    def close(self, c):
        self.conns.remove(c)
        c.close()

    @staticmethod
    def submit(c, agg_id, command, payload=None, options=None):
        args = ["account", agg_id, command, compact(payload if payload is not None else {})]
        if options is not None:
            args.append(compact(options))
        return c.execute("SELECT es_submit(%s)" % ",".join("?" * len(args)), args).fetchone()[0]

    def assertSqliteError(self, cm, cls, message, code, name):
        e = cm.exception
        self.assertIs(type(e), cls, "%s: %s" % (type(e).__name__, e))
        self.assertEqual(str(e), message)
        if hasattr(e, "sqlite_errorcode"):
            self.assertEqual((e.sqlite_errorcode, e.sqlite_errorname), (code, name))

    def assertViewsMatchLog(self, c, label):
        """Both bank views equal the Python fold of es_events; es_projections is at the end of the log."""
        events = c.execute(EVENTS_SQL).fetchall()
        balances, history = fold(events)
        self.assertEqual(typed(c.execute(BALANCES_SQL).fetchall()), typed(balances), label + ": account_balances")
        self.assertEqual(typed(c.execute(HISTORY_SQL).fetchall()), typed(history), label + ": account_history")
        end = events[-1][0] if events else 0
        self.assertEqual(c.execute("SELECT name, position, lag FROM es_projections ORDER BY name").fetchall(),
                         [("account_balances", end, 0), ("account_history", end, 0)], label + ": es_projections")
        return balances, history

    def assertRebuildIdentical(self, c, label):
        """es_rebuild of each view applies every account event and gives back the identical table."""
        n_events = c.execute("SELECT count(*) FROM es_events WHERE aggregate_type = 'account'").fetchone()[0]
        for view, query in (("account_balances", BALANCES_SQL), ("account_history", HISTORY_SQL)):
            before = typed(c.execute(query).fetchall())
            self.assertEqual(c.execute("SELECT es_rebuild(?)", (view,)).fetchone()[0], n_events, label + ": " + view)
            self.assertEqual(typed(c.execute(query).fetchall()), before, label + ": rebuilt " + view)


class RandomCommands(ViewsCase):
    def test_views_equal_the_fold_of_the_log_in_c_and_sql_defined_before_or_after(self):
        c_db = self.connect("c.db", (ES, BANK, BANK_VIEWS))
        sql_db = self.connect("sql.db", sql_views=True)
        plain = self.connect("plain.db")

        # The commands are chosen while the C database runs them, then replayed elsewhere.
        workload = Workload(SEED)
        commands, c_results = [], []
        for start in range(0, N_COMMANDS, BATCH):
            c_db.execute("BEGIN IMMEDIATE")
            for _ in range(BATCH):
                args = workload.next()
                result = try_submit(c_db, args)
                workload.observe(args, result)
                commands.append(args)
                c_results.append(result)
            c_db.execute("COMMIT")
        self.assertEqual(run_commands(sql_db, commands), c_results)
        self.assertEqual(run_commands(plain, commands), c_results)

        # The workload is what it claims to be: many accepted and rejected, conflicts, replays, misuses.
        kinds = {}
        for r in c_results:
            key = "ok" if r["ok"] and not r.get("duplicate") else "duplicate" if r["ok"] else r["error"]
            kinds[key] = kinds.get(key, 0) + 1
        reasons = {r["reason"] for r in c_results if not r["ok"] and r["error"] == "rejected"}
        self.assertGreater(kinds.get("ok", 0), 2000, kinds)
        self.assertGreater(kinds.get("rejected", 0), 2000, kinds)
        self.assertGreater(kinds.get("conflict", 0), 50, kinds)
        self.assertGreater(kinds.get("duplicate", 0), 20, kinds)
        self.assertGreater(kinds.get("invalid_argument", 0), 5, kinds)
        self.assertEqual(reasons, {"not_open", "account_closed", "invalid_amount", "already_open", "invalid_owner",
                                   "insufficient_funds", "balance_not_zero", "balance_overflow"})

        events = c_db.execute(EVENTS_SQL).fetchall()
        self.assertEqual(len(events), kinds["ok"])
        positions = [e[0] for e in events]
        self.assertEqual(positions, list(range(1, len(events) + 1)))

        # The same log everywhere (type, data, aggregate, version, and the rest but the timestamp).
        self.assertEqual(sql_db.execute(EVENTS_SQL).fetchall(), events)
        self.assertEqual(plain.execute(EVENTS_SQL).fetchall(), events)

        # Each view equals the fold of its log; es_rebuild gives the identical table; C equals SQL.
        c_tables = self.assertViewsMatchLog(c_db, "C views")
        sql_tables = self.assertViewsMatchLog(sql_db, "SQL views")
        self.assertEqual(c_tables, sql_tables)
        self.assertGreater(len(c_tables[0]), N_ACCOUNTS // 2)
        self.assertEqual(len(c_tables[1]), len(events))
        self.assertRebuildIdentical(c_db, "C views")
        self.assertRebuildIdentical(sql_db, "SQL views")
        for query in (BALANCES_SQL, HISTORY_SQL):
            self.assertEqual(typed(c_db.execute(query).fetchall()), typed(sql_db.execute(query).fetchall()))

        # Views defined after all the events, on copies of the database that had none.
        self.assertEqual(plain.execute("SELECT count(*) FROM sqlite_schema WHERE name = 'es_views'").fetchone()[0], 0)
        self.close(plain)
        for name in ("after_sql.db", "after_c.db"):
            shutil.copyfile(self.path("plain.db"), self.path(name))
        after_sql = self.connect("after_sql.db", sql_views=True)
        after_c = self.connect("after_c.db", (ES, BANK, BANK_VIEWS))
        for c, label in ((after_sql, "SQL views defined after"), (after_c, "C views defined after")):
            self.assertEqual(self.assertViewsMatchLog(c, label), c_tables)
            for query in (BALANCES_SQL, HISTORY_SQL):
                self.assertEqual(typed(c.execute(query).fetchall()), typed(c_db.execute(query).fetchall()), label)
        # Defining them returned the number of events fed: every account event.
        self.assertEqual(after_sql.execute("SELECT es_create_view('account_history', 'account_history_feed')")
                         .fetchone()[0], len(events))

        # The views go on from there: one more command updates all six databases alike.
        for c in (c_db, sql_db, after_sql, after_c):
            self.assertEqual(try_submit(c, ("account", "acc-new", "OpenAccount", compact({"owner": "zed"}))),
                             {"ok": True, "version": 1, "position": len(events) + 1, "events": 1})
            self.assertViewsMatchLog(c, "after one more command")


class FailingHandler(ViewsCase):
    def setUp(self):
        super().setUp()
        self.c = self.connect("fail.db", sql_views=True)
        self.submit(self.c, "a1", "OpenAccount", {"owner": "ada"})
        self.submit(self.c, "a1", "Deposit", {"amount": 100})
        self.c.executescript("""
            CREATE TABLE audit(position INTEGER PRIMARY KEY, type TEXT NOT NULL);
            CREATE VIEW audit_feed AS SELECT position, type FROM es_events;
            CREATE TRIGGER audit_on_event INSTEAD OF INSERT ON audit_feed WHEN NEW.type <> 'Withdrawn' BEGIN
              INSERT INTO audit VALUES (NEW.position, NEW.type);
            END;
            SELECT es_create_view('audit', 'audit_feed');
        """)

    def handler(self, body):
        self.c.execute("DROP TRIGGER IF EXISTS audit_on_withdrawn")
        self.c.execute("CREATE TRIGGER audit_on_withdrawn INSTEAD OF INSERT ON audit_feed"
                       " WHEN NEW.type = 'Withdrawn' BEGIN %s END" % body)

    def assertCommandFailsAndChangesNothing(self, cls, message, code, name):
        before = list(self.c.iterdump())
        for fn in ("es_submit", "es_try_submit"):
            with self.assertRaises(sqlite3.Error) as cm:
                self.c.execute("SELECT %s('account', 'a1', 'Withdraw', '{\"amount\":10}', '{\"command_id\":\"w-1\"}')"
                               % fn).fetchone()
            self.assertSqliteError(cm, cls, message, code, name)
        self.assertEqual(list(self.c.iterdump()), before)
        self.assertFalse(self.c.in_transaction)
        # Inside the caller's transaction, after an accepted Deposit: the Deposit is kept, alone.
        self.c.execute("BEGIN IMMEDIATE")
        self.assertEqual(self.submit(self.c, "a1", "Deposit", {"amount": 1}), 3)
        with self.assertRaises(sqlite3.Error) as cm:
            self.submit(self.c, "a1", "Withdraw", {"amount": 10})
        self.assertSqliteError(cm, cls, message.replace("position 3", "position 4").replace("version 3", "version 4"),
                               code, name)
        self.assertTrue(self.c.in_transaction)
        self.c.execute("COMMIT")
        self.assertEqual(self.c.execute("SELECT max(position), count(*) FROM es_events").fetchone(), (3, 3))
        self.assertEqual(self.c.execute("SELECT count(*) FROM es_commands").fetchone()[0], 0)
        self.assertEqual(self.c.execute("SELECT balance, events FROM account_balances").fetchone(), (101, 3))
        self.assertEqual(self.c.execute("SELECT max(position) FROM audit").fetchone()[0], 3)
        self.check_views_at_position_3()

    def check_views_at_position_3(self):
        self.assertEqual(self.c.execute("SELECT name, position, lag FROM es_projections ORDER BY name").fetchall(),
                         [("account_balances", 3, 0), ("account_history", 3, 0), ("audit", 3, 0)])
        balances, history = fold(self.c.execute(EVENTS_SQL).fetchall())
        self.assertEqual(self.c.execute(BALANCES_SQL).fetchall(), balances)
        self.assertEqual(self.c.execute(HISTORY_SQL).fetchall(), history)

    def test_raise_abort(self):
        self.handler("SELECT RAISE(ABORT, 'withdrawals are not audited');")
        self.assertCommandFailsAndChangesNothing(
            sqlite3.IntegrityError,
            "es: storage: view 'audit' failed on event 'Withdrawn' (position 3, account 'a1' version 3): applying events:"
            " withdrawals are not audited (1811)", SQLITE_CONSTRAINT_TRIGGER, "SQLITE_CONSTRAINT_TRIGGER")

    def test_writing_another_views_table(self):
        self.handler("UPDATE account_balances SET balance = 0;")
        self.assertCommandFailsAndChangesNothing(
            sqlite3.IntegrityError,
            "es: protected: view 'audit' failed on event 'Withdrawn' (position 3, account 'a1' version 3):"
            " account_balances is a read model: only its view handlers write it, from the events in es_events"
            " (rebuild it with SELECT es_rebuild('account_balances'))",
            SQLITE_CONSTRAINT_TRIGGER, "SQLITE_CONSTRAINT_TRIGGER")

    def test_writing_the_log(self):
        self.handler("INSERT INTO es_events(aggregate_type, aggregate_id, version, type, data, recorded_at)"
                     " VALUES ('account', 'a9', 1, 'AccountOpened', '{\"owner\":\"eve\"}', '2020-01-01T00:00:00.000Z');")
        self.assertCommandFailsAndChangesNothing(
            sqlite3.IntegrityError,
            "es: protected: view 'audit' failed on event 'Withdrawn' (position 3, account 'a1' version 3):"
            " es_events is the append-only event log: only es_submit() writes it",
            SQLITE_CONSTRAINT_TRIGGER, "SQLITE_CONSTRAINT_TRIGGER")


class UnhandledEventTypes(ViewsCase):
    def test_a_view_of_deposits_is_not_touched_by_other_events(self):
        # Two databases receive the same commands; one has a view of Deposited events only. The
        # difference in total_changes() per command is that view's doing: its table's row for a
        # Deposited event; nothing for the other types (a view keeps no position of its own: every
        # view is at the last position given, es_projections says).
        with_view = self.connect("with.db")
        without = self.connect("without.db")
        with_view.executescript("""
            CREATE TABLE deposits(position INTEGER PRIMARY KEY, account_id TEXT NOT NULL, amount INTEGER NOT NULL);
            CREATE VIEW deposits_feed AS
              SELECT position, type, aggregate_id AS account_id, data ->> 'amount' AS amount FROM es_events;
            CREATE TRIGGER deposits_on_deposited INSTEAD OF INSERT ON deposits_feed WHEN NEW.type = 'Deposited' BEGIN
              INSERT INTO deposits VALUES (NEW.position, NEW.account_id, NEW.amount);
            END;
            SELECT es_create_view('deposits', 'deposits_feed');
        """)
        without.execute("SELECT es_submit('account', 'x', 'OpenAccount', '{\"owner\":\"x\"}')")
        with_view.execute("SELECT es_submit('account', 'x', 'OpenAccount', '{\"owner\":\"x\"}')")
        steps = [("a1", "OpenAccount", {"owner": "ada"}, True), ("a1", "Deposit", {"amount": 50}, True),
                 ("a1", "Withdraw", {"amount": 20}, True), ("a1", "Withdraw", {"amount": 999}, False),
                 ("a2", "OpenAccount", {"owner": "bob"}, True), ("a1", "Deposit", {"amount": 5}, True),
                 ("a2", "CloseAccount", {}, True), ("a1", "Withdraw", {"amount": 35}, True),
                 ("a1", "CloseAccount", {}, True), ("a1", "Deposit", {"amount": 1}, False)]
        expected_rows = []
        for account, command, payload, accepted in steps:
            table_before = with_view.execute("SELECT * FROM deposits ORDER BY position").fetchall()
            deltas = []
            for c in (with_view, without):
                before = c.total_changes
                r = try_submit(c, ("account", account, command, compact(payload)))
                self.assertEqual(r["ok"], accepted, r)
                deltas.append(c.total_changes - before)
            position = with_view.execute("SELECT max(position) FROM es_events").fetchone()[0]
            label = "%s %s" % (command, payload)
            if accepted and command == "Deposit":
                expected_rows.append((position, account, payload["amount"]))
                self.assertEqual(deltas[0] - deltas[1], 1, label)
            elif accepted:
                self.assertEqual(deltas[0] - deltas[1], 0, label)
                self.assertEqual(with_view.execute("SELECT * FROM deposits ORDER BY position").fetchall(),
                                 table_before, label)
            else:
                self.assertEqual(deltas, [0, 0], label)
            self.assertEqual(with_view.execute("SELECT * FROM deposits ORDER BY position").fetchall(), expected_rows)
            self.assertEqual(with_view.execute("SELECT name, position, lag FROM es_projections").fetchall(),
                             [("deposits", position, 0)], label)
        self.assertEqual(len(expected_rows), 2)


class UnregisteredCView(ViewsCase):
    def test_es_submit_is_refused_until_the_view_is_dropped(self):
        with_views = self.connect("c.db", (ES, BANK, BANK_VIEWS))
        self.submit(with_views, "a1", "OpenAccount", {"owner": "ada"})
        self.submit(with_views, "a1", "Deposit", {"amount": 100})
        other = self.connect("c.db")  # es and bank only
        for view in ("account_balances", "account_history"):
            before = list(other.iterdump())
            with self.assertRaises(sqlite3.OperationalError) as cm:
                self.submit(other, "a1", "Deposit", {"amount": 1})
            self.assertSqliteError(cm, sqlite3.OperationalError, UNKNOWN_VIEW_MSG % (view, view),
                                   SQLITE_ERROR, "SQLITE_ERROR")
            self.assertEqual(list(other.iterdump()), before)
            self.assertEqual(other.execute("SELECT es_drop_view(?)", (view,)).fetchone()[0], 1)
        self.assertEqual(self.submit(other, "a1", "Deposit", {"amount": 1}), 3)
        self.assertEqual(other.execute("SELECT count(*) FROM es_projections").fetchone()[0], 0)
        # The dropped views are no longer maintained, and their tables are ordinary tables again.
        self.assertEqual(other.execute("SELECT balance, events FROM account_balances").fetchone(), (100, 2))
        other.execute("UPDATE account_balances SET owner = 'changed'")
        with self.assertRaises(sqlite3.OperationalError) as cm:
            other.execute("SELECT es_rebuild('account_balances')").fetchone()
        self.assertSqliteError(cm, sqlite3.OperationalError, "es: unknown_view: no view named 'account_balances' in"
                               " this database", SQLITE_ERROR, "SQLITE_ERROR")
        # The connection that has them registered attaches them again at its next command, from the whole log.
        self.assertEqual(self.submit(with_views, "a1", "Deposit", {"amount": 1}), 4)
        self.assertViewsMatchLog(with_views, "C views attached again")


if __name__ == "__main__":
    unittest.main()
