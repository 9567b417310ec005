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


# ------------------------------------------------ parts of a page drawn once for many learners


def question_forms(page: str) -> dict[str, str]:
    """Each quiz question's form on a page, by question id."""
    forms = re.findall(r'(<form class="question.*?</form>)', page, re.DOTALL)
    return {re.search(r'name="question" value="([^"]+)"', f)[1]: f for f in forms}  # type: ignore[index]


def choices_shown(form: str) -> list[str]:
    return re.findall(r'<input type="radio"[^>]*>\s*<span>(.*?)</span>', form, re.DOTALL)


def learner_with_seed(name: str, seed: int) -> Client:
    from lessons.learner.models import Learner

    client = join_room(name)
    Learner.objects.filter(name=name).update(seed=seed)
    return client


def two_seeds_with_other_orders(question: Any) -> tuple[int, int]:
    from lessons.learner.quiz import choice_order

    first = choice_order(1, question)
    return 1, next(s for s in range(2, 100) if choice_order(s, question) != first)


def test_each_learner_sees_the_choices_in_their_own_order(room: Any) -> None:
    from html import unescape

    from lessons.catalog import get_catalog
    from lessons.learner.quiz import choice_order

    lesson = get_catalog().by_slug["n-plus-one"]
    question = lesson.quiz[0]
    seeds = two_seeds_with_other_orders(question)
    pages = [
        learner_with_seed(n, s).get(f"/lessons/{lesson.slug}/").text
        for n, s in zip(("ann", "bob"), seeds, strict=True)
    ]

    for page, seed in zip(pages, seeds, strict=True):
        shown = [unescape(t) for t in choices_shown(question_forms(page)[question.id])]
        assert shown == [question.choices[i] for i in choice_order(seed, question)]


def test_an_answer_shows_on_its_learners_page_only(room: Any) -> None:
    from lessons.catalog import get_catalog

    lesson = get_catalog().by_slug["n-plus-one"]
    question = lesson.quiz[0]
    ann, bob = learner_with_seed("ann", 7), learner_with_seed("bob", 7)  # the same order
    url = f"/lessons/{lesson.slug}/"
    bob.get(url)  # bob's blank form is drawn first, and kept
    ann.post(
        reverse("lessons:quiz-answer", args=[lesson.slug]), {"question": question.id, "choice": "0"}
    )

    ann_form, bob_form = (question_forms(c.get(url).text)[question.id] for c in (ann, bob))

    assert "Check again" in ann_form and "checked" in ann_form
    assert "Check again" not in bob_form and "checked" not in bob_form


def test_an_exercise_solved_by_one_learner_is_shown_solved_to_that_learner_only(
    room: Any,
) -> None:
    from lessons.catalog import get_catalog
    from lessons.learner.models import Check, Learner

    lesson = next(lesson for lesson in get_catalog().lessons if lesson.exercises)
    url = f"/lessons/{lesson.slug}/"
    ann, bob = join_room("ann"), join_room("bob")
    bob.get(url)
    Check.objects.create(
        learner=Learner.objects.get(name="ann"), exercise=lesson.exercises[0].id, passed=True
    )

    assert "✓ solved" in ann.get(url).text
    assert "✓ solved" not in bob.get(url).text


def test_a_fragment_many_threads_miss_at_once_is_drawn_once() -> None:
    from django.template import engines

    drawn = []

    class Slow:
        """Counts how many times the fragment is drawn, slowly enough for the threads to meet."""

        def __str__(self) -> str:
            drawn.append(1)
            time.sleep(0.05)
            return "3"

    page = engines["django"].from_string(
        '{% load course %}{% shared_fragment "lessons/_quiz_score.html" key correct=slow %}'
    )
    key = f"drawn-once-{time.monotonic_ns()}"
    results: list[str] = []

    def draw() -> None:
        results.append(page.render({"key": key, "slow": Slow(), "total": 5, "answered": 5}))

    threads = [threading.Thread(target=draw) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(drawn) == 1
    assert len(results) == 8 and all("3 / 5" in result for result in results)
