"""The failures the course expects and answers with a message instead of a 500.

Each carries the HTTP status it answers with; `lessons.web.errors` turns any of them into a page,
an htmx partial or a JSON error, dispatched with isinstance so subclasses keep their status.
"""

from __future__ import annotations


class CourseError(Exception):
    status = 400

    @property
    def message(self) -> str:
        return str(self)


class Unavailable(CourseError):
    """Something the course needs is not there yet (a dataset, the database): try again later."""

    status = 503


def shorten(value: object, limit: int = 60) -> str:
    """A value quoted in an error message, cut so a huge input is never echoed back whole."""
    text = repr(value) if isinstance(value, str) else repr(str(value))
    return text if len(text) <= limit else text[: limit - 2] + "…'"
