from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django import template

from lessons import explain
from lessons.capture import CapturedQuery

register = template.Library()


@register.filter
def get_item(mapping: Mapping[str, Any], key: str) -> Any:
    return mapping.get(key)


@register.filter
def explain_token(query: CapturedQuery, dataset: str) -> str:
    """A signed token that lets the browser ask for this captured statement's plan."""
    return explain.sign(dataset, query) if explain.explainable(query) else ""
