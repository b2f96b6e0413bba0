"""The state cache and snapshots never change a result (issue 10): the random command stream of
test_sql_aggregates (10,000 commands on the C bank with its C views: rejections, conflicts, command
ids, bad payloads) gives the same outcomes, the same log, the same states and the same read models
with the cache on (the default), off (es_config('state_cache', 0)) and holding one state, with
snapshots every 100 events (the default), every event (es_config('snapshot_every', 1)) and never, and with
a second process (es_worker.py) running every seventh command on its own connection, so this
connection's cached states are overtaken between two of its commands. Also: a command run inside
the connection's own transaction and rolled back (its state is ahead of the log), with and without
the other process then writing the same versions anew. Run through tests/lang/python/run.py.
"""
import json
import os
import subprocess
import sys
import tempfile
import unittest

from test_sql_aggregates import (BALANCES_SQL, BANK, BANK_VIEWS, ES, EVENTS_SQL, HISTORY_SQL, SEED, Workload, load,
                                 try_submit, typed)
import sqlite3

HERE = os.path.dirname(os.path.abspath(__file__))
N_COMMANDS = 10000


class StateCache(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="es-py-cache-")

    def tearDown(self):
        self.tmp.cleanup()

    def run_stream(self, name, commands, entries, worker_every=0, rollback_every=0, snapshot_every=100):
        """Run commands on a new database; returns (results, log, states, views)."""
        path = os.path.join(self.tmp.name, name)
        db = sqlite3.connect(path, isolation_level=None, timeout=10)
        load(db, ES, BANK, BANK_VIEWS)
        db.execute("PRAGMA journal_mode = WAL")
        db.execute("PRAGMA synchronous = OFF")  # the test is about results, not durability
        db.execute("SELECT es_config('state_cache', ?)", (entries,))
        db.execute("SELECT es_config('snapshot_every', ?)", (snapshot_every,))
        worker = None
        if worker_every:
            worker = subprocess.Popen([sys.executable, os.path.join(HERE, "es_worker.py"), path, str(entries),
                                       str(snapshot_every)],
                                      stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        results = []
        try:
            for i, args in enumerate(commands):
                rolled_back = rollback_every and i % rollback_every == rollback_every - 1
                if rolled_back:  # a deposit of 1000 to the same account, rolled back: its state is ahead of the log
                    db.execute("BEGIN")
                    try_submit(db, ("account", args[1], "Deposit", '{"amount":1000}'))
                    db.execute("ROLLBACK")
                if worker_every and (rolled_back or i % worker_every == worker_every - 1):
                    worker.stdin.write(json.dumps(list(args)) + "\n")  # the same version, written elsewhere
                    worker.stdin.flush()
                    results.append(worker.stdout.readline().rstrip("\n"))
                else:
                    results.append(try_submit(db, args))
        finally:
            if worker:
                worker.stdin.close()
                worker.wait(timeout=30)
                worker.stdout.close()
        states = [db.execute("SELECT es_state('account', ?)", (a,)).fetchone()[0]
                  for a in sorted({args[1] for args in commands})]
        out = (results, typed(db.execute(EVENTS_SQL).fetchall()), states,
               [typed(db.execute(q).fetchall()) for q in (BALANCES_SQL, HISTORY_SQL)])
        db.close()
        return out

    def test_same_results_on_off_one_entry_and_with_another_process(self):
        # The commands, chosen while a reference database runs them without the cache.
        path = os.path.join(self.tmp.name, "reference.db")
        ref = sqlite3.connect(path, isolation_level=None)
        load(ref, ES, BANK, BANK_VIEWS)
        ref.execute("PRAGMA synchronous = OFF")
        ref.execute("SELECT es_config('state_cache', 0)")
        ref.execute("SELECT es_config('snapshot_every', 0)")
        workload, commands = Workload(SEED), []
        for _ in range(N_COMMANDS):
            args = workload.next()
            workload.observe(args, json.loads(try_submit(ref, args)))
            commands.append(args)
        ref.close()

        off = self.run_stream("off.db", commands, 0, snapshot_every=0)
        self.assertGreater(sum(1 for r in off[0] if '"ok":true' in r), 3000)
        self.assertGreater(sum(1 for r in off[0] if '"error":"rejected"' in r), 2000)
        for name, entries, every, rollback, snapshots in (
                ("on.db", 10000, 0, 0, 100), ("one.db", 1, 0, 0, 100), ("worker_on.db", 10000, 7, 0, 100),
                ("worker_off.db", 0, 7, 0, 0), ("rollback.db", 10000, 0, 13, 100),
                ("worker_rollback.db", 10000, 7, 13, 100),
                # a snapshot at every event, read by every command (no cache), also after other processes'
                # and rolled-back writes
                ("snapshots.db", 0, 0, 0, 1), ("snapshots_worker.db", 0, 7, 13, 1), ("snapshots_3.db", 1, 5, 11, 3)):
            got = self.run_stream(name, commands, entries, every, rollback, snapshots)
            for i, (a, b) in enumerate(zip(off[0], got[0])):
                if a != b:
                    self.fail("%s: command %d differs: %r\n  no cache: %s\n  %s: %s" % (name, i + 1, commands[i], a,
                                                                                        name, b))
            self.assertEqual(got[1], off[1], name)
            self.assertEqual(got[2], off[2], name)
            self.assertEqual(got[3], off[3], name)


if __name__ == "__main__":
    unittest.main()
