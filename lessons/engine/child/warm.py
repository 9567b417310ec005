"""Imported by the run service's warm process: every run is forked from a process that has
already done this, so a run starts in milliseconds."""

from __future__ import annotations

from lessons.engine.child.sandbox import warm_up

warm_up()
