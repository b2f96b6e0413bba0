#!/usr/bin/env python3
"""tail_to_jsonl.py — follow the log of a live sqlite-es database into a JSON-lines file.

A separate process with nothing but Python's standard sqlite3 module. It keeps a durable consumer
in the database (es_create_consumer), reads the next batch after its checkpoint (es_next), appends
the events to the file, flushes it to disk, and only then acknowledges them (es_ack). Killed at
any moment, even with kill -9, it resumes from the checkpoint: no event is ever missing from the
file (at least once: a batch written but not yet acknowledged is written again, so readers
deduplicate by position).

    python3 examples/consumer/tail_to_jsonl.py DB OUT.jsonl [--consumer NAME] [--extension dist/es]
                                               [--batch 500] [--until-idle SECONDS]
"""
import argparse
import json
import os
import sqlite3
import sys
import time


def connect(db_path, extension):
    db = sqlite3.connect(db_path, isolation_level=None, timeout=30)
    db.enable_load_extension(True)
    db.load_extension(extension)
    db.enable_load_extension(False)
    db.execute("PRAGMA busy_timeout = 30000")
    return db


def drop_partial_line(path):
    """A kill in the middle of a write leaves half a line: cut it (its batch was not acknowledged)."""
    if not os.path.exists(path):
        return
    with open(path, "rb+") as f:
        data = f.read()
        end = data.rfind(b"\n") + 1
        if end != len(data):
            f.truncate(end)


def run(db_path, out_path, consumer, extension, batch, until_idle):
    db = connect(db_path, extension)
    db.execute("SELECT es_create_consumer(?)", (consumer,))  # keeps the checkpoint of an existing one
    drop_partial_line(out_path)
    idle_since = time.monotonic()
    with open(out_path, "a", encoding="utf-8") as out:
        while True:
            rows = db.execute(
                "SELECT position, aggregate_type, aggregate_id, version, type, data, metadata, recorded_at"
                " FROM es_next(?, ?)", (consumer, batch)).fetchall()
            if not rows:
                if until_idle is not None and time.monotonic() - idle_since > until_idle:
                    return 0
                time.sleep(0.05)
                continue
            idle_since = time.monotonic()
            for p, at, aid, v, t, data, meta, when in rows:
                out.write(json.dumps({"position": p, "aggregate_type": at, "aggregate_id": aid, "version": v,
                                      "type": t, "data": json.loads(data),
                                      "metadata": json.loads(meta) if meta else None, "recorded_at": when},
                                     separators=(",", ":")) + "\n")
            out.flush()
            os.fsync(out.fileno())          # on disk before the checkpoint moves: at least once
            db.execute("SELECT es_ack(?, ?)", (consumer, rows[-1][0]))


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("db")
    ap.add_argument("out")
    ap.add_argument("--consumer", default="jsonl")
    ap.add_argument("--extension", default=os.path.join(here, "..", "..", "dist", "es"))
    ap.add_argument("--batch", type=int, default=500)
    ap.add_argument("--until-idle", type=float, default=None,
                    help="stop after this many seconds without new events (default: follow forever)")
    a = ap.parse_args()
    return run(a.db, a.out, a.consumer, a.extension, a.batch, a.until_idle)


if __name__ == "__main__":
    sys.exit(main())
