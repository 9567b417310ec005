"""A run's cost beyond its count, as the run measures it: rows read per statement, objects built
and alive at once, the atomic probe, and the witness below Django that sees statements the
recorder did not. Run in this process, so each measurement is seen alone."""

from __future__ import annotations

import pytest

from lessons import datasets
from lessons.display.costs import kind
from lessons.engine.child.runner import run_code
from tests.conftest import RENAMES

STREAMED = """
approved = Prefetch("comments", queryset=Comment.objects.filter(approved=True))
posts = Post.objects.prefetch_related(approved).order_by("pk")[:1000]
total = 0
for post in posts{iterate}:
    total += len(post.comments.all())
print(total)
"""


def test_each_statement_counts_the_rows_read_from_it(data: None) -> None:
    result = run_code("print(list(Post.objects.values_list('pk', flat=True)[:7]))", "medium")

    assert [query.rows for query in result.queries] == [7]


def test_rows_a_statement_returns_but_nobody_reads_are_not_counted(data: None) -> None:
    code = "posts = Post.objects.iterator(chunk_size=10)\nprint(next(posts).pk)"

    result = run_code(code, "large")

    assert result.rows_fetched == 10  # one chunk of the 5,000 posts


def test_rows_read_add_up_over_the_run(data: None) -> None:
    code = "for post in Post.objects.all()[:5]:\n    print(post.author.name)"

    result = run_code(code, "medium")

    assert result.rows_fetched == 10


def test_rows_read_through_a_cursor_of_the_code_count_too(data: None) -> None:
    code = (
        "with connection.cursor() as cursor:\n"
        "    cursor.execute('SELECT id FROM blog_post LIMIT 4')\n"
        "    print(len(cursor.fetchall()))"
    )

    result = run_code(code, "medium")

    assert result.rows_fetched == 4


def test_objects_held_at_once_grow_with_the_data_when_nothing_streams(data: None) -> None:
    held = run_code(STREAMED.format(iterate=""), "large")
    streamed = run_code(STREAMED.format(iterate=".iterator(chunk_size=100)"), "large")

    assert held.output == streamed.output
    assert streamed.objects_alive_peak * 3 < held.objects_alive_peak


def test_objects_alive_at_once_never_exceed_those_built(data: None) -> None:
    result = run_code(STREAMED.format(iterate=".iterator(chunk_size=100)"), "large")

    assert 0 < result.objects_alive_peak <= result.objects_built_total


def test_the_atomic_probe_finds_what_a_loop_without_a_transaction_leaves(data: None) -> None:
    code = RENAMES.format(block="if True:")

    result = run_code(code, "medium", fail_on_write=2)

    assert result.atomic is not None and result.atomic.reached
    assert (result.atomic.rows_left, result.atomic.tables) == (1, ("blog_tag",))


def test_the_atomic_probe_finds_nothing_left_by_a_transaction(data: None) -> None:
    result = run_code(RENAMES.format(block="with transaction.atomic():"), "medium", fail_on_write=2)

    assert result.atomic is not None and result.atomic.reached
    assert result.atomic.rows_left == 0
    assert result.output == "failed"


def test_the_atomic_probe_is_not_reached_by_code_with_one_write(data: None) -> None:
    code = "Tag.objects.update(name='same')"

    result = run_code(code, "medium", fail_on_write=2)

    assert result.atomic is not None and not result.atomic.reached


def test_after_the_failing_write_no_other_write_gets_through(data: None) -> None:
    undo_by_hand = (
        "from django.db import DatabaseError\n"
        "tags = list(Tag.objects.order_by('pk')[:3])\n"
        "old = [tag.name for tag in tags]\n"
        "try:\n"
        "    for tag in tags:\n"
        "        tag.name += ' (renamed)'\n"
        "        tag.save(update_fields=['name'])\n"
        "except DatabaseError:\n"
        "    transaction.set_rollback(False)\n"
        "    for tag, name in zip(tags, old):\n"
        "        Tag.objects.filter(pk=tag.pk).update(name=name)\n"
    )

    result = run_code(undo_by_hand, "medium", fail_on_write=2)

    assert result.atomic is not None and result.atomic.rows_left == 1


def test_without_a_probe_no_write_fails(data: None) -> None:
    result = run_code(RENAMES.format(block="if True:"), "medium")

    assert result.atomic is None and result.output == ""


def test_a_run_that_leaves_the_recorder_alone_is_trusted(data: None) -> None:
    code = "from django.test.utils import CaptureQueriesContext\n" + (
        "with CaptureQueriesContext(connection):\n"
        "    print(Post.objects.filter(pk__in=list(range(1500))).count())"
    )

    assert run_code(code, "medium").integrity == []


@pytest.mark.parametrize(
    ("code", "said"),
    [
        ("connection.execute_wrappers.pop()", "took the course's recorder out"),
        ("connection.execute_wrappers = []", "took the course's recorder out"),
        ("connection.execute_wrappers[-1].queries = []", "replaced the course's recorder"),
        ("connection.execute_wrappers[-1].queries.clear()", "removed statements"),
        (
            "connection.connection.execute('SELECT count(*) FROM blog_comment').fetchall()",
            "reached the database without being recorded",
        ),
        (
            "recorder = connection.execute_wrappers[-1]\n"
            "recorder.queries.clear()\nrecorder.recorded = 0",
            "reached the database without being recorded",
        ),
        (
            "for query in connection.execute_wrappers[-1].queries:\n    query.rows = 0",
            "changed how many rows its statements read",
        ),
        (
            "connection.execute_wrappers[-1].tally_rows = lambda count: None",
            "changed how many rows its statements read",
        ),
        (
            "from django.db.models.signals import post_init\n"
            "post_init.disconnect(dispatch_uid='course-count-instances')",
            "switched off the count of the model objects",
        ),
        ("connection.execute_wrappers[-1].fail_on_write = 5", "changed which of its writes"),
        ("connection.connection.set_trace_callback(None)", "silenced the statement counter"),
    ],
    ids=[
        "pop",
        "replace-the-list",
        "replace-its-list",
        "empty-its-list",
        "raw-driver",
        "empty-and-recount",
        "zero-the-rows",
        "skip-the-tally",
        "stop-counting-objects",
        "move-the-failing-write",
        "silence",
    ],
)
def test_a_run_that_tampers_with_its_count_says_so(code: str, said: str, data: None) -> None:
    if datasets.stats("medium").engine != "sqlite" and "trace_callback" in code:
        # On PostgreSQL the witness is a cursor class under psycopg's connection.
        code = (
            "connection.connection.cursor_factory = connection.connection.cursor_factory.__base__"
        )
    code = f"print(Post.objects.count())\n{code}\nprint(Post.objects.count())"

    result = run_code(code, "medium", fail_on_write=2 if "fail_on_write" in code else None)

    assert any(said in problem for problem in result.integrity), result.integrity


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ('SELECT "blog_post"."id" FROM "blog_post"', "SELECT"),
        ('INSERT INTO "blog_tag" ("name") VALUES (%s)', "INSERT"),
        ('UPDATE "blog_tag" SET "name" = %s', "UPDATE"),
        ('DELETE FROM "blog_tag"', "DELETE"),
        ('SAVEPOINT "s1_x1"', "savepoint"),
        ('RELEASE SAVEPOINT "s1_x1"', "savepoint"),
        ('ROLLBACK TO SAVEPOINT "s1_x1"', "savepoint"),
        ("BEGIN", "transaction"),
        ("WITH t AS (SELECT 1) SELECT * FROM t", "SELECT"),
        ("PRAGMA foreign_keys", "other"),
    ],
)
def test_statements_are_named_by_their_kind(sql: str, expected: str) -> None:
    assert kind(sql) == expected
