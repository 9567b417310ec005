"""A QR code as inline SVG, made on the server: the join screen's address, readable by a phone's
camera from the back of a room, with no network and no script."""

from __future__ import annotations

import segno
from django.utils.safestring import SafeString, mark_safe


def qr_svg(text: str) -> SafeString:
    """`text` as a QR code: dark modules on a white quiet zone whatever the page's colours (a
    camera reads dark on light), scaled by the page's CSS. Hidden from screen readers: the page
    says the address in words beside it."""
    code = segno.make(text, error="m")
    svg = code.svg_inline(
        scale=1, border=4, dark="#000", light="#fff", svgclass="qr-code", omitsize=True
    )
    # segno's own markup, the text escaped into modules: nothing of the address is markup.
    return mark_safe(svg.replace("<svg ", '<svg aria-hidden="true" focusable="false" ', 1))
