"""asyncio transport of the remoting protocol on uvloop: server, client, per-socket connection, router."""

from __future__ import annotations

from collections.abc import Coroutine
from typing import Any, TypeVar

import uvloop

from pocketmq.remoting.client import RemotingClient, RpcHook, parse_address
from pocketmq.remoting.connection import Connection
from pocketmq.remoting.router import Handler, HandlerResult, RequestHook, Router, not_supported_response
from pocketmq.remoting.server import RemotingServer

__all__ = [
    "Connection",
    "Handler",
    "HandlerResult",
    "RemotingClient",
    "RemotingServer",
    "RequestHook",
    "Router",
    "RpcHook",
    "not_supported_response",
    "parse_address",
    "run",
]

_T = TypeVar("_T")


def run(main: Coroutine[Any, Any, _T]) -> _T:
    """Run `main` on a uvloop event loop (what every pocketmq process uses)."""
    return uvloop.run(main)
