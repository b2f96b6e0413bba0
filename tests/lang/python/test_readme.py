"""The README's ```python blocks run as written (tests/sql/readme.sh does the same for its ```sql blocks).

Each ```python block runs against a new database prepared by the ```sql blocks before it in its
section (`## …`), with `db` a connection that has loaded what those blocks `.load`, and `json`
imported. The Transactions section's batch then has routed the inbox exactly: the accepted commands'
rows in the outbox, the others in `failed` with the message of their refusal, the inbox empty. Both
with Python's default isolation_level and with isolation_level=None. Run through
tests/lang/python/run.py.
"""
import json
import os
import re
import sqlite3
import tempfile
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
README = os.path.join(ROOT, "README.md")


def sections():
    """[(heading, [(language, text), ...])] for each `## ` section of README.md, fenced blocks in order."""
    out = [("", [])]
    lang, lines = None, []
    with open(README, encoding="utf-8") as f:
        for line in f:
            fence = re.match(r"^```(\w*)\s*$", line)
            if lang is None and fence:
                lang, lines = fence.group(1), []
            elif lang is not None and line.startswith("```"):
                out[-1][1].append((lang, "".join(lines)))
                lang = None
            elif lang is not None:
                lines.append(line)
            elif line.startswith("## "):
                out.append((line[3:].strip(), []))
    return out


def prepare(db, sql):
    """Run a ```sql block through Python: `.load X` loads ROOT/X; no other dot-command is expected."""
    script = []
    for line in sql.splitlines(keepends=True):
        if line.startswith(".load "):
            db.enable_load_extension(True)
            try:
                db.load_extension(os.path.join(ROOT, line.split()[1]))
            finally:
                db.enable_load_extension(False)
        elif line.startswith("."):
            raise AssertionError("a dot-command this test cannot run: " + line)
        else:
            script.append(line)
    db.executescript("".join(script))


class ReadmePython(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.addCleanup(self.tmp.cleanup)

    def run_blocks(self, isolation_level):
        """Run every ```python block; returns {heading: connection} (closed at cleanup)."""
        ran = {}
        for n, (heading, blocks) in enumerate(sections()):
            for i, (lang, text) in enumerate(blocks):
                if lang != "python":
                    continue
                path = os.path.join(self.tmp.name, "%d-%d-%s.db" % (n, i, isolation_level))
                db = sqlite3.connect(path, isolation_level=isolation_level)
                self.addCleanup(db.close)
                for lang_before, sql in blocks[:i]:
                    if lang_before == "sql":
                        prepare(db, sql)
                exec(compile(text, "README.md, %s, block %d" % (heading, i + 1), "exec"), {"db": db, "json": json})
                ran[heading] = db
        return ran

    def check_transactions(self, isolation_level):
        ran = self.run_blocks(isolation_level)
        self.assertIn("Transactions", ran)
        db = ran["Transactions"]
        self.assertFalse(db.in_transaction)
        self.assertEqual(db.execute("SELECT count(*) FROM inbox").fetchone()[0], 0)
        self.assertEqual(db.execute("SELECT id, account, command FROM outbox ORDER BY id").fetchall(),
                         [(1, "acc-1", "OpenAccount"), (3, "acc-1", "Deposit")])
        self.assertEqual(db.execute("SELECT id, command, error FROM failed ORDER BY id").fetchall(),
                         [(2, "Withdraw", "balance 0 is less than 5"), (4, "Deposit", "the account is not open")])
        self.assertEqual(db.execute("SELECT aggregate_id, version, type FROM es_events ORDER BY position").fetchall(),
                         [("acc-1", 1, "AccountOpened"), ("acc-1", 2, "Deposited")])

    def test_python_blocks_default_isolation_level(self):
        self.check_transactions("")

    def test_python_blocks_autocommit(self):
        self.check_transactions(None)


if __name__ == "__main__":
    unittest.main()
