# Masthead: `make run` serves on the embedded default, `make test` runs the suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 5000
STAMP := $(VENV)/.installed

.PHONY: run test worker scheduler migrate lint bench clean chromium

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

migrate: $(STAMP)
	$(BIN)/flask --app wsgi db-upgrade

# PORT is passed to the app too: emails link to the port it serves on. The server ticks
# scheduled work every minute in its own process (SCHEDULER=off: it does not).
run: migrate
	PORT=$(PORT) $(BIN)/flask --app wsgi prepare-server
	PORT=$(PORT) $(BIN)/flask --app wsgi serve --host 127.0.0.1 --port $(PORT)

worker: migrate
	$(BIN)/flask --app wsgi worker

scheduler: migrate
	$(BIN)/flask --app wsgi scheduler

test: $(STAMP) chromium
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# The browser tests use Debian's Chromium: installed when missing and we are root, else skipped.
chromium:
	@command -v chromium >/dev/null || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && \
	  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }; } || \
	  echo "no Chromium: the browser tests will be skipped"

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python bench/referrals.py
	$(BIN)/python bench/send.py
	$(BIN)/python bench/sequences.py
	$(BIN)/python bench/post_report.py

clean:
	rm -rf $(VENV) instance/masthead.db instance/outbox
