"""RemotingServer: accepts connections on host:port and serves them with one Router.

Java: NettyRemotingServer. Each accepted socket becomes a Connection; the owner hears about opened and
closed connections (the name server expires a broker when its channel closes, the broker drops the
consumers and producers of a closed channel) and may invoke requests on them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Final

from pocketmq.protocol.frame import FRAME_BYTES_MAX_DEFAULT
from pocketmq.remoting.connection import Connection
from pocketmq.remoting.router import Router

__all__ = ["RemotingServer", "ConnectionCallback", "CONNECTIONS_MAX_DEFAULT", "IDLE_TIMEOUT_MS_DEFAULT"]

log = logging.getLogger(__name__)

ConnectionCallback = Callable[[Connection], None]

#: Open connections a server accepts; beyond it new ones are closed at once.
CONNECTIONS_MAX_DEFAULT: Final = 10_000
#: A connection without traffic for this long is closed. Java: serverChannelMaxIdleTimeSeconds (120 s).
IDLE_TIMEOUT_MS_DEFAULT: Final = 120_000


class RemotingServer:
    """Serves `router` on host:port (port 0: any free port; read `port` after `start`)."""

    def __init__(
        self,
        host: str,
        port: int,
        router: Router,
        *,
        frame_bytes_max: int = FRAME_BYTES_MAX_DEFAULT,
        on_connection_opened: ConnectionCallback | None = None,
        on_connection_closed: ConnectionCallback | None = None,
        backlog: int = 1024,
        connections_max: int = CONNECTIONS_MAX_DEFAULT,
        idle_timeout_ms: int | None = IDLE_TIMEOUT_MS_DEFAULT,
    ) -> None:
        self._connections_max = connections_max
        self._idle_timeout_ms = idle_timeout_ms
        self._idle_task: asyncio.Task[None] | None = None
        self.host = host
        self._requested_port = port
        self.router = router
        self._frame_bytes_max = frame_bytes_max
        self._on_connection_opened = on_connection_opened
        self._on_connection_closed = on_connection_closed
        self._backlog = backlog
        self._server: asyncio.base_events.Server | None = None
        self._connections: set[Connection] = set()
        self._port = port

    @property
    def port(self) -> int:
        """The bound port (the real one when constructed with port 0 and started)."""
        return self._port

    @property
    def address(self) -> str:
        return f"{self.host}:{self._port}"

    @property
    def connections(self) -> frozenset[Connection]:
        return frozenset(self._connections)

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            self._make_connection,
            self.host,
            self._requested_port,
            reuse_address=True,
            backlog=self._backlog,
        )
        sockets = self._server.sockets
        if sockets:
            self._port = sockets[0].getsockname()[1]
        if self._idle_timeout_ms is not None:
            self._idle_task = asyncio.create_task(
                self._close_idle(self._idle_timeout_ms), name=f"remoting-idle-{self._port}"
            )
        log.info("remoting server listening on %s", self.address)

    def _make_connection(self) -> Connection:
        return Connection(
            self.router,
            frame_bytes_max=self._frame_bytes_max,
            on_open=self._opened,
            on_close=self._closed,
            pause_reading_when_backed_up=True,
        )

    def _opened(self, connection: Connection) -> None:
        if len(self._connections) >= self._connections_max:
            log.warning("refusing %s: %d connections already open", connection, len(self._connections))
            connection.abort(f"server has {len(self._connections)} connections, the maximum")
            return
        self._connections.add(connection)
        if self._on_connection_opened is not None:
            self._on_connection_opened(connection)

    def _closed(self, connection: Connection) -> None:
        if connection not in self._connections:
            return  # refused at once: the owner never heard of it
        self._connections.discard(connection)
        if self._on_connection_closed is not None:
            self._on_connection_closed(connection)

    async def _close_idle(self, idle_timeout_ms: int) -> None:
        loop = asyncio.get_running_loop()
        timeout_s = idle_timeout_ms / 1000
        while True:
            await asyncio.sleep(min(timeout_s / 2, 10.0))
            now = loop.time()
            for connection in list(self._connections):
                idle_s = now - connection.last_activity
                if idle_s > timeout_s:
                    log.info("closing %s: idle for %.0f ms", connection, idle_s * 1000)
                    connection.close(f"idle for more than {idle_timeout_ms} ms")

    async def stop(self) -> None:
        """Stop accepting, close every connection (failing their pending calls) and wait for them."""
        if self._idle_task is not None:
            self._idle_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._idle_task
            self._idle_task = None
        server, self._server = self._server, None
        if server is not None:
            server.close()
        connections = list(self._connections)
        for connection in connections:
            connection.close("server stopping")
        for connection in connections:
            await connection.wait_closed()
        if server is not None:
            await server.wait_closed()

    async def __aenter__(self) -> RemotingServer:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()
