# Masthead: `make run` serves on the embedded default, `make test` runs the suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 5000
STAMP := $(VENV)/.installed

.PHONY: run test worker scheduler migrate lint bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

migrate: $(STAMP)
	$(BIN)/flask --app wsgi db-upgrade

# The server ticks scheduled work every minute in its own process (SCHEDULER=off: it does not).
run: migrate
	$(BIN)/flask --app wsgi serve --host 127.0.0.1 --port $(PORT)

worker: migrate
	$(BIN)/flask --app wsgi worker

scheduler: migrate
	$(BIN)/flask --app wsgi scheduler

test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python bench/referrals.py
	$(BIN)/python bench/send.py
	$(BIN)/python bench/sequences.py

clean:
	rm -rf $(VENV) instance/masthead.db instance/outbox
