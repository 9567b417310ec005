from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from lessons import datasets
from lessons.catalog import (
    CONTENT_DIR,
    Lesson,
    LessonError,
    get_catalog,
    load_catalog,
    parse_lesson,
)
from lessons.display.highlight import format_sql
from lessons.display.report import build_report
from lessons.engine import Busy, CodeTooLong
from lessons.measure.explain import PlanRefused, plans_of
from lessons.measure.plan_claims import judge, one_line, wording
from lessons.measure.runs import CodeRun, SnippetRun, run_learner_code, run_lesson_snippet

SHOWN_STATEMENTS = 10


class Command(BaseCommand):
    help = (
        "Run a lesson's snippets in the terminal and compare them with what the lesson promises, "
        "or run a .py file of your own code and report its queries."
    )
    # A lesson being written may be broken; this command reports on it instead of refusing to run.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "slug",
            help="Lesson slug (e.g. n-plus-one), a path to a lesson .md file, or a .py file of "
            "your own QuerySet code",
        )
        parser.add_argument("--dataset", default="tiny", choices=list(datasets.SPECS))
        parser.add_argument(
            "--plans",
            action="store_true",
            help="Print every snippet's query plans, not only those whose plan the lesson claims",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        dataset = datasets.DatasetRef(options["dataset"])
        if options["slug"].endswith(".py"):
            return self._run_file(Path(options["slug"]), dataset)
        lesson = self._lesson(options["slug"])
        try:
            stats = dataset.stats()
        except datasets.DatasetMissing as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"{lesson.title} on {stats.spec.label} ({stats.counts['posts']:,} posts)")
        mismatches = 0
        for pair in lesson.pairs:
            self.stdout.write(f"\n  {pair.id}")
            runs = [run_lesson_snippet(lesson, snippet, dataset) for snippet in pair.snippets]
            for run in runs:
                if not run.ran:  # written for a newer Django or the other engine
                    self.stdout.write(
                        f"    {run.snippet.side:<6} not run: measured on {run.measured_on} "
                        f"(expect {run.snippet.expect_for(stats.engine)})"
                    )
                    continue
                verdict = (
                    self.style.SUCCESS("ok")
                    if run.matches
                    else self.style.ERROR(f"MISMATCH, expected {run.expected:,}")
                )
                error = run.result.error
                extra = f"  {error.type} on line {error.line}: {error.message}" if error else ""
                if run.result.peak_memory is not None:
                    extra = f"  peak {run.result.peak_memory / 1024:,.0f} KiB{extra}"
                self.stdout.write(
                    f"    {run.snippet.side:<6} {run.result.query_count:>6,} queries "
                    f"(expect {run.snippet.expect_for(stats.engine)} = {run.expected:,}) "
                    f"{verdict}  "
                    f"{run.duration_ms:8.1f} ms  "
                    f"{run.result.objects_built_total:>7,} objects{extra}"
                )
                if run.snippet.raises and not run.error_expected:
                    self.stdout.write(self.style.ERROR(f"      should raise {run.snippet.raises}"))
                    mismatches += 1
                elif error and not run.snippet.raises:
                    mismatches += 1
                mismatches += not run.matches
                if run.snippet.plans or options["plans"]:
                    mismatches += self._plans(run, dataset, stats.engine)
            if len(runs) == 2 and all(run.ran for run in runs):
                self.stdout.write(f"    {_compare(*runs)}")
        if mismatches:
            raise CommandError(f"{mismatches} snippet(s) did not match their expect or plan.")

    def _plans(self, run: SnippetRun, dataset: datasets.DatasetRef, engine: str) -> int:
        """Print the plan of each distinct statement and the claim's verdict; 1 if it broke."""
        try:
            plans = plans_of(dataset.alias, run.result.queries)
        except (PlanRefused, Busy) as exc:
            self.stdout.write(self.style.ERROR(f"      plans not made: {exc}"))
            return 1
        for plan in plans:
            self.stdout.write(f"      plan of {one_line(plan.sql)}")
            for line in plan.lines:
                figures = f"  (rows={line.estimated_rows:g})" if line.estimated_rows else ""
                self.stdout.write(f"        {line.indent}{wording(line)}{figures}")
        claims = run.snippet.plans.for_(engine, dataset.size)
        if not claims:
            return 0
        broken = judge(claims, plans)
        for claim in claims:
            miss = next((b for b in broken if b.claim == claim), None)
            if miss is None:
                self.stdout.write(f"      plan {claim}  " + self.style.SUCCESS("ok"))
            else:
                self.stdout.write(
                    f"      plan {claim}  " + self.style.ERROR(f"BROKEN: {miss.message}")
                )
        return 1 if broken else 0

    def _run_file(self, path: Path, dataset: datasets.DatasetRef) -> None:
        """Your own code, run as the playground runs it, reported as its panel is."""
        try:
            code = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise CommandError(f"Cannot read {path}: {exc.strerror}") from None
        except UnicodeDecodeError:
            raise CommandError(f"{path} is not UTF-8 text.") from None
        try:
            run = run_learner_code(code, dataset, learner="terminal")
        except (datasets.DatasetMissing, CodeTooLong, Busy) as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(_code_report(path.name, run))
        if run.result.error:
            raise CommandError(f"{run.result.error.type}: the code did not finish.")

    def _lesson(self, slug_or_path: str) -> Lesson:
        try:
            if slug_or_path.endswith(".md"):
                # A draft is checked by every rule the course is, against the other lessons.
                draft = Path(slug_or_path)
                return load_catalog(CONTENT_DIR, draft=draft).by_slug[parse_lesson(draft).slug]
            catalog = get_catalog()
        except OSError as exc:
            raise CommandError(f"Cannot read {slug_or_path}: {exc.strerror}") from None
        except LessonError as exc:
            raise CommandError(str(exc)) from None
        if slug_or_path not in catalog.by_slug:
            known = ", ".join(catalog.by_slug)
            raise CommandError(f"No lesson {slug_or_path!r}. Known lessons: {known}")
        return catalog.by_slug[slug_or_path]


def _compare(bad: SnippetRun, fixed: SnippetRun) -> str:
    b, f = bad.result.query_count, fixed.result.query_count
    if b > f:
        return f"fixed sends {b - f:,} fewer queries ({b:,} -> {f:,})"
    if b == f:
        return "same number of queries: compare objects built and time"
    return f"fixed sends more queries ({b:,} -> {f:,}) but compare objects built and time"


def _code_report(name: str, run: CodeRun) -> str:
    result = run.result
    report = build_report(result.queries)
    posts = run.stats.counts["posts"]
    out = [
        f"{name} on {run.stats.spec.label} ({posts:,} posts), then rolled back",
        f"  {result.query_count:,} quer{'y' if result.query_count == 1 else 'ies'}, "
        f"{run.duration_ms:.1f} ms, {result.objects_built_total:,} objects built",
    ]
    if result.output:
        out += ["", "Output:", *(f"  {line}" for line in result.output.splitlines())]
        if result.output_dropped:
            out.append(f"  ... {result.output_dropped:,} more lines not kept")
    if result.truncated:  # what the server cut from the run's reply
        out += ["", *result.truncated]
    if result.error:
        where = f" on line {result.error.line}" if result.error.line else ""
        out += ["", f"Error{where}: {result.error.type}: {result.error.message}"]
    for group in report.n_plus_one:
        lines = ", ".join(map(str, group.lines))
        out += [
            "",
            f"N+1 detected: one SELECT ran {group.count:,} times with "
            f"{group.distinct_params:,} different parameter sets, once per row (line {lines}):",
            *(f"    {line}" for line in format_sql(group.sql).splitlines()),
        ]
    for group in report.bulk_candidates:
        lines = ", ".join(map(str, group.lines))
        out += [
            "",
            f"Bulk candidate: one write ran {group.count:,} times with "
            f"{group.distinct_params:,} different parameter sets (line {lines}); bulk_create(), "
            "bulk_update() or update() send one per batch, without save() and its signals:",
            *(f"    {line}" for line in format_sql(group.sql).splitlines()),
        ]
    for group in report.duplicated:
        out += [
            "",
            f"Duplicates: {group.count:,} runs of one statement, only "
            f"{group.distinct_params:,} distinct parameter sets.",
        ]
    if report.rows:
        out += ["", "Statements:"]
        for row in report.rows[:SHOWN_STATEMENTS]:
            line = f"line {row.query.line}" if row.query.line else "no line"
            out.append(f"  {row.index:>5}. ({line}, {row.duration_ms:.2f} ms)")
            out += [f"        {text}" for text in format_sql(row.query.sql).splitlines()]
        if len(report.rows) > SHOWN_STATEMENTS:
            out.append(f"  ... and {len(report.rows) - SHOWN_STATEMENTS:,} more")
    return "\n".join(out)
