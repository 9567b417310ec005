"""The three datasets, which one is active, and what each one holds.

Each dataset is a database alias of its own (see settings.DATABASES). The router sends blog
models to whichever dataset is active in the current context, so a run picks its data without
reseeding.
"""

from __future__ import annotations

import contextvars
import hashlib
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from django.conf import settings
from django.db import DatabaseError, connections
from django.db.backends.base.base import BaseDatabaseWrapper


@dataclass(frozen=True)
class DatasetSpec:
    name: str
    label: str
    authors: int
    posts: int
    comments_per_post: int  # average; the seeder varies it per post
    tags: int
    categories: int
    seed: int


SPECS: dict[str, DatasetSpec] = {
    spec.name: spec
    for spec in (
        DatasetSpec("tiny", "Laptop", 3, 5, 3, 5, 3, seed=1001),
        DatasetSpec("medium", "Staging", 20, 100, 5, 15, 6, seed=2002),
        DatasetSpec("large", "Production", 200, 5000, 10, 30, 10, seed=3003),
    )
}
assert tuple(SPECS) == tuple(settings.COURSE_DATASETS), "settings and specs disagree"

# Bump when seeding changes what it writes, so `seed` knows to rebuild.
SEED_VERSION = 1

COUNTED_TABLES = ("authors", "profiles", "categories", "tags", "posts", "comments", "post_tags")


class UnknownDataset(ValueError):
    def __init__(self, name: str) -> None:
        choices = ", ".join(SPECS)
        super().__init__(f"Unknown dataset {name!r}: choose one of {choices}.")


class DatasetMissing(RuntimeError):
    def __init__(self, name: str) -> None:
        super().__init__(
            f"The {name!r} dataset has not been seeded yet. "
            f"Run `make seed` (or `python manage.py seed --dataset {name}`) and try again."
        )


# Dataset connections are read-only (SQLite's query_only) unless this is set: by seeding, by test
# set-up, and for its own connection by the snippet runner while a run is in progress.
_writable: contextvars.ContextVar[bool] = contextvars.ContextVar("dataset_writable", default=False)

_active: contextvars.ContextVar[str] = contextvars.ContextVar(
    "course_dataset", default=settings.COURSE_DEFAULT_DATASET
)


def active() -> str:
    return _active.get()


def get_spec(name: str) -> DatasetSpec:
    try:
        return SPECS[name]
    except KeyError:
        raise UnknownDataset(name) from None


@contextmanager
def use_dataset(name: str) -> Iterator[DatasetSpec]:
    """Route every blog query in this context (and tasks it spawns) to dataset `name`."""
    spec = get_spec(name)
    token = _active.set(name)
    try:
        yield spec
    finally:
        _active.reset(token)


def set_read_only(connection: BaseDatabaseWrapper, read_only: bool) -> None:
    """Flip SQLite's query_only on an open dataset connection, outside any query capture."""
    if connection.vendor == "sqlite" and connection.connection is not None:
        connection.connection.execute(f"PRAGMA query_only = {int(read_only)}")


def protect_new_connection(
    sender: object, connection: BaseDatabaseWrapper, **kwargs: object
) -> None:
    """connection_created receiver: a new dataset connection starts read-only."""
    if connection.alias in SPECS and not _writable.get():
        set_read_only(connection, True)


@contextmanager
def writable() -> Iterator[None]:
    """Allow writes to the datasets in this context: for seeding and building test databases."""
    token = _writable.set(True)
    for name in SPECS:
        set_read_only(connections[name], False)
    try:
        yield
    finally:
        _writable.reset(token)
        for name in SPECS:
            set_read_only(connections[name], True)


@dataclass(frozen=True)
class DatasetStats:
    spec: DatasetSpec
    counts: dict[str, int]

    @property
    def name(self) -> str:
        return self.spec.name

    def as_dict(self) -> dict[str, object]:
        return {"name": self.name, "label": self.spec.label, **self.counts}


def stats(name: str) -> DatasetStats:
    """Row counts recorded when the dataset was seeded (one query); DatasetMissing if not seeded."""
    spec = get_spec(name)
    try:
        with connections[name].cursor() as cursor:
            cursor.execute("SELECT version, counts FROM blog_seedinfo WHERE name = %s", [name])
            row = cursor.fetchone()
    except DatabaseError:
        raise DatasetMissing(name) from None
    if row is None or row[0] != SEED_VERSION:
        raise DatasetMissing(name)
    return DatasetStats(spec, json.loads(row[1]))


def checksum(name: str) -> str:
    """A digest of every row of every blog table in dataset `name` (seed bookkeeping aside)."""
    from django.apps import apps

    from blog.models import SeedInfo

    digest = hashlib.sha256()
    models = apps.get_app_config("blog").get_models(include_auto_created=True)
    with connections[name].cursor() as cursor:
        for model in sorted(
            (m for m in models if m is not SeedInfo), key=lambda m: m._meta.db_table
        ):
            table = model._meta.db_table
            cursor.execute(f'SELECT * FROM "{table}" ORDER BY 1')  # our own table names
            digest.update(table.encode())
            for row in cursor.fetchall():
                digest.update(repr(row).encode())
    return digest.hexdigest()
