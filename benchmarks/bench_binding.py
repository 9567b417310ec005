"""The reads a room's requests make on the course's own PostgreSQL database (the session, the open
room, the learner with whether they wait for help, their progress rows), with the values bound
client-side (psycopg's ClientCursor, Django's default) and server-side (prepared after a few
executions on a connection), side by side in one run, in turns: wall time, this process's CPU
and the server process's CPU per round. On SQLite there is nothing to compare."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

from _common import setup_django

ROUNDS = 2_000
TURN = 100


def main() -> None:
    setup_django()
    from django.contrib.sessions.models import Session
    from django.db import connections

    from lessons.learner import help
    from lessons.learner.models import Answer, Learner, Opened, Room

    default = connections["default"]
    if default.vendor != "postgresql":
        print('The course\'s database is SQLite: set DATABASE_URL (eval "$(.ci/pg env)").')
        return
    for alias, server_side in (("client_bound", False), ("server_bound", True)):
        options = {**default.settings_dict["OPTIONS"], "server_side_binding": server_side}
        connections.settings[alias] = {**default.settings_dict, "OPTIONS": options}
    learners = list(Learner.objects.order_by("-pk").values_list("pk", flat=True)[:50]) or [0]
    keys = list(Session.objects.values_list("session_key", flat=True)[:50]) or [""]

    def reads(alias: str) -> Callable[[int], None]:
        def one(i: int) -> None:
            pk = learners[i % len(learners)]
            Session.objects.using(alias).filter(session_key=keys[i % len(keys)]).first()
            Room.objects.using(alias).filter(ended_at=None).order_by("-started_at").first()
            Learner.objects.using(alias).filter(pk=pk).annotate(asks_help=help.ASKS).first()
            list(Opened.objects.using(alias).filter(learner=pk).values_list("lesson"))
            list(Answer.objects.using(alias).filter(learner=pk).values_list("question", "choice"))

        return one

    print(f"{ROUNDS:,} rounds of a request's reads, in turns of {TURN}, per round:")
    figures = measure({alias: reads(alias) for alias in ("client_bound", "server_bound")})
    for alias, (wall, ours, server) in figures.items():
        shown = f"{server * 1e6:6.0f} us" if server is not None else "   (not readable here)"
        print(f"  {alias:13} wall {wall * 1e6:6.0f} us   this process {ours * 1e6:6.0f} us", end="")
        print(f"   PostgreSQL's process {shown}")
    (cw, co, cs), (sw, so, ss) = figures["client_bound"], figures["server_bound"]
    print(f"  server-bound / client-bound: wall {sw / cw:.2f}, this process {so / co:.2f}", end="")
    print(f", PostgreSQL's process {ss / cs:.2f}" if cs and ss is not None else "")


def measure(
    variants: dict[str, Callable[[int], None]],
) -> dict[str, tuple[float, float, float | None]]:
    """Per round: wall seconds, this process's CPU, the server process's CPU (None if it cannot
    be read), each variant running TURN rounds in its turn so that drift hits both alike."""
    from django.db import connections

    stats: dict[str, Path] = {}
    for alias, one in variants.items():
        for i in range(50):  # connect, and let psycopg prepare what it sends again and again
            one(i)
        with connections[alias].cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            stats[alias] = Path(f"/proc/{cursor.fetchone()[0]}/stat")
    totals = {alias: [0.0, 0.0, 0.0] for alias in variants}
    readable = True
    for turn in range(ROUNDS // TURN):
        for alias, one in variants.items():
            server = _cpu(stats[alias])
            wall, ours = time.perf_counter(), time.process_time()
            for i in range(turn * TURN, (turn + 1) * TURN):
                one(i)
            totals[alias][0] += time.perf_counter() - wall
            totals[alias][1] += time.process_time() - ours
            after = _cpu(stats[alias])
            if server is None or after is None:
                readable = False
            else:
                totals[alias][2] += after - server
    return {
        alias: (wall / ROUNDS, ours / ROUNDS, server / ROUNDS if readable else None)
        for alias, (wall, ours, server) in totals.items()
    }


def _cpu(stat: Path) -> float | None:
    """A local process's CPU seconds (user and system), None when it cannot be read."""
    try:
        fields = stat.read_text().rpartition(")")[2].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


if __name__ == "__main__":
    main()
