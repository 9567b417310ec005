"""`make workshop` as an instructor runs it: the room opened and its two addresses printed, then
the server, started with the very commands `make -n workshop` lists (in a private var/)."""

from __future__ import annotations

import http.cookiejar
import os
import re
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import listed_commands, split_env

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Workshop:
    base: str  # the server, on 127.0.0.1
    printed: str  # what `manage.py workshop` told the instructor
    console: str  # the console address, on 127.0.0.1

    def browser(self) -> urllib.request.OpenerDirector:
        return urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
        )


def status(opener: urllib.request.OpenerDirector, url: str, **headers: str) -> int:
    request = urllib.request.Request(url, headers=headers)
    try:
        with opener.open(request, timeout=60) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


def join(workshop: Workshop, name: str) -> urllib.request.OpenerDirector:
    """A learner's browser that joined the room."""
    browser = workshop.browser()
    page = browser.open(f"{workshop.base}/join/", timeout=30).read().decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
    assert token, page[:500]
    body = urllib.parse.urlencode({"csrfmiddlewaretoken": token.group(1), "name": name}).encode()
    browser.open(urllib.request.Request(f"{workshop.base}/join/", body), timeout=30)
    return browser


@pytest.fixture
def workshop(tmp_path: Path) -> Iterator[Callable[..., Workshop]]:
    servers: list[subprocess.Popen[bytes]] = []
    env = {**os.environ, "COURSE_VAR_DIR": str(tmp_path / "var")}
    env.pop("DJANGO_SETTINGS_MODULE", None)  # the server's own settings, not the tests'
    env.pop("DATABASE_URL", None)  # a fresh var/ is a fresh room, on PostgreSQL (make test-pg) too
    python = str(ROOT / ".venv" / "bin" / "python")

    def start(*make_args: str) -> Workshop:
        port = free_port()
        lines = listed_commands(f"PORT={port}", *make_args)
        # The course database only (the pages asked here need no dataset); seeding is tested
        # elsewhere and takes long.
        (tmp_path / "var").mkdir(exist_ok=True)
        subprocess.run(
            [python, "manage.py", "migrate", "--verbosity", "0"], cwd=ROOT, env=env, check=True
        )
        opening = next(line for line in lines if "manage.py workshop" in line)
        step_env, argv = split_env(opening)
        printed = subprocess.run(
            [str(ROOT / argv[0]), *argv[1:]],
            cwd=ROOT,
            env={**env, **step_env},
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        serve_env, argv = split_env(lines[-1])
        assert "gunicorn" in argv[0]
        argv = [word.replace(f"0.0.0.0:{port}", f"127.0.0.1:{port}") for word in argv]
        server = subprocess.Popen(
            [str(ROOT / argv[0]), *argv[1:]],
            cwd=ROOT,
            env={**env, **serve_env},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        servers.append(server)
        base = f"http://127.0.0.1:{port}"
        console = re.search(r"Your console:\s+http://[^/]+(/console/[^/\s]+/)", printed)
        assert console, printed
        # Ready when a worker answers, not when the port is bound: on a loaded machine the
        # master listens long before its workers have imported the course.
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                status(urllib.request.build_opener(), f"{base}/join/")
                return Workshop(base, printed, base + console.group(1))
            except OSError:
                time.sleep(0.5)
        raise AssertionError("the workshop server did not answer within 120 s")

    yield start
    for server in servers:
        os.killpg(server.pid, 15)
    for server in servers:
        try:  # gunicorn gives its workers 30 s to stop; on a loaded machine booting ones take it
            server.wait(timeout=40)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, 9)
            server.wait(timeout=10)


def test_make_workshop_prints_the_learners_address_and_the_console(workshop) -> None:  # type: ignore[no-untyped-def]
    started = workshop()

    learners = re.search(r"Learners open:\s+http://([\d.]+):(\d+)/", started.printed)
    assert learners and learners.group(2) == started.base.rsplit(":", 1)[1]
    assert status(started.browser(), started.console) == 200


def test_make_workshop_prints_the_address_it_is_given_and_answers_it(workshop) -> None:  # type: ignore[no-untyped-def]
    started = workshop("ADDRESS=course.test")

    assert re.search(r"Learners open:\s+http://course\.test:\d+/", started.printed)
    assert re.search(r"Your console:\s+http://course\.test:\d+/console/", started.printed)
    assert status(started.browser(), started.base + "/", Host="course.test") == 200


def test_the_workshop_refuses_an_address_with_a_scheme_or_port(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from django.core.management import CommandError, call_command

    with pytest.raises(CommandError, match="not a host name or address"):
        call_command("workshop", "--host", "http://course.test:8000")


def test_the_servers_workers_share_the_secret_key_the_workshop_keeps(workshop, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Without it each worker would sign sessions with a key of its own, and a learner's next
    request, answered by the other worker, would not know them."""
    workshop()

    assert (tmp_path / "var" / "secret_key").stat().st_size > 40


def test_a_learner_opening_the_address_is_asked_to_join(workshop) -> None:  # type: ignore[no-untyped-def]
    started = workshop()

    with started.browser().open(f"{started.base}/", timeout=30) as response:
        assert urllib.parse.urlparse(response.url).path == "/join/"


def test_make_workshop_serves_with_editing_off(workshop) -> None:  # type: ignore[no-untyped-def]
    started = workshop()

    assert status(join(started, "Ana"), f"{started.base}/playground/") == 403


def test_make_workshop_editing_on_lets_the_room_edit(workshop) -> None:  # type: ignore[no-untyped-def]
    started = workshop("EDITING=on")

    assert status(join(started, "Ana"), f"{started.base}/playground/") == 200


def test_a_room_serves_no_admin(workshop) -> None:  # type: ignore[no-untyped-def]
    started = workshop()
    instructor = started.browser()
    status(instructor, started.console)  # past the join page, as the instructor is

    assert status(instructor, f"{started.base}/admin/") == 404


def test_a_room_answers_only_to_its_own_addresses(workshop) -> None:  # type: ignore[no-untyped-def]
    started = workshop()

    assert status(started.browser(), started.console, Host="evil.example") == 400


def test_a_room_never_shows_debug_pages(workshop) -> None:  # type: ignore[no-untyped-def]
    started = workshop()
    instructor = started.browser()
    status(instructor, started.console)

    request = urllib.request.Request(f"{started.base}/lessons/no-such-lesson/")
    with pytest.raises(urllib.error.HTTPError) as missing:
        instructor.open(request, timeout=30)

    body = missing.value.read().decode()
    assert missing.value.code == 404
    assert "Traceback" not in body and "DEBUG = True" not in body


def test_restarting_the_workshop_keeps_the_room(workshop) -> None:  # type: ignore[no-untyped-def]
    first = workshop()
    second = workshop()

    assert first.console.split("/console/")[1] == second.console.split("/console/")[1]
    assert "is open again" in second.printed
