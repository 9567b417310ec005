"""The runner: capture, attribution, errors, bounded output, and the rollback guarantee."""

from __future__ import annotations

import textwrap
from collections import Counter

import pytest
from django.db import connections

from lessons import datasets
from lessons.datasets import pgguard
from lessons.engine.child.runner import run_code as run_snippet

MUTATING = textwrap.dedent(
    """
    Post.objects.update(title="changed")
    Comment.objects.filter(approved=False).delete()
    author = Author.objects.create(name="New", email="new@example.com")
    Post.objects.bulk_create(
        [Post(title=f"bulk {i}", slug=f"bulk-{i}", author=author, body="x") for i in range(3)]
    )
    Tag.objects.all().delete()
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM blog_author WHERE id = %s", [1])
    with transaction.atomic():
        Category.objects.all().delete()
    print(Post.objects.filter(title="changed").count(), Tag.objects.count())
    """
)


def test_mutating_snippet_leaves_the_dataset_unchanged(dataset: str) -> None:
    before = (datasets.stats(dataset).counts, datasets.checksum(dataset))

    result = run_snippet(MUTATING, dataset)

    assert result.error is None, result.error
    # Inside the run the changes were real: every post renamed, every tag gone...
    posts = datasets.stats(dataset).counts["posts"]
    assert result.output == f"{posts} 0"
    # ...and afterwards none of them is left.
    assert (datasets.stats(dataset).counts, datasets.checksum(dataset)) == before


def test_failing_snippet_still_rolls_back_what_it_wrote(data: None) -> None:
    before = datasets.checksum("tiny")

    result = run_snippet("Post.objects.update(view_count=0)\nraise ValueError('stop')", "tiny")

    assert result.error is not None and result.error.type == "ValueError"
    assert datasets.checksum("tiny") == before


def test_commit_from_a_snippet_is_refused(data: None) -> None:
    before = datasets.checksum("tiny")

    result = run_snippet(
        "Post.objects.update(view_count=0)\nconnection.cursor().execute('COMMIT')", "tiny"
    )

    assert result.error is not None
    assert (result.error.type, result.error.line) == ("TransactionControlRefused", 2)
    assert datasets.checksum("tiny") == before


def test_async_snippet_is_captured_attributed_and_rolled_back(data: None) -> None:
    before = datasets.checksum("tiny")
    code = textwrap.dedent(
        """\
        total = await Post.objects.acount()
        titles = [p.title async for p in Post.objects.all()]
        await Post.objects.aupdate(title="async")
        renamed = await Post.objects.filter(title="async").acount()
        print(total == renamed == len(titles))
        """
    )

    result = run_snippet(code, "tiny")

    assert result.error is None, result.error
    assert result.output == "True"
    assert [q.line for q in result.queries] == [1, 2, 3, 4]
    assert result.queries[2].sql.startswith("UPDATE")
    assert datasets.checksum("tiny") == before


def test_async_helper_queries_are_attributed_to_the_helper_line(data: None) -> None:
    code = "async def newest():\n    return await Post.objects.afirst()\n\nawait newest()\n"

    result = run_snippet(code, "tiny")

    assert [q.line for q in result.queries] == [2]


def test_queries_are_attributed_to_the_line_that_fired_them(data: None) -> None:
    code = textwrap.dedent(
        """\
        posts = Post.objects.order_by("id")[:3]
        for post in posts:
            post.author.name
            post.tags.count()
        first = Post.objects.first()
        """
    )

    result = run_snippet(code, "tiny")

    assert Counter(q.line for q in result.queries) == {2: 1, 3: 3, 4: 3, 5: 1}


def test_sync_orm_in_async_code_reports_synchronous_only_operation(data: None) -> None:
    result = run_snippet("await Post.objects.acount()\nPost.objects.count()", "tiny")

    assert result.error is not None
    assert (result.error.type, result.error.line) == ("SynchronousOnlyOperation", 2)


def test_syntax_error_comes_back_as_a_result(data: None) -> None:
    result = run_snippet("posts = Post.objects.all(\n", "tiny")

    assert result.error is not None
    assert result.error.type == "SyntaxError"
    assert result.error.line == 1
    assert result.queries == []


def test_exception_comes_back_with_its_snippet_line(data: None) -> None:
    result = run_snippet("x = Post.objects.count()\nPost.objects.get(pk=-1)\n", "tiny")

    assert result.error is not None
    assert (result.error.type, result.error.line) == ("DoesNotExist", 2)
    assert result.query_count == 2


def test_exception_inside_a_snippet_function_reports_the_deepest_line(data: None) -> None:
    result = run_snippet("def f():\n    return 1 / 0\n\nf()\n", "tiny")

    assert result.error is not None
    assert (result.error.type, result.error.line) == ("ZeroDivisionError", 2)


def test_sys_exit_in_a_snippet_is_an_error_not_a_shutdown(data: None) -> None:
    result = run_snippet("import sys\nsys.exit(3)", "tiny")

    assert result.error is not None and result.error.type == "SystemExit"


def test_print_is_bounded_and_counts_what_it_dropped(data: None) -> None:
    result = run_snippet("for i in range(250):\n    print(i)", "tiny")

    assert result.output.splitlines()[0] == "0"
    assert len(result.output.splitlines()) == 200
    assert result.output_dropped == 50


def test_print_joins_partial_lines(data: None) -> None:
    result = run_snippet("print('a', end='')\nprint('b', 'c', sep='-')", "tiny")

    assert result.output == "ab-c"


def test_objects_built_are_counted_per_model(data: None) -> None:
    result = run_snippet("list(Post.objects.select_related('author'))", "tiny")

    posts = datasets.stats("tiny").counts["posts"]
    assert result.objects_built["Post"] == posts
    assert result.objects_built["Author"] == posts


def test_unknown_dataset_is_refused_before_running(data: None) -> None:
    with pytest.raises(datasets.UnknownDataset, match=r"choose one of Laptop \(tiny\), Staging"):
        run_snippet("print(1)", "huge")


def test_peak_memory_is_measured_only_when_asked(data: None) -> None:
    code = "rows = list(Comment.objects.all())"

    plain = run_snippet(code, "medium")
    measured = run_snippet(code, "medium", measure_memory=True)

    assert plain.peak_memory is None
    assert measured.peak_memory is not None
    # Hundreds of Comment instances cannot fit in less than a few dozen kilobytes.
    assert measured.peak_memory > 50_000


def test_plain_atomic_in_a_snippet_covers_the_dataset(data: None) -> None:
    code = textwrap.dedent(
        """\
        try:
            with transaction.atomic():
                Post.objects.update(title="inside")
                raise ValueError
        except ValueError:
            pass
        print(Post.objects.filter(title="inside").count())
        """
    )

    result = run_snippet(code, "tiny")

    assert result.error is None, result.error
    assert result.output == "0"  # the savepoint on the dataset rolled the update back
    assert [q.sql.split()[0] for q in result.queries] == [
        "SAVEPOINT", "UPDATE", "ROLLBACK", "RELEASE", "SELECT",
    ]  # fmt: skip


def test_transaction_helpers_default_to_the_dataset(data: None) -> None:
    code = "print(transaction.get_connection().alias, transaction.get_autocommit())"

    result = run_snippet(code, "medium")

    assert result.output == "medium False"


@pytest.mark.parametrize(
    "escape",
    [
        "connection.cursor().execute('/* sneaky */ COMMIT')",
        "connection.cursor().execute('-- note\\nCOMMIT')",
        "connection.connection.executescript('COMMIT;')",
        "connection.connection.commit()",
        "connection.cursor().execute(\"ATTACH DATABASE ':memory:' AS other\")",
        "connection.connection.execute('PRAGMA query_only = 0')",
    ],
)
def test_every_way_out_of_the_transaction_is_refused(data: None, escape: str) -> None:
    before = datasets.checksum("tiny")

    result = run_snippet(f"Post.objects.update(view_count=0)\n{escape}", "tiny")

    assert result.error is not None and result.error.line == 2
    assert datasets.checksum("tiny") == before


def test_writing_to_another_dataset_from_a_run_is_refused(data: None) -> None:
    before = datasets.checksum("medium")

    result = run_snippet("Post.objects.using('medium').update(view_count=0)", "tiny")

    # SQLite's query_only connection, or PostgreSQL's trigger as the write commits (autocommit).
    refused = "readonly" if connections["medium"].vendor == "sqlite" else pgguard.REFUSAL
    assert result.error is not None and refused in result.error.message
    assert datasets.checksum("medium") == before


def test_writing_from_another_thread_is_refused(data: None) -> None:
    before = datasets.checksum("tiny")
    code = textwrap.dedent(
        """\
        from asgiref.sync import sync_to_async
        from django.db import connections
        def write():
            try:
                return Post.objects.update(view_count=0)
            finally:
                connections.close_all()
        await sync_to_async(write, thread_sensitive=False)()
        """
    )

    result = run_snippet(code, "tiny")

    refused = "readonly" if connections["tiny"].vendor == "sqlite" else pgguard.REFUSAL
    assert result.error is not None and refused in result.error.message
    assert datasets.checksum("tiny") == before


def test_rollback_to_a_named_savepoint_is_allowed(data: None) -> None:
    code = textwrap.dedent(
        """\
        with connection.cursor() as cursor:
            cursor.execute("SAVEPOINT mine")
            cursor.execute("ROLLBACK TRANSACTION TO SAVEPOINT mine")
            cursor.execute("RELEASE SAVEPOINT mine")
        """
    )

    assert run_snippet(code, "tiny").error is None


def test_print_without_newlines_stays_bounded(data: None) -> None:
    result = run_snippet("for i in range(100_000):\n    print('x', end='')", "tiny")

    assert len(result.output) <= 500
