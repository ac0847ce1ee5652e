# The one task runner. `make demo` and `make test` work on a fresh clone: they install first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
LINTED := somia scripts tests

.DEFAULT_GOAL := help
.PHONY: help install generate api-diff check-generated lint typecheck pytest pytest-httpx2-alias test \
	test-fast demo contract bench clean docs docs-serve cli-docs chromium release-check

help:
	@echo "make demo             a streamed conversation against the fake server"
	@echo "make test             lint, type-check, drift check and the whole test suite"
	@echo "make test-fast        pytest without the slow tests (subprocesses, the generator)"
	@echo "make pytest-httpx2-alias  the same tests with httpx aliased to httpx2 (a venv of its own)"
	@echo "make install          create .venv and install the project with its dev group"
	@echo "make generate         regenerate generated/somia_api from openapi/somia.yaml"
	@echo "make check-generated  fail with a diff when generated/ is stale"
	@echo "make api-diff BASE=<git ref>  the API's changes since that ref; fails on breaking"
	@echo "make contract         contract-test a live deployment (SOMIA_CONTRACT_BASE_URL, ...; <= 20 paid turns)"
	@echo "make bench            measure the SDK against raw httpx and httpx-sse"
	@echo "make docs             build the documentation site into site/ (--strict)"
	@echo "make docs-serve       serve the documentation on http://127.0.0.1:8000, rebuilt on edits"
	@echo "make cli-docs         rewrite docs/cli.md from the command line's parsers"
	@echo "make release-check    build and check the artifacts, and gate the Python surface (BASE=)"

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e ".[testing,otel]" --group dev
	@touch $(STAMP)

install: $(STAMP)

# A venv of its own where `import httpx` is httpx2, as in an application that migrated with
# httpx2.alias_httpx(): its sitecustomize calls it before anything (pytest's plugins) imports
# httpx. It holds no packages: a .pth adds .venv's (the same versions, nothing installed twice).
ALIAS_VENV := .venv-httpx2-alias
ALIAS_STAMP := $(ALIAS_VENV)/.installed
ALIAS_SITE = $$($(ALIAS_VENV)/bin/python -c 'import sysconfig; print(sysconfig.get_path("purelib"))')

$(ALIAS_STAMP): $(STAMP)
	rm -rf $(ALIAS_VENV)
	$(PYTHON) -m venv --without-pip $(ALIAS_VENV)
	echo "import site; site.addsitedir('$$($(BIN)/python -c 'import sysconfig; print(sysconfig.get_path("purelib"))')')" \
		> "$(ALIAS_SITE)/dot-venv.pth"
	echo 'import httpx2; httpx2.alias_httpx()' > "$(ALIAS_SITE)/sitecustomize.py"
	@touch $(ALIAS_STAMP)

generate: $(STAMP)
	$(BIN)/python -m scripts.generate

# The release gate: the document at $(BASE) against the working tree. The script exits 0, 1 for
# a change at or above FAIL_ON (breaking, or warning), 2 for a bad ref or document; make itself
# reports any failure as its own status 2, with the script's status in its "Error N" line.
FAIL_ON ?= breaking
api-diff: $(STAMP)
	@$(BIN)/python -m scripts.api_diff --base "$(BASE)" --fail-on "$(FAIL_ON)" --changelog $(if $(SPEC),--spec "$(SPEC)")

check-generated: $(STAMP)
	$(BIN)/python -m scripts.generate --check

lint: $(STAMP)
	$(BIN)/ruff check $(LINTED)
	$(BIN)/ruff format --check $(LINTED)

typecheck: $(STAMP)
	$(BIN)/mypy $(LINTED)
	$(BIN)/mypy generated/somia_api

# Branch coverage of somia/, in the Python processes the tests start too: coverage's own .pth
# file starts it in each interpreter when COVERAGE_PROCESS_START is set. The floor is
# [tool.coverage.report]'s fail_under. The httpx2 run below is not measured: same code, twice.
pytest: $(STAMP)
	rm -f .coverage .coverage.*
	COVERAGE_PROCESS_START=$(CURDIR)/pyproject.toml COVERAGE_FILE=$(CURDIR)/.coverage $(BIN)/pytest -q
	$(BIN)/coverage combine --quiet
	$(BIN)/coverage report

# The unit suite once more with httpx aliased to httpx2 (its import order makes pytest warn that
# modules were imported before their assertions could be rewritten: harmless here).
pytest-httpx2-alias: $(ALIAS_STAMP)
	$(ALIAS_VENV)/bin/python -c 'import httpx; assert httpx.__name__ == "httpx2", httpx'
	$(ALIAS_VENV)/bin/python -m pytest -q -m "not slow" -W ignore::pytest.PytestAssertRewriteWarning

test: lint typecheck check-generated chromium pytest pytest-httpx2-alias

# The inner loop: pytest without the tests marked slow (subprocesses, the generator).
test-fast: $(STAMP)
	$(BIN)/pytest -q -m "not slow"

demo: $(STAMP)
	$(BIN)/python -m scripts.demo

# The contract suite against the deployment the variables name (tests/contract/settings.py).
# pytest exits 0 when every promise held, 1 for a broken one, 2 for a configuration error;
# make reports a failure as its own status 2, with pytest's in its "Error N" line.
contract: $(STAMP)
	$(BIN)/pytest tests/contract --live -q

bench: $(STAMP)
	$(BIN)/python -m scripts.bench

clean:
	rm -rf $(VENV) $(ALIAS_VENV) .hypothesis .schemathesis .mypy_cache .ruff_cache dist build site \
		.coverage .coverage.* htmlcov

# MkDocs 1.x prints an end-of-life banner on every build; the site's config stays plain so a
# successor generator can read it (CONTRIBUTING.md says why).
MKDOCS := NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs

docs: $(STAMP)
	$(MKDOCS) build --strict --site-dir site

docs-serve: $(STAMP)
	$(MKDOCS) serve --dev-addr 127.0.0.1:8000

cli-docs: $(STAMP)
	$(BIN)/python -m scripts.cli_docs

# The browser test drives Debian's chromium (never a downloaded one). CI runs as root on a
# fresh machine, so it is installed there; anyone else is told the one command to run.
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing Debian's chromium for the docs browser test"; \
	    apt-get update -qq && apt-get install -y -qq chromium >/dev/null; \
	  else \
	    echo "chromium is missing; the docs browser test needs it. Run:"; \
	    echo "  sudo apt-get update && sudo apt-get install -y chromium"; \
	    exit 1; \
	  fi; \
	}

# What a release ships, checked: artifacts, metadata, a wheel in an empty venv, the changelog,
# and the Python surface against the last recorded release (releases.toml; BASE=<ref> overrides).
release-check: $(STAMP)
	$(BIN)/python -m scripts.release_check $(if $(BASE),--base "$(BASE)")
