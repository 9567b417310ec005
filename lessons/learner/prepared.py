"""Lookups every request makes (the open room, the learner, their place in the help queue),
compiled once per database and run with new values: Django takes several times longer to
compile `filter(pk=...).first()` than SQLite takes to answer it, and a room of 200 asks a few
of them at every banner poll, page and answer. The rows become model instances as a QuerySet's
do (the compiler's converters, then `from_db`), without a QuerySet or a RawQuerySet per call."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from django.db import connections, models

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
        self._compiled: dict[str, _Compiled] = {}
        self._lock = threading.Lock()

    def _sql(self, alias: str) -> _Compiled:
        with self._lock:
            if alias not in self._compiled:
                self._compiled[alias] = _Compiled(self._build(*self._holes), alias, self._holes)
            return self._compiled[alias]

    def all(self, *values: int) -> list[M]:
        if len(values) != len(self._holes) or not all(type(v) is int for v in values):
            raise TypeError(f"expected {len(self._holes)} integer values, got {values!r}")
        alias = self._model._default_manager.db
        compiled = self._sql(alias)
        filled = [
            values[compiled.where[i]] if i in compiled.where else p
            for i, p in enumerate(compiled.params)
        ]
        with connections[alias].cursor() as cursor:
            cursor.execute(compiled.sql, filled)
            rows = cursor.fetchall()
        return [compiled.instance(alias, row) for row in compiled.compiler.results_iter([rows])]

    def first(self, *values: int) -> M | None:
        found = self.all(*values)
        return found[0] if found else None


class _Compiled:
    """One QuerySet's SQL for one database, where its values go, and how a row becomes an
    instance (what Django's ModelIterable reads from the compiler, read once)."""

    def __init__(self, queryset: models.QuerySet[Any], alias: str, holes: tuple[int, ...]) -> None:
        compiler = queryset.query.get_compiler(alias)
        sql, params = compiler.as_sql()
        self.where = {i: holes.index(p) for i, p in enumerate(params) if p in holes}
        if sorted(self.where.values()) != list(range(len(holes))):
            raise ValueError("every value must appear in the query as a parameter")
        info = compiler.klass_info
        if info is None or info.get("related_klass_infos"):
            raise ValueError("a prepared lookup selects one model's rows, without select_related")
        self.sql, self.params, self.compiler = sql, tuple(params), compiler
        self.model = info["model"]
        fields = info["select_fields"]
        self.start, self.end = fields[0], fields[-1] + 1
        self.names = [column[0].target.attname for column in compiler.select[self.start : self.end]]
        self.annotations = dict(compiler.annotation_col_map or {})

    def instance(self, alias: str, row: Any) -> Any:
        obj = self.model.from_db(alias, self.names, row[self.start : self.end])
        for name, position in self.annotations.items():
            setattr(obj, name, row[position])
        return obj
