# The course's commands. `make run` and `make test` do all set-up themselves.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
MANAGE := $(BIN)/python manage.py
INSTALLED := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000
# Learners editing code and running their own: off for a room unless asked (make workshop EDITING=on).
EDITING ?= off
# Learners' own code needs the kernel's walls on files and network (SECURITY.md); where this
# machine cannot build them, it is refused unless the instructor says ACCEPT_RISK=yes.
ACCEPT_RISK ?=
# The address a room's learners open, when the one the workshop guesses is wrong (a laptop on
# two networks, a DNS name): make workshop ADDRESS=192.168.1.20. The server then answers it too.
ADDRESS ?=
comma := ,
# HTTPS for a room (make workshop CERT=cert.pem KEY=key.pem): gunicorn serves TLS itself and the
# course turns on its HTTPS settings (COURSE_HTTPS=1). Without CERT, plain HTTP as before.
CERT ?=
KEY ?=
ifneq ($(CERT)$(KEY),)
ifeq ($(and $(CERT),$(KEY)),)
$(error HTTPS needs both CERT=<certificate file> and KEY=<private key file>)
endif
endif
HTTPS_ENV := $(if $(CERT),COURSE_HTTPS=1)
HTTPS_ARGS := $(if $(CERT),--certfile $(CERT) --keyfile $(KEY))

.PHONY: run run-next test test-fast leg test-next seed bench bench-room lint format workshop clean pg run-pg test-pg \
	test-pg-next

# Django 6.1 beside the default 5.2 LTS: its own venv on Python 3.12+ (6.x needs it). The pin
# below keeps the default venv on 5.2 even when python3 is 3.12+, now that pyproject allows 6.1.
NEXT_VENV := .venv-next
NEXT_INSTALLED := $(NEXT_VENV)/.installed
NEXT_PYTHON ?= $(firstword $(wildcard $(HOME)/.pyenv/versions/3.13*/bin/python3.13) \
	$(shell command -v python3.13 python3.12 2>/dev/null) \
	$(wildcard $(HOME)/.pyenv/versions/3.12*/bin/python3.12))

$(INSTALLED): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]" "Django>=5.2,<5.3"
	touch $(INSTALLED)

$(NEXT_INSTALLED): pyproject.toml
	@test -n "$(NEXT_PYTHON)" || { echo "make test-next needs Python 3.12 or newer:" \
		"none found (python3.13/python3.12 on PATH or under ~/.pyenv/versions)." >&2; exit 1; }
	test -x $(NEXT_VENV)/bin/python || $(NEXT_PYTHON) -m venv $(NEXT_VENV)
	$(NEXT_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(NEXT_VENV)/bin/python -m pip install --quiet -e ".[dev]" "Django>=6.1,<6.2"
	touch $(NEXT_INSTALLED)

seed: $(INSTALLED)
	$(MANAGE) seed

run: seed
	@echo ""
	@echo "  The course is at http://$(HOST):$(PORT)/  (Ctrl+C to stop)"
	@echo ""
	$(MANAGE) runserver $(HOST):$(PORT)

# The course on Django 6.1, in a var/ of its own: 6.1's own migrations never touch 5.2's tables.
run-next: $(NEXT_INSTALLED)
	COURSE_VAR_DIR=$(CURDIR)/var/next $(NEXT_VENV)/bin/python manage.py seed
	COURSE_VAR_DIR=$(CURDIR)/var/next $(NEXT_VENV)/bin/python manage.py runserver $(HOST):$(PORT)

# PostgreSQL: a private cluster under var/pg (.ci/pg starts it, installing Debian's postgresql if
# missing); the datasets and the course's own database go on it.
# The assignment keeps .ci/pg's exit status: when the cluster does not start, nothing after it runs
# (`eval "$$(.ci/pg up)" && ...` would go on, on SQLite).
PG_ENV = pg_env="$$(.ci/pg up)" && eval "$$pg_env" &&
PG_DRIVER := $(VENV)/.installed-pg

$(PG_DRIVER): $(INSTALLED)
	$(BIN)/python -m pip install --quiet "psycopg[binary]>=3.1,<4"  # pyproject's `postgresql` extra
	touch $(PG_DRIVER)

pg:
	.ci/pg up

run-pg: $(PG_DRIVER)
	$(PG_ENV) $(MANAGE) seed && $(MANAGE) runserver $(HOST):$(PORT)

NEXT_PG_DRIVER := $(NEXT_VENV)/.installed-pg

$(NEXT_PG_DRIVER): $(NEXT_INSTALLED)
	$(NEXT_VENV)/bin/python -m pip install --quiet "psycopg[binary]>=3.1,<4"
	touch $(NEXT_PG_DRIVER)

# The test matrix, described once: Django 5.2 and 6.1, each with the datasets on SQLite and on
# PostgreSQL. `make test` runs every leg, one after another; `make leg DJANGO=6.1 ENGINE=postgresql`
# runs one. Each leg runs the suite on TEST_WORKERS pytest-xdist workers (each with a var/ of its
# own, tests/parallel.py) and checks, before any test, that it runs on the Django and the engine it
# names (tests/conftest.py), so no leg can pass on the wrong one.
LEGS := 5.2-sqlite 6.1-sqlite 5.2-postgresql 6.1-postgresql
# Django 6.1 on PostgreSQL: every lesson's counts, every exercise's verdicts and the PostgreSQL
# tests; the rest of the suite already runs on 6.1 (SQLite) and on PostgreSQL (5.2).
TESTS_6.1-postgresql := tests/test_lessons_verified.py tests/test_postgresql.py \
	tests/test_exercises.py tests/test_honest_checks.py \
	tests/test_django_versions.py tests/test_browser_locks.py tests/test_browser_plan.py \
	tests/test_browser_indexes.py
# Runs wait on their child processes and the browser tests on chromium: more workers than cores.
TEST_WORKERS ?= 4
# On PostgreSQL every worker would share one server and its run role, which some tests change
# on purpose (a run that changes the role's password, until the service gives it back): one.
LEG_WORKERS = $(if $(filter postgresql,$(ENGINE)),1,$(TEST_WORKERS))
DJANGO ?= 5.2
ENGINE ?= sqlite
LEG_VENV = $(if $(filter 5.2,$(DJANGO)),$(VENV),$(NEXT_VENV))
LEG_NEEDS = $(LEG_VENV)/.installed $(if $(filter postgresql,$(ENGINE)),$(LEG_VENV)/.installed-pg)

test:
	@set -e; for leg in $(LEGS); do \
		$(MAKE) --no-print-directory leg DJANGO=$${leg%-*} ENGINE=$${leg#*-}; done

leg: $(LEG_NEEDS)
	@echo "== Django $(DJANGO) on $(ENGINE)"
	$(if $(filter postgresql,$(ENGINE)),$(PG_ENV)) COURSE_TEST_LEG="$(DJANGO) $(ENGINE)" \
		$(LEG_VENV)/bin/pytest -n $(LEG_WORKERS) --dist loadgroup $(TESTS_$(DJANGO)-$(ENGINE))

# A developer's loop: Django 5.2 on SQLite without the tests marked slow (browsers, real servers,
# every snippet on every dataset); about a minute.
test-fast: $(INSTALLED)
	COURSE_TEST_LEG="5.2 sqlite" $(BIN)/pytest -n $(TEST_WORKERS) --dist loadgroup -m "not slow" -q

# One leg each, by the names the README has long used.
test-next:
	$(MAKE) --no-print-directory leg DJANGO=6.1 ENGINE=sqlite
test-pg:
	$(MAKE) --no-print-directory leg DJANGO=5.2 ENGINE=postgresql
test-pg-next:
	$(MAKE) --no-print-directory leg DJANGO=6.1 ENGINE=postgresql

bench: seed
	$(BIN)/python benchmarks/run_all.py

# A workshop room (locust) against the workshop server on 127.0.0.1, about 3.5 minutes: 50 learners
# (LEARNERS=200 for more) join and follow the instructor through three lessons while the console
# refreshes, then a storm. ARGS passes more options: ARGS="--together --storm-seconds 0".
LEARNERS ?=
ARGS ?=
bench-room: seed
	$(BIN)/python benchmarks/room.py $(if $(LEARNERS),--learners $(LEARNERS)) $(ARGS)

lint: $(INSTALLED)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy course blog lessons
	$(BIN)/lint-imports

format: $(INSTALLED)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# For a room: opens the room and prints the learners' and the instructor's addresses, then serves
# with no DEBUG, static files collected, a multi-threaded production server on the LAN.
# Many threads: a thread waiting for a run's result is idle, and pages must never wait for one.
# Processes: Python runs one thread at a time in each, and busy threads of one process slow each
# other down: two processes per core, with fewer threads each, answer a room's bursts sooner
# (README: A room of 200).
WEB_WORKERS ?= $(shell echo $$(( $$(nproc 2>/dev/null || echo 2) * 2 )))
WEB_THREADS ?= 12
GUNICORN_ARGS ?=  # more of gunicorn's own options, as --access-logfile access.log
workshop: seed
	COURSE_DEBUG=0 $(MANAGE) collectstatic --noinput --verbosity 0
	COURSE_ROOM=1 COURSE_ACCEPT_RISK=$(ACCEPT_RISK) $(MANAGE) workshop --port $(PORT) --editing $(EDITING) $(if $(NEW),--new) $(if $(CERT),--https) $(if $(ADDRESS),--host $(ADDRESS))
	COURSE_ROOM=1 COURSE_DEBUG=0 $(HTTPS_ENV) $(if $(ADDRESS),COURSE_ALLOWED_HOSTS=$(ADDRESS)$(if $(COURSE_ALLOWED_HOSTS),$(comma)$(COURSE_ALLOWED_HOSTS))) COURSE_EDITING=$(EDITING) COURSE_ACCEPT_RISK=$(ACCEPT_RISK) $(BIN)/gunicorn course.wsgi --bind 0.0.0.0:$(PORT) --workers $(WEB_WORKERS) --threads $(WEB_THREADS) $(HTTPS_ARGS) $(GUNICORN_ARGS)

clean:
	rm -rf $(VENV) $(NEXT_VENV) var
