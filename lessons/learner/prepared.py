"""Lookups every request makes (the open room, the learner, their place in the help queue),
compiled once per database and run with new values: Django takes several times longer to
compile `filter(pk=...).first()` than SQLite takes to answer it, and a room of 200 asks a few
of them at every banner poll, page and answer."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from django.db import models

M = TypeVar("M", bound=models.Model)

# Stand for the values while the query is compiled: no primary key is negative.
_HOLES = (-7_346_101, -7_346_103, -7_346_107)


class Prepared(Generic[M]):
    """One QuerySet shape, `build(*values)`, that selects a model's rows by integer values (keys):
    compiled the first time for each database, then run through raw() with the values put
    where the stand-ins were. Its rows are whole model instances, as the QuerySet's would be."""

    def __init__(
        self, model: type[M], build: Callable[..., models.QuerySet[M]], holes: int
    ) -> None:
        self._model = model
        self._build = build
        self._holes = _HOLES[:holes]
        self._compiled: dict[str, tuple[str, tuple[Any, ...], dict[int, int]]] = {}
        self._lock = threading.Lock()

    def _sql(self, alias: str) -> tuple[str, tuple[Any, ...], dict[int, int]]:
        with self._lock:
            if alias not in self._compiled:
                query = self._build(*self._holes).query
                sql, params = query.get_compiler(alias).as_sql()
                where = {i: self._holes.index(p) for i, p in enumerate(params) if p in self._holes}
                if sorted(where.values()) != list(range(len(self._holes))):
                    raise ValueError("every value must appear in the query as a parameter")
                self._compiled[alias] = (sql, tuple(params), where)
            return self._compiled[alias]

    def all(self, *values: int) -> list[M]:
        if len(values) != len(self._holes) or not all(type(v) is int for v in values):
            raise TypeError(f"expected {len(self._holes)} integer values, got {values!r}")
        alias = self._model._default_manager.db
        sql, params, where = self._sql(alias)
        filled = [values[where[i]] if i in where else p for i, p in enumerate(params)]
        return list(self._model._default_manager.using(alias).raw(sql, filled))

    def first(self, *values: int) -> M | None:
        found = self.all(*values)
        return found[0] if found else None
