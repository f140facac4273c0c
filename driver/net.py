"""Small process helpers shared by the benchmark, the fault suite and the tests."""

from __future__ import annotations

import random
import socket

# Below Linux's ephemeral range (32768-60999): the kernel hands those ports to every outgoing
# connection, so one picked there and given to a server a moment later was sometimes taken by
# then when several test workers and their servers ran side by side.
PORTS = range(20000, 32000)


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nothing listens on right now."""
    for _ in range(100):
        port = random.choice(PORTS)  # noqa: S311 - spreading picks, not a secret
        with socket.socket() as probe:
            try:
                probe.bind((host, port))
            except OSError:
                continue
            return port
    with socket.socket() as probe:  # all tried were busy: the kernel's pick
        probe.bind((host, 0))
        return int(probe.getsockname()[1])
