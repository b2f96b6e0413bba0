#!/usr/bin/env python3
"""consumer_kill9.py — the example consumer (examples/consumer/tail_to_jsonl.py) killed with
kill -9 at random moments while a writer keeps appending, restarted each time, must end with every
event of the log in its file (at least once: duplicates allowed, holes not), in position order
within each run. Bounded: 100,000 events (ES_KILL9_EVENTS), a few dozen kills, well under a minute.
Prints "N passed, M failed"."""
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ES = os.path.join(ROOT, "dist", "es")
BANK = os.path.join(ROOT, "dist", "bank")
CONSUMER = os.path.join(ROOT, "examples", "consumer", "tail_to_jsonl.py")
TOTAL = int(os.environ.get("ES_KILL9_EVENTS", "100000"))
INITIAL = TOTAL * 9 // 10


def connect(path):
    db = sqlite3.connect(path, isolation_level=None, timeout=30)
    db.enable_load_extension(True)
    db.load_extension(ES)
    db.load_extension(BANK)
    db.execute("PRAGMA busy_timeout = 30000")
    return db


def submit(db, n, start):
    """n deposits (and the openings they need) in one transaction."""
    db.execute("BEGIN IMMEDIATE")
    for i in range(start, start + n):
        account = "acc-%d" % (i % 1000)
        if i < 1000:
            db.execute("SELECT es_submit('account', ?, 'OpenAccount', '{\"owner\":\"o\"}')", (account,)).fetchone()
        else:
            db.execute("SELECT es_submit('account', ?, 'Deposit', '{\"amount\":1}')", (account,)).fetchone()
    db.execute("COMMIT")


def main():
    checks = []
    rng = random.Random(20261128)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "live.db")
        out = os.path.join(tmp, "events.jsonl")
        db = connect(path)
        db.execute("PRAGMA journal_mode = WAL")
        db.execute("PRAGMA synchronous = NORMAL")
        submit(db, INITIAL, 0)

        def writer():  # the database stays live while the consumer is being killed
            w = connect(path)
            done = INITIAL
            while done < TOTAL:
                n = min(500, TOTAL - done)
                submit(w, n, done)
                done += n
                time.sleep(0.01)
            w.close()

        t = threading.Thread(target=writer)
        t.start()
        kills = 0
        consumer = [sys.executable, CONSUMER, path, out, "--extension", ES, "--batch", "200"]
        while t.is_alive() or kills < 20:  # kill -9 at random moments while the log grows
            p = subprocess.Popen(consumer + ["--until-idle", "5"])
            try:
                p.wait(timeout=rng.uniform(0.05, 0.3))
            except subprocess.TimeoutExpired:
                p.send_signal(signal.SIGKILL)
                p.wait()
                kills += 1
        # then one last run, left alone until it has caught up and stays idle
        subprocess.run(consumer + ["--until-idle", "0.5"], check=True, timeout=120)
        t.join()

        positions = []
        with open(out, encoding="utf-8") as f:
            for line in f:
                positions.append(json.loads(line)["position"])
        total = db.execute("SELECT max(position) FROM es_events").fetchone()[0]
        seen = set(positions)
        checks.append(("the log holds every event written", total == TOTAL, total))
        checks.append(("every position is in the file", seen == set(range(1, TOTAL + 1)),
                       sorted(set(range(1, TOTAL + 1)) - seen)[:5]))
        checks.append(("the consumer was killed many times", kills >= 20, kills))
        rises = sum(1 for a, b in zip(positions, positions[1:]) if b <= a)
        checks.append(("positions only go back where a killed batch is written again", rises <= kills, rises))
        lag = db.execute("SELECT lag FROM es_consumers WHERE name = 'jsonl'").fetchone()[0]
        checks.append(("the checkpoint reached the end of the log", lag == 0, lag))
        print("consumer_kill9: %d events, %d kills, %d lines (%d duplicates)" %
              (TOTAL, kills, len(positions), len(positions) - len(seen)))
    failed = [c for c in checks if not c[1]]
    for name, ok, detail in checks:
        print(("ok   " if ok else "FAIL ") + name + ("" if ok else ": %r" % (detail,)))
    print("%d passed, %d failed" % (len(checks) - len(failed), len(failed)))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
