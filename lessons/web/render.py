"""Requests as the views see them: whether htmx asked, one way to answer a page or its partial,
and the dataset (and engine) a request names, resolved once."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django_htmx.middleware import HtmxDetails

from lessons import datasets
from lessons.errors import CourseError


def is_htmx(request: HttpRequest) -> bool:
    """django-htmx's reading of the HX-Request header ("false" is false), also before its
    middleware has run (error answers can come from earlier in the chain)."""
    details = getattr(request, "htmx", None)
    if details is None:
        details = HtmxDetails(request)
    return bool(details)


def page_or_partial(
    request: HttpRequest,
    page: str,
    partial: str,
    context: dict[str, Any],
    status: int = 200,
) -> HttpResponse:
    """htmx swaps in the partial; a plain request (no JavaScript) gets the whole page."""
    return render(request, partial if is_htmx(request) else page, context, status=status)


def request_dataset(request: HttpRequest) -> str:
    """The dataset this request names (posted, else in the query string), or the default.
    UnknownDataset (400) for a name that is not a dataset; resolved once per request."""
    return _named(request, "dataset", datasets.resolve)


def request_engine(request: HttpRequest) -> str:
    """The engine this request names (posted, else in the query string), or the primary one.
    UnknownEngine (400) for an engine this server does not offer; resolved once per request."""
    return _named(request, "engine", datasets.resolve_engine)


def _named(request: HttpRequest, field: str, resolve: Callable[[object], str]) -> str:
    """`field` as the request names it, resolved once: kept on the request for the next ask."""
    resolved: dict[str, str] = request.__dict__.setdefault("course_named", {})
    if field not in resolved:
        source = request.POST if request.method == "POST" else request.GET
        resolved[field] = resolve(source.get(field))
    return resolved[field]


def request_alias(request: HttpRequest) -> str:
    """The database alias behind the data size and engine this request names."""
    return datasets.alias(request_dataset(request), request_engine(request))


class MissingCode(CourseError):
    status = 400


def posted_code(request: HttpRequest, *, required: bool = True) -> str | None:
    """The code a learner posted, with the browser's CRLF line endings made plain newlines.
    MissingCode (400) if it is required and absent or blank."""
    code = request.POST.get("code")
    if code is None or not code.strip():
        if required:
            raise MissingCode("There is no code to run: write some Python in the editor first.")
        return None
    return code.replace("\r\n", "\n").replace("\r", "\n")


# The session keeps only this: the id of the learner row (lessons.web.room).
LEARNER_SESSION_KEY = "learner"


def learner_id(request: HttpRequest) -> str:
    """Who is asking, for the run service's one-run-per-learner rule: the learner once there is
    one, the client's address before that."""
    pk = request.session.get(LEARNER_SESSION_KEY)
    return f"learner:{pk}" if pk is not None else f"address:{request.META.get('REMOTE_ADDR', '')}"
