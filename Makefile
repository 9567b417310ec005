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

.PHONY: run run-next test test-next seed bench bench-room lint format workshop clean pg run-pg test-pg \
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

test: $(INSTALLED)
	$(BIN)/pytest

# The course on Django 6.1, in a var/ of its own: 6.1's own migrations never touch 5.2's tables.
run-next: $(NEXT_INSTALLED)
	COURSE_VAR_DIR=$(CURDIR)/var/next $(NEXT_VENV)/bin/python manage.py seed
	COURSE_VAR_DIR=$(CURDIR)/var/next $(NEXT_VENV)/bin/python manage.py runserver $(HOST):$(PORT)

# The suite on Django 6.1 (only pytest is needed there: lint stays on the default venv).
test-next: $(NEXT_INSTALLED)
	$(NEXT_VENV)/bin/pytest

# PostgreSQL: a private cluster under var/pg (.ci/pg starts it, installing Debian's postgresql if
# missing); the datasets and the course's own database go on it.
PG_ENV = eval "$$(.ci/pg up)" &&
PG_DRIVER := $(VENV)/.installed-pg

$(PG_DRIVER): $(INSTALLED)
	$(BIN)/python -m pip install --quiet "psycopg[binary]>=3.1,<4"  # pyproject's `postgresql` extra
	touch $(PG_DRIVER)

pg:
	.ci/pg up

run-pg: $(PG_DRIVER)
	$(PG_ENV) $(MANAGE) seed && $(MANAGE) runserver $(HOST):$(PORT)

test-pg: $(PG_DRIVER)
	$(PG_ENV) $(BIN)/pytest

# Django 6.1 on PostgreSQL: every lesson's counts and the PostgreSQL tests (the whole suite runs on
# 6.1 with SQLite, `make test-next`, and on 5.2 with PostgreSQL, `make test-pg`).
NEXT_PG_DRIVER := $(NEXT_VENV)/.installed-pg

$(NEXT_PG_DRIVER): $(NEXT_INSTALLED)
	$(NEXT_VENV)/bin/python -m pip install --quiet "psycopg[binary]>=3.1,<4"
	touch $(NEXT_PG_DRIVER)

test-pg-next: $(NEXT_PG_DRIVER)
	$(PG_ENV) $(NEXT_VENV)/bin/pytest tests/test_lessons_verified.py tests/test_postgresql.py \
		tests/test_django_versions.py tests/test_browser_locks.py tests/test_browser_plan.py

bench: seed
	$(BIN)/python benchmarks/run_all.py

# A workshop room (locust) against the workshop server on 127.0.0.1, about 3.5 minutes: 50 learners
# join and follow the instructor through three lessons while the console refreshes, then a storm.
bench-room: seed
	$(BIN)/python benchmarks/room.py

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
workshop: seed
	COURSE_DEBUG=0 $(MANAGE) collectstatic --noinput --verbosity 0
	COURSE_ROOM=1 COURSE_ACCEPT_RISK=$(ACCEPT_RISK) $(MANAGE) workshop --port $(PORT) --editing $(EDITING) $(if $(CERT),--https)
	COURSE_ROOM=1 COURSE_DEBUG=0 $(HTTPS_ENV) COURSE_EDITING=$(EDITING) COURSE_ACCEPT_RISK=$(ACCEPT_RISK) $(BIN)/gunicorn course.wsgi --bind 0.0.0.0:$(PORT) --workers 2 --threads 32 $(HTTPS_ARGS)

clean:
	rm -rf $(VENV) $(NEXT_VENV) var
