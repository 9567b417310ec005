"""The one place Pygments and sqlparse are set up: SQL statements, snippet lines, prose code.

Every function returns HTML that Pygments escaped token by token, so it is safe to mark safe."""

from __future__ import annotations

import contextlib
import functools

import sqlparse
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from pygments import highlight, lex
from pygments.formatters import HtmlFormatter
from pygments.lexer import Lexer
from pygments.lexers import PythonLexer, SqlLexer, get_lexer_by_name
from pygments.token import STANDARD_TYPES, _TokenType
from pygments.util import ClassNotFound
from sqlparse.exceptions import SQLParseError

# Classes are prefixed so they never clash with the page's own; static/css/pygments.css styles them.
_FORMATTER = HtmlFormatter(nowrap=True, classprefix="hl-")
# Characters; longer statements (huge IN lists) are shown as sent. sqlparse's reindenting grows
# with the square of a list's length: 1,000 characters of `1, 1, ...` take 0.08 s, 10,000 take 3 s.
REINDENT_LIMIT = 2_000


# Lesson code is a finite set, drawn on every page view: highlight each text once per process.
@functools.lru_cache(maxsize=1024)
def highlight_code(code: str, language: str = "python") -> SafeString:
    """A block of code in any language Pygments knows (plain text otherwise)."""
    lexer: Lexer
    try:
        lexer = get_lexer_by_name(language or "text")
    except ClassNotFound:
        lexer = get_lexer_by_name("text")
    return mark_safe(highlight(code, lexer, _FORMATTER))


@functools.lru_cache(maxsize=1024)
def format_sql(sql: str) -> str:
    """Reindented by sqlparse, the slow part: once per statement text, whatever its parameters
    (an N+1 sends one text with a hundred sets of parameters)."""
    # Past sqlparse's token limit, show the statement unformatted rather than fail.
    with contextlib.suppress(SQLParseError):
        if len(sql) <= REINDENT_LIMIT:
            return sqlparse.format(sql, reindent=True, keyword_case="upper")
    return sql


# Highlighted SQL can weigh 25 times its text: only short statements are kept for the next page.
CACHED_SQL_CHARS = 2_000


def highlight_sql(sql: str, formatted: bool = False) -> SafeString:
    """Reindent (unless `formatted` already), then highlight."""
    if len(sql) > CACHED_SQL_CHARS:
        return _highlight_sql(sql, formatted)
    return _cached_highlight_sql(sql, formatted)


def _highlight_sql(sql: str, formatted: bool) -> SafeString:
    text = sql if formatted else format_sql(sql)
    return mark_safe(highlight(text, SqlLexer(), _FORMATTER).rstrip("\n"))


_cached_highlight_sql = functools.lru_cache(maxsize=1024)(_highlight_sql)


@functools.lru_cache(maxsize=1024)
def highlight_python_lines(code: str) -> tuple[SafeString, ...]:
    """One highlighted HTML string per source line, so a gutter can sit beside each."""
    lines: list[list[str]] = [[]]
    for token_type, value in lex(code, PythonLexer()):
        css = _css_class(token_type)
        for i, part in enumerate(value.split("\n")):
            if i:
                lines.append([])
            if part:
                text = escape(part)
                lines[-1].append(f'<span class="hl-{css}">{text}</span>' if css else text)
    if lines and not lines[-1]:
        lines.pop()
    return tuple(mark_safe("".join(parts)) for parts in lines)  # every part was escaped above


def _css_class(token_type: _TokenType) -> str:
    while token_type not in STANDARD_TYPES:
        token_type = token_type.parent
    return STANDARD_TYPES[token_type]
