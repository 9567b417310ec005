"""Test set-up: the test databases are built once per session, and the three datasets are seeded
into them by the same code `manage.py seed` uses, so every count the tests check is measured on the
same deterministic data a learner sees."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.db import connections
from django.test.utils import CaptureQueriesContext, setup_databases, teardown_databases

from lessons import datasets
from lessons.datasets import seeding
from lessons.datasets.guards import writable

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = Path(__file__).resolve().parent / "screenshots"


def expected(item: Any, dataset: str) -> int:
    """The count a snippet or predict question promises on `dataset`, on its engine."""
    return datasets.stats(alias(dataset)).expected_count(item)


def alias(dataset: str) -> str:
    """The database alias of a size on the primary engine, or of the hidden check dataset."""
    return dataset if dataset == datasets.CHECK.name else datasets.DatasetRef(dataset).alias


@pytest.fixture(scope="session")
def django_db_setup(
    django_test_environment: None, django_db_blocker: object, django_db_keepdb: bool
) -> Iterator[None]:
    settings.VAR_DIR.mkdir(parents=True, exist_ok=True)  # the test databases live there
    if not django_db_keepdb:
        _remove_left_sqlite_files()
    with django_db_blocker.unblock(), writable():  # type: ignore[attr-defined]
        config = setup_databases(
            verbosity=0, interactive=False, keepdb=django_db_keepdb, serialized_aliases=set()
        )
        for name in datasets.ALL_SPECS:
            seeding.seed(name)
    yield
    if not django_db_keepdb:
        with django_db_blocker.unblock(), writable():  # type: ignore[attr-defined]
            _end_run_role_sessions()
            teardown_databases(config, verbosity=0)


def _end_run_role_sessions() -> None:
    """A killed run's backends notice their client is gone within a second or so; a test database
    cannot be dropped while one is still there, so end them (the run role may end its own)."""
    for alias in settings.COURSE_DATASET_ALIASES:
        connection = connections[alias]
        if connection.vendor != "postgresql":
            continue
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = "
                "current_database() AND usename = current_user AND pid <> pg_backend_pid()"
            )
        connection.close()


def _remove_left_sqlite_files() -> None:
    """An interrupted run leaves its test databases' -wal and -shm files beside them. Django
    replaces the database file but not those, and SQLite then calls the new one a disk I/O error."""
    for database in settings.DATABASES.values():
        if database["ENGINE"].endswith("sqlite3"):
            name = Path(database["TEST"]["NAME"])
            for left in (name, *(name.with_name(f"{name.name}-{end}") for end in ("wal", "shm"))):
                left.unlink(missing_ok=True)


@pytest.fixture
def data(django_db_setup: None, django_db_blocker: object) -> Iterator[None]:
    """Real access to the seeded datasets, outside any test transaction, so that the runner's own
    transaction is the outermost one and its rollback is the real thing."""
    with django_db_blocker.unblock():  # type: ignore[attr-defined]
        yield


@pytest.fixture(params=list(datasets.SPECS))
def dataset(request: pytest.FixtureRequest, data: None) -> str:
    return str(request.param)


@pytest.fixture(params=[*datasets.SPECS, datasets.CHECK.name])
def every_dataset(request: pytest.FixtureRequest, data: None) -> str:
    """The three a page offers and the exercises' hidden one: where a lesson's claims are tested."""
    return str(request.param)


@contextmanager
def queries_on_every_database() -> Iterator[dict[str, CaptureQueriesContext]]:
    """Capture queries on every connection, to lock a page's total query count."""
    with ExitStack() as stack:
        yield {
            alias: stack.enter_context(CaptureQueriesContext(connections[alias]))
            for alias in connections
        }


def total(captured: dict[str, CaptureQueriesContext]) -> int:
    return sum(len(context.captured_queries) for context in captured.values())


@pytest.fixture
def browser() -> Iterator[object]:
    """A headless chromium. Function-scoped on purpose: while Playwright's loop runs in this
    thread, Django refuses sync ORM calls here, so tests read the database before asking for it."""
    if not shutil.which(CHROMIUM):
        message = f"Debian's chromium is not installed at {CHROMIUM} (apt-get install chromium)"
        if os.environ.get("CI"):
            pytest.fail(f"{message}; CI must run the browser tests.")
        pytest.skip(message)
    from playwright.sync_api import expect, sync_playwright

    # An assertion returns as soon as it holds; the wait allows for a run on a machine busy with
    # the suite's other workers.
    expect.set_options(timeout=20_000)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        yield browser
        browser.close()


@pytest.fixture
def screenshot_dir() -> Path:
    SCREENSHOTS.mkdir(exist_ok=True)
    return SCREENSHOTS


@pytest.fixture(scope="session")
def course_server(django_db_setup: None) -> Iterator[str]:
    """The course served over real HTTP on a free port, for the browser tests.

    The server thread reaches the databases only while a test holds the `data` fixture."""
    from django.contrib.staticfiles.handlers import StaticFilesHandler
    from django.test.testcases import LiveServerThread

    thread = LiveServerThread("127.0.0.1", static_handler=StaticFilesHandler)
    thread.daemon = True
    thread.start()
    thread.is_ready.wait()
    if thread.error:
        raise thread.error
    yield f"http://127.0.0.1:{thread.port}"
    thread.terminate()


def leg_mismatch(leg: str, django_version: str, engine: str) -> str | None:
    """What is wrong when a leg ("6.1 postgresql") runs on another Django or engine, if anything."""
    wanted_django, wanted_engine = leg.split()
    if not (django_version == wanted_django or django_version.startswith(f"{wanted_django}.")):
        return f"this leg is for Django {wanted_django}, but Django {django_version} is installed"
    if engine != wanted_engine:
        return f"this leg is for the datasets on {wanted_engine}, but they are on {engine}"
    return None


# Files whose tests take seconds each, and why; with the browser tests, `make test-fast` leaves
# them out (`make test` runs everything).
SLOW_FILES = {
    "test_walls.py": "each wall in a run of its own, then all of them again as an ordinary user",
    "test_hostile.py": "programs that loop, sleep or flood until a limit stops them",
    "test_workshop.py": "real `make workshop` servers",
    "test_servers.py": "two gunicorn servers on one PostgreSQL",
    "test_lessons_verified.py": "every snippet run on every dataset",
}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.get_closest_marker("browser") or item.path.name in SLOW_FILES:
            item.add_marker(pytest.mark.slow)


def _running() -> tuple[str, str]:
    import django

    return django.get_version(), settings.COURSE_ENGINE


def pytest_configure(config: pytest.Config) -> None:
    """A leg of the matrix (COURSE_TEST_LEG, set by `make leg`) refuses to start on the wrong
    Django or engine: a PostgreSQL leg whose cluster did not come up must not pass on SQLite."""
    leg = os.environ.get("COURSE_TEST_LEG")
    if leg and (problem := leg_mismatch(leg, *_running())):
        raise pytest.UsageError(f"COURSE_TEST_LEG={leg!r}: {problem}.")


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Print what the leg ran on, and the quiz figures the content checks enforce: how often
    "pick the longest" and the other surface cues win."""
    from lessons.catalog import cue_scores, get_catalog, longest_answer_share

    version, engine = _running()
    terminalreporter.write_line(f"Ran on Django {version}, the datasets on {engine}.")

    lessons = get_catalog().lessons
    longest, total = longest_answer_share(lessons)
    terminalreporter.write_line(
        f"Quizzes: the right answer is the uniquely longest choice in {longest} of {total} "
        f"questions ({longest / total:.0%}; the course allows at most 25%)."
    )
    for score in cue_scores(question for lesson in lessons for question in lesson.quiz):
        terminalreporter.write_line(f"Quiz cue {score.describe()}.")


@pytest.fixture(autouse=True)
def own_run_pool(settings: Any, tmp_path_factory: pytest.TempPathFactory) -> None:
    """The tests' runs take slots of their own, never those of a course server on this machine.
    A finished run serves no later press (tests/test_sharing.py sets a window where it tests one):
    every test sees runs made for it, whatever an earlier test ran."""
    settings.COURSE_RUN_DIR = tmp_path_factory.getbasetemp() / "run"
    settings.COURSE_RUN_SHARE_SECONDS = 0
    settings.COURSE_DATASET_STATS_SECONDS = 0  # a test that seeds again sees its new data at once
    settings.COURSE_ROOM_FRESH_SECONDS = 0  # nor the open room (tests/test_room_fresh.py does)


def replace_code(page: Any, editor: Any, code: str) -> None:
    """Replace everything in a CodeMirror editor, as a paste does (no auto-indent on the way in)."""
    editor.click()
    page.keyboard.press("Control+A")
    page.keyboard.insert_text(code)


def progress_of(client: Any) -> Any:
    """The progress of the learner a test client's session names (empty before they exist)."""
    from lessons.learner.models import Learner
    from lessons.learner.progress import Progress

    return Progress(Learner.objects.filter(pk=client.session.get("learner")).first())


@pytest.fixture
def room(settings: Any, data: None) -> Iterator[Any]:
    """The course served for a room (COURSE_ROOM), with a fresh room open; deleted afterwards,
    with its learners and their progress."""
    from django.utils import timezone

    from lessons.learner.models import Room
    from lessons.learner.rooms import open_room

    settings.COURSE_ROOM = True
    Room.objects.filter(ended_at=None).update(ended_at=timezone.now())  # a test's leftovers
    opened, _ = open_room(editing=False)
    yield opened
    Room.objects.filter(pk=opened.pk).delete()


def join_room(name: str) -> Any:
    """A new browser (test client) that joined the open room as `name`."""
    from django.test import Client

    client = Client()
    response = client.post("/join/", {"name": name})
    assert response.status_code == 302, response.content.decode()[:500]
    return client


def listed_commands(*make_args: str) -> list[str]:
    """The commands `make workshop` would run (set-up steps, then the server), as listed."""
    listed = subprocess.run(
        ["make", "--silent", "--dry-run", "--old-file=.venv/.installed", "workshop", *make_args],
        cwd=Path(__file__).resolve().parent.parent,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.splitlines()
    return [line.strip() for line in listed if line.strip()]


def split_env(line: str) -> tuple[dict[str, str], list[str]]:
    """A command line's leading VAR=value words, and the command itself."""
    words = shlex.split(line)
    first = next(i for i, word in enumerate(words) if not re.match(r"\w+=", word))
    return dict(word.split("=", 1) for word in words[:first]), words[first:]


# Three renames, inside `{block}` (an atomic() block, or none): code for the atomic probe.
RENAMES = """
from django.db import DatabaseError
tags = list(Tag.objects.order_by("pk")[:3])
try:
    {block}
        for tag in tags:
            tag.name = tag.name + " (renamed)"
            tag.save(update_fields=["name"])
except DatabaseError:
    print("failed")
"""


def browser_learner(browser: Any, server: str, name: str, lesson: str) -> Any:
    """A new browser context that joined the open room as `name`, on `lesson` (Laptop), its
    scripts loaded."""
    from playwright.sync_api import expect

    page = browser.new_context().new_page()
    page.goto(f"{server}/join/?next=/lessons/{lesson}/%3Fdataset%3Dtiny")
    page.get_by_label("Your name").fill(name)
    page.get_by_role("button", name="Join").click()
    expect(page).to_have_url(re.compile(rf"/lessons/{lesson}/"))
    page.wait_for_load_state()
    return page
