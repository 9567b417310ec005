"""PostgreSQL settings, read from the environment (SQLite stays the default; see course.settings).

- COURSE_ENGINE=postgresql puts the datasets on PostgreSQL: COURSE_PG_HOST (a host or a socket
  folder), COURSE_PG_PORT, COURSE_PG_USER (the role pages and runs log in as: it may write inside a
  transaction but can never commit a change, see lessons.datasets.pgguard), COURSE_PG_OWNER (the
  role that owns, seeds and creates the datasets), COURSE_PG_PASSWORD and COURSE_PG_OWNER_PASSWORD
  if needed, COURSE_PG_SCHEMA if the tables are not in `public`.
- DATABASE_URL=postgres://user:password@host:port/name (or ?host=/socket/folder&port=...) puts the
  `default` database (sessions, rooms, progress) on PostgreSQL.
`.ci/pg env` prints all of them for the private cluster under var/pg.
"""

from __future__ import annotations

import os
from urllib.parse import parse_qs, unquote, urlsplit

from django.core.exceptions import ImproperlyConfigured

POSTGRESQL = "django.db.backends.postgresql"
# The course's own tables: Django's backend, checking a kept connection's health less often.
OWN_TABLES = "course.postgresql_backend"


def from_url(url: str) -> dict[str, object]:
    """A Django DATABASES entry from a postgres:// URL (a socket folder goes in ?host=...)."""
    parts = urlsplit(url)
    if parts.scheme not in ("postgres", "postgresql", "pgsql"):
        raise ImproperlyConfigured(f"DATABASE_URL must be a postgres:// URL, not {parts.scheme}://")
    query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
    name = unquote(parts.path.lstrip("/"))
    if not name:
        raise ImproperlyConfigured("DATABASE_URL names no database (postgres://.../<name>).")
    return {
        "ENGINE": OWN_TABLES,
        "NAME": name,
        "USER": unquote(parts.username or query.pop("user", "")),
        "PASSWORD": unquote(parts.password or query.pop("password", "")),
        "HOST": query.pop("host", None) or unquote(parts.hostname or ""),
        "PORT": str(query.pop("port", None) or parts.port or ""),
        "OPTIONS": _binding(query) | query,  # anything else (sslmode, ...) goes to libpq as it is
        # Kept open by each server thread between requests: a new connection costs PostgreSQL a
        # process and a login, more than all of a page's queries (a room of 200 on one laptop
        # spent as much CPU in PostgreSQL as in the pages). Each server holds up to its
        # processes x threads connections: max_connections must cover every server's. One the
        # server dropped is replaced (checked at most every few seconds: course.postgresql_backend).
        "CONN_MAX_AGE": 600,
        "CONN_HEALTH_CHECKS": True,
    }


# A statement a connection has sent this many times is prepared (psycopg's prepare_threshold).
PREPARE_AFTER = 5


def _binding(query: dict[str, str]) -> dict[str, object]:
    """The values sent apart from the statement (psycopg's server-side binding), and each
    connection preparing what it sends again and again: a room's session, room, learner and
    progress reads then skip PostgreSQL's parsing and planning (benchmarks/bench_binding.py).
    ?server_side_binding=off for a pooler that cannot keep prepared statements."""
    value = query.pop("server_side_binding", "on").lower()
    if value not in ("on", "off", "true", "false", "1", "0"):
        raise ImproperlyConfigured(f"DATABASE_URL: server_side_binding={value!r}: use on or off.")
    if value in ("off", "false", "0"):
        return {"server_side_binding": False}
    after = query.pop("prepare_threshold", str(PREPARE_AFTER))
    if not after.isdigit():
        raise ImproperlyConfigured(f"DATABASE_URL: prepare_threshold={after!r} is not a count.")
    return {"server_side_binding": True, "prepare_threshold": int(after)}


def dataset(name: str, statement_seconds: float, test_suffix: str) -> dict[str, object]:
    """Dataset `name` on PostgreSQL, logged in as the role that cannot commit a change."""
    return {
        "ENGINE": POSTGRESQL,
        "NAME": f"course_{name}",
        "USER": runner(),
        "PASSWORD": os.environ.get("COURSE_PG_PASSWORD", ""),
        "HOST": os.environ.get("COURSE_PG_HOST", ""),
        "PORT": os.environ.get("COURSE_PG_PORT", ""),
        "OPTIONS": {"options": session_options(statement_seconds)},
        "TEST": {"NAME": f"test_course_{name}{test_suffix}"},
    }


# How long a page's or a run's statement waits for a lock before it fails: a lock a run holds
# (on a connection of its own, say) never keeps /blog/ or another learner's run waiting longer.
LOCK_SECONDS = 5
# How often a busy backend looks whether its client is still there: one whose run was killed
# stops within this, instead of at the end of its statement.
CLIENT_CHECK_SECONDS = 1


def session_options(statement_seconds: float) -> str:
    """libpq's startup options for every dataset connection (pages and runs alike). Startup options
    win over the defaults a role gives itself (ALTER ROLE CURRENT_USER SET ..., which a run can
    commit), so these hold on every connection whatever a run left behind."""
    milliseconds = int(statement_seconds * 1000)
    settings = {
        # The server stops any one statement that runs longer than a whole run may.
        "statement_timeout": milliseconds,
        "lock_timeout": LOCK_SECONDS * 1000,
        # A run's transaction sits idle while its Python works, at most as long as a run lasts.
        "idle_in_transaction_session_timeout": milliseconds,
        "client_connection_check_interval": CLIENT_CHECK_SECONDS * 1000,
        # The tables live in this schema: a search_path a run set cannot hide them.
        "search_path": os.environ.get("COURSE_PG_SCHEMA", "public"),
    }
    return " ".join(f"-c {name}={value}" for name, value in settings.items())


def owner() -> dict[str, str]:
    """What guards.writable() logs in as to seed the datasets and build the test databases."""
    return {
        "USER": os.environ.get("COURSE_PG_OWNER", "course"),
        "PASSWORD": os.environ.get("COURSE_PG_OWNER_PASSWORD", ""),
    }


def runner() -> str:
    return os.environ.get("COURSE_PG_USER", "course_run")
