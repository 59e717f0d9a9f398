# Two entry points: `make run` and `make test`. Both create .venv on first use.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

SDKS ?= .sdks
KESTRAPY_VERSIONS := 1.3.1 2.0.3
SDK_STAMP := $(SDKS)/.installed-$(subst $() ,-,$(KESTRAPY_VERSIONS))

.PHONY: run test lint typecheck unit bench clean sdks

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

## Kestra's Python SDK, both generations, each in a folder of its own (one venv cannot hold two
## versions of a package): tests/conformance drives Perch with them. `regex` is imported by the
## SDK's models but not declared by it.
$(SDK_STAMP): $(STAMP)
	for v in $(KESTRAPY_VERSIONS); do \
		$(BIN)/python -m pip install --quiet --upgrade --target $(SDKS)/kestrapy-$$v "kestrapy==$$v" regex || exit 1; \
	done
	touch $@

sdks: $(SDK_STAMP)

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

unit: $(STAMP) $(SDK_STAMP)
	$(BIN)/pytest -n 4 -q

bench: $(STAMP)
	$(BIN)/python benchmarks/templating.py

clean:
	rm -rf $(VENV) $(SDKS) .pytest_cache .mypy_cache .ruff_cache
