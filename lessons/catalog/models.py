"""The course as immutable objects: what a lesson file becomes once parsed."""

from __future__ import annotations

import ast
import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import django

from lessons.catalog import expect
from lessons.catalog.expect import Declared
from lessons.catalog.plans import PlanClaims


class LessonError(ValueError):
    def __init__(self, path: Path, line: int, message: str) -> None:
        super().__init__(f"{path}:{line}: {message}")
        self.path, self.line = path, line


def django_at_least(version: str) -> bool:
    """The running Django is `version` ("6.1") or newer; True for "" (no version needed)."""
    if not version:
        return True
    major, minor = version.split(".")
    return django.VERSION[:2] >= (int(major), int(minor))


@dataclass(frozen=True)
class Snippet:
    id: str
    pair: str
    side: str  # "bad", "fixed" or "demo"
    code: str
    expect: str
    title: str
    line: int  # where the fence opens in the lesson file
    raises: str  # the exception type this snippet demonstrates, or ""
    measure_memory: bool
    differs: str  # why this side prints something else than its twin, or "" if it must not
    declared: Declared = field(repr=False, compare=False)  # `expect` and its variants
    needs_django: str = ""  # django="6.1": the oldest Django whose API the snippet uses
    engine: str = ""  # engine="postgresql": the snippet uses that engine's own features
    n_plus_one: bool = False  # a bad side its lesson calls an N+1 (the panel must flag it)
    # What its statements' plans must show (lessons/catalog/plans.py).
    plans: PlanClaims = field(default_factory=PlanClaims, compare=False)

    @property
    def runs_here(self) -> bool:
        """False where the running Django is older than the API the snippet teaches."""
        return django_at_least(self.needs_django)

    def runs_on(self, engine: str) -> bool:
        """Runs on this Django and on `engine` (a connection's vendor)."""
        return self.runs_here and self.engine in ("", engine)

    def expect_for(self, engine: str) -> str:
        """The expect expression that holds on `engine` and the running Django."""
        return self.declared.variant(engine).source

    def expected_count(self, counts: Mapping[str, int], engine: str) -> int:
        return self.declared.count(counts, engine)


@dataclass(frozen=True)
class Pair:
    id: str
    snippets: tuple[Snippet, ...]  # (bad, fixed), or a single demo snippet

    @property
    def is_comparison(self) -> bool:
        return len(self.snippets) == 2

    @property
    def runs_here(self) -> bool:
        """Every side runs on this Django, so the pair can be measured on every dataset."""
        return all(snippet.runs_here for snippet in self.snippets)

    def runs_on(self, engine: str) -> bool:
        return all(snippet.runs_on(engine) for snippet in self.snippets)


@dataclass(frozen=True)
class Prose:
    source: str  # Markdown; lessons.display.prose renders it


@dataclass(frozen=True)
class Question:
    id: str
    text: str
    choices: tuple[str, ...]
    answer: int
    explain: str
    kind: str = "concept"  # "concept", "predict" (the count some code sends) or "bug"
    code: str = ""  # shown with the question; runnable like a snippet
    declared: Declared | None = None  # predict questions: the count `code` sends

    @property
    def answer_text(self) -> str:
        return self.choices[self.answer]

    @property
    def answer_is_longest(self) -> bool:
        """The right answer is the one choice longer than all the others (a give-away)."""
        lengths = [len(choice) for choice in self.choices]
        return lengths.count(max(lengths)) == 1 and lengths[self.answer] == max(lengths)

    def expected_count(self, counts: Mapping[str, int], engine: str) -> int:
        if self.declared is None:
            raise ValueError(f"question {self.id} is not a predict question: it declares no count")
        return self.declared.count(counts, engine)


# Rules an exercise may set on the learner's code, checked on its syntax tree
# (lessons.learner.rules), with the sentence a learner reads when one is broken.
RULES: dict[str, str] = {
    "no-raw-sql": "Use the ORM: no raw SQL (raw(), extra(), RawSQL or a cursor).",
    "no-len": "Count in the database: no len() on what a query returned.",
    "no-python-sorting": "Sort in the database: no sorted() or .sort().",
    "no-python-sum": "Add up in the database: no sum() in Python.",
}
# Why a known wrong attempt (written next to an exercise, run by the tests) must fail: its output,
# its query count, a rule read from its code, or its technique: the right output within the
# query budget, found over another cost the exercise budgets (rows, objects, memory) or its
# atomic probe.
WRONG_REASONS = ("output", "budget", "rule", "technique")

# Costs an exercise may budget beside its queries, each an `expect` expression over the dataset's
# counts, measured in the run (lessons.engine.child.capture) or by the kernel: what each counts.
COSTS: dict[str, str] = {
    "rows": "rows read from the database",
    "objects": "model instances built",
    "alive": "model instances alive at once",
    "memory_mb": "megabytes of memory at the run's peak",
}


@dataclass(frozen=True)
class CostBudget:
    cost: str  # a key of COSTS
    source: str
    tree: ast.expr = field(repr=False, compare=False)


@dataclass(frozen=True)
class WrongAttempt:
    code: str
    reason: str  # one of WRONG_REASONS


@dataclass(frozen=True)
class Exercise:
    id: str  # "<lesson slug>.<name>", unique across the course
    title: str
    task: str  # Markdown
    start: str  # the code the learner starts from
    solution: str  # the reference: its output is the right output on every dataset
    budget: str  # an `expect` expression: the most queries a solution may send
    hints: tuple[str, ...]  # from gentle to specific
    rules: tuple[str, ...]  # names from RULES
    wrong: tuple[WrongAttempt, ...]  # plausible mistakes the tests check are refused
    line: int
    _budget_tree: ast.expr = field(repr=False, compare=False)
    costs: tuple[CostBudget, ...] = ()  # budgets beside the queries'
    # The atomic probe: the checker makes the code's Nth write fail and checks that nothing the
    # code wrote is left (0: no probe).
    atomic: int = 0
    # The query budget alone tells the technique: no answer within it skips the idea (a one-query
    # join, say), so no technique attempt can be written; the budget attempts show it instead.
    technique_is_budget: bool = False
    needs_django: str = ""  # django = "6.1": the solution uses that version's API
    # What the learner's plans must show on the largest dataset, where the planner uses its
    # indexes (plan = "no-scan:blog_comment", plan-postgresql = ...): the technique, when it is
    # an index.
    plan: PlanClaims = field(default_factory=PlanClaims, compare=False)

    def budget_for(self, counts: Mapping[str, int]) -> int:
        return expect.evaluate(self._budget_tree, counts)

    def cost_budgets(self, counts: Mapping[str, int]) -> dict[str, int]:
        return {budget.cost: expect.evaluate(budget.tree, counts) for budget in self.costs}

    @property
    def runs_here(self) -> bool:
        """False where the running Django is older than the API the exercise needs."""
        return django_at_least(self.needs_django)


@dataclass(frozen=True)
class Lesson:
    slug: str
    title: str
    part: int
    order: int
    summary: str
    chart: str  # pair id whose scale chart is shown by default, or ""
    blocks: tuple[Prose | Pair, ...]
    quiz: tuple[Question, ...]
    path: Path
    exercises: tuple[Exercise, ...] = ()

    # Cached: the console works a room's progress out from these for every learner and lesson.
    @functools.cached_property
    def pairs(self) -> list[Pair]:
        return [block for block in self.blocks if isinstance(block, Pair)]

    @functools.cached_property
    def comparisons(self) -> list[Pair]:
        """The bad/fixed pairs, the ones a learner's progress counts (demos are not)."""
        return [pair for pair in self.pairs if pair.is_comparison]

    @functools.cached_property
    def comparison_snippets(self) -> tuple[frozenset[str], ...]:
        """The snippet ids of each comparison pair."""
        return tuple(frozenset(s.id for s in pair.snippets) for pair in self.comparisons)

    @functools.cached_property
    def answer_key(self) -> dict[str, int]:
        """Each quiz question's id and the index of its right choice."""
        return {question.id: question.answer for question in self.quiz}

    @functools.cached_property
    def pairs_by_id(self) -> dict[str, Pair]:
        return {pair.id: pair for pair in self.pairs}

    @functools.cached_property
    def snippets(self) -> dict[str, Snippet]:
        return {s.id: s for pair in self.pairs for s in pair.snippets}


@dataclass(frozen=True)
class Part:
    number: int
    title: str
    lessons: tuple[Lesson, ...]


@dataclass(frozen=True)
class Catalog:
    parts: tuple[Part, ...]

    @functools.cached_property
    def lessons(self) -> list[Lesson]:
        return [lesson for part in self.parts for lesson in part.lessons]

    @functools.cached_property
    def by_slug(self) -> dict[str, Lesson]:
        return {lesson.slug: lesson for lesson in self.lessons}

    @functools.cached_property
    def exercises(self) -> dict[str, tuple[Lesson, Exercise]]:
        return {e.id: (lesson, e) for lesson in self.lessons for e in lesson.exercises}

    def neighbours(self, lesson: Lesson) -> tuple[Lesson | None, Lesson | None]:
        index = self.lessons.index(lesson)
        previous = self.lessons[index - 1] if index > 0 else None
        following = self.lessons[index + 1] if index + 1 < len(self.lessons) else None
        return previous, following
