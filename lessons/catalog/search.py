"""Search across the lessons with SQLite's FTS5, the full-text index the course teaches: every
section of every lesson (its heading and prose), each snippet's title and code, each exercise's
task, in an in-memory database built once per catalog. Results are ranked by bm25, best first,
with the matching words marked by FTS5's own snippet()."""

from __future__ import annotations

import re
import sqlite3
import threading
from dataclasses import dataclass

from lessons.catalog.models import Catalog, Lesson, Pair, Prose

MAX_RESULTS = 20
MAX_QUERY_CHARS = 200
# snippet() marks matches with these; the page escapes the text, then turns them into <mark>.
START, END = "\x02", "\x03"
_HEADING = re.compile(r"^#{2,4}\s+(.+?)\s*#*\s*$", re.MULTILINE)


@dataclass(frozen=True)
class Hit:
    lesson: Lesson
    section: str  # the heading it is under ("" for the lesson's start)
    anchor: str  # the section's id on the lesson page ("" for the top)
    excerpt: str  # the text around the match, with START/END around each matching word


def _anchor(heading: str) -> str:
    from django.utils.text import slugify  # as lessons.display.prose names the headings

    return "section-" + (slugify(heading) or "untitled") if heading else ""


def _sections(lesson: Lesson) -> list[tuple[str, str]]:
    """(heading, text) for each part of a lesson a learner could look for."""
    parts: list[tuple[str, str]] = [("", f"{lesson.title}. {lesson.summary}")]
    heading = ""
    for block in lesson.blocks:
        if isinstance(block, Prose):
            pieces = _HEADING.split(block.source)  # text, heading, text, heading, text...
            if pieces[0].strip():
                parts.append((heading, pieces[0]))
            for title, text in zip(pieces[1::2], pieces[2::2], strict=True):
                heading = title
                parts.append((heading, f"{title}. {text}"))
        elif isinstance(block, Pair):
            for snippet in block.snippets:
                parts.append((heading, f"{snippet.title or snippet.id}. {snippet.code}"))
    for exercise in lesson.exercises:
        parts.append(("Exercises", f"{exercise.title}. {exercise.task}"))
    return parts


class Index:
    """The catalog's search index: one in-memory FTS5 table, read under a lock (one connection
    serves every thread of the process)."""

    def __init__(self, catalog: Catalog) -> None:
        self._lessons = {lesson.slug: lesson for lesson in catalog.lessons}
        self._db = sqlite3.connect(":memory:", check_same_thread=False)
        self._lock = threading.Lock()
        self._db.execute(
            "CREATE VIRTUAL TABLE parts USING fts5(slug UNINDEXED, title, section, body,"
            " tokenize = 'porter unicode61')"
        )
        self._db.executemany(
            "INSERT INTO parts (slug, title, section, body) VALUES (?, ?, ?, ?)",
            [
                (lesson.slug, lesson.title, section, text)
                for lesson in catalog.lessons
                for section, text in _sections(lesson)
            ],
        )

    def search(self, query: str) -> list[Hit]:
        """The best parts for `query` (its words, each as a prefix, all of them required)."""
        words = re.findall(r"\w+", query[:MAX_QUERY_CHARS])
        if not words:
            return []
        # Each word quoted: FTS5's own syntax (AND, NEAR, column filters) is not the learner's.
        match = " ".join(f'"{word}"*' for word in words)
        with self._lock:
            rows = self._db.execute(
                "SELECT slug, section, snippet(parts, 3, ?, ?, '…', 16) FROM parts"
                # A word in the lesson's title weighs most, then in the section's heading.
                " WHERE parts MATCH ? ORDER BY bm25(parts, 0.0, 10.0, 4.0, 1.0) LIMIT ?",
                (START, END, match, MAX_RESULTS),
            ).fetchall()
        return [
            Hit(self._lessons[slug], section, _anchor(section), text)
            for slug, section, text in rows
        ]


_indexes: dict[int, Index] = {}
_indexes_lock = threading.Lock()


def index_for(catalog: Catalog) -> Index:
    """The index of this catalog, built the first time it is searched."""
    with _indexes_lock:
        if id(catalog) not in _indexes:
            _indexes.clear()  # a catalog loaded again (a test) replaces the old one
            _indexes[id(catalog)] = Index(catalog)
        return _indexes[id(catalog)]
