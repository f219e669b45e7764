# The two commands of the README: `make demo` and `make test`. Both create the
# virtualenv (.venv) and install what they need on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# apt-get needs root; elsewhere sudo, if there is one.
SUDO := $(shell [ "$$(id -u)" = 0 ] || command -v sudo)

.PHONY: demo test test-all test-fast lint bench system-deps clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test,bench]'
	touch $@

demo: $(STAMP)
	$(BIN)/memkv demo

# strace checks what each durability level asks of the disk (tests/memkv/test_lmdb_backend.py);
# nats-server (JetStream) is the real sink of tests/audit_outbox; postgresql's server binaries
# run the throwaway cluster of the PostgreSQL backend's tests (tests/postgres_cluster.py, which
# tests/postgres.py starts for the test session): on a loopback port, removed when the run ends.
SYSTEM_PACKAGES := strace nats-server
system-deps:
	@missing=""; for tool in $(SYSTEM_PACKAGES); do \
		command -v $$tool >/dev/null 2>&1 || [ -x /usr/sbin/$$tool ] || missing="$$missing $$tool"; done; \
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing="$$missing postgresql"; \
	if [ -n "$$missing" ]; then $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq $$missing; fi

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports --no-cache

# The long loops (tests marked slow) each have a short version in the default run;
# `make test-all` runs them at full length too.
test: $(STAMP) system-deps lint
	CI=$${CI:-true} $(BIN)/pytest -m "not slow"

test-all: $(STAMP) system-deps lint
	CI=$${CI:-true} $(BIN)/pytest

test-fast: $(STAMP)
	$(BIN)/pytest -m "not slow" -x -q

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_core.py
	$(BIN)/python benchmarks/bench_write_throughput.py
	$(BIN)/python benchmarks/bench_postgres.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
