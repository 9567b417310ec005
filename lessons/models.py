"""The app's models live with the code that uses them; Django looks for them here."""

from __future__ import annotations

from lessons.learner.models import (
    Answer,
    Check,
    HelpRequest,
    Learner,
    Opened,
    Prediction,
    Ran,
    Reveal,
    Review,
    Room,
    Vote,
)

__all__ = [
    "Answer",
    "Check",
    "HelpRequest",
    "Learner",
    "Opened",
    "Prediction",
    "Ran",
    "Reveal",
    "Review",
    "Room",
    "Vote",
]
