"""The JSON API: the same runs the pages show, for tools and scripts."""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from blog import datasets
from lessons.catalog import get_catalog
from lessons.problems import json_problems
from lessons.runs import run_lesson_snippet
from lessons.views import chosen_dataset, get_lesson, get_snippet


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
                {"id": s.id, "pair": s.pair, "side": s.side, "expect": s.expect, "title": s.title}
                for s in lesson.snippets.values()
            ],
        }
        for lesson in get_catalog().lessons
    ]
    return JsonResponse({"lessons": lessons})


@require_GET
def dataset_list(request: HttpRequest) -> JsonResponse:
    items = []
    for spec in datasets.SPECS.values():
        try:
            items.append({**datasets.stats(spec.name).as_dict(), "seeded": True})
        except datasets.DatasetMissing:
            items.append({"name": spec.name, "label": spec.label, "seeded": False})
    return JsonResponse({"datasets": items})


@require_POST
@json_problems
def run(request: HttpRequest, slug: str, snippet_id: str) -> JsonResponse:
    lesson = get_lesson(slug)
    snippet = get_snippet(lesson, snippet_id)
    dataset = chosen_dataset(request.POST.get("dataset"))
    return JsonResponse(run_lesson_snippet(lesson, snippet, dataset).as_json())
