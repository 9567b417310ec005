"""The course pages: outline, lesson, Run (htmx and plain form post), and their errors."""

from __future__ import annotations

import dataclasses
import json
import re
from collections import OrderedDict
from pathlib import Path
from typing import Any

import django
import pytest
from django.template.loader import render_to_string
from django.test import Client
from django.urls import reverse

from lessons import datasets
from lessons.catalog import get_catalog
from lessons.display import fragments
from lessons.measure.runs import run_lesson_snippet
from lessons.web.viewmodels import Card
from tests.conftest import expected, queries_on_every_database, total

LESSON = "n-plus-one"
BAD = "count-comments.bad"


def run_url(slug: str = LESSON) -> str:
    return reverse("lessons:run", args=[slug])


def panel_attributes(html: str) -> dict[str, str]:
    match = re.search(r'<section class="panel"(.*?)>', html, re.S)
    assert match, "no panel in the response"
    return dict(re.findall(r'data-([a-z-]+)="([^"]*)"', match.group(1)))


def test_outline_lists_every_lesson(client: Client, data: None) -> None:
    response = client.get(reverse("lessons:outline"))

    assert response.status_code == 200
    for lesson in get_catalog().lessons:
        assert reverse("lessons:detail", args=[lesson.slug]) in response.content.decode()


def test_outline_lines_drawn_for_one_learner_do_not_show_on_anothers(data: None) -> None:
    opener, newcomer = Client(), Client()
    opener.post(reverse("lessons:opened", args=[LESSON]))
    link = f'href="{reverse("lessons:detail", args=[LESSON])}'
    lines = {
        name: next(li for li in page.split("<li ")[1:] if link in li)
        for name, page in (
            ("opener", opener.get(reverse("lessons:outline")).content.decode()),
            ("newcomer", newcomer.get(reverse("lessons:outline")).content.decode()),
            ("opener again", opener.get(reverse("lessons:outline")).content.decode()),
        )
    }

    assert "badge--opened" in lines["opener"] and "badge--opened" in lines["opener again"]
    assert "badge--opened" not in lines["newcomer"]


def test_outline_sends_no_queries_for_a_new_visitor(client: Client, data: None) -> None:
    with queries_on_every_database() as captured:
        client.get(reverse("lessons:outline"))

    assert total(captured) == 0


def test_outline_reads_a_returning_learner_in_a_fixed_number_of_queries(
    client: Client, data: None
) -> None:
    client.post(reverse("lessons:opened", args=[LESSON]))

    with queries_on_every_database() as captured:
        client.get(reverse("lessons:outline"))

    # The session, the learner, then one query for every kind of progress (opened, ran, answers,
    # checks, reveals), however much they did: no query per lesson.
    assert len(captured["default"].captured_queries) == 3
    assert total(captured) == 3


@pytest.mark.parametrize("slug", [lesson.slug for lesson in get_catalog().lessons])
def test_lesson_page_query_count_is_locked(
    client: Client, data: None, slug: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A first visit in this process: no earlier test has drawn the lesson's blocks for it.
    monkeypatch.setattr(fragments, "_drawn", OrderedDict())
    url = reverse("lessons:detail", args=[slug])
    # A lesson that draws its chart finds the stored measurement by every dataset's seeded counts
    # (the chosen dataset's are read once for both).
    charted = bool(get_catalog().by_slug[slug].chart)
    per_dataset = {name: 1 if name == "medium" or charted else 0 for name in datasets.SPECS}

    with queries_on_every_database() as captured:
        assert client.get(url, {"dataset": "medium"}).status_code == 200
    # Counted now: the next request starts a fresh query log.
    first_visit = {name: len(context.captured_queries) for name, context in captured.items()}
    client.post(reverse("lessons:opened", args=[slug]))  # what the page asks the browser to do
    with queries_on_every_database() as captured:
        assert client.get(url, {"dataset": "medium"}).status_code == 200
    next_visit = {name: len(context.captured_queries) for name, context in captured.items()}

    # The datasets: one query each for its seeded row counts, to show what each snippet promises.
    # The next visit finds the lesson's prose and pairs drawn for this data already: only the
    # chosen dataset's counts are read, to know which drawing is the page's.
    for name, count in per_dataset.items():
        assert first_visit[name] == count
        assert next_visit[name] == (1 if name == "medium" else 0)
    # A first visit stores nothing. A learner's, just after the page recorded the opening: the
    # session, the learner and one query for every kind of progress together; nothing is written.
    assert first_visit["default"] == 0
    assert next_visit["default"] == 3
    assert sum(first_visit.values()) == sum(per_dataset.values())
    assert sum(next_visit.values()) == 3 + 1


def test_lesson_page_shows_the_promised_count_for_the_chosen_dataset(
    client: Client, data: None
) -> None:
    promised = expected(get_catalog().by_slug[LESSON].snippets[BAD], "medium")

    response = client.get(reverse("lessons:detail", args=[LESSON]), {"dataset": "medium"})

    assert f"expects {promised:,} queries" in response.content.decode()


def test_htmx_run_returns_the_card_with_its_panel(client: Client, dataset: str) -> None:
    response = client.post(run_url(), {"snippet": BAD, "dataset": dataset}, HTTP_HX_REQUEST="true")

    html = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in html  # a partial, not a page
    promised = expected(get_catalog().by_slug[LESSON].snippets[BAD], dataset)
    assert panel_attributes(html) == {
        "snippet": BAD,
        "dataset": dataset,
        "engine": datasets.DatasetRef(dataset).stats().engine,
        "query-count": str(promised),
        "expected-count": str(promised),
        "matches": "true",
    }


def queries_stat(page: str) -> str:
    found = re.search(r'<div class="stat stat--[^"]*">\s*<dt>Queries</dt>.*?</div>', page, re.S)
    assert found, "no Queries figure on the panel"
    return found[0]


def test_a_kept_promise_of_many_queries_is_not_drawn_as_a_success(
    client: Client, data: None
) -> None:
    page = client.post(run_url(), {"snippet": BAD, "dataset": "tiny"}, HTTP_HX_REQUEST="true")

    figure = queries_stat(page.content.decode())
    assert "stat--slow" in figure and "the slow count the lesson promised" in figure
    assert "✓" not in figure


def test_a_kept_promise_on_the_fixed_side_says_so_plainly(client: Client, data: None) -> None:
    fixed = "count-comments.fixed"
    page = client.post(run_url(), {"snippet": fixed, "dataset": "tiny"}, HTTP_HX_REQUEST="true")

    figure = queries_stat(page.content.decode())
    assert "the count the lesson promised" in figure and "stat--slow" not in figure


def test_panel_says_which_django_ran_the_snippet(client: Client, data: None) -> None:
    response = client.post(run_url(), {"snippet": BAD, "dataset": "tiny"}, HTTP_HX_REQUEST="true")

    engine = datasets.stats("tiny").engine_label
    assert f"posts, {engine}) with Django {django.get_version()}, then rolled back" in (
        response.content.decode()
    )


def test_gutter_shows_queries_per_line_after_a_run(client: Client, dataset: str) -> None:
    posts = datasets.stats(dataset).counts["posts"]

    response = client.post(run_url(), {"snippet": BAD, "dataset": dataset}, HTTP_HX_REQUEST="true")

    counts = re.findall(
        r'data-line="(\d+)"><span class="gutter" data-line-count="(\d+)"', response.content.decode()
    )
    assert counts == [("1", "0"), ("2", "1"), ("3", str(posts))]


def test_plain_form_post_redirects_to_the_lesson_showing_the_panel(
    client: Client, data: None
) -> None:
    posted = client.post(run_url(), {"snippet": BAD, "dataset": "tiny"})

    assert posted.status_code == 302
    assert re.match(
        rf"/lessons/{LESSON}/\?dataset=tiny&ran=[\w-]+#card-count-comments-bad$", posted["Location"]
    )
    html = client.get(posted["Location"]).content.decode()
    assert "<html" in html
    assert panel_attributes(html)["snippet"] == BAD


def test_reloading_the_page_after_a_plain_run_shows_it_without_running_again(
    client: Client, data: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from lessons.measure import runs

    posted = client.post(run_url(), {"snippet": BAD, "dataset": "tiny"})
    ran_again: list[object] = []
    monkeypatch.setattr(runs, "run", lambda *a, **k: ran_again.append(a) or [])

    reloaded = client.get(posted["Location"]).content.decode()

    assert ran_again == []
    assert panel_attributes(reloaded)["snippet"] == BAD


def test_a_kept_run_is_shown_only_to_the_learner_who_ran_it(client: Client, data: None) -> None:
    posted = client.post(run_url(), {"snippet": BAD, "dataset": "tiny"}, REMOTE_ADDR="10.0.0.1")

    other = Client().get(posted["Location"], REMOTE_ADDR="10.0.0.2").content.decode()

    assert 'class="panel"' not in other
    assert "That run is no longer kept here" in other


def test_run_error_is_shown_in_the_card_with_its_line(data: None) -> None:
    # Lesson snippets all run cleanly, so break a copy of one to see how errors are shown.
    lesson = get_catalog().by_slug[LESSON]
    broken = dataclasses.replace(lesson.snippets[BAD], code="posts = 1\nposts / 0\n")
    run = run_lesson_snippet(lesson, broken, datasets.DatasetRef("tiny"))

    html = render_to_string(
        "lessons/_snippet_card.html",
        {"card": Card(broken, run.expected, run), "lesson": lesson, "dataset": "tiny"},
    )

    assert "<strong>ZeroDivisionError</strong> on line 2: division by zero" in html
    assert '<div class="code-line is-error" data-line="2">' in html


def test_unknown_lesson_is_404(client: Client, data: None) -> None:
    assert client.get(reverse("lessons:detail", args=["no-such-lesson"])).status_code == 404
    assert client.post(run_url("no-such-lesson"), {"snippet": BAD}).status_code == 404


def test_unknown_snippet_is_404(client: Client, data: None) -> None:
    response = client.post(run_url(), {"snippet": "nope.bad", "dataset": "tiny"})

    assert response.status_code == 404


def test_unknown_dataset_is_400_with_a_message(client: Client, data: None) -> None:
    response = client.post(run_url(), {"snippet": BAD, "dataset": "huge"})

    assert response.status_code == 400
    assert (
        "There is no data size &#x27;huge&#x27;: choose one of Laptop (tiny), Staging (medium), "
        "Production (large)." in response.content.decode()
    )


def test_unknown_dataset_on_the_lesson_page_is_400(client: Client, data: None) -> None:
    response = client.get(reverse("lessons:detail", args=[LESSON]), {"dataset": "huge"})

    assert response.status_code == 400
    assert "choose one of" in response.content.decode()


def test_htmx_error_is_a_fragment_with_the_message(client: Client, data: None) -> None:
    response = client.post(run_url(), {"snippet": BAD, "dataset": "huge"}, HTTP_HX_REQUEST="true")

    assert response.status_code == 400
    assert response.content.decode().startswith('<p class="problem-message">')


def test_post_without_csrf_token_is_403(data: None) -> None:
    client = Client(enforce_csrf_checks=True)

    response = client.post(run_url(), {"snippet": BAD, "dataset": "tiny"})

    assert response.status_code == 403


def test_run_with_get_is_405(client: Client, data: None) -> None:
    assert client.get(run_url()).status_code == 405


def test_missing_dataset_says_how_to_seed_it(
    client: Client, data: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(datasets, "SEED_VERSION", datasets.SEED_VERSION + 1)

    run = client.post(run_url(), {"snippet": BAD, "dataset": "medium"})
    page = client.get(reverse("lessons:detail", args=[LESSON]), {"dataset": "medium"})

    assert run.status_code == 503
    assert "python manage.py seed --dataset medium" in run.content.decode()
    assert page.status_code == 200
    assert "has not been seeded yet" in page.content.decode()


def test_dataset_links_after_a_plain_run_point_at_the_lesson(client: Client, data: None) -> None:
    response = client.post(run_url(), {"snippet": BAD, "dataset": "tiny"}, follow=True)

    links = re.findall(r'href="([^"]*)" data-dataset=', response.content.decode())
    assert links == [f"/lessons/{LESSON}/?dataset={name}" for name in datasets.SPECS]


def test_a_lesson_section_heading_links_to_itself(client: Client, data: None) -> None:
    page = client.get(f"/lessons/{LESSON}/").content.decode()

    found = re.search(r'<h2 id="(section-[^"]+)">[^<]*<a class="heading-anchor" href="#\1">', page)
    assert found, "no section heading with a link to itself"


def test_no_lesson_page_has_an_id_twice(client: Client, data: None) -> None:
    from lessons.catalog import get_catalog

    twice = {}
    for lesson in get_catalog().lessons:
        ids = re.findall(r'\sid="([^"]+)"', client.get(f"/lessons/{lesson.slug}/").content.decode())
        if repeated := sorted({i for i in ids if ids.count(i) > 1}):
            twice[lesson.slug] = repeated

    assert twice == {}


def test_a_run_of_a_hundred_similar_statements_lists_them_once(client: Client, data: None) -> None:
    page = client.post(run_url(), {"snippet": BAD, "dataset": "medium"}, HTTP_HX_REQUEST="true")

    html = page.content.decode()
    assert html.count('<li class="query query--repeated">') == 1
    assert html.count("similar \u00d7100") == 1  # the multiplication sign
    assert "Each of the 100 statements (the first 49)" in html


def test_code_python_cannot_read_did_not_run_and_counts_nothing(client: Client, data: None) -> None:
    page = client.post(
        run_url(),
        {
            "snippet": BAD,
            "dataset": "tiny",
            "code": "posts = Post.objects.all(\nfor post in posts:\n",
        },
        HTTP_HX_REQUEST="true",
    )

    html = page.content.decode()
    assert "Your edited code did not run: Python could not read it." in html
    assert "<dt>Queries</dt>" not in html and "<dt>Time</dt>" not in html
    assert re.search(
        r'class="run-error" role="alert" data-error-line="\d+"><strong>SyntaxError', html
    )


def test_a_kept_run_tampered_with_on_disk_is_not_shown(
    client: Client, data: None, settings: Any
) -> None:
    posted = client.post(run_url(), {"snippet": BAD, "dataset": "tiny"})
    token = re.search(r"ran=([\w-]+)", posted["Location"])[1]  # type: ignore[index]
    kept = Path(settings.COURSE_RUN_DIR) / "kept" / f"{token}.json"
    data_on_disk = json.loads(kept.read_text())
    data_on_disk["run"]["result"]["duration"] = -5  # nothing the run's codec makes
    kept.write_text(json.dumps(data_on_disk))

    page = client.get(posted["Location"]).content.decode()

    assert 'class="panel"' not in page and "That run is no longer kept here" in page
