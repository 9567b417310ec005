"""Runs kept for a few minutes, so a page without JavaScript can post a run and then be
redirected to the lesson that shows it (post, redirect, get): reloading that page shows the same
run again instead of sending it again.

Each kept run is a file in the run folder, named by a random token, readable only by the learner
who ran it. With several servers, the redirect may reach another server, which has not got the
file: the page then says so, and Run runs it again there."""

from __future__ import annotations

import contextlib
import json
import secrets
import time
from pathlib import Path
from typing import Any

from django.conf import settings
from django.http import HttpRequest

from lessons import datasets, engine
from lessons.catalog import Lesson
from lessons.measure.runs import CodeRun, SnippetRun
from lessons.web.identity import learner_id

KEEP_SECONDS = 600
_TOKEN_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def _folder() -> Path:
    return Path(settings.COURSE_RUN_DIR) / "kept"


def keep(request: HttpRequest, run: SnippetRun | CodeRun) -> str:
    """Keep `run` for its learner; the token that finds it again."""
    folder = _folder()
    folder.mkdir(parents=True, exist_ok=True)
    _forget_old(folder)
    token = secrets.token_urlsafe(16)
    snippet = run.snippet
    data = {
        "learner": learner_id(request),
        "snippet": snippet.id if snippet else None,
        "dataset": run.stats.name,
        "code": run.code if isinstance(run, CodeRun) else None,
        "run": engine.kept(run.result),
    }
    (folder / f"{token}.json").write_text(json.dumps(data))
    return token


def recall(request: HttpRequest, lesson: Lesson, token: str) -> SnippetRun | CodeRun | None:
    """The run kept under `token` for this learner on this lesson, or None (expired, another
    learner's, another server's, or not a token at all)."""
    if not token or len(token) > 64 or not set(token) <= _TOKEN_CHARS:
        return None
    path = _folder() / f"{token}.json"
    try:
        if time.time() - path.stat().st_mtime > KEEP_SECONDS:
            return None
        data: Any = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("learner") != learner_id(request):
        return None
    snippet = lesson.snippets.get(str(data.get("snippet")))
    alias = str(data.get("dataset"))
    if snippet is None or alias not in datasets.PAGE_ALIASES:
        return None
    stats = datasets.stats(alias)
    code = data.get("code")
    try:
        if isinstance(code, str):
            result = engine.restored(data.get("run"), engine.Task(code, alias))
            return CodeRun(stats, result, code, lesson, snippet)
        task = engine.Task(snippet.code, alias, snippet.measure_memory)
        result = engine.restored(data.get("run"), task, course_code=True)
    except ValueError:  # not what the run's codec makes: show nothing rather than trust it
        return None
    return SnippetRun(lesson, snippet, stats, result)


def _forget_old(folder: Path) -> None:
    now = time.time()
    for path in folder.glob("*.json"):
        with contextlib.suppress(OSError):
            if now - path.stat().st_mtime > KEEP_SECONDS:
                path.unlink()
