"""Plan claims judged against plans as each engine words them (no database: the lines are given)."""

from __future__ import annotations

from lessons.catalog.plans import parse
from lessons.measure.explain import Plan, PlanLine, parse_postgresql
from lessons.measure.plan_claims import aliases, judge

COMMENTS = 'SELECT "blog_comment"."id" FROM "blog_comment" WHERE "blog_comment"."post_id" = %s'


def sqlite(sql: str, *details: str) -> Plan:
    return Plan("large", sql, [], "SQLite", False, [PlanLine("", d) for d in details])


def postgresql(sql: str, *text: str) -> Plan:
    lines, _planning, _times = parse_postgresql(list(text))
    return Plan("large", sql, [], "PostgreSQL", False, lines)


def broken(claims: str, *plans: Plan) -> list[str]:
    return [str(b.claim) for b in judge(parse(claims), list(plans))]


def test_a_sqlite_search_using_the_index_meets_an_index_claim() -> None:
    plan = sqlite(
        COMMENTS, "SEARCH blog_comment USING INDEX blog_comment_post_created_idx (post_id=?)"
    )

    assert broken("index:blog_comment_post_created_idx; no-scan:blog_comment", plan) == []


def test_a_covering_index_counts_as_the_index() -> None:
    plan = sqlite(
        COMMENTS, "SEARCH blog_comment USING COVERING INDEX blog_comment_created_idx (created_at>?)"
    )

    assert broken("index:blog_comment_created_idx", plan) == []


def test_a_sqlite_scan_breaks_no_scan_and_names_the_line() -> None:
    plan = sqlite(COMMENTS, "SCAN blog_comment")

    [result] = judge(parse("no-scan:blog_comment"), [plan])

    assert result.line == "SCAN blog_comment"
    assert (
        "reads the whole blog_comment table" in result.message and COMMENTS[:40] in result.message
    )


def test_an_index_order_walk_is_not_a_full_scan() -> None:
    plan = sqlite(COMMENTS, "SCAN blog_comment USING INDEX blog_comment_created_idx")

    assert broken("no-scan:blog_comment; scan:blog_comment", plan) == ["scan:blog_comment"]


def test_a_sqlite_alias_is_read_as_its_table() -> None:
    sql = (
        'SELECT 1 FROM "blog_post" WHERE "blog_post"."id" IN '
        '(SELECT U0."post_id" FROM "blog_comment" U0)'
    )
    plan = sqlite(sql, "SEARCH blog_post USING INTEGER PRIMARY KEY (rowid=?)", "SCAN U0")

    assert broken("scan:blog_comment; no-scan:blog_post", plan) == []


def test_aliases_skip_sql_keywords() -> None:
    sql = 'SELECT * FROM "blog_post" INNER JOIN "blog_author" T2 ON 1 WHERE "blog_post" . "id" = 1'

    assert aliases(sql) == {"T2": "blog_author"}


def test_a_postgresql_seq_scan_is_a_full_scan() -> None:
    plan = postgresql(
        COMMENTS,
        "Seq Scan on blog_comment  (cost=0.00..1234.00 rows=10 width=8)",
        "  Filter: (post_id = 5)",
    )

    assert broken("scan:blog_comment; index:blog_comment_post_created_idx", plan) == [
        "index:blog_comment_post_created_idx"
    ]


def test_postgresql_index_scans_of_every_kind_name_their_index() -> None:
    plan = postgresql(
        COMMENTS,
        "Bitmap Heap Scan on blog_comment  (cost=4.3..40.1 rows=10 width=8)",
        "  Recheck Cond: (post_id = 5)",
        "  ->  Bitmap Index Scan on blog_comment_post_id_580e96ef  "
        "(cost=0.00..4.30 rows=10 width=0)",
        "Index Only Scan Backward using blog_comment_created_idx on blog_comment u0  "
        "(cost=0.29..2.5 rows=50 width=8)",
    )

    claims = (
        "index:blog_comment_post_id_580e96ef; index:blog_comment_created_idx; no-scan:blog_comment"
    )
    assert broken(claims, plan) == []


def test_shows_and_lacks_read_the_plan_text() -> None:
    plan = sqlite(COMMENTS, "SCAN blog_comment", "USE TEMP B-TREE FOR ORDER BY")

    assert broken("shows:TEMP B-TREE; lacks:USE TEMP B-TREE FOR ORDER BY", plan) == [
        "lacks:USE TEMP B-TREE FOR ORDER BY"
    ]


def test_a_wanted_claim_is_met_by_any_statement() -> None:
    first = sqlite(COMMENTS, "SCAN blog_comment")
    second = sqlite(
        COMMENTS, "SEARCH blog_comment USING INDEX blog_comment_created_idx (created_at>?)"
    )

    assert broken("index:blog_comment_created_idx", first, second) == []


def test_a_missing_index_says_what_the_plans_read_instead() -> None:
    [result] = judge(parse("index:blog_post_created_idx"), [sqlite(COMMENTS, "SCAN blog_comment")])

    assert "blog_post_created_idx" in result.message and "SCAN blog_comment" in result.message


def test_the_lesson_command_prints_each_claimed_plan_and_its_verdict(data: None) -> None:
    from io import StringIO

    from django.core.management import call_command

    from lessons import datasets
    from lessons.catalog import get_catalog

    engine = datasets.stats("large").engine
    out = StringIO()
    call_command("lesson", "indexes", "--dataset", "large", stdout=out)

    report = out.getvalue()
    claimed = [
        claim
        for pair in get_catalog().by_slug["indexes"].comparisons
        for snippet in pair.snippets
        for claim in snippet.plans.for_(engine, "large")
    ]
    assert claimed and "plan of SELECT … FROM" in report and "BROKEN" not in report
    assert all(f"plan {claim}  ok" in report for claim in claimed)


def test_an_exercise_card_states_its_plan_budget(client, data: None) -> None:  # type: ignore[no-untyped-def]
    from django.db import connections
    from django.utils.html import escape

    from lessons.catalog import get_catalog

    [exercise] = [e for e in get_catalog().by_slug["indexes"].exercises if e.plan][:1]
    claims = exercise.plan.for_(connections["large"].vendor, "large")

    html = client.get("/lessons/indexes/").content.decode()

    assert claims and all(escape(claim.described) in html for claim in claims)
    assert "Plan on Production:" in html
