"""The lesson catalog: Markdown files in lessons/content/ parsed once into Lesson objects.

A lesson file is TOML front matter between `+++` lines, then Markdown. Two kinds of fenced block
are special:

    ```python {#count-comments.bad expect="1 + posts" title="Counting in a loop"}
    ```quiz   (a JSON list of {"q", "choices", "answer", "explain"})

Runnable snippets are `#<pair>.<side>` with side `bad` or `fixed` (next to each other), or a lone
`#<id>` for a demo. Any mistake raises LessonError naming the file and line.
"""

from __future__ import annotations

import ast
import functools
import json
import re
import shlex
import tomllib
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from markdown_it import MarkdownIt
from markdown_it.token import Token
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import get_lexer_by_name
from pygments.util import ClassNotFound

from lessons import expect

CONTENT_DIR = Path(__file__).resolve().parent / "content"
SIDES = ("bad", "fixed")
_SNIPPET_INFO = re.compile(r"^python\s*\{(?P<attrs>.*)\}\s*$")
_SNIPPET_ID = re.compile(r"^#(?P<pair>[a-z0-9][a-z0-9-]*)(?:\.(?P<side>[a-z]+))?$")
_ATTRIBUTES = {"expect", "title", "raises", "metrics", "differs"}
_METRICS = {"memory"}
_FRONT_MATTER = {"title": str, "slug": str, "part": int, "order": int, "summary": str}
_OPTIONAL_FRONT_MATTER = {"chart": str}  # a pair whose scale chart the page draws on load


class LessonError(ValueError):
    def __init__(self, path: Path, line: int, message: str) -> None:
        super().__init__(f"{path}:{line}: {message}")
        self.path, self.line = path, line


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
    _expect_tree: ast.expr = field(repr=False, compare=False)

    def expected_count(self, counts: Mapping[str, int]) -> int:
        return expect.evaluate(self._expect_tree, counts)


@dataclass(frozen=True)
class Pair:
    id: str
    snippets: tuple[Snippet, ...]  # (bad, fixed), or a single demo snippet


@dataclass(frozen=True)
class Prose:
    html: str


@dataclass(frozen=True)
class Question:
    id: str
    text: str
    choices: tuple[str, ...]
    answer: int
    explain: str
    kind: str = "concept"  # "concept", "predict" (the count some code sends) or "bug"
    code: str = ""  # shown with the question; runnable like a snippet
    expect: str = ""  # predict questions: the count `code` sends, checked like a snippet's

    @property
    def answer_text(self) -> str:
        return self.choices[self.answer]

    @property
    def answer_is_longest(self) -> bool:
        """The right answer is the one choice longer than all the others (a give-away)."""
        lengths = [len(choice) for choice in self.choices]
        return lengths.count(max(lengths)) == 1 and lengths[self.answer] == max(lengths)

    def expected_count(self, counts: Mapping[str, int]) -> int:
        return expect.evaluate(self.expect, counts)


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

    @property
    def pairs(self) -> list[Pair]:
        return [block for block in self.blocks if isinstance(block, Pair)]

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

    def neighbours(self, lesson: Lesson) -> tuple[Lesson | None, Lesson | None]:
        index = self.lessons.index(lesson)
        previous = self.lessons[index - 1] if index > 0 else None
        following = self.lessons[index + 1] if index + 1 < len(self.lessons) else None
        return previous, following


def _highlight_fence(code: str, language: str, attrs: str) -> str:
    try:
        lexer = get_lexer_by_name(language or "text")
    except ClassNotFound:
        lexer = get_lexer_by_name("text")
    return highlight(code, lexer, HtmlFormatter(nowrap=True, classprefix="hl-"))


# Raw HTML is off, so the rendered prose is safe to mark safe in templates.
_markdown = (
    MarkdownIt("commonmark", {"highlight": _highlight_fence, "html": False})
    .enable("table")
    .disable(["html_block", "html_inline"])
)


def get_catalog() -> Catalog:
    """The course's catalog, parsed once and parsed again only when a lesson file changes
    (a stat per file per call: cheap, and authors see their edits without a restart)."""
    return _load_cached(CONTENT_DIR, _signature(CONTENT_DIR))


def _signature(directory: Path) -> tuple[tuple[str, int], ...]:
    files = sorted([*directory.glob("*.md"), directory / "parts.toml"])
    return tuple((path.name, path.stat().st_mtime_ns) for path in files)


@functools.lru_cache(maxsize=1)
def _load_cached(directory: Path, signature: tuple[tuple[str, int], ...]) -> Catalog:
    return load_catalog(directory)


def load_catalog(directory: Path, draft: Path | None = None) -> Catalog:
    """Every lesson in `directory`; with `draft`, that file stands in for the lesson with its slug
    (or joins the course), so a draft is checked by exactly the rules the course is."""
    parts_file = directory / "parts.toml"
    part_titles = {p["number"]: p["title"] for p in _read_toml(parts_file)["part"]}
    paths = sorted(directory.glob("*.md"))
    if draft is not None:
        paths = [p for p in paths if p.stem != draft.stem] + [draft]
    lessons = [parse_lesson(path) for path in paths]
    seen: dict[tuple[int, int], Lesson] = {}
    for lesson in lessons:
        if lesson.part not in part_titles:
            raise LessonError(lesson.path, 1, f"part {lesson.part} is not in {parts_file.name}")
        other = seen.setdefault((lesson.part, lesson.order), lesson)
        if other is not lesson:
            raise LessonError(
                lesson.path, 1, f"part {lesson.part} order {lesson.order} is also {other.path.name}"
            )
    _check_course(lessons)
    return Catalog(
        tuple(
            Part(
                number,
                title,
                tuple(sorted((x for x in lessons if x.part == number), key=lambda x: x.order)),
            )
            for number, title in sorted(part_titles.items())
        )
    )


def _check_course(lessons: list[Lesson]) -> None:
    """Rules that span lessons: unique snippet ids and questions, no give-away answer lengths."""
    owners: dict[str, Lesson] = {}
    for lesson in lessons:
        for snippet in lesson.snippets.values():
            other = owners.setdefault(snippet.id, lesson)
            if other is not lesson:
                raise LessonError(
                    lesson.path, snippet.line, f"snippet id {snippet.id!r} is also used in "
                    f"{other.path.name}: snippet ids are unique across the course"
                )
    asked: dict[str, Lesson] = {}
    for lesson in lessons:
        for question in lesson.quiz:
            other = asked.setdefault(" ".join(question.text.split()).casefold(), lesson)
            if other is not lesson:
                raise LessonError(
                    lesson.path, 1, f"{question.id} is also asked in {other.path.name}"
                )
    longest, total = longest_answer_share(lessons)
    import os  # TEMPORARY while the quizzes are rewritten

    if os.environ.get("COURSE_QUIZ_DRAFT"):
        return
    if total and longest > total * MAX_LONGEST_SHARE_COURSE:
        raise LessonError(
            lessons[-1].path,
            1,
            f"over the course the right answer is the longest choice in {longest} of {total} "
            f"questions ({longest / total:.0%}); at most {MAX_LONGEST_SHARE_COURSE:.0%} may be",
        )


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise LessonError(path, getattr(exc, "lineno", 1), f"invalid TOML: {exc}") from None


def parse_lesson(path: Path) -> Lesson:
    text = path.read_text()
    front, body, body_offset = _split_front_matter(path, text)
    meta = _validate_front_matter(path, front)
    if meta["slug"] != path.stem:
        raise LessonError(path, 1, f"slug {meta['slug']!r} must match the file name {path.stem!r}")

    body_lines = body.splitlines(keepends=True)
    blocks: list[Prose | Pair] = []
    quiz: list[Question] = []
    prose_start = 0
    for token in _markdown.parse(body):
        if token.type != "fence" or token.map is None:
            continue
        start, end = token.map
        file_line = body_offset + start + 1
        if token.info.strip() == "quiz":
            _flush_prose(blocks, body_lines[prose_start:start])
            quiz.extend(_parse_quiz(path, file_line, token.content, meta["slug"], len(quiz)))
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
        if isinstance(block, Pair) and block.snippets[0].side == "demo" and block.snippets[0].differs:
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
    for word in words[1:]:
        key, equals, value = word.partition("=")
        if not equals or key not in _ATTRIBUTES:
            raise LessonError(path, line, f"unknown snippet attribute {word!r}")
        attrs[key] = value
    if "expect" not in attrs:
        raise LessonError(path, line, f'snippet {words[0]} needs expect="..."')
    metrics = set(attrs.get("metrics", "").split())
    if metrics - _METRICS:
        raise LessonError(path, line, f"unknown metrics {sorted(metrics - _METRICS)}: use memory")
    try:
        tree = expect.parse(attrs["expect"])
    except expect.ExpectError as exc:
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
        _expect_tree=tree,
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
        blocks.append(Prose(_markdown.render(source)))


QUESTION_KINDS = ("concept", "predict", "bug")
_QUESTION_KEYS = {"q", "choices", "answer", "explain"}
_OPTIONAL_QUESTION_KEYS = {"kind", "code", "expect"}
MIN_QUESTIONS = 3
# The share of questions whose right answer is the uniquely longest choice: "pick the longest"
# must not be a winning strategy, in one lesson or over the course.
MAX_LONGEST_SHARE_LESSON = 0.5
MAX_LONGEST_SHARE_COURSE = 0.35


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

    if not isinstance(item, dict) or not _QUESTION_KEYS <= set(item):
        raise fail("needs q, choices, answer and explain")
    if unknown := set(item) - _QUESTION_KEYS - _OPTIONAL_QUESTION_KEYS:
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
    code, expression = item.get("code", ""), item.get("expect", "")
    if not isinstance(code, str) or not isinstance(expression, str):
        raise fail("code and expect must be strings")
    if kind in ("predict", "bug") and not code.strip():
        raise fail(f"a {kind} question shows the code it is about (code)")
    if (kind == "predict") != bool(expression):
        raise fail('a predict question, and only a predict question, has an expect="..."')
    if expression:
        try:
            expect.parse(expression)
        except expect.ExpectError as exc:
            raise fail(str(exc)) from None
    if code:
        try:
            compile(code, "<snippet>", "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
        except SyntaxError as exc:
            raise fail(f"code: {exc.msg} (line {exc.lineno})") from None
    return Question(ident, text, tuple(choices), answer, explanation, kind, code, expression)


def _check_quiz(path: Path, questions: list[Question]) -> None:
    """The rules a lesson's quiz as a whole must follow."""
    import os  # TEMPORARY while the quizzes are rewritten

    if os.environ.get("COURSE_QUIZ_DRAFT") and not any(q.kind != "concept" for q in questions):
        return
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
