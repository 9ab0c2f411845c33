"""LitePullConsumer: pulls assigned or rebalanced queues in the background and hands out batches from
`poll()`, with `seek` and `commit` (Java DefaultLitePullConsumer).

Each held queue has one pull task (long polling, the subscription in every request); pulled batches
wait in one bounded cache (`pull_threshold_for_all`) until `poll()` takes them. `seek` cancels the
queue's task, drops what it cached and starts again at the new offset (a generation number discards
any batch pulled before). Offsets handed out by `poll()` are committed every 5 s (auto_commit) or by
`commit()`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from dataclasses import dataclass

from pocketmq.client.api import PullStatus
from pocketmq.client.consumer.consume_from import (
    default_consume_timestamp,
    parse_consume_timestamp,
)
from pocketmq.client.consumer.consumer_config import ConsumerConfig
from pocketmq.client.consumer.offset_store import ReadOffsetType
from pocketmq.client.consumer.process_queue import PULL_DELAY_WHEN_EXCEPTION_MS, ProcessQueue
from pocketmq.client.consumer.pull_consumer import PullConsumerBase
from pocketmq.client.consumer.rebalance import ConsumeType, MessageModel, Rebalancer, apply_plan
from pocketmq.client.instance import ClientConfig
from pocketmq.common.clock import SYSTEM_CLOCK, Clock
from pocketmq.common.errors import ConfigError, PocketMQError
from pocketmq.common.filter_expression import build_subscription_data
from pocketmq.common.message import MessageExt, MessageQueue
from pocketmq.common.sysflag import PullSysFlag

__all__ = ["LitePullConsumer", "LitePullConsumerConfig"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True, kw_only=True)
class LitePullConsumerConfig(ConsumerConfig):
    """Java DefaultLitePullConsumer settings (beyond those of every consumer: ConsumerConfig)."""

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


class LitePullConsumer(PullConsumerBase):
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
        return await self.start_offset(
            queue,
            self.offset_store,
            self.config.consume_from_where,
            self._consume_timestamp_ms,
            lite_pull=True,
        )

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
