"""Presentation: grouping, per-line counts, interpolation, escaping."""

from __future__ import annotations

import datetime

from lessons.display.highlight import highlight_python_lines, highlight_sql
from lessons.display.report import build_report, interpolate
from lessons.engine.capture import CapturedQuery


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
