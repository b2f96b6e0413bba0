#!/bin/sh
# deps.sh — make sure what `make demo` (deps.sh demo) or `make test` (deps.sh test) needs is here.
# On Debian/Ubuntu as root it installs the missing packages with apt-get; elsewhere it names them
# and stops.
set -u
purpose=${1:-demo}
missing=""

# need PACKAGE CHECK...: PACKAGE is missing unless the shell command CHECK succeeds.
need() {
  pkg=$1
  shift
  if ! sh -c "$*" >/dev/null 2>&1; then missing="$missing $pkg"; fi
}

need gcc "command -v ${CC:-cc}"
need make "command -v make"
need sqlite3 "command -v sqlite3"
need libsqlite3-dev "test -f /usr/include/sqlite3.h && test -f /usr/include/sqlite3ext.h"
need binutils "command -v objdump"
if [ "$purpose" = test ]; then
  need libcmocka-dev "test -f /usr/include/cmocka.h"
  need valgrind "command -v valgrind"
  need python3 "/usr/bin/python3 -c 'import sqlite3; sqlite3.connect(\":memory:\").enable_load_extension(True)'"
fi

[ -z "$missing" ] && exit 0

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "deps: installing$missing"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq $missing >/dev/null || {
    echo "deps: apt-get install$missing failed" >&2
    exit 1
  }
  exit 0
fi

echo "deps: missing packages:$missing" >&2
echo "deps: on Debian/Ubuntu run: sudo apt-get install$missing" >&2
echo "deps: elsewhere install the equivalents (a C compiler, make, the sqlite3 shell and SQLite headers," >&2
echo "      cmocka, valgrind, and a python3 whose sqlite3 module can load extensions)" >&2
exit 1
