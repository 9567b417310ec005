from __future__ import annotations

import pytest

from lessons.catalog.expect import ExpectError, evaluate

COUNTS = {"posts": 100, "comments": 500, "authors": 20, "tags": 15, "categories": 6}


@pytest.mark.parametrize(
    ("expression", "value"),
    [
        ("1", 1),
        ("1 + posts", 101),
        ("1 + min(posts, 50)", 51),
        ("max(authors, 2) * 2 - 1", 39),
        ("comments // posts", 5),
    ],
)
def test_evaluates_arithmetic_over_counts(expression: str, value: int) -> None:
    assert evaluate(expression, COUNTS) == value


@pytest.mark.parametrize(
    "expression",
    [
        "__import__('os')",
        "posts.__class__",
        "open('x')",
        "users + 1",
        "posts ** 2",
        "[posts]",
        "1.5",
        "True",
        "min(posts)",
        "lambda: 1",
    ],
)
def test_rejects_anything_but_the_allowed_arithmetic(expression: str) -> None:
    with pytest.raises(ExpectError):
        evaluate(expression, COUNTS)


def test_rejects_text_that_is_not_an_expression() -> None:
    with pytest.raises(ExpectError, match="not an expression"):
        evaluate("x = 1", COUNTS)
