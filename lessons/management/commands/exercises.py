from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from lessons.catalog import Exercise, LessonError, get_catalog
from lessons.measure.exercises import DatasetVerdict, Verdict, check


class Command(BaseCommand):
    help = (
        "Check a lesson's exercises as the tests do: the reference solution passes on every "
        "dataset (the hidden check dataset too), the starting code fails, and each [[wrong]] "
        "attempt fails for the reason it declares."
    )
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slugs", nargs="*", help="Lesson slugs (default: every lesson)")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            catalog = get_catalog()
        except LessonError as exc:
            raise CommandError(str(exc)) from None
        unknown = [slug for slug in options["slugs"] if slug not in catalog.by_slug]
        if unknown:
            raise CommandError(f"No lesson {unknown[0]!r}.")
        lessons = [catalog.by_slug[s] for s in options["slugs"]] or catalog.lessons
        problems = 0
        for lesson in lessons:
            for exercise in lesson.exercises:
                problems += self._check(exercise)
        if problems:
            raise CommandError(f"{problems} problem(s) found.")

    def _check(self, exercise: Exercise) -> int:
        self.stdout.write(f"{exercise.id} (budget {exercise.budget})")
        if not exercise.runs_here:
            self.stdout.write(f"  skipped: needs Django {exercise.needs_django}")
            return 0
        problems = 0
        started = time.perf_counter()
        verdict = check(exercise, exercise.solution, learner="author")
        took = time.perf_counter() - started
        problems += self._line("solution passes", verdict.passed, verdict, f"{took:.2f}s")
        verdict = check(exercise, exercise.start, learner="author")
        problems += self._line("start fails", not verdict.passed, verdict)
        for number, attempt in enumerate(exercise.wrong, 1):
            verdict = check(exercise, attempt.code, learner="author")
            ok = not verdict.passed and reason(verdict) == attempt.reason
            problems += self._line(f"wrong #{number} fails on {attempt.reason}", ok, verdict)
        return problems

    def _line(self, what: str, ok: bool, verdict: Verdict, extra: str = "") -> int:
        mark = self.style.SUCCESS("ok") if ok else self.style.ERROR("NO")
        self.stdout.write(f"  {mark} {what} {extra}  [{describe(verdict)}]")
        return 0 if ok else 1


def reason(verdict: Verdict) -> str:
    return verdict.reason or "passed"


def usage(result: DatasetVerdict) -> str:
    """What a run cost, as an exercise may budget it: queries/budget, rows, objects, alive, MB."""
    costs = " ".join(f"{cost}={value:,}" for cost, value in result.usage.items())
    return f"queries={result.query_count}/{result.budget} {costs}"


def describe(verdict: Verdict) -> str:
    if verdict.passed:
        return "passed: " + "; ".join(f"{r.dataset} {usage(r)}" for r in verdict.results)
    if verdict.rule_broken:
        return f"broke rule {verdict.rule_broken}"
    failure = verdict.failure
    assert failure is not None
    if failure.error:
        return f"{failure.dataset}: {failure.error.type}: {failure.error.message[:80]}"
    if verdict.shown_difference:
        d = verdict.shown_difference
        return f"{failure.dataset}: output line {d.line}: expected {d.expected!r}, got {d.got!r}"
    if not failure.output_matches:
        return f"{failure.dataset}: the output differs"
    if failure.over_budget:
        queries = f"{failure.query_count} queries, budget {failure.budget}"
        return f"{failure.dataset}: {queries}  ({usage(failure)})"
    over = failure.cost_failure
    assert over is not None
    return f"{failure.dataset}: {over.message}  ({usage(failure)})"
