"""Django's loaddata, allowed to write to a dataset (they are read-only to everything else), and
creating the blog's tables there first, so `loaddata tiny --database tiny` fills a fresh file."""

from __future__ import annotations

from typing import Any

from django.core.management import call_command
from django.core.management.commands import loaddata

from lessons import datasets
from lessons.datasets.guards import writable


class Command(loaddata.Command):
    def handle(self, *fixture_labels: str, **options: Any) -> None:
        database = options.get("database") or "default"
        if database not in datasets.SPECS:
            super().handle(*fixture_labels, **options)
            return
        with writable():
            call_command("migrate", "blog", database=database, verbosity=0)
            super().handle(*fixture_labels, **options)
