# Masthead: `make run` serves on the embedded default, `make test` runs the suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 5000
STAMP := $(VENV)/.installed

.PHONY: run serve metrics-dir test worker scheduler migrate lint bench clean demo chromium

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

# Production: gunicorn from gunicorn.conf.py on 127.0.0.1:$(PORT), after the migrations. Needs
# SECRET_KEY and an https BASE_URL; prometheus-client's multiprocess directory is set here,
# before Python starts, so every worker's counts reach /metrics.
serve: export MASTHEAD_ENV := production
serve: export PROMETHEUS_MULTIPROC_DIR ?= $(abspath $(or $(MASTHEAD_INSTANCE),instance))/prometheus
serve: metrics-dir migrate
	PORT=$(PORT) $(BIN)/gunicorn -c gunicorn.conf.py wsgi:app

metrics-dir:
	mkdir -p "$$PROMETHEUS_MULTIPROC_DIR"

# A simulated year of readers, posts, referrals and payments in an empty database (SEED=...).
SEED ?= 1
demo: migrate
	$(BIN)/flask --app wsgi seed-demo --seed $(SEED)

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
	$(BIN)/python bench/webhooks.py
	$(BIN)/python bench/outage.py
	$(BIN)/python bench/export.py
	$(BIN)/python bench/seed_demo.py
	$(BIN)/python bench/dashboard.py --subscribers 100000 --events 1000000
	$(BIN)/python bench/post_report.py

clean:
	rm -rf $(VENV) instance/masthead.db instance/outbox
