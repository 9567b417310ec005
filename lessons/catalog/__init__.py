"""Lesson files to immutable objects: the parser with every content rule, the loader, `expect`."""

from __future__ import annotations

from lessons.catalog.cues import CueScore, cue_scores
from lessons.catalog.loader import CONTENT_DIR, get_catalog, load_catalog
from lessons.catalog.models import (
    Catalog,
    Exercise,
    Lesson,
    LessonError,
    Pair,
    Part,
    Prose,
    Question,
    Snippet,
)
from lessons.catalog.parser import longest_answer_share, parse_lesson

__all__ = [
    "CONTENT_DIR",
    "Catalog",
    "CueScore",
    "Exercise",
    "Lesson",
    "LessonError",
    "Pair",
    "Part",
    "Prose",
    "Question",
    "Snippet",
    "cue_scores",
    "get_catalog",
    "load_catalog",
    "longest_answer_share",
    "parse_lesson",
]
