"""HTML drawn once for everyone shown the same thing, kept in this process: a lesson's prose and
pairs on one dataset, the statements of a run a room shared, a quiz question in one order of its
choices, a lesson's line in the outline for one state of progress. The key must name everything
the fragment draws."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable

# A few megabytes: lessons' blocks on each dataset, run statements, quiz questions in each
# learner's order of choices (a few dozen orders per question), outline lines.
KEPT = 4096
_drawn: OrderedDict[Hashable, str] = OrderedDict()
_drawing: dict[Hashable, threading.Lock] = {}  # held while being drawn
_lock = threading.Lock()


def drawn_once(key: Hashable, draw: Callable[[], str]) -> str:
    """What `draw()` returns for `key`, drawn the first time it is asked for in this process."""
    with _lock:
        drawn = _drawn.get(key)
        if drawn is not None:
            _drawn.move_to_end(key)  # kept longest: what is read most
            return drawn
        drawing = _drawing.setdefault(key, threading.Lock())
    # One thread draws it; the others that missed it at the same moment (a room opening the
    # lesson together) wait for that one rather than each drawing it too.
    with drawing:
        with _lock:
            drawn = _drawn.get(key)
        if drawn is None:
            drawn = draw()
            with _lock:
                _drawn[key] = drawn
                while len(_drawn) > KEPT:
                    _drawn.popitem(last=False)
                _drawing.pop(key, None)
    return drawn
