# The one task runner. `make demo` and `make test` work on a fresh clone: they install first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
LINTED := somia scripts tests

.DEFAULT_GOAL := help
.PHONY: help install generate api-diff check-generated lint typecheck pytest test test-fast demo contract bench clean

help:
	@echo "make demo             a streamed conversation against the fake server"
	@echo "make test             lint, type-check, drift check and the whole test suite"
	@echo "make test-fast        pytest without the slow tests (subprocesses, the generator)"
	@echo "make install          create .venv and install the project with its dev extras"
	@echo "make generate         regenerate generated/somia_api from openapi/somia.yaml"
	@echo "make check-generated  fail with a diff when generated/ is stale"
	@echo "make api-diff BASE=<git ref>  the API's changes since that ref; fails on breaking"
	@echo "make contract         contract-test a live deployment (SOMIA_CONTRACT_BASE_URL, ...; <= 15 paid turns)"
	@echo "make bench            measure the SDK against raw httpx and httpx-sse"

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e ".[dev]"
	@touch $(STAMP)

install: $(STAMP)

generate: $(STAMP)
	$(BIN)/python scripts/generate.py

# The release gate: the document at $(BASE) against the working tree. The script exits 0, 1 for
# a change at or above FAIL_ON (breaking, or warning), 2 for a bad ref or document; make itself
# reports any failure as its own status 2, with the script's status in its "Error N" line.
FAIL_ON ?= breaking
api-diff: $(STAMP)
	@$(BIN)/python scripts/api_diff.py --base "$(BASE)" --fail-on "$(FAIL_ON)" --changelog $(if $(SPEC),--spec "$(SPEC)")

check-generated: $(STAMP)
	$(BIN)/python scripts/generate.py --check

lint: $(STAMP)
	$(BIN)/ruff check $(LINTED)
	$(BIN)/ruff format --check $(LINTED)

typecheck: $(STAMP)
	$(BIN)/mypy $(LINTED)
	$(BIN)/mypy generated/somia_api

pytest: $(STAMP)
	$(BIN)/pytest -q

test: lint typecheck check-generated pytest

# The inner loop: pytest without the tests marked slow (subprocesses, the generator).
test-fast: $(STAMP)
	$(BIN)/pytest -q -m "not slow"

demo: $(STAMP)
	$(BIN)/python scripts/demo.py

contract: $(STAMP)
	@$(BIN)/python scripts/contract.py

bench: $(STAMP)
	$(BIN)/python scripts/bench.py

clean:
	rm -rf $(VENV) .hypothesis .schemathesis .mypy_cache .ruff_cache dist build
