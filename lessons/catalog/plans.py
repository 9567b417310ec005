"""Plan claims: what a snippet's query plans must show, declared in the lesson like its count.

    ```python {#by-day.fixed expect="1" plan="index:blog_comment_created_idx; no-scan:blog_comment"}

A claim is `<kind>:<target>`; several are joined by `;`. The kinds:

- `index:<name>`: some statement's plan uses the index `name` (SQLite's `USING INDEX name` or
  `USING COVERING INDEX name`; PostgreSQL's `Index Scan`, `Index Only Scan` or `Bitmap Index
  Scan` on it);
- `scan:<table>` / `no-scan:<table>`: some / no statement reads the whole table without an index
  (SQLite's `SCAN <table>`, PostgreSQL's `Seq Scan on <table>`). An index-order walk
  (`SCAN t USING INDEX i`) is not a full scan: it is how `ORDER BY ... LIMIT` reads its first rows;
- `shows:<text>` / `lacks:<text>`: some / no line of a plan contains `text`, as the engine words it
  (`USE TEMP B-TREE FOR ORDER BY`, `Sort`, `Hash Join`).

Plans differ by engine, and on PostgreSQL by size (the planner scans a table too small to be worth
an index), so a claim may be declared for one engine, one dataset or both: `plan-postgresql`,
`plan-tiny`, `plan-postgresql-tiny`. The most specific declaration that fits is the claim; an
empty one (`plan-postgresql-tiny=""`) claims nothing there. The suite explains every statement of
the snippet's run on every dataset and checks the claim (tests/test_lessons_verified.py)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from lessons.catalog.expect import ENGINES

KINDS = ("index", "scan", "no-scan", "shows", "lacks")
DATASETS = ("tiny", "medium", "large", "check")
ATTRIBUTE = re.compile(
    rf"^plan(?:-(?P<engine>{'|'.join(ENGINES)}))?(?:-(?P<dataset>{'|'.join(DATASETS)}))?$"
)
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class PlanClaimError(ValueError):
    pass


@dataclass(frozen=True)
class Claim:
    kind: str  # one of KINDS
    target: str  # an index or table name, or a piece of plan text

    def __str__(self) -> str:
        return f"{self.kind}:{self.target}"

    @property
    def described(self) -> str:
        """The claim in words, for a learner reading an exercise's budget."""
        return {
            "index": f"uses the index {self.target}",
            "scan": f"reads the whole {self.target} table",
            "no-scan": f"no full scan of {self.target}",
            "shows": f"a plan line with “{self.target}”",
            "lacks": f"no plan line with “{self.target}”",
        }[self.kind]

    @property
    def wanted(self) -> bool:
        """True when some statement must show it; False when none may."""
        return self.kind in ("index", "scan", "shows")


@dataclass(frozen=True)
class Declaration:
    engine: str  # "" for every engine
    dataset: str  # "" for every dataset
    source: str
    claims: tuple[Claim, ...]

    @property
    def key(self) -> str:
        return "-".join(filter(None, ("plan", self.engine, self.dataset)))


@dataclass(frozen=True)
class PlanClaims:
    declarations: tuple[Declaration, ...] = ()

    @classmethod
    def from_attributes(cls, attributes: Mapping[str, str]) -> PlanClaims:
        """From `plan...` keys (others are ignored); PlanClaimError for a bad one."""
        declarations = []
        for key, source in attributes.items():
            match = ATTRIBUTE.match(key)
            if match is None:
                continue
            declarations.append(
                Declaration(match["engine"] or "", match["dataset"] or "", source, parse(source))
            )
        return cls(tuple(declarations))

    def __bool__(self) -> bool:
        return any(declaration.claims for declaration in self.declarations)

    def declared_for(self, engine: str, dataset: str) -> Declaration | None:
        """The most specific declaration that fits: engine and dataset, then dataset, then engine,
        then the plain `plan`; None where nothing is declared."""
        fitting = [
            d for d in self.declarations if d.engine in ("", engine) and d.dataset in ("", dataset)
        ]
        if not fitting:
            return None
        return max(fitting, key=lambda d: (bool(d.dataset), bool(d.engine)))

    def for_(self, engine: str, dataset: str) -> tuple[Claim, ...]:
        declaration = self.declared_for(engine, dataset)
        return declaration.claims if declaration else ()


def parse(source: str) -> tuple[Claim, ...]:
    claims = []
    for part in source.split(";"):
        if not part.strip():
            continue
        kind, colon, target = part.strip().partition(":")
        target = target.strip()
        if not colon or kind not in KINDS or not target:
            raise PlanClaimError(
                f"plan claim {part.strip()!r}: write <kind>:<target>, kind one of "
                f"{', '.join(KINDS)}"
            )
        if kind in ("index", "scan", "no-scan") and not _NAME.match(target):
            raise PlanClaimError(f"plan claim {part.strip()!r}: {kind} names a table or an index")
        claims.append(Claim(kind, target))
    return tuple(claims)
