"""The engine switch: where PostgreSQL is configured (`make test-pg`, or the suite under
`eval "$(.ci/pg env)"`), the SQLite datasets are configured too (`tiny_sqlite`, ...) and a lesson
page runs its snippets on either engine. With SQLite alone there is no switch to show."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import reverse

from lessons import datasets
from lessons.catalog import get_catalog
from tests.test_views import LESSON, panel_attributes, run_url

one_engine = pytest.mark.skipif(
    len(datasets.ENGINES) > 1, reason="more than one engine is configured"
)
both_engines = pytest.mark.skipif(
    len(datasets.ENGINES) < 2, reason='PostgreSQL is not configured (eval "$(.ci/pg env)")'
)
# A snippet that writes: bulk_create of comments, one count on SQLite, another on PostgreSQL.
BULK = "bulk"
WRITES = "bulk-create-comments.fixed"


def lesson_page(client: Client, slug: str = LESSON, **query: str) -> str:
    response = client.get(reverse("lessons:detail", args=[slug]), query)
    assert response.status_code == 200, response.content.decode()[:500]
    return response.content.decode()


def engine_links(html: str) -> dict[str, str]:
    """The engine switch's links, by engine."""
    return {
        engine: href.replace("&amp;", "&")
        for href, engine in re.findall(r'href="([^"]*)" data-engine="([^"]*)"', html)
    }


def current_engine(html: str) -> list[str]:
    return re.findall(r'data-engine="([^"]*)"\s+aria-current="true"', html)


def promise(html: str, snippet_id: str) -> int:
    card = html.split(f'data-snippet-card="{snippet_id}"', 1)[1]
    match = re.search(r"expects ([\d,]+) quer", card)
    assert match, f"no promise on {snippet_id}"
    return int(match.group(1).replace(",", ""))


@one_engine
def test_one_engine_shows_no_engine_switch(client: Client, data: None) -> None:
    html = lesson_page(client)

    assert 'aria-label="Engine"' not in html
    assert 'name="engine"' not in html


@one_engine
def test_one_engine_refuses_another_engine_with_400(client: Client, data: None) -> None:
    response = client.get(reverse("lessons:detail", args=[LESSON]), {"engine": "postgresql"})

    assert response.status_code == 400
    assert "Unknown engine &#x27;postgresql&#x27;" in response.content.decode()
    assert "PostgreSQL is not configured" in response.content.decode()


def test_an_unknown_engine_is_400_on_a_run(client: Client, data: None) -> None:
    response = client.post(run_url(), {"snippet": "count-comments.bad", "engine": "oracle"})

    assert response.status_code == 400
    assert "Unknown engine &#x27;oracle&#x27;" in response.content.decode()


@both_engines
def test_the_page_offers_both_engines_keeping_the_size(client: Client, data: None) -> None:
    html = lesson_page(client, dataset="medium")

    assert engine_links(html) == {
        engine: f"/lessons/{LESSON}/?dataset=medium&engine={engine}"
        for engine in ("postgresql", "sqlite")
    }
    assert current_engine(html) == ["postgresql"]


@both_engines
def test_size_links_and_forms_keep_the_chosen_engine(client: Client, data: None) -> None:
    html = lesson_page(client, dataset="medium", engine="sqlite")

    assert current_engine(html) == ["sqlite"]
    sizes = re.findall(r'href="([^"]*)" data-dataset=', html)
    assert [href.replace("&amp;", "&") for href in sizes] == [
        f"/lessons/{LESSON}/?engine=sqlite&dataset={name}" for name in datasets.SPECS
    ]
    forms = html.count('name="snippet"')
    assert forms > 0
    assert html.count('<input type="hidden" name="engine" value="sqlite">') >= forms


@both_engines
@pytest.mark.parametrize(("engine", "label"), [("sqlite", "SQLite"), ("postgresql", "PostgreSQL")])
def test_a_run_reports_the_engine_it_ran_on(
    client: Client, data: None, engine: str, label: str
) -> None:
    response = client.post(
        run_url(),
        {"snippet": "count-comments.bad", "dataset": "medium", "engine": engine},
        HTTP_HX_REQUEST="true",
    )

    html = response.content.decode()
    assert response.status_code == 200
    assert panel_attributes(html)["engine"] == engine
    assert panel_attributes(html)["matches"] == "true"
    assert f"Ran on Staging (100 posts, {label}) with Django" in html


@both_engines
def test_promised_counts_follow_the_chosen_engine(client: Client, data: None) -> None:
    snippet = get_catalog().by_slug[BULK].snippets[WRITES]
    large = {engine: datasets.DatasetRef("large", engine) for engine in ("sqlite", "postgresql")}
    wanted = {engine: large[engine].stats().expected_count(snippet) for engine in large}

    shown = {
        engine: promise(lesson_page(client, BULK, dataset="large", engine=engine), WRITES)
        for engine in large
    }

    assert shown == wanted
    assert wanted["sqlite"] != wanted["postgresql"]  # the page would not tell them apart otherwise


@both_engines
def test_a_run_on_the_sqlite_side_changes_nothing(client: Client, data: None) -> None:
    before = datasets.checksum("tiny_sqlite")

    response = client.post(
        reverse("lessons:run", args=[BULK]),
        {"snippet": WRITES, "dataset": "tiny", "engine": "sqlite"},
        HTTP_HX_REQUEST="true",
    )

    assert panel_attributes(response.content.decode())["engine"] == "sqlite"
    assert int(panel_attributes(response.content.decode())["query-count"]) > 0
    assert datasets.checksum("tiny_sqlite") == before


@both_engines
def test_a_scale_chart_is_stored_per_engine(data: None) -> None:
    from lessons.measure import scale

    lesson = get_catalog().by_slug[LESSON]
    pair = lesson.pairs_by_id[str(lesson.chart)]

    paths = {engine: scale._stored_path(lesson, pair, engine=engine) for engine in datasets.ENGINES}

    assert paths["sqlite"] != paths["postgresql"]
    assert paths["postgresql"] == scale._stored_path(lesson, pair)  # the primary's, as before


@both_engines
def test_a_cards_playground_links_keep_the_chosen_engine(client: Client, data: None) -> None:
    html = lesson_page(client, dataset="medium", engine="sqlite").replace("&amp;", "&")

    links = re.findall(r'href="(/playground/\?lesson=[^"]*)"', html)
    assert links and all(link.endswith("dataset=medium&engine=sqlite") for link in links)


@both_engines
def test_the_playground_runs_on_the_chosen_engine(client: Client, data: None) -> None:
    response = client.post(
        reverse("lessons:playground-run"),
        {"code": "print(Post.objects.count())", "dataset": "tiny", "engine": "sqlite"},
        HTTP_HX_REQUEST="true",
    )

    html = response.content.decode()
    assert response.status_code == 200
    assert "posts, SQLite) with Django" in html
    assert "engine=sqlite" in html  # the share link opens it on the same engine


@both_engines
def test_the_playground_offers_the_engines_with_the_asked_one_chosen(
    client: Client, data: None
) -> None:
    response = client.get(reverse("lessons:playground"), {"engine": "sqlite"})

    checked = re.findall(r'name="engine" value="(\w+)" checked', response.content.decode())
    assert checked == ["sqlite"]
