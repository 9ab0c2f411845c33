"""NamesrvRegistration: REGISTER_BROKER to every name server, periodically and on demand.

Java: BrokerController#registerBrokerAll and BrokerOuterAPI#registerBrokerAll. The broker registers
at start, every `registerNameServerPeriod` (30 s), and at once after its topic table changes (oneway
after a topic it created itself, two-way after an admin change, as the 4.9.8 frames show). Name
servers never talk to each other, so each one gets every registration. At stop it sends
UNREGISTER_BROKER to each (best effort). The name servers also drop the broker when its connection
closes, which is how a killed broker leaves the routes at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from pocketmq.broker.config import BrokerConfig
from pocketmq.common.errors import PocketMQError
from pocketmq.protocol.bodies.route import RegisterBrokerBody
from pocketmq.protocol.codes import ResponseCode
from pocketmq.protocol.headers.namesrv import make_register_broker_request, make_unregister_broker_request
from pocketmq.remoting import RemotingClient

__all__ = ["NamesrvRegistration"]

log = logging.getLogger(__name__)

#: Java clamps registerNameServerPeriod to 10..60 s.
_PERIOD_MIN_MS = 10_000
_PERIOD_MAX_MS = 60_000


class NamesrvRegistration:
    def __init__(
        self,
        config: BrokerConfig,
        client: RemotingClient,
        body: Callable[[], RegisterBrokerBody],
        *,
        broker_address: str,
        ha_server_address: str,
        period_ms: int | None = None,
    ) -> None:
        self.config = config
        self._client = client
        self._body = body
        self._broker_address = broker_address
        self._ha_server_address = ha_server_address
        configured = config.register_name_server_period_ms
        self._period_ms = (
            period_ms if period_ms is not None else min(max(configured, _PERIOD_MIN_MS), _PERIOD_MAX_MS)
        )
        self._wakeup = asyncio.Event()
        self._oneway_next = False
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        #: Successful registrations per name server address (for tests and runtime info).
        self.registered_count: dict[str, int] = {}

    @property
    def addresses(self) -> tuple[str, ...]:
        return self.config.namesrv_addresses

    async def start(self) -> None:
        """Register once (waiting for the answers), then keep registering in the background."""
        await self.register_all(oneway=False)
        self._task = asyncio.create_task(self._run(), name="broker-register-namesrv")

    def trigger(self, oneway: bool = False) -> None:
        """Register with every name server soon (coalesced with other triggers)."""
        self._oneway_next = self._oneway_next or oneway
        self._wakeup.set()

    async def stop(self) -> None:
        self._stopping = True
        self._wakeup.set()
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.unregister_all()

    async def _run(self) -> None:
        # asyncio.timeout, not wait_for: on Python 3.11 wait_for can swallow a cancellation that
        # races with the event being set, and the loop would then outlive stop().
        while not self._stopping:
            try:
                async with asyncio.timeout(self._period_ms / 1000):
                    await self._wakeup.wait()
            except TimeoutError:
                pass
            if self._stopping:
                return
            self._wakeup.clear()
            oneway, self._oneway_next = self._oneway_next, False
            try:
                await self.register_all(oneway=oneway)
            except Exception:  # one bad round must not end registration for good
                log.exception("registering with the name servers failed")

    async def register_all(self, *, oneway: bool = False) -> None:
        addresses = self.addresses
        if not addresses:
            return
        body = self._body()
        await asyncio.gather(*(self._register(address, body, oneway) for address in addresses))

    async def _register(self, address: str, body: RegisterBrokerBody, oneway: bool) -> None:
        config = self.config
        request = make_register_broker_request(
            cluster_name=config.broker_cluster_name,
            broker_addr=self._broker_address,
            broker_name=config.broker_name,
            broker_id=config.broker_id,
            ha_server_addr=self._ha_server_address,
            body=body,
            compressed=config.compressed_register,
            oneway=oneway,
        )
        try:
            if oneway:
                await self._client.invoke_oneway(address, request)
            else:
                response = await self._client.invoke(address, request, config.register_broker_timeout_ms)
                if response.code != ResponseCode.SUCCESS:
                    log.warning(
                        "name server %s refused the registration: code %d %s",
                        address,
                        response.code,
                        response.remark,
                    )
                    return
        except (PocketMQError, OSError) as error:
            log.warning("registering with name server %s failed: %s", address, error)
            return
        self.registered_count[address] = self.registered_count.get(address, 0) + 1

    async def unregister_all(self) -> None:
        config = self.config

        async def one(address: str) -> None:
            request = make_unregister_broker_request(
                cluster_name=config.broker_cluster_name,
                broker_addr=self._broker_address,
                broker_name=config.broker_name,
                broker_id=config.broker_id,
            )
            try:
                await self._client.invoke(address, request, 3000)
            except (PocketMQError, OSError) as error:
                log.info("unregistering from name server %s failed: %s", address, error)

        await asyncio.gather(*(one(address) for address in self.addresses))
