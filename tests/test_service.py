"""The run service: runs in disposable worker processes, a bounded pool with a short queue, one
run per learner, each worker on its own dataset copies, limits answered with a clear message."""

from __future__ import annotations

import contextlib
import os
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from django.db import connections
from django.test import Client
from django.urls import reverse

from lessons import datasets, engine
from lessons.engine import Task, service

# Per-run copies of the dataset files: on PostgreSQL nothing is copied (lessons.datasets.pgguard).
sqlite_files = pytest.mark.skipif(connections["tiny"].vendor != "sqlite", reason="SQLite only")

RUN_API = reverse("lessons:api-run", args=["n-plus-one", "count-comments.bad"])


def run(code: str, dataset: str = "tiny", learner: str = "service-test") -> Any:
    [result] = engine.run([Task(code, dataset)], learner=learner)
    return result


@pytest.fixture
def small_limits(settings: Any) -> Any:
    settings.COURSE_RUN_CPU_SECONDS = 2
    settings.COURSE_RUN_WALL_SECONDS = 3
    return settings


@contextlib.contextmanager
def holding(path: Path) -> Any:
    """Take a lock file the way another server process would."""
    with service._try_lock(path) as held:
        assert held
        yield


def test_a_run_happens_in_another_process(data: None) -> None:
    result = run("import os\nprint(os.getpid())")

    assert result.error is None
    assert int(result.output) != os.getpid()


def test_nothing_a_run_patches_survives_it(data: None) -> None:
    run("import builtins\nbuiltins.left_behind = True\nPost.__str__ = lambda self: 'patched'")

    result = run("import builtins\nprint(hasattr(builtins, 'left_behind'), Post.objects.first())")

    assert result.output.split(" ", 1)[0] == "False"
    assert "patched" not in result.output


def test_what_a_run_writes_is_gone_for_the_next_run(data: None) -> None:
    before = run("print(Post.objects.count())").output

    run("Post.objects.all().delete()")

    assert run("print(Post.objects.count())").output == before


def test_a_learner_with_a_run_in_flight_is_told_to_wait(data: None, settings: Any) -> None:
    root = Path(settings.COURSE_RUN_DIR)
    with service._learner_lock(root, "busy-learner"), pytest.raises(engine.LearnerBusy):
        run("print(1)", learner="busy-learner")


def test_a_full_pool_and_queue_answer_busy(data: None, settings: Any) -> None:
    settings.COURSE_RUN_WORKERS, settings.COURSE_RUN_QUEUE = 1, 0
    slots = Path(settings.COURSE_RUN_DIR) / "slots"

    with holding(slots / "0.lock"), pytest.raises(engine.ServiceBusy):
        run("print(1)")


def test_a_queued_run_waits_for_the_next_free_slot(data: None, settings: Any) -> None:
    settings.COURSE_RUN_WORKERS, settings.COURSE_RUN_QUEUE = 1, 1
    slots = Path(settings.COURSE_RUN_DIR) / "slots"
    released = threading.Event()

    def hold_briefly() -> None:
        with holding(slots / "0.lock"):
            released.wait(5)
            time.sleep(0.3)

    holder = threading.Thread(target=hold_briefly)
    holder.start()
    released.set()
    time.sleep(0.05)
    result = run("print(Post.objects.count())")
    holder.join()

    assert result.error is None
    assert result.queued >= 0.2  # the panel says how long it waited for a worker


def test_a_queue_that_never_frees_answers_busy_in_time(data: None, settings: Any) -> None:
    settings.COURSE_RUN_WORKERS, settings.COURSE_RUN_QUEUE = 1, 1
    settings.COURSE_RUN_QUEUE_WAIT = 0.3
    slots = Path(settings.COURSE_RUN_DIR) / "slots"

    started = time.monotonic()
    with holding(slots / "0.lock"), pytest.raises(engine.ServiceBusy):
        run("print(1)")
    assert time.monotonic() - started < 3


@pytest.fixture
def one_heavy_lane(settings: Any) -> Path:
    settings.COURSE_RUN_WORKERS, settings.COURSE_RUN_QUEUE = 2, 0
    settings.COURSE_RUN_HEAVY_DATASETS = ("medium",)  # quicker to copy than large
    settings.COURSE_RUN_HEAVY_WORKERS, settings.COURSE_RUN_HEAVY_QUEUE = 1, 0
    return Path(settings.COURSE_RUN_DIR)


def test_a_light_run_goes_ahead_while_the_heavy_lane_is_full(
    data: None, one_heavy_lane: Path
) -> None:
    with holding(one_heavy_lane / "heavy" / "0.lock"), holding(one_heavy_lane / "slots/0.lock"):
        result = run("print(Post.objects.count())", dataset="tiny")

    assert result.error is None


def test_a_heavy_run_beyond_its_lane_answers_busy_with_a_way_out(
    data: None, one_heavy_lane: Path
) -> None:
    with (
        holding(one_heavy_lane / "heavy" / "0.lock"),
        pytest.raises(engine.HeavyBusy, match="smaller dataset"),
    ):
        run("print(1)", dataset="medium")


def test_a_measurement_touching_a_heavy_dataset_takes_the_heavy_lane(
    data: None, one_heavy_lane: Path
) -> None:
    tasks = [Task("print(1)", "tiny"), Task("print(1)", "medium")]

    with holding(one_heavy_lane / "heavy" / "0.lock"), pytest.raises(engine.HeavyBusy):
        engine.run(tasks, learner="service-test")


def test_busy_api_answer_is_503_with_retry_after(client: Client, data: None, settings: Any) -> None:
    settings.COURSE_RUN_QUEUE_WAIT = 0.2  # how long a press waits behind the learner's own run
    root = Path(settings.COURSE_RUN_DIR)
    with service._learner_lock(root, "address:127.0.0.1"):
        response = client.post(RUN_API, {"dataset": "tiny"})

    assert response.status_code == 503
    assert response["Retry-After"] == str(engine.RETRY_AFTER)
    assert response.json()["error"]["type"] == "LearnerBusy"


def test_busy_htmx_answer_is_a_message_for_the_card(
    client: Client, data: None, settings: Any
) -> None:
    settings.COURSE_RUN_QUEUE_WAIT = 0.2
    root = Path(settings.COURSE_RUN_DIR)
    with service._learner_lock(root, "address:127.0.0.1"):
        response = client.post(
            reverse("lessons:run", args=["n-plus-one"]),
            {"snippet": "count-comments.bad", "dataset": "tiny"},
            HTTP_HX_REQUEST="true",
        )

    assert response.status_code == 503
    assert "previous run is still going" in response.content.decode()


def test_an_endless_loop_is_stopped_with_a_message(data: None, small_limits: Any) -> None:
    result = run("while True:\n    pass")

    assert result.error.type in ("CPULimit", "TimeLimit")
    assert "was stopped" in result.error.message


def test_a_sleeping_run_is_stopped_by_the_wall_clock(data: None, small_limits: Any) -> None:
    result = run("import time\ntime.sleep(60)")

    assert result.error.type == "TimeLimit"
    assert result.error.message == "The run took longer than 3 seconds and was stopped."


@sqlite_files
def test_every_run_gets_its_own_copy_of_the_dataset(data: None) -> None:
    first = run("print(connection.settings_dict['NAME'])").output
    second = run("print(connection.settings_dict['NAME'])").output

    assert first != second
    assert not Path(first).exists()  # removed with the run's scratch folder


def test_too_many_statements_stop_the_run(data: None, settings: Any) -> None:
    settings.COURSE_RUN_MAX_STATEMENTS = 10

    result = run("for _ in range(50):\n    Post.objects.count()")

    assert result.error.type == "StatementLimitExceeded"
    assert result.query_count == 10


def test_code_over_the_size_limit_is_refused_before_running(data: None, settings: Any) -> None:
    settings.COURSE_RUN_MAX_CODE_CHARS = 100

    with pytest.raises(engine.CodeTooLong, match="at most 100"):
        run("x = 1\n" * 50)


def test_writing_runs_at_once_never_meet_a_lock(data: None, settings: Any) -> None:
    settings.COURSE_RUN_WORKERS = 2
    code = (
        "with transaction.atomic():\n"
        "    n = Post.objects.update(view_count=F('view_count') + 1)\n"
        "    Comment.objects.filter(approved=False).delete()\n"
        "print(n)"
    )
    results: list[Any] = []

    def learner(number: int) -> None:
        for _ in range(3):
            results.append(run(code, "medium", learner=f"writer-{number}"))

    threads = [threading.Thread(target=learner, args=(n,)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert [r.error for r in results] == [None] * 6
    assert {r.output for r in results} == {str(datasets.stats("medium").counts["posts"])}


def test_a_run_killed_before_its_cpu_time_is_up_is_said_to_be_killed(data: None) -> None:
    # What the OOM killer does: SIGKILL from outside, long before the CPU limit. (From inside,
    # the run is the first process of its PID namespace, which the kernel spares its own SIGKILL.)
    from tests.test_hostile import in_flight, markers

    with in_flight("open('started', 'w').close()\nimport time\ntime.sleep(60)", "killed") as run:
        [pid] = {int(m.parts[2]) for m in markers() if _first_of_its_namespace(int(m.parts[2]))}
        os.kill(pid, 9)
    result = run["result"]

    assert (result.error.type, result.error.message) == (
        "Killed",
        "The run was killed (SIGKILL) before it finished, most likely by the operating system "
        "because the machine ran short of memory.",
    )


def _first_of_its_namespace(pid: int) -> bool:
    status = Path(f"/proc/{pid}/status").read_text()
    return any(
        line.startswith("NSpid:") and line.split()[-1] == "1" for line in status.splitlines()
    )


def test_a_run_killed_by_the_cpu_hard_limit_is_a_cpu_limit(data: None) -> None:
    limits = engine.Config.from_settings().limits
    message = {"kind": "signal", "signal": 9, "cpu": float(limits.cpu_seconds) + 0.9}

    error = service._why_it_stopped(message, limits, killed=False)

    assert error.type == "CPULimit"


@sqlite_files
def test_a_dataset_changed_only_in_its_wal_file_gets_a_new_template(
    data: None, tmp_path: Path
) -> None:
    source = Path(connections["tiny"].settings_dict["NAME"])
    first = service._template(tmp_path, "tiny")
    stamp = first.with_suffix(".source").read_text()
    wal = source.with_name(source.name + "-wal")
    # A reseed's writes may sit in the -wal file alone: the main file's size and time stay put.
    with open(wal, "ab") as log:
        log.write(b"")
    os.utime(wal, ns=(time.time_ns(), time.time_ns() + 10**9))

    again = service._template(tmp_path, "tiny")

    assert again == first and again.with_suffix(".source").read_text() != stamp


def test_seed_force_forgets_every_run_template(data: None, settings: Any, tmp_path: Path) -> None:
    from lessons.management.commands.seed import Command

    settings.COURSE_RUN_DIR = tmp_path
    (tmp_path / "datasets").mkdir()
    template = tmp_path / "datasets" / "tiny-0000.sqlite3"
    template.write_text("tampered")
    template.with_suffix(".source").write_text("a stamp that still matches")

    Command()._forget_run_templates()

    assert list((tmp_path / "datasets").iterdir()) == []


def test_finding_out_the_walls_leaves_no_folder_behind(monkeypatch: pytest.MonkeyPatch) -> None:
    from lessons.engine.child import confine

    made: list[str] = []  # the probe's own folders: other workers of the suite probe too

    def mkdtemp(*args: Any, **kwargs: Any) -> str:
        made.append(real_mkdtemp(*args, **kwargs))
        return made[-1]

    real_mkdtemp = tempfile.mkdtemp
    monkeypatch.setattr(confine.tempfile, "mkdtemp", mkdtemp)
    confine._probed = None
    confine.probe()

    assert made and not [folder for folder in made if Path(folder).exists()]


def test_the_kernel_counts_a_runs_peak_memory(data: None) -> None:
    small = run("print(1)")
    large = run("block = bytearray(80 * 1024 * 1024)\nblock[::4096] = b'x' * len(block[::4096])")

    assert large.error is None, large.error
    assert small.process_peak_memory is not None and large.process_peak_memory is not None
    assert large.process_peak_memory - small.process_peak_memory > 70 * 1024 * 1024


def test_a_run_cannot_report_a_smaller_peak_memory_than_the_kernel_counted(data: None) -> None:
    forge = (
        "import json, os\n"
        "from multiprocessing.connection import Connection\n"
        "block = bytearray(80 * 1024 * 1024)\n"
        "block[::4096] = b'x' * len(block[::4096])\n"
        "for fd in os.listdir('/proc/self/fd'):\n"
        "    if os.readlink(f'/proc/self/fd/{fd}').startswith('pipe:'):  # the reply channel\n"
        "        forged = json.dumps({'kind': 'usage', 'peak_memory': 0}).encode()\n"
        "        channel = Connection(int(fd), readable=False)  # kept: closing it ends the run\n"
        "        channel.send_bytes(forged)\n"
    )

    result = run(forge)

    assert result.process_peak_memory is not None
    assert result.process_peak_memory > 70 * 1024 * 1024


def test_a_learners_second_press_waits_for_their_first_run_then_runs(
    client: Client, data: None, settings: Any
) -> None:
    """Run on the bad card, then at once on the fixed one: both run, one after the other."""
    root = Path(settings.COURSE_RUN_DIR)
    first_run = threading.Event()

    def first() -> None:
        with service._learner_lock(root, "address:127.0.0.1"):
            first_run.set()
            time.sleep(0.6)

    ahead = threading.Thread(target=first)
    ahead.start()
    first_run.wait(5)
    response = client.post(
        reverse("lessons:run", args=["n-plus-one"]),
        {"snippet": "count-comments.fixed", "dataset": "tiny"},
        HTTP_HX_REQUEST="true",
    )
    ahead.join()

    assert response.status_code == 200
    assert 'data-query-count="1"' in response.content.decode()


def test_a_press_past_a_full_line_is_told_to_wait_at_once(
    client: Client, data: None, settings: Any
) -> None:
    root = Path(settings.COURSE_RUN_DIR)
    line = root / "learners" / f"{service._hashed('address:127.0.0.1')}.line"
    with contextlib.ExitStack() as places:
        for index in range(service.LEARNER_LINE + 1):  # the run in flight and the ones waiting
            assert places.enter_context(service._try_lock(line / f"{index}.lock"))
        started = time.monotonic()
        response = client.post(RUN_API, {"dataset": "tiny"})

    assert response.status_code == 503
    assert response.json()["error"]["type"] == "LearnerBusy"
    assert time.monotonic() - started < 1  # not after the queue's wait


def test_a_learner_cancels_their_run_in_flight(data: None, settings: Any) -> None:
    settings.COURSE_RUN_WALL_SECONDS = 20
    results: list[Any] = []
    going = threading.Thread(
        target=lambda: results.append(run("while True:\n    pass", learner="cancelling"))
    )
    started = time.monotonic()
    going.start()
    time.sleep(1)
    engine.cancel("cancelling")
    going.join(15)

    [result] = results
    assert result.error.type == "Cancelled"
    assert time.monotonic() - started < 10  # long before its 20 s were up


def test_a_cancel_left_from_an_earlier_run_leaves_the_next_run_alone(
    data: None, settings: Any
) -> None:
    engine.cancel("changed-my-mind")
    note = (
        Path(settings.COURSE_RUN_DIR) / "learners" / f"{service._hashed('changed-my-mind')}.cancel"
    )
    old = time.time() - service.CANCEL_STALE_SECONDS - 1
    os.utime(note, (old, old))

    assert run("print(1)", learner="changed-my-mind").output.strip() == "1"


def test_a_cancel_that_reaches_the_server_just_before_its_run_still_ends_it(data: None) -> None:
    engine.cancel("quick-on-the-button")  # both requests in flight: the cancel came first

    assert run("print(1)", learner="quick-on-the-button").error.type == "Cancelled"
