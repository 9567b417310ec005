"""The console's live parts (the clicker, the learners, where the room is stuck): what each
draws, and a version of it, so that a refresh of a part that has not changed swaps nothing."""

from __future__ import annotations

import hashlib
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe

from lessons import datasets
from lessons.catalog import Catalog, Lesson, Snippet, get_catalog
from lessons.learner import help
from lessons.learner.console import (
    LearnerRow,
    blank_progress,
    clicker,
    learner_rows,
    stuck_exercises,
    stuck_questions,
)
from lessons.learner.models import Room
from lessons.learner.predictions import Histogram, reveal_key, room_predictions
from lessons.learner.progress import LessonProgress


def clicker_lesson(room: Room, request: HttpRequest) -> Lesson:
    """The lesson the clicker shows: asked for, else the one being taught, else the first."""
    by_slug = get_catalog().by_slug
    wanted = request.GET.get("lesson") or request.POST.get("lesson") or room.following
    return by_slug.get(wanted) or get_catalog().lessons[0]


# Each live part of the console: its body template, what it needs, and how often it is asked for.
LIVE = {
    "clicker": ("console/_clicker.html", 2),
    "learners": ("console/_learners.html", 3),
    "stuck": ("console/_stuck.html", 5),
    "predictions": ("console/_predictions.html", 2),
    "help": ("console/_help.html", 3),
}


@dataclass(frozen=True)
class PredictionView:
    """One histogram of the room's predictions, and whether its measured count is shown."""

    histogram: Histogram
    snippet: Snippet
    revealed: bool

    @property
    def dataset_label(self) -> str:
        spec = datasets.SPECS.get(self.histogram.dataset)
        return spec.label if spec else self.histogram.dataset

    @property
    def dom_id(self) -> str:
        return f"predictions-{self.snippet.id.replace('.', '-')}-{self.histogram.dataset}"


@dataclass(frozen=True)
class Cell:
    """One learner in one lesson, as the matrix draws it (built here: a template looking each
    figure up for 50 learners by 24 lessons takes most of a refresh)."""

    lesson: str
    css: str
    text: str
    solved: int
    title: str
    # Not touched: drawn bare (its lesson's title is the column's), since a 200-learner room
    # is mostly such cells and their details were most of every refresh's size.
    blank: bool = False


def _cell(lesson: Lesson, p: LessonProgress, *, blank: bool = False) -> Cell:
    css = "cell is-ran" if p.pairs_run else "cell is-opened" if p.opened else "cell"
    text = f"{p.correct}/{p.answered}" if p.answered else "·" if p.opened else ""
    title = (
        f"{lesson.title}: {'opened' if p.opened else 'not opened'}, ran {p.pairs_run}/"
        f"{p.pairs}, quiz {p.correct}/{p.answered} of {p.questions}, solved "
        f"{p.exercises_solved}/{p.exercises}"
    )
    return Cell(lesson.slug, css, text, p.exercises_solved, title, blank)


# The catalog last drawn, its blank row of cells, and each lesson's place in a row.
_blank: tuple[Catalog, tuple[Cell, ...], dict[str, int]] | None = None


def _blank_cells(catalog: Catalog) -> tuple[tuple[Cell, ...], dict[str, int]]:
    """A row of lessons nobody touched (most of every row), drawn once per catalog."""
    global _blank
    if _blank is None or _blank[0] is not catalog:
        blank = blank_progress(catalog)
        cells = tuple(_cell(lesson, blank[lesson.slug], blank=True) for lesson in catalog.lessons)
        _blank = (catalog, cells, {lesson.slug: i for i, lesson in enumerate(catalog.lessons)})
    return _blank[1], _blank[2]


def _cells(row: LearnerRow, catalog: Catalog) -> list[Cell]:
    blank, place = _blank_cells(catalog)
    cells = list(blank)
    for slug in row.touched:
        cells[place[slug]] = _cell(catalog.by_slug[slug], row.lessons[slug])
    return cells


_ROWS_KEPT = 2_000
_rows_drawn: OrderedDict[tuple[object, ...], SafeString] = OrderedDict()
_rows_lock = threading.Lock()


def _cell_html(cell: Cell) -> str:
    if cell.blank:
        return '<td class="cell"></td>'
    solved = format_html('<span class="solved-mark">★{}</span>', cell.solved) if cell.solved else ""
    return format_html(
        '<td class="{}" data-lesson="{}" title="{}">{}{}</td>',
        cell.css,
        cell.lesson,
        cell.title,
        cell.text,
        solved,
    )


def _row_html(row: LearnerRow, cells: list[Cell], catalog: Catalog) -> SafeString:
    """One learner's row of the matrix, drawn again only when something in it changed: between
    two refreshes of a busy room most rows are as they were (a template drawing 200 rows of 31
    cells takes most of a refresh)."""
    now_on = catalog.by_slug.get(row.learner.lesson)
    status = "left" if row.left else f"idle {row.idle_minutes} min" if row.idle else "active"
    totals = tuple(
        row.total(name)
        for name in ("opened", "pairs_run", "correct", "answered", "exercises_solved")
    )
    fingerprint = (row.learner.name, row.idle, status, row.learner.lesson, totals, tuple(cells))
    with _rows_lock:
        drawn = _rows_drawn.get(fingerprint)
    if drawn is not None:
        return drawn
    opened, pairs_run, correct, answered, solved = totals
    drawn = format_html(
        '<tr data-learner="{}"{}><th scope="row">{}</th><td>{}</td><td class="now-on">{}</td>'
        '<td>{}</td><td>{}</td><td data-quiz="{}/{}">{}/{}</td><td>{}</td>{}</tr>',
        row.learner.name,
        mark_safe(' class="is-idle"') if row.idle else "",
        row.learner.name,
        status,
        now_on.title if now_on else "—",
        opened,
        pairs_run,
        correct,
        answered,
        correct,
        answered,
        solved,
        mark_safe("".join(_cell_html(cell) for cell in cells)),
    )
    with _rows_lock:
        _rows_drawn[fingerprint] = drawn
        while len(_rows_drawn) > _ROWS_KEPT:
            _rows_drawn.popitem(last=False)
    return drawn


def _live_context(kind: str, room: Room, request: HttpRequest) -> tuple[dict[str, Any], object]:
    """What a live part draws, and a fingerprint of it: equal fingerprints, equal drawings (so an
    unchanged part is known without drawing it)."""
    catalog = get_catalog()
    fingerprint: object
    if kind == "clicker":
        lesson = clicker_lesson(room, request)
        questions = clicker(room, lesson)
        fingerprint = [
            (
                q.question.id,
                q.revealed,
                [c.count for c in q.choices],
                q.poll,
                [[c.count for c in r.choices] for r in q.rounds],
            )
            for q in questions
        ]
        return {"clicker_lesson": lesson, "questions": questions}, (lesson.slug, fingerprint)
    if kind == "predictions":
        lesson = clicker_lesson(room, request)
        order = {snippet: i for i, snippet in enumerate(lesson.snippets)}
        histograms = sorted(
            (h for h in room_predictions(room, lesson.slug) if h.snippet in order),
            key=lambda h: (order[h.snippet], h.dataset),
        )
        shown = [
            PredictionView(
                h,
                lesson.snippets[h.snippet],
                reveal_key(lesson.slug, h.snippet, h.dataset) in room.revealed,
            )
            for h in histograms
        ]
        fingerprint = [(v.histogram, v.revealed) for v in shown]
        return {"clicker_lesson": lesson, "histograms": shown}, (lesson.slug, fingerprint)
    if kind == "help":
        waiting = help.queue(room)
        fingerprint = [(h.pk, h.opened_at, h.code, h.result, h.place) for h in waiting]
        lessons = catalog.by_slug
        return {"queue": waiting, "lessons": lessons, "now": timezone.now()}, (
            fingerprint,
            int(time.time() // 60),  # "asked 3 min ago" moves on
        )
    if kind == "learners":
        rows = learner_rows(room, catalog)
        following = catalog.by_slug.get(room.following)
        matrix = [(row, _cells(row, catalog)) for row in rows]
        context = {
            "rows": rows,
            "row_html": [_row_html(row, cells, catalog) for row, cells in matrix],
            "active": sum(1 for row in rows if not row.idle and not row.left),
            "catalog": catalog,
            "following": following,
        }
        fingerprint = [
            (
                row.learner.pk,
                row.learner.name,
                row.learner.lesson,
                row.left,
                row.idle_minutes,
                # A blank cell is the same in every row: the touched ones tell rows apart.
                *sorted((slug, row.lessons[slug]) for slug in row.touched),
            )
            for row in rows
        ]
        titles = tuple(lesson.title for lesson in catalog.lessons)  # the header, edited or not
        return context, (room.following, titles, fingerprint)
    exercises, wrong = stuck_exercises(room, catalog), stuck_questions(room, catalog)
    fingerprint = (
        [(s.exercise.id, s.failed, s.failing, s.solved, s.common_failure) for s in exercises],
        [(s.question.id, s.wrong, s.wrong_now, s.common_wrong) for s in wrong],
    )
    return {"stuck_exercises": exercises, "stuck_questions": wrong}, fingerprint


def live_part(
    kind: str, room: Room, request: HttpRequest, since: str = ""
) -> dict[str, Any] | None:
    """One live part, drawn, with the version its next refresh sends back; None when it is
    still the version `since`."""
    template, every = LIVE[kind]
    context, fingerprint = _live_context(kind, room, request)
    version = hashlib.sha256(repr(fingerprint).encode()).hexdigest()[:16]
    if since == version:
        return None
    body = render_to_string(template, {"room": room, **context}, request)
    url = reverse(f"console:{kind}", args=[room.token])
    if kind in ("clicker", "predictions"):
        url += f"?lesson={context['clicker_lesson'].slug}"
    return {"kind": kind, "body": mark_safe(body), "every": every, "version": version, "url": url}
