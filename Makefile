# sqlite-es — build, demo and tests. `make demo` and `make test` install what they need on
# Debian as root (scripts/deps.sh); elsewhere they name the packages to install.

CC      ?= cc
CSTD     = -std=c11 -D_POSIX_C_SOURCE=200809L
WARN     = -Wall -Wextra -Werror
OPT     ?= -O2 -g
CFLAGS_EXT = $(CSTD) $(WARN) $(OPT) -fPIC -fvisibility=hidden
COMMIT  := $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
DATE    := $(shell date -u +%Y-%m-%dT%H:%M:%SZ)
BUILD_DEFS = -DES_BUILD_COMMIT='"$(COMMIT)"' -DES_BUILD_DATE='"$(DATE)"' -DES_BUILD_FLAGS='"$(OPT)"'
PYTHON  ?= /usr/bin/python3

DOMAIN_SRC = $(wildcard ext/domain/*.c)
ADAPTER_SRC = $(wildcard ext/store/*.c) $(wildcard ext/sqlapi/*.c) ext/es.c
EXT_SRC = $(DOMAIN_SRC) $(ADAPTER_SRC)
EXT_HDR = $(wildcard ext/*.h ext/*/*.h)

.PHONY: all demo test deps-demo deps-test unit unit-asan unit-valgrind integration integration-valgrind sql-tests \
        sql-valgrind lang-tests \
        concurrency check-domain check-deps fuzz clean

all: dist/es.so dist/bank.so dist/bank_views.so dist/libsqlite_es.a sql/bank.sql

# The SQL bank in one file (`.read` it from any directory), from its two hand-written parts.
sql/bank.sql: sql/bank_aggregate.sql sql/bank_views.sql scripts/bank_sql.sh
	sh scripts/bank_sql.sh >$@.tmp && mv $@.tmp $@

# ---- the extension ----

dist/es.so: $(EXT_SRC) $(EXT_HDR)
	@mkdir -p dist
	$(CC) $(CFLAGS_EXT) $(BUILD_DEFS) -shared -o $@ $(EXT_SRC)

dist/bank.so: examples/bank/bank.c ext/es.h
	@mkdir -p dist
	$(CC) $(CFLAGS_EXT) -Iext -shared -o $@ examples/bank/bank.c

dist/bank_views.so: examples/bank/bank_views.c ext/es.h
	@mkdir -p dist
	$(CC) $(CFLAGS_EXT) -Iext -shared -o $@ examples/bank/bank_views.c

# The static variant: compiled into the application (SQLITE_CORE), registered with
# sqlite3_auto_extension through es_register_auto_extension() (ext/static_init.c).
STATIC_OBJ = $(patsubst %.c,build/static/%.o,$(EXT_SRC) ext/static_init.c)
build/static/%.o: %.c $(EXT_HDR)
	@mkdir -p $(dir $@)
	$(CC) $(CSTD) $(WARN) $(OPT) -DSQLITE_CORE -DES_STATIC $(BUILD_DEFS) -c -o $@ $<
dist/libsqlite_es.a: $(STATIC_OBJ)
	@mkdir -p dist
	rm -f $@ && ar rcs $@ $^

# ---- the README's two commands ----

demo: deps-demo dist/es.so dist/bank.so dist/bank_views.so
	@sh examples/bank/run_demo.sh

test: deps-test check-domain check-deps unit unit-asan unit-valgrind integration integration-valgrind sql-tests \
      sql-valgrind lang-tests concurrency
	@echo "make test: every suite passed"

deps-demo:
	@sh scripts/deps.sh demo
deps-test:
	@sh scripts/deps.sh test

# ---- tests ----

UNIT_TESTS = $(patsubst tests/unit/%.c,%,$(filter-out tests/unit/fake_%.c,$(wildcard tests/unit/test_*.c)))
UNIT_SUPPORT = tests/unit/fake_mem.c tests/unit/fake_store.c tests/unit/sample_aggregates.c tests/unit/fake_view_store.c \
  ext/store/query_translate.c
UNIT_CFLAGS = $(CSTD) $(WARN) -g -Iext

build/unit/%: tests/unit/%.c $(DOMAIN_SRC) $(UNIT_SUPPORT) $(EXT_HDR) $(wildcard tests/unit/*.h)
	@mkdir -p build/unit
	$(CC) $(UNIT_CFLAGS) -O1 -o $@ $< $(DOMAIN_SRC) $(UNIT_SUPPORT) -lcmocka
build/unit-asan/%: tests/unit/%.c $(DOMAIN_SRC) $(UNIT_SUPPORT) $(EXT_HDR) $(wildcard tests/unit/*.h)
	@mkdir -p build/unit-asan
	$(CC) $(UNIT_CFLAGS) -O1 -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer \
	  -o $@ $< $(DOMAIN_SRC) $(UNIT_SUPPORT) -lcmocka

unit: $(addprefix build/unit/,$(UNIT_TESTS))
	@for t in $^; do echo "== $$t"; $$t || exit 1; done
unit-asan: $(addprefix build/unit-asan/,$(UNIT_TESTS))
	@for t in $^; do echo "== $$t (ASan+UBSan)"; $$t || exit 1; done
unit-valgrind: $(addprefix build/unit/,$(UNIT_TESTS))
	@for t in $^; do echo "== $$t (valgrind)"; \
	  valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,indirect $$t || exit 1; done

# Integration tests: C against a real SQLite, with the static variant (plain and ASan+UBSan builds).
INTEG_TESTS = $(patsubst tests/integration/%.c,%,$(wildcard tests/integration/test_*.c))
INTEG_SUPPORT = $(wildcard tests/integration/support_*.c)
build/integration/%: tests/integration/%.c $(EXT_SRC) ext/static_init.c $(EXT_HDR) $(INTEG_SUPPORT) examples/bank/bank.c examples/bank/bank_views.c
	@mkdir -p build/integration
	$(CC) $(CSTD) $(WARN) -g -O1 -Iext -DSQLITE_CORE -DES_STATIC -o $@ $< $(EXT_SRC) ext/static_init.c \
	  examples/bank/bank.c examples/bank/bank_views.c $(INTEG_SUPPORT) -lsqlite3 -lcmocka -lpthread
build/integration-asan/%: tests/integration/%.c $(EXT_SRC) ext/static_init.c $(EXT_HDR) $(INTEG_SUPPORT) examples/bank/bank.c examples/bank/bank_views.c
	@mkdir -p build/integration-asan
	$(CC) $(CSTD) $(WARN) -g -O1 -Iext -DSQLITE_CORE -DES_STATIC -fsanitize=address,undefined \
	  -fno-sanitize-recover=all -fno-omit-frame-pointer -o $@ $< $(EXT_SRC) ext/static_init.c examples/bank/bank.c examples/bank/bank_views.c \
	  $(INTEG_SUPPORT) -lsqlite3 -lcmocka -lpthread
integration: all $(addprefix build/integration/,$(INTEG_TESTS)) $(addprefix build/integration-asan/,$(INTEG_TESTS))
	@for t in $(addprefix build/integration/,$(INTEG_TESTS)) $(addprefix build/integration-asan/,$(INTEG_TESTS)); do \
	  echo "== $$t"; (cd build && ../$$t) || exit 1; done

integration-valgrind: $(addprefix build/integration/,$(INTEG_TESTS))
	@for t in $^; do echo "== $$t (valgrind)"; (cd build && valgrind -q --error-exitcode=99 --leak-check=full \
	  --errors-for-leak-kinds=definite,indirect ../$$t) || exit 1; done

sql-tests: all
	@sh tests/sql/run.sh

# The same scripts with the stock shell under valgrind: the loadable extension, as users load it.
sql-valgrind: all
	@SQLITE3=$(CURDIR)/scripts/valgrind-sqlite3.sh sh tests/sql/run.sh

lang-tests: all
	@$(PYTHON) tests/lang/python/run.py

concurrency: all
	@$(PYTHON) tests/stress/concurrent_submit.py
	@$(PYTHON) tests/stress/consumer_kill9.py

# ---- the benchmark (issue 10; never part of `make test`) ----
# `make bench` builds the static variant and bench/, then runs W1a, W1b, W2 and W3 against a
# hand-written baseline (README, Performance). Sizes from the environment: BENCH_W1A, BENCH_W1B,
# BENCH_W2, BENCH_W2_BLOCK, BENCH_W3, BENCH_ACCOUNTS, BENCH_ROUNDS; BENCH_FULL=1 for the issue's.

BENCH_SRC = $(wildcard bench/*.c)
BENCH_OPT = -O2
build/bench/bench: $(BENCH_SRC) bench/bench.h dist/libsqlite_es.a examples/bank/bank.c examples/bank/bank_views.c $(EXT_HDR)
	@mkdir -p build/bench
	$(CC) $(CSTD) $(WARN) $(BENCH_OPT) -Iext -DSQLITE_CORE -DES_STATIC -DBENCH_CFLAGS='"$(BENCH_OPT)"' \
	  -DBENCH_SQL_DIR='"$(CURDIR)/sql"' -o $@ $(BENCH_SRC) examples/bank/bank.c examples/bank/bank_views.c \
	  dist/libsqlite_es.a -lsqlite3

.PHONY: bench
bench: build/bench/bench sql/bank.sql
	@BENCH_COMMIT="$$(git describe --always --dirty 2>/dev/null || echo unknown)" build/bench/bench

# Instructions per command, both sides and sqlite-es's parts, under callgrind (README, Performance).
PROFILE_WORKLOAD ?= W1b
PROFILE_SETUP ?= 1
PROFILE_COMMANDS ?= 6000
.PHONY: profile
profile: build/bench/bench sql/bank.sql
	@python3 bench/profile.py $(PROFILE_WORKLOAD) $(PROFILE_SETUP) $(PROFILE_COMMANDS)

# The domain includes no SQLite header.
check-domain:
	@if grep -rlE '#include[[:space:]]*[<"]sqlite3(ext)?\.h' ext/domain; then \
	  echo "ext/domain must not include SQLite headers"; exit 1; fi
	@echo "check-domain: ext/domain includes no SQLite header"

# es.so needs nothing at run time but the C library (SQLite's API comes from the host).
check-deps: dist/es.so
	@libs=$$(objdump -p dist/es.so | awk '/NEEDED/ {print $$2}' | tr '\n' ' '); \
	  case "$$libs" in "libc.so.6 ") echo "check-deps: dist/es.so needs only $$libs";; \
	  *) echo "dist/es.so needs more than libc: $$libs"; exit 1;; esac

fuzz:
	@mkdir -p build/fuzz
	clang -g -O1 -fsanitize=fuzzer,address,undefined -D_POSIX_C_SOURCE=200809L -o build/fuzz/fuzz_json \
	  tests/fuzz/fuzz_json.c ext/domain/json.c ext/domain/mem_util.c tests/unit/fake_mem.c
	build/fuzz/fuzz_json -max_total_time=$${FUZZ_SECONDS:-60} -max_len=4096 tests/fuzz/corpus/json

clean:
	rm -rf build dist
