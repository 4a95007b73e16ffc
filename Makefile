# Lineage Ledger — the commands a newcomer needs. See README.md.
PYTHON ?= python3.11
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(VENV)/bin/pip
HOST   ?= 127.0.0.1
PORT   ?= 8000
export DJANGO_SETTINGS_MODULE := governance.settings

.PHONY: venv install demo demo-reset serve migrate lint test test-fast test-sqlite test-postgres bench clean serve-prod worker beat

$(VENV)/.installed: pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -e '.[dev]'
	@touch $@

venv install: $(VENV)/.installed

migrate: install
	DEBUG=$${DEBUG:-1} $(PY) manage.py migrate --noinput

# Fresh machine: venv, install, migrate the embedded SQLite database, generate and load demo data, serve.
# Safe to run again whatever was done in the demo (approvals, bundles, holds); `make demo-reset` starts over.
# Serves on HOST:PORT, or on the next free port when PORT is taken, and prints that address.
demo: install
	DEBUG=1 $(PY) manage.py migrate --noinput
	@port=$$($(PY) -c 'import socket, sys; h, p = sys.argv[1], int(sys.argv[2]); taken = lambda q: socket.socket().connect_ex((h, q)) == 0; print(next((q for q in range(p, p + 50) if not taken(q)), ""))' $(HOST) $(PORT)) && \
	test -n "$$port" || { echo "no free port from $(PORT) on $(HOST)"; exit 2; } && \
	DEBUG=1 $(PY) manage.py load_demo --url "http://$(HOST):$$port/" && \
	DEBUG=1 $(PY) manage.py collectstatic --noinput -v 0 && \
	echo "Serving API and dashboard on http://$(HOST):$$port/  (Ctrl-C to stop)" && \
	exec env DEBUG=1 $(PY) manage.py runserver $(HOST):$$port

# Start the demo over: remove the embedded demo database and the generated demo sources (only the SQLite
# default: a DATABASE_URL database is not the demo's to drop), then `make demo`.
DATA_DIR ?= $(or $(LL_DATA_DIR),data)
demo-reset: install
	@case "$$DATABASE_URL" in ""|sqlite*) ;; *) echo "demo-reset only starts over the embedded SQLite demo; unset DATABASE_URL"; exit 2;; esac
	rm -rf $(DATA_DIR)/lineage-ledger.sqlite3 $(DATA_DIR)/lineage-ledger.sqlite3-wal $(DATA_DIR)/lineage-ledger.sqlite3-shm \
		$(DATA_DIR)/demo-* $(DATA_DIR)/archive
	$(MAKE) demo

serve: install
	DEBUG=1 $(PY) manage.py runserver $(HOST):$(PORT)

# Production shape (docs/deployment.md): N gunicorn processes for the API and dashboard, Celery workers
# and one beat, all on PostgreSQL (DATABASE_URL) and one broker (CELERY_BROKER_URL: Redis or RabbitMQ).
# Run `make migrate` once per release before starting them. Each gunicorn process keeps its database
# connection between requests (DB_CONN_MAX_AGE, 600 s unless set), as the benchmarks measure it.
# Each gunicorn process (one per CPU) serves WEB_THREADS requests at once: single-event ingests that
# arrive together in one process share a transaction (lineage/ingest/group_commit.py). Every thread keeps
# a database connection: WEB_WORKERS x WEB_THREADS connections (at most 8 x 4 by default, under
# PostgreSQL's default max_connections of 100 with room for Celery workers).
WEB_WORKERS ?= $(shell n=$$(nproc 2>/dev/null || echo 2); [ $$n -gt 8 ] && n=8; echo $$n)
WEB_THREADS ?= 4
WORKERS     ?= 2
serve-prod: install
	$(PY) manage.py collectstatic --noinput -v 0
	DB_CONN_MAX_AGE=$${DB_CONN_MAX_AGE:-600} $(VENV)/bin/gunicorn governance.wsgi --workers $(WEB_WORKERS) \
		--worker-class gthread --threads $(WEB_THREADS) --bind $(HOST):$(PORT) \
		--timeout 120 --graceful-timeout 30 --max-requests 5000 --max-requests-jitter 500 --access-logfile -

worker: install
	@test -n "$$CELERY_BROKER_URL" || { echo "set CELERY_BROKER_URL (redis://127.0.0.1:6379/0 or amqp://guest:guest@127.0.0.1:5672//)"; exit 2; }
	$(VENV)/bin/celery -A governance.celery worker --concurrency $(WORKERS) --loglevel INFO

beat: install
	@test -n "$$CELERY_BROKER_URL" || { echo "set CELERY_BROKER_URL (redis://127.0.0.1:6379/0 or amqp://guest:guest@127.0.0.1:5672//)"; exit 2; }
	$(VENV)/bin/celery -A governance.celery beat --scheduler django_celery_beat.schedulers:DatabaseScheduler --loglevel INFO

# ruff with the configuration in pyproject.toml; .ci/run runs it before the tests.
lint: install
	$(VENV)/bin/ruff check .

# The whole suite. DATABASE_URL picks the database (SQLite when unset); .ci/run runs it on both.
# Tests write evidence bundles and demo stores under LL_DATA_DIR: a fresh temporary folder, never ./data.
test: install
	LL_DATA_DIR=$$(mktemp -d /tmp/ll-test-XXXXXX) $(PY) -m pytest -n 2 -p no:cacheprovider $(PYTEST_ARGS)

# The quick lane (under 3 minutes on a 2-core machine): everything but the tests marked `slow` (real
# servers, browsers, killed workers, fuzzing), on SQLite unless DATABASE_URL says otherwise.
test-fast: install
	LL_DATA_DIR=$$(mktemp -d /tmp/ll-test-XXXXXX) $(PY) -m pytest -n 2 -p no:cacheprovider -m "not slow" $(PYTEST_ARGS)

test-sqlite: install
	env -u DATABASE_URL $(MAKE) test

test-postgres: install
	DATABASE_URL=postgres://postgres@127.0.0.1:5432/test $(MAKE) test

# Benchmarks run with DEBUG off (as production does), so they need a SECRET_KEY and an AUDIT_HMAC_KEY:
# throwaway ones unless set.
bench: install
	SECRET_KEY=$${SECRET_KEY:-bench-only-$$(hostname)-not-a-secret-xxxxxxxxxxxxxxxx} \
	AUDIT_HMAC_KEY=$${AUDIT_HMAC_KEY:-bench-only-audit-$$(hostname)-not-a-secret-xxxxxxxxxx} $(PY) -m bench $(BENCH_ARGS)

clean:
	rm -rf $(VENV) data staticfiles test-output
