"""Open the room for a workshop (or find the one already open) and print its two addresses: the
one learners open, and the instructor's console with its secret token. `make workshop` runs this,
then the server."""

from __future__ import annotations

import argparse
import re
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from lessons import engine
from lessons.learner import rooms
from lessons.management.commands.seed import prepare_var
from lessons.network import lan_address


class Command(BaseCommand):
    help = "Open the workshop room (or reopen the open one) and print its addresses."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--port", type=int, default=8000, help="the port the server listens on")
        parser.add_argument(
            "--host",
            type=_host,
            default=None,
            help="the name or address learners open (default: this machine's address on the "
            "network, which a laptop with several networks may guess wrong)",
        )
        parser.add_argument(
            "--editing",
            choices=("on", "off", "local"),
            default="off",
            help="whether a new room starts with editing on (the console switches it later)",
        )
        parser.add_argument(
            "--https",
            action="store_true",
            help="print https:// addresses (served with a certificate)",
        )
        parser.add_argument(
            "--new", action="store_true", help="end the open room first and open a fresh one"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        prepare_var()  # the server's workers must share one secret key, or sessions fail
        if options["new"] and (open_room := rooms.active_room()):
            rooms.end(open_room)
        room, new = rooms.open_room(editing=options["editing"] == "on")
        learners = room.learners.count()
        scheme = "https" if options["https"] else "http"
        base = f"{scheme}://{options['host'] or lan_address()}:{options['port']}"
        if room.address != f"{base}/":  # what the join screen shows and encodes
            room.address = f"{base}/"
            room.save(update_fields=["address"])
            rooms.forget_room()
        if new:
            state = "A new room is open"
        else:
            state = f"The room opened {room.started_at:%Y-%m-%d %H:%M} UTC is open again"
            state += f" ({learners} learner{'s' if learners != 1 else ''} joined)"
        self.stdout.write(
            "\n".join(
                [
                    "",
                    f"  {state}.",
                    f"  Learners open:  {base}/",
                    f"  Your console:   {base}/console/{room.token}/",
                    "  (keep the console address to yourself: it is the key to the room)",
                    "",
                    *self._walls(),
                ]
            )
        )

    def _walls(self) -> list[str]:
        """The kernel's walls around each run, and what follows for learners' own code."""
        walls = engine.walls()
        lines = ["  Walls around each run (SECURITY.md):", *(f"    {line}" for line in walls.lines)]
        if walls.missing and not settings.COURSE_ACCEPT_RISK:
            lines.append(
                f"  Learners' own code is refused: nothing walls runs off from the "
                f"{' and '.join(walls.missing)}. To serve it anyway, accept the risk with "
                "make workshop EDITING=on ACCEPT_RISK=yes."
            )
        elif walls.missing:
            lines.append(
                f"  ACCEPT_RISK=yes: learners' code runs without walls on the "
                f"{' and '.join(walls.missing)}."
            )
        return [*lines, ""]


_HOST = re.compile(
    r"^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*$"
)


def _host(value: str) -> str:
    """A host name or an IPv4 address, as learners type it: no scheme, port or path."""
    if not _HOST.match(value):
        raise argparse.ArgumentTypeError(
            f"{value!r} is not a host name or address: give it alone, e.g. 192.168.1.20 or "
            "course.lan (no http://, no port: --port sets that)"
        )
    return value
