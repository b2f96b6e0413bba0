#!/bin/sh
# run.sh — the SQL-script tests: each tests/sql/<name>.sql runs in the stock `sqlite3` shell on a
# fresh temporary database, and its output (stdout and stderr merged, so error messages are
# compared too) must equal tests/sql/<name>.expected exactly.
#
# A test that needs more than one shell session (reopening the database without the extension,
# comparing dumps taken by separate sessions) has a companion tests/sql/<name>.sh instead; it is
# run as `sh tests/sql/<name>.sh DB` from the repository root, with $SQLITE3 naming the shell, and
# its output is compared the same way. A companion may use tests/sql/<name>.sql or not.
#
# Usage, from the repository root after `make all`:
#   sh tests/sql/run.sh [name ...]          run every test, or the named ones
#   UPDATE_EXPECTED=1 sh tests/sql/run.sh   rewrite the .expected files (for authoring: read every
#                                           line of the result and confirm it is the CORRECT behaviour)
# It prints one line per test and then "N passed, M failed" on stdout (the diff of a failing test
# goes to stderr); it exits non-zero on any failure.

cd "$(dirname "$0")/../.." || exit 2
SQLITE3=${SQLITE3:-sqlite3}
export SQLITE3
dir=tests/sql

if [ ! -f dist/es.so ] || [ ! -f dist/bank.so ]; then
  echo "run.sh: dist/es.so and dist/bank.so are missing: run 'make all' first" >&2
  exit 2
fi
if ! command -v "$SQLITE3" >/dev/null 2>&1; then
  echo "run.sh: no '$SQLITE3' shell found (Debian: apt-get install sqlite3)" >&2
  exit 2
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/es-sql-tests.XXXXXX") || exit 2
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM

# The test names: every <name>.sql and every companion <name>.sh, once each, sorted.
if [ $# -gt 0 ]; then
  names=$*
else
  names=$(for f in "$dir"/*.sql "$dir"/*.sh; do
    [ -f "$f" ] || continue
    b=${f##*/}
    [ "$b" = run.sh ] && continue
    echo "${b%.*}"
  done | sort -u)
fi

passed=0
failed=0
for name in $names; do
  work=$tmp/$name
  mkdir -p "$work"
  db=$work/test.db
  out=$work/actual
  expected=$dir/$name.expected
  if [ -f "$dir/$name.sh" ]; then
    sh "$dir/$name.sh" "$db" >"$out" 2>&1
    status=$?
  elif [ -f "$dir/$name.sql" ]; then
    # -init /dev/null: no ~/.sqliterc; -batch: the same behaviour whatever stdin is.
    "$SQLITE3" -init /dev/null -batch "$db" <"$dir/$name.sql" >"$out" 2>&1
    status=$?
  else
    echo "FAIL $name: no $dir/$name.sql or $dir/$name.sh"
    failed=$((failed + 1))
    continue
  fi
  # The shell exits 1 when a statement failed (tests expect that); anything above is a crash or
  # a broken companion, and must not pass even if the output happened to be complete.
  if [ "$status" -gt 1 ]; then
    echo "run.sh: exited with status $status" >>"$out"
  fi
  if [ "${UPDATE_EXPECTED:-0}" = 1 ]; then
    cp "$out" "$expected"
    echo "UPDATED $name"
    passed=$((passed + 1))
  elif [ ! -f "$expected" ]; then
    echo "FAIL $name: $expected is missing"
    sed 's/^/    /' "$out" >&2
    failed=$((failed + 1))
  elif diff -u "$expected" "$out" >"$work/diff" 2>&1; then
    echo "ok   $name"
    passed=$((passed + 1))
  else
    echo "FAIL $name"
    sed -e "s|^--- $expected.*|--- $expected (expected)|" -e "s|^+++ $out.*|+++ actual output|" "$work/diff" |
      head -n 200 | sed 's/^/    /' >&2
    failed=$((failed + 1))
  fi
done

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
