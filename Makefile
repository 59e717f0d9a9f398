# Two entry points: `make run` and `make test`. Both create .venv on first use.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: run test lint typecheck unit bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

## Validate and deploy the bundled example flows, then start Perch on ./.perch (SQLite).
run: $(STAMP)
	$(BIN)/perch flow validate examples/*.yaml
	$(BIN)/perch flow deploy examples/*.yaml
	$(BIN)/perch server local

## Everything CI checks: lint, format, types, layers, then the test suite.
test: lint typecheck unit

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/lint-imports

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/pytest -n 4 -q

bench: $(STAMP)
	$(BIN)/python benchmarks/templating.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
