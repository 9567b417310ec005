"""What a room costs the server besides runs: polls that find nothing new answer 204, a queued run
says where it waits, and a run accounts for where its time went."""

from __future__ import annotations

import contextlib
import re
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from lessons import engine
from lessons.engine import Task, service
from lessons.engine.service import PHASES
from tests.conftest import join_room

BANNER = reverse("lessons:room-banner")
VERSION = re.compile(r'id="room-banner".*?hx-vals=\'\{"v": "([^"]+)"', re.DOTALL)


def banner_version(page: str) -> str:
    found = VERSION.search(page)
    assert found, "no banner version on the page"
    return found[1]


def test_a_banner_poll_with_nothing_new_answers_204(room: Any) -> None:
    learner = join_room("ann")
    version = banner_version(learner.get("/").text)

    poll = learner.get(BANNER, {"here": "/", "v": version})

    assert poll.status_code == 204
    assert poll.content == b""


def test_a_banner_poll_after_the_instructor_moves_on_draws_the_banner(room: Any) -> None:
    learner = join_room("ann")
    version = banner_version(learner.get("/").text)
    room.following = "select-related"
    room.save()

    poll = learner.get(BANNER, {"here": "/", "v": version})

    assert poll.status_code == 200
    assert 'data-following="select-related"' in poll.text
    assert banner_version(poll.text) != version


def test_a_banner_poll_for_another_page_draws_the_banner(room: Any) -> None:
    learner = join_room("ann")
    version = banner_version(learner.get("/").text)

    poll = learner.get(BANNER, {"here": "/lessons/n-plus-one/", "v": version})

    assert poll.status_code == 200


def test_a_banner_poll_writes_no_session(room: Any) -> None:
    learner = join_room("ann")
    version = banner_version(learner.get("/").text)

    poll = learner.get(BANNER, {"here": "/", "v": version})

    assert "sessionid" not in poll.cookies


def test_a_run_not_waiting_has_no_queue_state(data: None) -> None:
    assert engine.queue_state("nobody-waits") is None
    assert Client().get(reverse("lessons:run-queue")).status_code == 204


@contextlib.contextmanager
def waiting_run(settings: Any, learner: str) -> Any:
    """A run of `learner` waiting in the queue behind a pool held elsewhere, until the block
    ends."""
    settings.COURSE_RUN_WORKERS, settings.COURSE_RUN_QUEUE = 1, 2
    settings.COURSE_RUN_QUEUE_WAIT = 10
    release = threading.Event()

    def hold() -> None:
        with service._try_lock(Path(settings.COURSE_RUN_DIR) / "slots" / "0.lock") as held:
            assert held
            release.wait(15)

    holder = threading.Thread(target=hold)
    holder.start()
    time.sleep(0.05)
    runner = threading.Thread(target=lambda: engine.run([Task("pass", "tiny")], learner=learner))
    runner.start()
    try:
        for _ in range(100):  # in the queue within a second
            if engine.queue_state(learner) is not None:
                break
            time.sleep(0.01)
        yield
    finally:
        release.set()
        holder.join()
        runner.join()


def test_a_queued_run_says_it_is_next_for_the_one_worker(data: None, settings: Any) -> None:
    with waiting_run(settings, "queued-learner"):
        state = engine.queue_state("queued-learner")

    assert state is not None
    assert (state.ahead, state.workers) == (0, 1)
    assert state.seconds > 0


def test_a_run_that_left_the_queue_has_no_queue_state(data: None, settings: Any) -> None:
    with waiting_run(settings, "queued-learner"):
        pass

    assert engine.queue_state("queued-learner") is None


def test_the_page_is_told_in_words_where_its_run_waits(data: None, settings: Any) -> None:
    client = Client()
    client.get("/")  # a visitor's runs wait under their address: learner_id
    with waiting_run(settings, "address:127.0.0.1"):
        answer = client.get(reverse("lessons:run-queue"))

    assert answer.status_code == 200
    assert answer.text.startswith("Queued for a free worker (1 worker, yours is next)")


def test_a_run_accounts_for_every_step_of_its_time(data: None) -> None:
    started = time.monotonic()
    [result] = engine.run([Task("print(Post.objects.count())", "medium")], learner="phases")
    took = time.monotonic() - started

    assert list(result.phases) == list(PHASES)
    assert all(seconds >= 0 for seconds in result.phases.values())
    assert sum(result.phases.values()) <= took


def test_the_code_is_the_runs_own_part_of_the_split(data: None) -> None:
    [result] = engine.run([Task("import time\ntime.sleep(0.3)", "tiny")], learner="phases")

    assert result.phases["the code"] >= 0.3
    assert result.phases["the code"] == pytest.approx(result.duration, abs=0.001)


def test_stamps_out_of_order_are_not_believed() -> None:
    clock = {"slot": 1.0, "forking": 2.0, "reported": 3.0, "ended": 3.5, "decoded": 3.6}
    forged = {"started": 9.0, "namespaces": 2.1, "forked": 2.2, "connected": 2.3}

    split = service._phases(clock, forged, 0.1)

    assert split["the run"] == 1.0
    assert "the code" not in split
