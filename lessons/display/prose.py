"""Lesson prose from Markdown to HTML, once per distinct text."""

from __future__ import annotations

import functools
from typing import Any

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.text import slugify
from markdown_it import MarkdownIt
from markdown_it.rules_core import StateCore
from markdown_it.token import Token

from lessons.display.highlight import highlight_code

# Raw HTML is off, so the rendered prose is safe to mark safe in templates.
_markdown = (
    MarkdownIt(
        "commonmark",
        {"highlight": lambda code, language, _attrs: highlight_code(code, language), "html": False},
    )
    .enable("table")
    .disable(["html_block", "html_inline"])
)


def _anchor_headings(state: StateCore) -> None:
    """Every section heading gets an id from its words and a link to itself, so a learner can
    point someone at one section ("read #counting-comments-in-a-loop")."""
    tokens = state.tokens
    for opening, inline, closing in zip(tokens, tokens[1:], tokens[2:], strict=False):
        if opening.type == "heading_open" and opening.tag in ("h2", "h3", "h4"):
            anchor = "section-" + (slugify(inline.content) or "untitled")
            opening.attrSet("id", anchor)
            closing.meta["anchor"] = anchor


def _heading_close(renderer: Any, tokens: list[Token], index: int, options: Any, env: Any) -> str:
    token = tokens[index]
    anchor = token.meta.get("anchor")
    link = (
        f'<a class="heading-anchor" href="#{escape(anchor)}"><span aria-hidden="true">#</span>'
        '<span class="visually-hidden">Link to this section</span></a>'
        if anchor
        else ""
    )
    return f"{link}</{token.tag}>\n"


_markdown.core.ruler.push("anchor_headings", _anchor_headings)
_markdown.add_render_rule("heading_close", _heading_close)


@functools.lru_cache(maxsize=512)
def render_markdown(source: str) -> SafeString:
    return mark_safe(_markdown.render(source))
