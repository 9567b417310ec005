"""`expect` expressions: tiny arithmetic over a dataset's row counts, e.g. "1 + min(posts, 500)".

Evaluated by walking the AST with an allow-list, never with eval().
"""

from __future__ import annotations

import ast
import operator
from collections.abc import Callable, Mapping

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
