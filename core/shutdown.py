"""How a long-running sagsflow process stops: on SIGINT (Ctrl+C) or SIGTERM (docker stop,
systemd, Kubernetes), cleanly, whatever it is doing when the signal comes.

The worker, `sagsflow dev` and the notification dispatcher (and bench's baseline worker) all
run until such a signal: `on_stop_signal()` turns it into an asyncio.Event for as long as the
process runs, and `until_stopped()` waits for the first of "the work ended" and "stop".
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import AsyncIterator
from typing import Any

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


@contextlib.asynccontextmanager
async def on_stop_signal() -> AsyncIterator[asyncio.Event]:
    """An event set by SIGINT or SIGTERM while the context is entered.

    Enter it first thing: a signal during a slow start (connecting, migrating, starting a
    server) then also ends in a clean stop instead of a KeyboardInterrupt half-way. On leaving,
    the default handlers are back.
    """
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for stop_signal in STOP_SIGNALS:
        loop.add_signal_handler(stop_signal, stop.set)
    try:
        yield stop
    finally:
        for stop_signal in STOP_SIGNALS:
            loop.remove_signal_handler(stop_signal)


async def until_stopped(running: asyncio.Future[Any], stop: asyncio.Event) -> bool:
    """Waits until `running` is done or `stop` is set, whichever comes first.

    True: a stop came and `running` is still running; the caller shuts it down (and then
    awaits it, which surfaces its error if it had one). False: `running` ended by itself.
    """
    stopping = asyncio.create_task(stop.wait(), name="stop-signal")
    try:
        await asyncio.wait({running, stopping}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopping.cancel()
    return not running.done()
