"""Getting a server process ready before its first request.

A fresh server's first requests arrive together (a room opening the same lesson): if each thread
parsed the lesson files and compiled the templates itself, 30 threads would do that work 30 times
over. A server process therefore draws every page once, alone, as it starts."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from django.contrib.auth.models import AnonymousUser
from django.contrib.sessions.backends.signed_cookies import SessionStore
from django.http import HttpResponse
from django.test import RequestFactory

from lessons.catalog import get_catalog
from lessons.errors import CourseError
from lessons.web import pages

logger = logging.getLogger(__name__)


def draw_every_page() -> float:
    """Render the outline and every lesson once (nothing stored: the session lives in memory).
    Returns the seconds it took."""
    started = time.monotonic()
    factory = RequestFactory()
    views: list[tuple[str, Callable[..., HttpResponse], dict[str, str]]] = [
        ("/", pages.outline, {})
    ] + [
        (f"/lessons/{lesson.slug}/", pages.lesson_detail, {"slug": lesson.slug})
        for lesson in get_catalog().lessons
    ]
    for path, view, kwargs in views:
        request = factory.get(path)
        request.session = SessionStore()
        request.user = AnonymousUser()
        try:
            view(request, **kwargs)
        except CourseError as exc:  # a dataset not seeded yet: its page says so when asked
            logger.warning("Could not prepare %s: %s", path, exc)
    return time.monotonic() - started
