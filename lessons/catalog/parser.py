"""One lesson file to one Lesson, with every content rule a lesson must follow.

A lesson file is TOML front matter between `+++` lines, then Markdown. Two kinds of fenced block
are special:

    ```python {#count-comments.bad expect="1 + posts" n-plus-one title="Counting in a loop"}
    ```quiz   (a JSON list of {"q", "choices", "answer", "explain"} and optional "kind", "code",
              "expect": see the README)
    ```exercise   (TOML: name, title, task, start, solution, budget, hints, optional rules and
              [[wrong]] attempts the tests check are refused: see the README)

Runnable snippets are `#<pair>.<side>` with side `bad` or `fixed` (next to each other), or a lone
`#<id>` for a demo. Any mistake raises LessonError naming the file and line. Rules that span
lessons (unique ids, answer lengths over the course) live in lessons.catalog.loader.
"""

from __future__ import annotations

import ast
import json
import re
import shlex
import tomllib
from collections import Counter
from pathlib import Path
from typing import Any

from markdown_it import MarkdownIt
from markdown_it.token import Token

from lessons.catalog import expect, plans
from lessons.catalog.models import (
    COSTS,
    RULES,
    WRONG_REASONS,
    CostBudget,
    Exercise,
    Lesson,
    LessonError,
    Pair,
    Prose,
    Question,
    Snippet,
    WrongAttempt,
)

SIDES = ("bad", "fixed")
_SNIPPET_INFO = re.compile(r"^python\s*\{(?P<attrs>.*)\}\s*$")
_SNIPPET_ID = re.compile(r"^#(?P<pair>[a-z0-9][a-z0-9-]*)(?:\.(?P<side>[a-z]+))?$")
# Beside these, `expect` and its variants (lessons.catalog.expect.ATTRIBUTE).
_ATTRIBUTES = {"django", "engine", "title", "raises", "metrics", "differs"}
# Words without a value. `n-plus-one` on a bad side: the lesson calls it an N+1, and the tests
# check that the run panel flags it so on the larger datasets (and never flags a fixed side).
_FLAGS = {"n-plus-one"}
_DJANGO_VERSION = re.compile(r"^\d+\.\d+$")
_METRICS = {"memory"}
_FRONT_MATTER = {"title": str, "slug": str, "part": int, "order": int, "summary": str}
_OPTIONAL_FRONT_MATTER = {"chart": str}  # a pair whose scale chart the page draws on load


# Only used to find fenced blocks and their line numbers; rendering is lessons.display.prose.
_markdown = MarkdownIt("commonmark")


def parse_lesson(path: Path) -> Lesson:
    text = path.read_text()
    front, body, body_offset = _split_front_matter(path, text)
    meta = _validate_front_matter(path, front)
    if meta["slug"] != path.stem:
        raise LessonError(path, 1, f"slug {meta['slug']!r} must match the file name {path.stem!r}")

    body_lines = body.splitlines(keepends=True)
    blocks: list[Prose | Pair] = []
    quiz: list[Question] = []
    exercises: list[Exercise] = []
    prose_start = 0
    for token in _markdown.parse(body):
        if token.type != "fence" or token.map is None:
            continue
        start, end = token.map
        file_line = body_offset + start + 1
        if token.info.strip() == "quiz":
            _flush_prose(blocks, body_lines[prose_start:start])
            quiz.extend(_parse_quiz(path, file_line, token.content, meta["slug"], len(quiz)))
        elif token.info.strip() == "exercise":
            _flush_prose(blocks, body_lines[prose_start:start])
            exercises.append(_parse_exercise(path, file_line, token.content, meta["slug"]))
        elif _SNIPPET_INFO.match(token.info):
            _flush_prose(blocks, body_lines[prose_start:start])
            _add_snippet(path, blocks, _parse_snippet(path, file_line, token))
        else:
            continue
        prose_start = end
    _flush_prose(blocks, body_lines[prose_start:])

    if meta.get("chart") and not any(isinstance(b, Pair) and b.id == meta["chart"] for b in blocks):
        raise LessonError(path, 1, f"chart names {meta['chart']!r}, which is not a pair here")
    for block in blocks:
        if isinstance(block, Pair) and block.snippets[0].side == "bad" and len(block.snippets) < 2:
            raise LessonError(path, block.snippets[0].line, f"pair {block.id!r} has no fixed side")
        if (
            isinstance(block, Pair)
            and block.snippets[0].side == "demo"
            and block.snippets[0].differs
        ):
            raise LessonError(path, block.snippets[0].line, "differs= belongs to a bad/fixed pair")
    if not any(isinstance(b, Pair) and len(b.snippets) == 2 for b in blocks):
        raise LessonError(path, 1, "a lesson needs at least one bad/fixed pair")
    _check_quiz(path, quiz)
    return Lesson(
        slug=meta["slug"],
        title=meta["title"],
        part=meta["part"],
        order=meta["order"],
        summary=meta["summary"],
        chart=meta.get("chart", ""),
        blocks=tuple(blocks),
        quiz=tuple(quiz),
        path=path,
        exercises=tuple(exercises),
    )


def _split_front_matter(path: Path, text: str) -> tuple[dict[str, Any], str, int]:
    lines = text.splitlines(keepends=True)
    if not lines or lines[0].strip() != "+++":
        raise LessonError(path, 1, "a lesson starts with TOML front matter between +++ lines")
    try:
        close = next(i for i in range(1, len(lines)) if lines[i].strip() == "+++")
    except StopIteration:
        raise LessonError(path, 1, "front matter is not closed with +++") from None
    try:
        front = tomllib.loads("".join(lines[1:close]))
    except tomllib.TOMLDecodeError as exc:
        raise LessonError(path, 2, f"invalid front matter: {exc}") from None
    return front, "".join(lines[close + 1 :]), close + 1


def _validate_front_matter(path: Path, front: dict[str, Any]) -> dict[str, Any]:
    for key, kind in _FRONT_MATTER.items():
        if not isinstance(front.get(key), kind):
            raise LessonError(path, 1, f"front matter needs {key} ({kind.__name__})")
    for key, kind in _OPTIONAL_FRONT_MATTER.items():
        if key in front and not isinstance(front[key], kind):
            raise LessonError(path, 1, f"front matter {key} must be a {kind.__name__}")
    unknown = set(front) - set(_FRONT_MATTER) - set(_OPTIONAL_FRONT_MATTER)
    if unknown:
        raise LessonError(path, 1, f"unknown front matter keys: {', '.join(sorted(unknown))}")
    return front


def _parse_snippet(path: Path, line: int, token: Token) -> Snippet:
    match = _SNIPPET_INFO.match(token.info)
    assert match is not None
    try:
        words = shlex.split(match["attrs"])
    except ValueError as exc:
        raise LessonError(path, line, f"snippet attributes: {exc}") from None
    ident = _SNIPPET_ID.match(words[0]) if words else None
    if ident is None:
        raise LessonError(path, line, "a snippet starts with #<pair>.<bad|fixed> or #<id>")
    side = ident["side"] or "demo"
    if side not in (*SIDES, "demo"):
        raise LessonError(path, line, f"unknown side {side!r}: use bad or fixed")
    attrs: dict[str, str] = {}
    flags: set[str] = set()
    for word in words[1:]:
        if word in _FLAGS:
            flags.add(word)
            continue
        key, equals, value = word.partition("=")
        if not equals or not (
            key in _ATTRIBUTES or expect.ATTRIBUTE.match(key) or plans.ATTRIBUTE.match(key)
        ):
            raise LessonError(path, line, f"unknown snippet attribute {word!r}")
        attrs[key] = value
    if "expect" not in attrs:
        raise LessonError(path, line, f'snippet {words[0]} needs expect="..."')
    if "n-plus-one" in flags and side != "bad":
        raise LessonError(path, line, "n-plus-one marks a bad side: a fix is never an N+1")
    if not _DJANGO_VERSION.match(attrs.get("django", "0.0")):
        raise LessonError(path, line, 'django="..." is a version such as "6.1"')
    if attrs.get("engine", "sqlite") not in expect.ENGINES:
        raise LessonError(path, line, f"engine=... is one of {', '.join(expect.ENGINES)}")
    metrics = set(attrs.get("metrics", "").split())
    if metrics - _METRICS:
        raise LessonError(path, line, f"unknown metrics {sorted(metrics - _METRICS)}: use memory")
    try:
        declared = expect.Declared.from_attributes(attrs)
    except expect.ExpectError as exc:
        raise LessonError(path, line, str(exc)) from None
    try:
        plan_claims = plans.PlanClaims.from_attributes(attrs)
    except plans.PlanClaimError as exc:
        raise LessonError(path, line, str(exc)) from None
    try:
        compile(token.content, "<snippet>", "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
    except SyntaxError as exc:
        raise LessonError(path, line + (exc.lineno or 0), f"snippet: {exc.msg}") from None
    return Snippet(
        id=words[0][1:],
        pair=ident["pair"],
        side=side,
        code=token.content,
        expect=attrs["expect"],
        title=attrs.get("title", ""),
        line=line,
        raises=attrs.get("raises", ""),
        measure_memory="memory" in metrics,
        differs=attrs.get("differs", ""),
        declared=declared,
        needs_django=attrs.get("django", ""),
        engine=attrs.get("engine", ""),
        n_plus_one="n-plus-one" in flags,
        plans=plan_claims,
    )


def _add_snippet(path: Path, blocks: list[Prose | Pair], snippet: Snippet) -> None:
    last = blocks[-1] if blocks else None
    if snippet.side == "fixed":
        if (
            not isinstance(last, Pair)
            or last.id != snippet.pair
            or len(last.snippets) != 1
            or last.snippets[0].side != "bad"
        ):
            raise LessonError(
                path, snippet.line, f"{snippet.id} must come right after {snippet.pair}.bad"
            )
        blocks[-1] = Pair(last.id, (last.snippets[0], snippet))
        return
    if any(isinstance(b, Pair) and b.id == snippet.pair for b in blocks):
        raise LessonError(path, snippet.line, f"snippet id {snippet.pair!r} is used twice")
    blocks.append(Pair(snippet.pair, (snippet,)))


def _flush_prose(blocks: list[Prose | Pair], lines: list[str]) -> None:
    source = "".join(lines)
    if source.strip():
        blocks.append(Prose(source))


QUESTION_KINDS = ("concept", "predict", "bug")
_QUESTION_KEYS = {"q", "choices", "answer", "explain"}
_OPTIONAL_QUESTION_KEYS = {"kind", "code"}  # and `expect` with its variants
MIN_QUESTIONS = 3
# The share of questions whose right answer is the uniquely longest choice: "pick the longest"
# must not be a winning strategy, in one lesson or over the course.
MAX_LONGEST_SHARE_LESSON = 0.5
MAX_LONGEST_SHARE_COURSE = 0.25


_EXERCISE_KEYS = {
    "name", "title", "task", "start", "solution", "budget", "hints", "rules", "wrong", "atomic",
    "django", "technique_is_budget",
    *COSTS,
}  # fmt: skip
_EXERCISE_PLAN_KEYS = {"plan", *(f"plan-{engine}" for engine in expect.ENGINES)}
_EXERCISE_KEYS |= _EXERCISE_PLAN_KEYS
ATOMIC_WRITE = 2  # `atomic = true`: the second write fails, after one that must be undone
_EXERCISE_NAME = re.compile(r"^[a-z0-9][a-z0-9-]*$")


def _parse_exercise(path: Path, line: int, content: str, slug: str) -> Exercise:
    try:
        data = tomllib.loads(content)
    except tomllib.TOMLDecodeError as exc:
        raise LessonError(path, line, f"exercise: invalid TOML: {exc}") from None

    def fail(message: str) -> LessonError:
        return LessonError(path, line, f"exercise {data.get('name', '?')!r}: {message}")

    if unknown := set(data) - _EXERCISE_KEYS:
        raise fail(f"unknown key(s) {', '.join(sorted(unknown))}")
    for key in ("name", "title", "task", "start", "solution", "budget"):
        if not isinstance(data.get(key), str) or not data[key].strip():
            raise fail(f'needs {key} = "..."')
    if not _EXERCISE_NAME.match(data["name"]):
        raise fail("name must be lowercase letters, digits and dashes")
    if not isinstance(data.get("django", "0.0"), str) or not _DJANGO_VERSION.match(
        data.get("django", "0.0")
    ):
        raise fail('django = "..." is a version such as "6.1"')
    hints = data.get("hints", [])
    if not (
        isinstance(hints, list) and 1 <= len(hints) <= 3 and all(isinstance(h, str) for h in hints)
    ):
        raise fail("needs one to three hints, from gentle to specific")
    rules = data.get("rules", [])
    if not isinstance(rules, list) or any(rule not in RULES for rule in rules):
        raise fail(f"rules must be among {', '.join(RULES)}")
    for key in ("start", "solution"):
        try:
            ast.parse(data[key])
        except SyntaxError as exc:
            raise fail(f"{key} is not valid Python (line {exc.lineno}: {exc.msg})") from None
    try:
        tree = expect.parse(data["budget"])
    except expect.ExpectError as exc:
        raise fail(f"budget: {exc}") from None
    costs = []
    for cost in COSTS:
        if cost not in data:
            continue
        if not isinstance(data[cost], str):
            raise fail(f'{cost} is an expression in a string: {cost} = "..."')
        try:
            costs.append(CostBudget(cost, data[cost], expect.parse(data[cost])))
        except expect.ExpectError as exc:
            raise fail(f"{cost}: {exc}") from None
    atomic = data.get("atomic", False)
    if atomic is True:
        atomic = ATOMIC_WRITE
    if atomic is False:
        atomic = 0
    if not isinstance(atomic, int) or atomic < 0 or atomic == 1:
        raise fail("atomic is true, or the number of the write that fails (2 or more)")
    # plan, plan-sqlite, plan-postgresql: checked on Production only, so no dataset variants.
    plan_keys = {key: data[key] for key in data if key in _EXERCISE_PLAN_KEYS}
    if any(not isinstance(value, str) for value in plan_keys.values()):
        raise fail('a plan is a claim in a string: plan = "no-scan:blog_comment"')
    try:
        plan_claims = plans.PlanClaims.from_attributes(plan_keys)
    except plans.PlanClaimError as exc:
        raise fail(str(exc)) from None
    technique_is_budget = data.get("technique_is_budget", False)
    if not isinstance(technique_is_budget, bool):
        raise fail("technique_is_budget is true or false")
    wrong = []
    for attempt in data.get("wrong", []):
        if not isinstance(attempt, dict) or set(attempt) != {"code", "reason"}:
            raise fail("each [[wrong]] has code and reason, nothing else")
        if attempt["reason"] not in WRONG_REASONS:
            raise fail(f"a wrong attempt's reason is one of {', '.join(WRONG_REASONS)}")
        wrong.append(WrongAttempt(attempt["code"], attempt["reason"]))
    return Exercise(
        id=f"{slug}.{data['name']}",
        title=data["title"],
        task=data["task"].strip(),
        start=data["start"].strip("\n"),
        solution=data["solution"].strip("\n"),
        budget=data["budget"],
        hints=tuple(hints),
        rules=tuple(rules),
        wrong=tuple(wrong),
        line=line,
        _budget_tree=tree,
        costs=tuple(costs),
        atomic=atomic,
        needs_django=data.get("django", ""),
        technique_is_budget=technique_is_budget,
        plan=plan_claims,
    )


def _parse_quiz(
    path: Path, line: int, content: str, slug: str, numbered_from: int
) -> list[Question]:
    try:
        items = json.loads(content)
    except json.JSONDecodeError as exc:
        raise LessonError(path, line + exc.lineno, f"quiz: invalid JSON: {exc.msg}") from None
    if not isinstance(items, list):
        raise LessonError(path, line, "quiz: expected a JSON list of questions")
    return [
        _parse_question(path, line, item, f"{slug}-{number}", f"quiz question {number}")
        for number, item in enumerate(items, numbered_from + 1)
    ]


def _parse_question(path: Path, line: int, item: Any, ident: str, where: str) -> Question:
    def fail(message: str) -> LessonError:
        return LessonError(path, line, f"{where}: {message}")

    if not isinstance(item, dict) or not set(item) >= _QUESTION_KEYS:
        raise fail("needs q, choices, answer and explain")
    declared_keys = {key for key in item if expect.ATTRIBUTE.match(key)}
    if unknown := set(item) - _QUESTION_KEYS - _OPTIONAL_QUESTION_KEYS - declared_keys:
        raise fail(f"unknown keys {sorted(unknown)}")
    text, choices, answer, explanation = (item[k] for k in ("q", "choices", "answer", "explain"))
    if not all(isinstance(x, str) and x.strip() for x in (text, explanation)):
        raise fail("q and explain must be non-empty text")
    if not (
        isinstance(choices, list)
        and len(choices) >= 2
        and all(isinstance(c, str) and c.strip() for c in choices)
    ):
        raise fail("choices must be two or more non-empty strings")
    if len({c.strip().casefold() for c in choices}) != len(choices):
        raise fail("two choices say the same thing")
    if not isinstance(answer, int) or isinstance(answer, bool) or not 0 <= answer < len(choices):
        raise fail("answer must index into choices")
    kind = item.get("kind", "concept")
    if kind not in QUESTION_KINDS:
        raise fail(f"kind must be one of {', '.join(QUESTION_KINDS)}")
    code = item.get("code", "")
    if not isinstance(code, str):
        raise fail("code must be a string")
    if kind in ("predict", "bug") and not code.strip():
        raise fail(f"a {kind} question shows the code it is about (code)")
    if (kind == "predict") != bool(declared_keys):
        raise fail('a predict question, and only a predict question, has an expect="..."')
    declared = None
    if declared_keys:
        try:
            declared = expect.Declared.from_attributes(item)
        except expect.ExpectError as exc:
            raise fail(str(exc)) from None
    if code:
        try:
            compile(code, "<snippet>", "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
        except SyntaxError as exc:
            raise fail(f"code: {exc.msg} (line {exc.lineno})") from None
    return Question(ident, text, tuple(choices), answer, explanation, kind, code, declared)


def _check_quiz(path: Path, questions: list[Question]) -> None:
    """The rules a lesson's quiz as a whole must follow."""
    if len(questions) < MIN_QUESTIONS:
        raise LessonError(path, 1, f"the quiz needs at least {MIN_QUESTIONS} questions")
    if len({q.answer for q in questions}) == 1:
        raise LessonError(path, 1, "every right answer sits at the same index: vary them")
    for kind in ("predict", "bug"):
        if not any(q.kind == kind for q in questions):
            raise LessonError(path, 1, f'the quiz needs a "{kind}" question')
    longest = sum(q.answer_is_longest for q in questions)
    if longest > len(questions) * MAX_LONGEST_SHARE_LESSON:
        raise LessonError(
            path,
            1,
            f"the right answer is the longest choice in {longest} of {len(questions)} "
            f"questions; at most {MAX_LONGEST_SHARE_LESSON:.0%} may be",
        )
    texts = Counter(" ".join(q.text.split()).casefold() for q in questions)
    if repeated := [text for text, n in texts.items() if n > 1]:
        raise LessonError(path, 1, f"a question is asked twice: {repeated[0][:80]!r}")


def longest_answer_share(lessons: list[Lesson]) -> tuple[int, int]:
    """(questions whose right answer is the uniquely longest choice, all questions)."""
    questions = [q for lesson in lessons for q in lesson.quiz]
    return sum(q.answer_is_longest for q in questions), len(questions)
