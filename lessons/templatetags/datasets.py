"""`{% dataset_url "lessons:detail" lesson.slug %}`: a link that keeps the page's data size (and
its engine, off the primary one). `{% engine_input %}`: the hidden field that posts the engine,
where there is an engine switch."""

from __future__ import annotations

from typing import Any

from django import template
from django.urls import reverse
from django.utils.html import format_html

from lessons import datasets
from lessons.datasets import DatasetRef

register = template.Library()


@register.simple_tag(takes_context=True)
def dataset_url(context: template.Context, view_name: str, *args: Any) -> str:
    url = reverse(view_name, args=args)
    size = context.get("dataset")
    return (
        DatasetRef(size, context.get("engine") or datasets.ENGINES[0]).in_url(url) if size else url
    )


@register.filter
def with_dataset(url: str, size: str) -> str:
    """`url` carrying data size `size` (on the primary engine: `keep_engine` adds another)."""
    return DatasetRef(size).in_url(url)


@register.filter
def keep_engine(url: str, engine: str | None) -> str:
    """`url` carrying `engine` when it is not the primary one (the size links keep it)."""
    if not engine or engine == datasets.ENGINES[0]:
        return url
    return f"{url}{'&' if '?' in url else '?'}engine={engine}"


@register.simple_tag(takes_context=True)
def engine_input(context: template.Context) -> str:
    """A form's hidden `engine` field, where more than one engine is configured (else nothing)."""
    if len(datasets.ENGINES) < 2:
        return ""
    engine = context.get("engine") or datasets.ENGINES[0]
    return format_html('<input type="hidden" name="engine" value="{}">', engine)


@register.simple_tag(takes_context=True)
def engine_query(context: template.Context) -> str:
    """`&engine=...` for a link's query string, off the primary engine (else nothing)."""
    engine = context.get("engine")
    if len(datasets.ENGINES) < 2 or not engine or engine == datasets.ENGINES[0]:
        return ""
    return format_html("&amp;engine={}", engine)


@register.simple_tag(takes_context=True)
def engine_note(context: template.Context) -> str:
    """Which engine a measurement ran on (" on SQLite"), where more than one is configured."""
    if len(datasets.ENGINES) < 2:
        return ""
    engine = context.get("engine") or datasets.ENGINES[0]
    return f" on {datasets.ENGINE_LABELS.get(engine, engine)}"


@register.filter
def dataset_label(name: str) -> str:
    """The name a person reads for a dataset (`tiny` is Laptop, `medium_sqlite` is Staging):
    pages, runs, plans and exercise results all say the same."""
    spec = datasets.ALL_SPECS.get(str(name))
    return spec.label if spec else str(name)
