"""The JSON API: the same runs the pages show, for tools and scripts. Errors are
{"error": {"type", "message"}} with the right status (see lessons.web.errors)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from django.http import HttpRequest, JsonResponse
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from lessons import datasets
from lessons.catalog import get_catalog
from lessons.display.report import build_report
from lessons.measure.runs import CodeRun, SnippetRun, run_learner_code, run_lesson_snippet
from lessons.web.editing import require_editing
from lessons.web.identity import learner_id
from lessons.web.lookups import get_lesson, get_snippet
from lessons.web.render import posted_code


@require_GET
def lesson_list(request: HttpRequest) -> JsonResponse:
    lessons = [
        {
            "slug": lesson.slug,
            "title": lesson.title,
            "part": lesson.part,
            "order": lesson.order,
            "summary": lesson.summary,
            "url": reverse("lessons:detail", args=[lesson.slug]),
            "snippets": [
                {
                    "id": s.id,
                    "pair": s.pair,
                    "side": s.side,
                    "expect": s.expect,
                    "expect_variants": {v.key: v.source for v in s.declared.differences()},
                    "title": s.title,
                }
                for s in lesson.snippets.values()
            ],
            "exercises": [
                {"id": e.id, "title": e.title, "starting_code": e.start} for e in lesson.exercises
            ],
        }
        for lesson in get_catalog().lessons
    ]
    return JsonResponse({"lessons": lessons})


@require_GET
def dataset_list(request: HttpRequest) -> JsonResponse:
    items = []
    for dataset in datasets.DatasetRef.every_size():
        stats, problem = dataset.stats_or_problem()
        if stats is not None:
            items.append({**stats.as_dict(), "seeded": True})
        else:
            spec = dataset.spec
            items.append(
                {"name": spec.name, "label": spec.label, "seeded": False, "problem": problem}
            )
    return JsonResponse({"datasets": items})


@require_POST
def run(request: HttpRequest, slug: str, snippet_id: str) -> JsonResponse:
    lesson = get_lesson(slug)
    snippet = get_snippet(lesson, snippet_id)
    # The API names a data size only: its runs are on the primary engine.
    dataset = datasets.DatasetRef.from_request(request, engine=False)
    snippet_run = run_lesson_snippet(lesson, snippet, dataset, learner=learner_id(request))
    return JsonResponse(run_json(snippet_run))


@require_POST
def run_code(request: HttpRequest) -> JsonResponse:
    """A learner's own code: the same shape as a snippet's run, with no lesson, snippet or
    promise. 403 when editing is off on this server."""
    require_editing(request)
    code = posted_code(request)
    assert code is not None
    dataset = datasets.DatasetRef.from_request(request, engine=False)
    code_run = run_learner_code(code, dataset, learner=learner_id(request))
    return JsonResponse(run_json(code_run))


def run_json(run: SnippetRun | CodeRun) -> dict[str, Any]:
    result, error = run.result, run.result.error
    report = build_report(result.queries)
    about: dict[str, Any] = {}
    if isinstance(run, SnippetRun):
        about = {"lesson": run.lesson.slug, "snippet": run.snippet.id}
    return {
        **about,
        "dataset": run.stats.as_dict(),
        "query_count": result.query_count,
        "expected_query_count": run.expected,
        "duration_ms": round(run.duration_ms, 3),
        "queued_ms": round(result.queued * 1000, 3),  # waiting for a free worker
        # One execution shared by identical presses (lessons.engine.sharing): how many, and when.
        "shared": None
        if result.shared is None
        else {
            "learners": result.shared.learners,
            "ran_at": datetime.fromtimestamp(result.shared.ran_at, UTC).isoformat(),
            "led": result.shared.led,
        },
        "objects_built": result.objects_built,
        "peak_memory_bytes": result.peak_memory,
        "queries": [
            {
                "sql": row.query.sql,
                "params": row.query.jsonable_params(),
                "duration_ms": round(row.duration_ms, 3),
                "line": row.query.line,
                "similar": row.similar,
                "duplicate": row.duplicate,
            }
            for row in report.rows
        ],
        "lines": {str(line): count for line, count in report.lines.items()},
        "output": result.output,
        "output_truncated_lines": result.output_dropped,
        "truncated": result.truncated,  # what the server cut from the run's reply, in words
        "error": None
        if error is None
        else {"type": error.type, "message": error.message, "line": error.line},
    }
