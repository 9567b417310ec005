"""The catalog: every lesson file in lessons/content/ parsed into one Catalog, checked as a whole.

Parsed once, and again only when a lesson file changes (looked at once a second at most, so
authors see their edits without a restart)."""

from __future__ import annotations

import functools
import time
import tomllib
from pathlib import Path
from typing import Any

from lessons.catalog.cues import MAX_CUE_EXCESS, cue_scores
from lessons.catalog.models import Catalog, Lesson, LessonError, Part
from lessons.catalog.parser import MAX_LONGEST_SHARE_COURSE, longest_answer_share, parse_lesson

CONTENT_DIR = Path(__file__).resolve().parent.parent / "content"


RECHECK_SECONDS = 1.0
_checked: tuple[Path, float, tuple[tuple[str, int], ...]] | None = None


def get_catalog() -> Catalog:
    """The course's catalog, parsed once and parsed again only when a lesson file changes. The
    files are looked at no more than once a second: authors see an edit on their next reload,
    and a busy server does not list the folder on every call."""
    global _checked
    now = time.monotonic()
    checked = _checked
    if checked is None or checked[0] != CONTENT_DIR or now - checked[1] >= RECHECK_SECONDS:
        checked = _checked = (CONTENT_DIR, now, _signature(CONTENT_DIR))
    return _load_cached(CONTENT_DIR, checked[2])


def _signature(directory: Path) -> tuple[tuple[str, int], ...]:
    files = sorted([*directory.glob("*.md"), directory / "parts.toml"])
    return tuple((path.name, path.stat().st_mtime_ns) for path in files)


@functools.lru_cache(maxsize=1)
def _load_cached(directory: Path, signature: tuple[tuple[str, int], ...]) -> Catalog:
    return load_catalog(directory)


def load_catalog(directory: Path, draft: Path | None = None) -> Catalog:
    """Every lesson in `directory`; with `draft`, that file stands in for the lesson with its slug
    (or joins the course), so a draft is checked by exactly the rules the course is."""
    parts_file = directory / "parts.toml"
    part_titles = {p["number"]: p["title"] for p in _read_toml(parts_file)["part"]}
    paths = sorted(directory.glob("*.md"))
    if draft is not None:
        paths = [p for p in paths if p.stem != draft.stem] + [draft]
    lessons = [parse_lesson(path) for path in paths]
    seen: dict[tuple[int, int], Lesson] = {}
    for lesson in lessons:
        if lesson.part not in part_titles:
            raise LessonError(lesson.path, 1, f"part {lesson.part} is not in {parts_file.name}")
        other = seen.setdefault((lesson.part, lesson.order), lesson)
        if other is not lesson:
            raise LessonError(
                lesson.path, 1, f"part {lesson.part} order {lesson.order} is also {other.path.name}"
            )
    _check_course(lessons)
    return Catalog(
        tuple(
            Part(
                number,
                title,
                tuple(sorted((x for x in lessons if x.part == number), key=lambda x: x.order)),
            )
            for number, title in sorted(part_titles.items())
        )
    )


def _check_course(lessons: list[Lesson]) -> None:
    """Rules that span lessons: unique snippet ids and questions, no give-away answer lengths,
    and no surface cue (lessons.catalog.cues) that beats guessing, or loses to it, by more than
    MAX_CUE_EXCESS of the course's questions."""
    owners: dict[str, Lesson] = {}
    for lesson in lessons:
        for snippet in lesson.snippets.values():
            other = owners.setdefault(snippet.id, lesson)
            if other is not lesson:
                raise LessonError(
                    lesson.path,
                    snippet.line,
                    f"snippet id {snippet.id!r} is also used in "
                    f"{other.path.name}: snippet ids are unique across the course",
                )
    asked: dict[str, Lesson] = {}
    for lesson in lessons:
        for question in lesson.quiz:
            other = asked.setdefault(" ".join(question.text.split()).casefold(), lesson)
            if other is not lesson:
                raise LessonError(
                    lesson.path, 1, f"{question.id} is also asked in {other.path.name}"
                )
    longest, total = longest_answer_share(lessons)
    if total and longest > total * MAX_LONGEST_SHARE_COURSE:
        raise LessonError(
            lessons[-1].path,
            1,
            f"over the course the right answer is the longest choice in {longest} of {total} "
            f"questions ({longest / total:.0%}); at most {MAX_LONGEST_SHARE_COURSE:.0%} may be",
        )
    for score in cue_scores(question for lesson in lessons for question in lesson.quiz):
        if abs(score.excess) > score.allowed:
            # Right more often than a guess, the cue gives answers away; right less often, it
            # lets a learner strike its choice out.
            raise LessonError(
                lessons[-1].path,
                1,
                f"over the course, picking the {score.cue} choice is right in {len(score.right)} "
                f"of {score.pointed} questions where it points at one, and guessing would be "
                f"right in {score.chance:.1f}: {score.excess:+.1f} is more than "
                f"{MAX_CUE_EXCESS:.0%} of the {score.questions} questions either way",
            )


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise LessonError(path, getattr(exc, "lineno", 1), f"invalid TOML: {exc}") from None
