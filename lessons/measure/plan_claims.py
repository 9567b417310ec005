"""Judging plan claims (lessons.catalog.plans) against the plans of a run's statements.

A plan is read the way its engine words it. SQLite's lines are the detail column of EXPLAIN QUERY
PLAN: `SCAN blog_comment`, `SEARCH blog_comment USING INDEX blog_comment_post_created_idx
(post_id=?)`, `SCAN blog_post USING INDEX blog_post_created_idx`. PostgreSQL's are nodes: `Seq
Scan on blog_comment`, `Index Scan using blog_comment_post_created_idx on blog_comment`, `Bitmap
Index Scan on blog_comment_post_created_idx`. Where Django aliases a table (`"blog_comment" U0` in
a subquery), SQLite names the alias only, so the SQL says which table it stands for."""

from __future__ import annotations

import re
from dataclasses import dataclass

from lessons.catalog.plans import Claim
from lessons.measure.explain import Plan, PlanLine

# `FROM "blog_comment" U0`, `INNER JOIN "blog_post" T3`, `"blog_post" AS "p"`
_ALIAS = re.compile(r'"(?P<table>\w+)"\s+(?:AS\s+)?"?(?P<alias>[A-Za-z]\w*)"?(?=[\s),]|$)')
_NOT_ALIASES = {"ON", "WHERE", "INNER", "LEFT", "JOIN", "GROUP", "ORDER", "LIMIT", "AS", "AND"}
_SQLITE_SCAN = re.compile(r"^SCAN (?P<table>\w+)(?P<rest>.*)$")
_SQLITE_INDEX = re.compile(r"\bUSING (?:COVERING )?INDEX (?P<index>\w+)")
_PG_INDEX = re.compile(r"^(?:using|on) (?P<index>\w+)")
_PG_TABLE = re.compile(r"\bon (?P<table>\w+)")


@dataclass(frozen=True)
class Broken:
    """A claim the plans do not bear out, and the evidence, worded for a learner or an author."""

    claim: Claim
    message: str  # a verb phrase: "<the snippet / your code> reads the whole blog_comment ..."
    line: str = ""  # the plan line that breaks a claim that something is absent
    sql: str = ""  # the statement whose plan has that line


def judge(claims: tuple[Claim, ...], plans: list[Plan]) -> list[Broken]:
    """The claims the plans break: a wanted kind (index, scan, shows) needs some statement's
    plan to show it; an unwanted one (no-scan, lacks) may show in none."""
    broken = []
    for claim in claims:
        found = [(plan, line) for plan in plans for line in plan.lines if _shows(claim, plan, line)]
        if claim.wanted and not found:
            broken.append(Broken(claim, _missing(claim, plans)))
        elif not claim.wanted and found:
            plan, line = found[0]
            broken.append(Broken(claim, _present(claim, plan, line), wording(line), plan.sql))
    return broken


def wording(line: PlanLine) -> str:
    """A plan line as its engine prints it, without PostgreSQL's figures."""
    return " ".join(filter(None, (line.node, line.text)))


def _shows(claim: Claim, plan: Plan, line: PlanLine) -> bool:
    if claim.kind == "index":
        return _index(plan, line) == claim.target
    if claim.kind in ("scan", "no-scan"):
        return _scanned_table(plan, line) == claim.target
    return claim.target in wording(line)


def _index(plan: Plan, line: PlanLine) -> str | None:
    """The index this line reads, if it reads one."""
    if plan.engine == "PostgreSQL":
        if "Index" not in line.node:
            return None
        match = _PG_INDEX.match(line.text)
        return match["index"] if match else None
    match = _SQLITE_INDEX.search(line.text)
    return match["index"] if match else None


def _scanned_table(plan: Plan, line: PlanLine) -> str | None:
    """The table this line reads whole, without an index, if it does."""
    if plan.engine == "PostgreSQL":
        if not line.node.endswith("Seq Scan"):
            return None
        match = _PG_TABLE.match(line.text)
        return match["table"] if match else None
    match = _SQLITE_SCAN.match(line.text)
    if match is None or "USING" in match["rest"]:  # an index-order walk is not a full scan
        return None
    return aliases(plan.sql).get(match["table"], match["table"])


def aliases(sql: str) -> dict[str, str]:
    """The table each alias of a statement stands for (`U0` -> `blog_comment`)."""
    return {
        match["alias"]: match["table"]
        for match in _ALIAS.finditer(sql)
        if match["alias"].upper() not in _NOT_ALIASES
    }


def _missing(claim: Claim, plans: list[Plan]) -> str:
    reads = "; ".join(dict.fromkeys(_summary(plan) for plan in plans)) or "no statement"
    if claim.kind == "index":
        return f"uses the index {claim.target} in no statement's plan; its plans read: {reads}"
    if claim.kind == "scan":
        return f"never reads the whole of {claim.target}; its plans read: {reads}"
    return f"has no plan line with {claim.target!r}; its plans read: {reads}"


def _present(claim: Claim, plan: Plan, line: PlanLine) -> str:
    if claim.kind == "no-scan":
        return (
            f"reads the whole {claim.target} table, without an index: its plan says "
            f"“{wording(line)}” for {one_line(plan.sql)}"
        )
    return f"has {claim.target!r} in its plan: “{wording(line)}” for {one_line(plan.sql)}"


def _summary(plan: Plan) -> str:
    """The lines of a plan that say how each table is read."""
    reads = [
        wording(line)
        for line in plan.lines
        if _index(plan, line)
        or _scanned_table(plan, line)
        or "Scan" in line.node
        or line.text.startswith(("SCAN", "SEARCH"))
    ]
    return ", ".join(reads) or (wording(plan.lines[0]) if plan.lines else "nothing")


def one_line(sql: str, limit: int = 110) -> str:
    """A statement on one line, its column list elided: the FROM and WHERE tell plans apart."""
    flat = re.sub(r"^SELECT (?:DISTINCT )?.{40,}? FROM ", "SELECT … FROM ", " ".join(sql.split()))
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"
