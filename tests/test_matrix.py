"""The test matrix in the Makefile: every leg runs, a PostgreSQL leg without its cluster fails, and
a leg on the wrong Django or engine refuses to start. The Makefile is run for real in a scratch copy
of the checkout whose `.ci/pg` and pytest are stand-ins that say what they were asked."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import leg_mismatch

CHECKOUT = Path(__file__).resolve().parent.parent

STAND_IN_PYTEST = """#!/bin/sh
echo "$COURSE_TEST_LEG|${COURSE_ENGINE:-sqlite}|$0 $*" >> "$LEGS_LOG"
"""


def _scratch(tmp_path: Path, pg_script: str) -> Path:
    """A copy of the Makefile and pyproject with both venvs "installed" and stand-in tools."""
    root = tmp_path / "checkout"
    (root / ".ci").mkdir(parents=True)
    for name in ("Makefile", "pyproject.toml"):
        shutil.copy(CHECKOUT / name, root / name)
    (root / ".ci" / "pg").write_text(pg_script)
    for venv in (".venv", ".venv-next"):
        (root / venv / "bin").mkdir(parents=True)
        (root / venv / "bin" / "pytest").write_text(STAND_IN_PYTEST)
        for marker in (".installed", ".installed-pg"):
            (root / venv / marker).touch()
    for script in root.glob("**/pytest"):
        script.chmod(0o755)
    (root / ".ci" / "pg").chmod(0o755)
    return root


def _make(root: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    log = root / "legs.log"
    env = {**os.environ, "LEGS_LOG": str(log), "NEXT_PYTHON": "/bin/true"}
    for name in ("COURSE_ENGINE", "COURSE_TEST_LEG", "MAKEFLAGS", "MAKELEVEL"):
        env.pop(name, None)
    done = subprocess.run(
        ["make", "--no-print-directory", *args],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    return done, log.read_text().splitlines() if log.exists() else []


PG_UP = "#!/bin/sh\necho 'export COURSE_ENGINE=postgresql'\n"
PG_FAILS = "#!/bin/sh\necho 'pg_ctl: could not start server' >&2\nexit 1\n"


def test_make_test_runs_every_leg_on_its_own_venv_and_engine(tmp_path: Path) -> None:
    done, legs = _make(_scratch(tmp_path, PG_UP), "test")
    assert done.returncode == 0, done.stderr
    ran = [
        (leg, engine, command.split()[0].split("/")[-3])
        for leg, engine, command in (line.split("|") for line in legs)
    ]
    assert ran == [
        ("5.2 sqlite", "sqlite", ".venv"),
        ("6.1 sqlite", "sqlite", ".venv-next"),
        ("5.2 postgresql", "postgresql", ".venv"),
        ("6.1 postgresql", "postgresql", ".venv-next"),
    ]


def test_a_postgresql_leg_whose_cluster_does_not_start_fails_before_any_test(
    tmp_path: Path,
) -> None:
    done, legs = _make(_scratch(tmp_path, PG_FAILS), "leg", "DJANGO=5.2", "ENGINE=postgresql")
    assert done.returncode != 0
    assert "could not start server" in done.stderr
    assert legs == []  # pytest never ran, so nothing ran on SQLite in its place


def test_make_test_stops_at_the_first_failing_leg(tmp_path: Path) -> None:
    done, legs = _make(_scratch(tmp_path, PG_FAILS), "test")
    assert done.returncode != 0
    assert [line.split("|")[0] for line in legs] == ["5.2 sqlite", "6.1 sqlite"]


def test_a_leg_on_its_own_django_and_engine_is_accepted() -> None:
    assert leg_mismatch("6.1 postgresql", "6.1.2", "postgresql") is None


@pytest.mark.parametrize(
    ("running", "complaint"),
    [(("5.2.9", "postgresql"), "Django 5.2.9 is installed"), (("6.1", "sqlite"), "on sqlite")],
)
def test_a_leg_on_another_django_or_engine_is_refused(
    running: tuple[str, str], complaint: str
) -> None:
    problem = leg_mismatch("6.1 postgresql", *running)
    assert problem is not None and complaint in problem


def test_django_6_10_is_not_taken_for_6_1() -> None:
    assert leg_mismatch("6.1 sqlite", "6.10.0", "sqlite") is not None
