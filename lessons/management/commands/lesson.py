from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from blog import datasets
from lessons.catalog import get_catalog
from lessons.runs import SnippetRun, run_lesson_snippet


class Command(BaseCommand):
    help = "Run a lesson's snippets in the terminal and compare them with what the lesson promises."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug", help="Lesson slug, e.g. n-plus-one")
        parser.add_argument("--dataset", default="tiny", choices=list(datasets.SPECS))

    def handle(self, *args: Any, **options: Any) -> None:
        catalog = get_catalog()
        lesson = catalog.by_slug.get(options["slug"])
        if lesson is None:
            known = ", ".join(catalog.by_slug)
            raise CommandError(f"No lesson {options['slug']!r}. Known lessons: {known}")
        dataset = options["dataset"]
        try:
            stats = datasets.stats(dataset)
        except datasets.DatasetMissing as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"{lesson.title} on {stats.spec.label} ({stats.counts['posts']:,} posts)")
        mismatches = 0
        for pair in lesson.pairs:
            self.stdout.write(f"\n  {pair.id}")
            runs = [run_lesson_snippet(lesson, snippet, dataset) for snippet in pair.snippets]
            for run in runs:
                verdict = (
                    self.style.SUCCESS("ok")
                    if run.matches
                    else self.style.ERROR(f"MISMATCH, expected {run.expected:,}")
                )
                error = run.result.error
                extra = f"  {error.type} on line {error.line}: {error.message}" if error else ""
                self.stdout.write(
                    f"    {run.snippet.side:<6} {run.result.query_count:>6,} queries "
                    f"(expect {run.snippet.expect} = {run.expected:,}) {verdict}  "
                    f"{run.duration_ms:8.1f} ms  "
                    f"{run.result.objects_built_total:>7,} objects{extra}"
                )
                mismatches += not run.matches
            if len(runs) == 2:
                self.stdout.write(f"    {_compare(*runs)}")
        if mismatches:
            raise CommandError(f"{mismatches} snippet(s) did not match their expect.")


def _compare(bad: SnippetRun, fixed: SnippetRun) -> str:
    b, f = bad.result.query_count, fixed.result.query_count
    if b > f:
        return f"fixed sends {b - f:,} fewer queries ({b:,} -> {f:,})"
    if b == f:
        return "same number of queries: compare objects built and time"
    return f"fixed sends more queries ({b:,} -> {f:,}) but compare objects built and time"
