"""The addresses a room reaches this machine by, for ALLOWED_HOSTS and the printed links."""

from __future__ import annotations

import socket


def lan_address() -> str:
    """This machine's address on the network a room shares (the one its default route leaves
    by), or 127.0.0.1 when it has none. Connecting a UDP socket sends no packet."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("10.254.254.254", 9))
            address = str(probe.getsockname()[0])
        except OSError:
            return "127.0.0.1"
    return address if not address.startswith("0.") else "127.0.0.1"


def room_hosts(extra: str = "") -> list[str]:
    """Every name a learner's browser may send as Host: the LAN address, this machine's name,
    loopback, and any extra comma-separated names (a DNS name or a proxy's)."""
    name = socket.gethostname()
    hosts = [lan_address(), "127.0.0.1", "localhost", "[::1]", name, f"{name}.local"]
    hosts += [host.strip() for host in extra.split(",") if host.strip()]
    return list(dict.fromkeys(hosts))
