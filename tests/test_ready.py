"""A server process draws every page once as it starts, and stores nothing doing so."""

from __future__ import annotations

from lessons.web import ready
from tests.conftest import queries_on_every_database


def test_drawing_every_page_at_start_touches_no_session_or_progress(data: None) -> None:
    with queries_on_every_database() as captured:
        ready.draw_every_page()

    assert captured["default"].captured_queries == []


def test_drawing_every_page_reads_each_lesson(data: None) -> None:
    from lessons.catalog import get_catalog

    with queries_on_every_database() as captured:
        ready.draw_every_page()

    # Each page reads its dataset's seeded counts: the outline's and every lesson's were drawn.
    assert len(captured["tiny"].captured_queries) >= len(get_catalog().lessons)
