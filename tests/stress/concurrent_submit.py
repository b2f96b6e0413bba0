#!/usr/bin/python3
"""Two OS processes submitting commands to one WAL database at the same time (sqlite-es, issue 2).

Each process (multiprocessing, 'spawn') opens its own connection, loads dist/es.so and
dist/bank.so, sets busy_timeout=10000 and synchronous=NORMAL, waits on a Barrier so both start
together, then submits its plan. Scenarios:
  same_aggregate        both deposit into one account (unique command_ids)
  different_aggregates  each opens and deposits into its own account
  mix                   shared accounts and own accounts interleaved
  same_command_ids      both submit the SAME command_ids to one account: each lands exactly once,
                        and both processes get the same version back for it
  batch_in_immediate    each runs `SELECT es_try_submit(...) FROM inbox` in chunks inside
                        BEGIN IMMEDIATE … COMMIT
  batch_in_autocommit   one runs a whole batch in autocommit while the other writes: the batch may
                        fail, but only with es: busy telling the user to use BEGIN IMMEDIATE, and
                        its earlier rows are committed, with no gap
Afterwards: no failed submission (autocommit es_submit uses BEGIN IMMEDIATE, which honours
busy_timeout), event count = accepted commands, versions 1..n per aggregate in commit order,
positions 1..N, every command_id exactly once, returned versions match the log, balances from
es_state equal the deposits. Prints "N passed, M failed" (checks) and exits non-zero on failure.
Run with Debian's /usr/bin/python3 after `make all`. ES_STRESS_N changes the commands per process.
"""
import collections
import json
import multiprocessing as mp
import os
import sqlite3
import sys
import tempfile
import time
import traceback

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ES = os.path.join(ROOT, "dist", "es.so")
BANK = os.path.join(ROOT, "dist", "bank.so")
N = int(os.environ.get("ES_STRESS_N", "2000"))  # commands per process per scenario
PROCS = 2
CHUNK = 200  # rows per BEGIN IMMEDIATE batch
HEAD_START = 10  # rows the autocommit batch commits before the other process starts writing
BUSY_HINT = "run it inside BEGIN IMMEDIATE … COMMIT"


def compact(value):
    return json.dumps(value, separators=(",", ":"))


def connect(path):
    c = sqlite3.connect(path, isolation_level=None)
    c.enable_load_extension(True)
    c.load_extension(ES)
    c.load_extension(BANK)
    c.enable_load_extension(False)
    c.execute("PRAGMA busy_timeout = 10000")
    c.execute("PRAGMA synchronous = NORMAL")
    return c


def amount(p, i):
    return 1 + (i * 7 + p * 3) % 10


def error_record(i, e):
    return {"i": i, "class": type(e).__name__, "message": str(e),
            "code": getattr(e, "sqlite_errorcode", None), "name": getattr(e, "sqlite_errorname", None)}


# ---------------------------------------------------------------- workers (run in child processes)

def worker(mode, path, p, plan, barrier, sync, queue):
    """Run one process's plan; put {"p", "versions": {cid: version}, "errors", ...} on the queue."""
    out = {"p": p, "versions": {}, "errors": [], "batch_error": None, "rows_seen": 0, "elapsed": 0.0}
    try:
        c = connect(path)
    except BaseException as e:  # never leave the other process waiting at the barrier
        barrier.abort()
        out["errors"].append({"i": -1, "class": type(e).__name__, "message": "setup: %s" % e})
        queue.put(out)
        return
    try:
        barrier.wait(timeout=60)
        t0 = time.perf_counter()
        if mode == "submit":
            run_submits(c, plan, out, sync)
        elif mode == "batch_immediate":
            run_batch_immediate(c, p, len(plan), out)
        elif mode == "batch_autocommit":
            run_batch_autocommit(c, p, out, sync)
        out["elapsed"] = time.perf_counter() - t0
    except BaseException as e:
        out["errors"].append({"i": -1, "class": type(e).__name__, "message": traceback.format_exc()})
    finally:
        if sync is not None and mode == "batch_autocommit":
            sync["go"].set()  # never leave the writer waiting
            sync["done"].set()
        c.close()
        queue.put(out)


def run_submits(c, plan, out, sync):
    """es_submit each planned command in autocommit. With `sync` (the autocommit batch scenario),
    start once the batch has committed some rows, and stop when it has finished."""
    if sync is not None and not sync["go"].wait(timeout=60):
        raise RuntimeError("the batch never signalled")
    for i, (agg_id, command, payload, options) in enumerate(plan):
        if sync is not None and sync["done"].is_set() and i >= 1:
            break
        try:
            v = c.execute("SELECT es_submit('account', ?, ?, ?, ?)", (agg_id, command, payload, options)).fetchone()[0]
            out["versions"][json.loads(options)["command_id"]] = v
        except sqlite3.Error as e:
            out["errors"].append(error_record(i, e))


def check_try_result(out, cid, text, i):
    r = json.loads(text)
    if r.get("ok") is True and "duplicate" not in r:
        out["versions"][cid] = r["version"]
    else:
        out["errors"].append({"i": i, "class": "es_try_submit", "message": text})


def run_batch_immediate(c, p, n, out):
    for lo in range(1, n + 1, CHUNK):
        try:
            c.execute("BEGIN IMMEDIATE")
            rows = c.execute("SELECT command_id, es_try_submit('account', agg_id, command, payload, options)"
                             " FROM inbox_%d WHERE id BETWEEN ? AND ? ORDER BY id" % p,
                             (lo, lo + CHUNK - 1)).fetchall()
            c.execute("COMMIT")
        except sqlite3.Error as e:
            out["errors"].append(error_record(lo, e))
            if c.in_transaction:
                c.execute("ROLLBACK")
            continue
        for k, (cid, text) in enumerate(rows):
            check_try_result(out, cid, text, lo + k)


def run_batch_autocommit(c, p, out, sync):
    """One statement over the whole inbox, in autocommit. Python steps one row ahead of what it
    returns, so when it has returned row k, rows 1..k+1 are committed. After HEAD_START rows the
    other process is told to start writing."""
    try:
        cur = c.execute("SELECT command_id, es_try_submit('account', agg_id, command, payload, options)"
                        " FROM inbox_%d ORDER BY id" % p)
        for k, (cid, text) in enumerate(cur):
            out["rows_seen"] += 1
            check_try_result(out, cid, text, k + 1)
            if out["rows_seen"] == HEAD_START:
                sync["go"].set()
    except sqlite3.Error as e:
        out["batch_error"] = error_record(out["rows_seen"] + 1, e)


# ---------------------------------------------------------------- the parent

class Checks:
    def __init__(self):
        self.passed = 0
        self.failed = 0

    def check(self, scenario, name, ok, detail=""):
        if ok:
            self.passed += 1
        else:
            self.failed += 1
            print("  FAIL %s: %s %s" % (scenario, name, detail))
        return ok


def new_database(tmp, name, setup_commands):
    path = os.path.join(tmp, name + ".db")
    c = connect(path)
    c.execute("PRAGMA journal_mode = WAL")
    for agg_id, command, payload, options in setup_commands:
        c.execute("SELECT es_submit('account', ?, ?, ?, ?)", (agg_id, command, payload, options))
    c.close()
    return path


def open_cmd(agg_id, owner):
    return (agg_id, "OpenAccount", compact({"owner": owner}), compact({"command_id": "open-" + agg_id}))


def deposit_cmd(agg_id, amt, cid):
    return (agg_id, "Deposit", compact({"amount": amt}), compact({"command_id": cid}))


def fill_inbox(path, p, plan):
    c = sqlite3.connect(path, isolation_level=None)
    c.execute("CREATE TABLE inbox_%d(id INTEGER PRIMARY KEY, agg_id TEXT, command TEXT, payload TEXT,"
              " options TEXT, command_id TEXT)" % p)
    c.execute("BEGIN")
    c.executemany("INSERT INTO inbox_%d(agg_id, command, payload, options, command_id) VALUES (?,?,?,?,?)" % p,
                  [(a, cmd, pl, o, json.loads(o)["command_id"]) for a, cmd, pl, o in plan])
    c.execute("COMMIT")
    c.close()


def run_processes(path, modes, plans, with_sync=False):
    ctx = mp.get_context("spawn")
    barrier = ctx.Barrier(len(plans))
    sync = {"go": ctx.Event(), "done": ctx.Event()} if with_sync else None
    queue = ctx.Queue()
    procs = [ctx.Process(target=worker, args=(modes[p], path, p, plans[p], barrier, sync, queue))
             for p in range(len(plans))]
    t0 = time.perf_counter()
    for pr in procs:
        pr.start()
    results = []
    try:
        for _ in procs:
            results.append(queue.get(timeout=300))
    finally:
        for pr in procs:
            pr.join(timeout=30)
            if pr.is_alive():
                pr.terminate()
                pr.join()
    elapsed = time.perf_counter() - t0
    return sorted(results, key=lambda r: r["p"]), elapsed


def verify(checks, scenario, path, expected, results, extra_errors_ok=False):
    """expected: {command_id: (agg_id, amount or None)} for every command that must be in the log."""
    errors = [dict(e, p=r["p"]) for r in results for e in r["errors"]]
    if not extra_errors_ok:
        checks.check(scenario, "no submission failed", not errors,
                     "(%d errors; first ones:\n    %s)" % (len(errors), "\n    ".join(map(str, errors[:10]))))
    c = connect(path)
    events = c.execute("SELECT position, aggregate_type, aggregate_id, version, type, data, command_id"
                       " FROM es_events ORDER BY position").fetchall()
    checks.check(scenario, "event count equals accepted commands", len(events) == len(expected),
                 "(%d events, %d accepted)" % (len(events), len(expected)))
    checks.check(scenario, "positions are exactly 1..N", [e[0] for e in events] == list(range(1, len(events) + 1)))
    per_agg = collections.defaultdict(list)
    for e in events:
        per_agg[(e[1], e[2])].append(e[3])
    bad = {k: v for k, v in per_agg.items() if v != list(range(1, len(v) + 1))}
    checks.check(scenario, "versions are 1..n per aggregate, in commit order", not bad,
                 "(%s)" % {k: v[:20] for k, v in list(bad.items())[:3]})
    cids = collections.Counter(e[6] for e in events)
    dups = {k: n for k, n in cids.items() if n != 1}
    checks.check(scenario, "every command_id appears exactly once", not dups and set(cids) == set(expected),
                 "(duplicates %s; missing %s; unexpected %s)" % (
                     list(dups.items())[:5], sorted(set(expected) - set(cids))[:5],
                     sorted(set(cids) - set(expected))[:5]))
    wrong = [e for e in events if e[6] in expected and (
        e[2] != expected[e[6]][0] or
        (expected[e[6]][1] is not None and json.loads(e[5]) != {"amount": expected[e[6]][1]}))]
    checks.check(scenario, "each event is its command's", not wrong, "(%s)" % wrong[:3])
    by_cid = {e[6]: e[3] for e in events}
    mismatched = [(r["p"], cid, v, by_cid.get(cid)) for r in results for cid, v in r["versions"].items()
                  if by_cid.get(cid) != v]
    checks.check(scenario, "versions returned match the log", not mismatched, "(%s)" % mismatched[:5])
    balances = collections.defaultdict(int)
    for agg_id, amt in expected.values():
        balances[agg_id] += amt or 0
    states = {a: json.loads(c.execute("SELECT es_state('account', ?)", (a,)).fetchone()[0]) for a in balances}
    bad_states = {a: (s, balances[a]) for a, s in states.items() if s.get("balance") != balances[a] or
                  s.get("status") != "open"}
    checks.check(scenario, "es_state balances equal the deposits", not bad_states, "(%s)" % bad_states)
    checks.check(scenario, "integrity_check", c.execute("PRAGMA integrity_check").fetchone()[0] == "ok")
    c.close()


def expected_of(plans, setup=()):
    exp = {}
    for agg_id, command, payload, options in list(setup) + [x for plan in plans for x in plan]:
        amt = json.loads(payload).get("amount") if command == "Deposit" else None
        exp[json.loads(options)["command_id"]] = (agg_id, amt)
    return exp


def report(scenario, results, elapsed):
    per = ", ".join("p%d %d ok/%d err in %.2fs" % (r["p"], len(r["versions"]), len(r["errors"]), r["elapsed"])
                    for r in results)
    print("%-22s %.2fs  (%s)" % (scenario, elapsed, per))


def scenario_submits(checks, tmp, scenario, setup, plans):
    path = new_database(tmp, scenario, setup)
    results, elapsed = run_processes(path, ["submit"] * len(plans), plans)
    report(scenario, results, elapsed)
    verify(checks, scenario, path, expected_of(plans, setup), results)
    return results


def main():
    for f in (ES, BANK):
        if not os.path.exists(f):
            print("missing %s: run `make all` first\n0 passed, 1 failed" % f)
            return 1
    checks = Checks()
    t_all = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="es-stress-") as tmp:
        # (a) same aggregate
        setup = [open_cmd("shared", "both")]
        plans = [[deposit_cmd("shared", amount(p, i), "a-p%d-%d" % (p, i)) for i in range(N)] for p in range(PROCS)]
        scenario_submits(checks, tmp, "same_aggregate", setup, plans)

        # (b) different aggregates: each process opens its own first
        plans = [[open_cmd("own-%d" % p, "p%d" % p)] +
                 [deposit_cmd("own-%d" % p, amount(p, i), "b-p%d-%d" % (p, i)) for i in range(N - 1)]
                 for p in range(PROCS)]
        scenario_submits(checks, tmp, "different_aggregates", [], plans)

        # (c) mix of shared and own accounts
        setup = [open_cmd("shared-0", "s0"), open_cmd("shared-1", "s1")]
        targets = lambda p, i: ("shared-0", "own-%d" % p, "shared-1", "shared-0")[i % 4]
        plans = [[open_cmd("own-%d" % p, "p%d" % p)] +
                 [deposit_cmd(targets(p, i), amount(p, i), "c-p%d-%d" % (p, i)) for i in range(N - 1)]
                 for p in range(PROCS)]
        scenario_submits(checks, tmp, "mix", setup, plans)

        # (d) the same command_ids from both processes: idempotency under concurrency
        setup = [open_cmd("shared", "both")]
        same = [deposit_cmd("shared", amount(0, i), "d-%d" % i) for i in range(N)]
        results = scenario_submits(checks, tmp, "same_command_ids", setup, [same] * PROCS)
        differ = [cid for cid in results[0]["versions"]
                  if any(r["versions"].get(cid) != results[0]["versions"][cid] for r in results[1:])]
        checks.check("same_command_ids", "both processes got the same version for each command_id",
                     not differ and all(len(r["versions"]) == N for r in results), "(%s)" % differ[:5])

        # (e) batches inside BEGIN IMMEDIATE … COMMIT
        scenario = "batch_in_immediate"
        setup = [open_cmd("shared-0", "s0")]
        plans = [[open_cmd("own-%d" % p, "p%d" % p)] +
                 [deposit_cmd(("shared-0", "own-%d" % p)[i % 2], amount(p, i), "e-p%d-%d" % (p, i))
                  for i in range(N - 1)] for p in range(PROCS)]
        path = new_database(tmp, scenario, setup)
        for p in range(PROCS):
            fill_inbox(path, p, plans[p])
        results, elapsed = run_processes(path, ["batch_immediate"] * PROCS, plans)
        report(scenario, results, elapsed)
        verify(checks, scenario, path, expected_of(plans, setup), results)

        # (f) a batch in autocommit (process 0) while process 1 writes
        scenario = "batch_in_autocommit"
        setup = [open_cmd("shared-0", "s0"), open_cmd("own-0", "p0"), open_cmd("own-1", "p1")]
        plans = [[deposit_cmd(("shared-0", "own-%d" % p)[i % 2], amount(p, i), "f-p%d-%d" % (p, i))
                  for i in range(N)] for p in range(PROCS)]
        path = new_database(tmp, scenario, setup)
        fill_inbox(path, 0, plans[0])
        results, elapsed = run_processes(path, ["batch_autocommit", "submit"], plans, with_sync=True)
        report(scenario, results, elapsed)
        batch, writer = results[0], results[1]
        be = batch["batch_error"]
        c = sqlite3.connect(path)
        committed = {r[0] for r in c.execute("SELECT command_id FROM es_events WHERE command_id LIKE 'f-p0-%'")}
        c.close()
        k = len(committed)
        checks.check(scenario, "the batch's committed rows are a prefix of the inbox",
                     committed == {json.loads(o)["command_id"] for _, _, _, o in plans[0][:k]},
                     "(%d committed)" % k)
        if be is None:
            print("  (the batch finished without meeting the writer's lock: %d rows)" % k)
            checks.check(scenario, "a batch without error committed every row", k == N, "(%d of %d)" % (k, N))
        else:
            print("  (the batch stopped at row %d of %d with: %s [%s])" % (k + 1, N, be["message"], be["name"]))
            checks.check(scenario, "the batch's error is es: busy (OperationalError, SQLITE_BUSY*)",
                         be["class"] == "OperationalError" and be["message"].startswith("es: busy: ") and
                         be["code"] is not None and be["code"] & 0xFF == 5, "(%s)" % be)
            checks.check(scenario, "the error says to use BEGIN IMMEDIATE", BUSY_HINT in be["message"],
                         "(%s)" % be["message"])
            checks.check(scenario, "rows before the failing one were all committed",
                         HEAD_START < k < N and k >= batch["rows_seen"],
                         "(%d committed, %d seen by Python)" % (k, batch["rows_seen"]))
        checks.check(scenario, "the writer's submissions all succeeded", not writer["errors"],
                     "(%s)" % writer["errors"][:5])
        written = list(writer["versions"])
        expected = expected_of([plans[0][:k]], setup)
        expected.update({cid: v for cid, v in expected_of([plans[1]]).items() if cid in set(written)})
        checks.check(scenario, "the writer ran a prefix of its plan",
                     written == [json.loads(o)["command_id"] for _, _, _, o in plans[1][:len(written)]])
        verify(checks, scenario, path, expected, [batch, writer])

    print("total %.2fs" % (time.perf_counter() - t_all))
    print("%d passed, %d failed" % (checks.passed, checks.failed))
    return 1 if checks.failed else 0


if __name__ == "__main__":
    sys.exit(main())
