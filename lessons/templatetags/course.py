from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import django
from django import template
from django.db import connections
from django.template import Context
from django.utils.html import escape
from django.utils.safestring import SafeString

from lessons.catalog import Exercise
from lessons.display.costs import Costs, costs
from lessons.display.fragments import drawn_once
from lessons.display.highlight import highlight_code
from lessons.engine import CapturedQuery, RunResult
from lessons.measure import explain
from lessons.measure.exercises import PLANNED

register = template.Library()

# The placeholder a fragment drawn once for many learners carries where each one's CSRF token goes.
_TOKEN_HOLE = "course-csrf-token-of-this-request"


@register.simple_tag(takes_context=True)
def shared_fragment(
    context: Context, name: str, key: str | None, *more: object, **values: Any
) -> SafeString:
    """Template `name` drawn with `values`, once per `key` (with `more`) in this process for
    everyone who is shown the same thing (a lesson's prose and pairs on one dataset, the
    statements of a run shared by a room: lessons.engine.sharing), each copy with its reader's own
    CSRF token. Without a key, drawn for this reader alone. The key must name everything the
    fragment draws."""
    assert context.template is not None  # drawn inside a template, as every tag is
    fragment = context.template.engine.get_template(name)
    if not key:
        with context.push(**values):
            return SafeString(fragment.render(context))

    def draw() -> str:
        with context.push(csrf_token=_TOKEN_HOLE, **values):
            return fragment.render(context)

    drawn = drawn_once((name, "|".join(map(str, (key, *more)))), draw)
    return SafeString(drawn.replace(_TOKEN_HOLE, str(context.get("csrf_token", ""))))


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
def plan_budget(exercise: Exercise) -> str:
    """An exercise's plan claims on this server's engine, in words ("" when it budgets none)."""
    planned = exercise.plan.for_(connections[PLANNED].vendor, PLANNED)
    return "; ".join(claim.described for claim in planned)


@register.filter
def python_code(code: str) -> SafeString:
    return highlight_code(code, "python")


@register.filter
def run_costs(result: RunResult) -> Costs:
    """What a run cost beside its count, named for the panel."""
    return costs(result)


@register.filter
def line_counts(lines: Mapping[int, int]) -> str:
    """A run's queries per line as JSON ({"3": 100}), for an editor's gutter."""
    return json.dumps({str(line): count for line, count in lines.items()})


@register.filter
def marked(excerpt: str) -> SafeString:
    """A search excerpt, escaped, with the words that matched in <mark>."""
    from lessons.catalog.search import END, START

    return SafeString(escape(excerpt).replace(START, "<mark>").replace(END, "</mark>"))
