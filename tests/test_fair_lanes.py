"""Fair lanes: no learner, however many identities they make, keeps the others from running or
from checking an exercise; new learner identities from one address are rate-limited; a run folder
the server cannot write is a clear 503, not a 500.

Limits are low so the file stays fast. The per-address limits leave loopback out by default (the
test client's 127.0.0.1 is how every other test file runs), so these tests speak from addresses
of the documentation range 192.0.2.0/24."""

from __future__ import annotations

import contextlib
import hashlib
import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.db import connections
from django.test import Client
from django.urls import reverse

from lessons import engine
from lessons.catalog import get_catalog
from lessons.engine import RunResult, Task, service
from lessons.measure.exercises import CheckBusy, check

EXERCISE = next(exercise for lesson in get_catalog().lessons for exercise in lesson.exercises)
LESSON = get_catalog().lessons[0]
LOOPING = "while True:\n    pass"
RUN_CODE = reverse("lessons:api-run-code")
OPENED = reverse("lessons:opened", args=[LESSON.slug])
ADDRESS, NEIGHBOUR = "192.0.2.7", "192.0.2.8"


@pytest.fixture
def pool(settings: Any) -> Any:
    """Two CPUs' worth of workers: the large dataset's lane has one place."""
    settings.COURSE_RUN_WORKERS, settings.COURSE_RUN_QUEUE = 2, 4
    settings.COURSE_RUN_HEAVY_WORKERS, settings.COURSE_RUN_HEAVY_QUEUE = 1, 2
    settings.COURSE_RUN_CHECK_WORKERS, settings.COURSE_RUN_CHECK_QUEUE = 2, 4
    settings.COURSE_RUN_QUEUE_WAIT = 2
    settings.COURSE_RUN_CPU_SECONDS, settings.COURSE_RUN_WALL_SECONDS = 1, 3
    return settings


@contextlib.contextmanager
def holding(path: Path) -> Iterator[None]:
    """Take a lock file the way another server process would."""
    with service._try_lock(path) as held:
        assert held
        yield


def in_flight(learner: str) -> bool:
    """Whether `learner` has a run going: someone holds its lock file. Read from the kernel's
    list of locks, since trying the lock would take it for a moment and turn the run away."""
    name = hashlib.sha256(learner.encode()).hexdigest()[:24]  # as the service names it
    path = Path(settings.COURSE_RUN_DIR) / "learners" / name
    return path.exists() and _held(path)


def _held(path: Path) -> bool:
    inode = os.stat(path).st_ino
    locks = Path("/proc/locks").read_text().splitlines()
    return any(
        line.split()[1] == "FLOCK" and line.split()[5].endswith(f":{inode}") for line in locks
    )


def wait_until(condition: Callable[[], bool], what: str) -> None:
    # Generous: a first run may start the warm process, and the suite runs on several workers.
    deadline = time.monotonic() + 30
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.005)


@contextlib.contextmanager
def looping(dataset: str, learner: str) -> Iterator[None]:
    """A learner running an endless loop on `dataset` again and again, at once after each stop."""
    stop = threading.Event()

    def loop() -> None:
        try:
            while not stop.is_set():
                with contextlib.suppress(engine.Busy):
                    engine.run([Task(LOOPING, dataset)], learner=learner)
        finally:
            connections.close_all()

    thread = threading.Thread(target=loop)
    thread.start()
    try:
        wait_until(lambda: in_flight(learner), "the loop never started")
        yield
    finally:
        stop.set()
        thread.join()


def test_a_check_goes_ahead_while_every_other_worker_is_taken(data: None, pool: Any) -> None:
    root = Path(pool.COURSE_RUN_DIR)
    with (
        holding(root / "heavy/0.lock"),
        holding(root / "slots/0.lock"),
        holding(root / "slots/1.lock"),
    ):
        verdict = check(EXERCISE, EXERCISE.solution, learner="fair-checker")

    assert verdict.passed


def test_a_check_gets_a_place_while_a_learner_loops_on_large(data: None, pool: Any) -> None:
    with looping("large", "fair-looper"):
        started = time.monotonic()
        verdict = check(EXERCISE, EXERCISE.solution, learner="fair-checker")
        took = time.monotonic() - started

    assert verdict.passed
    assert took < 3


def test_a_full_check_lane_says_to_check_again(data: None, pool: Any) -> None:
    pool.COURSE_RUN_CHECK_QUEUE = 0
    root = Path(pool.COURSE_RUN_DIR)
    with (
        holding(root / "check-slots/0.lock"),
        holding(root / "check-slots/1.lock"),
        pytest.raises(CheckBusy) as busy,
    ):
        check(EXERCISE, EXERCISE.solution, learner="fair-checker")

    assert str(busy.value) == (
        "Every worker for exercise checks is taken by other learners' checks. Check again in a "
        "moment: your code is still in the editor."
    )
    assert busy.value.status == 503 and busy.value.retry_after == engine.RETRY_AFTER


def test_a_learner_asking_again_queues_behind_one_who_waits(data: None, pool: Any) -> None:
    pool.COURSE_RUN_WORKERS = 1
    root = Path(pool.COURSE_RUN_DIR)
    stamp = "import time\nprint(time.time())"
    waiter: list[RunResult] = []
    thread = threading.Thread(
        target=lambda: waiter.extend(engine.run([Task(stamp, "tiny")], learner="fair-waiter"))
    )
    with holding(root / "slots/0.lock"):  # the looper's run, still going
        thread.start()
        wait_until(lambda: in_flight("fair-waiter"), "the waiter never asked")
        time.sleep(0.1)  # in the queue by now
    # The looper's run ended, and the looper asks again at once.
    [again] = engine.run([Task(stamp, "tiny")], learner="fair-looper")
    thread.join()

    assert float(waiter[0].output) < float(again.output)


@pytest.fixture
def editing_clients(settings: Any, data: None, pool: Any) -> Any:
    settings.COURSE_EDITING = "on"  # these learners are not on the server's machine
    settings.COURSE_RUN_PER_ADDRESS = 1
    return settings


def learner_client(address: str) -> Client:
    """A browser at `address` that became a learner (one POST, as a lesson page sends)."""
    client = Client(REMOTE_ADDR=address)
    assert client.post(OPENED).status_code == 204
    return client


def test_two_identities_from_one_address_cannot_hold_the_whole_pool(
    editing_clients: Any,
) -> None:
    first, second, neighbour = (learner_client(a) for a in (ADDRESS, ADDRESS, NEIGHBOUR))
    answers: list[Any] = []

    def loop() -> None:
        try:
            answers.append(first.post(RUN_CODE, {"code": LOOPING, "dataset": "tiny"}))
        finally:
            connections.close_all()

    thread = threading.Thread(target=loop)
    thread.start()
    try:
        first_learner = f"learner:{first.session['learner']}"
        wait_until(lambda: in_flight(first_learner), "the first learner's run never started")
        refused = second.post(RUN_CODE, {"code": LOOPING, "dataset": "tiny"})
        served = neighbour.post(RUN_CODE, {"code": "print(Post.objects.count())"})
    finally:
        thread.join()

    assert refused.status_code == 503
    assert refused["Retry-After"] == str(engine.RETRY_AFTER)
    assert refused.json()["error"] == {
        "type": "AddressBusy",
        "message": f"Another run from your address ({ADDRESS}) is still going, and the course "
        "takes one at a time from each address. Wait for it to finish, then try again.",
    }
    assert served.status_code == 200 and served.json()["error"] is None
    assert answers[0].status_code == 200  # the first learner's loop ran, and was stopped


def test_runs_from_loopback_are_not_counted_per_address(data: None, pool: Any) -> None:
    # Were loopback counted, this would be its one run in flight.
    with service._address_lock(Path(pool.COURSE_RUN_DIR), "127.0.0.1", 1):
        response = Client().post(RUN_CODE, {"code": "print(1)"})

    assert response.status_code == 200


@pytest.fixture
def identities(settings: Any, tmp_path: Path) -> Any:
    settings.COURSE_RUN_DIR = tmp_path / "run"  # counts of its own: no run happens here
    settings.COURSE_NEW_LEARNERS_PER_MINUTE = 3
    return settings


def test_new_learners_from_one_address_are_rate_limited(db: None, identities: Any) -> None:
    made = [Client(REMOTE_ADDR=ADDRESS).post(OPENED).status_code for _ in range(3)]
    refused = Client(REMOTE_ADDR=ADDRESS).post(OPENED, HTTP_ACCEPT="application/json")

    assert made == [204, 204, 204]
    assert refused.status_code == 429
    retry_after = int(refused["Retry-After"])
    assert 1 <= retry_after <= 60
    assert refused.json()["error"] == {
        "type": "TooManyLearners",
        "message": f"3 new learners came from your address ({ADDRESS}) in the last minute, the "
        f"most the course takes. Try again in {retry_after} seconds. A browser that keeps the "
        "course's cookie stays the same learner and needs no new one.",
    }


def test_a_page_over_the_learner_limit_says_why(db: None, identities: Any) -> None:
    identities.COURSE_NEW_LEARNERS_PER_MINUTE = 1
    Client(REMOTE_ADDR=ADDRESS).post(OPENED)

    refused = Client(REMOTE_ADDR=ADDRESS).post(OPENED)

    assert refused.status_code == 429
    assert "new learners came from your address" in refused.content.decode()
    assert refused["Content-Type"].startswith("text/html")


def test_the_learner_limit_counts_per_address(db: None, identities: Any) -> None:
    for _ in range(3):
        Client(REMOTE_ADDR=ADDRESS).post(OPENED)

    assert Client(REMOTE_ADDR=NEIGHBOUR).post(OPENED).status_code == 204


def test_a_learner_who_keeps_the_cookie_is_never_limited(db: None, identities: Any) -> None:
    client = Client(REMOTE_ADDR=ADDRESS)

    assert [client.post(OPENED).status_code for _ in range(5)] == [204] * 5


def test_loopback_makes_learners_unlimited_unless_asked(db: None, identities: Any) -> None:
    assert [Client().post(OPENED).status_code for _ in range(5)] == [204] * 5

    identities.COURSE_LIMIT_LOOPBACK = True
    assert [Client().post(OPENED).status_code for _ in range(4)] == [204] * 3 + [429]


@pytest.fixture
def unwritable_run_folder(settings: Any, tmp_path: Path) -> Path:
    """var/ where nothing can be made under it, whoever the server runs as (root included): a
    file stands where its run folder's parent should be."""
    (tmp_path / "var").write_text("")
    settings.COURSE_RUN_DIR = tmp_path / "var" / "run"
    return settings.COURSE_RUN_DIR


def unwritable_message(root: Path) -> str:
    return (
        f"The course cannot write its files under {root} (Not a directory), so nothing was "
        f"done. Make {root} writable for the user the server runs as (and check the disk has "
        "room), then try again."
    )


def test_an_unwritable_run_folder_answers_503_for_the_api(
    client: Client, data: None, unwritable_run_folder: Path
) -> None:
    response = client.post(RUN_CODE, {"code": "print(1)"})

    assert response.status_code == 503
    assert response.json()["error"] == {
        "type": "RunFolderUnwritable",
        "message": unwritable_message(unwritable_run_folder),
    }


def test_an_unwritable_run_folder_answers_503_on_the_page(
    client: Client, data: None, unwritable_run_folder: Path
) -> None:
    response = client.post(
        reverse("lessons:run", args=["n-plus-one"]),
        {"snippet": "count-comments.bad", "dataset": "tiny"},
    )

    assert response.status_code == 503
    assert unwritable_message(unwritable_run_folder) in response.content.decode()
