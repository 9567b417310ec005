from __future__ import annotations

import secrets
import sys
import time
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DatabaseError, connections

from lessons import datasets
from lessons.catalog import get_catalog
from lessons.datasets import seeding
from lessons.datasets.guards import writable
from lessons.measure.scale import shared_report


class Command(BaseCommand):
    help = (
        "Prepare everything the course needs: var/, the secret key, its own tables and the "
        "datasets (tiny, medium, large). Idempotent: a dataset that is present is kept, one that "
        "is damaged is rebuilt; --force rebuilds them all."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--dataset",
            action="append",
            choices=list(datasets.ALL_SPECS),
            help="Only this dataset (repeatable). Default: all of them.",
        )
        parser.add_argument("--force", action="store_true", help="Rebuild even if present.")

    def check(self, *args: Any, **kwargs: Any) -> None:
        # Since Django 6.0 the checks open every database unless told which (5.2 opened none):
        # a damaged dataset would stop seed before the code that rebuilds it. None here, as on 5.2.
        kwargs.setdefault("databases", [])
        super().check(*args, **kwargs)

    def handle(self, *args: Any, **options: Any) -> None:
        prepare_var()
        try:
            call_command("migrate", database="default", verbosity=0, interactive=False)
        except DatabaseError as exc:
            raise CommandError(
                f"The course's own database ({settings.DATABASES['default']['NAME']}) cannot be "
                f"used: {exc}. Free some disk space or remove the file, then run seed again."
            ) from None
        for name in options["dataset"] or list(datasets.ALL_SPECS):
            self._seed(name, force=options["force"])
        if options["force"]:
            self._forget_run_templates()
        if all(seeding.is_seeded(name) for name in datasets.SPECS):
            self._measure_charts()

    def _forget_run_templates(self) -> None:
        """Runs copy the datasets from templates under var/run/datasets/: after a forced rebuild
        none of them may be kept, whatever their stamps say (a damaged one included)."""
        templates = Path(settings.COURSE_RUN_DIR) / "datasets"
        for template in templates.glob("*.sqlite3"):
            template.unlink(missing_ok=True)
            template.with_suffix(".source").unlink(missing_ok=True)
        self.stdout.write("Run templates removed: runs copy the rebuilt datasets.")

    def _measure_charts(self) -> None:
        """The charts lessons draw as they load, measured now so the first learners to open them
        do not wait (kept under var/scale/ until the data or the code changes)."""
        for lesson in get_catalog().lessons:
            if lesson.chart:
                started = time.perf_counter()
                shared_report(lesson, lesson.pairs_by_id[lesson.chart])
                elapsed = time.perf_counter() - started
                self.stdout.write(f"Chart for {lesson.slug} ready ({elapsed:.1f}s).")

    def _seed(self, name: str, *, force: bool) -> None:
        spec = datasets.ALL_SPECS[name]
        interactive = sys.stdout.isatty()
        started = time.perf_counter()

        def progress(stage: str, done: int, total: int) -> None:
            line = f"  {name}: {stage} {done:,}/{total:,}"
            self.stdout.write(
                f"\r{line}" if interactive else line, ending="" if interactive else "\n"
            )

        self.stdout.write(f"Seeding {name} ({spec.label}, {spec.posts:,} posts)...")
        with writable():
            try:
                built = seeding.seed(name, force=force, progress=progress)
            except (DatabaseError, datasets.DatasetBroken) as exc:
                self.stdout.write(
                    self.style.WARNING(f"  {name} cannot be read ({exc}); rebuilding it.")
                )
                self._remove_database(name)
                built = seeding.seed(name, force=True, progress=progress)
        if interactive and built:
            self.stdout.write("")
        elapsed = time.perf_counter() - started
        counts = datasets.stats(name).counts
        summary = ", ".join(f"{v:,} {k}" for k, v in counts.items() if k != "post_tags")
        verb = "built" if built else "already present"
        self.stdout.write(self.style.SUCCESS(f"  {name} {verb} in {elapsed:.1f}s: {summary}"))

    def _remove_database(self, name: str) -> None:
        """A damaged SQLite dataset holds nothing worth keeping: the seeder rebuilds it exactly."""
        connection = connections[name]
        connection.close()
        if connection.vendor != "sqlite":
            raise CommandError(f"The {name!r} dataset cannot be read; recreate its database.")
        path = Path(connection.settings_dict["NAME"])
        try:
            for suffix in ("", "-wal", "-shm", "-journal"):
                path.with_name(path.name + suffix).unlink(missing_ok=True)
        except OSError as exc:
            raise CommandError(f"Cannot remove the damaged {path}: {exc.strerror}.") from None


def prepare_var() -> None:
    """var/ and the secret key every server process of the course shares (sessions signed by one
    worker must read in another)."""
    var: Path = settings.VAR_DIR
    try:
        var.mkdir(parents=True, exist_ok=True)
        key = settings.SECRET_KEY_FILE
        if not key.exists():
            key.write_text(secrets.token_urlsafe(50))
            key.chmod(0o600)
    except OSError as exc:
        raise CommandError(f"Cannot prepare {var}: {exc.strerror}.") from None
