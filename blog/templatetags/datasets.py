"""`{% dataset_url "lessons:detail" lesson.slug %}`: a link that keeps the page's data size."""

from __future__ import annotations

from typing import Any

from django import template
from django.urls import reverse

from blog.datasets import with_dataset

register = template.Library()


@register.simple_tag(takes_context=True)
def dataset_url(context: template.Context, view_name: str, *args: Any) -> str:
    url = reverse(view_name, args=args)
    dataset = context.get("dataset")
    return with_dataset(url, dataset) if dataset else url


@register.filter(name="with_dataset")
def with_dataset_filter(url: str, name: str) -> str:
    return with_dataset(url, name)
