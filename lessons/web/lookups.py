"""What a URL or a form names, looked up: a lesson, its snippets and pairs, an exercise, the room
a console token opens. Each answers 404 for a name that does not exist, the same way from every
view."""

from __future__ import annotations

from django.http import Http404

from lessons.catalog import Exercise, Lesson, Pair, Snippet, get_catalog
from lessons.learner.models import Room


def get_lesson(slug: str) -> Lesson:
    try:
        return get_catalog().by_slug[slug]
    except KeyError:
        raise Http404(f"No lesson called {slug!r}.") from None


def get_snippet(lesson: Lesson, snippet_id: str) -> Snippet:
    try:
        return lesson.snippets[snippet_id]
    except KeyError:
        raise Http404(f"Lesson {lesson.slug!r} has no snippet {snippet_id[:60]!r}.") from None


def get_pair(lesson: Lesson, pair_id: str) -> Pair:
    try:
        return lesson.pairs_by_id[pair_id]
    except KeyError:
        raise Http404(f"Lesson {lesson.slug!r} has no pair {pair_id[:60]!r}.") from None


def get_exercise(exercise_id: str) -> tuple[Lesson, Exercise]:
    """The exercise and the lesson it belongs to."""
    try:
        return get_catalog().exercises[exercise_id]
    except KeyError:
        raise Http404(f"No exercise called {exercise_id[:60]!r}.") from None


def get_console_room(token: str) -> Room:
    """The room whose console `token` opens: a plain 404 for any other token."""
    room = Room.objects.filter(token=token).first() if token else None
    if room is None:
        raise Http404("No such console.")
    return room
