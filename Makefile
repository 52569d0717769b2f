# The two commands of the README: `make run` and `make test` (and `make test-fast`, the inner loop). GNU make.
SHELL := /bin/bash
.DEFAULT_GOAL := run

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
# Touched after a successful install; pyproject.toml newer than it means "install again".
INSTALLED := $(VENV)/.installed
PORT ?= 8000
HOST ?= 127.0.0.1
PYTEST_ARGS ?=
# pytest-xdist workers per pass (each with its own test database, test_…_gw0, _gw1, …). Three on two
# cores: a third of the suite waits on other processes (simulators, workers, the browser), and a third
# worker fills those waits. TEST_WORKERS=0 runs in one process, as before.
TEST_WORKERS ?= 3
XDIST = $(if $(filter 0,$(TEST_WORKERS)),,-n $(TEST_WORKERS) --dist worksteal)
# The browser tests drive Debian's Chromium (Playwright cannot download browsers here).
CHROMIUM := /usr/bin/chromium
# …and a CJK font, so the Chinese pages render as text rather than boxes in screenshots.
CJK_FONT := /usr/share/fonts/truetype/wqy/wqy-microhei.ttc
# …and poppler, which proves the PDFs' Chinese renders with the reader's own CJK face (the PDFs embed none).
PDFTOPPM := /usr/bin/pdftoppm
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)

.PHONY: run serve test test-fast bench lock

$(INSTALLED): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { echo "Python 3.11 or newer is needed; set PYTHON=/path/to/python3.11" >&2; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@

# Embedded defaults: without DATABASE_URL the data lives in var/mes.sqlite3; without
# REDIS_URL the queue is a SQLite file under var/. The demo (demo plant on an empty database,
# simulated ERP and machines) only without DATABASE_URL, or with MES_DEMO=1 (see run_plant).
run: $(INSTALLED)
	$(PY) manage.py migrate --noinput
	$(PY) manage.py collectstatic --noinput --verbosity 0
	exec $(PY) manage.py run_plant --port $(PORT)

# A real plant on this machine: never the demo, whatever the database. The first administrator
# comes from `manage.py createsuperuser` or MES_ADMIN_USERNAME/MES_ADMIN_PASSWORD on the first start.
serve: $(INSTALLED)
	$(PY) manage.py migrate --noinput
	$(PY) manage.py collectstatic --noinput --verbosity 0
	exec $(PY) manage.py run_plant --no-demo --host $(HOST) --port $(PORT)

# Two passes, within 20 minutes in all on an idle 2-core machine (the second about half as long as the first):
# 1. the whole suite on PostgreSQL (the local one unless DATABASE_URL says otherwise), browser and
#    subprocess tests included;
# 2. again on SQLite, the database `make run` uses by default (no DATABASE_URL; pytest-django makes
#    var/test_mes.sqlite3), but for the `browser` and `subprocess` tests: they reach the database
#    through the same code as the tests the pass keeps, so they run once. `postgresql_only` tests are
#    skipped there, each saying which PostgreSQL feature it needs.
# pytest-django creates and drops its own test database each time. PYTEST_ARGS go to both passes
# (a `-m` in them replaces the pass's selection). Both passes run; make fails if either fails (1),
# or if neither collects a test (5: a pass that selects nothing alone, e.g. PYTEST_ARGS=tests/browser, is fine).
SQLITE_SELECTION := not browser and not subprocess
FAST_SELECTION := not browser and not subprocess and not slow
POSTGRESQL_TEST_URL := postgresql://postgres@127.0.0.1:5432/mes_test
test: $(INSTALLED) $(CHROMIUM) $(CJK_FONT) $(PDFTOPPM)
	@postgresql=0; sqlite=0; \
	echo "== make test, pass 1 of 2: PostgreSQL, every test"; \
	DATABASE_URL="$${DATABASE_URL:-$(POSTGRESQL_TEST_URL)}" $(PY) -m pytest $(XDIST) $(PYTEST_ARGS) || postgresql=$$?; \
	echo "== make test, pass 2 of 2: SQLite, -m '$(SQLITE_SELECTION)'"; \
	env -u DATABASE_URL TEST_DATABASE_NAME=var/test_mes.sqlite3 $(PY) -m pytest $(XDIST) -m "$(SQLITE_SELECTION)" $(PYTEST_ARGS) || sqlite=$$?; \
	echo "== make test: PostgreSQL pass exit $$postgresql, SQLite pass exit $$sqlite"; \
	for status in $$postgresql $$sqlite; do case $$status in 0|5) ;; *) exit $$status;; esac; done; \
	[ $$postgresql$$sqlite != 55 ] || exit 5

# The inner loop: no browser, no process started, nothing slow, on the database of pass 1 of `make test`
# (DATABASE_URL=sqlite:///var/mes.sqlite3 make test-fast for SQLite). PYTEST_ARGS as for `make test`.
test-fast: $(INSTALLED)
	DATABASE_URL="$${DATABASE_URL:-$(POSTGRESQL_TEST_URL)}" $(PY) -m pytest $(XDIST) -m "$(FAST_SELECTION)" $(PYTEST_ARGS)

$(CHROMIUM):
	@command -v apt-get >/dev/null || { echo "The browser tests need Chromium at $(CHROMIUM) (Debian's chromium package)." >&2; exit 1; }
	$(SUDO) apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium

$(CJK_FONT): | $(CHROMIUM)
	DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq fonts-wqy-microhei || { $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq fonts-wqy-microhei; }

$(PDFTOPPM): | $(CHROMIUM)
	DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq poppler-utils || { $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq poppler-utils; }

# The ingest benchmark: PostgreSQL at 127.0.0.1:5432, loopback only, stops by itself.
bench: $(INSTALLED)
	@if [ -f bench/ingest.py ]; then $(PY) bench/ingest.py $(BENCH_ARGS); else echo "No benchmark in bench/ yet."; fi

# requirements.lock: every runtime dependency of pyproject.toml pinned with its hashes, for the Docker
# image. Run after changing the dependencies (a test checks that the lock matches pyproject.toml).
lock: $(INSTALLED)
	$(PY) -m pip install --quiet "pip-tools>=7.4,<8"
	$(VENV)/bin/pip-compile --quiet --generate-hashes --strip-extras --allow-unsafe --no-emit-index-url --no-emit-find-links \
		--output-file requirements.lock pyproject.toml
