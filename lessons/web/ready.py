"""Getting a server process ready before its first request.

A fresh server's first requests arrive together (a room opening the same lesson): if each thread
parsed the lesson files and compiled the templates itself, 30 threads would do that work 30 times
over. A server process therefore draws every page once, alone, as it starts."""

from __future__ import annotations

import logging
import time

from django.contrib.auth.models import AnonymousUser
from django.contrib.sessions.backends.signed_cookies import SessionStore
from django.test import RequestFactory
from django.urls import resolve, reverse

from lessons.catalog import get_catalog
from lessons.errors import CourseError

logger = logging.getLogger(__name__)


def draw_every_page() -> float:
    """Render the outline and every lesson once (nothing stored: the session lives in memory).
    Returns the seconds it took."""
    started = time.monotonic()
    factory = RequestFactory()
    paths = [reverse("lessons:outline")] + [
        reverse("lessons:detail", args=[lesson.slug]) for lesson in get_catalog().lessons
    ]
    for path in paths:
        request = factory.get(path)
        request.session = SessionStore()
        request.user = AnonymousUser()
        view = resolve(path)  # the view the URL names, as a request would reach it
        try:
            view.func(request, *view.args, **view.kwargs)
        except CourseError as exc:  # a dataset not seeded yet: its page says so when asked
            logger.warning("Could not prepare %s: %s", path, exc)
    return time.monotonic() - started
