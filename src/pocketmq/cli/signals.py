"""How every pocketmq process waits to be stopped: SIGINT (Ctrl-C) and SIGTERM ask for a clean
shutdown; the handlers are in place before the ready line is printed, so a supervisor that signals
as soon as it sees the line is never met by Python's default handler."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from collections.abc import AsyncIterator

import click

__all__ = ["STOP_SIGNALS", "stop_requested"]

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


@contextlib.asynccontextmanager
async def stop_requested(ready_line: str | None = None) -> AsyncIterator[asyncio.Event]:
    """Install the stop handlers, print `ready_line`, and yield the event they set."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in STOP_SIGNALS:
        loop.add_signal_handler(signum, stop.set)
    try:
        if ready_line is not None:
            click.echo(ready_line, color=False)
            sys.stdout.flush()
        yield stop
    finally:
        for signum in STOP_SIGNALS:
            loop.remove_signal_handler(signum)
