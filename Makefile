# Countersign: `make run` serves the demo school; `make test` runs the whole suite; `make lint` checks the code.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
HOST ?= 127.0.0.1
PORT ?= 5000
export FLASK_APP := wsgi:app
# The demo server's settings (tests set their own and ignore these).
RUN_ENV := PORTAL_DATABASE_URI=$${PORTAL_DATABASE_URI:-sqlite:///$(CURDIR)/instance/portal.db} \
	PORTAL_ARCHIVE_DIR=$${PORTAL_ARCHIVE_DIR:-$(CURDIR)/instance/archive} \
	PORTAL_UPLOAD_DIR=$${PORTAL_UPLOAD_DIR:-$(CURDIR)/instance/uploads} \
	PORTAL_KEYS_DIR=$${PORTAL_KEYS_DIR:-$(CURDIR)/instance/keys} \
	PORTAL_SECURE_COOKIES=$${PORTAL_SECURE_COOKIES:-false} \
	PORTAL_PUBLIC_URL=$${PORTAL_PUBLIC_URL:-http://$(HOST):$(PORT)} \
	PORTAL_MAIL_BACKEND=$${PORTAL_MAIL_BACKEND:-log}

.PHONY: run test lint install install-test demo migrate bench bench-pages bench-scale bench-import clean translations

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed pyproject.toml
	$(PIP) install -q -e '.[test]'
	touch $@

install: $(VENV)/.installed

install-test: $(VENV)/.installed-test

migrate: install
	mkdir -p instance
	@$(RUN_ENV) $(VENV)/bin/flask portal db upgrade

demo: migrate
	@$(RUN_ENV) $(VENV)/bin/flask portal demo --if-empty
	@$(RUN_ENV) $(VENV)/bin/flask portal keys init --if-missing
	@$(RUN_ENV) $(VENV)/bin/flask portal records repair

# The job worker (sealed PDFs, reminders...) runs in the background next to the web server, on the
# embedded SQLite queue in instance/; it stops when `flask run` does.
run: demo
	@$(RUN_ENV) $(VENV)/bin/flask portal jobs worker >instance/worker.log 2>&1 & worker=$$!; \
	trap 'kill -INT $$worker 2>/dev/null; wait $$worker 2>/dev/null' EXIT INT TERM; \
	echo "Job worker running (log: instance/worker.log)."; \
	$(RUN_ENV) $(VENV)/bin/flask run --host $(HOST) --port $(PORT)

# pytest-xdist: one worker per core (PYTEST_WORKERS=0 runs in one process, e.g. to debug a failure).
PYTEST_WORKERS ?= auto
# compileall first: with PYTHONDONTWRITEBYTECODE=1 (set on some machines) no process keeps the compiled
# portal, and every test worker, CLI command and gunicorn process the suite starts would compile it again
# (about 0.3 s each). compileall writes the .pyc files whatever that variable says; it takes under a second.
test: install-test
	$(PY) -m compileall -q -j 0 portal tests wsgi.py >/dev/null
	$(PY) -m pytest -n $(PYTEST_WORKERS) $(PYTEST_ARGS)

# Message catalogues (portal/translations): extract the marked strings from the code and templates into
# messages.pot, merge them into every language's messages.po (new strings start empty: English is shown
# until a translator fills them), and compile the .mo files the portal reads. The .mo files are committed
# so an installed copy needs no build step; tests/test_i18n.py fails when they are out of date.
TRANSLATIONS := portal/translations
BABEL := $(VENV)/bin/pybabel
translations: install-test
	$(BABEL) extract -F $(TRANSLATIONS)/babel.cfg -k lazy_gettext -k _l -k N_ --no-location --sort-output \
		--omit-header -o $(TRANSLATIONS)/messages.pot .
	$(BABEL) update -i $(TRANSLATIONS)/messages.pot -d $(TRANSLATIONS) --no-fuzzy-matching \
		--ignore-obsolete --no-wrap
	$(BABEL) compile -d $(TRANSLATIONS) --statistics

# The rule sets live in pyproject.toml ([tool.ruff], [tool.mypy]).
lint: install-test
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy portal

bench: install-test
	$(PY) bench/records.py
	$(PY) bench/signing.py

# Issue 13's benchmarks: ratios against a floor measured in the same run, with the load average.
bench-pages: install-test
	$(PIP) install -q -e '.[test,bench]'
	$(PY) bench/pages.py

bench-scale: install-test
	$(PY) bench/scale.py

bench-import: install-test
	$(PY) bench/import.py

clean:
	rm -rf $(VENV) instance dist build
