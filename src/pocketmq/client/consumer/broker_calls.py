"""ConsumerBrokerCalls: what every consumer asks the broker of a queue, and its offset store.

Java: the broker address lookup of RemoteBrokerOffsetStore and PullAPIWrapper (findBrokerAddressInSubscribe,
the route refreshed once when the broker is unknown), the offset calls of MQAdminImpl (maxOffset,
minOffset, searchOffset) and of RemoteBrokerOffsetStore (QUERY_CONSUMER_OFFSET, UPDATE_CONSUMER_OFFSET),
and the choice of offset store (the broker for clustering, a local file for broadcasting). A mixin of
PushConsumer and PullConsumerBase: they supply `instance`, `_group` and `client_config`.
"""

from __future__ import annotations

import logging
from pathlib import Path

from pocketmq.client.consumer.consume_from import ConsumeFromWhere, compute_pull_from_where
from pocketmq.client.consumer.offset_store import LocalFileOffsetStore, OffsetStore, RemoteBrokerOffsetStore
from pocketmq.client.consumer.rebalance import MessageModel
from pocketmq.client.instance import ClientConfig, ClientInstance
from pocketmq.common.errors import ClientError, PocketMQError
from pocketmq.common.message import MessageQueue

__all__ = ["ConsumerBrokerCalls"]

log = logging.getLogger(__name__)


class ConsumerBrokerCalls:
    """Broker calls for a queue; the class using it supplies `instance`, `_group` and `client_config`."""

    _group: str
    client_config: ClientConfig

    @property
    def instance(self) -> ClientInstance:
        raise NotImplementedError

    def _new_offset_store(
        self, instance: ClientInstance, message_model: MessageModel, store_dir: Path | None
    ) -> OffsetStore:
        if message_model is MessageModel.CLUSTERING:
            return RemoteBrokerOffsetStore(
                consumer_group=self._group, query_offset=self._query_offset, commit_offset=self._commit_offset
            )
        return LocalFileOffsetStore(
            client_id=instance.client_id, consumer_group=self._group, store_dir=store_dir
        )

    async def broker_addr(self, queue: MessageQueue) -> str:
        """The address of the queue's broker, the route refreshed once if it is unknown."""
        instance = self.instance
        addr = instance.find_broker_address_in_subscribe(queue.broker_name)
        if addr is None:
            await instance.update_topic_route(queue.topic)
            addr = instance.find_broker_address_in_subscribe(queue.broker_name)
            if addr is None:
                raise ClientError(14, None, f"The broker[{queue.broker_name}] not exist")
        return addr

    async def _query_offset(self, queue: MessageQueue) -> int:
        addr = await self.broker_addr(queue)
        timeout = self.client_config.client_api_timeout_ms
        return await self.instance.api.query_consumer_offset(addr, self._group, queue, timeout)

    async def _commit_offset(self, queue: MessageQueue, offset: int, oneway: bool) -> None:
        addr = await self.broker_addr(queue)
        await self.instance.api.update_consumer_offset(
            addr,
            self._group,
            queue,
            offset,
            oneway=oneway,
            timeout_ms=self.client_config.client_api_timeout_ms,
        )

    async def max_offset(self, queue: MessageQueue) -> int:
        addr = await self.broker_addr(queue)
        return await self.instance.api.get_max_offset(addr, queue, self.client_config.client_api_timeout_ms)

    async def min_offset(self, queue: MessageQueue) -> int:
        addr = await self.broker_addr(queue)
        return await self.instance.api.get_min_offset(addr, queue, self.client_config.client_api_timeout_ms)

    async def search_offset(self, queue: MessageQueue, timestamp_ms: int) -> int:
        addr = await self.broker_addr(queue)
        timeout = self.client_config.client_api_timeout_ms
        return await self.instance.api.search_offset(addr, queue, timestamp_ms, timeout)

    async def start_offset(
        self,
        queue: MessageQueue,
        offset_store: OffsetStore,
        consume_from_where: ConsumeFromWhere,
        consume_timestamp_ms: int,
        *,
        lite_pull: bool = False,
    ) -> int:
        """Where a newly assigned queue starts (Java computePullFromWhere); -1 when the broker cannot
        say now (rebalance tries again)."""
        try:
            return await compute_pull_from_where(
                consume_from_where=consume_from_where,
                queue=queue,
                offset_store=offset_store,
                max_offset=self.max_offset,
                search_offset=self.search_offset,
                consume_timestamp_ms=consume_timestamp_ms,
                lite_pull=lite_pull,
            )
        except (PocketMQError, OSError) as error:
            log.warning("no start offset for %s: %s", queue, error)
            return -1
