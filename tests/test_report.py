"""Presentation: grouping, per-line counts, interpolation, escaping."""

from __future__ import annotations

import datetime
from types import SimpleNamespace
from typing import Any

import pytest
from django.template.loader import render_to_string
from django.utils.html import escape

from lessons.display.highlight import highlight_python_lines, highlight_sql
from lessons.display.report import (
    HIGHLIGHTED_CHARS,
    REPEATS_FLAGGED,
    REPORT_HIGHLIGHTED_CHARS,
    SHOWN_GROUPS,
    SHOWN_QUERIES,
    build_report,
    interpolate,
    statement_kind,
)
from lessons.engine import CapturedQuery


def query(sql: str, params: tuple[object, ...] = (), line: int | None = 1) -> CapturedQuery:
    return CapturedQuery(sql, params, False, 0.001, line)


def test_statement_repeated_with_different_params_is_flagged_n_plus_one() -> None:
    queries = [query("SELECT * FROM p", line=1)] + [
        query("SELECT COUNT(*) FROM c WHERE post_id = %s", (i,), line=3) for i in range(4)
    ]

    report = build_report(queries)

    [group] = report.n_plus_one
    assert (group.count, group.distinct_params, group.lines) == (4, 4, (3,))
    assert report.duplicated == []


def test_a_select_repeated_fewer_times_than_the_threshold_is_similar_not_an_n_plus_one() -> None:
    sql = "SELECT * FROM p WHERE title = %s"
    report = build_report([query(sql, (i,), line=4) for i in range(REPEATS_FLAGGED - 1)])

    assert report.n_plus_one == []
    assert [row.similar for row in report.rows] == [REPEATS_FLAGGED - 1] * (REPEATS_FLAGGED - 1)


def test_a_select_repeated_once_each_from_different_lines_is_not_an_n_plus_one() -> None:
    sql = "SELECT * FROM p WHERE id = %s"
    report = build_report([query(sql, (i,), line=i) for i in range(1, 2 * REPEATS_FLAGGED)])

    assert report.n_plus_one == []


def test_a_select_one_line_repeats_with_varying_params_is_an_n_plus_one_at_the_threshold() -> None:
    sql = "SELECT * FROM a WHERE id = %s"
    report = build_report([query(sql, (i,), line=2) for i in range(REPEATS_FLAGGED)])

    assert [group.count for group in report.n_plus_one] == [REPEATS_FLAGGED]


def test_a_write_in_a_loop_is_a_bulk_candidate_not_an_n_plus_one() -> None:
    sql = "INSERT INTO c (post_id, body) VALUES (%s, %s)"
    report = build_report([query(sql, (i, "x"), line=5) for i in range(10)])

    assert report.n_plus_one == []
    assert [group.count for group in report.bulk_candidates] == [10]


def test_two_writes_in_a_loop_are_not_flagged() -> None:
    sql = "INSERT INTO c (post_id, body) VALUES (%s, %s)"
    report = build_report([query(sql, (i, "x"), line=5) for i in range(2)])

    assert (report.n_plus_one, report.bulk_candidates, report.hidden_groups) == ([], [], 0)


def test_transaction_control_repeated_in_a_loop_is_never_flagged() -> None:
    report = build_report([query("RELEASE SAVEPOINT %s", (f"s{i}",), line=3) for i in range(10)])

    assert (report.n_plus_one, report.bulk_candidates) == ([], [])


@pytest.mark.parametrize(
    ("sql", "kind"),
    [
        ("SELECT 1", "read"),
        ("  with t as (select 1) select * from t", "read"),
        ("(SELECT a FROM t) UNION (SELECT b FROM u)", "read"),
        ("update t set a = 1", "write"),
        ("DELETE FROM t", "write"),
        ('SAVEPOINT "s1_x1"', "other"),
        ("ROLLBACK TO SAVEPOINT s1", "other"),
        ("", "other"),
    ],
)
def test_a_statement_kind_comes_from_its_first_word(sql: str, kind: str) -> None:
    assert statement_kind(sql) == kind


def test_same_sql_and_params_is_a_duplicate_not_an_n_plus_one() -> None:
    report = build_report([query("SELECT 1 WHERE x = %s", (7,)) for _ in range(3)])

    [group] = report.duplicated
    assert group.count == 3 and group.distinct_params == 1
    assert report.n_plus_one == []
    assert [row.duplicate for row in report.rows] == [3, 3, 3]


def test_rows_know_their_similar_group_size() -> None:
    report = build_report([query("A %s", (1,)), query("A %s", (2,)), query("B")])

    assert [(row.similar, row.duplicate) for row in report.rows] == [(2, 1), (2, 1), (1, 1)]


def test_per_line_counts_skip_queries_without_a_line() -> None:
    report = build_report([query("A", line=2), query("B", line=2), query("C", line=None)])

    assert report.lines == {2: 2}


def test_interpolate_writes_parameters_as_sql_literals() -> None:
    sql = "SELECT * FROM t WHERE a = %s AND b = %s AND c = %s AND d IS %s AND e = %s"
    params = ("O'Brien", 3, True, None, datetime.datetime(2026, 1, 2, 3, 4, 5))

    assert interpolate(sql, params) == (
        "SELECT * FROM t WHERE a = 'O''Brien' AND b = 3 AND c = 1 AND d IS NULL "
        "AND e = '2026-01-02 03:04:05'"
    )


def test_interpolate_leaves_mismatched_placeholders_alone() -> None:
    assert interpolate("SELECT %s, %s", (1,)) == "SELECT %s, %s"


def test_highlighted_sql_escapes_markup_from_the_data() -> None:
    html = highlight_sql(interpolate("SELECT * FROM t WHERE title = %s", ("<script>x</script>",)))

    assert "<script>" not in html
    assert "&lt;script&gt;" in html


def test_highlighted_sql_is_reindented_by_sqlparse() -> None:
    html = highlight_sql("select a, b from t where c = 1")

    assert "\n" in html
    assert "SELECT" in html  # keywords upper-cased


def test_python_lines_are_escaped_and_one_per_source_line() -> None:
    lines = highlight_python_lines('x = "<b>"\ny = """a\nb"""\n')

    assert len(lines) == 3  # the triple-quoted string spans lines 2 and 3
    assert "a" in lines[1] and "b" in lines[2]
    assert "<b>" not in lines[0] and "&lt;b&gt;" in lines[0]


def test_enormous_statement_is_shown_unformatted_rather_than_failing() -> None:
    sql = "SELECT * FROM t WHERE id IN (" + ", ".join(["%s"] * 5000) + ")"

    html = highlight_sql(interpolate(sql, tuple(range(5000))))

    assert "4999" in html


def test_interpolate_with_mismatched_named_params_shows_the_statement() -> None:
    assert interpolate("SELECT %(a)s", {"b": 1}) == "SELECT %(a)s"


# The work a page does on a run's statements is bounded, whatever the run sent


def sized(length: int, tag: int = 0) -> str:
    """A statement of `length` characters of the costliest kind: one long list."""
    text = f"SELECT {tag}, " + "1, " * length
    return text[:length]


def test_a_statement_past_the_bound_is_shown_cut_and_plain() -> None:
    sql = "SELECT '<b>', " + "1, " * 350_000  # about 1 MB

    [row] = build_report([query(sql)]).shown_rows

    assert row.unformatted == "Shown as sent, not highlighted: longer than 10,000 characters."
    assert row.html == (
        f"{escape(sql[:HIGHLIGHTED_CHARS])}… ({len(sql) - HIGHLIGHTED_CHARS:,} more characters "
        'not shown)\n<span class="hl-c1">-- Shown as sent, not highlighted: longer than 10,000 '
        "characters.</span>"
    )


def test_a_report_highlights_no_more_than_its_budget() -> None:
    report = build_report([query(sized(2_000, i)) for i in range(SHOWN_QUERIES)])

    highlighted = [row for row in report.shown_rows if row.unformatted is None]
    assert len(highlighted) == REPORT_HIGHLIGHTED_CHARS // 2_000
    assert {row.unformatted for row in report.shown_rows[len(highlighted) :]} == {
        "Shown as sent, not highlighted: a page highlights at most 40,000 characters of SQL."
    }


def test_a_report_reindents_no_more_than_its_budget() -> None:
    report = build_report([query(sized(1_000, i)) for i in range(10)])

    assert [row.reindented for row in report.shown_rows] == [True] * 3 + [False] * 7
    assert all(row.unformatted is None for row in report.shown_rows)


def test_a_statement_repeated_is_reindented_once_for_the_budget() -> None:
    report = build_report([query(sized(1_000), (i,)) for i in range(10)])

    assert all(row.reindented for row in report.shown_rows)


def test_groups_are_drawn_first_then_rows_with_what_is_left() -> None:
    # Five N+1 groups of 8,000 characters: they take the whole highlighting budget.
    queries = [query(sized(7_997, i // 4) + " %s", (i,)) for i in range(20)]

    report = build_report(queries)

    assert [g.unformatted for g in report.shown_n_plus_one] == [None] * 5
    assert all(row.unformatted is not None for row in report.shown_rows)


def test_only_so_many_groups_are_drawn() -> None:
    queries = [query(f"SELECT {i // 4} WHERE id = %s", (i,)) for i in range(120)]

    report = build_report(queries)

    assert len(report.n_plus_one) == 30
    assert len(report.shown_n_plus_one) == SHOWN_GROUPS
    assert report.hidden_groups == 30 - SHOWN_GROUPS


def test_a_report_of_huge_statements_draws_a_bounded_page() -> None:
    statements = [query(sized(1_000_000, i)) for i in range(10)] + [
        query(sized(300), (i,)) for i in range(20_000)
    ]

    report = build_report(statements)

    drawn = [*report.shown_rows, *report.shown_n_plus_one, *report.shown_duplicated]
    assert sum(len(item.html) for item in drawn) < (SHOWN_QUERIES + 2) * 2 * HIGHLIGHTED_CHARS


def panel(queries: list[CapturedQuery], truncated: list[str] | None = None) -> str:
    """The run panel of a learner's run that recorded `queries`."""
    from lessons.engine import RunResult

    result = RunResult(dataset="tiny", queries=queries, truncated=truncated or [])
    stats = SimpleNamespace(
        name="tiny", engine="sqlite", engine_label="SQLite", alias="tiny",
        spec=SimpleNamespace(label="Laptop"), counts={"posts": 5},
    )  # fmt: skip
    run: Any = SimpleNamespace(
        panel_id="playground", stats=stats, result=result, expected=None, edited=True,
        snippet=None, label="Your code", duration_ms=1.0, matches=None, error_expected=False,
    )  # fmt: skip
    return render_to_string("lessons/_panel.html", {"run": run, "report": build_report(queries)})


def test_the_panel_names_a_write_loop_a_bulk_candidate() -> None:
    sql = "UPDATE blog_post SET view_count = %s WHERE id = %s"

    html = panel([query(sql, (i, i), line=3) for i in range(6)])

    assert "<strong>Bulk candidate:</strong> one write ran 6 times" in html
    assert "N+1 detected" not in html


def test_the_panel_names_a_read_per_row_an_n_plus_one() -> None:
    sql = "SELECT * FROM blog_author WHERE id = %s"

    html = panel([query(sql, (i,), line=3) for i in range(6)])

    assert "<strong>N+1 detected:</strong> one SELECT ran 6 times" in html


def test_the_panel_says_what_was_cut_and_offers_no_plan_for_a_cut_statement() -> None:
    queries = [query("SELECT 1, " + "1, " * 5_000 + "1 FROM blog_post")]
    note = (
        "The run reported 30,000 statements, more than the limit of 20,000: <10,000> were not kept."
    )

    html = panel(queries, [note])

    assert f'<p class="muted reply-cut">{escape(note)}</p>' in html
    assert "-- Shown as sent, not highlighted: longer than 10,000 characters." in html
    assert "Explain query plan" not in html


def test_the_sql_list_folds_similar_statements_under_the_first() -> None:
    posts = query("SELECT * FROM blog_post", line=1)
    counts = [
        query("SELECT COUNT(*) FROM blog_comment WHERE post_id = %s", (i,), 3) for i in range(5)
    ]

    listed = build_report([posts, *counts]).listed

    assert [entry.count for entry in listed] == [1, 5]
    assert [row.index for row in listed[1].rows] == [2, 3, 4, 5, 6]
    assert listed[1].lines == (3,)


def test_the_sql_list_says_how_many_of_a_statement_it_did_not_draw() -> None:
    counts = [query("SELECT 1 WHERE %s", (i,)) for i in range(SHOWN_QUERIES + 7)]

    [entry] = build_report(counts).listed

    assert (entry.count, len(entry.rows), entry.undrawn) == (SHOWN_QUERIES + 7, SHOWN_QUERIES, 7)
