# The commands the README gives. `make run` and `make test` bootstrap .venv on first use and
# reinstall when pyproject.toml or constraints.txt change; versions are pinned by constraints.txt.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test test-pg lint format typecheck bench clean

$(STAMP): pyproject.toml constraints.txt
	@if test -x $(BIN)/python; then echo "updating $(VENV) (pyproject.toml or constraints.txt changed)..."; \
	else echo "setting up $(VENV) (first run only, about a minute)..."; fi
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --constraint constraints.txt --editable '.[test]'
	touch $(STAMP)
	@echo "$(VENV) is ready"

run: $(STAMP)
	$(BIN)/digest run

test: $(STAMP)
	$(BIN)/pytest

# The tests against a throwaway PostgreSQL (.ci/postgres), stopped however pytest ends (dash runs
# the EXIT trap on Ctrl-C only when INT is trapped). Some tests: make test-pg PYTEST_ARGS=tests/x.py
test-pg: $(STAMP)
	@pg_env=$$(.ci/postgres start) && eval "$$pg_env" && \
	trap '.ci/postgres stop' EXIT && trap 'exit 130' INT TERM && \
	$(BIN)/pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check digest tests bench
	$(BIN)/ruff format --check digest tests bench
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff format digest tests bench
	$(BIN)/ruff check --fix digest tests bench

bench: $(STAMP)
	$(BIN)/python bench/ingest_rank.py

clean:
	rm -rf $(VENV) out .pytest_cache .mypy_cache .ruff_cache
