"""PostgreSQL as a second engine: the settings read from the environment, and (when the suite runs
on PostgreSQL, `make test-pg`) the server-side guard that keeps the datasets unchanged."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connections, transaction

from blog import datasets, pgguard
from course.databases import from_url
from lessons.engine.guards import writable
from lessons.engine.runner import run_code

on_postgresql = pytest.mark.skipif(
    connections["tiny"].vendor != "postgresql", reason="the datasets are not on PostgreSQL"
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
    assert database["OPTIONS"] == {"sslmode": "require"}


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
