"""The scale view: a pair on every dataset, drawn as an SVG chart."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from lessons import datasets
from lessons.catalog import get_catalog
from lessons.display.charts import log_log_chart
from tests.conftest import expected

LESSON = get_catalog().by_slug["n-plus-one"]
PAIR = LESSON.pairs_by_id["count-comments"]


def test_scale_measures_both_sides_on_every_dataset(client: Client, data: None) -> None:
    response = client.post(
        reverse("lessons:scale", args=[LESSON.slug]), {"pair": PAIR.id}, HTTP_HX_REQUEST="true"
    )

    html = response.content.decode()
    assert response.status_code == 200
    assert html.count("<svg") == 2
    for name in datasets.SPECS:
        row = re.search(rf'<tr data-dataset="{name}">(.*?)</tr>', html, re.S)
        assert row, name
        measured = dict(re.findall(r'data-queries="(\d+)" data-side="(\w+)"', row.group(1)))
        assert measured == {str(expected(s, name)): s.side for s in PAIR.snippets}
    assert "✗" not in html  # every point matched its expect


def test_scale_without_javascript_renders_the_lesson_with_the_chart(
    client: Client, data: None
) -> None:
    response = client.post(reverse("lessons:scale", args=[LESSON.slug]), {"pair": PAIR.id})

    html = response.content.decode()
    assert "<html" in html and "<svg" in html


def test_measuring_on_every_size_counts_as_running_the_pair(client: Client, data: None) -> None:
    client.post(reverse("lessons:scale", args=[LESSON.slug]), {"pair": PAIR.id, "measure": "fresh"})

    html = client.get(reverse("lessons:detail", args=[LESSON.slug])).content.decode()
    assert f'data-pairs-run="1">1 / {len(LESSON.comparisons)}</strong>' in html


def test_the_chart_drawn_on_page_load_is_not_counted_as_a_run(client: Client, data: None) -> None:
    client.post(reverse("lessons:scale", args=[LESSON.slug]), {"pair": PAIR.id})

    html = client.get(reverse("lessons:detail", args=[LESSON.slug])).content.decode()
    assert f'data-pairs-run="0">0 / {len(LESSON.comparisons)}</strong>' in html


def test_a_run_updates_the_lessons_progress_line_out_of_band(client: Client, data: None) -> None:
    response = client.post(
        reverse("lessons:run", args=[LESSON.slug]),
        {"snippet": PAIR.snippets[0].id, "dataset": "tiny"},
        headers={"HX-Request": "true"},
    )

    html = response.content.decode()
    assert 'id="lesson-progress"' in html and 'hx-swap-oob="true"' in html
    assert f'data-pairs-run="1">1 / {len(LESSON.comparisons)}</strong>' in html


def test_caption_says_just_now_for_a_fresh_measurement(client: Client, data: None) -> None:
    response = client.post(
        reverse("lessons:scale", args=[LESSON.slug]),
        {"pair": PAIR.id, "measure": "fresh"},
        headers={"HX-Request": "true"},
    )

    assert "Measured on every dataset just now" in response.content.decode()


def test_scale_of_an_unknown_pair_is_404(client: Client, data: None) -> None:
    response = client.post(reverse("lessons:scale", args=[LESSON.slug]), {"pair": "nope"})

    assert response.status_code == 404


def test_n_plus_one_page_loads_its_chart_by_itself_when_none_is_stored(
    client: Client, settings: Any, tmp_path: Path, data: None
) -> None:
    settings.VAR_DIR = tmp_path  # no shared measurement here
    html = client.get(reverse("lessons:detail", args=[LESSON.slug])).content.decode()

    form = re.search(rf'<div class="scale" id="scale-{LESSON.chart}".*?</form>', html, re.S)
    assert form and 'hx-trigger="load, submit"' in form.group(0)
    assert html.count('hx-trigger="load, submit"') == 1


def test_n_plus_one_page_draws_a_stored_chart_without_another_request(
    client: Client, settings: Any, tmp_path: Path, data: None
) -> None:
    from lessons.measure import scale

    settings.VAR_DIR = tmp_path
    scale.shared_report(LESSON, PAIR)  # measured and stored, as seeding does
    html = client.get(reverse("lessons:detail", args=[LESSON.slug])).content.decode()

    block = re.search(rf'<div class="scale" id="scale-{LESSON.chart}".*?</form>', html, re.S)
    assert block and '<div class="charts">' in block.group(0)
    scales = re.findall(r'<div class="scale" id="scale-.*?</form>', html, re.S)
    assert scales and not any('hx-trigger="load' in scale for scale in scales)


def test_chart_places_points_on_log_axes() -> None:
    chart = log_log_chart("t", "x", "y", [("Bad", "bad", [(5, 6), (100, 101), (5000, 5001)])])

    [line] = chart.lines
    xs = [p.x for p in line.points]
    ys = [p.y for p in line.points]
    assert xs == sorted(xs) and ys == sorted(ys, reverse=True)  # up and to the right
    # Log axes: equal ratios take equal room. 5 -> 100 is x20; 100 -> 2000 would be too.
    assert [t.label for t in chart.x_ticks] == ["1", "10", "100", "1,000", "10,000"]
    assert all(chart.left <= x <= chart.right for x in xs)
    assert all(chart.top <= y <= chart.bottom for y in ys)


def test_chart_draws_values_below_the_floor_at_the_floor() -> None:
    chart = log_log_chart("t", "x", "y", [("Fixed", "fixed", [(5, 0), (100, 1)])], floor=1)

    zero, one = chart.lines[0].points
    assert zero.y == one.y
    assert zero.label == "0"


def test_page_load_shares_a_recent_measurement_and_a_click_measures_afresh(
    client: Client, data: None
) -> None:
    from django.core.cache import cache

    cache.clear()
    url = reverse("lessons:scale", args=[LESSON.slug])

    def table_body(extra: dict[str, str]) -> str:
        html = client.post(url, {"pair": PAIR.id, **extra}, HTTP_HX_REQUEST="true").content
        return re.search(r"<tbody>(.*?)</tbody>", html.decode(), re.S).group(1)  # type: ignore[union-attr]

    first = table_body({})
    assert table_body({}) == first  # shared: the very same timings
    assert table_body({"measure": "fresh"}) != first  # a new run times differently


def test_a_measurement_that_failed_is_not_shared(
    monkeypatch: pytest.MonkeyPatch, settings: Any, tmp_path: Path, data: None
) -> None:
    from lessons.measure import scale

    calls = []

    def failing_measure(lesson, pair, *, learner, engine=""):  # type: ignore[no-untyped-def]
        calls.append(pair.id)
        point = scale.ScalePoint("tiny", "Laptop", 5, 3, 6, 1.0, failed=True)
        return [scale.ScaleSeries(snippet, (point,)) for snippet in pair.snippets]

    settings.VAR_DIR = tmp_path
    monkeypatch.setattr(scale, "measure", failing_measure)
    scale.shared_report(LESSON, PAIR)
    scale.shared_report(LESSON, PAIR)

    assert calls == [PAIR.id, PAIR.id]


def test_a_measurement_is_kept_across_restarts(settings: Any, tmp_path: Path, data: None) -> None:
    from lessons.measure import scale

    settings.VAR_DIR = tmp_path
    first = scale.shared_report(LESSON, PAIR)
    # A new process finds it on disk: nothing in memory carries it over.
    again = scale._load(scale._stored_path(LESSON, PAIR), PAIR)

    assert again is not None and again.rows == first.rows


def test_a_chart_being_measured_elsewhere_says_so(
    settings: Any, tmp_path: Path, data: None
) -> None:
    from lessons.engine import service
    from lessons.measure import scale

    settings.VAR_DIR = tmp_path
    name = scale._stored_path(LESSON, PAIR).name
    root = Path(settings.COURSE_RUN_DIR)
    with service._learner_lock(root, f"shared:{name}"):  # another process is measuring it
        response = Client().post(
            reverse("lessons:scale", args=[LESSON.slug]), {"pair": PAIR.id}, HTTP_HX_REQUEST="true"
        )

    html = response.content.decode()
    assert "being measured" in html and "load delay:2s" in html


FETCH_MODES = get_catalog().by_slug["fetch-modes"]
NEWER_ONLY = (
    next(pair for pair in FETCH_MODES.comparisons if not pair.runs_here)
    if any(not pair.runs_here for pair in FETCH_MODES.comparisons)
    else None
)


@pytest.mark.skipif(NEWER_ONLY is None, reason="every pair runs on this Django")
def test_a_pair_with_a_side_this_django_cannot_run_offers_no_chart(
    client: Client, data: None
) -> None:
    html = client.get(reverse("lessons:detail", args=[FETCH_MODES.slug])).content.decode()

    assert f'id="scale-{NEWER_ONLY.id}"' not in html  # type: ignore[union-attr]
    assert "needs a newer Django" in html


@pytest.mark.skipif(NEWER_ONLY is None, reason="every pair runs on this Django")
def test_measuring_a_pair_this_django_cannot_run_is_refused(client: Client, data: None) -> None:
    response = client.post(
        reverse("lessons:scale", args=[FETCH_MODES.slug]),
        {"pair": NEWER_ONLY.id, "measure": "fresh"},  # type: ignore[union-attr]
        headers={"Accept": "application/json"},
    )

    assert response.status_code == 409
    assert response.json()["error"]["type"] == "NotRunHere"


def test_the_sides_of_a_chart_differ_in_marker_and_are_named_on_the_lines() -> None:
    from django.template.loader import render_to_string

    chart = log_log_chart(
        "t",
        "x",
        "y",
        [("Bad", "bad", [(5, 6), (100, 101)]), ("Fixed", "fixed", [(5, 1), (100, 1)])],
    )
    svg = render_to_string("lessons/_chart.svg.html", {"chart": chart})

    bad, fixed = chart.lines
    assert bad.marker != fixed.marker  # told apart without colour
    assert svg.count(f'd="{bad.marker}"') == 2 and svg.count(f'd="{fixed.marker}"') == 2
    assert re.findall(r'<text class="line-label"[^>]*>([^<]+)</text>', svg) == ["Bad", "Fixed"]
