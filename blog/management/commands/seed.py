from __future__ import annotations

import sys
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from blog import datasets, seeding


class Command(BaseCommand):
    help = "Build the course datasets (tiny, medium, large). Idempotent; --force rebuilds."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--dataset",
            action="append",
            choices=list(datasets.SPECS),
            help="Only this dataset (repeatable). Default: all of them.",
        )
        parser.add_argument("--force", action="store_true", help="Rebuild even if present.")

    def handle(self, *args: Any, **options: Any) -> None:
        names = options["dataset"] or list(datasets.SPECS)
        interactive = sys.stdout.isatty()
        for name in names:
            spec = datasets.SPECS[name]
            started = time.perf_counter()

            def progress(stage: str, done: int, total: int, name: str = name) -> None:
                line = f"  {name}: {stage} {done:,}/{total:,}"
                if interactive:
                    self.stdout.write(f"\r{line}", ending="")
                else:
                    self.stdout.write(line)

            self.stdout.write(f"Seeding {name} ({spec.label}, {spec.posts:,} posts)...")
            built = seeding.seed(name, force=options["force"], progress=progress)
            if interactive and built:
                self.stdout.write("")
            elapsed = time.perf_counter() - started
            counts = datasets.stats(name).counts
            summary = ", ".join(f"{v:,} {k}" for k, v in counts.items() if k != "post_tags")
            verb = "built" if built else "already present"
            self.stdout.write(self.style.SUCCESS(f"  {name} {verb} in {elapsed:.1f}s: {summary}"))
