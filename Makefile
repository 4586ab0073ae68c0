# The one task runner: the README, developers and .ci/run all go through it.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: run test lint typecheck unit coverage suite bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.run-deps: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.test-deps: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@ $(VENV)/.run-deps

## make run: set up, seed the demo (SQLite, synthetic data) and serve it on http://127.0.0.1:8000
run: $(VENV)/.run-deps
	DMP_DATA_DIR=$${DMP_DATA_DIR:-var/demo} $(BIN)/dmp demo

## make test: set up with the test extras, lint, type-check, run the whole suite
test: $(VENV)/.test-deps lint typecheck coverage suite

lint: $(VENV)/.test-deps
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

typecheck: $(VENV)/.test-deps
	$(BIN)/mypy

# The rules (dmp.policy) are covered in full, every line and branch, by their own tests: the
# unit tests, with their truth tables and property models. The rest of the suite runs without
# the coverage tracer, which slowed it by ~40 % (the HTTP state machine's long run: 67 s → 93 s).
coverage: $(VENV)/.test-deps
	$(BIN)/pytest -n auto --dist worksteal --cov=dmp.policy --cov-branch --cov-report= tests/unit $(PYTEST_ARGS)
	$(BIN)/coverage report --include='*/dmp/policy/*' --show-missing --fail-under=100

suite: $(VENV)/.test-deps
	$(BIN)/pytest -n auto --dist worksteal --durations=15 --ignore=tests/unit $(PYTEST_ARGS)

unit: $(VENV)/.test-deps
	$(BIN)/pytest tests/unit -q

$(VENV)/.bench-deps: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test,bench]'
	touch $@ $(VENV)/.test-deps $(VENV)/.run-deps

## make bench: the benchmarks against PostgreSQL (see docs/performance.md)
bench: $(VENV)/.bench-deps
	$(BIN)/python -m benchmarks.run

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache .hypothesis .coverage
