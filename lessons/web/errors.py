"""Every expected failure answered in the format the client asked for: JSON for the API, the
message alone for htmx (the page shows it beside the form), a page otherwise. Never a 500.

Domain errors derive from lessons.errors.CourseError and carry their status; this module only
dispatches on that with isinstance, so a subclass keeps its parent's answer."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.core.exceptions import (
    BadRequest,
    RequestDataTooBig,
    SuspiciousOperation,
    TooManyFieldsSent,
    TooManyFilesSent,
)
from django.db import DatabaseError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.http.multipartparser import MultiPartParserError
from django.shortcuts import render
from django.urls import Resolver404
from django.views import defaults

from lessons.errors import CourseError
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
    """CourseError and Http404 raised by a view become an answer."""

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
        if isinstance(exc, Http404):
            # The course's own 404 page (or JSON, or htmx's message) in every mode: with DEBUG
            # on, Django would show its technical page for a lesson that does not exist.
            return page_not_found(request, exc)
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


class ReadFormMiddleware:
    """Read the query string and a POST's form before anything else does, so one Django refuses
    (too many fields, too large, a multipart body without its boundary) is answered like every
    other error, under DEBUG too: there Django would show its debug page, not bad_request."""

    def __init__(self, get_response: GetResponse) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        try:
            request.GET  # noqa: B018 (parsed here, on purpose)
            if request.method == "POST":
                request.POST  # noqa: B018
        except (SuspiciousOperation, MultiPartParserError, BadRequest) as exc:
            if not isinstance(exc, MultiPartParserError):
                # As Django's own handler does: a later look at request.POST must not raise.
                request._mark_post_parse_error()  # type: ignore[attr-defined]
            return bad_request(request, exc)
        return self.get_response(request)


# Django's error handlers (course/urls.py names them): what Django refuses itself, before or
# around a view, answers in the client's format as the course's own errors do.


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    if isinstance(exception, RequestDataTooBig):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE or 0
        message = (
            f"The request's form is larger than the course accepts ({limit:,} bytes). "
            "Nothing was run."
        )
        response = answer(request, 413, "RequestTooLarge", message)
        response["Connection"] = "close"  # the rest of the body was not read
        return response
    if isinstance(exception, (TooManyFieldsSent, TooManyFilesSent)):
        limit = settings.DATA_UPLOAD_MAX_NUMBER_FIELDS or 0
        message = (
            f"The request has more fields than the course accepts (at most {limit:,}). "
            "Nothing was run."
        )
        return answer(request, 400, "TooManyFields", message)
    if isinstance(exception, MultiPartParserError):
        message = f"The request's form could not be read ({str(exception)[:100]}). Nothing was run."
        return answer(request, 400, "BadRequest", message)
    return answer(request, 400, "BadRequest", "The request could not be understood.")


def permission_denied(request: HttpRequest, exception: Exception) -> HttpResponse:
    return answer(request, 403, "Forbidden", str(exception)[:200] or "This is not yours to see.")


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    """An address no URL matches (a view's Http404 is CourseErrorMiddleware's): JSON for the
    API and htmx's message alone; browsers keep the 404 page."""
    if not (wants_json(request) or is_htmx(request)):
        return defaults.page_not_found(request, exception)
    unmatched = isinstance(exception, Resolver404)  # its text is the URL patterns tried
    message = "There is nothing at this address." if unmatched else str(exception)[:200]
    return answer(request, 404, "NotFound", message or "Not found.")


def server_error(request: HttpRequest) -> HttpResponse:
    """Renders nothing for JSON: whatever failed may be what a template needs."""
    if wants_json(request):
        message = "The server failed to answer this request; the failure was logged."
        return JsonResponse({"error": {"type": "ServerError", "message": message}}, status=500)
    return defaults.server_error(request)


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
