"""NameServer: wires the route table, the KV config, the handlers, the remoting server and the expiry
scan, and starts and stops them in order.

Java: NamesrvController + BrokerHousekeepingService. Start: load the KV config, listen, then scan for
silent brokers every `scanNotActiveBrokerInterval`. A broker is also dropped as soon as the connection
it registered over closes. Stop: the scan, then the listener (closing every connection). Name servers
never talk to each other; brokers register with all of them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from pocketmq.common.clock import SYSTEM_CLOCK, Clock
from pocketmq.common.properties import format_properties
from pocketmq.namesrv.config import NamesrvConfig
from pocketmq.namesrv.handlers import NamesrvContext, NamesrvHandlers
from pocketmq.namesrv.kv_config import KVConfig, load_kv_config, write_file_atomically
from pocketmq.namesrv.route_table import RouteTable
from pocketmq.remoting import Connection, RemotingServer, Router

__all__ = ["NameServer"]

log = logging.getLogger(__name__)


class NameServer:
    """One name server. `await start()`, then `address`; `await stop()` to shut down."""

    def __init__(self, config: NamesrvConfig, *, clock: Clock = SYSTEM_CLOCK) -> None:
        self._clock = clock
        self.route_table = RouteTable(broker_expired_ms=config.broker_channel_expired_ms)
        self._context = NamesrvContext(
            route_table=self.route_table,
            kv_config=KVConfig(),
            config=config,
            clock=clock,
            persist_kv_config=self._persist_kv_config,
            persist_config=self._persist_config,
        )
        self._router = Router(NamesrvHandlers(self._context).routes())
        self._server: RemotingServer | None = None
        self._scan_task: asyncio.Task[None] | None = None
        self._persist_lock = asyncio.Lock()

    @property
    def config(self) -> NamesrvConfig:
        return self._context.config

    @property
    def kv_config(self) -> KVConfig:
        return self._context.kv_config

    @property
    def port(self) -> int:
        assert self._server is not None, "start() the name server first"
        return self._server.port

    @property
    def address(self) -> str:
        """host:port to give brokers and clients (127.0.0.1 when bound to every interface)."""
        host = self.config.bind_address
        return f"{'127.0.0.1' if host in ('0.0.0.0', '::', '') else host}:{self.port}"

    async def start(self) -> None:
        config = self.config
        self._context.kv_config = await asyncio.to_thread(load_kv_config, config.kv_config_path)
        server = RemotingServer(
            config.bind_address,
            config.listen_port,
            self._router,
            frame_bytes_max=config.frame_bytes_max,
            on_connection_closed=self._on_connection_closed,
        )
        await server.start()
        self._server = server
        self._scan_task = asyncio.create_task(self._scan_forever(), name="namesrv-scan-not-active-broker")
        log.info("name server listening on %s", server.address)

    async def stop(self) -> None:
        task, self._scan_task = self._scan_task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        server, self._server = self._server, None
        if server is not None:
            await server.stop()
        async with self._persist_lock:  # let a KV write in flight finish
            pass

    async def __aenter__(self) -> NameServer:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    # ------------------------------------------------------------------------------------------

    def _on_connection_closed(self, connection: Connection) -> None:
        removed = self.route_table.on_connection_closed(connection, connection.peer_address)
        if removed is not None:
            log.info("broker %s removed: its connection %s closed", removed, connection.peer_address)

    def scan_once(self) -> int:
        """Remove brokers silent for longer than brokerChannelExpiredTime and close their connections."""
        expired = self.route_table.scan_inactive(self._clock.now_ms())
        for broker in expired:
            log.warning(
                "broker %s expired: no registration for %d ms",
                broker.broker_addr,
                self._clock.now_ms() - broker.last_update_ms,
            )
            if isinstance(broker.connection, Connection) and not broker.connection.closed:
                broker.connection.close("broker registration expired")
        return len(expired)

    async def _scan_forever(self) -> None:
        interval_s = self.config.scan_not_active_broker_interval_ms / 1000
        while True:
            await asyncio.sleep(interval_s)
            try:
                self.scan_once()
            except Exception:  # a bug in the scan must not end expiry for good
                log.exception("scanning for expired brokers failed")

    async def _persist_kv_config(self) -> None:
        async with self._persist_lock:
            content = self._context.kv_config.render()
            await asyncio.to_thread(write_file_atomically, self.config.kv_config_path, content)

    async def _persist_config(self) -> None:
        async with self._persist_lock:
            text = format_properties(self.config.to_java_properties()).encode("utf-8")
            await asyncio.to_thread(write_file_atomically, self.config.config_store_path, text)
