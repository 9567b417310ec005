"""How a dataset on PostgreSQL stays unchanged whatever a run does (the shared and SQLite guards
are beside it, in `guards`).

Pages and runs log in as a role that does not own the tables (COURSE_PG_USER, `course_run`):
it may SELECT, INSERT, UPDATE and DELETE, so a snippet's writes work inside its transaction, but
every blog table carries a deferred constraint trigger that refuses, at COMMIT, any change made by
a role other than the owner. A run's transaction is always rolled back; if a snippet commits
anyway (raw `COMMIT`, `connection.connection.commit()`), the commit fails and the server rolls the
transaction back. Only the owner can drop or disable the trigger, and the run role cannot become
the owner (NOINHERIT, no membership) nor TRUNCATE (not granted).

What a run could still keep past its rollback lives outside the tables, and is dealt with here
too: large objects (their functions must be revoked by a superuser; protect() refuses a server
where the run role can still call them), its own role's defaults and password (reset after every
run, see reset_run_role() and restore_login()), and backends it opened (end_backends()).
"""

from __future__ import annotations

from collections.abc import Iterable

from django.apps import apps
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
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
    if functions := large_object_functions(alias, runner):
        raise ImproperlyConfigured(large_objects_open(alias, runner, functions))


# Every function that creates, writes or reads a large object (lo_from_bytea, lo_create, lo_open,
# lowrite, lo_put, ...): PostgreSQL grants them to PUBLIC, and only their owner, the superuser,
# can take them back.
_LARGE_OBJECT_FUNCTIONS = (
    "SELECT oid::regprocedure::text FROM pg_proc "
    "WHERE pronamespace = 'pg_catalog'::regnamespace AND proname ~ '^(lo_|loread$|lowrite$)' "
    "AND has_function_privilege(%s, oid, 'EXECUTE') ORDER BY 1"
)


def large_object_functions(alias: str, runner: str) -> list[str]:
    """The large-object functions `runner` may call in dataset `alias`'s database: none on a
    safe server. A large object is kept by a commit on the raw connection (the trigger that
    refuses a run's commit guards tables only), and outlives every later run."""
    with connections[alias].cursor() as cursor:
        cursor.execute(_LARGE_OBJECT_FUNCTIONS, [runner])
        return [name for (name,) in cursor.fetchall()]


def large_objects_open(alias: str, runner: str, functions: list[str]) -> str:
    database = connections[alias].settings_dict["NAME"]
    return (
        f"On PostgreSQL, the role runs log in as ({runner}) may still call the large-object "
        f"functions in database {database} ({', '.join(functions)}): a run could keep data there "
        "for later runs to read. As a superuser, revoke them from PUBLIC in that database and in "
        "template1, which the test databases copy (.ci/pg up does both): "
        "SELECT format('REVOKE EXECUTE ON FUNCTION %s FROM PUBLIC', oid::regprocedure) "
        "FROM pg_proc WHERE pronamespace = 'pg_catalog'::regnamespace "
        "AND proname ~ '^(lo_|loread$|lowrite$)' \\gexec"
    )


def reset_run_role(alias: str) -> int:
    """Take away every default the run role gave itself (ALTER ROLE CURRENT_USER [IN DATABASE
    ...] SET, kept by a commit on the raw connection): for all databases and for each one, which
    an ordinary role may do for itself. Connections pass their critical settings as options,
    which win over these (course.databases), but any other default would reach every later
    login. Run as the run role after each run; returns how many sets of defaults it reset."""
    quote = connections[alias].ops.quote_name
    with connections[alias].cursor() as cursor:
        cursor.execute(
            "SELECT d.datname FROM pg_db_role_setting s LEFT JOIN pg_database d "
            "ON d.oid = s.setdatabase WHERE s.setrole = "
            "(SELECT oid FROM pg_roles WHERE rolname = current_user)"
        )
        databases = [name for (name,) in cursor.fetchall()]
        for database in databases:
            where = "" if database is None else f" IN DATABASE {quote(database)}"
            cursor.execute(f"ALTER ROLE CURRENT_USER{where} RESET ALL")
    return len(databases)


RESTORE_FUNCTION = "course_restore_runner"


def restore_login(alias: str) -> None:
    """Give the run role back the password the course logs in with. An ordinary role may change
    its own password (ALTER ROLE CURRENT_USER PASSWORD ...), which would shut every page and run
    out; only a superuser, or a function one made, can set it back. Logs in as the owner to the
    `postgres` database and calls that function (.ci/pg up creates it; on a server of your own,
    see the README)."""
    import psycopg  # only where the datasets are on PostgreSQL

    login = connections[alias].settings_dict
    owner = settings.COURSE_PG_OWNER
    with psycopg.connect(
        host=login["HOST"] or None,
        port=login["PORT"] or None,
        dbname="postgres",
        user=owner["USER"],
        password=owner["PASSWORD"] or None,  # none: libpq's password file (PGPASSFILE)
        autocommit=True,
    ) as connection:
        connection.execute(f"SELECT {RESTORE_FUNCTION}(%s)", [login["PASSWORD"]])


def end_backends(alias: str, pids: Iterable[int]) -> int:
    """End the backends `pids` (the connections a run reported it opened), those of the run role
    only: a pid the run made up, or one since taken by another role's backend, is left alone.
    Ending a backend rolls its transaction back and frees its locks. Returns how many it ended."""
    pids = sorted({int(pid) for pid in pids})
    if not pids:
        return 0
    with connections[alias].cursor() as cursor:
        cursor.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE usename = current_user AND pid <> pg_backend_pid() AND pid = ANY(%s)",
            [pids],
        )
        (ended,) = cursor.fetchone()
    return int(ended)


def end_left_statements(alias: str, run_tag: str, overdue_seconds: float) -> int:
    """End, on the server of dataset `alias`, what runs left running there: the statements of the
    run tagged `run_tag` (its process is gone, and a backend busy with a statement would not notice
    until it finished), and any statement of the run role older than `overdue_seconds` (a run may
    turn its own statement_timeout off). The pages log in as the run role, which may end its own
    role's backends. Only on this course's own dataset databases: another checkout (or another
    test worker) with databases of its own on the same server keeps its limits. Returns how many
    it ended."""
    with connections[alias].cursor() as cursor:
        cursor.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE usename = current_user AND pid <> pg_backend_pid() AND state <> 'idle' "
            "AND datname = ANY(%s) "
            "AND (application_name = %s OR now() - query_start > make_interval(secs => %s))",
            [_dataset_databases(), run_tag, overdue_seconds],
        )
        (ended,) = cursor.fetchone()
    return int(ended)


def _dataset_databases() -> list[str]:
    """The names of the datasets' databases on PostgreSQL (their test names under the tests)."""
    return [
        str(connections[name].settings_dict["NAME"])
        for name in settings.COURSE_DATASET_ALIASES
        if connections[name].vendor == "postgresql"
    ]


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
