#!/usr/bin/python3
"""
bench/profile.py — where a command's time goes: runs one command workload (W1a, W1b or W2) of one
setup of build/bench/bench under callgrind and prints, per command, the instructions of the
hand-written baseline and of sqlite-es, and of sqlite-es's parts (inclusive: a part contains the
parts indented under it). Instruction counts do not depend on the machine's load, unlike rates.

usage: python3 bench/profile.py W1b 2 [commands]      (make profile PROFILE_WORKLOAD=W1b PROFILE_SETUP=2)
"""
import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile

# (depth, label, function): a function's inclusive cost, per command.
PARTS = [
    (0, "sqlite-es: SELECT es_submit(…) bound and stepped", "es_submit_one"),
    (1, "es_submit, the SQL function", "es_submit_fn"),
    (2, "definitions of SQL aggregates checked", "es_sql_aggregates_sync"),
    (2, "unit of work: BEGIN IMMEDIATE or SAVEPOINT", "es_txn_begin"),
    (2, "storage verified (schema unchanged?)", "es_store_open"),
    (2, "state cache checked against PRAGMA data_version", "es_store_data_version"),
    (2, "the command: state, decide, append", "es_command_run_with"),
    (3, "payload parsed", "es_json_parse"),
    (3, "stream version read (cache and snapshot check)", "port_stream_version"),
    (3, "state folded from the log (cache miss)", "es_state_load"),
    (3, "emitted events evolved into the state", "es_state_apply"),
    (3, "events appended", "port_append"),
    (4, "guarded writes: the event INSERT and the head UPDATE", "es_store_guarded_write"),
    (2, "read models updated", "es_views_apply"),
    (3, "C views' folds", "es_view_apply"),
    (4, "view rows written", "port_write"),
    (4, "view rows found", "port_find"),
    (2, "unit of work: COMMIT or RELEASE", "es_txn_commit"),
]


def inclusive_costs(path):
    """Inclusive cost and call count of every function in one callgrind file."""
    out = subprocess.run(["callgrind_annotate", "--inclusive=yes", "--tree=caller", path],
                         capture_output=True, text=True, check=True).stdout
    cost, calls = {}, {}
    for line in out.splitlines():
        m = re.match(r"\s*([\d,]+) \([ \d.]+%\)  ([<*])\s+(\S+?):(\S+)(?: \(([\d,]+)x\))?", line)
        if not m:
            continue
        n, kind, fn = int(m.group(1).replace(",", "")), m.group(2), m.group(4)
        if kind == "*":
            cost[fn] = max(cost.get(fn, 0), n)
        elif m.group(5):
            calls[fn] = calls.get(fn, 0) + int(m.group(5).replace(",", ""))
    return cost, calls


def main():
    if len(sys.argv) < 3 or sys.argv[1] not in ("W1a", "W1b", "W2"):
        sys.exit(__doc__.strip())
    workload, setup = sys.argv[1], sys.argv[2]
    commands = sys.argv[3] if len(sys.argv) > 3 else "6000"
    for tool in ("valgrind", "callgrind_annotate"):
        if not shutil.which(tool):
            sys.exit("profile: %s is missing: apt-get install valgrind" % tool)
    bench = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "build", "bench", "bench")
    tmp = tempfile.mkdtemp(prefix="es_profile_")
    env = dict(os.environ, BENCH_ONLY=workload, BENCH_SETUPS=setup, BENCH_ROUNDS="1",
               BENCH_W1A=commands, BENCH_W1B=commands, BENCH_W2=commands,
               BENCH_W2_BLOCK=str(max(1, int(commands) // 10)))
    run = subprocess.run(["valgrind", "--tool=callgrind", "--trace-children=yes",
                          "--callgrind-out-file=" + os.path.join(tmp, "cg.%p"), bench],
                         env=env, capture_output=True, text=True)
    if run.returncode != 0:
        sys.exit("profile: the benchmark failed:\n" + run.stdout + run.stderr)
    hand = es = None
    for path in glob.glob(os.path.join(tmp, "cg.*")):
        cost, calls = inclusive_costs(path)
        if "hand_submit" in cost:
            hand = (cost, calls)
        if "es_submit_fn" in cost:
            es = (cost, calls)
    shutil.rmtree(tmp)
    if not hand or not es:
        sys.exit("profile: no run of either side found in the callgrind output")
    n = es[1].get("es_submit_fn") or int(commands)
    per = lambda side, fn: side[0].get(fn, 0) / n
    print("%s, setup %s: %d commands under callgrind; instructions per command (inclusive)\n" % (workload, setup, n))
    print("| part | instructions |")
    print("|---|---|")
    print("| hand-written baseline (read, decide, append, read models) | %.1fk |" % (per(hand, "hand_submit") / 1000))
    for depth, label, fn in PARTS:
        if fn in es[0]:
            print("| %s%s | %.1fk |" % ("&nbsp;" * 4 * depth, label, per(es, fn) / 1000))
    print("\nratio of instructions (hand / sqlite-es): %.2f" % (per(hand, "hand_submit") / per(es, "es_submit_one")))


if __name__ == "__main__":
    main()
