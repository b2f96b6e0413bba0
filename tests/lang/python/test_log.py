"""Reading the log from another process (issue 5), with Python's standard sqlite3 module (Debian's
/usr/bin/python3).

(1) Positions are gapless and in commit order while two processes write and a third polls: two
writer processes (multiprocessing, 'spawn') each submit 1,500 commands with es_submit in autocommit
to one WAL database (busy_timeout, synchronous=NORMAL), in three phases; a poller process runs
`SELECT position FROM es_log WHERE position > ? ORDER BY position` in a loop from the start. Every
poll's rows must continue the previous exactly (the next position after the last one seen, then
consecutive: no hole that a later commit could fill, nothing repeated); after each phase the parent
waits until the poller has caught up, so it polls while the writes happen and sees every phase; the
poller's final read and all its polls together hold every position 1..3,000 exactly once. Each
writer's own events appear in the log in the order it submitted them.
(2) Consumer groups: with 3 members, `SELECT position FROM es_log WHERE aggregate_type = 'account'
AND es_hash(aggregate_id) % 3 = k` for k = 0, 1, 2 together cover every account event exactly once
(events of another category never), each aggregate's events all go to one member, the same member
reading in batches after its last position gets the same rows, and es_hash equals FNV-1a 64 >> 1
computed here in Python (ids with non-ASCII characters included).
Run through tests/lang/python/run.py.
"""
import json
import multiprocessing as mp
import os
import queue
import sqlite3
import tempfile
import traceback
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
DIST = os.environ.get("ES_DIST") or os.path.join(ROOT, "dist")
ES = os.path.join(DIST, "es.so")
BANK = os.path.join(DIST, "bank.so")

WRITERS = 2
PER_WRITER = 1500  # commands per writer
PHASES = 3  # the writers pause after each third; the poller must catch up before they go on
ACCOUNTS_PER_WRITER = 10
WAIT = 120  # seconds: a safety net against a hung child, never a measure of speed

POLL_SQL = "SELECT position FROM es_log WHERE position > ? ORDER BY position"


def compact(value):
    return json.dumps(value, separators=(",", ":"))


def connect(path, *extensions):
    c = sqlite3.connect(path, isolation_level=None)
    c.enable_load_extension(True)
    try:
        for p in extensions:
            c.load_extension(p)
    finally:
        c.enable_load_extension(False)
    c.execute("PRAGMA busy_timeout = 10000")
    c.execute("PRAGMA synchronous = NORMAL")
    return c


def fnv1a64(text):
    h = 0xcbf29ce484222325
    for b in text.encode("utf-8"):
        h ^= b
        h = (h * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    return h


def writer_plan(p):
    """Writer p's commands, in order: (aggregate id, command, payload, expected version)."""
    plan = []
    for i in range(PER_WRITER):
        agg = "w%d-acc-%d" % (p, i % ACCOUNTS_PER_WRITER)
        version = i // ACCOUNTS_PER_WRITER + 1
        if version == 1:
            plan.append((agg, "OpenAccount", compact({"owner": "writer %d" % p}), version))
        else:
            plan.append((agg, "Deposit", compact({"amount": 1 + i % 9}), version))
    return plan


# ---------------------------------------------------------------- children (spawned processes)

def writer(path, p, go, done, results):
    """Submit this writer's plan one phase at a time, each command in autocommit."""
    out = {"p": p, "errors": []}
    try:
        c = connect(path, ES, BANK)
        plan = writer_plan(p)
        per_phase = PER_WRITER // PHASES
        for k in range(PHASES):
            if not go[k].wait(WAIT):
                raise RuntimeError("phase %d never started" % k)
            for agg, command, payload, version in plan[k * per_phase:(k + 1) * per_phase]:
                got = c.execute("SELECT es_submit('account', ?, ?, ?)", (agg, command, payload)).fetchone()[0]
                if got != version:
                    out["errors"].append("%s %s returned version %r, expected %d" % (agg, command, got, version))
            done.put((p, k))
        c.close()
    except BaseException:
        out["errors"].append(traceback.format_exc())
        done.put((p, -1))
    results.put(out)


def poller(path, stop, progress, results):
    """Poll es_log after the last position seen until told to stop, then poll once more and read
    the whole log. Each poll must continue the previous one exactly."""
    out = {"polls": 0, "batches": [], "violations": [], "final": None, "error": None}
    try:
        c = connect(path, ES)
        progress.put(0)  # ready
        last = 0
        while True:
            stopping = stop.is_set()  # set after every write: the read below sees all of them
            rows = [r[0] for r in c.execute(POLL_SQL, (last,))]
            out["polls"] += 1
            if rows:
                want = list(range(last + 1, last + 1 + len(rows)))
                if rows != want:
                    out["violations"].append({"after": last, "got": rows[:20], "len": len(rows)})
                out["batches"].append(rows)
                last = rows[-1]
                progress.put(last)
            if stopping:
                break
        progress.put(None)  # the end: the parent drains the queue up to here
        out["final"] = [r[0] for r in c.execute("SELECT position FROM es_log")]
        c.close()
    except BaseException:
        out["error"] = traceback.format_exc()
    results.put(out)


# ---------------------------------------------------------------- the tests

class LogCase(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="es-py-log-")
        self.path = os.path.join(self.tmp.name, "test.db")

    def tearDown(self):
        self.tmp.cleanup()


class TestPollingWhileWriting(LogCase):
    def test_positions_gapless_in_commit_order_while_two_processes_write(self):
        c = connect(self.path, ES, BANK)
        self.assertEqual(c.execute("PRAGMA journal_mode = WAL").fetchone()[0], "wal")
        c.close()

        ctx = mp.get_context("spawn")
        go = [ctx.Event() for _ in range(PHASES)]
        stop = ctx.Event()
        done, progress, results = ctx.Queue(), ctx.Queue(), ctx.Queue()
        poll_proc = ctx.Process(target=poller, args=(self.path, stop, progress, results))
        writers = [ctx.Process(target=writer, args=(self.path, p, go, done, results)) for p in range(WRITERS)]
        procs = [poll_proc] + writers
        try:
            poll_proc.start()
            self.assertEqual(progress.get(timeout=WAIT), 0, "the poller did not start")
            for w in writers:
                w.start()
            seen = 0
            per_phase = PER_WRITER // PHASES
            for k in range(PHASES):
                for e in go[:k + 1]:
                    e.set()
                finished = [done.get(timeout=WAIT) for _ in range(WRITERS)]
                self.assertEqual(sorted(finished), [(p, k) for p in range(WRITERS)], "a writer failed")
                # The poller keeps polling: it must reach every event of this phase.
                target = WRITERS * per_phase * (k + 1)
                while seen < target:
                    seen = progress.get(timeout=WAIT)
            stop.set()
            while progress.get(timeout=WAIT) is not None:
                pass
            outs = [results.get(timeout=WAIT) for _ in procs]
            for p in procs:
                p.join(WAIT)
                self.assertEqual(p.exitcode, 0)
        finally:
            for e in go:
                e.set()
            stop.set()
            for p in procs:
                if p.is_alive():
                    p.terminate()
                    p.join()

        poll = [o for o in outs if "polls" in o][0]
        writer_outs = sorted((o for o in outs if "p" in o), key=lambda o: o["p"])
        self.assertEqual([o["errors"] for o in writer_outs], [[]] * WRITERS)
        self.assertIsNone(poll["error"])
        total = WRITERS * PER_WRITER

        # Every poll continued the previous one exactly: no hole, nothing repeated.
        self.assertEqual(poll["violations"], [])
        flat = [pos for batch in poll["batches"] for pos in batch]
        self.assertEqual(flat, list(range(1, total + 1)))
        # It polled while the writes happened: at least one batch per phase.
        self.assertGreaterEqual(len(poll["batches"]), PHASES)
        # The final read sees every event exactly once, in position order.
        self.assertEqual(poll["final"], list(range(1, total + 1)))

        # Commit order: each writer's events are in the log in the order it submitted them, and
        # the log agrees with es_log.
        c = connect(self.path, ES)
        try:
            for p in range(WRITERS):
                rows = c.execute("SELECT aggregate_id, version FROM es_log WHERE aggregate_id LIKE ?"
                                 " ORDER BY position", ("w%d-%%" % p,)).fetchall()
                self.assertEqual(rows, [(agg, v) for agg, _, _, v in writer_plan(p)])
            self.assertEqual(c.execute("SELECT count(*), min(position), max(position) FROM es_events").fetchone(),
                             (total, 1, total))
        finally:
            c.close()


class TestConsumerGroups(LogCase):
    GROUP = 3

    def test_members_split_the_category_exactly_once_by_aggregate(self):
        c = connect(self.path, ES, BANK)
        try:
            # A second category, defined in SQL: its events must reach no member.
            c.execute("SELECT es_create_aggregate('note', '{}', '[\"Noted\"]')")
            c.execute("CREATE VIEW note_write AS SELECT 'Noted' AS type, payload AS data FROM es_command")
            c.execute("SELECT es_create_decider('note', 'Write', 'note_write')")
            ids = ["acc-%d" % i for i in range(40)] + ["compte-é-%d" % i for i in range(5)] + ["账户-1", " "]
            c.execute("BEGIN IMMEDIATE")
            for round_ in range(4):
                for n, agg in enumerate(ids):
                    if round_ == 0:
                        c.execute("SELECT es_submit('account', ?, 'OpenAccount', ?)", (agg, compact({"owner": "o"})))
                    elif (n + round_) % 3 != 0:
                        c.execute("SELECT es_submit('account', ?, 'Deposit', ?)", (agg, compact({"amount": round_})))
                    if n % 7 == round_:
                        c.execute("SELECT es_submit('note', ?, 'Write', ?)", (agg, compact({"n": n})))
            c.execute("COMMIT")

            account = c.execute("SELECT position, aggregate_id FROM es_events WHERE aggregate_type = 'account'"
                                " ORDER BY position").fetchall()
            notes = c.execute("SELECT count(*) FROM es_events WHERE aggregate_type = 'note'").fetchone()[0]
            self.assertGreater(notes, 0)
            self.assertGreater(len(account), len(ids))

            # es_hash is FNV-1a 64 of the UTF-8 bytes, shifted right by one.
            for agg in ids + ["a", "foobar"]:
                self.assertEqual(c.execute("SELECT es_hash(?)", (agg,)).fetchone()[0], fnv1a64(agg) >> 1, agg)
            self.assertEqual(c.execute("SELECT es_hash('')").fetchone()[0], 14695981039346656037 >> 1)

            member_of = {}  # aggregate id -> the member that got its events
            got = []
            for k in range(self.GROUP):
                rows = c.execute("SELECT position, aggregate_id FROM es_log WHERE aggregate_type = 'account'"
                                 " AND es_hash(aggregate_id) % ? = ?", (self.GROUP, k)).fetchall()
                self.assertGreater(len(rows), 0, "member %d got nothing" % k)
                positions = [r[0] for r in rows]
                self.assertEqual(positions, sorted(positions), "member %d: not in position order" % k)
                for pos, agg in rows:
                    self.assertEqual(member_of.setdefault(agg, k), k, "%r went to two members" % agg)
                    self.assertEqual((fnv1a64(agg) >> 1) % self.GROUP, k, agg)
                got.extend(rows)
                # The same member reading in batches after its last position gets the same rows.
                batched, last = [], 0
                while True:
                    batch = c.execute("SELECT position, aggregate_id FROM es_log WHERE aggregate_type = 'account'"
                                      " AND es_hash(aggregate_id) % ? = ? AND position > ? ORDER BY position LIMIT 7",
                                      (self.GROUP, k, last)).fetchall()
                    if not batch:
                        break
                    batched.extend(batch)
                    last = batch[-1][0]
                self.assertEqual(batched, rows)
            # Together: every account event exactly once, and nothing else.
            self.assertEqual(sorted(got), account)
            self.assertEqual(len(got), len(set(p for p, _ in got)))
            self.assertEqual(sorted(member_of), sorted(ids))
        finally:
            c.close()


if __name__ == "__main__":
    unittest.main()
