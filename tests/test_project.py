"""Project-level checks: migrations, vendored files, seeding."""

from __future__ import annotations

import re
from io import StringIO
from pathlib import Path

from django.core.management import call_command
from django.template.loader import get_template

from lessons import datasets
from lessons.datasets import seeding
from lessons.datasets.guards import writable

ROOT = Path(__file__).resolve().parent.parent


def test_no_migration_is_missing(data: None) -> None:
    out = StringIO()
    call_command("makemigrations", "--check", "--dry-run", stdout=out)
    assert "No changes detected" in out.getvalue()


def test_vendored_htmx_is_the_documented_version() -> None:
    documented = re.search(r"htmx (\d+\.\d+\.\d+)", (ROOT / "README.md").read_text())
    assert documented, "README.md should say which htmx version is vendored"
    version = documented.group(1)
    vendored = ROOT / "static" / "vendor" / f"htmx-{version}.min.js"
    assert f'version:"{version}"' in vendored.read_text()
    assert f"vendor/htmx-{version}.min.js" in get_template("base.html").template.source


def test_seeding_again_is_a_no_op(data: None) -> None:
    before = datasets.checksum("tiny")

    with writable():
        assert seeding.seed("tiny") is False
    assert datasets.checksum("tiny") == before


def test_forced_reseed_rebuilds_identical_data(data: None) -> None:
    before = datasets.checksum("medium")

    with writable():
        assert seeding.seed("medium", force=True) is True
    assert datasets.checksum("medium") == before


def test_dataset_sizes_follow_their_specs(data: None) -> None:
    for name, spec in datasets.SPECS.items():
        counts = datasets.stats(name).counts
        assert (counts["authors"], counts["posts"], counts["tags"]) == (
            spec.authors,
            spec.posts,
            spec.tags,
        )
        assert counts["profiles"] == spec.authors
        per_post = counts["comments"] / counts["posts"]
        if spec.posts >= 100:  # large enough for the average to hold
            assert 0.7 * spec.comments_per_post <= per_post <= 1.3 * spec.comments_per_post


def test_seed_command_reports_each_dataset(data: None) -> None:
    out = StringIO()
    call_command("seed", dataset=["tiny"], stdout=out)
    assert "tiny already present" in out.getvalue()
