from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import django
from django import template
from django.utils.safestring import SafeString

from lessons.display.costs import Costs, costs
from lessons.display.highlight import highlight_code
from lessons.engine import CapturedQuery, RunResult
from lessons.measure import explain

register = template.Library()


@register.simple_tag
def django_version() -> str:
    """The Django that ran a snippet: counts the course teaches can differ between versions."""
    return django.get_version()


@register.filter
def get_item(mapping: Mapping[str, Any], key: str) -> Any:
    return mapping.get(key)


@register.filter
def explain_token(query: CapturedQuery, run: Any) -> str:
    """A signed token that lets the browser ask for this captured statement's plan. The plan of
    a statement from learners' code never runs it (plain EXPLAIN): see explain.sign."""
    if not explain.explainable(query):
        return ""
    return explain.sign(run.stats.alias, query, run_it=not run.edited)


@register.filter
def python_code(code: str) -> SafeString:
    return highlight_code(code, "python")


@register.filter
def total(row: Any, name: str) -> int:
    """A learner's sum of one progress figure over every lesson (the console's totals)."""
    return int(row.total(name))


@register.filter
def run_costs(result: RunResult) -> Costs:
    """What a run cost beside its count, named for the panel."""
    return costs(result)
