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

.PHONY: run test seed bench bench-room lint format workshop clean

$(INSTALLED): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(INSTALLED)

seed: $(INSTALLED)
	$(MANAGE) seed

run: seed
	@echo ""
	@echo "  The course is at http://$(HOST):$(PORT)/  (Ctrl+C to stop)"
	@echo ""
	$(MANAGE) runserver $(HOST):$(PORT)

test: $(INSTALLED)
	$(BIN)/pytest

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
	COURSE_ROOM=1 $(MANAGE) workshop --port $(PORT) --editing $(EDITING) $(if $(CERT),--https)
	COURSE_ROOM=1 COURSE_DEBUG=0 $(HTTPS_ENV) COURSE_EDITING=$(EDITING) $(BIN)/gunicorn course.wsgi --bind 0.0.0.0:$(PORT) --workers 2 --threads 32 $(HTTPS_ARGS)

clean:
	rm -rf $(VENV) var
