"""`make workshop` serves a room with editing off; `make workshop EDITING=on` turns it on. The
server is started with the very command `make -n workshop` lists, and asked from this machine,
where the default (local) would allow editing: only the flag decides."""

from __future__ import annotations

import os
import shlex
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def serve_command(*make_args: str) -> tuple[dict[str, str], list[str]]:
    """The workshop's server command (its VAR=value words, then gunicorn's argv) from make."""
    listed = subprocess.run(
        ["make", "--silent", "--dry-run", "--old-file=.venv/.installed", "workshop", *make_args],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.splitlines()
    words = shlex.split(next(line for line in listed if "gunicorn" in line))
    first = next(i for i, word in enumerate(words) if "=" not in word)
    env = dict(word.split("=", 1) for word in words[:first])
    return env, words[first:]


@pytest.fixture
def workshop(tmp_path: Path) -> Iterator[object]:
    servers: list[subprocess.Popen[bytes]] = []

    def start(*make_args: str) -> str:
        port = free_port()
        env, argv = serve_command(f"PORT={port}", *make_args)
        argv = [word.replace(f"0.0.0.0:{port}", f"127.0.0.1:{port}") for word in argv]
        argv[0] = str(ROOT / argv[0])
        environ = {**os.environ, **env, "COURSE_VAR_DIR": str(tmp_path / "var")}
        environ.pop("DJANGO_SETTINGS_MODULE", None)  # the server's own settings, not the tests'
        server = subprocess.Popen(
            argv,
            cwd=ROOT,
            env=environ,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        servers.append(server)
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(f"{base}/api/datasets/", timeout=5)
                return base
            except urllib.error.HTTPError:
                return base
            except OSError:
                time.sleep(0.2)
        raise AssertionError("the workshop server did not answer within 60 s")

    yield start
    for server in servers:
        os.killpg(server.pid, 15)
        server.wait(timeout=30)


def status(url: str) -> int:
    try:
        return int(urllib.request.urlopen(url, timeout=30).status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


def test_make_workshop_serves_with_editing_off(workshop) -> None:  # type: ignore[no-untyped-def]
    base = workshop()

    assert status(f"{base}/playground/") == 403


def test_make_workshop_editing_on_lets_the_room_edit(workshop) -> None:  # type: ignore[no-untyped-def]
    base = workshop("EDITING=on")

    assert status(f"{base}/playground/") == 200
