"""PostgreSQL as a second engine: the settings read from the environment, and (when the suite runs
on PostgreSQL, `make test-pg`) the server-side guard that keeps the datasets unchanged."""

from __future__ import annotations

import re
import threading
import time
from typing import Any

import pytest
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.db import connections, transaction
from django.urls import reverse

from course import databases
from course.databases import LOCK_SECONDS, PREPARE_AFTER, from_url
from course.postgresql_backend import HEALTHY_FOR
from lessons import datasets
from lessons.catalog import get_catalog
from lessons.datasets import DatasetRef, pgguard
from lessons.datasets.guards import writable
from lessons.engine import service
from lessons.engine.child.runner import run_code
from lessons.measure.runs import run_learner_code, run_lesson_snippet

on_postgresql = pytest.mark.skipif(
    connections["tiny"].vendor != "postgresql", reason="the datasets are not on PostgreSQL"
)
own_tables_on_postgresql = pytest.mark.skipif(
    connections["default"].vendor != "postgresql",
    reason="the course's own tables are not on PostgreSQL (DATABASE_URL)",
)


def test_a_database_url_with_a_socket_folder_names_it_as_the_host() -> None:
    database = from_url("postgres://course@/course?host=/tmp/course-pg&port=5544")

    assert (database["NAME"], database["USER"], database["HOST"], database["PORT"]) == (
        "course",
        "course",
        "/tmp/course-pg",
        "5544",
    )


def test_a_database_url_with_a_server_keeps_its_password_and_options() -> None:
    database = from_url("postgresql://me:p%40ss@db.example:6543/rooms?sslmode=require")

    assert (database["PASSWORD"], database["HOST"], database["PORT"]) == (
        "p@ss",
        "db.example",
        "6543",
    )
    assert database["OPTIONS"] == {
        "server_side_binding": True,
        "prepare_threshold": PREPARE_AFTER,
        "sslmode": "require",
    }


def test_a_database_url_can_turn_server_side_binding_off() -> None:
    database = from_url("postgres://course@/course?host=/tmp/course-pg&server_side_binding=off")

    assert database["OPTIONS"] == {"server_side_binding": False}


def test_a_database_url_refuses_a_binding_it_cannot_read() -> None:
    with pytest.raises(ImproperlyConfigured, match="server_side_binding"):
        from_url("postgres://course@/course?server_side_binding=maybe")


def test_a_database_url_keeps_each_threads_connection_between_requests() -> None:
    database = from_url("postgres://course@/course?host=/tmp/course-pg&port=5544")

    assert database["CONN_MAX_AGE"] == 600
    assert database["CONN_HEALTH_CHECKS"] is True  # a connection the server dropped is replaced
    assert database["ENGINE"] == "course.postgresql_backend"


def _health_checks(monkeypatch: pytest.MonkeyPatch, connection: Any) -> list[bool]:
    """The checks the connection makes from now on, at a new request's first query."""
    checks: list[bool] = []
    usable = connection.is_usable

    def counted() -> bool:
        checks.append(usable())
        return checks[-1]

    monkeypatch.setattr(connection, "is_usable", counted)
    connection.close_if_unusable_or_obsolete()  # what the end of a request does
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return checks


@own_tables_on_postgresql
@pytest.mark.django_db(transaction=True)
def test_a_connection_checked_moments_ago_is_not_checked_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    connection = connections["default"]
    connection.close()
    connection.ensure_connection()  # a new connection vouches for itself

    assert _health_checks(monkeypatch, connection) == []


@own_tables_on_postgresql
@pytest.mark.django_db(transaction=True)
def test_a_connection_idle_for_longer_is_checked_at_the_next_request(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    connection = connections["default"]
    connection.ensure_connection()
    connection._vouched_at = time.monotonic() - HEALTHY_FOR - 1

    assert _health_checks(monkeypatch, connection) == [True]


@own_tables_on_postgresql
@pytest.mark.django_db(transaction=True)
def test_a_connection_the_server_dropped_is_replaced_at_the_next_request(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    connection = connections["default"]
    connection.ensure_connection()
    dropped = connection.connection.info.backend_pid
    other = connection.get_new_connection(connection.get_connection_params())
    other.execute("SELECT pg_terminate_backend(%s)", [dropped])
    other.close()
    connection._vouched_at = time.monotonic() - HEALTHY_FOR - 1

    assert _health_checks(monkeypatch, connection) == [False]
    assert connection.connection.info.backend_pid != dropped


@on_postgresql
def test_a_commit_on_the_raw_connection_keeps_nothing(data: None) -> None:
    before = datasets.checksum("tiny")

    # The raw psycopg connection: no Django wrapper sees this COMMIT, only the server does.
    result = run_code("Post.objects.update(title='kept?')\nconnection.connection.commit()", "tiny")

    assert result.error is not None and pgguard.REFUSAL in result.error.message
    assert datasets.checksum("tiny") == before


@on_postgresql
def test_pages_and_runs_log_in_as_a_role_that_cannot_truncate(data: None) -> None:
    with connections["tiny"].cursor() as cursor:
        cursor.execute("SELECT has_table_privilege('blog_post', 'TRUNCATE')")
        assert cursor.fetchone() == (False,)


@on_postgresql
def test_a_created_row_gets_an_id_past_the_seeded_ones(data: None) -> None:
    result = run_code(
        "print(Tag.objects.create(name='new', slug='new').pk > Tag.objects.count() - 1)", "tiny"
    )

    assert result.error is None, result.error
    assert result.output.strip() == "True"


@on_postgresql
def test_loading_a_fixture_that_is_rolled_back_leaves_ids_past_the_dataset(data: None) -> None:
    # loaddata moves the id sequences down to the fixture's ids; a rollback never moves them back.
    with writable(), transaction.atomic(using="medium"):
        call_command("loaddata", "tiny", database="medium", verbosity=0)
        transaction.set_rollback(True, using="medium")

    result = run_code("print(Tag.objects.create(name='new', slug='new').pk)", "medium")

    assert result.error is None, result.error
    assert int(result.output) > datasets.stats("medium").counts["tags"]


@on_postgresql
def test_the_server_stops_a_runs_statement_that_runs_too_long(data: None) -> None:
    sql = "SELECT setting FROM pg_settings WHERE name = 'statement_timeout'"  # milliseconds
    result = run_code(
        f'with connection.cursor() as c:\n    c.execute("{sql}")\n    print(c.fetchone()[0])',
        "tiny",
    )

    # As long as the course's own runs may take (settings: three times the wall clock).
    limit = int(settings.COURSE_RUN_WALL_SECONDS * 3 * 1000)
    assert (result.error, result.output.strip()) == (None, str(limit))


# The lesson "PostgreSQL's own tools", through the run service as a learner runs it.
TOOLS = get_catalog().by_slug["postgresql"]


def run_tool(snippet_id: str, dataset: str) -> str:
    run = run_lesson_snippet(TOOLS, TOOLS.snippets[snippet_id], DatasetRef(dataset))
    assert run.result.error is None, run.result.error
    return run.result.output


def printed_ids(output: str, worker: str) -> list[int]:
    line = next(line for line in output.splitlines() if line.startswith(f"worker {worker} took"))
    return [int(number) for number in re.findall(r"\d+", line)]


@on_postgresql
def test_skip_locked_hands_the_second_worker_the_next_rows(data: None) -> None:
    output = run_tool("lock-skip-locked", "medium")

    assert (printed_ids(output, "A"), printed_ids(output, "B")) == ([1, 2, 3], [4, 5, 6])


@on_postgresql
def test_nowait_refuses_the_second_worker_at_once(data: None) -> None:
    output = run_tool("lock-nowait", "tiny")

    assert 'could not obtain lock on row in relation "blog_post"' in output


@on_postgresql
def test_without_options_the_second_worker_waits_for_the_lock(data: None) -> None:
    output = run_tool("lock-blocking", "tiny")

    waited = float(re.search(r"waited ([\d.]+) s", output).group(1))  # type: ignore[union-attr]
    assert waited >= 0.9 and "lock timeout" in output


def test_on_sqlite_select_for_update_locks_nothing(data: None) -> None:
    if DatasetRef("tiny").stats().engine != "sqlite":
        pytest.skip("the datasets are on PostgreSQL")

    output = run_tool("lock-skip-locked", "tiny")

    assert printed_ids(output, "A") == printed_ids(output, "B") == [1, 2, 3]


@on_postgresql
def test_a_second_workers_writes_are_rolled_back(data: None) -> None:
    before = datasets.checksum("tiny")

    result = run_code(
        "another_worker(lambda: Post.objects.update(title='kept?'))\n"
        "print(another_worker(lambda: Post.objects.filter(title='kept?').count()))",
        "tiny",
    )

    assert (result.error, result.output.strip()) == (None, "0")
    assert datasets.checksum("tiny") == before


@on_postgresql
def test_a_thread_of_a_run_cannot_open_the_courses_own_database(data: None) -> None:
    code = (
        "import threading\n"
        "from django.db import connections\n"
        "seen = []\n"
        "def peek():\n"
        "    try:\n"
        "        connections['default'].cursor()\n"
        "        seen.append('opened')\n"
        "    except Exception as exc:\n"
        "        seen.append(type(exc).__name__)\n"
        "thread = threading.Thread(target=peek)\n"
        "thread.start()\n"
        "thread.join()\n"
        "print(seen)"
    )

    run = run_learner_code(
        code, DatasetRef("tiny"), learner="test"
    )  # through the service and its sandbox

    assert run.result.output.strip() == "['Refused']"


@on_postgresql
def test_the_trigram_index_serves_icontains_on_production(data: None) -> None:
    output = run_tool("trigram-icontains", "large")

    assert f"Bitmap Index Scan on {pgguard.TITLE_TRIGRAM_INDEX}" in output


@on_postgresql
def test_full_text_search_ranks_its_hits_best_first(data: None) -> None:
    output = run_tool("full-text-search", "medium")

    ranks = [float(line.split()[0]) for line in output.splitlines()]
    assert ranks and all(rank > 0 for rank in ranks) and ranks == sorted(ranks, reverse=True)


def sleeping_on_the_server(marker: str) -> int:
    """How many backends are busy with a statement that contains `marker`."""
    with connections["tiny"].cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE state = 'active' AND query LIKE %s "
            "AND pid <> pg_backend_pid()",
            [f"%{marker}%"],
        )
        return int(cursor.fetchone()[0])


@on_postgresql
def test_a_killed_run_leaves_no_statement_running_on_the_server(data: None, settings: Any) -> None:
    settings.COURSE_RUN_WALL_SECONDS = 2
    code = (
        "with connection.cursor() as c:\n"
        "    c.execute('SET statement_timeout = 0')\n"
        "    c.execute('SELECT pg_sleep(600) /* left-behind */')"
    )

    run = run_learner_code(code, DatasetRef("tiny"), learner="test")

    assert run.result.error is not None and run.result.error.type == "TimeLimit"
    assert sleeping_on_the_server("left-behind") == 0


@on_postgresql
def test_a_statement_past_the_limit_is_ended_whoever_started_it(data: None, settings: Any) -> None:
    settings.COURSE_PG_STATEMENT_SECONDS = 1
    outcome: list[str] = []

    def evade() -> None:  # a run role's statement that turned its timeout off, and no run tag
        connection = connections.create_connection("tiny")
        try:
            with connection.cursor() as cursor:
                cursor.execute("SET statement_timeout = 0")
                cursor.execute("SELECT pg_sleep(600) /* overdue */")
            outcome.append("finished")
        except Exception as exc:
            outcome.append(type(exc).__name__)
        finally:
            connection.close()

    evader = threading.Thread(target=evade)
    evader.start()
    time.sleep(1.5)
    run_learner_code("print(Post.objects.count())", DatasetRef("tiny"), learner="test")
    evader.join(timeout=10)

    assert outcome == ["OperationalError"]
    assert sleeping_on_the_server("overdue") == 0


# What a run could keep on the server outside the datasets (issue: large objects, its own role's
# defaults and password, a second connection). Each through the run service with the audit hook
# switched off first: the server's own refusals hold without it.
def hostile(source: str) -> str:
    from tests.test_hostile import HOOK_OFF

    return f"{HOOK_OFF}\n{source}"


def posts(dataset: str) -> str:
    return str(datasets.stats(dataset).counts["posts"])


def blog_answers_at_once(client: Any) -> float:
    """How long /blog/ took to answer (200, or the assertion fails)."""
    started = time.monotonic()
    response = client.get(reverse("blog:post-list"), {"dataset": "tiny"})
    assert response.status_code == 200
    return time.monotonic() - started


@on_postgresql
def test_a_run_cannot_create_a_large_object(data: None) -> None:
    code = hostile(
        "with connection.cursor() as c:\n"
        "    c.execute(\"SELECT lo_from_bytea(0, 'kept for later')\")\n"
        "connection.connection.commit()"
    )

    run = run_learner_code(code, DatasetRef("tiny"), learner="test")

    error = run.result.error
    assert error is not None
    assert (error.type, error.message) == (
        "ProgrammingError",
        "permission denied for function lo_from_bytea",
    )
    with connections["tiny"].cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_largeobject_metadata")
        assert cursor.fetchone() == (0,)


def superuser() -> str:
    with connections["tiny"].cursor() as cursor:
        cursor.execute("SELECT rolname FROM pg_roles WHERE rolsuper ORDER BY oid LIMIT 1")
        return str(cursor.fetchone()[0])


@on_postgresql
def test_seeding_refuses_a_server_where_runs_may_call_large_object_functions(data: None) -> None:
    role = superuser()  # a role that may call every function, as PUBLIC may on a fresh server

    with writable(), pytest.raises(ImproperlyConfigured) as refused:
        pgguard.protect("tiny", role)

    database = connections["tiny"].settings_dict["NAME"]
    assert str(refused.value).startswith(
        f"On PostgreSQL, the role runs log in as ({role}) may still call the large-object "
        f"functions in database {database} (lo_close(integer), lo_creat(integer), "
    )
    assert pgguard.large_object_functions("tiny", settings.COURSE_PG_RUNNER) == []


def run_role_defaults() -> int:
    with connections["tiny"].cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_db_role_setting WHERE setrole = "
            "(SELECT oid FROM pg_roles WHERE rolname = current_user)"
        )
        return int(cursor.fetchone()[0])


def committing_role_defaults(setting: str) -> str:
    """A run that gives its own role a default, for every database and for this one, and keeps
    it with a commit on the raw connection."""
    return hostile(
        "with connection.cursor() as c:\n"
        f'    c.execute("ALTER ROLE CURRENT_USER SET {setting}")\n'
        "    database = connection.ops.quote_name(connection.settings_dict['NAME'])\n"
        f'    c.execute(f"ALTER ROLE CURRENT_USER IN DATABASE {{database}} SET {setting}")\n'
        "connection.connection.commit()"
    )


@on_postgresql
def test_a_search_path_a_run_gives_its_role_leaves_the_next_run_and_the_blog_working(
    data: None, client: Any
) -> None:
    run_learner_code(
        committing_role_defaults("search_path = pg_catalog"), DatasetRef("tiny"), learner="test"
    )

    after = run_learner_code("print(Post.objects.count())", DatasetRef("tiny"), learner="test")

    assert (after.result.error, after.result.output) == (None, posts("tiny"))
    blog_answers_at_once(client)


@on_postgresql
def test_after_a_run_its_role_keeps_no_default_it_gave_itself(data: None) -> None:
    run_learner_code(
        committing_role_defaults("work_mem = '64kB'"), DatasetRef("tiny"), learner="test"
    )

    assert run_role_defaults() == 0


@on_postgresql
def test_a_new_connection_keeps_the_course_search_path_whatever_its_role_defaults(
    data: None,
) -> None:
    with connections["tiny"].cursor() as cursor:
        cursor.execute("ALTER ROLE CURRENT_USER SET search_path = pg_catalog")
    fresh = connections.create_connection("tiny")
    try:
        with fresh.cursor() as cursor:
            cursor.execute("SHOW search_path")
            assert cursor.fetchone() == ("public",)
    finally:
        fresh.close()
        pgguard.reset_run_role("tiny")


@on_postgresql
def test_a_run_that_changes_its_roles_password_locks_no_one_out(data: None, client: Any) -> None:
    code = hostile(
        "with connection.cursor() as c:\n"
        "    c.execute(\"ALTER ROLE CURRENT_USER PASSWORD 'mine now'\")\n"
        "connection.connection.commit()"
    )
    run_learner_code(code, DatasetRef("tiny"), learner="test")

    after = run_learner_code("print(Post.objects.count())", DatasetRef("tiny"), learner="test")

    assert (after.result.error, after.result.output) == (None, posts("tiny"))
    connections["tiny"].close()  # the page logs in anew
    blog_answers_at_once(client)


@on_postgresql
def test_a_runs_connection_waits_for_a_lock_or_in_a_transaction_only_so_long(data: None) -> None:
    names = ("lock_timeout", "idle_in_transaction_session_timeout")
    sql = f"SELECT setting FROM pg_settings WHERE name IN {names} ORDER BY name"  # milliseconds
    result = run_code(
        f'with connection.cursor() as c:\n    c.execute("{sql}")\n'
        "    print([int(s) for (s,) in c.fetchall()])",
        "tiny",
    )

    statement = int(settings.COURSE_PG_STATEMENT_SECONDS * 1000)
    assert (result.error, result.output) == (None, str([statement, LOCK_SECONDS * 1000]))


# A second connection, opened by the run itself with libpq, holding a table lock while it is busy
# with a statement (a backend between statements notices its client's death at once).
SECOND_CONNECTION = """
import psycopg, threading, time
s = connection.settings_dict
second = psycopg.connect(
    host=s["HOST"], port=s["PORT"], dbname=s["NAME"], user=s["USER"], password=s["PASSWORD"],
    application_name="not-a-run", options="{options}",
)
second.execute("LOCK TABLE blog_post IN ACCESS EXCLUSIVE MODE")
threading.Thread(target=second.execute, args=("SELECT pg_sleep(600) /* holding */",)).start()
time.sleep(0.5)
"""


@on_postgresql
@pytest.mark.parametrize(
    "options",
    [
        # Ended by the server within a second of the run's end (client_connection_check_interval).
        pytest.param("-c statement_timeout=0", id="server-checks-its-client"),
        # Blind to its client: only the run's walls (no connection but its own) stop this one.
        pytest.param(
            "-c statement_timeout=0 -c client_connection_check_interval=0", id="blind-backend"
        ),
    ],
)
def test_a_lock_a_runs_own_connection_takes_does_not_hold_the_blog(
    options: str, data: None, client: Any
) -> None:
    run_learner_code(
        hostile(SECOND_CONNECTION.format(options=options)), DatasetRef("tiny"), learner="test"
    )

    assert blog_answers_at_once(client) < databases.CLIENT_CHECK_SECONDS + 1
    assert sleeping_on_the_server("holding") == 0


def holding_a_lock(outcome: list[str], pid: list[int]) -> threading.Thread:
    """A run role's connection holding LOCK TABLE, busy, and blind to its client going away:
    what a run that turned every setting off would leave. Its backend's pid goes in `pid`."""

    def hold() -> None:
        connection = connections.create_connection("tiny")
        try:
            with connection.cursor() as cursor:
                cursor.execute("SET client_connection_check_interval = 0")
                cursor.execute("SET statement_timeout = 0")
                cursor.execute("BEGIN")
                cursor.execute("LOCK TABLE blog_post IN ACCESS EXCLUSIVE MODE")
                pid.append(connection.connection.info.backend_pid)
                cursor.execute("SELECT pg_sleep(600) /* reported */")
            outcome.append("finished")
        except Exception as exc:
            outcome.append(type(exc).__name__)
        finally:
            connection.close()

    thread = threading.Thread(target=hold)
    thread.start()
    while not pid and thread.is_alive():
        time.sleep(0.01)
    return thread


@on_postgresql
def test_the_backends_a_run_reported_are_ended_after_it(data: None, client: Any) -> None:
    outcome: list[str] = []
    pid: list[int] = []
    holder = holding_a_lock(outcome, pid)

    service._end_left_statements({"tiny": "unused"}, "course-run-none", pids={"tiny": pid})
    holder.join(timeout=10)

    assert outcome == ["OperationalError"]
    assert blog_answers_at_once(client) < 1


@on_postgresql
def test_a_reported_pid_of_another_role_is_left_alone(data: None) -> None:
    import psycopg

    login = connections["tiny"].settings_dict
    owner = settings.COURSE_PG_OWNER
    with psycopg.connect(
        host=login["HOST"],
        port=login["PORT"],
        dbname=login["NAME"],
        user=owner["USER"],
        password=owner["PASSWORD"] or None,
    ) as other:
        ended = pgguard.end_backends("tiny", [other.info.backend_pid])

        assert ended == 0
        assert other.execute("SELECT 1").fetchone() == (1,)
