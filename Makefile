# The two commands: `make demo` (first run, embedded SQLite) and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
DEMO_PORT ?= 8000

.PHONY: demo test install lint

$(VENV)/.installed: requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps -e .
	touch $@

install: $(VENV)/.installed

demo: install
	$(PY) manage.py migrate --verbosity 0
	$(PY) manage.py demo
	@echo "Portal: http://127.0.0.1:$(DEMO_PORT)/  (API docs: /api/v1/schema/docs/)"
	$(PY) manage.py runserver 127.0.0.1:$(DEMO_PORT)

test: install
	./scripts/run-tests

lint: install
	$(VENV)/bin/ruff check .
