"""The floors of the code base (pyproject.toml's import-linter contracts): every package stands on
exactly one, an import that runs up a floor fails `make lint`, and so does a view module
importing another."""

from __future__ import annotations

import pkgutil
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("course", "blog", "lessons")
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def contracts(kind: str) -> list[dict[str, Any]]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    return [c for c in config["contracts"] if c["type"] == kind]


def floors() -> list[list[str]]:
    (layers,) = [c["layers"] for c in contracts("layers")]
    return [[name.strip() for name in floor.split("|")] for floor in layers]


def placed(module: str) -> list[str]:
    """The floors' entries that hold `module` (itself or a package above it)."""
    return [
        entry
        for floor in floors()
        for entry in floor
        if module == entry or module.startswith(entry + ".")
    ]


def test_every_top_level_package_is_on_a_floor() -> None:
    for package in PACKAGES:
        if package == "lessons":  # split into its subpackages, checked next
            continue
        assert placed(package) == [package]


def test_every_part_of_lessons_is_on_exactly_one_floor() -> None:
    parts = [
        f"lessons.{info.name}"
        for info in pkgutil.iter_modules([str(ROOT / "lessons")])
        if info.name != "content"
    ]
    assert parts, "lessons has no modules?"
    for part in parts:
        assert len(placed(part)) == 1, f"{part} stands on {placed(part) or 'no floor'}"


def copy_of_the_code(tmp_path: Path) -> Path:
    for name in (*PACKAGES, "pyproject.toml"):
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(source, tmp_path / name)
    return tmp_path


def lint_imports(tree: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"],
        cwd=tree,
        env={"PYTHONPATH": str(tree), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.skipif(not LINT_IMPORTS.exists(), reason="import-linter is not installed")
def test_the_contracts_hold_on_the_code_as_it_is(tmp_path: Path) -> None:
    result = lint_imports(copy_of_the_code(tmp_path))
    assert result.returncode == 0, result.stdout[-2000:]


@pytest.mark.skipif(not LINT_IMPORTS.exists(), reason="import-linter is not installed")
@pytest.mark.parametrize(
    ("module", "upward"),
    [
        ("lessons/errors.py", "lessons.web.pages"),  # the bottom floor reaching the top
        ("lessons/datasets/router.py", "lessons.engine.service"),  # datasets above the engine
        ("lessons/engine/child/capture.py", "lessons.measure.runs"),  # the engine reaching measure
        ("lessons/engine/child/plans.py", "lessons.engine.service"),  # a run reaching the server
        ("lessons/engine/reply.py", "lessons.engine.child.sandbox"),  # the server reaching a run
        ("lessons/measure/rules.py", "lessons.engine.contract"),  # past the engine's public face
        ("blog/models.py", "lessons.datasets"),  # the sample domain reaching the course
        ("lessons/web/render.py", "course.settings"),  # a page importing the roof
    ],
)
def test_an_upward_import_breaks_a_contract(tmp_path: Path, module: str, upward: str) -> None:
    tree = copy_of_the_code(tmp_path)
    with (tree / module).open("a") as source:
        source.write(f"\nimport {upward}  # noqa\n")
    result = lint_imports(tree)
    assert result.returncode != 0
    assert "BROKEN" in result.stdout


def routed_modules(patterns: list[URLPattern | URLResolver]) -> set[str]:
    """The modules of the course's views that the URL patterns route to, nested ones included."""
    modules = set()
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            modules |= routed_modules(pattern.url_patterns)
        elif pattern.callback.__module__.startswith("lessons."):
            modules.add(pattern.callback.__module__)
    return modules


def test_the_view_modules_contract_names_every_module_a_url_routes_to() -> None:
    (independence,) = contracts("independence")

    assert set(independence["modules"]) == routed_modules(get_resolver().url_patterns)


@pytest.mark.skipif(not LINT_IMPORTS.exists(), reason="import-linter is not installed")
@pytest.mark.parametrize(
    ("module", "other_view"),
    [
        ("lessons/web/api.py", "lessons.web.pages"),  # a lookup taken from another view module
        ("lessons/web/presenter.py", "lessons.web.console"),  # the console's two halves
    ],
)
def test_a_view_module_importing_another_breaks_a_contract(
    tmp_path: Path, module: str, other_view: str
) -> None:
    tree = copy_of_the_code(tmp_path)
    with (tree / module).open("a") as source:
        source.write(f"\nimport {other_view}  # noqa\n")
    result = lint_imports(tree)
    assert result.returncode != 0
    assert "No view module imports another" in result.stdout and "BROKEN" in result.stdout
