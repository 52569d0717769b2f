# The two commands of the README: `make run` and `make test`. GNU make.
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
# The browser tests drive Debian's Chromium (Playwright cannot download browsers here).
CHROMIUM := /usr/bin/chromium
# …and a CJK font, so the Chinese pages render as text rather than boxes in screenshots.
CJK_FONT := /usr/share/fonts/truetype/wqy/wqy-microhei.ttc
# …and poppler, which proves the PDFs' Chinese renders with the reader's own CJK face (the PDFs embed none).
PDFTOPPM := /usr/bin/pdftoppm
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)

.PHONY: run serve test bench lock

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

# Runs against the local PostgreSQL unless DATABASE_URL says otherwise; pytest-django
# creates and drops its own test database (test_<name>). pytest's exit status is make's:
# failures (1) and "no tests collected" (5) both fail.
test: $(INSTALLED) $(CHROMIUM) $(CJK_FONT) $(PDFTOPPM)
	export DATABASE_URL="$${DATABASE_URL:-postgresql://postgres@127.0.0.1:5432/mes_test}"; \
	$(PY) -m pytest $(PYTEST_ARGS)

$(CHROMIUM):
	@command -v apt-get >/dev/null || { echo "The browser tests need Chromium at $(CHROMIUM) (Debian's chromium package)." >&2; exit 1; }
	$(SUDO) apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium

$(CJK_FONT): | $(CHROMIUM)
	DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq fonts-wqy-microhei || { $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq fonts-wqy-microhei; }

$(PDFTOPPM): | $(CHROMIUM)
	DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq poppler-utils || { $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq poppler-utils; }

# The ingest benchmark (issue 2): PostgreSQL at 127.0.0.1:5432, loopback only, stops by itself.
bench: $(INSTALLED)
	@if [ -f bench/ingest.py ]; then $(PY) bench/ingest.py $(BENCH_ARGS); else echo "No benchmark in bench/ yet."; fi

# requirements.lock: every runtime dependency of pyproject.toml pinned with its hashes, for the Docker
# image. Run after changing the dependencies (a test checks that the lock matches pyproject.toml).
lock: $(INSTALLED)
	$(PY) -m pip install --quiet "pip-tools>=7.4,<8"
	$(VENV)/bin/pip-compile --quiet --generate-hashes --strip-extras --allow-unsafe --no-emit-index-url --no-emit-find-links \
		--output-file requirements.lock pyproject.toml
