# The two commands: `make demo` (first run, embedded SQLite) and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
DEMO_PORT ?= 8000

.PHONY: demo test install lint format docs typecheck

$(VENV)/.installed: requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps -e .
	touch $@

install: $(VENV)/.installed

demo: install
	$(PY) manage.py migrate --verbosity 0
	$(PY) manage.py demo --serve 127.0.0.1:$(DEMO_PORT)

test: install
	./scripts/run-tests

# ruff's rules (pyproject.toml) and whether the tree is formatted; `make format` fixes both kinds it can.
lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: install
	$(VENV)/bin/ruff check --fix --select I .
	$(VENV)/bin/ruff format .

# The documentation site into site/ (strict: warnings are errors); `mkdocs serve` to preview.
docs: install
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict

typecheck: install
	$(VENV)/bin/mypy
