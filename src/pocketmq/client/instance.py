"""ClientInstance: what the producers and consumers of one client id share (Java MQClientInstance).

One instance per client id (`ip@instance_name`) and event loop: the RemotingClient and its typed
ClientAPI, the topic route and broker address tables, and four background tasks, each with a name
and a stop path:

- `client-routes`: refresh the route of every topic in use from the name servers (30 s);
- `client-heartbeat`: HEART_BEAT with every producer and consumer group to every broker (30 s);
- `client-persist-offsets`: commit consumer offsets (5 s);
- `client-rebalance`: rebalance every consumer (20 s, and at once on NOTIFY_CONSUMER_IDS_CHANGED).

Its router answers the requests brokers send on the client's connections:
NOTIFY_CONSUMER_IDS_CHANGED, GET_CONSUMER_RUNNING_INFO, CONSUME_MESSAGE_DIRECTLY,
RESET_CONSUMER_CLIENT_OFFSET and CHECK_TRANSACTION_STATE.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Final, Protocol

from pocketmq.client.api import ClientAPI
from pocketmq.client.config import ClientConfig, local_ip
from pocketmq.client.producer.queue_selection import TopicPublishInfo
from pocketmq.client.routing import (
    MASTER_ID,
    adapt_default_route,
    broker_addresses,
    publish_info_from_route,
    route_changed,
    subscribe_queues_from_route,
)
from pocketmq.common.errors import ConfigError, PocketMQError
from pocketmq.common.message import MessageConst, MessageExt, MessageQueue
from pocketmq.common.topic import SystemTopics
from pocketmq.protocol import fastjson
from pocketmq.protocol.bodies.consumer import ConsumerRunningInfo, ResetOffsetBody
from pocketmq.protocol.bodies.heartbeat import ConsumerData, HeartbeatData, ProducerData
from pocketmq.protocol.bodies.route import TopicRouteData
from pocketmq.protocol.codes import RequestCode, ResponseCode
from pocketmq.protocol.command import RemotingCommand, make_response
from pocketmq.protocol.headers.consumer import (
    ConsumeMessageDirectlyResultRequestHeader,
    GetConsumerRunningInfoRequestHeader,
    ResetOffsetRequestHeader,
)
from pocketmq.protocol.headers.transaction import CheckTransactionStateRequestHeader
from pocketmq.remoting.client import RemotingClient
from pocketmq.remoting.connection import Connection
from pocketmq.remoting.router import Router
from pocketmq.store.commit_log.record import decode_records

__all__ = [
    "ClientConfig",
    "ClientInstance",
    "ConsumerInner",
    "ProducerInner",
    "get_client_instance",
    "local_ip",
    "CLIENT_INNER_PRODUCER_GROUP",
]

log = logging.getLogger(__name__)

#: Java MixAll.CLIENT_INNER_PRODUCER_GROUP: every Java client heartbeats it.
CLIENT_INNER_PRODUCER_GROUP: Final = "CLIENT_INNER_PRODUCER"


class ConsumerInner(Protocol):
    """What the instance needs of a consumer (Java MQConsumerInner)."""

    @property
    def group(self) -> str: ...

    def heartbeat_data(self) -> ConsumerData: ...

    def subscribed_topics(self) -> set[str]: ...

    def update_topic_subscribe_info(self, topic: str, queues: set[MessageQueue]) -> None: ...

    async def do_rebalance(self) -> None: ...

    async def persist_consumer_offset(self) -> None: ...

    def running_info(self) -> ConsumerRunningInfo: ...

    async def consume_message_directly(self, message: MessageExt, broker_name: str | None) -> dict[str, Any]:
        """ConsumeMessageDirectlyResult as JSON: autoCommit, consumeResult, order, remark, spentTimeMills."""
        ...

    async def reset_offset(self, topic: str, offsets: dict[MessageQueue, int]) -> None: ...


class ProducerInner(Protocol):
    """What the instance needs of a producer (Java MQProducerInner)."""

    @property
    def group(self) -> str: ...

    def published_topics(self) -> set[str]: ...

    def update_topic_publish_info(self, topic: str, info: TopicPublishInfo) -> None: ...

    def check_transaction_state(self, broker_addr: str, message: MessageExt, header: dict[str, Any]) -> None:
        """`header`: the request's extFields (CheckTransactionStateRequestHeader)."""
        ...


_instances: dict[tuple[int, str], ClientInstance] = {}


def get_client_instance(config: ClientConfig) -> ClientInstance:
    """The instance of `config`'s client id on the running loop, created on first use.

    Java: MQClientManager#getOrCreateMQClientInstance."""
    loop = asyncio.get_running_loop()
    client_id = config.client_id()
    key = (id(loop), client_id)
    instance = _instances.get(key)
    if instance is None or instance.closed or instance.loop is not loop:
        instance = ClientInstance(client_id, config)
        _instances[key] = instance
    return instance


@dataclass
class _Tables:
    routes: dict[str, TopicRouteData] = field(default_factory=dict)
    broker_addrs: dict[str, dict[int, str]] = field(default_factory=dict)
    broker_versions: dict[str, int] = field(default_factory=dict)


class ClientInstance:
    """The shared networked core of one client id. Start it through a producer or consumer."""

    def __init__(self, client_id: str, config: ClientConfig) -> None:
        self.client_id = client_id
        self.config = config
        self.rng = random.Random()
        self.router = Router(
            {
                RequestCode.NOTIFY_CONSUMER_IDS_CHANGED: self._on_notify_consumer_ids_changed,
                RequestCode.GET_CONSUMER_RUNNING_INFO: self._on_get_consumer_running_info,
                RequestCode.CONSUME_MESSAGE_DIRECTLY: self._on_consume_message_directly,
                RequestCode.RESET_CONSUMER_CLIENT_OFFSET: self._on_reset_consumer_client_offset,
                RequestCode.CHECK_TRANSACTION_STATE: self._on_check_transaction_state,
            }
        )
        self.remoting = RemotingClient(self.router, connect_timeout_ms=config.client_api_timeout_ms)
        self.api = ClientAPI(
            self.remoting,
            default_timeout_ms=config.client_api_timeout_ms,
            serialize_type=config.serialize_type,
            credentials=config.credentials,
        )
        self.tables = _Tables()
        self.producers: dict[str, ProducerInner] = {}
        self.consumers: dict[str, ConsumerInner] = {}
        self.closed = False
        self.loop = asyncio.get_running_loop()
        self._started = False
        self._tasks: list[asyncio.Task[None]] = []
        self._rebalance_wakeup = asyncio.Event()
        self._route_lock = asyncio.Lock()
        self._heartbeat_lock = asyncio.Lock()
        self._namesrv_index = self.rng.randrange(len(config.namesrv_addrs))

    # -- lifecycle ------------------------------------------------------------------------------

    def register_producer(self, producer: ProducerInner) -> None:
        if producer.group in self.producers:
            raise ConfigError(
                f"producer group {producer.group!r} is already started in client {self.client_id}; "
                "use another group or instance_name"
            )
        self.producers[producer.group] = producer

    def register_consumer(self, consumer: ConsumerInner) -> None:
        if consumer.group in self.consumers:
            raise ConfigError(
                f"consumer group {consumer.group!r} is already started in client {self.client_id}; "
                "use another group or instance_name"
            )
        self.consumers[consumer.group] = consumer

    async def start(self) -> None:
        if self._started:
            return
        self._started = True
        config = self.config
        self._tasks = [
            asyncio.create_task(
                self._every(config.poll_name_server_interval_ms, self.update_all_routes, 10),
                name=f"client-routes-{self.client_id}",
            ),
            asyncio.create_task(
                self._every(config.heartbeat_broker_interval_ms, self.send_heartbeat_to_all_brokers, 1000),
                name=f"client-heartbeat-{self.client_id}",
            ),
            asyncio.create_task(
                self._every(
                    config.persist_consumer_offset_interval_ms,
                    self.persist_all_consumer_offsets,
                    config.persist_consumer_offset_interval_ms,
                ),
                name=f"client-persist-offsets-{self.client_id}",
            ),
            asyncio.create_task(self._rebalance_loop(), name=f"client-rebalance-{self.client_id}"),
        ]

    async def unregister_producer(self, group: str) -> None:
        self.producers.pop(group, None)
        await self._unregister_client(producer_group=group, consumer_group=None)
        await self._shutdown_if_unused()

    async def unregister_consumer(self, group: str) -> None:
        self.consumers.pop(group, None)
        await self._unregister_client(producer_group=None, consumer_group=group)
        await self._shutdown_if_unused()

    async def _shutdown_if_unused(self) -> None:
        if not self.producers and not self.consumers:
            await self.shutdown()

    async def shutdown(self) -> None:
        if self.closed:
            return
        self.closed = True
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        await self.remoting.close()
        for key, instance in list(_instances.items()):
            if instance is self:
                del _instances[key]

    async def _unregister_client(self, *, producer_group: str | None, consumer_group: str | None) -> None:
        calls = [
            self.api.unregister_client(
                addr, self.client_id, producer_group=producer_group, consumer_group=consumer_group,
                timeout_ms=self.config.client_api_timeout_ms,
            )
            for addrs in self.tables.broker_addrs.values()
            for addr in addrs.values()
        ]  # fmt: skip
        for result in await asyncio.gather(*calls, return_exceptions=True):
            if isinstance(result, BaseException):
                log.info("UNREGISTER_CLIENT failed: %s", result)

    async def _every(
        self, interval_ms: int, action: Callable[[], Awaitable[None]], initial_delay_ms: int
    ) -> None:
        await asyncio.sleep(initial_delay_ms / 1000)
        while True:
            try:
                await action()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception(
                    "client %s: periodic %s failed", self.client_id, getattr(action, "__name__", action)
                )
            await asyncio.sleep(interval_ms / 1000)

    # -- routes ---------------------------------------------------------------------------------

    async def _get_route(self, topic: str) -> TopicRouteData | None:
        """Ask the name servers in turn, starting with the last one that answered."""
        addrs = self.config.namesrv_addrs
        last_error: Exception | None = None
        for attempt in range(len(addrs)):
            index = (self._namesrv_index + attempt) % len(addrs)
            try:
                route = await self.api.get_topic_route(addrs[index], topic, self.config.client_api_timeout_ms)
            except PocketMQError as error:
                last_error = error
                continue
            self._namesrv_index = index
            return route
        assert last_error is not None
        raise last_error

    async def update_topic_route(self, topic: str, *, default_topic_queue_nums: int | None = None) -> bool:
        """Refresh `topic`'s route. With `default_topic_queue_nums` (a producer's first send to a topic
        the name servers do not know), take TBW102's route, adapted. False when no route was found."""
        async with self._route_lock:
            try:
                if default_topic_queue_nums is not None:
                    route = await self._get_route(SystemTopics.AUTO_CREATE_TOPIC_KEY)
                    if route is not None:
                        route = adapt_default_route(route, default_topic_queue_nums)
                else:
                    route = await self._get_route(topic)
            except PocketMQError as error:
                log.warning("cannot get the route of %s: %s", topic, error)
                return False
            if route is None:
                return False
            old = self.tables.routes.get(topic)
            changed = route_changed(old, route)
            if changed:
                self.tables.broker_addrs.update(broker_addresses(route))
                self.tables.routes[topic] = route
                if old is not None:
                    log.info("route of %s changed", topic)
            # Every producer and consumer of the topic gets the route (a new one may lack it).
            for producer in self.producers.values():
                if topic in producer.published_topics():
                    producer.update_topic_publish_info(topic, publish_info_from_route(topic, route, self.rng))
            queues = subscribe_queues_from_route(topic, route)
            for consumer in self.consumers.values():
                if topic in consumer.subscribed_topics():
                    consumer.update_topic_subscribe_info(topic, queues)
            return True

    def subscribe_queues(self, topic: str) -> set[MessageQueue] | None:
        route = self.tables.routes.get(topic)
        return None if route is None else subscribe_queues_from_route(topic, route)

    async def update_all_routes(self) -> None:
        topics: set[str] = set()
        for producer in self.producers.values():
            topics |= producer.published_topics()
        for consumer in self.consumers.values():
            topics |= consumer.subscribed_topics()
        for topic in sorted(topics):
            await self.update_topic_route(topic)
        self.clean_offline_brokers(topics)

    def clean_offline_brokers(self, topics_in_use: set[str]) -> None:
        """Forget routes of topics no longer used and brokers no route names (Java cleanOfflineBroker)."""
        for topic in list(self.tables.routes):
            if topic not in topics_in_use:
                del self.tables.routes[topic]
        listed = {
            (broker.broker_name, addr)
            for route in self.tables.routes.values()
            for broker in route.broker_datas
            for addr in broker.broker_addrs.values()
        }
        for name, addrs in list(self.tables.broker_addrs.items()):
            for broker_id, addr in list(addrs.items()):
                if (name, addr) not in listed:
                    del addrs[broker_id]
                    log.info("broker %s (%s, id %d) is offline: forgotten", name, addr, broker_id)
            if not addrs:
                del self.tables.broker_addrs[name]

    def find_broker_address_in_publish(self, broker_name: str) -> str | None:
        """The master's address (Java findBrokerAddressInPublish)."""
        addrs = self.tables.broker_addrs.get(broker_name)
        return None if not addrs else addrs.get(MASTER_ID)

    def find_broker_address_in_subscribe(self, broker_name: str, broker_id: int = MASTER_ID) -> str | None:
        """The address of `broker_id`, else any address of the broker (Java findBrokerAddressInSubscribe)."""
        addrs = self.tables.broker_addrs.get(broker_name)
        if not addrs:
            return None
        return addrs.get(broker_id) or addrs.get(MASTER_ID) or next(iter(addrs.values()))

    def find_broker_address_by_topic(self, topic: str) -> str | None:
        """Any broker of the topic (Java findBrokerAddrByTopic: a random one)."""
        route = self.tables.routes.get(topic)
        if route is None or not route.broker_datas:
            return None
        broker = route.broker_datas[self.rng.randrange(len(route.broker_datas))]
        return broker.select_broker_addr()

    async def find_consumer_id_list(self, topic: str, group: str) -> list[str] | None:
        """GET_CONSUMER_LIST_BY_GROUP from a broker of the topic; None when none could answer."""
        addr = self.find_broker_address_by_topic(topic)
        if addr is None:
            await self.update_topic_route(topic)
            addr = self.find_broker_address_by_topic(topic)
            if addr is None:
                return None
        try:
            return await self.api.get_consumer_id_list(addr, group, self.config.client_api_timeout_ms)
        except PocketMQError as error:
            log.warning("cannot get the consumers of %s from %s: %s", group, addr, error)
            return None

    # -- heartbeat --------------------------------------------------------------------------------

    def heartbeat_data(self) -> HeartbeatData:
        producers = [ProducerData(group_name=CLIENT_INNER_PRODUCER_GROUP)]
        producers += [ProducerData(group_name=group) for group in self.producers]
        return HeartbeatData(
            client_id=self.client_id,
            producers=tuple(producers),
            consumers=tuple(consumer.heartbeat_data() for consumer in self.consumers.values()),
        )

    async def send_heartbeat_to_all_brokers(self) -> None:
        """HEART_BEAT to every broker (only to masters when there is no consumer, as Java)."""
        if not self.producers and not self.consumers:
            return
        async with self._heartbeat_lock:
            heartbeat = self.heartbeat_data()
            targets = [
                addr
                for addrs in list(self.tables.broker_addrs.values())
                for broker_id, addr in addrs.items()
                if self.consumers or broker_id == MASTER_ID
            ]
            results = await asyncio.gather(
                *(self.api.heartbeat(addr, heartbeat, self.config.client_api_timeout_ms) for addr in targets),
                return_exceptions=True,
            )
            for addr, result in zip(targets, results, strict=True):
                if isinstance(result, BaseException):
                    log.info("heartbeat to %s failed: %s", addr, result)
                else:
                    self.tables.broker_versions[addr] = result

    # -- consumers ------------------------------------------------------------------------------

    async def persist_all_consumer_offsets(self) -> None:
        for consumer in list(self.consumers.values()):
            await consumer.persist_consumer_offset()

    def rebalance_immediately(self) -> None:
        self._rebalance_wakeup.set()

    async def do_rebalance(self) -> None:
        for consumer in list(self.consumers.values()):
            try:
                await consumer.do_rebalance()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("rebalance of %s failed", consumer.group)

    async def _rebalance_loop(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.config.rebalance_interval_ms / 1000):
                    await self._rebalance_wakeup.wait()
            self._rebalance_wakeup.clear()
            await self.do_rebalance()

    # -- requests from brokers ------------------------------------------------------------------

    def _on_notify_consumer_ids_changed(self, request: RemotingCommand, connection: Connection) -> None:
        log.info(
            "consumer ids of %s changed (told by %s)",
            request.ext_str("consumerGroup"),
            connection.peer_address,
        )
        self.rebalance_immediately()

    def _on_get_consumer_running_info(
        self, request: RemotingCommand, connection: Connection
    ) -> RemotingCommand:
        header = GetConsumerRunningInfoRequestHeader.from_ext_fields(request.ext_fields)
        consumer = self.consumers.get(header.consumer_group)
        if consumer is None:
            return make_response(
                request,
                ResponseCode.SYSTEM_ERROR,
                f"The Consumer Group <{header.consumer_group}> not exist in this consumer",
            )
        return make_response(request, ResponseCode.SUCCESS, body=consumer.running_info().encode())

    async def _on_consume_message_directly(
        self, request: RemotingCommand, connection: Connection
    ) -> RemotingCommand:
        header = ConsumeMessageDirectlyResultRequestHeader.from_ext_fields(request.ext_fields)
        consumer = self.consumers.get(header.consumer_group)
        messages = decode_records(request.body) if request.body else []
        if consumer is None or not messages:
            return make_response(
                request,
                ResponseCode.SYSTEM_ERROR,
                f"The Consumer Group <{header.consumer_group}> not exist in this consumer, or no message",
            )
        result = await consumer.consume_message_directly(messages[0], header.broker_name)
        return make_response(request, ResponseCode.SUCCESS, body=fastjson.dumps(result))

    async def _on_reset_consumer_client_offset(
        self, request: RemotingCommand, connection: Connection
    ) -> None:
        header = ResetOffsetRequestHeader.from_ext_fields(request.ext_fields)
        consumer = self.consumers.get(header.group)
        if consumer is None or not request.body:
            return None
        offsets = dict(ResetOffsetBody.decode(request.body).offsets)
        log.info("reset offsets of %s on %s: %s", header.group, header.topic, offsets)
        await consumer.reset_offset(header.topic, offsets)
        return None

    def _on_check_transaction_state(self, request: RemotingCommand, connection: Connection) -> None:
        CheckTransactionStateRequestHeader.from_ext_fields(request.ext_fields)  # refuse a malformed one
        messages = decode_records(request.body) if request.body else []
        if not messages:
            return None
        message = messages[0]
        group = message.properties.get(MessageConst.PRODUCER_GROUP, "")
        producer = self.producers.get(group)
        if producer is None:
            log.warning("CHECK_TRANSACTION_STATE for producer group %r, not started here", group)
            return None
        producer.check_transaction_state(connection.peer_address, message, dict(request.ext_fields))
        return None
