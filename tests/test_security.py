"""Security headers on real responses (a page, the JSON API, an htmx partial, an error), the
Content Security Policy and its nonce, markup free of the inline code the policy refuses, and
`check --deploy` for a room as `make workshop` serves it, over HTTP and over HTTPS."""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from django.http import HttpResponse
from django.test import Client
from django.urls import reverse

from lessons.catalog import get_catalog
from tests.conftest import listed_commands, split_env

ROOT = Path(__file__).resolve().parent.parent
LESSON = "n-plus-one"
SNIPPET = "count-comments.fixed"

# The policy without its nonce (style-src is checked on its own).
POLICY = {
    "default-src": ["'self'"],
    "script-src": ["'self'"],
    "style-src-attr": ["'unsafe-inline'"],
    "img-src": ["'self'", "data:"],
    "connect-src": ["'self'"],
    "object-src": ["'none'"],
    "base-uri": ["'self'"],
    "form-action": ["'self'"],
    "frame-ancestors": ["'none'"],
}
# Django's SecurityMiddleware and XFrameOptionsMiddleware, with the defaults the course keeps.
HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
}
HTTPS_WARNINGS = {"security.W004", "security.W008", "security.W012", "security.W016"}


def directives(header: str) -> dict[str, list[str]]:
    parsed: dict[str, list[str]] = {}
    for part in header.split(";"):
        name, *values = part.split()
        assert name not in parsed, f"{name} given twice"
        parsed[name] = values
    return parsed


def nonce_of(response: HttpResponse) -> str:
    style = directives(response["Content-Security-Policy"])["style-src"]
    assert style[0] == "'self'" and len(style) == 2, style
    match = re.fullmatch(r"'nonce-([A-Za-z0-9_-]{22,})'", style[1])
    assert match, style
    return match.group(1)


def page(client: Client) -> HttpResponse:
    return client.get(reverse("lessons:detail", args=[LESSON]))


def json_api(client: Client) -> HttpResponse:
    response = client.get(reverse("lessons:api-datasets"))
    assert response["Content-Type"] == "application/json"
    return response


def htmx_partial(client: Client) -> HttpResponse:
    response = client.post(
        reverse("lessons:run", args=[LESSON]),
        {"snippet": SNIPPET, "dataset": "tiny"},
        HTTP_HX_REQUEST="true",
    )
    assert b"<html" not in response.content and b'class="panel"' in response.content
    return response


def not_found(client: Client) -> HttpResponse:
    return client.get("/no-such-page/")


@pytest.fixture
def editing_on(settings: Any) -> None:
    settings.COURSE_EDITING = "on"


@pytest.mark.parametrize("ask", [page, json_api, htmx_partial, not_found], ids=lambda f: f.__name__)
def test_every_response_carries_the_headers(
    client: Client, data: None, ask: Callable[[Client], HttpResponse]
) -> None:
    response = ask(client)

    assert response.status_code == (404 if ask is not_found else 200)
    for name, value in HEADERS.items():
        assert response[name] == value, name
    policy = directives(response["Content-Security-Policy"])
    nonce_of(response)
    assert {name: values for name, values in policy.items() if name != "style-src"} == POLICY


def test_with_debug_only_djangos_error_pages_go_without_a_policy(
    client: Client, data: None, settings: Any
) -> None:
    """Django's yellow pages are inline styles and scripts; DEBUG is never on in a room."""
    settings.DEBUG = True

    assert "Content-Security-Policy" not in not_found(client)
    assert "Content-Security-Policy" in page(client)


def test_scripts_run_only_from_our_own_files(client: Client, data: None) -> None:
    header = page(client)["Content-Security-Policy"]
    policy = directives(header)

    assert policy["script-src"] == ["'self'"]
    assert "'unsafe-eval'" not in header
    # Every directive scripts could fall back to or be named by; style elements need the nonce.
    for name in ("default-src", "script-src", "script-src-elem", "script-src-attr", "style-src"):
        assert "'unsafe-inline'" not in policy.get(name, []), name


def test_the_nonce_is_new_for_every_response_and_the_one_the_page_uses(
    client: Client, data: None, editing_on: None
) -> None:
    responses = [page(client), page(client)]
    nonces = [nonce_of(response) for response in responses]

    assert nonces[0] != nonces[1]
    for response, nonce in zip(responses, nonces, strict=True):
        used = re.findall(r'nonce="([^"]*)"', response.content.decode())
        assert used == [nonce]  # on the editor's script tag, which hands it to CodeMirror


def test_htmx_is_told_to_use_neither_eval_nor_inline_styles(client: Client, data: None) -> None:
    html = page(client).content.decode()
    match = re.search(r"<meta name=\"htmx-config\" content='([^']*)'>", html)
    assert match, "no htmx-config meta"
    config = json.loads(match.group(1))

    assert config["allowEval"] is False
    assert config["includeIndicatorStyles"] is False
    assert config["allowScriptTags"] is False
    # The indicator rules htmx would have injected are in the course's stylesheet instead.
    assert ".htmx-request.htmx-indicator" in (ROOT / "static/css/course.css").read_text()


class InlineCode(HTMLParser):
    """Everything in a page the policy would refuse, or that needs eval in htmx."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        named = dict(attrs)
        if tag == "script" and not (named.get("src") or "").startswith("/static/"):
            self.found.append(f"<script> not from /static/: {named}")
        if tag == "style" and "nonce" not in named:
            self.found.append("<style> without a nonce")
        for name, value in attrs:
            value = (value or "").strip()
            if name.startswith(("on", "hx-on", "data-hx-on")):
                self.found.append(f"<{tag} {name}>: an inline handler")
            elif name == "style":
                self.found.append(f"<{tag} style={value!r}>: use a class")
            elif value.lower().startswith("javascript:"):
                self.found.append(f"<{tag} {name}={value!r}>: a javascript: URL")
            elif name in ("hx-vals", "hx-vars") and value.startswith(("js:", "javascript:")):
                self.found.append(f"<{tag} {name}={value!r}>: needs eval")
            elif name == "hx-trigger" and "[" in value:
                self.found.append(f"<{tag} hx-trigger={value!r}>: a filter needs eval")


def inline_code(html: str) -> list[str]:
    parser = InlineCode()
    parser.feed(html)
    return parser.found


PAGES = [
    "/",
    "/playground/",
    "/exam/",
    "/blog/",
    "/blog/optimized/",
    "/no-such-page/",
    *(f"/lessons/{lesson.slug}/" for lesson in get_catalog().lessons),
]


@pytest.mark.parametrize("url", PAGES)
def test_pages_carry_no_inline_code(client: Client, data: None, editing_on: None, url: str) -> None:
    response = client.get(url)

    assert response.status_code in (200, 404)
    assert inline_code(response.content.decode()) == []


def test_the_watcher_sees_inline_code() -> None:
    html = (
        '<script>x()</script><button onclick="x()"></button><a href="javascript:x()"></a>'
        '<div hx-on:click="x()" hx-trigger="click[ctrlKey]" hx-vals=\'js:{a: 1}\'></div>'
        '<p style="color: red"></p><style>p {}</style><script src="https://cdn.test/x.js"></script>'
    )

    assert len(inline_code(html)) == 9


TEMPLATE_COMMENT = re.compile(r"{#.*?#}|{% comment %}.*?{% endcomment %}", re.S)
TEMPLATE_RULES = {
    "an inline <script>": re.compile(r"<script(?![^>]*\ssrc=)[^>]*>", re.I),
    "a <style> element": re.compile(r"<style[\s>]", re.I),
    "an inline handler": re.compile(r"\s(?:data-)?(?:on[a-z]+|hx-on[^=\s]*)\s*=", re.I),
    "a style attribute": re.compile(r"\sstyle\s*=", re.I),
    "a javascript: URL": re.compile(r"javascript:", re.I),
    "an hx-trigger filter (eval)": re.compile(r"hx-trigger=\"[^\"]*\["),
    "js: in hx-vals (eval)": re.compile(r"hx-va(?:ls|rs)=['\"]\s*(?:js|javascript):"),
}


def test_templates_and_scripts_have_no_inline_code() -> None:
    """Every template, rendered by a test or not, and the course's own scripts."""
    found = []
    for path in sorted((ROOT / "templates").rglob("*.html")):
        text = TEMPLATE_COMMENT.sub("", path.read_text())
        found += [
            f"{path.relative_to(ROOT)}: {what}"
            for what, rule in TEMPLATE_RULES.items()
            if rule.search(text)
        ]
    for path in sorted((ROOT / "static/js").glob("*.js")):
        text = path.read_text()
        if re.search(r"\beval\(|new Function\(|javascript:|\.innerHTML\s*=", text):
            found.append(f"{path.relative_to(ROOT)}: eval, Function, javascript: or innerHTML")

    assert found == []


def test_the_editor_bundle_takes_the_nonce_from_its_script_tag() -> None:
    source = (ROOT / "static/vendor/src/editor.mjs").read_text()
    bundle = next((ROOT / "static/vendor").glob("codemirror-*.min.js")).read_text()

    assert "EditorView.cspNonce.of(nonce)" in source
    assert "document.currentScript?.nonce" in bundle  # rebuilt by build.sh since the change


# `check --deploy` for the server `make workshop` starts: its environment, taken from make.


def serve_command(*make_args: str) -> tuple[dict[str, str], list[str]]:
    """The workshop's gunicorn line from `make -n`: its leading VAR=value words, then argv."""
    return split_env(next(line for line in listed_commands(*make_args) if "gunicorn " in line))


def deploy_warnings(tmp_path: Path, *make_args: str) -> set[str]:
    env, _ = serve_command(*make_args)
    # Some checks open the databases (Django 6's JSONField check does): var/ exists, as after seed.
    (tmp_path / "var").mkdir()
    environ = {
        **{k: v for k, v in os.environ.items() if not k.startswith("COURSE_")},
        **env,
        "COURSE_VAR_DIR": str(tmp_path / "var"),
        "COURSE_SECRET_KEY": secrets.token_urlsafe(50),
    }
    environ.pop("DJANGO_SETTINGS_MODULE", None)
    assert environ["COURSE_DEBUG"] == "0"
    checked = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy"],
        cwd=ROOT,
        env=environ,
        capture_output=True,
        text=True,
        check=False,
    )
    assert checked.returncode == 0, checked.stderr
    return set(re.findall(r"\((\w+\.[EWCI]\d+)\)", checked.stdout + checked.stderr))


def test_check_deploy_over_http_reports_only_the_https_items(tmp_path: Path) -> None:
    assert deploy_warnings(tmp_path) == HTTPS_WARNINGS


def test_check_deploy_over_https_reports_nothing(tmp_path: Path) -> None:
    assert deploy_warnings(tmp_path, "CERT=cert.pem", "KEY=key.pem") == set()


def test_workshop_adds_https_only_when_given_a_certificate() -> None:
    env, argv = serve_command()
    assert "COURSE_HTTPS" not in env
    assert "--certfile" not in argv

    env, argv = serve_command("CERT=room.pem", "KEY=room.key")
    assert env["COURSE_HTTPS"] == "1"
    assert argv[argv.index("--certfile") + 1] == "room.pem"
    assert argv[argv.index("--keyfile") + 1] == "room.key"


@pytest.fixture
def certificate(tmp_path: Path) -> tuple[Path, Path]:
    if not shutil.which("openssl"):
        pytest.skip("openssl is not installed")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    self_signed = (
        "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1"
    )
    subprocess.run(
        [*self_signed.split(), "-subj", "/CN=127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
    )
    return cert, key


@pytest.fixture
def https_workshop(tmp_path: Path, certificate: tuple[Path, Path]) -> Iterator[str]:
    """The server `make workshop CERT=... KEY=...` starts, on this machine only."""
    cert, key = certificate
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    env, argv = serve_command(f"PORT={port}", f"CERT={cert}", f"KEY={key}")
    argv = [word.replace(f"0.0.0.0:{port}", f"127.0.0.1:{port}") for word in argv]
    argv[0] = str(ROOT / argv[0])
    environ = {**os.environ, **env, "COURSE_VAR_DIR": str(tmp_path / "var")}
    environ.pop("DJANGO_SETTINGS_MODULE", None)  # the server's own settings, not the tests'
    environ.pop("DATABASE_URL", None)  # a fresh var/ is a fresh room, on PostgreSQL too
    # The course's own tables only: no page asked here reads a dataset.
    (tmp_path / "var").mkdir()
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--verbosity", "0"],
        cwd=ROOT,
        env={k: v for k, v in environ.items() if k != "COURSE_HTTPS"},
        check=True,
    )
    server = subprocess.Popen(
        argv,
        cwd=ROOT,
        env=environ,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        yield f"https://127.0.0.1:{port}"
    finally:
        os.killpg(server.pid, 15)
        server.wait(timeout=30)


def fetch_https(url: str) -> Any:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # the test's own self-signed certificate
    deadline = time.monotonic() + 60
    while True:
        try:
            return urllib.request.urlopen(url, timeout=5, context=context)
        except urllib.error.HTTPError as answered:
            return answered
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def test_a_room_served_over_https_sends_hsts_and_the_policy(https_workshop: str) -> None:
    response = fetch_https(f"{https_workshop}/api/datasets/")

    assert response.headers["Strict-Transport-Security"] == "max-age=3600"
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Frame-Options"] == "DENY"
