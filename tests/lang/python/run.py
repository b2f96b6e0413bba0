#!/usr/bin/python3
"""Runs the Python host-language tests of sqlite-es (tests/lang/python/test_*.py) with unittest.

Use Debian's /usr/bin/python3: its sqlite3 module can load extensions. The tests load
dist/es.so and dist/bank.so from the repository root (the parent of tests/), so run `make all`
first. Prints a final line "N passed, M failed[, K skipped]" (M counts failures and errors) and
exits non-zero if anything failed.
"""
import os
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(HERE)))
DIST = os.path.join(ROOT, "dist")


def main():
    missing = [p for p in (os.path.join(DIST, "es.so"), os.path.join(DIST, "bank.so")) if not os.path.exists(p)]
    if missing:
        print("missing %s: run `make all` first" % ", ".join(missing))
        print("0 passed, 1 failed")
        return 1
    if not hasattr(__import__("sqlite3").Connection, "enable_load_extension"):
        print("this Python's sqlite3 cannot load extensions: run the tests with /usr/bin/python3")
        print("0 passed, 1 failed")
        return 1
    os.environ["ES_DIST"] = DIST  # the tests read it (they default to the same path)
    verbosity = 2 if "-v" in sys.argv[1:] else 1
    suite = unittest.defaultTestLoader.discover(HERE, pattern="test_*.py", top_level_dir=HERE)
    result = unittest.TextTestRunner(stream=sys.stdout, verbosity=verbosity).run(suite)
    failed = len(result.failures) + len(result.errors) + len(result.unexpectedSuccesses)
    skipped = len(result.skipped)
    passed = result.testsRun - failed - skipped
    line = "%d passed, %d failed" % (passed, failed)
    if skipped:
        line += ", %d skipped" % skipped
    print(line)
    return 1 if failed or result.testsRun == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
