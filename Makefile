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

demo: $(STAMP)
	$(BIN)/pgtop --demo

clean:
	rm -rf $(VENV) .venv-* .pytest_cache .ruff_cache

# --- extra PostgreSQL versions for the integration tests (see tests/support) ---
.PHONY: extra-postgres
extra-postgres:
	@true
# --- end extra PostgreSQL versions ---
