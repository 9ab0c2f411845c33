"""RemotingClient: calls to many servers by address, over connections opened lazily and reopened on demand.

Java: NettyRemotingClient. One connection per address; a closed connection is dropped and the next call
to that address connects again. Requests the server sends back on a connection (NOTIFY_CONSUMER_IDS_CHANGED,
CHECK_TRANSACTION_STATE...) go to the client's own Router.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from typing import Protocol

from pocketmq.common.errors import ConnectionClosedError, RemotingError, RequestTimeoutError
from pocketmq.protocol.command import RemotingCommand
from pocketmq.protocol.frame import FRAME_BYTES_MAX_DEFAULT
from pocketmq.remoting.connection import Connection
from pocketmq.remoting.router import Router

__all__ = ["RemotingClient", "RpcHook", "parse_address"]

log = logging.getLogger(__name__)


class RpcHook(Protocol):
    """Java RPCHook on the client side: sign requests (ACL AccessKey/Signature), trace calls."""

    def before_request(self, address: str, request: RemotingCommand) -> None: ...

    def after_response(self, address: str, request: RemotingCommand, response: RemotingCommand) -> None: ...


def parse_address(address: str) -> tuple[str, int]:
    """ "host:port" (or "[v6]:port") -> (host, port); raises RemotingError if malformed."""
    host, separator, port_text = address.strip().rpartition(":")
    if not separator or not host or not port_text.isdigit():
        raise RemotingError(f"bad address {address!r}: expected host:port")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return host, int(port_text)


class RemotingClient:
    """Invoke requests on servers by "host:port". Safe to share among all tasks of one event loop."""

    def __init__(
        self,
        router: Router | None = None,
        *,
        connect_timeout_ms: int = 3000,
        frame_bytes_max: int = FRAME_BYTES_MAX_DEFAULT,
        on_connection_closed: Callable[[str, Connection], None] | None = None,
        rpc_hooks: Sequence[RpcHook] = (),
    ) -> None:
        self.rpc_hooks = list(rpc_hooks)
        self.router = router if router is not None else Router()
        self._connect_timeout_ms = connect_timeout_ms
        self._frame_bytes_max = frame_bytes_max
        self._on_connection_closed = on_connection_closed
        self._connections: dict[str, Connection] = {}
        self._connecting: dict[str, asyncio.Future[Connection]] = {}
        self._closed = False

    @property
    def addresses(self) -> list[str]:
        """Addresses with an open connection."""
        return [address for address, connection in self._connections.items() if not connection.closed]

    async def connection(self, address: str, timeout_ms: int | None = None) -> Connection:
        """The open connection to `address`, connecting first if needed (concurrent callers share one try)."""
        connection = self._connections.get(address)
        if connection is not None and not connection.closed:
            return connection
        if self._closed:
            raise ConnectionClosedError("remoting client is closed")
        attempt = self._connecting.get(address)
        if attempt is None:
            attempt = asyncio.get_running_loop().create_future()
            self._connecting[address] = attempt
            try:
                connection = await self._connect(address, timeout_ms)
            except BaseException as error:
                del self._connecting[address]
                if not attempt.done():
                    attempt.set_exception(
                        error if isinstance(error, Exception) else ConnectionClosedError("cancelled")
                    )
                    attempt.exception()  # retrieved: other waiters re-raise it themselves
                raise
            del self._connecting[address]
            attempt.set_result(connection)
            return connection
        return await asyncio.shield(attempt)

    async def _connect(self, address: str, timeout_ms: int | None) -> Connection:
        host, port = parse_address(address)
        loop = asyncio.get_running_loop()
        budget_ms = (
            self._connect_timeout_ms if timeout_ms is None else min(timeout_ms, self._connect_timeout_ms)
        )
        try:
            async with asyncio.timeout(budget_ms / 1000):
                _, connection = await loop.create_connection(
                    lambda: Connection(self.router, frame_bytes_max=self._frame_bytes_max), host, port
                )
        except TimeoutError:
            raise RequestTimeoutError(f"connect to {address} timed out after {budget_ms} ms") from None
        except OSError as error:
            raise RemotingError(f"cannot connect to {address}: {error}") from error
        if self._closed:
            connection.close("remoting client is closed")
            raise ConnectionClosedError("remoting client is closed")
        self._connections[address] = connection
        connection.add_close_callback(lambda closed: self._forget(address, closed))
        log.debug("connected to %s", address)
        return connection

    def _forget(self, address: str, connection: Connection) -> None:
        if self._connections.get(address) is connection:
            del self._connections[address]
        if self._on_connection_closed is not None:
            self._on_connection_closed(address, connection)

    async def invoke(self, address: str, request: RemotingCommand, timeout_ms: int) -> RemotingCommand:
        """Send `request` to `address` and return the response; connecting counts against `timeout_ms`."""
        connection = self._connections.get(address)
        if connection is None or connection.closed:
            loop = asyncio.get_running_loop()
            started = loop.time()
            connection = await self.connection(address, timeout_ms)
            timeout_ms = max(1, timeout_ms - int((loop.time() - started) * 1000))
        if not self.rpc_hooks:
            return await connection.invoke(request, timeout_ms)
        for hook in self.rpc_hooks:
            hook.before_request(address, request)
        response = await connection.invoke(request, timeout_ms)
        for hook in self.rpc_hooks:
            hook.after_response(address, request, response)
        return response

    async def invoke_oneway(
        self, address: str, request: RemotingCommand, timeout_ms: int | None = None
    ) -> None:
        """Send `request` oneway to `address` (connecting first if needed)."""
        connection = self._connections.get(address)
        if connection is None or connection.closed:
            connection = await self.connection(address, timeout_ms)
        for hook in self.rpc_hooks:
            hook.before_request(address, request)
        await connection.invoke_oneway(request)

    def close_connection(self, address: str, reason: str = "closed by client") -> None:
        connection = self._connections.pop(address, None)
        if connection is not None:
            connection.close(reason)

    async def close(self) -> None:
        """Close every connection; their pending calls fail with ConnectionClosedError."""
        self._closed = True
        connections = list(self._connections.values())
        self._connections.clear()
        for connection in connections:
            connection.close("remoting client closed")
        for connection in connections:
            await connection.wait_closed()

    async def __aenter__(self) -> RemotingClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()
