"""A room on one laptop: simulated learners (locust) against the course served as `make workshop`
serves it (seed, collectstatic, gunicorn with DEBUG off), bound to 127.0.0.1 only.

- First, on the server that just started: 50 learners open the n-plus-one lesson at the same
  moment; each needs its scale chart (inlined, or fetched as htmx would) within 1 s.
- Phase 1, alone: 50 learners open the outline and lessons, run pairs on medium (bad, then
  fixed) and answer quiz questions, with 1-3 s of think time between actions.
- Phase 2, storm: the same 50, plus 20 users looping the large n-plus-one bad snippet (5,001
  queries); after a "busy" answer they wait as its Retry-After asks, then post again.
- With --editing, the server is `make workshop EDITING=on` and learners also check the lessons'
  exercises (posting the starting code, as a first attempt does).

Every request goes through the page's own forms: each learner has its own cookie jar (session and
CSRF cookie), takes the CSRF token from a page, and posts with HX-Request: true as htmx does.

Printed per phase: requests/s, errors, "busy" answers (HTTP 503 with Retry-After, counted apart:
expected for the storm, not an error), "database is locked" answers, p50/p95/p99 per kind of
request, and the resident memory of the whole service (gunicorn master, workers, run processes
and every other descendant) at rest and at its peak, sampled every 0.5 s, and where the CPU went
(web, runs, this load generator, anything else on the machine). Then each target of issue 7 with
its verdict. Figures only; nothing is asserted.

The server runs on a private copy of var/ (datasets copied with SQLite's backup API, then
`manage.py seed` as `make workshop` runs it), so the run service's slots and queue are not shared
with another server or a test run using var/ at the same time, and no session is left behind.
The server's commands are read from `make -n workshop`, so they stay those of the workshop.
Load generator and server share this machine's cores, as they would on a presenter's laptop.
"""

from __future__ import annotations

import argparse
import contextlib
import html
import os
import random
import re
import shlex
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gevent
import psutil
from _common import ROOT
from locust import HttpUser, between, constant, task
from locust.env import Environment

DATASETS = ("tiny", "medium", "large")
THINK = (1.0, 3.0)
STORM_LESSON, STORM_SNIPPET, STORM_DATASET = "n-plus-one", "count-comments.bad", "large"
LEARNER_DATASET = "medium"
KINDS = ("page", "chart", "quiz", "run medium", "exercise check", "storm run")
SLOW_SECONDS = 5.0
PAGE_P95_TARGET = {"alone": 0.300, "storm": 1.0}
# The lock error SQLite raises; the transactions lesson's prose says "the whole database is locked
# for writes", which is not one.
LOCKED = re.compile(r"database (?:table )?is locked(?! for writes)", re.IGNORECASE)


# ---------------------------------------------------------------- what happened, request by request


@dataclass(frozen=True)
class Record:
    phase: str  # the phase the request started in
    kind: str
    seconds: float
    status: int  # 0: no answer (connection failed)
    outcome: str  # "ok", "queued" (ran, and said it waited for a worker), "busy" or "error"
    locked: bool
    detail: str
    resent: bool = False  # sent again after the server closed an idle connection under it


class Log:
    phase = "warm-up"
    stopping = False
    in_flight = 0
    records: list[Record] = []  # one log per process
    phase_started: dict[str, float] = {}
    memory: list[tuple[str, int, int]] = []  # (phase, RSS sum, PSS sum)
    memory_processes = 0  # the most processes the service had at once


def classify(kind: str, response: Any) -> tuple[str, bool, str]:
    """(outcome, locked, detail) of one answer."""
    status = response.status_code
    body = response.text if status else ""
    locked = bool(LOCKED.search(body))
    if not status:
        return "error", locked, f"no answer: {response.error}"
    if status == 503 and response.headers.get("Retry-After"):
        return "busy", locked, _problem(body)
    if status != 200:
        return "error", locked, f"HTTP {status}: {_problem(body)}"
    if kind in ("run medium", "storm run"):
        if 'data-matches="true"' not in body:
            return "error", locked, f"the run broke its promise: {_run_error(body)}"
        if 'class="run-error"' in body:  # an error the lesson does not demonstrate
            return "error", locked, f"the run failed: {_run_error(body)}"
    if kind == "exercise check" and 'class="verdict' not in body:
        return "error", locked, "the check came back without a verdict"
    if kind == "quiz" and 'class="feedback"' not in body:
        return "error", locked, "the answer came back without feedback"
    if locked:
        return "error", locked, "database is locked"
    if "for a free worker first" in body:  # the panel says the run waited in the queue
        return "queued", locked, ""
    return "ok", locked, ""


def closed_before_answer(error: object) -> bool:
    text = repr(error)
    return "RemoteDisconnected" in text or "Connection reset by peer" in text


def _problem(body: str) -> str:
    found = re.search(r'class="problem-message">(.*?)</p>', body, re.DOTALL)
    return html.unescape(re.sub(r"\s+", " ", found.group(1) if found else body[:160]).strip())


def _run_error(body: str) -> str:
    found = re.search(r'<p class="run-error[^"]*"[^>]*>(.*?)</p>', body, re.DOTALL)
    text = re.sub(r"<[^>]+>", "", found.group(1)) if found else "no error shown"
    counts = re.search(r'data-query-count="(\d+)" data-expected-count="(\d+)"', body)
    if counts:
        text += f" ({counts.group(1)} queries, {counts.group(2)} promised)"
    return html.unescape(text.strip())[:200]


# ---------------------------------------------------------------- the simulated people


class Visitor(HttpUser):
    abstract = True
    host = "http://127.0.0.1"
    lessons: list[str] = []  # from the outline, before the room starts

    def on_start(self) -> None:
        self.token = ""

    def call(self, kind: str, method: str, path: str, data: dict[str, str] | None = None) -> Any:
        headers = {"HX-Request": "true"} if method == "POST" else {}
        if data is not None:
            data = {**data, "csrfmiddlewaretoken": self.token}
        phase = Log.phase
        Log.in_flight += 1
        started = time.perf_counter()
        resent = False
        try:
            response = self.client.request(
                method, path, data=data, headers=headers, name=kind, allow_redirects=False
            )
            if not response.status_code and closed_before_answer(response.error):
                # The server closed an idle keep-alive connection as the request went out on it:
                # browsers send the request again on a new connection, so do the same.
                resent = True
                response = self.client.request(
                    method, path, data=data, headers=headers, name=kind, allow_redirects=False
                )
        finally:
            Log.in_flight -= 1
        seconds = time.perf_counter() - started
        outcome, locked, detail = classify(kind, response)
        if outcome == "error":
            detail = f"{path} {(data or {}).get('snippet', '')}: {detail}"
        Log.records.append(
            Record(phase, kind, seconds, response.status_code, outcome, locked, detail, resent)
        )
        if kind == "page" and response.status_code == 200:
            token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', response.text)
            self.token = token.group(1) if token else self.token
        return response


class Learner(Visitor):
    """Reads, runs pairs on medium, answers questions; one action per think time."""

    wait_time = between(*THINK)

    def on_start(self) -> None:
        super().on_start()
        self.lesson = ""
        self.pairs: list[tuple[str, str]] = []
        self.questions: list[tuple[str, int]] = []
        self.exercises: list[tuple[str, str]] = []  # (id, starting code) when checking is on
        self.outline()
        self.open_lesson()

    @task(1)
    def outline(self) -> None:
        if not Log.stopping:
            self.call("page", "GET", f"/?dataset={LEARNER_DATASET}")

    @task(3)
    def open_lesson(self) -> None:
        if Log.stopping:
            return
        self.lesson = random.choice(self.lessons)
        page = self.call("page", "GET", f"/lessons/{self.lesson}/?dataset={LEARNER_DATASET}")
        if page.status_code != 200:
            return
        text = page.text
        snippets = re.findall(r'name="snippet" value="([^"]+)"', text)
        bad = [s for s in snippets if s.endswith(".bad")]
        self.pairs = [(s, s[: -len(".bad")] + ".fixed") for s in bad]
        self.pairs = [p for p in self.pairs if p[1] in snippets] or [(s, "") for s in snippets]
        self.exercises = [
            (found.group(1), html.unescape(code.group(1)))
            for form in text.split('<form class="exercise-form"')[1:]
            if (found := re.search(r'name="exercise" value="([^"]+)"', form))
            and (code := re.search(r'<textarea[^>]*name="code"[^>]*>(.*?)</textarea>', form, re.S))
        ]
        self.questions = [
            (found.group(1), len(re.findall(r'name="choice" value="', form)))
            for form in text.split('<form class="question')[1:]
            if (found := re.search(r'name="question" value="([^"]+)"', form))
        ]
        # htmx draws a chart the page did not inline as it loads: one more request, as a browser.
        for form in re.findall(r'<form class="scale-form".*?</form>', text, re.DOTALL):
            if 'hx-trigger="load' in form and (
                pair := re.search(r'name="pair" value="([^"]+)"', form)
            ):
                data = {"pair": pair.group(1), "dataset": LEARNER_DATASET}
                self.call("chart", "POST", f"/lessons/{self.lesson}/scale/", data)

    @task(3)
    def run_pair(self) -> None:
        if Log.stopping or not self.pairs:
            return
        for snippet in random.choice(self.pairs):
            if snippet:
                data = {"snippet": snippet, "dataset": LEARNER_DATASET}
                self.call("run medium", "POST", f"/lessons/{self.lesson}/run/", data)

    @task(2)
    def check_exercise(self) -> None:
        """An attempt at one of the lesson's exercises (the starting code, as a first try is)."""
        if Log.stopping or not self.exercises:
            return
        exercise, code = random.choice(self.exercises)
        data = {"exercise": exercise, "code": code}
        self.call("exercise check", "POST", f"/lessons/{self.lesson}/exercise/check/", data)

    @task(3)
    def answer(self) -> None:
        if Log.stopping or not self.questions:
            return
        question, choices = random.choice(self.questions)
        data = {"question": question, "choice": str(random.randrange(choices))}
        self.call(
            "quiz", "POST", f"/lessons/{self.lesson}/quiz/", {**data, "dataset": LEARNER_DATASET}
        )


class Storm(Visitor):
    """Runs the large n-plus-one bad snippet again as soon as the last one answered."""

    wait_time = constant(0)

    def on_start(self) -> None:
        super().on_start()
        self.call("page", "GET", f"/lessons/{STORM_LESSON}/?dataset={STORM_DATASET}")

    @task
    def storm(self) -> None:
        if Log.stopping:
            gevent.sleep(0.5)
            return
        data = {"snippet": STORM_SNIPPET, "dataset": STORM_DATASET}
        response = self.call("storm run", "POST", f"/lessons/{STORM_LESSON}/run/", data)
        if response.status_code == 503:
            gevent.sleep(float(response.headers.get("Retry-After") or 1))


# ---------------------------------------------------------- the server, as the workshop runs it


def workshop_commands(port: int, *make_args: str) -> tuple[list[str], str]:
    """`make workshop`'s commands (its set-up steps, then the server), bound to 127.0.0.1."""
    listed = subprocess.run(
        [
            "make",
            "--silent",
            "--dry-run",
            "--old-file=.venv/.installed",
            "workshop",
            f"PORT={port}",
            *make_args,
        ],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.splitlines()
    lines = [line.strip() for line in listed if line.strip()]
    public = f"--bind 0.0.0.0:{port}"
    if not lines or "gunicorn" not in lines[-1] or public not in lines[-1]:
        raise SystemExit(f"`make -n workshop` no longer ends with gunicorn {public}: {lines}")
    unexpected = [line for line in lines[:-1] if "manage.py" not in line]
    if unexpected:
        raise SystemExit(f"`make -n workshop` has steps this script does not know: {unexpected}")
    return lines[:-1], lines[-1].replace(public, f"--bind 127.0.0.1:{port}")


def private_var(source: Path, target: Path) -> None:
    """The seeded datasets (and stored charts) of `source`, copied consistently into `target`."""
    for name in DATASETS:
        path = source / f"{name}.sqlite3"
        if not path.exists():
            raise SystemExit(f"{path} is missing: run `make seed` first.")
        with (
            contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as src,
            contextlib.closing(sqlite3.connect(target / path.name)) as dst,
        ):
            src.backup(dst)
    if (source / "scale").is_dir():
        shutil.copytree(source / "scale", target / "scale")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Server:
    def __init__(self, var: Path, port: int, make_args: tuple[str, ...] = ()) -> None:
        self.var, self.port, self.make_args = var, port, make_args
        self.log_path = var / "server.log"
        self.env = {**os.environ, "COURSE_VAR_DIR": str(var)}
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        steps, serve = workshop_commands(self.port, *self.make_args)
        with open(self.log_path, "ab") as log:
            for step in steps:
                print(f"  $ {step}", flush=True)
                subprocess.run(["sh", "-c", step], cwd=ROOT, env=self.env, check=True, stdout=log)
            print(f"  $ {serve}", flush=True)
            words = shlex.split(serve)  # VAR=value ... gunicorn ...: start gunicorn itself
            first = next(i for i, word in enumerate(words) if not re.match(r"\w+=", word))
            env = {**self.env, **dict(word.split("=", 1) for word in words[:first])}
            self.process = subprocess.Popen(
                words[first:],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group, stopped as one at the end
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"the server stopped:\n{self.log_tail()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return
            except OSError:
                gevent.sleep(0.2)
        raise SystemExit(f"the server did not answer within 60 s:\n{self.log_tail()}")

    def tree(self) -> list[psutil.Process]:
        """The gunicorn master and every process below it (workers, warm processes, runs)."""
        if self.process is None:
            return []
        try:
            master = psutil.Process(self.process.pid)
            return [master, *master.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []

    def memory(self) -> tuple[int, int, int]:
        """(sum of RSS, sum of PSS, processes) of the whole service. RSS counts pages shared
        between forked processes once per process; PSS shares them out."""
        rss = pss = count = 0
        for process in self.tree():
            try:
                info = process.memory_full_info()
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue
            rss += info.rss
            pss += getattr(info, "pss", info.rss)
            count += 1
        return rss, pss, count

    def cpu_seconds(self) -> tuple[float, float]:
        """(web, runs): CPU time used so far by the gunicorn processes, and by the run service's
        warm processes with every run forked from them (live, or reaped by them)."""
        web = runs = 0.0
        for process in self.tree():
            with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
                times = process.cpu_times()
                used = times.user + times.system + times.children_user + times.children_system
                if "multiprocessing.forkserver" in " ".join(process.cmdline()):
                    runs += used
                else:
                    web += used
        return web, runs

    def stop(self) -> None:
        if self.process is None:
            return
        left = self.tree()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        gevent.sleep(0.5)
        for process in left:  # run processes live in process groups of their own
            with contextlib.suppress(psutil.NoSuchProcess):
                if process.is_running():
                    process.kill()

    def log_tail(self, lines: int = 30) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


# ---------------------------------------------------------------- the room


CHART_LESSON = "n-plus-one"
CHART_TARGET = 1.0


def chart_stampede(base: str, learners: int) -> tuple[list[float], int]:
    """`learners` open the chart lesson at the same moment on a server that has just started
    answering (nobody has opened a page yet), as browsers would: the page, then the chart's own
    request if the page did not inline it (and again while it says the chart is being measured).
    Returns each learner's seconds from asking to holding a chart, and how many never got one."""
    import requests

    def learner() -> float | None:
        session = requests.Session()
        started = time.perf_counter()
        page = session.get(f"{base}/lessons/{CHART_LESSON}/?dataset={LEARNER_DATASET}", timeout=60)
        text = page.text
        for _ in range(20):
            if page.status_code == 200 and 'class="charts"' in text:
                return time.perf_counter() - started
            form = re.search(r'<form class="scale-form".*?</form>', text, re.DOTALL)
            pair = form and re.search(r'name="pair" value="([^"]+)"', form.group(0))
            token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', text)
            if not (pair and token):
                return None
            if "delay:2s" in form.group(0):  # "being measured elsewhere": htmx asks again
                gevent.sleep(2)
            page = session.post(
                f"{base}/lessons/{CHART_LESSON}/scale/",
                data={
                    "pair": pair.group(1),
                    "dataset": LEARNER_DATASET,
                    "csrfmiddlewaretoken": token.group(1),
                },
                headers={"HX-Request": "true"},
                timeout=60,
            )
            text = page.text + token.group(0)  # a partial carries no token of its own
        return None

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # the port opens before gunicorn's workers are ready
        with contextlib.suppress(requests.RequestException):
            requests.get(f"{base}/favicon.ico", allow_redirects=False, timeout=5)
            break
        gevent.sleep(0.1)
    waits = [
        greenlet.value
        for greenlet in gevent.joinall([gevent.spawn(learner) for _ in range(learners)])
    ]
    return [w for w in waits if w is not None], sum(w is None for w in waits)


def warm_up(base: str) -> tuple[list[str], list[float]]:
    """What a presenter does before the room arrives: the outline, every lesson once, a few runs.
    Returns the lesson slugs and the times of those first runs (the first run in a slot copies
    the datasets it needs)."""
    import requests

    session = requests.Session()
    outline = session.get(f"{base}/?dataset={LEARNER_DATASET}", timeout=60)
    outline.raise_for_status()
    lessons = list(dict.fromkeys(re.findall(r'href="/lessons/([\w-]+)/', outline.text)))
    if not lessons:
        raise SystemExit("the outline lists no lesson")
    for slug in lessons:
        session.get(f"{base}/lessons/{slug}/?dataset={LEARNER_DATASET}", timeout=60)
    page = session.get(f"{base}/lessons/{STORM_LESSON}/?dataset={LEARNER_DATASET}", timeout=60)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
    first_runs = []
    for _ in range(4):  # new connections, so that both gunicorn workers are likely to get one
        started = time.perf_counter()
        answer = session.post(
            f"{base}/lessons/{STORM_LESSON}/run/",
            data={
                "snippet": "count-comments.fixed",
                "dataset": LEARNER_DATASET,
                "csrfmiddlewaretoken": token.group(1) if token else "",
            },
            headers={"HX-Request": "true", "Connection": "close"},
            timeout=60,
        )
        first_runs.append(time.perf_counter() - started)
        if answer.status_code != 200:
            raise SystemExit(f"a warm-up run failed: HTTP {answer.status_code} {answer.text[:300]}")
    return lessons, first_runs


def sample_memory(server: Server) -> None:
    while True:
        rss, pss, count = server.memory()
        Log.memory.append((Log.phase, rss, pss))
        Log.memory_processes = max(Log.memory_processes, count)
        gevent.sleep(0.5)


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * fraction // 1))
    return ordered[int(rank) - 1]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:8.0f}"


def mb(size: int) -> str:
    return f"{size / 2**20:,.0f} MB"


def cpu_snapshot(server: Server) -> tuple[float, float, float, float]:
    """(web, runs, this load generator, whole machine) CPU seconds used so far."""
    machine = psutil.cpu_times()
    busy = sum(machine) - machine.idle - getattr(machine, "iowait", 0.0)
    me = psutil.Process().cpu_times()
    return (*server.cpu_seconds(), me.user + me.system, busy)


def cpu_used(start: tuple[float, ...], end: tuple[float, ...]) -> tuple[float, ...]:
    return tuple(b - a for a, b in zip(start, end, strict=True))


def report_phase(phase: str, title: str, seconds: float, cpu: tuple[float, ...]) -> dict[str, Any]:
    records = [r for r in Log.records if r.phase == phase]
    errors = [r for r in records if r.outcome == "error"]
    busy = [r for r in records if r.outcome == "busy"]
    locked = [r for r in records if r.locked]
    print(f"\n{title}: {seconds:.0f} s, {len(records):,} requests")
    print(
        f"  requests/s {len(records) / seconds:6.1f}   errors {len(errors)}   "
        f"busy (503 with Retry-After) {len(busy)}   database is locked {len(locked)}"
    )
    web, runs, generator, machine = cpu
    print(
        f"  CPU seconds used: web {web:.0f}, runs {runs:.0f}, load generator {generator:.0f}, "
        f"other processes {max(0.0, machine - web - runs - generator):.0f} "
        f"(of {seconds * (os.cpu_count() or 1):.0f} on {os.cpu_count()} cores)"
    )
    resent = sum(r.resent for r in records)
    print(f"  sent again after the server closed an idle keep-alive connection: {resent}")
    print(
        f"  {'kind':<22}{'n':>6}{'errors':>8}{'busy':>6}"
        f"{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'max ms':>9}{'>5 s':>6}"
    )
    p95: dict[str, float] = {}
    for kind in KINDS:
        rows = [("", [r for r in records if r.kind == kind])]
        if any(r.outcome == "busy" for r in rows[0][1]):
            rows.append((", answered busy", [r for r in rows[0][1] if r.outcome == "busy"]))
            rows.append((", ran", [r for r in rows[0][1] if r.outcome != "busy"]))
        for suffix, group in rows:
            if not group:
                continue
            times = [r.seconds for r in group]
            p95[kind + suffix] = percentile(times, 0.95)
            print(
                f"  {kind + suffix:<22}{len(group):>6}"
                f"{sum(r.outcome == 'error' for r in group):>8}"
                f"{sum(r.outcome == 'busy' for r in group):>6}"
                f"{ms(percentile(times, 0.5))} {ms(p95[kind + suffix])} "
                f"{ms(percentile(times, 0.99))} {ms(max(times))}"
                f"{sum(t > SLOW_SECONDS for t in times):>6}"
            )
    for detail, count in Counter(f"{r.kind}: {r.detail}" for r in errors).most_common(8):
        print(f"  error x{count}: {detail}")
    for detail, count in Counter(f"{r.kind}: {r.detail}" for r in busy).most_common(4):
        print(f"  busy x{count}: {detail}")
    samples = [(rss, pss) for p, rss, pss in Log.memory if p == phase]
    if samples:
        rss, pss = max(s[0] for s in samples), max(s[1] for s in samples)
        print(f"  service memory, peak: RSS sum {mb(rss)} (PSS sum {mb(pss)})")
    slow = [r for r in records if r.seconds > SLOW_SECONDS and r.outcome not in ("busy", "queued")]
    page = [r.seconds for r in records if r.kind == "page"]
    return {
        "errors": len(errors),
        "locked": len(locked),
        "page_p95": percentile(page, 0.95) if page else float("nan"),
        "slow": slow,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--learners", type=int, default=50)
    parser.add_argument("--storm", type=int, default=20, help="users looping the large run")
    parser.add_argument("--seconds", type=float, default=60, help="length of each phase")
    parser.add_argument("--port", type=int, default=0, help="default: a free port")
    parser.add_argument(
        "--editing",
        action="store_true",
        help="serve as `make workshop EDITING=on`: learners also check exercises",
    )
    args = parser.parse_args()

    source = Path(os.environ.get("COURSE_VAR_DIR", ROOT / "var")).resolve()
    var = Path(tempfile.mkdtemp(prefix="room-var-"))
    server = Server(var, args.port or free_port(), ("EDITING=on",) if args.editing else ())
    base = f"http://127.0.0.1:{server.port}"
    sampler = None
    try:
        print(f"Serving the course as `make workshop` does, on {base} (var: {var})")
        private_var(source, var)
        server.start()
        charts, no_chart = chart_stampede(base, args.learners)
        chart_wait = max(charts, default=float("inf")) if not no_chart else float("inf")
        print(
            f"\nFresh server: {args.learners} learners open {CHART_LESSON} at once: chart in hand "
            f"p50 {(percentile(charts, 0.5) if charts else 0) * 1000:.0f} ms, "
            f"max {chart_wait * 1000:.0f} ms, "
            f"{no_chart} without a chart"
        )
        lessons, first_runs = warm_up(base)
        gevent.sleep(2)
        rest_rss, rest_pss, rest_count = server.memory()
        print(
            f"\nWarm-up: outline and {len(lessons)} lessons opened; first runs after start "
            f"(medium): {', '.join(f'{t * 1000:.0f}' for t in first_runs)} ms"
        )
        print(
            f"Service memory at rest: RSS sum {mb(rest_rss)} (PSS sum {mb(rest_pss)}), "
            f"{rest_count} processes"
        )

        Visitor.lessons = lessons
        environment = Environment(user_classes=[Learner, Storm], host=base)
        runner = environment.create_local_runner()
        sampler = gevent.spawn(sample_memory, server)

        cpu = {"alone": cpu_snapshot(server)}
        Log.phase, Log.phase_started["alone"] = "alone", time.monotonic()
        runner.start(args.learners, spawn_rate=args.learners / 2, user_classes=[Learner])
        gevent.sleep(args.seconds)
        users_alone = dict(runner.user_classes_count)
        cpu["storm"] = cpu_snapshot(server)
        Log.phase, Log.phase_started["storm"] = "storm", time.monotonic()
        total = args.learners + args.storm
        runner.start(total, spawn_rate=args.storm / 2, user_classes=[Storm])  # learners stay
        gevent.sleep(args.seconds)
        ended = time.monotonic()
        cpu["end"] = cpu_snapshot(server)
        Log.stopping = True
        users_storm = dict(runner.user_classes_count)
        with gevent.Timeout(45, False):
            while Log.in_flight:
                gevent.sleep(0.2)
        runner.quit()
        sampler.kill()

        print(
            f"\nUsers: phase 1 {users_alone}, phase 2 {users_storm}; "
            f"learners think {THINK[0]:g}-{THINK[1]:g} s between actions"
        )
        alone = report_phase(
            "alone",
            f"Phase 1, alone: {args.learners} learners",
            Log.phase_started["storm"] - Log.phase_started["alone"],
            cpu_used(cpu["alone"], cpu["storm"]),
        )
        storm = report_phase(
            "storm",
            f"Phase 2, storm: {args.learners} learners + {args.storm} looping "
            f"{STORM_LESSON} {STORM_SNIPPET} on {STORM_DATASET}",
            ended - Log.phase_started["storm"],
            cpu_used(cpu["storm"], cpu["end"]),
        )
        peak_rss = max((rss for _, rss, _ in Log.memory), default=0)
        peak_pss = max((pss for _, _, pss in Log.memory), default=0)
        print(
            f"\nService memory: at rest RSS sum {mb(rest_rss)} (PSS {mb(rest_pss)}); "
            f"peak RSS sum {mb(peak_rss)} (PSS {mb(peak_pss)}), up to "
            f"{Log.memory_processes} processes"
        )
        log = server.log_path.read_text(errors="replace")
        log_locked = len(LOCKED.findall(log))
        tracebacks = log.count("Traceback (most recent call last)")
        print(f"Server log: {tracebacks} tracebacks, {log_locked} 'database is locked'")
        if runner.exceptions:
            print(f"Load script exceptions: {list(runner.exceptions.values())[:3]}")
        report_targets(alone, storm, log_locked, chart_wait)
    finally:
        if sampler is not None:
            sampler.kill()
        server.stop()
        shutil.rmtree(var, ignore_errors=True)


def report_targets(
    alone: dict[str, Any], storm: dict[str, Any], log_locked: int, chart_wait: float
) -> None:
    def verdict(ok: bool) -> str:
        return "met" if ok else "NOT met"

    errors = alone["errors"] + storm["errors"]
    locked = alone["locked"] + storm["locked"] + log_locked
    slow = alone["slow"] + storm["slow"]
    print("\nTargets (issue 7, this machine)")
    print(f"  zero errors: {errors} -> {verdict(errors == 0)}")
    print(f"  zero lock errors: {locked} -> {verdict(locked == 0)}")
    print(
        f"  learners opening a chart lesson at once on a fresh server, slowest to get the chart: "
        f"{chart_wait * 1000:.0f} ms, target under "
        f"{CHART_TARGET * 1000:.0f} ms -> {verdict(chart_wait < CHART_TARGET)}"
    )
    for phase, figures in (("alone", alone), ("storm", storm)):
        target = PAGE_P95_TARGET[phase]
        value = figures["page_p95"]
        print(
            f"  page p95 {phase}: {value * 1000:.0f} ms, target under {target * 1000:.0f} ms "
            f"-> {verdict(value < target)}"
        )
    kinds = Counter(r.kind for r in slow)
    print(
        f"  no request over {SLOW_SECONDS:g} s except busy answers and queued runs that say so: "
        f"{len(slow)} "
        f"{dict(kinds) if kinds else ''} -> {verdict(not slow)}"
    )


if __name__ == "__main__":
    sys.exit(main())
