"""The Content Security Policy every response carries.

A small middleware of our own rather than django-csp: the course needs one fixed policy and a
fresh nonce per request, which is twenty lines that behave the same on Django 5.2 and 6.x, while
django-csp would add a dependency that overlaps Django 6's built-in CSP support. The nonce is kept
as `request.csp_nonce`, the name django-csp uses, so django-debug-toolbar finds it as well.

Scripts come only from our own static files (no inline code, no eval), so script-src needs no
nonce. Styles need one: the vendored editor (CodeMirror) writes its styles into a <style> element,
and gets the nonce from the script tag that loads it (see static/vendor/src/editor.mjs).

django-debug-toolbar (DEBUG on, the blog pages, this machine only) needs no looser policy: its
scripts and styles are static files, it sets styles through the CSSOM, and it reads the nonce.

Django's SecurityMiddleware and XFrameOptionsMiddleware send the other headers (nosniff,
Referrer-Policy, Cross-Origin-Opener-Policy, X-Frame-Options) with their defaults.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse

HEADER = "Content-Security-Policy"


def policy(nonce: str) -> str:
    directives = {
        "default-src": "'self'",
        "script-src": "'self'",
        "style-src": f"'self' 'nonce-{nonce}'",
        # Style attributes, not elements: when typing replaces a selection of several lines in
        # the editor, Chrome's own contenteditable code writes style attributes into the lines
        # (CodeMirror then redraws them). A style attribute runs nothing and, with img-src and
        # font-src kept to 'self', loads nothing from elsewhere.
        "style-src-attr": "'unsafe-inline'",
        "img-src": "'self' data:",
        "connect-src": "'self'",
        "object-src": "'none'",
        "base-uri": "'self'",
        "form-action": "'self'",
        "frame-ancestors": "'none'",
    }
    return "; ".join(f"{name} {value}" for name, value in directives.items())


class ContentSecurityPolicyMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        # 16 random bytes, base64url: a nonce nobody can guess, new for every response.
        nonce = secrets.token_urlsafe(16)
        request.csp_nonce = nonce  # type: ignore[attr-defined]
        response = self.get_response(request)
        if HEADER not in response and not _exempt(request, response):
            response[HEADER] = policy(nonce)
        return response


def _exempt(request: HttpRequest, response: HttpResponse) -> bool:
    """With DEBUG on (a learner's own machine, never a room): Django's yellow error pages are
    inline styles and scripts, and go without a policy so they stay readable."""
    return settings.DEBUG and response.status_code in (404, 500)
