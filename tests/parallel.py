"""A var/ of its own for each pytest-xdist worker, chosen before Django reads its settings.

Loaded with `-p tests.parallel` (pyproject's addopts): pytest-django imports the settings before
any conftest, so a conftest would be too late. Each worker then has its own test databases (SQLite
files, or PostgreSQL databases named after its var/), its own seeded datasets and its own run
pool; no worker writes to a database another reads.
"""

from __future__ import annotations

import os
from pathlib import Path

CHECKOUT = Path(__file__).resolve().parent.parent

worker = os.environ.get("PYTEST_XDIST_WORKER")  # gw0, gw1, ... set before this is imported
if worker:
    shared = Path(os.environ.get("COURSE_VAR_DIR", CHECKOUT / "var"))
    os.environ["COURSE_VAR_DIR"] = str(shared / "workers" / worker)
    Path(os.environ["COURSE_VAR_DIR"]).mkdir(parents=True, exist_ok=True)
