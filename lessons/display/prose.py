"""Lesson prose from Markdown to HTML, once per distinct text."""

from __future__ import annotations

import functools

from django.utils.safestring import SafeString, mark_safe
from markdown_it import MarkdownIt

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


@functools.lru_cache(maxsize=512)
def render_markdown(source: str) -> SafeString:
    return mark_safe(_markdown.render(source))
