"""Every expected failure answered in the format the client asked for: JSON for the API, the
message alone for htmx (the page shows it beside the form), a page otherwise. Never a 500.

Domain errors derive from course.errors.CourseError and carry their status; this module only
dispatches on that with isinstance, so a subclass keeps its parent's answer."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.db import DatabaseError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

from course.errors import CourseError
from lessons.web.render import is_htmx

GetResponse = Callable[[HttpRequest], HttpResponse]


def wants_json(request: HttpRequest) -> bool:
    return request.path.startswith("/api/") or "application/json" in request.headers.get(
        "Accept", ""
    )


def answer(request: HttpRequest, status: int, kind: str, message: str) -> HttpResponse:
    if wants_json(request):
        return JsonResponse({"error": {"type": kind, "message": message}}, status=status)
    template = "partials/problem.html" if is_htmx(request) else "problem.html"
    return render(request, template, {"message": message, "status": status}, status=status)


class CourseErrorMiddleware:
    """CourseError (and, for the API and htmx, Http404) raised by a view becomes an answer."""

    def __init__(self, get_response: GetResponse) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if response.status_code == 405 and not response.content:
            allowed = response.get("Allow", "")
            message = f"{request.method} is not accepted here; use {allowed}."
            explained = answer(request, 405, "MethodNotAllowed", message)
            explained["Allow"] = allowed
            return explained
        return response

    def process_exception(self, request: HttpRequest, exc: Exception) -> HttpResponse | None:
        if isinstance(exc, CourseError):
            response = answer(request, exc.status, type(exc).__name__, exc.message)
            if retry_after := getattr(exc, "retry_after", None):
                response["Retry-After"] = str(retry_after)
            return response
        if isinstance(exc, Http404) and (wants_json(request) or is_htmx(request)):
            return answer(request, 404, "NotFound", str(exc) or "Not found.")
        if isinstance(exc, DatabaseError):
            return answer(request, 503, "DatabaseUnavailable", _database_message(exc))
        return None


class BodySizeLimitMiddleware:
    """Refuse a request whose declared body is larger than COURSE_MAX_BODY_BYTES (413), before
    the session, CSRF or a view reads any of it. Django's own DATA_UPLOAD_MAX_MEMORY_SIZE catches
    form bodies sent without a length."""

    def __init__(self, get_response: GetResponse) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        limit = settings.COURSE_MAX_BODY_BYTES
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return answer(
                request, 400, "BadRequest", "The request's Content-Length is not a number."
            )
        if length > limit:
            message = (
                f"The request is {length:,} bytes; the course accepts at most {limit:,}. "
                "Nothing was read or run."
            )
            response = answer(request, 413, "RequestTooLarge", message)
            response["Connection"] = "close"  # the unread body must not be taken as a request
            return response
        return self.get_response(request)


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    message = (
        "The form's security token was missing or out of date, so nothing was done. "
        "Reload the page and try again."
    )
    return answer(request, 403, "CsrfFailed", message)


def _database_message(exc: DatabaseError) -> str:
    if "no such table" in str(exc) or "does not exist" in str(exc):
        # A server started before `migrate`: say what to run instead of failing.
        return (
            "The course's database is not set up yet. Stop the server, run `make seed` "
            "(or `python manage.py seed`), then start it again."
        )
    return (
        f"The course's database could not be used ({exc}). If the files under var/ were "
        "damaged or the disk is full, free some space and run `python manage.py seed --force`."
    )
