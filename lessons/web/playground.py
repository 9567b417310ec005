"""The playground: an editor, the dataset switcher and a reference of the blog's models. The code
travels in the address (`?code=`), so a Share link opens the same code in any browser; a card's
code opens with `?lesson=<slug>&snippet=<id>`."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from lessons import datasets
from lessons.display.models_reference import blog_models
from lessons.display.report import build_report
from lessons.errors import CourseError
from lessons.measure.runs import CodeRun, run_learner_code
from lessons.web.editing import require_editing
from lessons.web.identity import current_room, learner_id
from lessons.web.lookups import get_lesson, get_snippet
from lessons.web.render import is_htmx, posted_code
from lessons.web.viewmodels import engine_choices

STARTER = """\
# Any QuerySet code: Author, Profile, Category, Tag, Post and Comment are imported.
# Runs on the chosen dataset, then everything is rolled back.
for post in Post.objects.all()[:5]:
    print(post.title, "by", post.author.name)
"""


class NothingSent(CourseError):
    status = 404


# Longer links than this are refused by some servers and browsers.
MAX_SHARE_URL = 4000


@require_GET
def playground(request: HttpRequest) -> HttpResponse:
    require_editing(request)
    code = request.GET.get("code")
    source = ""
    if code is None and request.GET.get("from") == "room":
        room = current_room(request)
        if room is None or not room.sent_code:
            raise NothingSent("The instructor has not sent any code to the room.")
        code, source = room.sent_code, "Sent to the room by the instructor"
    elif code is None and request.GET.get("lesson"):
        lesson = get_lesson(request.GET["lesson"])
        snippet = get_snippet(lesson, request.GET.get("snippet", ""))
        code, source = snippet.code, f"{lesson.title}: {snippet.title or snippet.id}"
    return render(
        request,
        "lessons/playground.html",
        _context(
            request,
            code if code is not None else STARTER,
            datasets.DatasetRef.from_request(request),
            source=source,
        ),
    )


@require_POST
def run(request: HttpRequest) -> HttpResponse:
    """Run the posted code: htmx gets the result (panel and share link), a plain post the page."""
    require_editing(request)
    code = posted_code(request)
    assert code is not None
    dataset = datasets.DatasetRef.from_request(request)
    code_run = run_learner_code(code, dataset, learner=learner_id(request))
    context = _context(request, code, dataset, code_run=code_run)
    template = "lessons/_playground_result.html" if is_htmx(request) else "lessons/playground.html"
    return render(request, template, context)


def share_url(request: HttpRequest, code: str, dataset: datasets.DatasetRef) -> str | None:
    """An absolute link that opens `code` on `dataset`, or None if it would be too long."""
    query = urlencode({"code": code, **dataset.query})
    url = request.build_absolute_uri(f"{reverse('lessons:playground')}?{query}")
    return url if len(url) <= MAX_SHARE_URL else None


def _context(
    request: HttpRequest,
    code: str,
    dataset: datasets.DatasetRef,
    *,
    source: str = "",
    code_run: CodeRun | None = None,
) -> dict[str, Any]:
    return {
        "code": code,
        "source": source,
        "dataset": dataset.size,
        "datasets": list(datasets.SPECS.values()),
        "engine": dataset.engine,
        "engines": engine_choices(),
        "models": blog_models(),
        "run": code_run,
        "report": build_report(code_run.result.queries) if code_run else None,
        "share_url": share_url(request, code, dataset),
        "max_share_url": MAX_SHARE_URL,
    }
