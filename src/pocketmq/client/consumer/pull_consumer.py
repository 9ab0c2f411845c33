"""Pull consumers: `PullConsumer`, the low-level one that pulls a queue at an offset on demand (Java
DefaultMQPullConsumer), and `LitePullConsumer`, which pulls assigned or rebalanced queues in the
background and hands out batches from `poll()`, with `seek` and `commit` (Java DefaultLitePullConsumer).

Both commit offsets to the broker (clustering) or a local file (broadcasting) through the shared
offset stores, and apply the client's exact tag check after the broker's hash filter.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from pocketmq.client.api import PullResult, PullStatus, decode_pulled_messages
from pocketmq.client.consumer.allocation import AllocateStrategy, Averagely
from pocketmq.client.consumer.consume_from import (
    ConsumeFromWhere,
    compute_pull_from_where,
    default_consume_timestamp,
    parse_consume_timestamp,
)
from pocketmq.client.consumer.offset_store import (
    LocalFileOffsetStore,
    OffsetStore,
    ReadOffsetType,
    RemoteBrokerOffsetStore,
)
from pocketmq.client.consumer.process_queue import PULL_DELAY_WHEN_EXCEPTION_MS, ProcessQueue
from pocketmq.client.consumer.rebalance import ConsumeType, MessageModel, Rebalancer, apply_plan
from pocketmq.client.instance import ClientConfig, ClientInstance, get_client_instance
from pocketmq.common.clock import SYSTEM_CLOCK, Clock
from pocketmq.common.errors import ClientError, ConfigError, PocketMQError
from pocketmq.common.filter_expression import SubscriptionData, build_subscription_data
from pocketmq.common.message import MessageConst, MessageExt, MessageQueue
from pocketmq.common.sysflag import PullSysFlag
from pocketmq.protocol.bodies.consumer import ConsumerRunningInfo
from pocketmq.protocol.bodies.heartbeat import ConsumerData
from pocketmq.protocol.headers.pull import PullMessageRequestHeader

__all__ = ["PullConsumer", "LitePullConsumer", "LitePullConsumerConfig", "filter_by_tags"]

log = logging.getLogger(__name__)

#: Java DefaultMQPullConsumer: consumerPullTimeoutMillis (10 s), brokerSuspendMaxTimeMillis (20 s).
CONSUMER_PULL_TIMEOUT_MS: Final = 10_000
BROKER_SUSPEND_MAX_TIME_MS: Final = 20_000


def filter_by_tags(messages: list[MessageExt], subscription: SubscriptionData) -> list[MessageExt]:
    """The client's exact tag check (Java PullAPIWrapper#processPullResult)."""
    if not subscription.tags_set or subscription.class_filter_mode:
        return messages
    tags = subscription.tags_set
    return [m for m in messages if m.properties.get(MessageConst.TAGS) in tags]


class _ConsumerBase:
    """What both pull consumers share: the instance, the offset store, broker calls."""

    consume_type = ConsumeType.CONSUME_ACTIVELY

    def __init__(
        self,
        group: str,
        *,
        namesrv_addr: str | None,
        client_config: ClientConfig | None,
        instance_name: str | None,
        message_model: MessageModel,
        offset_store_dir: Path | None,
        clock: Clock,
    ) -> None:
        if client_config is None:
            client_config = ClientConfig.of(namesrv_addr, instance_name)
        if not group:
            raise ConfigError("the consumer group is empty")
        self._group = group
        self.client_config = client_config
        self.message_model = message_model
        self.clock = clock
        self._offset_store_dir = offset_store_dir
        self._instance: ClientInstance | None = None
        self._offset_store: OffsetStore | None = None
        self._subscriptions: dict[str, SubscriptionData] = {}
        self._subscribe_infos: dict[str, set[MessageQueue]] = {}

    @property
    def group(self) -> str:
        return self._group

    @property
    def instance(self) -> ClientInstance:
        if self._instance is None:
            raise ClientError(-1, None, f"consumer {self._group} is not started: await start() first")
        return self._instance

    @property
    def offset_store(self) -> OffsetStore:
        assert self._offset_store is not None, "consumer not started"
        return self._offset_store

    async def _start_instance(self) -> ClientInstance:
        instance = get_client_instance(self.client_config)
        if self.message_model is MessageModel.CLUSTERING:
            self._offset_store = RemoteBrokerOffsetStore(
                consumer_group=self._group, query_offset=self._query_offset, commit_offset=self._commit_offset
            )
        else:
            self._offset_store = LocalFileOffsetStore(
                client_id=instance.client_id, consumer_group=self._group, store_dir=self._offset_store_dir
            )
        await self._offset_store.load()
        instance.register_consumer(self)
        self._instance = instance
        await instance.start()
        return instance

    # -- what the instance calls ----------------------------------------------------------------

    def subscribed_topics(self) -> set[str]:
        return set(self._subscriptions)

    def update_topic_subscribe_info(self, topic: str, queues: set[MessageQueue]) -> None:
        self._subscribe_infos[topic] = queues

    def heartbeat_data(self) -> ConsumerData:
        return ConsumerData(
            group_name=self._group,
            consume_type=self.consume_type,
            message_model=self.message_model,
            subscriptions=tuple(self._subscriptions.values()),
        )

    async def do_rebalance(self) -> None:
        return None

    async def persist_consumer_offset(self) -> None:
        return None

    def running_info(self) -> ConsumerRunningInfo:
        return ConsumerRunningInfo(
            properties={"PROP_CONSUME_TYPE": self.consume_type.value},
            subscriptions=tuple(self._subscriptions.values()),
        )

    async def consume_message_directly(self, message: MessageExt, broker_name: str | None) -> dict[str, Any]:
        return {"autoCommit": True, "consumeResult": "CR_LATER", "order": False, "remark": "pull consumer"}

    async def reset_offset(self, topic: str, offsets: dict[MessageQueue, int]) -> None:
        for queue, offset in offsets.items():
            self.offset_store.update_offset(queue, offset, increase_only=False)

    # -- broker calls ---------------------------------------------------------------------------

    async def broker_addr(self, queue: MessageQueue) -> str:
        instance = self.instance
        addr = instance.find_broker_address_in_subscribe(queue.broker_name)
        if addr is None:
            await instance.update_topic_route(queue.topic)
            addr = instance.find_broker_address_in_subscribe(queue.broker_name)
            if addr is None:
                raise ClientError(14, None, f"The broker[{queue.broker_name}] not exist")
        return addr

    async def _query_offset(self, queue: MessageQueue) -> int:
        api = self.instance.api
        timeout = self.client_config.client_api_timeout_ms
        return await api.query_consumer_offset(await self.broker_addr(queue), self._group, queue, timeout)

    async def _commit_offset(self, queue: MessageQueue, offset: int, oneway: bool) -> None:
        await self.instance.api.update_consumer_offset(
            await self.broker_addr(queue),
            self._group,
            queue,
            offset,
            oneway=oneway,
            timeout_ms=self.client_config.client_api_timeout_ms,
        )

    async def max_offset(self, queue: MessageQueue) -> int:
        timeout = self.client_config.client_api_timeout_ms
        return await self.instance.api.get_max_offset(await self.broker_addr(queue), queue, timeout)

    async def min_offset(self, queue: MessageQueue) -> int:
        timeout = self.client_config.client_api_timeout_ms
        return await self.instance.api.get_min_offset(await self.broker_addr(queue), queue, timeout)

    async def search_offset(self, queue: MessageQueue, timestamp_ms: int) -> int:
        timeout = self.client_config.client_api_timeout_ms
        return await self.instance.api.search_offset(
            await self.broker_addr(queue), queue, timestamp_ms, timeout
        )

    async def fetch_message_queues(self, topic: str) -> list[MessageQueue]:
        """The readable queues of `topic` (Java fetchSubscribeMessageQueues)."""
        instance = self.instance
        queues = instance.subscribe_queues(topic)
        if queues is None:
            self._subscriptions.setdefault(topic, build_subscription_data(topic, "*"))
            await instance.update_topic_route(topic)
            queues = instance.subscribe_queues(topic)
        if not queues:
            raise ClientError(17, None, f"Can not find Message Queue for this topic, {topic}")
        return sorted(queues)

    async def pull_raw(
        self,
        queue: MessageQueue,
        subscription: SubscriptionData,
        offset: int,
        max_count: int,
        *,
        sys_flag: int,
        suspend_ms: int,
        timeout_ms: int,
    ) -> PullResult:
        """One PULL_MESSAGE with the subscription in the request; messages decoded and tag-checked."""
        header = PullMessageRequestHeader(
            consumer_group=self._group,
            topic=queue.topic,
            queue_id=queue.queue_id,
            queue_offset=offset,
            max_message_count=max_count,
            sys_flag=sys_flag,
            commit_offset=0,
            suspend_timeout_ms=suspend_ms,
            subscription=subscription.sub_string,
            sub_version=0,
            expression_type=subscription.expression_type,
            broker_name=queue.broker_name,
        )
        result = await self.instance.api.pull(await self.broker_addr(queue), header, timeout_ms)
        if result.pull_status is PullStatus.FOUND and result.body:
            result.messages = filter_by_tags(decode_pulled_messages(result.body), subscription)
            min_offset, max_offset = str(result.min_offset), str(result.max_offset)
            for message in result.messages:
                message.properties[MessageConst.MIN_OFFSET] = min_offset
                message.properties[MessageConst.MAX_OFFSET] = max_offset
        result.body = None
        return result


class PullConsumer(_ConsumerBase):
    """Pull a queue at an offset when the application asks (Java DefaultMQPullConsumer)."""

    def __init__(
        self,
        group: str,
        *,
        namesrv_addr: str | None = None,
        client_config: ClientConfig | None = None,
        instance_name: str | None = None,
        message_model: MessageModel = MessageModel.CLUSTERING,
        offset_store_dir: Path | None = None,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        super().__init__(
            group,
            namesrv_addr=namesrv_addr,
            client_config=client_config,
            instance_name=instance_name,
            message_model=message_model,
            offset_store_dir=offset_store_dir,
            clock=clock,
        )

    async def start(self) -> None:
        if self._instance is None:
            await self._start_instance()

    async def shutdown(self) -> None:
        instance, self._instance = self._instance, None
        if instance is not None:
            await instance.unregister_consumer(self._group)

    async def __aenter__(self) -> PullConsumer:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.shutdown()

    async def pull(
        self,
        queue: MessageQueue,
        expression: str,
        offset: int,
        max_count: int = 32,
        *,
        timeout_ms: int | None = None,
    ) -> PullResult:
        """Pull up to `max_count` messages from `offset`; answers at once when there is none."""
        subscription = build_subscription_data(queue.topic, expression)
        flag = PullSysFlag.build(commit_offset=False, suspend=False, subscription=True)
        return await self.pull_raw(
            queue,
            subscription,
            offset,
            max_count,
            sys_flag=flag,
            suspend_ms=0,
            timeout_ms=timeout_ms or CONSUMER_PULL_TIMEOUT_MS,
        )

    async def pull_block_if_not_found(
        self,
        queue: MessageQueue,
        expression: str,
        offset: int,
        max_count: int = 32,
        *,
        suspend_ms: int = 20_000,
    ) -> PullResult:
        """Like `pull`, but the broker holds the request up to `suspend_ms` until a message arrives."""
        subscription = build_subscription_data(queue.topic, expression)
        flag = PullSysFlag.build(commit_offset=False, suspend=True, subscription=True)
        return await self.pull_raw(
            queue,
            subscription,
            offset,
            max_count,
            sys_flag=flag,
            suspend_ms=suspend_ms,
            timeout_ms=suspend_ms + 10_000,
        )

    async def update_consume_offset(self, queue: MessageQueue, offset: int) -> None:
        """Record and commit the group's offset of `queue` now."""
        self.offset_store.update_offset(queue, offset, increase_only=False)
        await self.offset_store.persist(queue)

    async def fetch_consume_offset(self, queue: MessageQueue, *, from_store: bool = True) -> int:
        """The group's offset of `queue` (-1: none)."""
        read_type = ReadOffsetType.READ_FROM_STORE if from_store else ReadOffsetType.MEMORY_FIRST_THEN_STORE
        return await self.offset_store.read_offset(queue, read_type)


@dataclass(frozen=True, slots=True, kw_only=True)
class LitePullConsumerConfig:
    """Java DefaultLitePullConsumer settings."""

    #: Java: messageModel (CLUSTERING).
    message_model: MessageModel = MessageModel.CLUSTERING
    #: Java: consumeFromWhere (CONSUME_FROM_LAST_OFFSET).
    consume_from_where: ConsumeFromWhere = ConsumeFromWhere.CONSUME_FROM_LAST_OFFSET
    #: yyyyMMddHHmmss for CONSUME_FROM_TIMESTAMP; None: half an hour ago. Java: consumeTimestamp.
    consume_timestamp: str | None = None
    #: Java: allocateMessageQueueStrategy (AllocateMessageQueueAveragely).
    allocate_strategy: AllocateStrategy = field(default_factory=Averagely)
    #: Messages per pull and at most per poll(). Java: pullBatchSize (10).
    pull_batch_size: int = 10
    #: Commit the offsets poll() handed out every `auto_commit_interval_ms` (the client's
    #: persist period). Java: autoCommit (true), autoCommitIntervalMillis (5 s).
    auto_commit: bool = True
    auto_commit_interval_ms: int = 5_000
    #: Default wait of poll(). Java: pollTimeoutMillis (5 s).
    poll_timeout_ms: int = 5_000
    #: Messages cached for all queues before pulling pauses. Java: pullThresholdForAll (10000).
    pull_threshold_for_all: int = 10_000
    #: How long the broker may hold a pull. Java: BROKER_SUSPEND_MAX_TIME_MILLIS (20 s).
    broker_suspend_max_time_ms: int = 20_000
    #: Broadcasting offsets directory (default ~/.rocketmq_offsets).
    offset_store_dir: Path | None = None

    def __post_init__(self) -> None:
        if not 1 <= self.pull_batch_size <= 1024:
            raise ConfigError(f"pull_batch_size must be in 1..1024, not {self.pull_batch_size}")


@dataclass
class _QueueState:
    """A held queue of a LitePullConsumer: where to pull next, what poll() handed out last."""

    process_queue: ProcessQueue
    next_offset: int
    consumed_offset: int = -1
    generation: int = 0
    paused: bool = False
    task: asyncio.Task[None] | None = None


class LitePullConsumer(_ConsumerBase):
    """`subscribe` (queues from rebalance) or `assign` (queues chosen by you), then `poll()`.

    Offsets handed out by poll() are committed every 5 s (auto_commit) or by `commit()`; `seek`
    moves a held queue to any offset, so messages can be read again."""

    def __init__(
        self,
        group: str,
        *,
        namesrv_addr: str | None = None,
        client_config: ClientConfig | None = None,
        instance_name: str | None = None,
        config: LitePullConsumerConfig | None = None,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self.config = config or LitePullConsumerConfig()
        super().__init__(
            group,
            namesrv_addr=namesrv_addr,
            client_config=client_config,
            instance_name=instance_name,
            message_model=self.config.message_model,
            offset_store_dir=self.config.offset_store_dir,
            clock=clock,
        )
        self._assigned: set[MessageQueue] | None = None
        self._states: dict[MessageQueue, _QueueState] = {}
        self._ready: asyncio.Queue[tuple[MessageQueue, int, list[MessageExt]]] = asyncio.Queue()
        self._cached_count = 0
        self._rebalancer: Rebalancer | None = None
        self._running = False
        self._consume_timestamp_ms = parse_consume_timestamp(
            self.config.consume_timestamp or default_consume_timestamp(clock.now_ms())
        )

    # -- subscription and assignment ------------------------------------------------------------

    def subscribe(self, topic: str, expression: str = "*") -> None:
        if self._assigned is not None:
            raise ConfigError("subscribe and assign are mutually exclusive")
        self._subscriptions[topic] = build_subscription_data(
            topic, expression, sub_version=self.clock.now_ms()
        )
        if self._instance is not None:
            self._instance.rebalance_immediately()

    async def assign(self, queues: Iterable[MessageQueue]) -> None:
        """Pull exactly these queues (no rebalance)."""
        if self._subscriptions and self._assigned is None:
            raise ConfigError("subscribe and assign are mutually exclusive")
        wanted = set(queues)
        self._assigned = wanted
        for queue in wanted:
            self._subscriptions.setdefault(queue.topic, build_subscription_data(queue.topic, "*"))
        if self._running:
            await self._apply_assignment()

    def assignment(self) -> set[MessageQueue]:
        return set(self._states)

    # -- lifecycle ------------------------------------------------------------------------------

    async def start(self) -> None:
        if self._instance is not None:
            return
        instance = await self._start_instance()
        self._rebalancer = Rebalancer(
            consumer_group=self._group,
            client_id=instance.client_id,
            message_model=self.message_model,
            consume_type=ConsumeType.CONSUME_ACTIVELY,
            strategy=self.config.allocate_strategy,
        )
        self._running = True
        for topic in list(self._subscriptions):
            await instance.update_topic_route(topic)
        if self._assigned is not None:
            await self._apply_assignment()
        else:
            await instance.send_heartbeat_to_all_brokers()
            instance.rebalance_immediately()

    async def shutdown(self) -> None:
        instance = self._instance
        if instance is None:
            return
        self._running = False
        tasks = [state.task for state in self._states.values() if state.task is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self.config.auto_commit:
            await self.commit()
        self._states.clear()
        self._instance = None
        await instance.unregister_consumer(self._group)

    async def __aenter__(self) -> LitePullConsumer:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.shutdown()

    # -- poll, seek, commit ---------------------------------------------------------------------

    async def poll(self, timeout_ms: int | None = None) -> list[MessageExt]:
        """The next batch pulled from any held queue, waiting up to `timeout_ms` (empty if none)."""
        timeout = self.config.poll_timeout_ms if timeout_ms is None else timeout_ms
        deadline = asyncio.get_running_loop().time() + timeout / 1000
        while True:
            remaining = deadline - asyncio.get_running_loop().time()
            try:
                if remaining <= 0:
                    queue, generation, messages = self._ready.get_nowait()
                else:
                    async with asyncio.timeout(remaining):
                        queue, generation, messages = await self._ready.get()
            except (TimeoutError, asyncio.QueueEmpty):
                return []
            self._cached_count -= len(messages)
            state = self._states.get(queue)
            if state is None or state.generation != generation:
                continue  # seeked or dropped since it was pulled
            state.consumed_offset = messages[-1].queue_offset + 1
            state.process_queue.remove_messages(messages, self.clock.now_ms())
            return messages

    async def seek(self, queue: MessageQueue, offset: int) -> None:
        """Read `queue` from `offset` on (Java seek); the queue must be held."""
        state = self._states.get(queue)
        if state is None:
            raise ConfigError(f"{queue} is not held by this consumer; assign it or wait for rebalance")
        low, high = await self.min_offset(queue), await self.max_offset(queue)
        if not low <= offset <= high:
            raise ConfigError(f"seek offset {offset} of {queue} is outside [{low}, {high}]")
        state.generation += 1
        if state.task is not None:
            state.task.cancel()
        state.process_queue.clear()
        state.next_offset = offset
        state.consumed_offset = offset
        self.offset_store.update_offset(queue, offset, increase_only=False)
        state.task = self._start_pull(queue, state)

    async def seek_to_begin(self, queue: MessageQueue) -> None:
        await self.seek(queue, await self.min_offset(queue))

    async def seek_to_end(self, queue: MessageQueue) -> None:
        await self.seek(queue, await self.max_offset(queue))

    def pause(self, queues: Iterable[MessageQueue]) -> None:
        for queue in queues:
            if (state := self._states.get(queue)) is not None:
                state.paused = True

    def resume(self, queues: Iterable[MessageQueue]) -> None:
        for queue in queues:
            if (state := self._states.get(queue)) is not None:
                state.paused = False

    async def commit(self) -> None:
        """Commit the offsets handed out by poll() (Java commitSync)."""
        for queue, state in self._states.items():
            if state.consumed_offset >= 0:
                self.offset_store.update_offset(queue, state.consumed_offset, increase_only=False)
        await self.offset_store.persist_all(set(self._states))

    async def committed(self, queue: MessageQueue) -> int:
        """The group's stored offset of `queue` (-1: none)."""
        return await self.offset_store.read_offset(queue, ReadOffsetType.READ_FROM_STORE)

    # -- what the instance calls ----------------------------------------------------------------

    async def persist_consumer_offset(self) -> None:
        if self.config.auto_commit and self._running:
            await self.commit()

    async def do_rebalance(self) -> None:
        if not self._running or self._assigned is not None or self._rebalancer is None:
            return
        instance = self.instance
        topics = list(self._subscriptions)
        for topic in topics:
            if topic not in self._subscribe_infos:  # e.g. a retry topic the broker created at our heartbeat
                await instance.update_topic_route(topic)
        topic_queues = {t: self._subscribe_infos[t] for t in topics if t in self._subscribe_infos}
        client_ids: dict[str, list[str] | None] = {}
        if self.message_model is MessageModel.CLUSTERING:
            for topic in topic_queues:
                client_ids[topic] = await instance.find_consumer_id_list(topic, self._group)
        plan = self._rebalancer.plan(
            subscribed_topics=topics,
            topic_queues=topic_queues,
            client_ids=client_ids,
            now_ms=self.clock.now_ms(),
        )
        if not plan.is_empty():
            await apply_plan(self._rebalancer, plan, self, self.clock.now_ms())

    # -- rebalance ports ------------------------------------------------------------------------

    async def remove_unnecessary_queue(self, queue: MessageQueue, process_queue: ProcessQueue) -> bool:
        state = self._states.pop(queue, None)
        if state is not None:
            if state.task is not None:
                state.task.cancel()
            if state.consumed_offset >= 0:
                self.offset_store.update_offset(queue, state.consumed_offset, increase_only=False)
        await self.offset_store.persist(queue)
        self.offset_store.remove_offset(queue)
        return True

    async def lock(self, queue: MessageQueue) -> bool:
        return True

    def remove_dirty_offset(self, queue: MessageQueue) -> None:
        self.offset_store.remove_offset(queue)

    async def compute_pull_from_where(self, queue: MessageQueue) -> int:
        try:
            return await compute_pull_from_where(
                consume_from_where=self.config.consume_from_where,
                queue=queue,
                offset_store=self.offset_store,
                max_offset=self.max_offset,
                search_offset=self.search_offset,
                consume_timestamp_ms=self._consume_timestamp_ms,
                lite_pull=True,
            )
        except (PocketMQError, OSError) as error:
            log.warning("no start offset for %s: %s", queue, error)
            return -1

    def dispatch_pull(self, queue: MessageQueue, process_queue: ProcessQueue, next_offset: int) -> None:
        state = _QueueState(process_queue=process_queue, next_offset=next_offset)
        self._states[queue] = state
        state.task = self._start_pull(queue, state)

    # -- pulling --------------------------------------------------------------------------------

    async def _apply_assignment(self) -> None:
        assert self._assigned is not None
        for queue in list(self._states):
            if queue not in self._assigned:
                state = self._states[queue]
                state.process_queue.dropped = True
                await self.remove_unnecessary_queue(queue, state.process_queue)
        for queue in sorted(self._assigned - set(self._states)):
            start = await self.compute_pull_from_where(queue)
            start = max(start, 0)
            self.dispatch_pull(queue, ProcessQueue(now_ms=self.clock.now_ms()), start)

    def _start_pull(self, queue: MessageQueue, state: _QueueState) -> asyncio.Task[None]:
        return asyncio.get_running_loop().create_task(
            self._pull_loop(queue, state, state.generation), name=f"lite-pull-{self._group}-{queue}"
        )

    async def _pull_loop(self, queue: MessageQueue, state: _QueueState, generation: int) -> None:
        config = self.config
        flag = PullSysFlag.build(commit_offset=False, suspend=True, subscription=True, lite_pull=True)
        try:
            while self._running and state.generation == generation and not state.process_queue.dropped:
                if state.paused or self._cached_count >= config.pull_threshold_for_all:
                    await asyncio.sleep(0.05)
                    continue
                subscription = self._subscriptions.get(queue.topic) or build_subscription_data(
                    queue.topic, "*"
                )
                try:
                    result = await self.pull_raw(
                        queue,
                        subscription,
                        state.next_offset,
                        config.pull_batch_size,
                        sys_flag=flag,
                        suspend_ms=config.broker_suspend_max_time_ms,
                        timeout_ms=config.broker_suspend_max_time_ms + 10_000,
                    )
                except (PocketMQError, OSError) as error:
                    log.info("lite pull of %s failed: %s; again in 3 s", queue, error)
                    await asyncio.sleep(PULL_DELAY_WHEN_EXCEPTION_MS / 1000)
                    continue
                if state.generation != generation:
                    return
                if result.pull_status is PullStatus.OFFSET_ILLEGAL:
                    log.warning(
                        "lite pull offset %d of %s is illegal; moving to %d",
                        state.next_offset,
                        queue,
                        result.next_begin_offset,
                    )
                state.next_offset = result.next_begin_offset
                if result.messages:
                    state.process_queue.put_messages(result.messages)
                    self._cached_count += len(result.messages)
                    self._ready.put_nowait((queue, generation, result.messages))
        except asyncio.CancelledError:
            pass
