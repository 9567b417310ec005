"""The app's models live with the code that uses them; Django looks for them here."""

from __future__ import annotations

from lessons.learner.models import Answer, Check, Learner, Opened, Ran, Reveal, Room

__all__ = ["Answer", "Check", "Learner", "Opened", "Ran", "Reveal", "Room"]
