# Countersign: two commands. `make run` serves the demo school; `make test` runs the whole suite.
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

.PHONY: run test install install-test demo migrate bench clean

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

run: demo
	@$(RUN_ENV) $(VENV)/bin/flask run --host $(HOST) --port $(PORT)

test: install-test
	$(PY) -m pytest $(PYTEST_ARGS)

bench: install-test
	$(PY) bench/records.py

clean:
	rm -rf $(VENV) instance dist build
