"""A workshop room on one laptop: simulated learners and an instructor (locust, as a library)
against the course served as `make workshop` serves it (its steps read from `make -n workshop`),
on 127.0.0.1 and a private copy of var/, load generator and server sharing the cores.

The phases are a locust LoadTestShape (`Room`), each ending when its part is done:
- arrival, on the fresh server: the instructor opens the console and leads the room to
  n-plus-one; the learners join at once, then all open that lesson together: each needs a chart
  in hand (inlined, or fetched as htmx would) within 1 s.
- warm-up: the presenter's outline and four first runs.
- lessons: the instructor leads the room through three lessons (~50 s each) while the console's
  live parts refresh at the browser's intervals. Each learner's page polls the banner every 4 s;
  at a new lesson the learner opens it, runs its pairs on medium (bad, then fixed; a busy run
  again next), answers its questions but the last, then keeps working, 1-3 s apart. A probe
  answers only the last question: the first clicker showing its answer gives the latency.
- storm: 20 more users loop the large n-plus-one bad run (5,001 queries) while the room works on.

Locust's stats count each request under the name of what it is; a busy answer (503 with
Retry-After: expected in the storm, not an error) or a run that says it waited for a worker goes
under a name of its own, and an answer the browser could not use (a 302 to /join/, a broken
promise, "database is locked", ...) is a failure. Figures that are not requests (a chart in hand,
an answer on the console) are request events of type ROOM. Each phase keeps its own RequestStats.
Locust does not measure the server: its memory (RSS and PSS of gunicorn and every descendant) and
where the CPU went (web, runs, this load generator, the rest) are sampled here. Printed: each
phase, the answers' visibility and each target's verdict; nothing is asserted.
"""

from __future__ import annotations

import argparse
import contextlib
import html
import os
import random
import re
import secrets
import shlex
import shutil
import signal
import socket
import sqlite3
import subprocess
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from itertools import count
from pathlib import Path
from typing import Any, cast
from urllib.parse import quote, urlsplit

import gevent
import gevent.event
import psutil
from _common import ROOT
from locust import LoadTestShape, User, between, constant, task
from locust.contrib.fasthttp import FastHttpUser
from locust.env import Environment
from locust.stats import RequestStats, StatsEntry, calculate_response_time_percentile

THINK = (1.0, 3.0)
TAUGHT = ("n-plus-one", "select-related", "prefetch-related")
STORM_LESSON, STORM_SNIPPET, STORM_DATASET = "n-plus-one", "count-comments.bad", "large"
LEARNER_DATASET = "medium"
# The console's live parts and how often the browser asks for each (templates/console/_live.html).
LIVE_EVERY = {"clicker": 2.0, "learners": 3.0, "stuck": 5.0, "predictions": 2.0, "help": 3.0}
BANNER_EVERY = 4.0
PHASES = ("arrival", "warm-up", "lessons", "storm", "end")
# Figures that are not requests, in locust's stats under request_type ROOM.
ROOM, CHART, SEEN = "ROOM", "chart in hand after opening the lesson", "probe answer on the console"
LEFT_OUT, RESENT = "probe answer the console moved on from", "sent again on a new connection"
PRESSED = "run answered, from the switch"  # --together: each press of the first pair
PREDICTED = "prediction on the console"  # a learner's run with a prediction -> its histogram
HELPED = "raised hand on the console"  # "I'm stuck" -> the console's help queue listing it
# How often a learner is stuck on a lesson (once at most, on one card), and lets it go unhelped.
STUCK_SHARE, CANCEL_SHARE = 0.3, 0.2
STUCK_CODE = "for post in Post.objects.all():\n    print(post.title, post.comments.count())\n"
# What a learner predicts for a card's first run: numbers, and formulas over the row counts.
GUESSES = ("1", "2", "3", "6", "11", "21", "101", "1 + posts", "1 + comments", "2 * posts", "")
TWINS = (" busy", " queued")  # answers counted under a name of their own
ROWS = (
    "join",
    "lesson page",
    "outline",
    "chart",
    "run",
    "quiz",
    "exercise",
    "stuck",
    "banner",
    "console",
)
PAGES = ("lesson page", "outline")  # a learner's pages: each must show the room's banner
SLOW_SECONDS, VISIBLE_GIVE_UP = 5.0, 15.0  # an answer not on the console by then is a miss
PAGE_P95_TARGET, STORM_PAGE_P95_TARGET, CONSOLE_P95_TARGET = 0.300, 1.0, 0.300
VISIBLE_TARGET, CHART_TARGET, BUSY_TARGET = 3.0, 1.0, 0.01
# The lock error SQLite raises; the transactions lesson's prose says "the whole database is locked
# for writes", which is not one.
LOCKED = re.compile(r"database (?:table )?is locked(?! for writes)", re.IGNORECASE)
# The server closed an idle keep-alive connection as a request went out on it (geventhttpclient
# says "connection closed.", http.client RemoteDisconnected).
CLOSED = re.compile(r"no answer: .*(connection closed|RemoteDisconnected|Connection reset by peer)")
CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
LIVE = re.compile(r'<div class="live" id="live-(\w+)" hx-get="([^"]+)" hx-vals=\'\{"v": "([^"]+)"')
FOLLOWING = re.compile(r'data-following="([^"]*)"')
SHARED_RUN = re.compile(r'data-shared-run="([^"]+)"')
HELP_REQUEST = re.compile(
    r'id="help-(\d+)" data-learner="([^"]+)" data-help-state="(queued|opened)"'
)
HISTOGRAM = re.compile(r'data-snippet="([^"]+)" data-dataset="(\w+)" data-predicted="(\d+)"')
BANNER_VERSION = re.compile(r'id="room-banner".*?hx-vals=\'\{"v": "([^"]+)"', re.DOTALL)
CHOICE = re.compile(r'name="choice" value="\d+"[^>]*>\s*<span>(.*?)</span>', re.DOTALL)
CARD = re.compile(r'class="card card--(bad|fixed)" id="[^"]*" data-snippet-card="([^"]+)"')
SCALE_FORM = re.compile(r'<form class="scale-form".*?</form>', re.DOTALL)
# What a 200 must hold, by the start of the request's name.
HOLDS = {
    "exercise check": ('class="verdict', "the check came back without a verdict"),
    "quiz answer": ('class="feedback"', "the answer came back without feedback"),
    "banner poll": ('id="room-banner"', "no room banner: not taken for a joined learner"),
    "console page": ('class="console"', "not the console"),
    "console refresh": ("data-version=", "a live part without its version"),
}


def judge(name: str, response: Any, learner_page: bool) -> str:
    """What the browser makes of an answer: "" (what it needed), "busy", "queued" (a run that
    waited for a free worker and says so) or what is wrong with it."""
    status, body = response.status_code, response.text if response.status_code else ""
    if not status:
        return f"no answer: {response.error}"
    if status == 503 and response.headers.get("Retry-After"):
        return "busy"
    if LOCKED.search(body):
        return f"HTTP {status}: database is locked"
    if status in (301, 302, 303):
        where = response.headers.get("Location", "")[:60]
        if where.startswith("/join/"):  # the room turned the browser away: never a success
            return f"HTTP {status} to {where}: not a joined learner"
        return "" if name in ("join", "follow") else f"HTTP {status} to {where}"
    if status == 204 and name.startswith(
        ("console refresh", "banner poll")
    ):  # unchanged: htmx swaps nothing
        return ""
    if status != 200:
        found = re.search(r'class="problem-message"[^>]*>(.*?)</p>', body, re.DOTALL)
        return f"HTTP {status}: {clean(found.group(1) if found else body[:160])}"
    if name.startswith("run") and ('data-matches="true"' not in body or "run-error" in body):
        found = re.search(r'<p class="run-error[^"]*"[^>]*>(.*?)</p>', body, re.DOTALL)
        counts = re.search(r'data-query-count="(\d+)" data-expected-count="(\d+)"', body)
        shown = f" ({counts.group(1)} queries, {counts.group(2)} promised)" if counts else ""
        return f"the run failed: {clean(found.group(1) if found else 'no error shown')}{shown}"
    key = "banner poll" if learner_page else next((k for k in HOLDS if name.startswith(k)), "")
    if key and HOLDS[key][0] not in body:
        return HOLDS[key][1]
    return "queued" if "for a free worker first" in body else ""


def clean(text: str) -> str:
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", text)).strip())[:200]


def shows(body: str, question: str, text: str) -> bool:
    """Whether the clicker shows exactly one answer to `question`, the choice reading `text`."""
    pattern = rf'data-question="{re.escape(question)}" data-answered="1">(.*?)</article>'
    if not (found := re.search(pattern, body, re.DOTALL)):
        return False
    bars = re.findall(r'data-count="1">\s*<span class="bar-text">(.*?)</span>', found[1], re.S)
    return any(html.unescape(re.sub(r"\s*<strong.*", "", t, flags=re.S)) == text for t in bars)


@dataclass
class ProbeAnswer:
    lesson: str
    question: str
    text: str  # the choice's text, as the clicker's bar shows it
    sent: float = 0.0  # time.perf_counter() as it was sent
    seen: gevent.event.Event = field(default_factory=gevent.event.Event)
    latency: float = 0.0


# ---------------------------------------------------------------- the simulated people


class Visitor(FastHttpUser):
    """A browser: locust's FastHttpSession is its cookie jar (with keep-alive connections), and it
    holds the CSRF token of the last page it got. FastHttpUser (geventhttpclient) rather than
    HttpUser (requests): the load generator shares the server's two cores, and requests spent
    about a third of a core on 150 requests a second, CPU the server did not get and delays
    the learners' clocks counted as the server's."""

    abstract = True
    # A page and its background poll at once; a browser also keeps a few connections, not 10.
    concurrency = 2
    learner = True  # its pages must show the room's banner
    names = count(1)
    spread = count()

    def on_start(self) -> None:
        # Spread over the servers as a load balancer would (the instructor's on the first).
        bases = self.room.bases
        self.client.base_url = (
            bases[0] if not self.learner else bases[next(Visitor.spread) % len(bases)]
        )
        self.token = ""
        self.answered_at = 0.0  # time.perf_counter() as the last answer had been read
        self.pollers: list[gevent.Greenlet] = []  # what its pages ask for in the background

    def on_stop(self) -> None:
        gevent.killall(self.pollers, block=False)

    @property
    def room(self) -> Room:
        return cast(Room, self.environment.shape_class)

    def call(self, name: str, method: str, path: str, data: dict | None = None, **kw: Any) -> Any:
        """One request as the browser sends it (HX-Request as htmx does), judged as it would be."""
        if method == "POST" or name.startswith(("banner poll", "console refresh")):
            kw["headers"] = {"HX-Request": "true", **kw.get("headers", {})}
        if data is not None:
            kw["data"] = {**data, "csrfmiddlewaretoken": self.token}
        kw.update(name=name, catch_response=True, allow_redirects=False)  # 60 s timeouts
        attempts = 1 + self.concurrency  # each kept connection may be one the server closed
        for attempt in range(1, attempts + 1):
            with self.client.request(method, path, **kw) as response:
                # Until the whole answer was read: what the browser waits for (this script's own
                # parsing after it is not the server's time).
                self.answered_at = time.perf_counter()
                verdict = judge(name, response, self.learner and name in PAGES)
                if attempt < attempts and CLOSED.match(verdict):
                    # The server closed an idle keep-alive connection as the request went out on
                    # it: browsers send it again on a new connection, so does this (counted apart).
                    response.request_meta.update(request_type=ROOM, name=RESENT)
                    response.success()
                    continue
                if verdict in ("busy", "queued"):
                    response.request_meta["name"] = f"{name} {verdict}"
                if verdict in ("", "busy", "queued"):
                    response.success()
                else:
                    response.failure(
                        f"{path.split('?')[0]} {(data or {}).get('snippet', '')}: {verdict}"
                    )
            break
        if response.status_code == 200 and (token := CSRF.search(response.text)):
            self.token = token.group(1)
        return response

    def note(self, name: str, seconds: float | None, problem: str | None = None) -> None:
        """A figure that is not a request, into the phase's stats (None: no time, as for a miss)."""
        ms = None if seconds is None else seconds * 1000
        fire = self.environment.events.request.fire
        fire(request_type=ROOM, name=name, response_time=ms, response_length=0, exception=problem)

    def join(self, name: str) -> bool:
        """Join the room as a learner does: the form (for its CSRF token), then the name."""
        if self.call("join", "GET", "/join/").status_code != 200:
            return False
        joined = self.call("join", "POST", "/join/", {"name": name, "next": "/"})
        self.name = name
        return joined.status_code == 302 and not joined.headers["Location"].startswith("/join/")

    def run_snippet(
        self, lesson: str, side: str, snippet: str, dataset: str, predict: str = "", **kw: Any
    ) -> Any:
        data = {"snippet": snippet, "dataset": dataset}
        if predict:
            data["predict"] = predict
        answer = self.call(f"run {side} {dataset}", "POST", f"/lessons/{lesson}/run/", data, **kw)
        if predict and answer.status_code == 200 and "data-prediction=" in answer.text:
            # Kept: the console's histogram of this card should count it from now on.
            self.room.predictions[(lesson, snippet, dataset)].append(time.perf_counter())
        if answer.status_code == 200 and "data-query-count" in answer.text:
            # Which execution answered: one shared by several presses, or one of its own.
            shared = SHARED_RUN.search(answer.text)
            self.room.executions.add(shared[1] if shared else f"own {next(self.names)}")
            self.room.answered_runs += 1
        return answer


class Learner(Visitor):
    """Follows the instructor: its page asks for the banner every 4 s in the background; it opens
    the lesson the banner points at, runs its pairs on medium, answers its questions (all but the
    last: the probe's), then keeps working (the outline, a pair again, another answer, an exercise
    check with --editing); one action per think time."""

    wait_time = between(*THINK)

    def on_start(self) -> None:
        super().on_start()
        self.lesson = self.following = self.banner_version = ""
        self.here = "/"
        self.scripted: set[str] = set()  # lessons whose pairs and questions were gone through
        self.todo: list[tuple[str, Any, str]] = []  # (action, what, on which lesson)
        self.pairs: list[list[tuple[str, str]]] = []  # each [(side, snippet)], bad then fixed
        self.questions: list[tuple[str, list[str]]] = []  # (id, choice texts by position)
        self.exercises: list[tuple[str, str]] = []  # (id, starting code) when checking is on
        self.predicted: set[tuple[str, str]] = set()  # (lesson, snippet) run with a prediction
        self.come_in()
        self.room.reached["lessons"].wait()
        self.poll_banner()
        self.pollers.append(gevent.spawn(self.banner_loop))
        if self.room.together and self.learner_of_the_room:
            self.pollers.append(gevent.spawn(self.together_loop))

    learner_of_the_room = True  # the probe keeps to its own part

    def together_loop(self) -> None:
        """At each switch, told "now run the first pair": open the lesson and press Run on both
        of its cards within three seconds, whatever else it was doing."""
        seen = 0
        while not self.room.reached["end"].is_set():
            if seen == len(self.room.switches):
                gevent.sleep(0.05)
                continue
            slug, at, _ = self.room.switches[seen]
            seen = len(self.room.switches)
            gevent.sleep(random.uniform(0, 1.5))
            self.following = slug
            self.open_lesson(slug)
            self.scripted.add(slug)
            pairs, questions, _ = Learner.parsed.get(slug, ([], [], []))  # act() goes on meanwhile
            self.todo = [("answer", question, slug) for question, _ in questions[:-1]]
            for side, snippet in pairs[0] if pairs else []:
                gevent.sleep(random.uniform(0, 0.5))
                run = self.run_snippet(slug, side, snippet, LEARNER_DATASET)
                problem = None if run.status_code == 200 else f"HTTP {run.status_code}"
                self.note(PRESSED, time.perf_counter() - at, problem)

    def poll_banner(self) -> None:
        """As htmx asks: with the version the banner it holds was drawn at (hx-vals)."""
        path = f"/room/banner/?here={quote(self.here, '')}&v={self.banner_version}"
        response = self.call("banner poll", "GET", path)
        self.hold_banner(response)

    def hold_banner(self, response: Any) -> None:
        """The banner a page or a poll drew replaces the one the browser holds (a 204 leaves it)."""
        if response.status_code == 200 and (version := BANNER_VERSION.search(response.text)):
            self.banner_version = version[1]
            if found := FOLLOWING.search(response.text):
                self.following = found.group(1)

    def banner_loop(self) -> None:
        # The banner swaps itself (outerHTML), so the next ask is 4 s after each answer.
        while not self.room.reached["end"].wait(BANNER_EVERY):
            self.poll_banner()

    def open_lesson(self, slug: str) -> float | None:
        """Open a lesson, then its charts as htmx would (a chart form that loads itself, again
        2 s later while "being measured elsewhere"): the seconds until a chart was in hand."""
        started = time.perf_counter()
        page = self.call("lesson page", "GET", f"/lessons/{slug}/?dataset={LEARNER_DATASET}")
        self.lesson, self.here = slug, f"/lessons/{slug}/"
        self.hold_banner(page)
        text = page.text if page.status_code == 200 else ""
        self.read_lesson(text, slug)
        in_hand = self.answered_at - started if 'class="charts"' in text else None
        for form in SCALE_FORM.findall(text):
            for _ in range(10):
                pair = re.search(r'name="pair" value="([^"]+)"', form)
                if not pair or 'hx-trigger="load' not in form:
                    break
                gevent.sleep(2 if "delay:2s" in form else 0)
                data = {"pair": pair[1], "dataset": LEARNER_DATASET}
                answer = self.call("chart", "POST", f"/lessons/{slug}/scale/", data).text
                if 'class="charts"' in answer and in_hand is None:
                    in_hand = self.answered_at - started
                form = found[0] if (found := SCALE_FORM.search(answer)) else ""
        return in_hand

    # A lesson page's pairs, questions and exercises, read once for every learner: 200 learners
    # parsing the same page in this one process would slow the load generator, not the server.
    # Only the order of a question's choices differs between learners, and a learner answers by
    # position; the probe, which answers by text, reads its own page.
    parsed: dict[str, tuple[Any, ...]] = {}

    def read_lesson(self, text: str, slug: str) -> None:
        """The lesson's comparison pairs, questions and exercises, as its page shows them."""
        if not self.learner_of_the_room or slug not in Learner.parsed:
            self.parse_lesson(text)
            if self.learner_of_the_room and text:
                Learner.parsed[slug] = (self.pairs, self.questions, self.exercises)
            return
        self.pairs, self.questions, self.exercises = Learner.parsed[slug]

    def parse_lesson(self, text: str) -> None:
        sections = (CARD.findall(section) for section in text.split('<section class="pair')[1:])
        self.pairs = [sorted(cards) for cards in sections if len(cards) == 2]
        self.questions = [
            (found[1], [html.unescape(t) for t in CHOICE.findall(form)])
            for form in text.split('<form class="question')[1:]
            if (found := re.search(r'name="question" value="([^"]+)"', form))
        ]
        self.exercises = [
            (found[1], html.unescape(code[1]))
            for form in text.split('<form class="exercise-form"')[1:]
            if (found := re.search(r'name="exercise" value="([^"]+)"', form))
            and (code := re.search(r'<textarea[^>]*name="code"[^>]*>(.*?)</textarea>', form, re.S))
        ]

    def come_in(self) -> None:
        """Arrival: join once the instructor has led the room to the first lesson, then open it
        at the moment every other learner does."""
        room = self.room
        room.led_in.wait()
        self.joined = self.join(f"learner {next(self.names)}")
        room.joins.append(self.joined)
        if len(room.joins) == room.learners:
            room.all_joined.set()
        room.all_joined.wait(timeout=60)
        in_hand = self.open_lesson(TAUGHT[0]) if self.joined else None
        self.note(CHART, in_hand, None if in_hand is not None else "no chart")
        room.arrived += 1

    @task
    def step(self) -> None:
        self.act()  # the probe's own act (locust would run both classes' tasks on a probe)

    def act(self) -> None:
        if not self.joined:  # turned away on arrival: tries again, as a late-comer
            self.joined = self.join(f"learner {next(self.names)} late")
        elif self.following and self.following != self.lesson:
            self.open_lesson(self.following)
        elif self.lesson and self.lesson not in self.scripted:  # not when back from the outline
            self.scripted.add(self.lesson)
            lesson = self.lesson
            runs = [("run", card, lesson) for pair in self.pairs for card in pair]
            answers = [("answer", question, lesson) for question, _ in self.questions[:-1]]
            self.todo = [*runs, *answers]
            if runs and random.random() < STUCK_SHARE:  # stuck on a card after running it
                self.todo.insert(random.randint(1, len(runs)), ("stuck", runs[0][1], lesson))
            self.act()
        elif self.todo:
            self.do(*self.todo.pop(0))
        else:  # the lesson's script is done: keep working on it until the next one
            action = random.choice(["outline", "run", "run", "answer", "answer", "check", "check"])
            # What this page shows now (--together may open another lesson meanwhile).
            lesson, pairs, questions = self.lesson, self.pairs, self.questions
            if action == "run" and pairs:
                for card in random.choice(pairs):
                    self.do("run", card, lesson)
            elif action == "answer" and questions[:-1]:
                self.do("answer", random.choice(questions[:-1])[0], lesson)
            elif action == "check" and self.exercises:
                exercise, code = random.choice(self.exercises)
                path = f"/lessons/{self.lesson}/exercise/check/"
                self.call("exercise check", "POST", path, {"exercise": exercise, "code": code})
            else:
                self.hold_banner(self.call("outline", "GET", f"/?dataset={LEARNER_DATASET}"))
                self.here, self.lesson = "/", ""  # back to the lesson the banner points at next

    def do(self, action: str, what: Any, lesson: str) -> None:
        """A run, an answer or "I'm stuck" on the page of `lesson`, where it was asked for."""
        if action == "stuck":
            self.raise_hand(lesson, what[1])
        elif action == "run":
            side, snippet = what
            # A card's first run on this data asks for a prediction; a few learners skip it.
            first = (lesson, snippet) not in self.predicted
            predict = random.choice(GUESSES) if first else ""
            if first:
                self.predicted.add((lesson, snippet))
            answer = self.run_snippet(lesson, side, snippet, LEARNER_DATASET, predict)
            if answer.status_code != 200:
                self.predicted.discard((lesson, snippet))  # not run: it still asks
            if answer.status_code == 503:
                self.todo.insert(0, ("run", what, lesson))  # "try again in a moment": next
        else:
            questions = dict(Learner.parsed.get(lesson, ([], self.questions, []))[1])
            choice = str(random.randrange(len(questions[what])))
            data = {"question": what, "choice": choice, "dataset": LEARNER_DATASET}
            self.call("quiz answer", "POST", f"/lessons/{lesson}/quiz/", data)

    def raise_hand(self, lesson: str, snippet: str) -> None:
        """ "I'm stuck" with the card's code, shared; a few give up waiting and cancel."""
        data = {"snippet": snippet, "dataset": LEARNER_DATASET, "code": STUCK_CODE}
        data |= {"shareable": "1", "here": self.here}
        asked = self.call("stuck", "POST", f"/lessons/{lesson}/help/", data)
        if asked.status_code == 200:
            self.room.hands.setdefault(self.name, time.perf_counter())  # asking again keeps it
            self.hold_banner(asked)
        if random.random() < CANCEL_SHARE:
            gevent.sleep(random.uniform(*THINK))
            cancelled = self.call("stuck cancel", "POST", "/room/help/cancel/", {"here": self.here})
            if cancelled.status_code == 200:
                self.room.hands.pop(self.name, None)
                self.hold_banner(cancelled)


class Probe(Learner):
    """A learner who joins as the lessons start and answers only the followed lesson's last
    question, alternating between its first two choices, and waits until the console shows each
    answer (a miss past 15 s; left out when the console moves on first, or the run ends)."""

    fixed_count = 1
    learner_of_the_room = False

    def come_in(self) -> None:
        self.room.reached["lessons"].wait()
        self.join("probe")
        self.answered = 0

    def act(self) -> None:
        if self.following and self.following != self.lesson:
            self.open_lesson(self.following)
        elif self.room.phase != "end" and self.questions:
            self.answer()

    def answer(self) -> None:
        room = self.room
        question, choices = self.questions[-1]
        position, self.answered = self.answered % 2, self.answered + 1  # not the choice it holds
        # Pending before it is sent: a refresh that comes before the answer's own response may
        # already show it.
        answer = room.pending = ProbeAnswer(self.lesson, question, choices[position])
        answer.sent, path = time.perf_counter(), f"/lessons/{self.lesson}/quiz/"
        data = {"question": question, "choice": str(position), "dataset": LEARNER_DATASET}
        if self.call("quiz answer", "POST", path, data).status_code == 200:
            while not answer.seen.wait(timeout=0.2):
                if time.perf_counter() > answer.sent + VISIBLE_GIVE_UP:
                    self.note(SEEN, None, f"not shown within {VISIBLE_GIVE_UP:g} s")
                    break
                if room.clicker_lesson != answer.lesson or room.phase == "end":
                    self.note(LEFT_OUT, 0)
                    break
            else:
                self.note(SEEN, answer.latency)
        room.pending = None  # an answer that failed is counted as such: nothing to look for


class Instructor(Visitor):
    """Opens the console and leads the room to the first lesson, warms up, then keeps the
    console's live parts refreshed as the browser does while leading the room through the
    lessons."""

    fixed_count = 1
    wait_time = constant(1)
    learner = False

    def on_start(self) -> None:
        super().on_start()
        room = self.room
        self.live: dict[str, tuple[str, str]] = {}  # part -> (its URL, the version drawn)
        self.open_console(room.console)
        self.follow(TAUGHT[0])
        room.led_in.set()
        room.reached["warm-up"].wait()
        # The outline and a few runs (the first run in a slot copies the datasets it needs),
        # on new connections so that both gunicorn workers are likely to get one.
        self.call("outline", "GET", f"/?dataset={LEARNER_DATASET}")
        for _ in range(4):
            started, close = time.perf_counter(), {"Connection": "close"}
            run = (STORM_LESSON, "fixed", "count-comments.fixed", LEARNER_DATASET)
            self.run_snippet(*run, headers=close)
            room.first_runs.append(time.perf_counter() - started)
        if failed := self.environment.stats.errors.values():  # the warm-up phase's own stats
            room.problem = "the warm-up failed: " + "; ".join(e.to_name() for e in failed)
        gevent.sleep(2)  # the service settles before its memory at rest is read
        room.warmed.set()
        room.reached["lessons"].wait()
        self.pollers += [gevent.spawn(self.refresh_loop, part) for part in LIVE_EVERY]

    def open_console(self, path: str) -> None:
        page = self.call("console page", "GET", path)
        for part, url, version in LIVE.findall(page.text if page.status_code == 200 else ""):
            self.live[part] = (html.unescape(url), version)
            if part == "clicker":
                self.room.clicker_lesson = self.observe(html.unescape(url), page.text)

    def observe(self, url: str, body: str) -> str:
        """A clicker just received (a refresh or the console page) may show the probe's pending
        answer. Returns the lesson the clicker is for."""
        at, pending = time.perf_counter(), self.room.pending
        lesson = found[1] if (found := re.search(r"lesson=([\w-]+)", url)) else ""
        fresh = pending and not pending.seen.is_set() and lesson == pending.lesson
        if pending and fresh and shows(body, pending.question, pending.text):
            pending.latency = at - pending.sent
            pending.seen.set()
        return lesson

    def see_predictions(self, body: str) -> None:
        """The histograms just received count some predictions: each kept one they now include
        is seen, as long after its run answered."""
        at, room = time.perf_counter(), self.room
        lesson = found[1] if (found := re.search(r'name="lesson" value="([\w-]+)"', body)) else ""
        for snippet, dataset, total in HISTOGRAM.findall(body):
            key = (lesson, snippet, dataset)
            answered, seen = room.predictions[key], room.predictions_seen[key]
            for sent in answered[seen : int(total)]:
                self.note(PREDICTED, max(0.0, at - sent))
            room.predictions_seen[key] = max(seen, min(int(total), len(answered)))

    def see_help(self, body: str) -> None:
        """The queue just received: its new hands are seen. Then the instructor walks over:
        marks done the learner they were with and opens the next request, oldest first, as a
        click on the console does; the queue each click swaps in is looked at too."""
        listed = self.notice_hands(body)
        opened = [pk for pk, _, state in listed if state == "opened"]
        queued = [pk for pk, _, state in listed if state == "queued"]
        url = f"{self.room.console}help/answer/"
        for pk, do in [*((pk, "done") for pk in opened[:1]), *((pk, "open") for pk in queued[:1])]:
            response = self.call(f"console help {do}", "POST", url, {"request": pk, "do": do})
            if response.status_code == 200 and (found := LIVE.search(response.text)):
                self.live["help"] = (html.unescape(found[2]), found[3])
                self.notice_hands(response.text)

    def notice_hands(self, body: str) -> list[tuple[str, str, str]]:
        """Each raised hand a queue lists for the first time is seen, as long after it went
        up. The queue's requests: (id, learner, state)."""
        at, room = time.perf_counter(), self.room
        listed = HELP_REQUEST.findall(body)
        for _, name, _ in listed:
            if (raised := room.hands.pop(html.unescape(name), None)) is not None:
                self.note(HELPED, max(0.0, at - raised))
        return listed

    def refresh_loop(self, part: str) -> None:
        """htmx's `every Ns`: a timer that fires every N s and does not overlap its own request;
        a 200 swaps the part (outerHTML), whose new timer starts from then."""
        due = time.monotonic() + LIVE_EVERY[part]
        while not self.room.reached["end"].wait(max(0.0, due - time.monotonic())):
            if part not in self.live:  # the console page did not draw it
                break
            url, version = self.live[part]
            started, joiner = time.monotonic(), "&" if "?" in url else "?"
            response = self.call(f"console refresh {part}", "GET", f"{url}{joiner}v={version}")
            if response.status_code == 200 and (found := LIVE.search(response.text)):
                if self.live.get(part) == (url, version):  # not redrawn by a console page since
                    self.live[part] = (html.unescape(found[2]), found[3])
                if part == "clicker":
                    self.observe(url, response.text)
                if part == "predictions":
                    self.see_predictions(response.text)
                if part == "help":
                    self.see_help(response.text)
                started = time.monotonic()
            due = max(started + LIVE_EVERY[part], time.monotonic())

    @task
    def lead(self) -> None:
        if self.room.taught.is_set():
            return
        for number, slug in enumerate(TAUGHT):
            if number:  # the room arrived on the first one
                self.follow(slug)
            gevent.sleep(self.room.lesson_seconds * random.uniform(0.8, 1.2))
        self.room.taught.set()

    def follow(self, slug: str) -> None:
        data = {"lesson": slug, "follow": "start"}
        answer = self.call("follow", "POST", f"{self.room.console}follow/", data)
        if self.room.reached["lessons"].is_set():  # "now everyone: run the first pair"
            switched = gevent.event.Event()
            self.room.switches.append((slug, time.perf_counter(), switched))
            switched.set()
        # The browser follows the redirect to the console (the fragment stays in the browser).
        where = urlsplit(answer.headers.get("Location", "") if answer.status_code == 302 else "")
        self.open_console(f"{where.path or self.room.console}?{where.query or f'lesson={slug}'}")


class Storm(Visitor):
    """A joined user running the large n-plus-one bad snippet again as soon as the last one
    answered, or when a busy answer's Retry-After says."""

    wait_time = constant(0)

    def on_start(self) -> None:
        super().on_start()
        self.join(f"storm {next(self.names)}")
        self.call("lesson page", "GET", f"/lessons/{STORM_LESSON}/?dataset={STORM_DATASET}")

    @task
    def storm(self) -> None:
        response = self.run_snippet(STORM_LESSON, "bad", STORM_SNIPPET, STORM_DATASET)
        if response.status_code == 503:
            gevent.sleep(float(response.headers.get("Retry-After") or 1))


# ---------------------------------------------------------------- the phases


class Room(LoadTestShape):
    """The phases as a locust shape: the room (the instructor, the probe and the learners), then
    the storm's users too. A phase ends when its users have done their part (checked each tick),
    the storm when its time is up; the phase keeps its seconds, CPU, users and locust stats, and
    a fresh RequestStats takes over."""

    def __init__(self, server: Servers, console: str, args: argparse.Namespace) -> None:
        super().__init__()
        self.server, self.console, self.learners = server, console, args.learners
        self.lesson_seconds, self.storm_seconds = args.lesson_seconds, args.storm_seconds
        self.storm = args.storm if args.storm_seconds > 0 else 0
        self.phase, self.problem = "arrival", ""  # problem: why the room cannot go on
        self.reached = {phase: gevent.event.Event() for phase in PHASES}
        self.reached["arrival"].set()
        self.began, self.cpu_at = {"arrival": time.monotonic()}, {"arrival": cpu_snapshot(server)}
        self.stats: dict[str, RequestStats] = {}
        # phase -> (its seconds, its CPU seconds (web, runs, generator, machine), its users)
        self.ended: dict[str, tuple[float, tuple[float, ...], dict[str, int]]] = {}
        self.peak: dict[str, tuple[int, int]] = defaultdict(lambda: (0, 0))  # RSS, PSS sums
        self.processes, self.rest = 0, (0, 0, 0)  # most processes at once; RSS, PSS, processes
        # What the users tell each other.
        self.bases: list[str] = []  # each server's address
        self.together = args.together  # the whole room presses Run within 3 s of each switch
        self.executions: set[str] = set()  # the runs that answered the room's presses
        self.answered_runs = 0
        self.switches: list[tuple[str, float, gevent.event.Event]] = []  # (lesson, at, its event)
        self.led_in, self.all_joined = gevent.event.Event(), gevent.event.Event()
        self.warmed, self.taught = gevent.event.Event(), gevent.event.Event()
        self.joins: list[bool] = []
        self.arrived = 0
        self.first_runs: list[float] = []
        self.clicker_lesson = ""  # the lesson the instructor's clicker shows now
        self.pending: ProbeAnswer | None = None
        # (lesson, snippet, dataset) -> when each kept prediction's run answered; how many of
        # them the console's histogram has shown.
        self.predictions: dict[tuple[str, str, str], list[float]] = defaultdict(list)
        self.predictions_seen: dict[tuple[str, str, str], int] = defaultdict(int)
        self.hands: dict[str, float] = {}  # learner -> when their hand went up, until listed

    def tick(self) -> tuple[int, float, list[type[User]]] | None:
        if self.phase != "end":
            elapsed = time.monotonic() - self.began[self.phase]
            done, limit = {
                "arrival": (self.arrived >= self.learners, 120.0),
                "warm-up": (self.warmed.is_set(), 120.0),
                "lessons": (self.taught.is_set(), len(TAUGHT) * self.lesson_seconds * 1.2 + 60),
                "storm": (elapsed >= self.storm_seconds, float("inf")),
            }[self.phase]
            if done and self.phase == "arrival" and not any(self.joins):
                self.problem = "no learner could join the room"
            if not done and elapsed > limit:
                self.problem = f"the {self.phase} phase did not end within {limit:.0f} s"
            if done or self.problem:
                self.advance()
        room = self.learners + 2  # the learners, the probe and the instructor
        if self.phase == "storm":
            return room + self.storm, self.storm / 2, [Storm]
        return None if self.phase == "end" else (room, room, [Instructor, Probe, Learner])

    def advance(self) -> None:
        assert self.runner is not None
        now, phase, snapshot = time.monotonic(), self.phase, cpu_snapshot(self.server)
        cpu = tuple(b - a for a, b in zip(self.cpu_at[phase], snapshot, strict=True))
        self.ended[phase] = (now - self.began[phase], cpu, dict(self.runner.user_classes_count))
        following = "end" if self.problem else PHASES[PHASES.index(phase) + 1]
        following = "end" if following == "storm" and not self.storm else following
        if following == "lessons":
            self.rest = self.server.memory()
        if following != "end":  # the last phase's stats are kept once its users have stopped
            environment = self.runner.environment
            self.stats[phase], environment.stats = environment.stats, RequestStats()
        self.phase, self.began[following], self.cpu_at[following] = following, now, snapshot
        self.reached[following].set()

    def finish(self) -> None:
        """Keep the last phase's stats, with the requests in flight as it ended."""
        assert self.runner is not None
        self.stats[list(self.ended)[-1]] = self.runner.stats

    def sample_memory(self) -> None:
        while True:
            rss, pss, processes = self.server.memory()
            top = self.peak[self.phase]
            self.peak[self.phase] = (max(top[0], rss), max(top[1], pss))
            self.processes = max(self.processes, processes)
            gevent.sleep(0.5)


# ---------------------------------------------------------- the server, as the workshop runs it


class Server:
    def __init__(self, port: int, editing: bool, make_args: list[str] | None = None) -> None:
        self.var, self.port = Path(tempfile.mkdtemp(prefix="room-var-")), port
        # A fresh room each time: on PostgreSQL the last one and its learners' names stay open.
        self.make_args = [
            f"PORT={port}",
            "NEW=1",
            *(["EDITING=on"] if editing else []),
            *(make_args or []),
        ]
        self.log_path = self.var / "server.log"
        self.env = {**os.environ, "COURSE_VAR_DIR": str(self.var)}
        self.process: subprocess.Popen[bytes] | None = None

    def copy_var(self, source: Path) -> None:
        """The seeded datasets (and stored charts) of `source`, copied consistently."""
        for name in ("tiny", "medium", "large"):
            if not (path := source / f"{name}.sqlite3").exists():
                raise SystemExit(f"{path} is missing: run `make seed` first.")
            with (
                contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as src,
                contextlib.closing(sqlite3.connect(self.var / path.name)) as dst,
            ):
                src.backup(dst)
        if (source / "scale").is_dir():
            shutil.copytree(source / "scale", self.var / "scale")

    def start(self) -> str:
        """Run `make workshop`'s set-up steps, then its server bound to 127.0.0.1; the console's
        path (with the room's token), as `manage.py workshop` printed it."""
        make = ["make", "--silent", "--dry-run", "--old-file=.venv/.installed", "workshop"]
        listed = subprocess.run(make + self.make_args, cwd=ROOT, capture_output=True, text=True)
        lines = [line.strip() for line in listed.stdout.splitlines() if line.strip()]
        public = f"--bind 0.0.0.0:{self.port}"  # gunicorn's, the last step
        if not lines or public not in lines[-1] or any("manage.py" not in s for s in lines[:-1]):
            raise SystemExit(f"`make -n workshop` is not the steps this script knows: {lines}")
        *steps, serve = lines
        console = ""
        with open(self.log_path, "ab") as log:
            for step in steps:
                print(f"  $ {step}", flush=True)
                shell = ["sh", "-c", step]
                out = subprocess.run(
                    shell, cwd=ROOT, env=self.env, stdout=subprocess.PIPE, check=True
                )
                log.write(out.stdout)
                if found := re.search(rb"Your console:\s*\S+?(/console/[^/\s]+/)", out.stdout):
                    console = found[1].decode()
            serve = serve.replace(public, f"--bind 127.0.0.1:{self.port}")
            print(f"  $ {serve}", flush=True)
            words = shlex.split(serve)
            first = next(i for i, word in enumerate(words) if not re.match(r"\w+=", word))
            env = {**self.env, **dict(word.split("=", 1) for word in words[:first])}
            # gunicorn itself, in its own process group (stopped as one at the end).
            self.process = subprocess.Popen(
                words[first:],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        import requests  # after locust's gevent monkey-patching, as ssl must be

        deadline = time.monotonic() + 60  # the port opens before gunicorn's workers are ready
        while console and time.monotonic() < deadline and self.process.poll() is None:
            with contextlib.suppress(requests.RequestException):
                requests.get(f"http://127.0.0.1:{self.port}/favicon.ico", timeout=5)
                return console
            gevent.sleep(0.2)
        tail = "\n".join(self.log_path.read_text(errors="replace").splitlines()[-30:])
        raise SystemExit(f"the server did not answer (console: {console or 'none'}):\n{tail}")

    def tree(self) -> list[psutil.Process]:
        """The gunicorn master and every process below it (workers, warm processes, runs)."""
        with contextlib.suppress(psutil.NoSuchProcess):
            if self.process is not None:
                master = psutil.Process(self.process.pid)
                return [master, *master.children(recursive=True)]
        return []

    def memory(self) -> tuple[int, int, int]:
        """(sum of RSS, sum of PSS, processes) of the whole service. RSS counts pages shared
        between forked processes once per process; PSS shares them out."""
        rss = pss = processes = 0
        for process in self.tree():
            with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
                info = process.memory_full_info()
                rss, pss = rss + info.rss, pss + getattr(info, "pss", info.rss)
                processes += 1
        return rss, pss, processes

    def cpu_seconds(self) -> tuple[float, float]:
        """(web, runs): CPU time used so far by the gunicorn processes, and by the run service's
        warm processes with every run forked from them (live, or reaped by them)."""
        used = {"web": 0.0, "runs": 0.0}
        for process in self.tree():
            with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
                t = process.cpu_times()
                runs = "lessons.engine.child" in " ".join(process.cmdline())
                used["runs" if runs else "web"] += sum(t[:4])  # its own and its reaped children's
        return used["web"], used["runs"]

    def stop(self) -> None:
        if self.process is None:
            return
        left = self.tree()
        for sig in (signal.SIGTERM, signal.SIGKILL):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, sig)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=15)
                break
        gevent.sleep(0.5)
        for process in left:  # run processes live in process groups of their own
            with contextlib.suppress(psutil.NoSuchProcess):
                process.kill()


class Servers:
    """Several servers of one room (--servers): each with its own var/ and run pool, the room and
    the progress in the one PostgreSQL database DATABASE_URL names, as README: Several app
    servers sets them up. Measured together."""

    def __init__(self, servers: list[Server]) -> None:
        self.servers = servers

    def tree(self) -> list[psutil.Process]:
        return [process for server in self.servers for process in server.tree()]

    def memory(self) -> tuple[int, int, int]:
        return cast(
            tuple[int, int, int],
            tuple(sum(parts) for parts in zip(*(s.memory() for s in self.servers), strict=True)),
        )

    def cpu_seconds(self) -> tuple[float, float]:
        return cast(
            tuple[float, float],
            tuple(sum(p) for p in zip(*(s.cpu_seconds() for s in self.servers), strict=True)),
        )

    def log_text(self) -> str:
        return "".join(s.log_path.read_text(errors="replace") for s in self.servers)


def cpu_snapshot(server: Servers) -> tuple[float, float, float, float]:
    """(web, runs, this load generator, whole machine) CPU seconds used so far."""
    machine, me = psutil.cpu_times(), psutil.Process().cpu_times()
    busy = sum(machine) - machine.idle - getattr(machine, "iowait", 0.0)
    return (*server.cpu_seconds(), me.user + me.system, busy)


# ---------------------------------------------------------------- the report


def mb(size: int) -> str:
    return f"{size / 2**20:,.0f} MB"


def p95(entries: list[StatsEntry]) -> float:
    """Seconds, over the entries' requests together (NaN for none)."""
    times: Counter[int] = sum((Counter(entry.response_times) for entry in entries), Counter())
    total = sum(times.values())
    return calculate_response_time_percentile(times, total, 0.95) / 1000 if total else float("nan")


def slow(entry: StatsEntry) -> int:
    return sum(n for ms, n in entry.response_times.items() if ms > SLOW_SECONDS * 1000)


def rank(entry: StatsEntry) -> tuple[int, str, str]:
    """The report's order: by kind of request, each busy or queued answer after its request."""
    kind = next((i for i, start in enumerate(ROWS) if entry.name.startswith(start)), len(ROWS))
    return kind, entry.name, entry.method


def report_phase(room: Room, phase: str, title: str) -> dict[str, Any]:
    stats, seconds, (web, runs, me, machine) = room.stats[phase], *room.ended[phase][:2]
    entries = sorted((e for e in stats.entries.values() if e.method != ROOM), key=rank)
    total, errors = sum(e.num_requests for e in entries), sum(e.num_failures for e in entries)
    busy = {(e.name[:-5], e.method): e.num_requests for e in entries if e.name.endswith(" busy")}
    locked = sum(e.occurrences for e in stats.errors.values() if LOCKED.search(e.to_name()))
    print(f"\n{title}: {seconds:.0f} s, {total:,} requests")
    print(
        f"  requests/s {total / seconds:6.1f}   errors {errors}   busy (503 with Retry-After) "
        f"{sum(busy.values())}   database is locked {locked}   sent again on a new connection "
        f"{stats.get(RESENT, ROOM).num_requests}"
    )
    other, cores = max(0.0, machine - web - runs - me), os.cpu_count() or 1
    print(
        f"  CPU seconds used: web {web:.0f}, runs {runs:.0f}, load generator {me:.0f}, other "
        f"processes {other:.0f} (of {seconds * cores:.0f} on {cores} cores)"
    )
    columns = ("n", "errors", "busy", "p50 ms", "p95 ms", "p99 ms", "max ms", ">5 s")
    widths = (6, 8, 6, 9, 9, 9, 9, 6)
    print(f"  {'request':<40}" + "".join(f"{c:>{w}}" for c, w in zip(columns, widths, strict=True)))
    for e in entries:
        twin = e.name.endswith(TWINS)
        cells: tuple[int, ...] = (
            e.num_requests,
            e.num_failures,
            0 if twin else busy.get((e.name, e.method), 0),
        )
        top = e.max_response_time
        times = [min(e.get_response_time_percentile(p), top) for p in (0.5, 0.95, 0.99)] + [top]
        cells += (*(round(t) for t in times), slow(e))
        label = f"  answered {e.name.rsplit(' ', 1)[1]}" if twin else f"{e.method} {e.name}"
        print(f"  {label:<40}" + "".join(f"{c:>{w}}" for c, w in zip(cells, widths, strict=True)))
    failures = [e for e in stats.errors.values() if e.method != ROOM]
    for error in sorted(failures, key=lambda e: -e.occurrences)[:8]:
        print(f"  error x{error.occurrences}: {error.to_name()}")
    rss, pss = room.peak[phase]
    print(f"  service memory, peak: RSS sum {mb(rss)} (PSS sum {mb(pss)})")
    return {
        "errors": errors,
        "locked": locked,
        "page_p95": p95([e for e in entries if e.name in PAGES]),
        "console_p95": p95([e for e in entries if e.name.startswith("console refresh")]),
        "slow": Counter({e.name: slow(e) for e in entries if not e.name.endswith(TWINS)}),
        "runs": sum(e.num_requests for e in entries if e.name.startswith("run ")),
        "runs_busy": sum(
            e.num_requests
            for e in entries
            if e.name.startswith("run ") and e.name.endswith(" busy")
        ),
    }


def report_visibility(room: Room, phase: str) -> tuple[int, float]:
    """Prints the probe's answers seen on the console: (how many, the slowest; inf: a miss)."""
    seen, left_out = room.stats[phase].get(SEEN, ROOM), room.stats[phase].get(LEFT_OUT, ROOM)
    top, shown = seen.max_response_time, seen.num_requests - seen.num_failures
    p50, p95 = (min(seen.get_response_time_percentile(p), top) for p in (0.5, 0.95))
    print(
        f"  {phase}: {seen.num_requests} probe answers, "
        + (f"p50 {p50:.0f} ms, p95 {p95:.0f} ms, max {top:.0f} ms" if shown else "none seen")
        + f"; {seen.num_failures} not shown within {VISIBLE_GIVE_UP:g} s; {left_out.num_requests}"
        " left out (the console had moved to the next lesson, or the run ended)"
    )
    return seen.num_requests, float("inf") if seen.num_failures or not shown else top / 1000


def report(room: Room, args: argparse.Namespace, server: Servers, exceptions: list[str]) -> None:
    arrival = room.stats["arrival"]
    charts, joins = arrival.get(CHART, ROOM), arrival.get("join", "POST")
    chart_wait = charts.max_response_time / 1000 if not charts.num_failures else float("inf")
    print(
        f"\nArrival on the fresh server: {joins.num_requests - joins.num_failures} of "
        f"{args.learners} learners joined, then opened {TAUGHT[0]} at once: chart in hand p50 "
        f"{charts.get_response_time_percentile(0.5):.0f} ms, max {charts.max_response_time:.0f} "
        f"ms, {charts.num_failures} without a chart"
    )
    runs = ", ".join(f"{t * 1000:.0f}" for t in room.first_runs)
    print(f"Warm-up: the outline; first runs after start (medium): {runs} ms")
    rss, pss, processes = room.rest
    print(f"Service memory at rest: RSS sum {mb(rss)} (PSS sum {mb(pss)}), {processes} processes")
    users = {
        phase: ended[2] for phase, ended in room.ended.items() if phase in ("lessons", "storm")
    }
    print(f"\nUsers: {users}; learners think {THINK[0]:g}-{THINK[1]:g} s between actions")
    titles = {
        "arrival": f"Arrival: the console, then {args.learners} learners join and open {TAUGHT[0]}",
        "lessons": f"The lessons: {args.learners} learners, the probe and the instructor's console",
        "storm": f"Storm: the room on {TAUGHT[-1]} + {room.storm} looping {STORM_LESSON} "
        f"{STORM_SNIPPET} on {STORM_DATASET}",
    }
    phases = {p: report_phase(room, p, title) for p, title in titles.items() if p in room.stats}
    print("\nAnswers visible on the console (probe answer sent -> first clicker showing it)")
    answers, worst = report_visibility(room, "lessons")
    if "storm" in phases:
        report_visibility(room, "storm")
    peak_rss, peak_pss = (max(peak[i] for peak in room.peak.values()) for i in (0, 1))
    print(
        f"\nService memory: at rest RSS sum {mb(rss)} (PSS {mb(pss)}); peak RSS sum "
        f"{mb(peak_rss)} (PSS {mb(peak_pss)}), up to {room.processes} processes"
    )
    log = server.log_text()
    log_locked, tracebacks = len(LOCKED.findall(log)), log.count("Traceback (most recent call")
    print(f"Server log: {tracebacks} tracebacks, {log_locked} 'database is locked'")
    if exceptions:
        print(f"Load script exceptions: {exceptions[:3]}")

    def target(label: str, figure: object, ok: bool) -> None:
        print(f"  {label}: {figure} -> {'met' if ok else 'NOT met'}")

    def under(label: str, seconds: float, limit: float) -> None:
        figure = f"{seconds * 1000:.0f} ms, target under {limit * 1000:.0f} ms"
        target(label, figure, seconds < limit)

    lessons, storm = phases["lessons"], phases.get("storm")
    errors = phases["arrival"]["errors"] + lessons["errors"]
    locked = sum(p["locked"] for p in phases.values()) + log_locked
    slowest: Counter[str] = +sum(
        (p["slow"] for p in phases.values()), Counter()
    )  # + drops the zeros
    shown = f"over {VISIBLE_GIVE_UP:g} s" if worst == float("inf") else f"{worst * 1000:.0f} ms"
    print("\nTargets (the workshop issue: a scripted room on this 2-core machine)")
    target("zero errors (arrival and the three lessons)", errors, errors == 0)
    runs, runs_busy = lessons["runs"], lessons["runs_busy"]
    share = runs_busy / runs if runs else 0.0
    figure = f"{runs_busy:,} of {runs:,} ({share:.1%})"
    target(
        f"course-snippet runs answered busy, at most {BUSY_TARGET:.0%}",
        figure,
        share <= BUSY_TARGET,
    )
    if args.together:
        pressed = room.stats["lessons"].get(PRESSED, ROOM)
        top = pressed.max_response_time
        p50, p95_ = (min(pressed.get_response_time_percentile(q), top) for q in (0.5, 0.95))
        figure = (
            f"{pressed.num_requests} presses, {pressed.num_failures} not answered with a run; "
            f"from the switch p50 {p50:.0f} ms, p95 {p95_:.0f} ms, max {top:.0f} ms"
        )
        ok = pressed.num_requests > 0 and not pressed.num_failures
        target("the room pressing Run within 3 s of each switch: every press a run", figure, ok)
    print(
        f"  course-snippet runs answered: {room.answered_runs:,} by {len(room.executions):,} "
        "executions (identical presses share one)"
    )
    under("page p95 (lesson pages and the outline)", lessons["page_p95"], PAGE_P95_TARGET)
    console = "console refresh p95 (clicker, learners, stuck, predictions, help; 200 and 204)"
    under(console, lessons["console_p95"], CONSOLE_P95_TARGET)
    figure = f"{shown}, target every answer within {VISIBLE_TARGET:g} s"
    ok = answers > 0 and worst < VISIBLE_TARGET
    target(f"answers visible on the console, slowest of {answers}", figure, ok)
    predicted = room.stats["lessons"].get(PREDICTED, ROOM)
    kept = sum(len(times) for times in room.predictions.values())
    slowest_seen = predicted.max_response_time / 1000 if predicted.num_requests else float("inf")
    figure = (
        f"{predicted.num_requests:,} of {kept:,} kept predictions seen; p95 "
        f"{predicted.get_response_time_percentile(0.95):.0f} ms, slowest "
        f"{slowest_seen * 1000:.0f} ms, target under {VISIBLE_TARGET:g} s"
    )
    target("predictions on the console's histogram", figure, slowest_seen < VISIBLE_TARGET)
    helped = room.stats["lessons"].get(HELPED, ROOM)
    asked = room.stats["lessons"].get("stuck", "POST")
    slowest_help = helped.max_response_time / 1000 if helped.num_requests else float("inf")
    figure = (
        f"{helped.num_requests:,} of {asked.num_requests:,} raised hands seen (the rest "
        f"cancelled first or raised again); p95 {helped.get_response_time_percentile(0.95):.0f} "
        f"ms, slowest {slowest_help * 1000:.0f} ms, target under {VISIBLE_TARGET + 3:g} s (the "
        "queue asks every 3 s)"
    )
    target("raised hands in the console's help queue", figure, slowest_help < VISIBLE_TARGET + 3)
    print("Earlier targets (issue 7)")
    target("zero lock errors", locked, locked == 0)
    opening = "learners opening a chart lesson at once on a fresh server, slowest to get the chart"
    under(opening, chart_wait, CHART_TARGET)
    if storm:
        target("zero errors in the storm", storm["errors"], storm["errors"] == 0)
        under("page p95 in the storm", storm["page_p95"], STORM_PAGE_P95_TARGET)
    label = f"no request over {SLOW_SECONDS:g} s except busy answers and queued runs that say so"
    target(label, f"{slowest.total()} {dict(slowest) if slowest else ''}".strip(), not slowest)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--learners", type=int, default=50)
    parser.add_argument("--lesson-seconds", type=float, default=50, help="time on each lesson")
    parser.add_argument("--storm", type=int, default=20, help="users looping the large run")
    parser.add_argument("--storm-seconds", type=float, default=40, help="0: no storm phase")
    parser.add_argument("--port", type=int, default=0, help="default: a free port")
    make = "a variable for `make workshop`, as NAME=value (WEB_WORKERS=4); again for more"
    parser.add_argument("--make", action="append", default=[], metavar="NAME=VALUE", help=make)
    together = "at each switch the whole room opens the lesson and presses Run within 3 s"
    parser.add_argument("--together", action="store_true", help=together)
    editing = "serve as `make workshop EDITING=on`: learners also check exercises"
    parser.add_argument("--editing", action="store_true", help=editing)
    servers_help = "servers sharing the room through DATABASE_URL (PostgreSQL), each its own var/"
    parser.add_argument("--servers", type=int, default=1, help=servers_help)
    args = parser.parse_args()
    if args.servers > 1 and not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        raise SystemExit('--servers needs DATABASE_URL on PostgreSQL (eval "$(.ci/pg up)")')
    if args.servers > 1:  # one key for every server: a session made on one is good on the others
        os.environ.setdefault("COURSE_SECRET_KEY", secrets.token_urlsafe(50))
    servers = []
    for _ in range(args.servers):
        with socket.socket() as free:
            free.bind(("127.0.0.1", 0))
            port = int(free.getsockname()[1])
        servers.append(Server(args.port or port, args.editing, args.make))
    every, sampler = Servers(servers), None
    try:
        console = ""
        for server in servers:
            base = f"http://127.0.0.1:{server.port}"
            print(f"Serving the course as `make workshop` does, on {base} (var: {server.var})")
            server.copy_var(Path(os.environ.get("COURSE_VAR_DIR", ROOT / "var")).resolve())
            console = console or server.start()
            if server is not servers[0]:
                server.start()  # finds the room the first one opened
        base = f"http://127.0.0.1:{servers[0].port}"
        print(f"  the room is open; console at {base}{console[:20]}…/")
        room = Room(every, console, args)
        room.bases = [f"http://127.0.0.1:{server.port}" for server in servers]
        users: list[type[User]] = [Instructor, Probe, Learner, Storm]
        # stop_timeout: the requests in flight as the run ends are waited for, and counted.
        environment = Environment(user_classes=users, shape_class=room, host=base, stop_timeout=45)
        runner = environment.create_local_runner()
        sampler = gevent.spawn(room.sample_memory)
        runner.start_shape()
        cast(gevent.Greenlet, runner.shape_greenlet).join()  # its last tick stops the users
        room.finish()
        runner.quit()
        if room.problem:
            raise SystemExit(room.problem)
        report(room, args, every, [str(e["msg"]) for e in runner.exceptions.values()])
    finally:
        if sampler is not None:
            sampler.kill()
        for server in servers:
            server.stop()
            shutil.rmtree(server.var, ignore_errors=True)


if __name__ == "__main__":
    main()
