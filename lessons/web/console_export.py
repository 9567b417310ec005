"""The room's results as a CSV file, made safe to open in a spreadsheet."""

from __future__ import annotations

import csv

from django.http import HttpResponse

from lessons.catalog import get_catalog
from lessons.learner.console import export_rows
from lessons.learner.models import Room

# A spreadsheet runs a cell that starts with one of these as a formula.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: object) -> object:
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value


def results_csv(room: Room) -> HttpResponse:
    """The room's results, as a download: one row per learner and lesson."""
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    rows = export_rows(room, get_catalog())
    csv.writer(response).writerows([_cell(v) for v in row] for row in rows)
    stamp = room.started_at.strftime("%Y-%m-%d-%H%M")
    response["Content-Disposition"] = f'attachment; filename="room-{stamp}.csv"'
    return response
