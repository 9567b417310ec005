"""How a dataset on PostgreSQL stays unchanged whatever a run does (SQLite's guards are in
lessons.engine.guards).

Pages and runs log in as a role that does not own the tables (COURSE_PG_USER, `course_run`):
it may SELECT, INSERT, UPDATE and DELETE, so a snippet's writes work inside its transaction, but
every blog table carries a deferred constraint trigger that refuses, at COMMIT, any change made by
a role other than the owner. A run's transaction is always rolled back; if a snippet commits
anyway (raw `COMMIT`, `connection.connection.commit()`), the commit fails and the server rolls the
transaction back. Only the owner can drop or disable the trigger, and the run role cannot become
the owner (NOINHERIT, no membership) nor TRUNCATE (not granted).
"""

from __future__ import annotations

from django.apps import apps
from django.core.management.color import no_style
from django.db import connections

REFUSAL = "The datasets are read-only: a run's changes are never committed."

_FUNCTION = f"""
CREATE OR REPLACE FUNCTION course_keep_dataset() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '{REFUSAL.replace("'", "''")}' USING ERRCODE = 'insufficient_privilege';
END $$
"""


def protect(alias: str, runner: str) -> None:
    """Grant `runner` row access to every blog table of dataset `alias`, and refuse at commit any
    change it makes. Run as the owner (inside guards.writable()), after migrate; idempotent."""
    connection = connections[alias]
    if connection.vendor != "postgresql":
        return
    models = apps.get_app_config("blog").get_models(include_auto_created=True)
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_user")
        (owner,) = cursor.fetchone()
        cursor.execute(_FUNCTION)
        for model in models:
            table = quote(model._meta.db_table)
            cursor.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON {table} TO {quote(runner)}")
            cursor.execute(f"DROP TRIGGER IF EXISTS course_keep_dataset ON {table}")
            # WHEN is checked as each row changes; the refusal itself waits for COMMIT, so writes
            # work inside the run's transaction. session_user: SET ROLE cannot change it.
            cursor.execute(
                f"CREATE CONSTRAINT TRIGGER course_keep_dataset "
                f"AFTER INSERT OR UPDATE OR DELETE ON {table} "
                f"DEFERRABLE INITIALLY DEFERRED FOR EACH ROW "
                f"WHEN (session_user <> %s) EXECUTE FUNCTION course_keep_dataset()",
                [owner],
            )
        cursor.execute(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {quote(runner)}")
        # makemigrations --check reads every database's migration history.
        cursor.execute(f"GRANT SELECT ON django_migrations TO {quote(runner)}")


def end_left_statements(alias: str, run_tag: str, overdue_seconds: float) -> int:
    """End, on the server of dataset `alias`, what runs left running there: the statements of the
    run tagged `run_tag` (its process is gone, and a backend busy with a statement would not notice
    until it finished), and any statement of the run role older than `overdue_seconds` (a run may
    turn its own statement_timeout off). The pages log in as the run role, which may end its own
    role's backends. Returns how many it ended."""
    with connections[alias].cursor() as cursor:
        cursor.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE usename = current_user AND pid <> pg_backend_pid() AND state <> 'idle' "
            "AND (application_name = %s OR now() - query_start > make_interval(secs => %s))",
            [run_tag, overdue_seconds],
        )
        (ended,) = cursor.fetchone()
    return int(ended)


# What `title__icontains` compiles to on PostgreSQL is UPPER("title"::text) LIKE UPPER(%s): a
# trigram index on that very expression serves it (the lesson on PostgreSQL's tools shows it).
TITLE_TRIGRAM_INDEX = "blog_post_title_trgm"


def search_index(alias: str) -> None:
    """The pg_trgm extension (trusted: a database owner may create it) and a trigram index on
    post titles. Run as the owner once the posts are in: a GIN index built over existing rows is
    complete. No pending list (fastupdate off): rows that rolled-back runs insert would otherwise
    pile up in it until a vacuum, and the planner shuns an index with a long one."""
    with connections[alias].cursor() as cursor:
        # The foreign keys' checks wait for COMMIT, and a table with checks pending cannot be
        # indexed: run them now.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        cursor.execute(f"DROP INDEX IF EXISTS {TITLE_TRIGRAM_INDEX}")
        cursor.execute(
            f"CREATE INDEX {TITLE_TRIGRAM_INDEX} ON blog_post "
            f'USING gin ((UPPER("title"::text)) gin_trgm_ops) WITH (fastupdate = off)'
        )


def reset_sequences(alias: str) -> None:
    """The seeder writes explicit ids: move each id sequence past them, so a snippet's create()
    gets a fresh id instead of a duplicate key."""
    connection = connections[alias]
    tables = set(connection.introspection.table_names())  # none yet in a database never seeded
    models = [
        model
        for model in apps.get_app_config("blog").get_models(include_auto_created=True)
        if model._meta.db_table in tables
    ]
    with connection.cursor() as cursor:
        for statement in connection.ops.sequence_reset_sql(no_style(), models):
            cursor.execute(statement)
