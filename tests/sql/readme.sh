#!/bin/sh
# readme.sh — every ```sql block of README.md runs as written, so the README cannot drift from
# what sqlite-es does. Each top-level section (`## …`) that has ```sql blocks runs on a new
# database, in one sqlite3 session from the repository root, its blocks in order; the session
# echoes each statement before its output (.echo on), and a comment naming the section and block
# marks where each block starts. Times and the build's date, commit, SQLite version and flags
# (es_debug) are masked. A new block in a section without one needs its own `.load ./dist/es`.
# Also lists any block that uses `->`/`->>` (SQLite 3.38; the extension works from 3.35).
# Run by run.sh as `sh tests/sql/readme.sh DB`; output: readme.expected (regenerate it with
# UPDATE_EXPECTED=1 sh tests/sql/run.sh readme after a README change, and read every line).
db=$1
work=$(dirname "$db")/readme
SQLITE3=${SQLITE3:-sqlite3}
mkdir -p "$work"

# Split README.md: $work/NN.sql per section with sql blocks, $work/NN.title its heading.
awk -v dir="$work" '
  /^```/ && fence { fence = 0; next }
  /^```sql[ \t]*$/ { fence = 1; block++
    if (section != written) {
      written = section
      file = sprintf("%s/%02d.sql", dir, section)
      print heading > sprintf("%s/%02d.title", dir, section)
      print ".echo on" > file
    }
    printf "-- ==== README.md, %s: block %d\n", heading, block > file
    next }
  /^```/ { other = !other; next }
  fence { print > file; next }
  !other && /^## / { section++; heading = $0; block = 0 }
' README.md

# The shell buffers its output to a file but not its errors: line-buffer it, so that each error
# comes right after the statement that raised it.
buffer=""
if command -v stdbuf >/dev/null 2>&1; then buffer="stdbuf -oL"; fi

for f in "$work"/*.sql; do
  [ -f "$f" ] || continue
  n=${f%.sql}
  echo "======== $(cat "$n.title")"
  $buffer "$SQLITE3" -init /dev/null -batch "$n.db" <"$f" 2>&1 |
    sed -e 's/[0-9]\{4\}-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9]\.[0-9][0-9][0-9]Z/<time>/g' \
        -e 's/^Date: .*/Date: <build date>/' -e 's/^Commit: .*/Commit: <commit>/' \
        -e 's/^SQLite: .*/SQLite: <version>/' -e 's/^Build flags: .*/Build flags: <flags>/'
done

echo "======== blocks that use -> or ->> (none expected)"
grep -n -e '->' "$work"/*.sql | sed "s|^$work/||"
echo "(end)"
