"""Lesson files are validated on load, and errors name the file and line. Every content rule
lives in the parser, so the start-up check, `manage.py lesson draft.md` and the tests agree."""

from __future__ import annotations

import json
import os
import textwrap
from pathlib import Path
from typing import Any

import pytest

from lessons.catalog import LessonError, load_catalog, parse_lesson
from lessons.catalog import expect as catalog_expect

FRONT = '+++\ntitle = "T"\nslug = "demo"\npart = 1\norder = 1\nsummary = "S"\n+++\n'
PARTS = '[[part]]\nnumber = 1\ntitle = "One"\n'
FENCE = "```"


def question(text: str, **fields: Any) -> dict[str, Any]:
    return {"q": text, "choices": ["one", "two", "six"], "answer": 1, "explain": "E", **fields}


def valid_quiz() -> list[dict[str, Any]]:
    return [
        question("Concept?", answer=0),
        question("Predict?", kind="predict", code="Post.objects.count()", expect="1"),
        question("Bug?", kind="bug", code="for p in Post.objects.all():\n    p.author", answer=2),
    ]


def quiz_fence(items: list[dict[str, Any]]) -> str:
    return f"{FENCE}quiz\n{json.dumps(items)}\n{FENCE}\n"


def write(
    tmp_path: Path,
    body: str,
    name: str = "demo.md",
    front: str = FRONT,
    quiz: list[dict[str, Any]] | None = None,
) -> Path:
    """A lesson file: `body`, then a pair unless the body has snippets, then a valid quiz."""
    path = tmp_path / name
    body = textwrap.dedent(body)
    if "python {#" not in body:
        body += "\n" + pair()
    path.write_text(front + body + "\n" + quiz_fence(valid_quiz() if quiz is None else quiz))
    (tmp_path / "parts.toml").write_text(PARTS)
    return path


def pair(bad: str = "1", fixed: str = "1", pair_id: str = "p") -> str:
    return (
        f'{FENCE}python {{#{pair_id}.bad expect="{bad}"}}\nPost.objects.count()\n{FENCE}\n\n'
        f'{FENCE}python {{#{pair_id}.fixed expect="{fixed}"}}\nPost.objects.count()\n{FENCE}\n'
    )


def test_parses_prose_pairs_and_quiz(tmp_path: Path) -> None:
    path = write(tmp_path, f"Intro *text*.\n\n{pair(bad='1 + posts')}\nAfter.\n")

    lesson = parse_lesson(path)

    kinds = [type(block).__name__ for block in lesson.blocks]
    assert kinds == ["Prose", "Pair", "Prose"]
    assert "Intro *text*." in lesson.blocks[0].source  # type: ignore[union-attr]
    assert list(lesson.snippets) == ["p.bad", "p.fixed"]
    assert lesson.snippets["p.bad"].expected_count({"posts": 4}, "sqlite") == 5
    assert lesson.quiz[0].answer_text == "one"
    assert [q.kind for q in lesson.quiz] == ["concept", "predict", "bug"]


def test_snippet_line_is_the_fence_line_in_the_file(tmp_path: Path) -> None:
    lesson = parse_lesson(write(tmp_path, "Intro.\n\n" + pair()))

    assert lesson.snippets["p.bad"].line == FRONT.count("\n") + 3


def test_bad_expect_names_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, "Intro.\n\n" + pair(bad="__import__('os')"))

    with pytest.raises(LessonError, match=rf"demo\.md:{FRONT.count(chr(10)) + 3}: not allowed"):
        parse_lesson(path)


@pytest.mark.parametrize(("django_version", "count"), [((5, 2), 5), ((6, 0), 1), ((6, 1), 1)])
def test_expect_6_0_is_the_count_on_django_6(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, django_version: tuple[int, int], count: int
) -> None:
    body = pair(bad='1 + posts" expect-6.0="1')
    monkeypatch.setattr(catalog_expect, "DJANGO", django_version)

    snippet = parse_lesson(write(tmp_path, body)).snippets["p.bad"]

    assert snippet.expected_count({"posts": 4}, "sqlite") == count


@pytest.mark.parametrize(("engine", "count"), [("sqlite", 5), ("postgresql", 2)])
def test_expect_postgresql_is_the_count_on_postgresql(
    tmp_path: Path, engine: str, count: int
) -> None:
    body = pair(bad='1 + posts" expect-postgresql="2')

    snippet = parse_lesson(write(tmp_path, body)).snippets["p.bad"]

    assert snippet.expected_count({"posts": 4}, engine) == count


@pytest.mark.parametrize(
    ("engine", "django_version", "count"),
    [
        ("sqlite", (5, 2), 10),
        ("sqlite", (6, 1), 6),
        ("postgresql", (5, 2), 2),
        ("postgresql", (6, 1), 3),
    ],
)
def test_the_most_specific_expect_wins(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    engine: str,
    django_version: tuple[int, int],
    count: int,
) -> None:
    declared = '10" expect-6.0="6" expect-postgresql="2" expect-postgresql-6.0="3'
    monkeypatch.setattr(catalog_expect, "DJANGO", django_version)

    snippet = parse_lesson(write(tmp_path, pair(bad=declared))).snippets["p.bad"]

    assert snippet.expected_count({}, engine) == count


def test_an_unknown_engine_in_expect_is_an_error(tmp_path: Path) -> None:
    path = write(tmp_path, "Intro.\n\n" + pair(bad='1" expect-mysql="2'))

    with pytest.raises(LessonError, match="unknown snippet attribute 'expect-mysql=2'"):
        parse_lesson(path)


@pytest.mark.parametrize(("engine", "runs"), [("sqlite", False), ("postgresql", True)])
def test_a_snippet_for_one_engine_runs_only_there(tmp_path: Path, engine: str, runs: bool) -> None:
    body = pair(bad='1" engine="postgresql')

    snippet = parse_lesson(write(tmp_path, body)).snippets["p.bad"]

    assert snippet.runs_on(engine) is runs


def test_engine_attribute_must_name_an_engine(tmp_path: Path) -> None:
    path = write(tmp_path, "Intro.\n\n" + pair(bad='1" engine="oracle'))

    with pytest.raises(LessonError, match=r"engine=\.\.\. is one of sqlite, postgresql"):
        parse_lesson(path)


def test_bad_expect_6_0_names_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, "Intro.\n\n" + pair(bad='1" expect-6.0="open(1)'))

    with pytest.raises(LessonError, match=rf"demo\.md:{FRONT.count(chr(10)) + 3}: not allowed"):
        parse_lesson(path)


def test_django_attribute_must_be_a_version(tmp_path: Path) -> None:
    path = write(tmp_path, "Intro.\n\n" + pair(bad='1" django="six'))

    with pytest.raises(LessonError, match=r'django="\.\.\." is a version'):
        parse_lesson(path)


@pytest.mark.parametrize(("needs", "runs_here"), [("5.0", True), ("99.0", False)])
def test_a_snippet_runs_only_on_the_django_it_needs(
    tmp_path: Path, needs: str, runs_here: bool
) -> None:
    body = pair(bad=f'1" django="{needs}')

    snippet = parse_lesson(write(tmp_path, body)).snippets["p.bad"]

    assert snippet.runs_here is runs_here


def test_a_bad_side_can_be_declared_an_n_plus_one(tmp_path: Path) -> None:
    body = pair(bad='1 + posts" n-plus-one title="Loop')

    lesson = parse_lesson(write(tmp_path, body))

    assert [lesson.snippets[s].n_plus_one for s in ("p.bad", "p.fixed")] == [True, False]


def test_a_fixed_side_cannot_be_declared_an_n_plus_one(tmp_path: Path) -> None:
    path = write(tmp_path, pair(fixed='1" n-plus-one title="Fix'))

    with pytest.raises(LessonError, match="n-plus-one marks a bad side"):
        parse_lesson(path)


def test_fixed_side_must_follow_its_bad_side(tmp_path: Path) -> None:
    body = pair().replace(
        f"{FENCE}\n\n{FENCE}python {{#p.fixed", f"{FENCE}\n\nProse.\n\n{FENCE}python {{#p.fixed"
    )

    with pytest.raises(LessonError, match=r"p\.fixed must come right after p\.bad"):
        parse_lesson(write(tmp_path, body))


def test_bad_side_without_fixed_side_is_an_error(tmp_path: Path) -> None:
    body = (
        pair("1", "1", "q")
        + f'{FENCE}python {{#p.bad expect="1"}}\nPost.objects.count()\n{FENCE}\n'
    )

    with pytest.raises(LessonError, match="has no fixed side"):
        parse_lesson(write(tmp_path, body))


def test_snippet_syntax_error_is_reported_at_its_line(tmp_path: Path) -> None:
    body = pair() + f'{FENCE}python {{#demo expect="0"}}\nx = 1\ny = (\n{FENCE}\n'

    with pytest.raises(LessonError, match="snippet:"):
        parse_lesson(write(tmp_path, body))


def test_unknown_snippet_attribute_is_an_error(tmp_path: Path) -> None:
    body = pair() + f'{FENCE}python {{#demo expect="0" colour="red"}}\nx = 1\n{FENCE}\n'

    with pytest.raises(LessonError, match="unknown snippet attribute"):
        parse_lesson(write(tmp_path, body))


def test_quiz_answer_out_of_range_is_an_error(tmp_path: Path) -> None:
    quiz = [*valid_quiz(), question("Out?", answer=3)]

    with pytest.raises(LessonError, match="answer must index into choices"):
        parse_lesson(write(tmp_path, "Text.\n", quiz=quiz))


def test_quiz_with_fewer_than_three_questions_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(LessonError, match="at least 3 questions"):
        parse_lesson(write(tmp_path, "Text.\n", quiz=valid_quiz()[1:]))


def test_duplicate_choices_are_an_error(tmp_path: Path) -> None:
    quiz = [*valid_quiz(), question("Twice?", choices=["same", "Same", "other"])]

    with pytest.raises(LessonError, match="two choices say the same thing"):
        parse_lesson(write(tmp_path, "Text.\n", quiz=quiz))


def test_a_question_asked_twice_is_an_error(tmp_path: Path) -> None:
    quiz = [*valid_quiz(), question("Concept?", answer=2)]

    with pytest.raises(LessonError, match="asked twice"):
        parse_lesson(write(tmp_path, "Text.\n", quiz=quiz))


def test_quiz_without_a_predict_question_is_an_error(tmp_path: Path) -> None:
    quiz = [q for q in valid_quiz() if q.get("kind") != "predict"] + [question("More?")]

    with pytest.raises(LessonError, match='needs a "predict" question'):
        parse_lesson(write(tmp_path, "Text.\n", quiz=quiz))


def test_quiz_without_a_bug_question_is_an_error(tmp_path: Path) -> None:
    quiz = [q for q in valid_quiz() if q.get("kind") != "bug"] + [question("More?", answer=2)]

    with pytest.raises(LessonError, match='needs a "bug" question'):
        parse_lesson(write(tmp_path, "Text.\n", quiz=quiz))


def test_predict_question_needs_a_count(tmp_path: Path) -> None:
    quiz = valid_quiz()
    del quiz[1]["expect"]

    with pytest.raises(LessonError, match="predict question, and only a predict question"):
        parse_lesson(write(tmp_path, "Text.\n", quiz=quiz))


def test_predict_question_on_django_6_counts_its_expect_6_0(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    quiz = valid_quiz()
    quiz[1]["expect-6.0"] = "posts"
    monkeypatch.setattr(catalog_expect, "DJANGO", (6, 1))

    question = parse_lesson(write(tmp_path, "Text.\n", quiz=quiz)).quiz[1]

    assert question.expected_count({"posts": 7}, "sqlite") == 7


def test_predict_question_on_postgresql_counts_its_expect_postgresql(tmp_path: Path) -> None:
    quiz = valid_quiz()
    quiz[1]["expect-postgresql"] = "posts"

    question = parse_lesson(write(tmp_path, "Text.\n", quiz=quiz)).quiz[1]

    assert question.expected_count({"posts": 7}, "postgresql") == 7


def test_expect_6_0_without_expect_is_an_error(tmp_path: Path) -> None:
    quiz = valid_quiz()
    quiz[1]["expect-6.0"] = quiz[1].pop("expect")

    with pytest.raises(LessonError, match=r"expect-6\.0 need an expect beside them"):
        parse_lesson(write(tmp_path, "Text.\n", quiz=quiz))


def test_all_answers_at_one_index_is_an_error(tmp_path: Path) -> None:
    quiz = [{**q, "answer": 1} for q in valid_quiz()]

    with pytest.raises(LessonError, match="same index"):
        parse_lesson(write(tmp_path, "Text.\n", quiz=quiz))


def test_longest_choice_as_the_answer_too_often_is_an_error(tmp_path: Path) -> None:
    quiz = [{**q, "choices": ["a", "a much longer right answer", "b"]} for q in valid_quiz()]
    quiz[0]["answer"] = 1

    with pytest.raises(LessonError, match="longest choice in 2 of 3"):
        parse_lesson(write(tmp_path, "Text.\n", quiz=quiz))


def echo_quiz(answers: list[int]) -> list[dict[str, Any]]:
    """A valid quiz whose choices are all as long as each other, and whose every question names
    the Greek letter of its choice `answers[i]`."""
    letters = ["gamma ray", "delta ray", "sigma ray"]
    return [
        {**q, "q": f"Which one is the {letters[i].split()[0]}? ({q['q']})", "choices": letters}
        | {"answer": answer}
        for q, i, answer in zip(valid_quiz(), [0, 1, 2], answers, strict=True)
    ]


def test_echo_cue_picks_the_choice_sharing_most_words_with_the_question() -> None:
    from lessons.catalog.cues import echoing_choice
    from lessons.catalog.models import Question

    question = Question("x-1", "Which join does select_related use for a profile?", (
        "select_related writes a LEFT OUTER JOIN",
        "select_related writes an INNER JOIN to profile",
        "select_related writes a subquery",
    ), 0, "E")  # fmt: skip

    # "select_related" and "writes" are in every choice, so only "profile" and "join" point.
    assert echoing_choice(question) == 1
    assert echoing_choice(Question("x-2", "Why?", ("one", "two"), 0, "E")) is None


def test_cue_words_are_stemmed_and_lookups_split() -> None:
    from lessons.catalog.cues import words

    assert words("The queries counted") == words("a query counts") == {"query", "count"}
    assert words("comments__approved and select_related") == {
        "comment",
        "approv",
        "select_related",
    }


def test_a_course_whose_answers_echo_their_questions_is_refused(tmp_path: Path) -> None:
    write(tmp_path, "Text.\n", quiz=echo_quiz([0, 1, 2]))

    with pytest.raises(LessonError, match=r"picking the echo choice is right in 3 of 3"):
        load_catalog(tmp_path)


def test_a_course_whose_echoing_choices_are_always_wrong_is_refused(tmp_path: Path) -> None:
    """A trap a learner can learn to strike out gives answers away too."""
    write(tmp_path, "Text.\n", quiz=echo_quiz([1, 2, 0]))

    with pytest.raises(LessonError, match=r"picking the echo choice is right in 0 of 3"):
        load_catalog(tmp_path)


def test_snippet_id_reused_in_another_lesson_is_an_error(tmp_path: Path) -> None:
    write(tmp_path, "Text.\n")
    write(
        tmp_path,
        "Text.\n",
        name="other.md",
        front=FRONT.replace("demo", "other").replace("order = 1", "order = 2"),
    )

    with pytest.raises(LessonError, match=r"snippet id 'p\.bad' is also used"):
        load_catalog(tmp_path)


def test_a_draft_is_checked_against_the_rest_of_the_course(tmp_path: Path) -> None:
    content = tmp_path / "content"
    content.mkdir()
    write(content, "Text.\n")
    drafts = tmp_path / "drafts"
    drafts.mkdir()
    draft = write(
        drafts,
        "Text.\n",
        name="other.md",
        front=FRONT.replace("demo", "other").replace("order = 1", "order = 2"),
    )

    with pytest.raises(LessonError, match="also used"):
        load_catalog(content, draft=draft)


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
    from lessons import apps
    from lessons.catalog import loader as catalog

    write(tmp_path, "Text.\n", name="broken.md")
    monkeypatch.setattr(catalog, "CONTENT_DIR", tmp_path)

    [error] = apps.check_lesson_files()

    assert error.id == "lessons.E001"
    assert "broken.md:1: slug 'demo' must match the file name 'broken'" in error.msg


def test_catalog_picks_up_an_edited_lesson_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from lessons.catalog import loader as catalog

    path = write(tmp_path, "Text.\n")
    monkeypatch.setattr(catalog, "CONTENT_DIR", tmp_path)
    monkeypatch.setattr(catalog, "RECHECK_SECONDS", 0)  # a second has passed, say
    assert catalog.get_catalog().lessons[0].title == "T"

    path.write_text(path.read_text().replace('title = "T"', 'title = "Edited"'))
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 1_000_000))

    assert catalog.get_catalog().lessons[0].title == "Edited"


def test_lesson_command_refuses_a_draft_the_course_would_refuse(tmp_path: Path) -> None:
    from django.core.management import CommandError, call_command

    draft = write(tmp_path, "Text.\n", quiz=valid_quiz()[:1])

    with pytest.raises(CommandError, match="at least 3 questions"):
        call_command("lesson", str(draft))


def exercise_fence(toml: str) -> str:
    return "````exercise\n" + textwrap.dedent(toml).strip() + "\n````\n"


VALID_EXERCISE = """
    name = "count-them"
    title = "Count the posts"
    budget = "1"
    task = "Print how many posts there are."
    start = "print(len(Post.objects.all()))"
    solution = "print(Post.objects.count())"
    hints = ["Let the database count."]
    rules = ["no-len"]

    [[wrong]]
    reason = "rule"
    code = "print(len(list(Post.objects.all())))"
"""


def test_parses_an_exercise_with_its_wrong_attempts(tmp_path: Path) -> None:
    path = write(tmp_path, pair() + "\n" + exercise_fence(VALID_EXERCISE))

    [exercise] = parse_lesson(path).exercises

    assert exercise.id == "demo.count-them" and exercise.rules == ("no-len",)
    assert exercise.budget_for({"posts": 5}) == 1
    assert [w.reason for w in exercise.wrong] == ["rule"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (('rules = ["no-len"]', 'rules = ["no-loops"]'), "rules must be among"),
        (('budget = "1"', 'budget = "posts +"'), "budget"),
        (('hints = ["Let the database count."]', "hints = []"), "one to three hints"),
        (('solution = "print(Post.objects.count())"', 'solution = "print("'), "not valid Python"),
        (('reason = "rule"', 'reason = "style"'), "reason is one of"),
        (('name = "count-them"', 'name = "Count Them"'), "lowercase"),
    ],
)
def test_an_invalid_exercise_is_refused_with_its_line(
    tmp_path: Path, change: tuple[str, str], message: str
) -> None:
    path = write(tmp_path, pair() + "\n" + exercise_fence(VALID_EXERCISE.replace(*change)))

    with pytest.raises(LessonError, match=message):
        parse_lesson(path)


def planned_pair(attributes: str) -> str:
    return (
        f'{FENCE}python {{#p.bad expect="1" {attributes}}}\nPost.objects.count()\n{FENCE}\n\n'
        f'{FENCE}python {{#p.fixed expect="1"}}\nPost.objects.count()\n{FENCE}\n'
    )


def test_a_plan_claim_is_parsed_into_kinds_and_targets(tmp_path: Path) -> None:
    path = write(tmp_path, planned_pair('plan="scan:blog_post; shows:USE TEMP B-TREE"'))

    claims = parse_lesson(path).snippets["p.bad"].plans.for_("sqlite", "large")

    assert [str(claim) for claim in claims] == ["scan:blog_post", "shows:USE TEMP B-TREE"]


def test_the_most_specific_plan_declaration_wins(tmp_path: Path) -> None:
    attributes = 'plan="index:i" plan-postgresql="index:j" plan-postgresql-tiny="scan:t"'
    plans = parse_lesson(write(tmp_path, planned_pair(attributes))).snippets["p.bad"].plans

    assert [str(c) for c in plans.for_("sqlite", "tiny")] == ["index:i"]
    assert [str(c) for c in plans.for_("postgresql", "large")] == ["index:j"]
    assert [str(c) for c in plans.for_("postgresql", "tiny")] == ["scan:t"]


def test_an_empty_plan_declaration_claims_nothing_there(tmp_path: Path) -> None:
    attributes = 'plan="index:i" plan-postgresql-tiny=""'
    plans = parse_lesson(write(tmp_path, planned_pair(attributes))).snippets["p.bad"].plans

    assert plans.for_("postgresql", "tiny") == ()


@pytest.mark.parametrize(
    "claim", ["indexed:blog_post", "index:", "scan:blog post", "blog_post", "no-scan:x;;lacks"]
)
def test_a_malformed_plan_claim_names_file_and_line(tmp_path: Path, claim: str) -> None:
    path = write(tmp_path, planned_pair(f'plan="{claim}"'))

    with pytest.raises(LessonError, match=r"demo\.md:\d+: plan claim"):
        parse_lesson(path)


def test_an_unknown_plan_variant_is_an_unknown_attribute(tmp_path: Path) -> None:
    path = write(tmp_path, planned_pair('plan-oracle="scan:blog_post"'))

    with pytest.raises(LessonError, match="unknown snippet attribute"):
        parse_lesson(path)


def test_an_exercise_may_budget_its_plan(tmp_path: Path) -> None:
    toml = VALID_EXERCISE.replace("rules =", 'plan = "no-scan:blog_comment"\n    rules =')
    path = write(tmp_path, pair() + "\n" + exercise_fence(toml))

    [exercise] = parse_lesson(path).exercises

    assert [str(claim) for claim in exercise.plan.for_("sqlite", "large")] == [
        "no-scan:blog_comment"
    ]


def test_an_exercise_plan_may_differ_by_engine(tmp_path: Path) -> None:
    claims = 'plan = "index:i"\n    plan-postgresql = "index:j"\n    rules ='
    path = write(
        tmp_path, pair() + "\n" + exercise_fence(VALID_EXERCISE.replace("rules =", claims))
    )

    [exercise] = parse_lesson(path).exercises

    assert [str(c) for c in exercise.plan.for_("postgresql", "large")] == ["index:j"]
    assert [str(c) for c in exercise.plan.for_("sqlite", "large")] == ["index:i"]


def test_an_exercise_plan_must_be_a_claim(tmp_path: Path) -> None:
    toml = VALID_EXERCISE.replace("rules =", 'plan = "fast"\n    rules =')
    path = write(tmp_path, pair() + "\n" + exercise_fence(toml))

    with pytest.raises(LessonError, match="plan claim 'fast'"):
        parse_lesson(path)
