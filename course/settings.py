"""Settings for the course.

Django's own tables (sessions, auth, admin) live in the `default` database. Each blog dataset
(tiny, medium, large) is a database alias of its own, so a run can pick one without reseeding.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import sys
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

from course import databases
from lessons.network import room_hosts

BASE_DIR = Path(__file__).resolve().parent.parent
# Databases and the secret key live here (git ignores it). Importing settings creates nothing:
# `manage.py seed` (run by `make run`) prepares the folder.
VAR_DIR = Path(os.environ.get("COURSE_VAR_DIR", BASE_DIR / "var")).resolve()
SECRET_KEY_FILE = VAR_DIR / "secret_key"

DEBUG = os.environ.get("COURSE_DEBUG", "1") == "1"
TESTING = "pytest" in sys.modules


def _secret_key() -> str:
    """COURSE_SECRET_KEY, or the key `manage.py seed` keeps in var/ (so every worker of a workshop
    server shares it, and nobody else knows it). Before that, a key for this process only."""
    if key := os.environ.get("COURSE_SECRET_KEY"):
        return key
    try:
        return SECRET_KEY_FILE.read_text().strip()
    except OSError:
        return secrets.token_urlsafe(50)


SECRET_KEY = _secret_key()
# Serving a workshop (`make workshop`): learners join the open room by name, the instructor
# follows them on a console, and the admin is not served.
COURSE_ROOM = os.environ.get("COURSE_ROOM", "0") == "1"
if COURSE_ROOM:
    # The addresses a room uses (COURSE_ALLOWED_HOSTS adds names, e.g. a DNS name or a proxy's).
    ALLOWED_HOSTS = room_hosts(os.environ.get("COURSE_ALLOWED_HOSTS", ""))
else:
    ALLOWED_HOSTS = os.environ.get("COURSE_ALLOWED_HOSTS", "127.0.0.1,localhost,testserver").split(
        ","
    )

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_htmx",
    "blog",
    "lessons",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "lessons.web.security.ContentSecurityPolicyMiddleware",  # on every response, errors too
    "lessons.web.errors.BodySizeLimitMiddleware",  # before anything reads a body
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # Before anything reads a form, after the session (a page of the room shows who is in it).
    "lessons.web.errors.ReadFormMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "lessons.web.identity.RoomMiddleware",  # after the session: it reads who the learner is
    "lessons.web.limits.RunAddressMiddleware",  # runs count against their client's address
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "lessons.web.errors.CourseErrorMiddleware",
]
# The largest request body the course accepts: the longest code a run takes, form-encoded, fits
# many times over. Larger bodies are refused (413) before anything reads them.
COURSE_MAX_BODY_BYTES = int(os.environ.get("COURSE_MAX_BODY_BYTES", 512 * 1024))
DATA_UPLOAD_MAX_MEMORY_SIZE = COURSE_MAX_BODY_BYTES
FILE_UPLOAD_HANDLERS: list[str] = []  # no form of the course takes a file: uploads are dropped
# A failed CSRF check answers in the format the client asked for (JSON, htmx or a page).
CSRF_FAILURE_VIEW = "lessons.web.errors.csrf_failure"

# The toolbar is for learners looking at the blog pages on their own machine; never in tests.
ENABLE_DEBUG_TOOLBAR = DEBUG and not TESTING
if ENABLE_DEBUG_TOOLBAR:
    INSTALLED_APPS.append("debug_toolbar")
    MIDDLEWARE.insert(0, "debug_toolbar.middleware.DebugToolbarMiddleware")
    INTERNAL_IPS = ["127.0.0.1", "::1"]
    DEBUG_TOOLBAR_CONFIG = {
        "SHOW_TOOLBAR_CALLBACK": "lessons.web.blog_pages.show_toolbar",
        "DISABLE_PANELS": {
            "debug_toolbar.panels.redirects.RedirectsPanel",
            "debug_toolbar.panels.profiling.ProfilingPanel",
        },
    }

ROOT_URLCONF = "course.urls"
WSGI_APPLICATION = "course.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "lessons.web.editing.context",
                "lessons.web.identity.context",
            ],
            "builtins": ["lessons.templatetags.datasets"],
        },
    },
]

COURSE_DATASETS = ("tiny", "medium", "large")
# Exercises are also checked on a dataset the pages never offer, seeded differently and sized
# differently, so a hard-coded number or title cannot pass.
COURSE_CHECK_DATASET = "check"
COURSE_DEFAULT_DATASET = "tiny"


def _sqlite(name: str) -> dict[str, object]:
    return {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": VAR_DIR / f"{name}.sqlite3",
        # WAL lets a room of learners read while one snippet holds a write lock.
        "OPTIONS": {"timeout": 20, "init_command": "PRAGMA journal_mode=WAL;"},
        "TEST": {"NAME": VAR_DIR / f"test-{name}.sqlite3"},
        # Kept open by each server thread between requests: opening a SQLite file and setting
        # it up costs more than most of a page's queries.
        "CONN_MAX_AGE": 600,
        "CONN_HEALTH_CHECKS": True,
    }


def _course_database() -> dict[str, object]:
    """Sessions and progress: many short writes from a room at once. Each write transaction takes
    the write lock as it starts (IMMEDIATE), so it waits its turn instead of failing on an upgrade,
    and a commit does not wait for the disk (synchronous=NORMAL: in WAL mode only a power cut can
    lose the last commits, never corrupt the file)."""
    database = _sqlite("course")
    # Writers of one process take turns on a lock of its own (course/sqlite_backend).
    database["ENGINE"] = "course.sqlite_backend"
    database["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    return database


DATABASES = {"default": _course_database()} | {
    name: _sqlite(name) for name in (*COURSE_DATASETS, COURSE_CHECK_DATASET)
}
# PostgreSQL instead, when asked (course.databases says how; `make run-pg` and `make test-pg`).
COURSE_ENGINE = os.environ.get("COURSE_ENGINE", "sqlite").strip().lower()
if COURSE_ENGINE not in ("sqlite", "postgresql"):
    raise ImproperlyConfigured(f"COURSE_ENGINE is {COURSE_ENGINE!r}: use sqlite or postgresql.")
# Test databases on PostgreSQL are named after the checkout's var/: two checkouts (or two suites
# with their own COURSE_VAR_DIR) can test on one server at once.
_test_suffix = "_" + hashlib.sha256(str(VAR_DIR).encode()).hexdigest()[:8]
if COURSE_ENGINE == "postgresql":
    # A statement may take as long as the course's own runs may (see the run service below).
    _statement_seconds = float(os.environ.get("COURSE_RUN_WALL_SECONDS", 10)) * 3
    for _name in (*COURSE_DATASETS, COURSE_CHECK_DATASET):
        DATABASES[_name] = databases.dataset(_name, _statement_seconds, _test_suffix)
    # A run may turn statement_timeout off: the run service ends statements older than this.
    COURSE_PG_STATEMENT_SECONDS = _statement_seconds
    COURSE_PG_OWNER = databases.owner()
    COURSE_PG_RUNNER = databases.runner()
# The engines the lesson pages offer, the one above first (the primary: its datasets keep their
# aliases). On PostgreSQL, the SQLite datasets are configured too, under `<dataset>_sqlite`
# (the same files under var/ as SQLite's own datasets), seeded, guarded and copied per run as
# SQLite datasets are: a lesson page can switch engine as it switches data size.
COURSE_ENGINES: tuple[str, ...] = (COURSE_ENGINE,)
if COURSE_ENGINE == "postgresql":
    COURSE_ENGINES = ("postgresql", "sqlite")
    for _name in COURSE_DATASETS:
        DATABASES[f"{_name}_sqlite"] = _sqlite(_name)
# Every database alias that holds a dataset (the router migrates the blog there, and only there).
COURSE_DATASET_ALIASES = tuple(name for name in DATABASES if name != "default")
if _url := os.environ.get("DATABASE_URL"):
    DATABASES["default"] = databases.from_url(_url)
    DATABASES["default"]["TEST"] = {"NAME": f"test_{DATABASES['default']['NAME']}{_test_suffix}"}
DATABASE_ROUTERS = ["lessons.datasets.router.DatasetRouter"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Database sessions, read with one fixed SQL statement (lessons.web.sessions).
SESSION_ENGINE = "lessons.web.sessions"


def _env_number(name: str, default: float) -> float:
    return float(os.environ.get(name, default))


# The run service (lessons.engine.service): every run in a worker process, with limits.
COURSE_RUN_DIR = VAR_DIR / "run"  # the pool's locks and dataset templates
COURSE_RUN_WORKERS = int(_env_number("COURSE_RUN_WORKERS", os.cpu_count() or 2))
# Room enough for a room's bursts (a lesson switch sends 50 learners to Run together); the wait
# is what stays short: a learner is told "busy" within seconds rather than left waiting.
COURSE_RUN_QUEUE = int(_env_number("COURSE_RUN_QUEUE", 12 * COURSE_RUN_WORKERS))
COURSE_RUN_QUEUE_WAIT = _env_number("COURSE_RUN_QUEUE_WAIT", 4)
# Runs on these datasets take seconds each: they share at most half the workers, so learners
# on the smaller datasets always find one free.
COURSE_RUN_HEAVY_DATASETS = ("large", "large_sqlite") if "large_sqlite" in DATABASES else ("large",)
COURSE_RUN_HEAVY_WORKERS = int(
    _env_number("COURSE_RUN_HEAVY_WORKERS", max(1, COURSE_RUN_WORKERS // 2))
)
COURSE_RUN_HEAVY_QUEUE = int(_env_number("COURSE_RUN_HEAVY_QUEUE", 2 * COURSE_RUN_HEAVY_WORKERS))
# Exercise checks have workers of their own, on top of the others: a room looping the large
# snippets never keeps a learner from checking an answer. Two, so that a learner looping checks
# (one run at a time per address) always leaves one for everyone else.
COURSE_RUN_CHECK_WORKERS = int(
    _env_number("COURSE_RUN_CHECK_WORKERS", max(2, COURSE_RUN_WORKERS // 2))
)
COURSE_RUN_CHECK_QUEUE = int(_env_number("COURSE_RUN_CHECK_QUEUE", 6 * COURSE_RUN_CHECK_WORKERS))
# Runs in flight at once from one client address, whichever learner they are for (a new learner
# costs one request): fewer than COURSE_RUN_WORKERS, so one machine never holds the whole pool
# (0: no limit).
COURSE_RUN_PER_ADDRESS = int(_env_number("COURSE_RUN_PER_ADDRESS", 1))
# New learners one address may make a minute (a browser without the session cookie, or a join;
# 0: no limit). Beyond it: 429 with Retry-After.
COURSE_NEW_LEARNERS_PER_MINUTE = int(_env_number("COURSE_NEW_LEARNERS_PER_MINUTE", 20))
# Whether the two per-address limits above apply to loopback (127.0.0.0/8, ::1) too. Off by
# default: on a learner's own machine every request is local, and behind a proxy on the same
# machine (README: Serving over HTTPS) every learner of the room would share one address.
COURSE_LIMIT_LOOPBACK = os.environ.get("COURSE_LIMIT_LOOPBACK", "0") == "1"
# Identical runs of the course's own snippets share one execution (lessons.engine.sharing): the
# presses that arrive while it runs, and for this many seconds after it ended, the presses of
# learners who have not had it yet (README: A room of 200; negative: never shared).
COURSE_RUN_SHARE_SECONDS = _env_number("COURSE_RUN_SHARE_SECONDS", 5)
# How long a server process trusts a dataset's seed record (its counts and checksum) before it
# reads it again, instead of on every page: a dataset seeded again while the course is served
# shows its new counts within this. On PostgreSQL each read logs in to the dataset's database.
COURSE_DATASET_STATS_SECONDS = _env_number("COURSE_DATASET_STATS_SECONDS", 10)
# How long a server process trusts the open room it read (lessons.learner.rooms.active_room):
# every request asks for it, and on PostgreSQL reading it was a twelfth of a room's CPU. What this
# process changes in the room it reads again at once; another process's change shows within this.
COURSE_ROOM_FRESH_SECONDS = _env_number("COURSE_ROOM_FRESH_SECONDS", 1)
COURSE_RUN_CPU_SECONDS = int(_env_number("COURSE_RUN_CPU_SECONDS", 5))
COURSE_RUN_MEMORY_MB = int(_env_number("COURSE_RUN_MEMORY_MB", 512))
COURSE_RUN_WALL_SECONDS = _env_number("COURSE_RUN_WALL_SECONDS", 10)
COURSE_RUN_MAX_STATEMENTS = int(_env_number("COURSE_RUN_MAX_STATEMENTS", 20_000))
COURSE_RUN_MAX_CODE_CHARS = int(_env_number("COURSE_RUN_MAX_CODE_CHARS", 20_000))
# The course's own snippets must finish on the large dataset: they get this many times the limits.
COURSE_RUN_COURSE_FACTOR = int(_env_number("COURSE_RUN_COURSE_FACTOR", 3))
# The kernel's walls around each run (lessons.engine.child.confine): every one the server can build,
# unless this names fewer (the tests switch them on one at a time to check each alone).
_WALLS = ("namespaces", "network", "user", "landlock", "seccomp")
COURSE_RUN_WALLS = tuple(
    wall.strip()
    for wall in os.environ.get("COURSE_RUN_WALLS", ",".join(_WALLS)).split(",")
    if wall.strip()
)
if unknown_walls := set(COURSE_RUN_WALLS) - set(_WALLS):
    raise ImproperlyConfigured(
        f"COURSE_RUN_WALLS names {', '.join(sorted(unknown_walls))}: use {', '.join(_WALLS)}."
    )
# Each run's scratch folder is a tmpfs of this size (its dataset copies included).
COURSE_RUN_SCRATCH_MB = int(_env_number("COURSE_RUN_SCRATCH_MB", 256))
# A server running as root runs the code as unprivileged user ids, one per worker slot, from this
# one up (no account is needed; pick a range nothing else on the machine uses).
COURSE_RUN_UID = int(_env_number("COURSE_RUN_UID", 1_640_000))
# In a room, learners' own code needs walls on files and on the network; without them it is
# refused unless the instructor accepts the risk (make workshop EDITING=on ACCEPT_RISK=yes).
COURSE_ACCEPT_RISK = os.environ.get("COURSE_ACCEPT_RISK", "") == "yes"

# Learners editing code and running their own (lessons.web.editing): "local" (the default) allows
# it for requests from this machine only, "on" for everyone the server answers, "off" for nobody.
COURSE_EDITING = os.environ.get("COURSE_EDITING", "local").strip().lower()
if COURSE_EDITING not in ("local", "on", "off"):
    raise ImproperlyConfigured(f"COURSE_EDITING is {COURSE_EDITING!r}: use local, on or off.")

# Headers: SecurityMiddleware's defaults send nosniff, Referrer-Policy same-origin and
# Cross-Origin-Opener-Policy same-origin, X_FRAME_OPTIONS defaults to DENY, and
# lessons.web.security adds the Content Security Policy (tests/test_security.py holds them all).
# COURSE_HTTPS=1 for a room served over HTTPS (README: Serving over HTTPS), by gunicorn itself or
# by a proxy on the same machine (gunicorn trusts X-Forwarded-Proto from 127.0.0.1 only, so no
# SECURE_PROXY_SSL_HEADER here).
COURSE_HTTPS = os.environ.get("COURSE_HTTPS", "0") == "1"
if COURSE_HTTPS:
    SECURE_SSL_REDIRECT = True
    # An hour: long enough for a workshop, short enough that the machine can go back to plain
    # HTTP the next day.
    SECURE_HSTS_SECONDS = int(_env_number("COURSE_HSTS_SECONDS", 3600))
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    # includeSubDomains and preload speak for a whole domain, which a room's server does not own.
    SILENCED_SYSTEM_CHECKS = ["security.W005", "security.W021"]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
FIXTURE_DIRS = [BASE_DIR / "fixtures"]
# `collectstatic` fills it for workshop serving; with DEBUG, files are served from static/ directly.
STATIC_ROOT = None if DEBUG else VAR_DIR / "staticfiles"
WHITENOISE_USE_FINDERS = DEBUG

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
}
