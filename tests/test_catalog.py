"""Lesson files are validated on load, and errors name the file and line."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest

from lessons.catalog import LessonError, load_catalog, parse_lesson

FRONT = '+++\ntitle = "T"\nslug = "demo"\npart = 1\norder = 1\nsummary = "S"\n+++\n'
PARTS = '[[part]]\nnumber = 1\ntitle = "One"\n'
FENCE = "```"


def write(tmp_path: Path, body: str, name: str = "demo.md", front: str = FRONT) -> Path:
    path = tmp_path / name
    path.write_text(front + textwrap.dedent(body))
    (tmp_path / "parts.toml").write_text(PARTS)
    return path


def pair(bad: str = "1", fixed: str = "1") -> str:
    return (
        f'{FENCE}python {{#p.bad expect="{bad}"}}\nPost.objects.count()\n{FENCE}\n\n'
        f'{FENCE}python {{#p.fixed expect="{fixed}"}}\nPost.objects.count()\n{FENCE}\n'
    )


def test_parses_prose_pairs_and_quiz(tmp_path: Path) -> None:
    quiz = '[{"q": "Q?", "choices": ["a", "b"], "answer": 1, "explain": "E"}]'
    path = write(
        tmp_path,
        f"Intro *text*.\n\n{pair(bad='1 + posts')}\nAfter.\n\n{FENCE}quiz\n{quiz}\n{FENCE}\n",
    )

    lesson = parse_lesson(path)

    kinds = [type(block).__name__ for block in lesson.blocks]
    assert kinds == ["Prose", "Pair", "Prose"]
    assert "<em>text</em>" in lesson.blocks[0].html  # type: ignore[union-attr]
    assert list(lesson.snippets) == ["p.bad", "p.fixed"]
    assert lesson.snippets["p.bad"].expected_count({"posts": 4}) == 5
    assert lesson.quiz[0].answer_text == "b"


def test_snippet_line_is_the_fence_line_in_the_file(tmp_path: Path) -> None:
    lesson = parse_lesson(write(tmp_path, "Intro.\n\n" + pair()))

    assert lesson.snippets["p.bad"].line == FRONT.count("\n") + 3


def test_bad_expect_names_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, "Intro.\n\n" + pair(bad="__import__('os')"))

    with pytest.raises(LessonError, match=rf"demo\.md:{FRONT.count(chr(10)) + 3}: not allowed"):
        parse_lesson(path)


def test_fixed_side_must_follow_its_bad_side(tmp_path: Path) -> None:
    body = pair().replace(
        f"{FENCE}\n\n{FENCE}python {{#p.fixed", f"{FENCE}\n\nProse.\n\n{FENCE}python {{#p.fixed"
    )

    with pytest.raises(LessonError, match=r"p\.fixed must come right after p\.bad"):
        parse_lesson(write(tmp_path, body))


def test_bad_side_without_fixed_side_is_an_error(tmp_path: Path) -> None:
    body = f'{FENCE}python {{#p.bad expect="1"}}\nPost.objects.count()\n{FENCE}\n'

    with pytest.raises(LessonError, match="has no fixed side"):
        parse_lesson(write(tmp_path, body))


def test_snippet_syntax_error_is_reported_at_its_line(tmp_path: Path) -> None:
    body = f'{FENCE}python {{#demo expect="0"}}\nx = 1\ny = (\n{FENCE}\n'

    with pytest.raises(LessonError, match="snippet:"):
        parse_lesson(write(tmp_path, body))


def test_unknown_snippet_attribute_is_an_error(tmp_path: Path) -> None:
    body = f'{FENCE}python {{#demo expect="0" colour="red"}}\nx = 1\n{FENCE}\n'

    with pytest.raises(LessonError, match="unknown snippet attribute"):
        parse_lesson(write(tmp_path, body))


def test_quiz_answer_out_of_range_is_an_error(tmp_path: Path) -> None:
    quiz = '[{"q": "Q?", "choices": ["a", "b"], "answer": 2, "explain": "E"}]'

    with pytest.raises(LessonError, match="answer must index into choices"):
        parse_lesson(write(tmp_path, f"{FENCE}quiz\n{quiz}\n{FENCE}\n"))


def test_slug_must_match_file_name(tmp_path: Path) -> None:
    with pytest.raises(LessonError, match="must match the file name"):
        parse_lesson(write(tmp_path, "Text.\n", name="other.md"))


def test_missing_front_matter_key_is_an_error(tmp_path: Path) -> None:
    front = FRONT.replace('summary = "S"\n', "")

    with pytest.raises(LessonError, match=r"demo\.md:1: front matter needs summary"):
        parse_lesson(write(tmp_path, "Text.\n", front=front))


def test_two_lessons_in_the_same_place_is_an_error(tmp_path: Path) -> None:
    write(tmp_path, "Text.\n")
    write(tmp_path, "Text.\n", name="other.md", front=FRONT.replace("demo", "other"))

    with pytest.raises(LessonError, match="order 1 is also"):
        load_catalog(tmp_path)


def test_system_check_reports_a_broken_lesson_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from lessons import apps, catalog

    write(tmp_path, "Text.\n", name="broken.md")
    monkeypatch.setattr(catalog, "CONTENT_DIR", tmp_path)

    [error] = apps.check_lesson_files()

    assert error.id == "lessons.E001"
    assert "broken.md:1: slug 'demo' must match the file name 'broken'" in error.msg


def test_catalog_picks_up_an_edited_lesson_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from lessons import catalog

    path = write(tmp_path, "Text.\n")
    monkeypatch.setattr(catalog, "CONTENT_DIR", tmp_path)
    assert catalog.get_catalog().lessons[0].title == "T"

    path.write_text(path.read_text().replace('title = "T"', 'title = "Edited"'))
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 1_000_000))

    assert catalog.get_catalog().lessons[0].title == "Edited"
