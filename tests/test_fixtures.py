"""fixtures/tiny.json is the tiny dataset as `loaddata` takes it, kept equal to what the seeder
builds: a change to the seeder that is not carried into the fixture fails here."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from django.core.management import call_command
from django.db import connections, transaction

from blog.models import COUNTED
from lessons import datasets
from lessons.datasets.guards import writable

ROOT = Path(__file__).resolve().parent.parent


def test_the_tiny_fixture_loads_into_the_very_rows_the_seeder_builds(data: None) -> None:
    seeded = datasets.checksum("tiny")
    # Load it into another dataset's database, inside a transaction that is rolled back.
    with writable(), transaction.atomic(using="medium"):
        with connections["medium"].cursor() as cursor:
            for model in [COUNTED["post_tags"], *reversed(list(COUNTED.values()))]:
                cursor.execute(f'DELETE FROM "{model._meta.db_table}"')  # our own tables
        call_command("loaddata", "tiny", database="medium", verbosity=0)
        loaded = datasets.checksum("medium")
        transaction.set_rollback(True, using="medium")

    assert loaded == seeded


def test_loaddata_from_the_command_line_fills_a_fresh_database(tmp_path: Path) -> None:
    """`manage.py loaddata tiny --database tiny` on a new var/ folder: the blog, no seeding."""
    env = {**os.environ, "COURSE_VAR_DIR": str(tmp_path)}
    manage = [sys.executable, str(ROOT / "manage.py")]
    loaded = subprocess.run(
        [*manage, "loaddata", "tiny", "--database", "tiny"],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )

    objects = len(json.loads((ROOT / "fixtures" / "tiny.json").read_text()))
    assert f"Installed {objects} object(s)" in loaded.stdout
