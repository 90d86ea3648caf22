# Rectify: `make run` serves the app with demo data; `make test` runs the whole suite.
# Both set up everything first: system packages (when root), the virtualenv, the pinned
# Python packages, the database.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
# Debian packages the app needs at run time and in tests: the browser tests drive Debian's
# Chromium; the CJK fonts make screenshots and PDFs show Chinese; WeasyPrint needs Pango, and
# HarfBuzz's subsetter to embed the 20 MB CJK font in 80 ms instead of 6 s; pdftoppm
# (poppler-utils) turns PDFs into pictures for review.
SYSTEM_PACKAGES := chromium fonts-noto-cjk libpango-1.0-0 libpangoft2-1.0-0 \
	libharfbuzz-subset0 poppler-utils
# The PostgreSQL leg of the suite.
PG_PACKAGES := postgresql

.PHONY: run test test-pg ci bench bench-pg lint messages backup restore system install clean

run: install
	DEBUG=true $(BIN)/python manage.py migrate --noinput
	DEBUG=true $(BIN)/python manage.py collectstatic --noinput -v 0
	DEBUG=true $(BIN)/python manage.py seed_demo
	@# The background worker (publishing, long exports) runs beside the server and stops
	@# with it.
	DEBUG=true $(BIN)/python manage.py run_worker & worker=$$!; \
	trap 'kill $$worker 2>/dev/null' EXIT INT TERM; \
	DEBUG=true $(BIN)/python manage.py runserver $(HOST):$(PORT)

# The worker and load tests start PostgreSQL clusters of their own (bench/pgcluster.py).
test: install
	@scripts/ensure-packages $(PG_PACKAGES)
	$(BIN)/python -m pytest

test-pg: install
	@scripts/ensure-packages $(PG_PACKAGES)
	scripts/with-postgres $(BIN)/python -m pytest

ci: lint test test-pg

lint: install
	$(BIN)/ruff check .
	$(BIN)/python manage.py makemigrations --check --dry-run --settings=tests.settings

# The ledger pages and transitions, then intake (import, export), consolidation, then
# publication (publish, the published page under wrk), the load bench, then the escalation
# ladder's daily proposal (on SQLite and on a PostgreSQL cluster of its own; under make
# bench-pg, on the given server), then the ledger printed as a PDF, then the supervision
# dashboard (likewise on both databases).
BENCH_SCRIPTS := bench/run.py bench/intake.py bench/consolidation.py bench/masking.py bench/publication.py bench/load.py bench/ladder.py bench/ledger_pdf.py bench/dashboard.py

bench: install
	@scripts/ensure-packages $(PG_PACKAGES)
	@for script in $(BENCH_SCRIPTS); do \
	  test -f $$script || continue; \
	  $(BIN)/python $$script $(BENCH_ARGS) || exit 1; done

bench-pg: install
	@scripts/ensure-packages $(PG_PACKAGES)
	scripts/with-postgres sh -c 'for script in $(BENCH_SCRIPTS); do \
	  test -f $$script || continue; \
	  $(BIN)/python $$script --database-url "$$DATABASE_URL" $(BENCH_ARGS) || exit 1; done'

# Refresh the translation catalogue after changing texts (needs GNU gettext).
messages: install
	DEBUG=true $(BIN)/python manage.py makemessages -l zh_Hans --no-obsolete --add-location file --ignore=.venv --ignore=tests --ignore=bench
	cd locale && DEBUG=true ../$(BIN)/python ../manage.py compilemessages -l zh_Hans

# Backup and restore (docs/backup.md), run with the application's environment (DATABASE_URL,
# MEDIA_ROOT, SECRET_KEY). No install step: a nightly backup must not reach for the network.
BACKUP_DIR ?= backups

backup:
	$(BIN)/python manage.py backup --output "$(BACKUP_DIR)"

restore:
	@test -n "$(ARCHIVE)" || { echo "usage: make restore ARCHIVE=backups/rectify-….tar.gz [FORCE=1]" >&2; exit 2; }
	$(BIN)/python manage.py restore $(if $(FORCE),--force) "$(ARCHIVE)"

system:
	@scripts/ensure-packages $(SYSTEM_PACKAGES)
	@$(PYTHON) -c 'import venv, ensurepip' 2>/dev/null || scripts/ensure-packages python3-venv

install: system $(VENV)/.installed

# A Django project, not a library: only its pinned dependencies are installed; the
# checkout itself is what runs.
$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python scripts/requirements.py > $(VENV)/requirements.txt
	$(BIN)/python -m pip install --quiet -r $(VENV)/requirements.txt
	touch $@

clean:
	rm -rf $(VENV) db.sqlite3 staticfiles media
