# Every target installs what it needs on a fresh machine: a .venv and local npm packages.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
NPM_STAMP := node_modules/.installed

.PHONY: demo test lint typecheck unit install clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

$(NPM_STAMP): package.json
	npm install --no-audit --no-fund --loglevel=error
	touch $(NPM_STAMP)

install: $(STAMP) $(NPM_STAMP)

# The console's browser tests drive Debian's Chromium (Playwright never downloads a browser);
# they fail without it, so a fresh machine gets it from apt.
CHROMIUM := /usr/bin/chromium
$(CHROMIUM):
	@if [ "$$(id -u)" = 0 ]; then SUDO=; elif command -v sudo >/dev/null; then SUDO=sudo; \
	else echo "make test needs Debian's chromium for the browser tests: apt-get install chromium" >&2; \
	exit 1; fi; \
	$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

# pytest exits 5 when it collects no test: that is a failure here, as any non-zero exit is.
unit: install $(CHROMIUM)
	PATH="$(CURDIR)/node_modules/.bin:$$PATH" $(BIN)/pytest

test: lint typecheck unit

demo: install
	PATH="$(CURDIR)/node_modules/.bin:$$PATH" $(BIN)/python -m facepipe.cli.demo

clean:
	rm -rf $(VENV) node_modules cdk.out .pytest_cache .mypy_cache .ruff_cache
