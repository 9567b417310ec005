"""Identical runs of the course's own code share one execution (lessons.engine.sharing): counted
by the warm process, which forks every run that really happens."""

from __future__ import annotations

import functools
import os
import re
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.db import connections
from django.test import Client
from django.urls import reverse

from lessons import datasets, engine
from lessons.catalog import get_catalog
from lessons.engine import Task, sharing, warm_process
from lessons.measure.runs import run_learner_code, run_lesson_snippet
from lessons.measure.scale import measure
from lessons.web import viewmodels
from tests.conftest import join_room

LESSON, SNIPPET = "n-plus-one", "count-comments.bad"
# Long enough for every press of a test to arrive while it runs.
SLOW = "import time\ntime.sleep(0.6)\nprint(Post.objects.count())"


def forks_during(work: Callable[[], object]) -> int:
    """How many runs the warm process forked while `work` ran."""
    engine.run([Task("pass", "tiny")], learner="sharing-warm-up")  # started, and counted from here
    before = warm_process.forked()
    work()
    return warm_process.forked() - before


def together(presses: list[Callable[[], Any]]) -> list[Any]:
    """Call every press at once, each from a thread of its own; their answers (or exceptions)."""
    answers: list[Any] = [None] * len(presses)
    start = threading.Barrier(len(presses))

    def press(index: int) -> None:
        start.wait()
        try:
            answers[index] = presses[index]()
        except Exception as exc:
            answers[index] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=press, args=(i,)) for i in range(len(presses))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return answers


def course_run(code: str, learner: str, dataset: str = "tiny", content: str = "seeded") -> Any:
    [result] = engine.run([Task(code, dataset)], learner=learner, course_code=True, share=content)
    return result


@pytest.fixture
def window(settings: Any, tmp_path: Path) -> Any:
    """A finished run serves later presses for half a minute, longer than any test here; in a
    run folder of the test's own, so that no other test's runs are served to it."""
    settings.COURSE_RUN_SHARE_SECONDS = 30
    settings.COURSE_RUN_DIR = tmp_path / "run"
    return settings


def test_identical_presses_share_one_execution(data: None) -> None:
    presses = [lambda i=i: course_run(SLOW, f"learner-{i}") for i in range(6)]
    answers: list[Any] = []

    forks = forks_during(lambda: answers.extend(together(presses)))

    assert forks == 1
    assert [a.error for a in answers] == [None] * 6
    assert len({a.output for a in answers}) == 1


def test_one_press_leads_and_every_press_is_told_how_many_shared(data: None) -> None:
    answers = together([lambda i=i: course_run(SLOW, f"learner-{i}") for i in range(4)])

    assert sum(a.shared.led for a in answers) == 1
    assert max(a.shared.learners for a in answers) == 4
    assert len({a.shared.ran_at for a in answers}) == 1


def test_a_finished_run_serves_a_later_press_from_another_learner(data: None, window: Any) -> None:
    first = course_run("print(Post.objects.count())", "learner-a")

    def later() -> None:
        second = course_run("print(Post.objects.count())", "learner-b")
        assert second.shared == engine.contract.Sharing(
            2, first.shared.ran_at, False, first.shared.run
        )

    assert forks_during(later) == 0


def test_a_learner_pressing_again_gets_a_new_run(data: None, window: Any) -> None:
    course_run("print(Post.objects.count())", "learner-a")

    assert forks_during(lambda: course_run("print(Post.objects.count())", "learner-a")) == 1


def test_without_a_window_a_finished_run_serves_nobody_later(data: None, settings: Any) -> None:
    settings.COURSE_RUN_SHARE_SECONDS = 0
    course_run("print(Post.objects.count())", "learner-a")

    assert forks_during(lambda: course_run("print(Post.objects.count())", "learner-b")) == 1


def test_learners_code_never_shares(data: None) -> None:
    dataset = datasets.DatasetRef("tiny")
    presses = [lambda i=i: run_learner_code(SLOW, dataset, learner=f"learner-{i}") for i in (1, 2)]
    answers: list[Any] = []

    forks = forks_during(lambda: answers.extend(together(presses)))

    assert forks == 2
    assert [a.result.shared for a in answers] == [None, None]


def test_the_service_refuses_to_share_learners_code(data: None) -> None:
    with pytest.raises(ValueError, match="course's own code"):
        engine.run([Task("pass", "tiny")], learner="x", share="seeded")


def test_a_shared_run_is_never_served_on_another_dataset(data: None, window: Any) -> None:
    lesson = get_catalog().by_slug[LESSON]
    snippet = lesson.snippets[SNIPPET]
    runs: list[Any] = []

    def both() -> None:
        for name, learner in (("tiny", "learner-a"), ("medium", "learner-b")):
            runs.append(
                run_lesson_snippet(lesson, snippet, datasets.DatasetRef(name), learner=learner)
            )

    assert forks_during(both) == 2
    assert [run.result.query_count for run in runs] == [run.expected for run in runs]
    assert runs[0].result.query_count != runs[1].result.query_count


def test_a_shared_run_is_never_served_for_other_data_content(data: None, window: Any) -> None:
    def both() -> None:
        course_run("print(Post.objects.count())", "learner-a", content="checksum-1")
        course_run("print(Post.objects.count())", "learner-b", content="checksum-2")

    assert forks_during(both) == 2


def test_the_key_names_the_database_a_run_reads(data: None) -> None:
    """Another engine or server is another database: another key, whatever the code."""
    task, limits = Task("pass", "tiny"), engine.Config.from_settings().limits
    settings_dict = connections["tiny"].settings_dict
    before = sharing.key([task], limits, "seeded")
    for field, other in (("NAME", "/elsewhere/tiny.sqlite3"), ("HOST", "db.example")):
        kept = settings_dict.get(field)
        settings_dict[field] = other
        try:
            assert sharing.key([task], limits, "seeded") != before, field
        finally:
            settings_dict[field] = kept


def test_the_key_names_the_django_version(data: None, monkeypatch: pytest.MonkeyPatch) -> None:
    task, limits = Task("pass", "tiny"), engine.Config.from_settings().limits
    before = sharing.key([task], limits, "seeded")
    monkeypatch.setattr(sharing.django, "get_version", lambda: "9.9")

    assert sharing.key([task], limits, "seeded") != before


def test_the_data_content_a_lesson_run_shares_on_is_the_seeded_checksum(data: None) -> None:
    lesson = get_catalog().by_slug[LESSON]
    stats = datasets.DatasetRef("tiny").stats()

    run = run_lesson_snippet(lesson, lesson.snippets[SNIPPET], datasets.DatasetRef("tiny"))

    assert stats.checksum and run.result.shared is not None


def test_a_run_the_service_stopped_serves_no_later_press(data: None, window: Any) -> None:
    settings = window
    settings.COURSE_RUN_WALL_SECONDS = 0.4  # course code gets three times that
    first = course_run("while True:\n    pass", "learner-a")
    assert first.error.type in ("TimeLimit", "CPULimit")

    assert forks_during(lambda: course_run("while True:\n    pass", "learner-b")) == 1


def test_presses_waiting_on_a_run_that_could_not_start_are_answered_busy(
    data: None, settings: Any
) -> None:
    settings.COURSE_RUN_WORKERS, settings.COURSE_RUN_QUEUE = 1, 0
    settings.COURSE_RUN_QUEUE_WAIT = 0.2
    slot = Path(settings.COURSE_RUN_DIR) / "slots" / "0.lock"
    with engine.service._try_lock(slot) as held:  # the whole pool busy elsewhere
        assert held
        answers = together([lambda i=i: course_run(SLOW, f"learner-{i}") for i in range(3)])

    assert all(isinstance(answer, engine.ServiceBusy) for answer in answers)


def test_a_scale_measurement_is_shared_by_identical_presses(data: None) -> None:
    lesson = get_catalog().by_slug[LESSON]
    pair = lesson.pairs_by_id[lesson.chart]
    presses = [lambda i=i: measure(lesson, pair, learner=f"learner-{i}") for i in range(3)]
    answers: list[Any] = []

    forks = forks_during(lambda: answers.extend(together(presses)))

    assert forks == 1
    assert len({tuple(s.points for s in series) for series in answers}) == 1


def test_the_panel_says_the_run_was_made_once_for_the_room(room: Any, window: Any) -> None:
    url = reverse("lessons:run", args=[LESSON])
    form = {"snippet": SNIPPET, "dataset": "tiny"}
    first, second = join_room("ann"), join_room("bob")

    first.post(url, form, HTTP_HX_REQUEST="true")
    shared = second.post(url, form, HTTP_HX_REQUEST="true").content.decode()

    assert 'data-shared-learners="2"' in shared
    assert "Made once for the room at" in shared


def test_a_run_made_for_one_learner_says_nothing_of_sharing(data: None) -> None:
    url = reverse("lessons:run", args=[LESSON])

    page = Client().post(url, {"snippet": SNIPPET, "dataset": "tiny"}, HTTP_HX_REQUEST="true")

    assert "data-shared-learners" not in page.content.decode()


def test_the_json_api_says_how_a_run_was_shared(room: Any, window: Any) -> None:
    url = reverse("lessons:api-run", args=[LESSON, SNIPPET])
    join_room("ann").post(url, {"dataset": "tiny"})

    shared = join_room("bob").post(url, {"dataset": "tiny"}).json()["shared"]

    assert (shared["learners"], shared["led"]) == (2, False)


def test_a_press_in_another_server_process_shares_the_run_in_flight(tmp_path: Path) -> None:
    """gunicorn's workers are processes: a press in one waits for the identical run another
    leads, and reads its result from the run folder."""
    tasks, limits = [Task("pass", "tiny")], engine.Config.from_settings().limits
    made = engine.RunResult("tiny", output="made by the other process")

    def lead() -> list[Any]:
        time.sleep(0.8)
        return [made]

    def must_not_run() -> list[Any]:
        raise AssertionError("the follower ran the code itself")

    share = functools.partial(sharing.share, tmp_path, "k", tasks=tasks, limits=limits, window=0)
    leader = os.fork()
    if leader == 0:
        try:
            share("learner-a", lead, deadline=time.monotonic() + 10)
        finally:
            os._exit(0)
    time.sleep(0.3)  # the other process leads by now
    [result] = share("learner-b", must_not_run, deadline=time.monotonic() + 10)
    os.waitpid(leader, 0)

    assert result.output == "made by the other process"
    assert (result.shared.learners, result.shared.led) == (2, False)


def test_statements_drawn_once_carry_each_learners_own_csrf_token(room: Any, window: Any) -> None:
    """The explain form of a shared panel, drawn for the first learner, works for the second."""
    url = reverse("lessons:run", args=[LESSON])
    form = {"snippet": SNIPPET, "dataset": "tiny"}
    join_room("ann").post(url, form, HTTP_HX_REQUEST="true")
    bob = Client(enforce_csrf_checks=True)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', bob.get("/join/").text)[1]
    bob.post("/join/", {"name": "bob", "csrfmiddlewaretoken": token})
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', bob.get("/").text)[1]

    panel = bob.post(url, {**form, "csrfmiddlewaretoken": token}, HTTP_HX_REQUEST="true").text
    explain = re.search(
        r'class="explain-form".*?value="([^"]+)".*?name="token" value="([^"]+)"', panel, re.S
    )
    plan = bob.post(
        reverse("lessons:explain"), {"csrfmiddlewaretoken": explain[1], "token": explain[2]}
    )

    assert 'data-shared-learners="2"' in panel
    assert plan.status_code == 200


def test_the_statements_of_a_shared_run_are_reported_once_for_everyone_it_served(
    data: None, window: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    code = "for post in Post.objects.all():\n    print(post.author.name)"
    first, second = course_run(code, "learner-a"), course_run(code, "learner-b")
    built: list[int] = []
    build = viewmodels.build_report
    monkeypatch.setattr(viewmodels, "build_report", lambda q: built.append(len(q)) or build(q))

    reports = viewmodels.report_of(first), viewmodels.report_of(second)

    assert first.shared.run == second.shared.run
    assert built == [first.query_count]
    assert reports[0].lines == reports[1].lines == {1: 1, 2: first.query_count - 1}
