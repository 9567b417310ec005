"""The datasets the lessons query: which exist, which one is active, and what each one holds.

This module is the registry. Beside it: `router` (blog models to the active dataset), `seeding`
(building them), and `guards` and `pgguard` (keeping them unchanged whatever a run does, on SQLite
and on PostgreSQL).

Each dataset is a database alias of its own (see settings.DATABASES). The router sends blog
models to whichever dataset is active in the current context, so a run picks its data without
reseeding. Pages, runs and measurements name a dataset as a `DatasetRef`: a data size on an
engine, whose `alias` is the database it reads.
"""

from __future__ import annotations

import contextvars
import hashlib
import json
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import urlencode

from django.conf import settings
from django.db import DatabaseError, connections
from django.http import HttpRequest

from lessons.errors import CourseError, Unavailable, shorten


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

# The hidden dataset exercises are also checked on: never offered by the pages or the API.
CHECK = DatasetSpec(settings.COURSE_CHECK_DATASET, "Check", 7, 37, 4, 9, 4, seed=4711)
# The engines a lesson page offers, the primary first (settings.COURSE_ENGINES): one unless
# PostgreSQL is configured, which brings SQLite's datasets along under their own aliases.
ENGINES: tuple[str, ...] = tuple(settings.COURSE_ENGINES)


def _alias(size: str, engine: str) -> str:
    # The size itself on the primary engine, `<size>_<engine>` (`tiny_sqlite`) on the other one.
    return size if engine == ENGINES[0] else f"{size}_{engine}"


# The data sizes on the other engines: the same specs (the same data), under their own aliases.
OTHER_ENGINE_SPECS: dict[str, DatasetSpec] = {
    _alias(size, engine): spec for engine in ENGINES[1:] for size, spec in SPECS.items()
}
# The aliases a page may name (through a size and an engine): every one but the hidden check.
PAGE_ALIASES: frozenset[str] = frozenset({*SPECS, *OTHER_ENGINE_SPECS})
# Every dataset there is a database for, by alias: seeded, guarded and copied alike.
ALL_SPECS: dict[str, DatasetSpec] = {**SPECS, CHECK.name: CHECK, **OTHER_ENGINE_SPECS}
assert set(ALL_SPECS) == set(settings.COURSE_DATASET_ALIASES), "settings and specs disagree"

# Bump when seeding changes what it writes, so `seed` knows to rebuild.
SEED_VERSION = 3


class UnknownDataset(CourseError):
    status = 400

    def __init__(self, name: object) -> None:
        choices = ", ".join(f"{spec.label} ({spec.name})" for spec in SPECS.values())
        super().__init__(f"There is no data size {shorten(name)}: choose one of {choices}.")


class UnknownEngine(CourseError):
    status = 400

    def __init__(self, name: object) -> None:
        choices = ", ".join(ENGINES)
        super().__init__(
            f"Unknown engine {shorten(name)}: this server offers {choices} "
            f"({'choose one of them' if len(ENGINES) > 1 else 'PostgreSQL is not configured'})."
        )


class DatasetMissing(Unavailable):
    def __init__(self, name: str) -> None:
        super().__init__(
            f"The {name!r} dataset has not been seeded yet. "
            f"Run `make seed` (or `python manage.py seed --dataset {name}`) and try again."
        )


class DatasetBroken(Unavailable):
    """The dataset's database exists but cannot be read: a damaged, unreadable or full file."""

    def __init__(self, name: str, cause: Exception) -> None:
        where = settings.DATABASES[name]["NAME"]
        super().__init__(
            f"The {name!r} dataset ({where}) cannot be read: {cause}. "
            f"Rebuild it with `python manage.py seed --dataset {name} --force`."
        )


_active: contextvars.ContextVar[str] = contextvars.ContextVar(
    "course_dataset", default=settings.COURSE_DEFAULT_DATASET
)


def active() -> str:
    return _active.get()


def get_spec(name: str) -> DatasetSpec:
    try:
        return ALL_SPECS[name]
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


ENGINE_LABELS = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}


class Promise(Protocol):
    """What a lesson promises about a run: its `expect`, over the data's counts and engine."""

    def expected_count(self, counts: Mapping[str, int], engine: str) -> int: ...


@dataclass(frozen=True)
class DatasetStats:
    spec: DatasetSpec
    counts: dict[str, int]
    engine: str  # the database's vendor: "sqlite" or "postgresql"
    alias: str = ""  # the database alias read (`tiny`, or `tiny_sqlite` beside PostgreSQL)
    checksum: str = ""  # of its rows, written by the seeder

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def engine_label(self) -> str:
        return ENGINE_LABELS.get(self.engine, self.engine)

    def as_dict(self) -> dict[str, object]:
        return {"name": self.name, "label": self.spec.label, "engine": self.engine, **self.counts}

    def expected_count(self, promise: Promise) -> int:
        """The query count `promise` (a snippet's or a predict question's expect) comes to on
        this data, on this engine."""
        return promise.expected_count(self.counts, self.engine)


# name -> (time.monotonic() when read, stats): what each page of a room reads again and again.
_recent: dict[str, tuple[float, DatasetStats]] = {}
# Datasets whose seed record one thread of this process is reading again: the others go on with
# the record they have meanwhile, rather than all reading it at once.
_rereading: set[str] = set()
_rereading_lock = threading.Lock()


def stats(name: str) -> DatasetStats:
    """Row counts recorded when the dataset was seeded (one query); DatasetMissing if not seeded.
    Read again after COURSE_DATASET_STATS_SECONDS, by one thread at a time: a dataset is seeded
    again rarely, and every page asks (on PostgreSQL each read is a new connection to the
    dataset's database, a new server process)."""
    kept = _recent.get(name)
    if kept is not None and time.monotonic() - kept[0] < settings.COURSE_DATASET_STATS_SECONDS:
        return kept[1]
    if kept is not None:
        with _rereading_lock:
            busy = name in _rereading
            _rereading.add(name)
        if busy:
            return kept[1]
    try:
        read = _read_stats(name)
    finally:
        if kept is not None:
            with _rereading_lock:
                _rereading.discard(name)
    _recent[name] = (time.monotonic(), read)
    return read


def _read_stats(name: str) -> DatasetStats:
    spec = get_spec(name)
    try:
        with connections[name].cursor() as cursor:
            # The row is named after the data size: one file serves as `tiny` on SQLite and as
            # `tiny_sqlite` beside PostgreSQL.
            cursor.execute(
                "SELECT version, counts, checksum FROM blog_seedinfo WHERE name = %s", [spec.name]
            )
            row = cursor.fetchone()
    except DatabaseError as exc:
        if _is_missing_table(exc):
            raise DatasetMissing(name) from None
        raise DatasetBroken(name, exc) from None
    if row is None or row[0] != SEED_VERSION:
        raise DatasetMissing(name)
    return DatasetStats(spec, json.loads(row[1]), connections[name].vendor, name, row[2])


@dataclass(frozen=True)
class DatasetRef:
    """A data size (`tiny`, `medium`, `large`) on an engine (`sqlite`, `postgresql`): what a page
    shows, a run reads and a link carries. Only what this server has: UnknownDataset or
    UnknownEngine (400) otherwise."""

    size: str
    engine: str = ENGINES[0]

    def __post_init__(self) -> None:
        if self.size not in SPECS:
            raise UnknownDataset(self.size)
        if self.engine not in ENGINES:
            raise UnknownEngine(self.engine)

    @classmethod
    def named(cls, size: object = None, engine: object = None) -> DatasetRef:
        """The dataset a form or a query string names: the default size and the primary engine
        where it names none."""
        size = settings.COURSE_DEFAULT_DATASET if size in (None, "") else size
        engine = ENGINES[0] if engine in (None, "") else engine
        if not isinstance(size, str):
            raise UnknownDataset(size)
        if not isinstance(engine, str):
            raise UnknownEngine(engine)
        return cls(size, engine)

    @classmethod
    def from_request(cls, request: HttpRequest, *, engine: bool = True) -> DatasetRef:
        """The size and engine a request names (`dataset` and `engine`: posted, else in the query
        string). `engine=False`: on the primary engine whatever the request says, for the pages
        that offer no engine switch."""
        source = request.POST if request.method == "POST" else request.GET
        return cls.named(source.get("dataset"), source.get("engine") if engine else None)

    @classmethod
    def every_size(cls, engine: str = ENGINES[0]) -> list[DatasetRef]:
        """Every data size on `engine`, smallest first."""
        return [cls(size, engine) for size in SPECS]

    @property
    def alias(self) -> str:
        """The database alias: the size itself on the primary engine, `<size>_<engine>`
        (`tiny_sqlite`) on the other one."""
        return _alias(self.size, self.engine)

    @property
    def spec(self) -> DatasetSpec:
        return SPECS[self.size]

    def stats(self) -> DatasetStats:
        """Its row counts as seeded (one query); DatasetMissing or DatasetBroken if unreadable."""
        return stats(self.alias)

    def stats_or_problem(self) -> tuple[DatasetStats | None, str]:
        """Its stats and "", or None and why they cannot be read (not seeded, or broken): for
        the pages that show a notice instead of failing."""
        try:
            return stats(self.alias), ""
        except (DatasetMissing, DatasetBroken) as exc:
            return None, exc.message

    @property
    def query(self) -> dict[str, str]:
        """The query parameters naming it: the size, and the engine unless it is the primary."""
        return {"dataset": self.size} | (
            {"engine": self.engine} if self.engine != ENGINES[0] else {}
        )

    def in_url(self, url: str) -> str:
        """`url` carrying it, so the next page shows the same data size on the same engine."""
        return f"{url}{'&' if '?' in url else '?'}{urlencode(self.query)}"


def _is_missing_table(exc: DatabaseError) -> bool:
    # SQLite creates an empty file on first connect; PostgreSQL answers an undefined table.
    return "no such table" in str(exc) or "does not exist" in str(exc)


def checksum(name: str) -> str:
    """A digest of every row of every blog table in dataset `name` (seed bookkeeping aside)."""
    from blog.models import COUNTED

    digest = hashlib.sha256()
    with connections[name].cursor() as cursor:
        for model in sorted(COUNTED.values(), key=lambda m: m._meta.db_table):
            table = model._meta.db_table
            cursor.execute(f'SELECT * FROM "{table}" ORDER BY 1')  # our own table names
            digest.update(table.encode())
            for row in cursor.fetchall():
                digest.update(repr(row).encode())
    return digest.hexdigest()
