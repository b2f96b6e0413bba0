#!/usr/bin/python3
"""A second process that writes to a database with sqlite-es: it reads es_try_submit arguments as
JSON arrays, one per line, runs each on its own connection and answers with the result (the JSON
text, or "raised: <message>"), one per line. Used by test_state_cache.py to write between two
commands of another process's connection.

Usage: es_worker.py DATABASE STATE_CACHE_ENTRIES [SNAPSHOT_EVERY] (extensions from $ES_DIST, else ../../../dist)
"""
import json
import os
import sqlite3
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
DIST = os.environ.get("ES_DIST") or os.path.join(HERE, "..", "..", "..", "dist")


def main():
    db = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=10)
    db.enable_load_extension(True)
    for name in ("es.so", "bank.so", "bank_views.so"):
        db.load_extension(os.path.join(DIST, name))
    db.enable_load_extension(False)
    db.execute("PRAGMA synchronous = OFF")
    db.execute("SELECT es_config('state_cache', ?)", (int(sys.argv[2]),))
    if len(sys.argv) > 3:
        db.execute("SELECT es_config('snapshot_every', ?)", (int(sys.argv[3]),))
    for line in sys.stdin:
        args = json.loads(line)
        try:
            out = db.execute("SELECT es_try_submit(%s)" % ",".join("?" * len(args)), args).fetchone()[0]
        except sqlite3.Error as e:
            out = "raised: %s" % e
        sys.stdout.write(out + "\n")
        sys.stdout.flush()
    db.close()


if __name__ == "__main__":
    main()
