"""`expect` expressions: tiny arithmetic over a dataset's row counts, e.g. "1 + min(posts, 500)".

Evaluated by walking the AST with an allow-list, never with eval().
"""

from __future__ import annotations

import ast
import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import django

from blog.models import COUNTED

NAMES = tuple(COUNTED)  # the row counts every dataset records
_FUNCTIONS: dict[str, Callable[..., int]] = {"min": min, "max": max}
_BINARY: dict[type[ast.operator], Callable[[int, int], int]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.FloorDiv: operator.floordiv,
}


class ExpectError(ValueError):
    pass


def parse(expression: str) -> ast.expr:
    """Parse and check an expression once; ExpectError says what is not allowed."""
    try:
        tree = ast.parse(expression, mode="eval").body
    except SyntaxError as exc:
        raise ExpectError(f"not an expression: {expression!r} ({exc.msg})") from None
    _check(tree)
    return tree


def evaluate(expression: str | ast.expr, counts: Mapping[str, int]) -> int:
    tree = parse(expression) if isinstance(expression, str) else expression
    return _eval(tree, counts)


def _check(node: ast.expr) -> None:
    match node:
        case ast.Constant(value=int() as value) if not isinstance(value, bool):
            return
        case ast.Name(id=name) if name in NAMES:
            return
        case ast.BinOp(op=op, left=left, right=right) if type(op) in _BINARY:
            _check(left)
            _check(right)
        case ast.Call(func=ast.Name(id=name), args=args, keywords=[]) if name in _FUNCTIONS:
            if len(args) < 2:
                raise ExpectError(f"{name}() needs at least two arguments")
            for arg in args:
                _check(arg)
        case _:
            allowed = ", ".join(NAMES)
            raise ExpectError(
                f"not allowed in expect: {ast.unparse(node)!r}; use integers, + - * //, "
                f"min(), max() and the names {allowed}"
            )


def _eval(node: ast.expr, counts: Mapping[str, int]) -> int:
    match node:
        case ast.Constant(value=int() as value):
            return value
        case ast.Name(id=name):
            return counts[name]
        case ast.BinOp(op=op, left=left, right=right):
            return _BINARY[type(op)](_eval(left, counts), _eval(right, counts))
        case ast.Call(func=ast.Name(id=name), args=args):
            return _FUNCTIONS[name](*(_eval(arg, counts) for arg in args))
    raise ExpectError(f"unchecked expression: {ast.dump(node)}")


# The engines a count may be declared for, as Django names them (connection.vendor).
ENGINES = ("sqlite", "postgresql")
# `expect`, and where a count differs: `expect-6.0` (since Django 6.0), `expect-postgresql` (on
# PostgreSQL), `expect-postgresql-6.0` (both).
ATTRIBUTE = re.compile(r"^expect(?:-(?P<engine>sqlite|postgresql))?(?:-(?P<since>\d+\.\d+))?$")
DJANGO = django.VERSION[:2]


@dataclass(frozen=True)
class Variant:
    engine: str  # "" for every engine
    since: tuple[int, int]  # the oldest Django it holds on; (0, 0) for every version
    source: str
    tree: ast.expr = field(repr=False, compare=False)

    @property
    def key(self) -> str:
        return "-".join(filter(None, ("expect", self.engine, self.since_text)))

    @property
    def since_text(self) -> str:
        return "" if self.since == (0, 0) else f"{self.since[0]}.{self.since[1]}"


@dataclass(frozen=True)
class Declared:
    """The count a lesson promises: one expression, and others where an engine or a Django version
    sends a different number of queries."""

    variants: tuple[Variant, ...]  # the plain `expect` first

    @classmethod
    def from_attributes(cls, attributes: Mapping[str, str]) -> Declared:
        """From `expect...` keys (others are ignored); ExpectError for a bad one. `expect` itself
        must be there."""
        variants = []
        for key, source in attributes.items():
            match = ATTRIBUTE.match(key)
            if match is None:
                continue
            if not isinstance(source, str):
                raise ExpectError(f"{key} is a string")
            since = match["since"] or "0.0"
            major, minor = since.split(".")
            variant = Variant(
                match["engine"] or "", (int(major), int(minor)), source, parse(source)
            )
            variants.append(variant)
        variants.sort(key=lambda v: (v.engine, v.since))
        if not variants or variants[0].key != "expect":
            raise ExpectError(f"{' and '.join(v.key for v in variants)} need an expect beside them")
        return cls(tuple(variants))

    @property
    def default(self) -> str:
        return self.variants[0].source

    def variant(self, engine: str) -> Variant:
        """The most specific declaration for `engine` on the running Django: one for the engine
        before one for every engine, then the one for the newest version that applies."""
        fitting = [v for v in self.variants if v.engine in ("", engine) and v.since <= DJANGO]
        return max(fitting, key=lambda v: (bool(v.engine), v.since))

    def count(self, counts: Mapping[str, int], engine: str) -> int:
        return _eval(self.variant(engine).tree, counts)

    def differences(self) -> tuple[Variant, ...]:
        """The declarations beside the plain `expect`."""
        return self.variants[1:]
