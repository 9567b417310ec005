"""Requests as the views see them: whether htmx asked, one way to answer a page or its partial,
and the code a learner posted."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django_htmx.middleware import HtmxDetails

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
