"""An exercise's rules, checked on the learner's code's syntax tree before anything runs."""

from __future__ import annotations

import ast

from lessons.catalog.models import RULES


def broken_rules(code: str, rules: tuple[str, ...]) -> list[str]:
    """The names of `rules` that `code` breaks, in the order the exercise lists them. Code that
    does not parse breaks none: running it reports the syntax error with its line."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return []
    calls = [node.func for node in ast.walk(tree) if isinstance(node, ast.Call)]
    names = {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}
    attributes = {node.attr for node in ast.walk(tree) if isinstance(node, ast.Attribute)}
    called = {f.id for f in calls if isinstance(f, ast.Name)}
    called_methods = {f.attr for f in calls if isinstance(f, ast.Attribute)}
    breaks = {
        "no-raw-sql": bool({"raw", "extra", "cursor"} & attributes) or "RawSQL" in names,
        "no-len": "len" in called,
        "no-python-sorting": "sorted" in called or "sort" in called_methods,
        "no-python-sum": "sum" in called,
    }
    assert set(breaks) == set(RULES), "every rule needs a check"
    return [rule for rule in rules if breaks[rule]]
