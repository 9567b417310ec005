"""EXPLAIN: only for statements the course captured, never for SQL from the browser. SQLite
answers EXPLAIN QUERY PLAN (not run); PostgreSQL EXPLAIN (ANALYZE, BUFFERS), run and rolled back."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from django.core import signing
from django.db import connections
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from lessons import datasets, engine
from lessons.engine import CapturedQuery
from lessons.measure import explain as explain_module
from lessons.measure.explain import SALT, PlanLine, PlanRefused, explain, parse_postgresql, sign
from tests.test_postgresql import on_postgresql
from tests.test_service import holding

BAD = "count-comments.bad"
on_sqlite = pytest.mark.skipif(
    connections["tiny"].vendor != "sqlite", reason="the datasets are on PostgreSQL"
)

# What PostgreSQL 15 answered for EXPLAIN (ANALYZE, BUFFERS) on the large dataset (never ANALYZEd,
# so the planner guesses 141 rows where 4,062 come).
REAL_PLAN = (Path(__file__).parent / "explain_plan_postgresql.txt").read_text().splitlines()


def first_token(client: Client) -> str:
    response = client.post(
        reverse("lessons:run", args=["n-plus-one"]),
        {"snippet": BAD, "dataset": "medium"},
        HTTP_HX_REQUEST="true",
    )
    tokens = re.findall(r'name="token" value="([^"]+)"', response.content.decode())
    assert tokens, "the panel offers a plan for each statement it shows"
    return tokens[1]  # the per-post COUNT(*)


def test_plan_of_a_captured_statement(client: Client, data: None) -> None:
    response = client.post(
        reverse("lessons:explain"), {"token": first_token(client)}, HTTP_HX_REQUEST="true"
    )

    html = response.content.decode()
    assert response.status_code == 200
    assert 'class="plan"' in html
    assert "blog_comment" in html  # SQLite's plan names the table it searches
    assert 'Query plan <span class="muted">(Staging)</span>' in html  # medium, as the page names it


def test_plan_without_javascript_is_a_page(client: Client, data: None) -> None:
    response = client.post(reverse("lessons:explain"), {"token": first_token(client)})

    assert response.status_code == 200
    assert "<html" in response.content.decode()


def test_sql_sent_by_the_browser_is_refused(client: Client, data: None) -> None:
    response = client.post(reverse("lessons:explain"), {"token": "SELECT * FROM blog_post"})

    assert response.status_code == 400
    assert "did not come from a query the course ran" in response.content.decode()


def test_token_signed_with_another_key_is_refused(client: Client, data: None) -> None:
    forged = signing.dumps(
        {"d": "medium", "s": "DELETE FROM blog_post", "p": []}, key="not-the-course-key", salt=SALT
    )

    response = client.post(reverse("lessons:explain"), {"token": forged})

    assert response.status_code == 400


@on_sqlite
def test_explain_never_runs_the_statement(data: None) -> None:
    before = datasets.checksum("tiny")
    plan = explain(sign("tiny", CapturedQuery("DELETE FROM blog_comment", None, False, 0, 1)))

    assert plan.lines  # SQLite describes how it would delete
    assert datasets.checksum("tiny") == before


@on_sqlite
def test_sqlite_plan_is_explain_query_plan_not_run(client: Client, data: None) -> None:
    response = client.post(
        reverse("lessons:explain"), {"token": first_token(client)}, HTTP_HX_REQUEST="true"
    )

    html = response.content.decode()
    assert "SQLite, EXPLAIN QUERY PLAN</strong>: not run" in html
    assert "actual time" not in html


@on_sqlite
def test_sqlite_plan_keeps_its_tree_lines(data: None) -> None:
    sql = (
        'SELECT "blog_post"."id" FROM "blog_post" WHERE "blog_post"."id" IN '
        '(SELECT "blog_comment"."post_id" FROM "blog_comment")'
    )
    plan = explain(sign("medium", CapturedQuery(sql, None, False, 0, 1)))

    assert not plan.analyzed
    assert [line.node for line in plan.lines] == [""] * len(plan.lines)  # no nodes to parse
    assert any(line.indent for line in plan.lines)  # the subquery's step sits under its parent


# The plan is made by the run service, like any run


POSTS = CapturedQuery('SELECT "blog_post"."id" FROM "blog_post"', None, False, 0, 1)


def test_a_plan_is_made_in_a_run_never_on_the_pages_own_connection(data: None) -> None:
    with CaptureQueriesContext(connections["medium"]) as page:
        plan = explain(sign("medium", POSTS))

    assert plan.lines
    assert not [query for query in page.captured_queries if "EXPLAIN" in query["sql"].upper()]


def test_a_plan_waits_for_a_worker_like_any_run(client: Client, data: None, settings: Any) -> None:
    settings.COURSE_RUN_WORKERS, settings.COURSE_RUN_QUEUE = 1, 0
    token = sign("tiny", POSTS)

    with holding(Path(settings.COURSE_RUN_DIR) / "slots" / "0.lock"):
        with pytest.raises(engine.ServiceBusy):
            explain(token)
        response = client.post(reverse("lessons:explain"), {"token": token}, HTTP_HX_REQUEST="true")

    assert response.status_code == 503
    assert response["Retry-After"] == str(engine.RETRY_AFTER)
    assert "The course is busy running other learners" in response.content.decode()


def test_a_plan_on_a_heavy_dataset_takes_the_heavy_lane(data: None, settings: Any) -> None:
    settings.COURSE_RUN_HEAVY_WORKERS, settings.COURSE_RUN_HEAVY_QUEUE = 1, 0

    with (
        holding(Path(settings.COURSE_RUN_DIR) / "heavy" / "0.lock"),
        pytest.raises(engine.HeavyBusy),
    ):
        explain(sign("large", POSTS))


def nodes(lines: list[PlanLine]) -> list[str]:
    return [f"{line.indent}{line.node}" for line in lines if line.node]


def test_postgresql_plan_text_parses_into_its_nodes_and_their_indentation() -> None:
    lines, _, _ = parse_postgresql(REAL_PLAN)

    assert nodes(lines) == [
        "Hash Join",
        "  ->  Nested Loop",
        "        ->  HashAggregate",
        "              ->  Seq Scan",
        "        ->  Index Scan",
        "  ->  Hash",
        "        ->  Seq Scan",
    ]


def test_postgresql_plan_node_keeps_its_target_and_figures() -> None:
    lines, _, _ = parse_postgresql(REAL_PLAN)
    index_scan = next(line for line in lines if line.node == "Index Scan")

    assert index_scan.text == "using blog_post_pkey on blog_post p"
    assert index_scan.cost == "0.28..5.21"
    assert index_scan.actual == "actual time=0.001..0.001 rows=1 loops=4062"
    assert (index_scan.estimated_rows, index_scan.actual_rows, index_scan.loops) == (1, 1, 4062)


def test_postgresql_plan_details_stay_under_their_node() -> None:
    lines, _, _ = parse_postgresql(REAL_PLAN)

    assert lines[1] == PlanLine("  ", "Hash Cond: (p.author_id = a.id)")
    assert lines[2] == PlanLine("  ", "Buffers: shared hit=21308")


def test_postgresql_planning_and_execution_time_leave_the_tree_for_the_summary() -> None:
    lines, planning, times = parse_postgresql(REAL_PLAN)

    assert times == {"Planning": 0.313, "Execution": 13.348}
    assert planning == ["Buffers: shared hit=48"]
    assert not any("Time:" in line.text or line.text == "Planning:" for line in lines)


def test_a_big_row_misestimate_is_flagged_and_a_small_one_is_not() -> None:
    lines, _, _ = parse_postgresql(REAL_PLAN)
    by_node = {f"{line.node} {line.text}": line for line in lines if line.node}

    assert by_node["Nested Loop "].misestimate == 29  # 141 estimated, 4,062 came
    assert by_node["Hash "].misestimate is None  # 100 estimated, 200 came


def test_a_node_never_executed_has_no_misestimate() -> None:
    lines, _, _ = parse_postgresql(
        ["->  Seq Scan on blog_tag  (cost=0.00..22.70 rows=1270 width=36) (never executed)"]
    )

    assert (lines[0].node, lines[0].actual, lines[0].misestimate) == (
        "Seq Scan",
        "never executed",
        None,
    )


@on_postgresql
def test_postgresql_plan_is_explain_analyze(data: None) -> None:
    sql = 'SELECT COUNT(*) FROM "blog_comment" WHERE "blog_comment"."post_id" = %s'
    plan = explain(sign("medium", CapturedQuery(sql, [3], False, 0, 1)))

    assert (plan.engine, plan.analyzed) == ("PostgreSQL", True)
    assert plan.execution_ms is not None and plan.planning_ms is not None
    assert plan.lines[0].node == "Aggregate" and plan.lines[0].actual.startswith("actual time=")
    assert any(line.text.startswith("Buffers: shared") for line in plan.lines)


@on_postgresql
def test_explain_analyze_of_an_update_runs_it_and_leaves_the_dataset_unchanged(data: None) -> None:
    before = datasets.checksum("tiny")
    update = CapturedQuery('UPDATE "blog_post" SET "title" = %s', ["changed?"], False, 0, 1)

    plan = explain(sign("tiny", update))

    scan = next(line for line in plan.lines if line.node == "Seq Scan")
    assert scan.actual_rows == datasets.stats("tiny").counts["posts"]  # it really ran
    assert datasets.checksum("tiny") == before


@on_postgresql
def test_a_statement_slower_than_a_plan_may_take_is_refused(
    data: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(explain_module, "ANALYZE_SECONDS", 0.05)
    slow = CapturedQuery("SELECT pg_sleep(%s)", [2], False, 0, 1)

    with pytest.raises(PlanRefused, match=re.escape("ran longer than the 0.05 s a plan may take")):
        explain(sign("tiny", slow))


@on_postgresql
def test_a_slow_plan_answers_its_message_not_a_500(
    client: Client, data: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(explain_module, "ANALYZE_SECONDS", 0.05)
    token = sign("tiny", CapturedQuery("SELECT pg_sleep(%s)", [2], False, 0, 1))

    response = client.post(reverse("lessons:explain"), {"token": token}, HTTP_HX_REQUEST="true")

    assert response.status_code == 400
    assert "PostgreSQL stopped it and rolled it back" in response.content.decode()


@on_postgresql
def test_postgresql_plan_panel_says_it_ran_and_shows_the_figures(
    client: Client, data: None
) -> None:
    response = client.post(
        reverse("lessons:explain"), {"token": first_token(client)}, HTTP_HX_REQUEST="true"
    )

    html = response.content.decode()
    assert "EXPLAIN (ANALYZE, BUFFERS)</strong>: the statement was run and rolled back" in html
    assert '<strong class="plan-node">Aggregate</strong>' in html
    assert "actual time=" in html and "<dt>Execution Time</dt>" in html


def tokens_of(html: str) -> list[dict[str, object]]:
    found = re.findall(r'name="token" value="([^"]+)"', html)
    return [signing.loads(token, salt=SALT) for token in found]


def test_the_plans_of_learners_code_never_run_it(client: Client, data: None) -> None:
    response = client.post(
        reverse("lessons:run", args=["n-plus-one"]),
        {"snippet": BAD, "dataset": "medium", "code": "print(Post.objects.count())"},
        HTTP_HX_REQUEST="true",
    )

    tokens = tokens_of(response.content.decode())
    assert tokens and all(token["a"] is False for token in tokens)


def test_the_plans_of_the_courses_own_code_may_run_it(client: Client, data: None) -> None:
    response = client.post(
        reverse("lessons:run", args=["n-plus-one"]),
        {"snippet": BAD, "dataset": "medium"},
        HTTP_HX_REQUEST="true",
    )

    assert all(token["a"] is True for token in tokens_of(response.content.decode()))


@on_postgresql
def test_a_plan_that_may_not_run_its_statement_does_not(data: None) -> None:
    # A session-level advisory lock outlives the plan's rolled-back transaction: a statement a
    # learner's run reports, run by the web process, would leave it held by a page's connection.
    grab = CapturedQuery("SELECT pg_advisory_lock(%s)", [424242], False, 0, 1)

    plan = explain(sign("tiny", grab, run_it=False))

    with connections["tiny"].cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'")
        (held,) = cursor.fetchone()
    assert plan.analyzed is False and held == 0
