"""A room served by several app servers sharing one database: two gunicorn servers, started as
`make workshop` starts one, each with its own var/ (its own SQLite datasets), both with rooms,
progress and sessions in one PostgreSQL database made for this module and dropped after it.

A learner uses server A; the instructor's console, served by server B, sees them; and the
learner's next request, answered by B, still knows them (shared sessions, shared secret key).

Runs only where PostgreSQL is configured (`make test-pg`, or DATABASE_URL / COURSE_PG_HOST set)."""

from __future__ import annotations

import html
import http.cookiejar
import os
import re
import secrets
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import listed_commands, split_env

ROOT = Path(__file__).resolve().parent.parent
PYTHON = str(ROOT / ".venv" / "bin" / "python")
READY_SECONDS = 60

pytestmark = pytest.mark.skipif(
    not (os.environ.get("DATABASE_URL") or os.environ.get("COURSE_PG_HOST")),
    reason="several app servers share a PostgreSQL database: run `make test-pg` (or set "
    "DATABASE_URL to a PostgreSQL server whose role may create databases)",
)


def cluster_url() -> str:
    """A postgres:// URL for the role that may create databases (DATABASE_URL's, or the owner's)."""
    if url := os.environ.get("DATABASE_URL"):
        return url
    user = urllib.parse.quote(os.environ.get("COURSE_PG_OWNER", "course"), safe="")
    password = os.environ.get("COURSE_PG_OWNER_PASSWORD", "")
    login = f"{user}:{urllib.parse.quote(password, safe='')}" if password else user
    query = urllib.parse.urlencode(
        {"host": os.environ["COURSE_PG_HOST"], "port": os.environ.get("COURSE_PG_PORT", "5432")}
    )
    return f"postgres://{login}@/postgres?{query}"


def url_for(database: str) -> str:
    return urllib.parse.urlsplit(cluster_url())._replace(path=f"/{database}").geturl()


def admin(sql: str) -> None:
    """One statement on the cluster's maintenance database, outside any transaction."""
    psycopg = pytest.importorskip("psycopg", reason="psycopg is not installed (make test-pg)")
    from course.databases import from_url

    entry = from_url(url_for("postgres"))
    assert isinstance(entry["OPTIONS"], dict)
    # sslmode and the like, as libpq takes them (server_side_binding is Django's own).
    options = {k: v for k, v in entry["OPTIONS"].items() if k != "server_side_binding"}
    params: dict[str, Any] = {
        "dbname": entry["NAME"],
        "user": entry["USER"],
        "password": entry["PASSWORD"],
        "host": entry["HOST"],
        "port": entry["PORT"],
        **options,
    }
    with psycopg.connect(**{k: v for k, v in params.items() if v}, autocommit=True) as connection:
        connection.execute(sql)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    name: str
    base: str  # http://127.0.0.1:<port>
    process: subprocess.Popen[bytes]
    log: Path

    def logs(self) -> str:
        return f"--- server {self.name} ({self.base}) ---\n{self.log.read_text(errors='replace')}"


@dataclass
class Servers:
    a: Server
    b: Server
    token: str  # the console's, as `manage.py workshop` printed it

    def logs(self) -> str:
        return f"{self.a.logs()}\n{self.b.logs()}"


def browser() -> urllib.request.OpenerDirector:
    """A browser keeping its cookies. Cookies ignore the port, so one jar is the same browser on
    both servers, as it is behind a load balancer."""
    return urllib.request.build_opener(
        urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
    )


def fetch(
    opener: urllib.request.OpenerDirector, url: str, form: dict[str, str] | None = None
) -> tuple[int, str, str]:
    """Status, final URL (after redirects) and body of a GET, or of a POST of `form`."""
    body = urllib.parse.urlencode(form).encode() if form is not None else None
    try:
        with opener.open(urllib.request.Request(url, body), timeout=60) as response:
            return int(response.status), str(response.url), response.read().decode()
    except urllib.error.HTTPError as exc:
        return int(exc.code), str(exc.url), exc.read().decode()


def csrf_token(page: str) -> str:
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
    assert token, page[:500]
    return token.group(1)


def wait_until_ready(server: Server) -> None:
    deadline = time.monotonic() + READY_SECONDS
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise AssertionError(f"server {server.name} exited early\n{server.logs()}")
        try:
            fetch(browser(), f"{server.base}/join/")
            return
        except OSError:  # refused, or reset while gunicorn boots its workers
            time.sleep(0.2)
    raise AssertionError(
        f"server {server.name} did not answer in {READY_SECONDS} s\n{server.logs()}"
    )


def stop(server: Server) -> None:
    if server.process.poll() is None:
        os.killpg(server.process.pid, signal.SIGTERM)
        try:
            server.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.process.pid, signal.SIGKILL)
            server.process.wait(timeout=30)


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Servers]:
    """Two workshop servers on one PostgreSQL database, and the room opened once."""
    database = f"course_servers_{os.getpid()}"  # never course*, test_*: other runs use those
    shared = {
        "DATABASE_URL": url_for(database),
        "COURSE_SECRET_KEY": secrets.token_urlsafe(50),  # the same on every server
    }
    base_env = {
        key: value
        for key, value in os.environ.items()
        # The servers' own settings, with their datasets on SQLite in their own var/.
        if key not in ("DJANGO_SETTINGS_MODULE", "COURSE_ENGINE")
        and not key.startswith("COURSE_PG_")
    }
    root = tmp_path_factory.mktemp("servers")
    ports = {"A": free_port(), "B": free_port()}
    envs = {
        name: {**base_env, **shared, "COURSE_VAR_DIR": str(root / f"var-{name.lower()}")}
        for name in ports
    }

    def manage(name: str, *args: str) -> str:
        done = subprocess.run(
            [PYTHON, "manage.py", *args],
            cwd=ROOT,
            env=envs[name],
            capture_output=True,
            text=True,
        )
        assert done.returncode == 0, f"manage.py {' '.join(args)} on {name}:\n{done.stderr}"
        return done.stdout

    admin(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
    admin(f'CREATE DATABASE "{database}"')
    servers: list[Server] = []
    try:
        manage("A", "migrate", "--verbosity", "0")  # once: the servers share the database
        for name in ports:
            manage(name, "seed", "--dataset", "tiny")  # each server's own datasets
        lines = listed_commands(f"PORT={ports['A']}")
        opening = next(line for line in lines if "manage.py workshop" in line)
        step_env, argv = split_env(opening)
        printed = subprocess.run(
            [str(ROOT / argv[0]), *argv[1:]],
            cwd=ROOT,
            env={**envs["A"], **step_env},
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        token = re.search(r"Your console:\s+http://[^/]+/console/([^/\s]+)/", printed)
        assert token, printed
        for name, port in ports.items():
            serve_env, argv = split_env(listed_commands(f"PORT={port}")[-1])
            assert "gunicorn" in argv[0], argv
            argv = [word.replace(f"0.0.0.0:{port}", f"127.0.0.1:{port}") for word in argv]
            log = root / f"server-{name.lower()}.log"
            with log.open("wb") as out:
                process = subprocess.Popen(
                    [str(ROOT / argv[0]), *argv[1:]],
                    cwd=ROOT,
                    env={**envs[name], **serve_env},
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            servers.append(Server(name, f"http://127.0.0.1:{port}", process, log))
        for server in servers:
            wait_until_ready(server)
        yield Servers(servers[0], servers[1], token.group(1))
    finally:
        for server in servers:
            stop(server)
        admin(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


@pytest.fixture(autouse=True)
def logs_on_failure(
    request: pytest.FixtureRequest, servers: Servers, capsys: pytest.CaptureFixture[str]
) -> Iterator[None]:
    """The servers' logs, printed when a test here fails."""
    failed = request.session.testsfailed
    yield
    if request.session.testsfailed > failed:
        with capsys.disabled():
            print(f"\n{servers.logs()}")


@dataclass(frozen=True)
class Lesson:
    slug: str
    title: str
    snippet: str  # a side of a bad/fixed pair (the console counts the pairs run)


@pytest.fixture(scope="module")
def lesson() -> Lesson:
    """A lesson with a quiz and a pair that runs here, and no chart (which would measure every
    dataset; each server here has only tiny)."""
    from lessons.catalog import get_catalog

    chosen, pair = next(
        (lesson, pair)
        for lesson in get_catalog().lessons
        if lesson.quiz and not lesson.chart
        for pair in lesson.comparisons
        if pair.runs_here
    )
    return Lesson(chosen.slug, chosen.title, pair.snippets[0].id)


def join(server: Server, name: str) -> urllib.request.OpenerDirector:
    """A learner's browser that joined the room through `server`."""
    learner = browser()
    _, _, page = fetch(learner, f"{server.base}/join/")
    status, url, _ = fetch(
        learner, f"{server.base}/join/", {"csrfmiddlewaretoken": csrf_token(page), "name": name}
    )
    assert (status, urllib.parse.urlsplit(url).path) == (200, "/"), url
    return learner


def console_part(servers: Servers, part: str, **query: str) -> str:
    """A live part of the console (learners, clicker), asked of server B."""
    url = f"{servers.b.base}/console/{servers.token}/{part}/"
    if query:
        url += "?" + urllib.parse.urlencode(query)
    status, _, body = fetch(browser(), url)
    assert status == 200, body[:500]
    return body


def learner_row(servers: Servers, name: str) -> str:
    """The learner's row in the console's learners part, as server B draws it ('' if none)."""
    body = console_part(servers, "learners")
    row = re.search(rf'<tr data-learner="{re.escape(html.escape(name))}".*?</tr>', body, re.S)
    return row.group(0) if row else ""


def test_a_learner_who_joins_on_one_server_is_on_the_console_of_the_other(servers: Servers) -> None:
    join(servers.a, "Ada on A")

    assert "Ada on A" in learner_row(servers, "Ada on A")


def test_a_lesson_opened_on_one_server_shows_on_the_console_of_the_other(
    servers: Servers, lesson: Lesson
) -> None:
    learner = join(servers.a, "Bea on A")

    status, _, _ = fetch(learner, f"{servers.a.base}/lessons/{lesson.slug}/")

    assert status == 200
    now_on = re.search(r'<td class="now-on">(.*?)</td>', learner_row(servers, "Bea on A"), re.S)
    assert now_on and now_on.group(1).strip() == html.escape(lesson.title)


def test_an_answer_given_on_one_server_shows_in_the_clicker_of_the_other(
    servers: Servers, lesson: Lesson
) -> None:
    learner = join(servers.a, "Cy on A")
    _, _, page = fetch(learner, f"{servers.a.base}/lessons/{lesson.slug}/")
    question = re.search(r'name="question" value="([^"]+)"', page)
    assert question, page[:500]
    form = page[question.start() :]
    chosen = re.search(r'name="choice" value="0"[^>]*>\s*<span>(.*?)</span>', form, re.S)
    assert chosen, form[:1000]

    fetch(
        learner,
        f"{servers.a.base}/lessons/{lesson.slug}/quiz/",
        {"csrfmiddlewaretoken": csrf_token(page), "question": question.group(1), "choice": "0"},
    )

    clicker = console_part(servers, "clicker", lesson=lesson.slug)
    article = re.search(
        rf'data-question="{re.escape(question.group(1))}" data-answered="(\d+)".*?</article>',
        clicker,
        re.S,
    )
    assert article and article.group(1) == "1", clicker[:2000]
    bar = re.search(
        rf'data-count="(\d+)">\s*<span class="bar-text">{re.escape(chosen.group(1))}',
        article.group(0),
    )
    assert bar and bar.group(1) == "1", article.group(0)


def test_a_snippet_run_on_one_server_shows_on_the_console_of_the_other(
    servers: Servers, lesson: Lesson
) -> None:
    learner = join(servers.a, "Dee on A")
    _, _, page = fetch(learner, f"{servers.a.base}/lessons/{lesson.slug}/")

    status, _, ran = fetch(
        learner,
        f"{servers.a.base}/lessons/{lesson.slug}/run/",
        {"csrfmiddlewaretoken": csrf_token(page), "snippet": lesson.snippet, "dataset": "tiny"},
    )

    assert status == 200 and "data-query-count=" in ran, ran[:1000]  # it ran, on A's tiny
    cell = re.search(
        rf'data-lesson="{re.escape(lesson.slug)}" title="([^"]*)"', learner_row(servers, "Dee on A")
    )
    assert cell and ", ran 1/" in html.unescape(cell.group(1)), cell


def test_a_learners_next_request_to_the_other_server_knows_them(
    servers: Servers, lesson: Lesson
) -> None:
    learner = join(servers.a, "Eve on A")

    status, url, page = fetch(learner, f"{servers.b.base}/lessons/{lesson.slug}/")

    assert (status, urllib.parse.urlsplit(url).path) == (200, f"/lessons/{lesson.slug}/")
    assert "Eve on A" in page
