"""PushConsumer: pulls with long polling and hands messages to a concurrent listener (Java
DefaultMQPushConsumer, DefaultMQPushConsumerImpl, PullAPIWrapper, ConsumeMessageConcurrentlyService).

Each held queue has one pull task: flow control (`process_queue.flow_control`), PULL_MESSAGE held by
the broker up to 15 s (suspend flag, 30 s client timeout), then the client's exact tag check after the
broker's hash filter, then the messages go to the queue's ProcessQueue and to consume tasks
(`consume_message_batch_max_size` per listener call, at most `consume_thread_max` at once; a plain
function listener runs in a thread pool, a coroutine function on the loop). CONSUME_SUCCESS commits
the smallest offset still in flight; RECONSUME_LATER sends the messages back to the broker
(CONSUMER_SEND_MSG_BACK: the broker re-delivers them through the group's retry topic) and, when that
fails, consumes them again locally 5 s later; broadcasting drops them, as Java does.

Rebalance (`rebalance.Rebalancer` + `apply_plan`) runs in the ClientInstance every 20 s and at once on
NOTIFY_CONSUMER_IDS_CHANGED. Offsets: the broker (clustering) or a local file (broadcasting).
"""

from __future__ import annotations

import asyncio
import dataclasses
import inspect
import logging
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Final

from pocketmq import __version__
from pocketmq.client.api import PullStatus, decode_pulled_messages
from pocketmq.client.consumer.broker_calls import ConsumerBrokerCalls
from pocketmq.client.consumer.consume_from import (
    ConsumeFromWhere,
    default_consume_timestamp,
    parse_consume_timestamp,
)
from pocketmq.client.consumer.consumer_config import ConsumerConfig
from pocketmq.client.consumer.offset_store import OffsetStore, ReadOffsetType
from pocketmq.client.consumer.orderly import retry_message_for
from pocketmq.client.consumer.process_queue import (
    PULL_DELAY_WHEN_EXCEPTION_MS,
    FlowControlConfig,
    ProcessQueue,
    PullGate,
    flow_control,
)
from pocketmq.client.consumer.rebalance import (
    ConsumeType,
    MessageModel,
    Rebalancer,
    apply_plan,
    per_queue_thresholds,
)
from pocketmq.client.instance import (
    CLIENT_INNER_PRODUCER_GROUP,
    ClientConfig,
    ClientInstance,
    get_client_instance,
)
from pocketmq.client.producer.producer import Producer, trace_producer
from pocketmq.client.trace import (
    ConsumedBean,
    ConsumeReturnType,
    TraceDispatcher,
    encode_sub_after,
    encode_sub_before,
    trace_keys,
)
from pocketmq.common.clock import SYSTEM_CLOCK, Clock
from pocketmq.common.errors import ClientError, ConfigError, PocketMQError
from pocketmq.common.filter_expression import ExpressionType, SubscriptionData, build_subscription_data
from pocketmq.common.message import MessageConst, MessageExt, MessageQueue
from pocketmq.common.message_id import UniqIdGenerator
from pocketmq.common.sysflag import PullSysFlag
from pocketmq.common.topic import retry_topic
from pocketmq.protocol.bodies.consumer import ConsumerRunningInfo, ProcessQueueInfo
from pocketmq.protocol.bodies.heartbeat import ConsumerData
from pocketmq.protocol.headers.pull import PullMessageRequestHeader

__all__ = [
    "ConsumeConcurrentlyStatus",
    "ConsumeConcurrentlyContext",
    "MessageListener",
    "PushConsumerConfig",
    "PushConsumer",
    "MessageModel",
    "ConsumeFromWhere",
]

log = logging.getLogger(__name__)

#: Java ConsumeMessageConcurrentlyService: a message whose send-back failed is consumed again after 5 s.
CONSUME_AGAIN_DELAY_MS: Final = 5_000


class ConsumeConcurrentlyStatus(Enum):
    """What a concurrent listener answers (Java ConsumeConcurrentlyStatus)."""

    CONSUME_SUCCESS = "CONSUME_SUCCESS"
    RECONSUME_LATER = "RECONSUME_LATER"


@dataclass(slots=True)
class ConsumeConcurrentlyContext:
    """Java ConsumeConcurrentlyContext: the listener may set `ack_index` (messages after it are
    retried) and `delay_level_when_next_consume` (0: the broker picks 3 + reconsume times)."""

    message_queue: MessageQueue
    delay_level_when_next_consume: int = 0
    ack_index: int = 2**31 - 1


#: A concurrent listener: a plain function (run in the consume thread pool) or a coroutine function.
MessageListener = Callable[
    [list[MessageExt], ConsumeConcurrentlyContext],
    "ConsumeConcurrentlyStatus | Awaitable[ConsumeConcurrentlyStatus]",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class PushConsumerConfig(ConsumerConfig):
    """Java DefaultMQPushConsumer settings (beyond those of every consumer: ConsumerConfig)."""

    #: Listener calls running at once. Java: consumeThreadMax (20; consumeThreadMin is 20 too).
    consume_thread_max: int = 20
    #: Messages per listener call. Java: consumeMessageBatchMaxSize (1).
    consume_message_batch_max_size: int = 1
    #: Messages per pull. Java: pullBatchSize (32).
    pull_batch_size: int = 32
    #: Pause between pulls of a queue. Java: pullInterval (0).
    pull_interval_ms: int = 0
    #: Per-queue pull limits. Java: pullThresholdForQueue (1000), pullThresholdSizeForQueue
    #: (100 MiB), consumeConcurrentlyMaxSpan (2000).
    flow_control: FlowControlConfig = field(default_factory=FlowControlConfig)
    #: Topic-wide cache limits, split evenly over the held queues after each rebalance (-1: off).
    #: Java: pullThresholdForTopic (-1), pullThresholdSizeForTopic (-1, MiB).
    pull_threshold_for_topic: int = -1
    pull_threshold_size_for_topic_mib: int = -1
    #: Retries before the broker moves a message to the DLQ; -1 means 16. Java: maxReconsumeTimes.
    max_reconsume_times: int = -1
    #: Send a trace of every listener call to the trace topic. Java: enableMsgTrace (false).
    enable_msg_trace: bool = False
    #: The trace topic (None: RMQ_SYS_TRACE_TOPIC). Java: customizedTraceTopic.
    trace_topic: str | None = None
    #: A message whose listener call has run this long is sent back (delay level 3) and its queue
    #: moves on; checked this often too. Java: consumeTimeout (15 min).
    consume_timeout_minutes: int = 15
    #: Send the subscription with every pull (else the broker uses the heartbeat's).
    #: Java: postSubscriptionWhenPull.
    post_subscription_when_pull: bool = False
    #: How long the broker may hold a pull. Java: BROKER_SUSPEND_MAX_TIME_MILLIS (15 s).
    broker_suspend_max_time_ms: int = 15_000
    #: Client timeout of a held pull. Java: CONSUMER_TIMEOUT_MILLIS_WHEN_SUSPEND (30 s).
    consumer_timeout_ms_when_suspend: int = 30_000

    def __post_init__(self) -> None:
        if not 1 <= self.consume_thread_max <= 1000:
            raise ConfigError(f"consume_thread_max must be in 1..1000, not {self.consume_thread_max}")
        if not 1 <= self.consume_message_batch_max_size <= 1024:
            raise ConfigError("consume_message_batch_max_size must be in 1..1024")
        if not 1 <= self.pull_batch_size <= 1024:
            raise ConfigError(f"pull_batch_size must be in 1..1024, not {self.pull_batch_size}")


class _ConsumeTracer:
    """SubBefore / SubAfter records of listener calls (Java ConsumeMessageTraceHookImpl)."""

    def __init__(self, dispatcher: TraceDispatcher, group: str, clock: Clock, client_id: str) -> None:
        self.dispatcher = dispatcher
        self._group = group
        self._clock = clock
        self._ids = UniqIdGenerator(client_id.partition("@")[0])

    def before(self, messages: list[MessageExt]) -> tuple[str, int, list[ConsumedBean]] | None:
        beans: list[ConsumedBean] = []
        region: str | None = None
        for message in messages:
            if message.properties.get(MessageConst.TRACE_SWITCH) == "false":
                continue
            region = message.properties.get(MessageConst.MSG_REGION)
            beans.append(ConsumedBean(message.msg_id, message.keys, message.reconsume_times))
        if not beans:
            return None
        request_id = self._ids.next_id()
        timestamp = self._clock.now_ms()
        self.dispatcher.append(
            encode_sub_before(
                timestamp_ms=timestamp,
                region_id=region,
                group=self._group,
                request_id=request_id,
                beans=beans,
            ),
            [key for bean in beans for key in trace_keys(bean.msg_id, bean.keys)],
        )
        return request_id, timestamp, beans

    def after(
        self,
        before: tuple[str, int, list[ConsumedBean]],
        message_count: int,
        status: ConsumeConcurrentlyStatus | None,
        *,
        raised: bool,
        timeout_ms: int,
    ) -> None:
        request_id, started, beans = before
        now = self._clock.now_ms()
        if status is None:
            returned = ConsumeReturnType.EXCEPTION if raised else ConsumeReturnType.RETURNNULL
        elif now - started >= timeout_ms:
            returned = ConsumeReturnType.TIME_OUT
        elif status is ConsumeConcurrentlyStatus.RECONSUME_LATER:
            returned = ConsumeReturnType.FAILED
        else:
            returned = ConsumeReturnType.SUCCESS
        self.dispatcher.append(
            encode_sub_after(
                request_id=request_id,
                beans=beans,
                cost_ms=(now - started) // max(message_count, 1),
                success=status is ConsumeConcurrentlyStatus.CONSUME_SUCCESS,
                return_type=returned,
                timestamp_ms=now,
                group=self._group,
            ),
            [key for bean in beans for key in trace_keys(bean.msg_id, bean.keys)],
        )


#: Messages for one listener call, their ProcessQueue and their queue.
_ConsumeRequest = tuple[list[MessageExt], ProcessQueue, MessageQueue]


class PushConsumer(ConsumerBrokerCalls):
    """A push consumer of one group: `subscribe`, `register_message_listener`, `await start()`."""

    # issue 4 (orderly): OrderlyPushConsumer (consume_orderly_service.py) sets this; it switches the
    # rebalancer to broker locks, the pull gate to the orderly checks and the running info.
    _consume_orderly: bool = False

    def __init__(
        self,
        group: str,
        *,
        namesrv_addr: str | None = None,
        client_config: ClientConfig | None = None,
        config: PushConsumerConfig | None = None,
        instance_name: str | None = None,
        listener: MessageListener | None = None,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        if client_config is None:
            client_config = ClientConfig.of(namesrv_addr, instance_name)
        if not group:
            raise ConfigError("the consumer group is empty")
        self._group = group
        self.client_config = client_config
        self.config = config or PushConsumerConfig()
        self.clock = clock
        self._listener = listener
        self._subscriptions: dict[str, SubscriptionData] = {}
        self._subscribe_infos: dict[str, set[MessageQueue]] = {}
        self._instance: ClientInstance | None = None
        self._offset_store: OffsetStore | None = None
        self._rebalancer: Rebalancer | None = None
        self._pull_tasks: dict[MessageQueue, asyncio.Task[None]] = {}
        self._consume_tasks: set[asyncio.Task[None]] = set()
        #: Listener calls waiting for one of the `consume_thread_max` workers (None: a worker stops).
        #: Unbounded here: flow control bounds what the pulls cache.
        self._consume_requests: asyncio.Queue[_ConsumeRequest | None] = asyncio.Queue()
        self._consume_workers: list[asyncio.Task[None]] = []
        #: Messages whose send-back failed, waiting 5 s to be consumed again.
        self._later_tasks: set[asyncio.Task[None]] = set()
        self._clean_expired_task: asyncio.Task[None] | None = None
        self._trace: _ConsumeTracer | None = None
        #: The inner producer this consumer started for failed send-backs (stopped at shutdown).
        self._own_inner_producer: Producer | None = None
        #: Per-queue limits in force (topic-wide limits are split over the held queues).
        self._flow_control = self.config.flow_control
        self._consume_slots = asyncio.Semaphore(self.config.consume_thread_max)
        self._executor: ThreadPoolExecutor | None = None
        self._suggested_broker: dict[MessageQueue, int] = {}
        self._running = False
        self._paused = False
        self._start_timestamp_ms = 0
        self._rebalance_lock = asyncio.Lock()
        self._consume_timestamp_ms = parse_consume_timestamp(
            self.config.consume_timestamp or default_consume_timestamp(clock.now_ms())
        )

    # -- configuration --------------------------------------------------------------------------

    @property
    def group(self) -> str:
        return self._group

    @property
    def clustering(self) -> bool:
        return self.config.message_model is MessageModel.CLUSTERING

    def subscribe(self, topic: str, expression: str = "*", expression_type: str = ExpressionType.TAG) -> None:
        """Subscribe to `topic` with a tag expression ("*", "TagA || TagB") or an SQL92 one."""
        data = build_subscription_data(topic, expression, expression_type, sub_version=self.clock.now_ms())
        self._subscriptions[topic] = data
        if self._instance is not None:
            instance = self._instance
            self._spawn(self._after_subscription_change(instance, topic))

    def unsubscribe(self, topic: str) -> None:
        """Stop consuming `topic`: its queues are dropped at the next rebalance (started at once)."""
        self._subscriptions.pop(topic, None)
        if self._instance is not None:
            instance = self._instance

            async def tell_brokers() -> None:
                await instance.send_heartbeat_to_all_brokers()
                instance.rebalance_immediately()

            self._spawn(tell_brokers())

    def register_message_listener(self, listener: MessageListener) -> None:
        self._listener = listener

    @property
    def instance(self) -> ClientInstance:
        if self._instance is None:
            raise ClientError(-1, None, f"consumer {self._group} is not started: await start() first")
        return self._instance

    @property
    def offset_store(self) -> OffsetStore:
        assert self._offset_store is not None, "consumer not started"
        return self._offset_store

    def held_queues(self) -> set[MessageQueue]:
        """The queues this consumer pulls now."""
        return set(self._rebalancer.process_queues) if self._rebalancer is not None else set()

    # -- lifecycle ------------------------------------------------------------------------------

    async def start(self) -> None:
        if self._instance is not None:
            return
        if self._listener is None:
            raise ConfigError("register a message listener before start()")
        if not self._subscriptions:
            raise ConfigError("subscribe to at least one topic before start()")
        instance = get_client_instance(self.client_config)
        if self.clustering:
            retry = retry_topic(self._group)
            self._subscriptions.setdefault(
                retry, build_subscription_data(retry, "*", sub_version=self.clock.now_ms())
            )
        self._offset_store = self._new_offset_store(
            instance, self.config.message_model, self.config.offset_store_dir
        )
        await self._offset_store.load()
        self._rebalancer = Rebalancer(
            consumer_group=self._group,
            client_id=instance.client_id,
            message_model=self.config.message_model,
            consume_type=ConsumeType.CONSUME_PASSIVELY,
            strategy=self.config.allocate_strategy,
            orderly=self._consume_orderly,  # issue 4 (orderly)
        )
        if not inspect.iscoroutinefunction(self._listener):
            self._executor = ThreadPoolExecutor(
                max_workers=self.config.consume_thread_max, thread_name_prefix=f"consume-{self._group}"
            )
        instance.register_consumer(self)
        self._instance = instance
        self._running = True
        self._start_timestamp_ms = self.clock.now_ms()
        if not self._consume_orderly:
            loop = asyncio.get_running_loop()
            self._clean_expired_task = loop.create_task(
                self._clean_expired_forever(), name=f"clean-expired-{self._group}"
            )
            self._consume_workers = [
                loop.create_task(self._consume_worker(), name=f"consume-{self._group}-{index}")
                for index in range(self.config.consume_thread_max)
            ]
        if self.config.enable_msg_trace:
            dispatcher = TraceDispatcher(
                group=self._group,
                kind="CONSUME",
                make_sender=lambda group: trace_producer(group, self.client_config, self.clock),
                trace_topic=self.config.trace_topic,
            )
            await dispatcher.start()
            self._trace = _ConsumeTracer(dispatcher, self._group, self.clock, instance.client_id)
        await instance.start()
        for topic in list(self._subscriptions):
            await instance.update_topic_route(topic)
        await instance.send_heartbeat_to_all_brokers()
        instance.rebalance_immediately()

    async def _after_subscription_change(self, instance: ClientInstance, topic: str) -> None:
        await instance.update_topic_route(topic)
        await instance.send_heartbeat_to_all_brokers()
        instance.rebalance_immediately()

    async def shutdown(self) -> None:
        """Stop pulling, let running listeners finish, commit offsets, unregister from the brokers."""
        instance = self._instance
        if instance is None:
            return
        self._running = False
        if self._clean_expired_task is not None:
            self._clean_expired_task.cancel()
            self._clean_expired_task = None
        tasks = list(self._pull_tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._pull_tasks.clear()
        if self._consume_workers:
            # What was pulled is still consumed (Java shuts its consume pool down gently); bounded.
            for _ in self._consume_workers:
                self._consume_requests.put_nowait(None)
            _, late = await asyncio.wait(self._consume_workers, timeout=10)
            for worker in late:
                worker.cancel()
            self._consume_workers = []
        if self._consume_tasks:
            await asyncio.wait(list(self._consume_tasks), timeout=10)
        for later in list(self._later_tasks):
            later.cancel()  # their messages stay uncommitted: redelivered after a restart
        assert self._rebalancer is not None
        held = set(self._rebalancer.process_queues)
        await self.offset_store.persist_all(held)
        await self._release_queues(held)  # issue 4 (orderly): UNLOCK_BATCH_MQ before unregistering
        if self._own_inner_producer is not None:
            await self._own_inner_producer.shutdown()
            self._own_inner_producer = None
        if self._trace is not None:
            await self._trace.dispatcher.shutdown()
            self._trace = None
        self._rebalancer.destroy()
        self._instance = None
        await instance.unregister_consumer(self._group)
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)

    async def _release_queues(self, held: set[MessageQueue]) -> None:
        """Hook at shutdown, after the offsets were committed (orderly consumers unlock here)."""

    def suspend(self) -> None:
        """Stop pulling until `resume()` (Java suspend)."""
        self._paused = True

    def resume(self) -> None:
        self._paused = False
        if self._instance is not None:
            self._instance.rebalance_immediately()

    async def __aenter__(self) -> PushConsumer:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.shutdown()

    # -- what the instance calls ----------------------------------------------------------------

    def subscribed_topics(self) -> set[str]:
        return set(self._subscriptions)

    def update_topic_subscribe_info(self, topic: str, queues: set[MessageQueue]) -> None:
        self._subscribe_infos[topic] = queues

    def heartbeat_data(self) -> ConsumerData:
        return ConsumerData(
            group_name=self._group,
            consume_type=ConsumeType.CONSUME_PASSIVELY,
            message_model=self.config.message_model,
            consume_from_where=self.config.consume_from_where,
            subscriptions=tuple(self._subscriptions.values()),
        )

    async def do_rebalance(self) -> None:
        if not self._running or self._paused or self._rebalancer is None:
            return
        async with self._rebalance_lock:
            instance = self.instance
            topics = list(self._subscriptions)
            for topic in topics:
                if (
                    topic not in self._subscribe_infos
                ):  # e.g. a retry topic the broker created at our heartbeat
                    await instance.update_topic_route(topic)
            topic_queues = {
                topic: self._subscribe_infos[topic] for topic in topics if topic in self._subscribe_infos
            }
            client_ids: dict[str, list[str] | None] = {}
            if self.clustering:
                for topic in topics:
                    if topic in topic_queues:
                        client_ids[topic] = await instance.find_consumer_id_list(topic, self._group)
            plan = self._rebalancer.plan(
                subscribed_topics=topics,
                topic_queues=topic_queues,
                client_ids=client_ids,
                now_ms=self.clock.now_ms(),
            )
            if plan.is_empty():
                return
            if await apply_plan(self._rebalancer, plan, self, self.clock.now_ms()):
                self._split_topic_thresholds()

    def _split_topic_thresholds(self) -> None:
        """Java RebalancePushImpl#messageQueueChanged: topic-wide limits become per-queue ones."""
        config = self.config
        if config.pull_threshold_for_topic == -1 and config.pull_threshold_size_for_topic_mib == -1:
            return
        assert self._rebalancer is not None
        count, size_mib = per_queue_thresholds(
            pull_threshold_for_topic=config.pull_threshold_for_topic,
            pull_threshold_size_for_topic_mib=config.pull_threshold_size_for_topic_mib,
            held_queue_count=len(self._rebalancer.process_queues),
            pull_threshold_for_queue=config.flow_control.pull_threshold_for_queue,
            pull_threshold_size_for_queue_mib=config.flow_control.pull_threshold_size_for_queue_mib,
        )
        self._flow_control = dataclasses.replace(
            config.flow_control, pull_threshold_for_queue=count, pull_threshold_size_for_queue_mib=size_mib
        )

    async def persist_consumer_offset(self) -> None:
        if self._rebalancer is not None and self._offset_store is not None:
            await self._offset_store.persist_all(set(self._rebalancer.process_queues))

    def running_info(self) -> ConsumerRunningInfo:
        table: dict[MessageQueue, ProcessQueueInfo] = {}
        if self._rebalancer is not None:
            offsets = self.offset_store.clone_offset_table()
            for queue, process_queue in self._rebalancer.process_queues.items():
                table[queue] = ProcessQueueInfo(
                    commit_offset=offsets.get(queue, -1),
                    cached_msg_min_offset=process_queue.first_offset() or 0,
                    cached_msg_max_offset=process_queue.last_offset() or 0,
                    cached_msg_count=process_queue.message_count,
                    cached_msg_size_mib=process_queue.message_bytes // (1024 * 1024),
                    locked=process_queue.locked,
                    try_unlock_times=process_queue.try_unlock_times,
                    last_lock_timestamp=process_queue.last_lock_timestamp_ms,
                    dropped=process_queue.dropped,
                    last_pull_timestamp=process_queue.last_pull_timestamp_ms,
                    last_consume_timestamp=process_queue.last_consume_timestamp_ms,
                )
        return ConsumerRunningInfo(
            properties={
                "PROP_CLIENT_VERSION": __version__,
                "PROP_CONSUME_TYPE": ConsumeType.CONSUME_PASSIVELY.value,
                "PROP_CONSUMEORDERLY": str(self._consume_orderly).lower(),
                "PROP_CONSUMER_START_TIMESTAMP": str(self._start_timestamp_ms),
                "PROP_NAMESERVER_ADDR": self.client_config.namesrv_addr,
                "PROP_THREADPOOL_CORE_SIZE": str(self.config.consume_thread_max),
                "PROP_THREADPOOL_MAX_SIZE": str(self.config.consume_thread_max),
                "consumeFromWhere": self.config.consume_from_where.name,
                "consumeMessageBatchMaxSize": str(self.config.consume_message_batch_max_size),
                "messageModel": self.config.message_model.value,
                "pullBatchSize": str(self.config.pull_batch_size),
            },
            subscriptions=tuple(self._subscriptions.values()),
            queues=table,
        )

    async def consume_message_directly(self, message: MessageExt, broker_name: str | None) -> dict[str, Any]:
        """CONSUME_MESSAGE_DIRECTLY (an admin asks this client to consume one message now)."""
        queue = MessageQueue(message.topic, broker_name or "", message.queue_id)
        started = self.clock.monotonic_ms()
        remark = None
        try:
            status = await self._call_listener([message], ConsumeConcurrentlyContext(queue))
            result = "CR_SUCCESS" if status is ConsumeConcurrentlyStatus.CONSUME_SUCCESS else "CR_LATER"
            if status is None:
                result = "CR_RETURN_NULL"
        except Exception as error:
            result, remark = "CR_THROW_EXCEPTION", f"{type(error).__name__}: {error}"
        return {
            "autoCommit": True,
            "consumeResult": result,
            "order": False,
            "remark": remark,
            "spentTimeMills": self.clock.monotonic_ms() - started,
        }

    async def reset_offset(self, topic: str, offsets: dict[MessageQueue, int]) -> None:
        """RESET_CONSUMER_CLIENT_OFFSET: drop the topic's queues, set the offsets, pull again."""
        if self._rebalancer is None:
            return
        self._paused = True
        try:
            for queue in list(self._rebalancer.process_queues):
                if queue.topic == topic:
                    self._rebalancer.remove_process_queue(queue)
                    task = self._pull_tasks.pop(queue, None)
                    if task is not None:
                        task.cancel()
            for queue, offset in offsets.items():
                self.offset_store.update_offset(queue, offset, increase_only=False)
                await self.offset_store.persist(queue)
        finally:
            self._paused = False
        self.instance.rebalance_immediately()

    # -- rebalance ports (rebalance.RebalancePorts) -----------------------------------------------

    async def remove_unnecessary_queue(self, queue: MessageQueue, process_queue: ProcessQueue) -> bool:
        task = self._pull_tasks.pop(queue, None)
        if task is not None:
            task.cancel()
        await self.offset_store.persist(queue)
        self.offset_store.remove_offset(queue)
        return True

    async def lock(self, queue: MessageQueue) -> bool:
        return True  # orderly consumption is not offered by this consumer

    def remove_dirty_offset(self, queue: MessageQueue) -> None:
        self.offset_store.remove_offset(queue)

    async def compute_pull_from_where(self, queue: MessageQueue) -> int:
        return await self.start_offset(
            queue, self.offset_store, self.config.consume_from_where, self._consume_timestamp_ms
        )

    def dispatch_pull(self, queue: MessageQueue, process_queue: ProcessQueue, next_offset: int) -> None:
        self._pull_tasks[queue] = asyncio.get_running_loop().create_task(
            self._pull_loop(queue, process_queue, next_offset), name=f"pull-{self._group}-{queue}"
        )

    # -- pulling --------------------------------------------------------------------------------

    async def _pull_loop(self, queue: MessageQueue, process_queue: ProcessQueue, offset: int) -> None:
        """Java DefaultMQPushConsumerImpl#pullMessage and its PullCallback, as one loop per queue."""
        config = self.config
        try:
            while self._running and not process_queue.dropped:
                if self._paused:
                    await asyncio.sleep(1)
                    continue
                gate = flow_control(process_queue, self._flow_control, orderly=self._consume_orderly)
                if gate is PullGate.DROPPED:
                    return
                if gate is not PullGate.PULL:
                    await asyncio.sleep(gate.delay_ms / 1000)
                    continue
                process_queue.last_pull_timestamp_ms = self.clock.now_ms()
                try:
                    offset = await self._pull_once(queue, process_queue, offset)
                except (PocketMQError, OSError) as error:
                    if self._running and not process_queue.dropped:
                        log.info("pull of %s failed: %s; again in 3 s", queue, error)
                        await asyncio.sleep(PULL_DELAY_WHEN_EXCEPTION_MS / 1000)
                    continue
                if offset < 0:  # OFFSET_ILLEGAL: the queue was dropped
                    return
                if config.pull_interval_ms > 0:
                    await asyncio.sleep(config.pull_interval_ms / 1000)
        except asyncio.CancelledError:
            pass
        except Exception:
            log.exception("pull loop of %s stopped", queue)

    async def _pull_once(self, queue: MessageQueue, process_queue: ProcessQueue, offset: int) -> int:
        """One PULL_MESSAGE; answers the next offset (-1 when the queue was dropped)."""
        config = self.config
        subscription = self._subscriptions.get(queue.topic)
        if subscription is None:
            await asyncio.sleep(PULL_DELAY_WHEN_EXCEPTION_MS / 1000)
            return offset
        commit_offset = 0
        if self.clustering:
            commit_offset = await self.offset_store.read_offset(queue, ReadOffsetType.READ_FROM_MEMORY)
        post_subscription = config.post_subscription_when_pull and not subscription.class_filter_mode
        sys_flag = PullSysFlag.build(
            commit_offset=commit_offset > 0, suspend=True, subscription=post_subscription
        )
        instance = self.instance
        addr = instance.find_broker_address_in_subscribe(
            queue.broker_name, self._suggested_broker.get(queue, 0)
        ) or await self.broker_addr(queue)
        header = PullMessageRequestHeader(
            consumer_group=self._group,
            topic=queue.topic,
            queue_id=queue.queue_id,
            queue_offset=offset,
            max_message_count=config.pull_batch_size,
            sys_flag=sys_flag,
            commit_offset=max(commit_offset, 0),
            suspend_timeout_ms=config.broker_suspend_max_time_ms,
            subscription=subscription.sub_string if post_subscription else None,
            sub_version=subscription.sub_version,
            expression_type=subscription.expression_type,
            broker_name=queue.broker_name,
        )
        result = await instance.api.pull(addr, header, config.consumer_timeout_ms_when_suspend)
        self._suggested_broker[queue] = result.suggest_which_broker_id
        if process_queue.dropped:
            return -1
        status = result.pull_status
        if status is PullStatus.FOUND:
            messages = decode_pulled_messages(result.body) if result.body else []
            if subscription.tags_set and not subscription.class_filter_mode:
                tags = subscription.tags_set
                messages = [m for m in messages if m.properties.get(MessageConst.TAGS) in tags]
            min_offset, max_offset = str(result.min_offset), str(result.max_offset)
            for message in messages:
                properties = message.properties
                properties[MessageConst.MIN_OFFSET] = min_offset
                properties[MessageConst.MAX_OFFSET] = max_offset
            if messages:
                process_queue.put_messages(messages)
                self._submit_consume(messages, process_queue, queue)
            elif process_queue.message_count == 0:
                self.offset_store.update_offset(queue, result.next_begin_offset, increase_only=True)
            return result.next_begin_offset
        if status in (PullStatus.NO_NEW_MSG, PullStatus.NO_MATCHED_MSG):
            if process_queue.message_count == 0:  # Java correctTagsOffset
                self.offset_store.update_offset(queue, result.next_begin_offset, increase_only=True)
            return result.next_begin_offset
        # OFFSET_ILLEGAL: move to the broker's offset, drop the queue; rebalance adds it back.
        log.warning("pull offset %d of %s is illegal; moving to %d", offset, queue, result.next_begin_offset)
        process_queue.dropped = True
        self.offset_store.update_offset(queue, result.next_begin_offset, increase_only=False)
        await self.offset_store.persist(queue)
        assert self._rebalancer is not None
        self._rebalancer.remove_process_queue(queue)
        self._pull_tasks.pop(queue, None)
        return -1

    # -- consuming ------------------------------------------------------------------------------

    def _spawn(self, coroutine: Any) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._consume_tasks.add(task)
        task.add_done_callback(self._consume_tasks.discard)

    def _submit_consume(
        self, messages: list[MessageExt], process_queue: ProcessQueue, queue: MessageQueue
    ) -> None:
        size = self.config.consume_message_batch_max_size
        put = self._consume_requests.put_nowait
        if len(messages) <= size:
            put((messages, process_queue, queue))
            return
        for start in range(0, len(messages), size):
            put((messages[start : start + size], process_queue, queue))

    async def _consume_worker(self) -> None:
        """One of the `consume_thread_max` consumers of `_consume_requests` (Java: a consume thread)."""
        requests = self._consume_requests
        while (request := await requests.get()) is not None:
            try:
                await self._consume(*request)
            except Exception:
                log.exception("consuming %d message(s) of %s failed", len(request[0]), request[2])

    async def _run_listener(self, messages: list[MessageExt], context: Any) -> Any:
        """The registered listener (concurrent or orderly): a coroutine function runs on the loop, a
        plain function in the consume thread pool."""
        listener: Callable[[list[MessageExt], Any], Any] | None = self._listener
        assert listener is not None
        if self._executor is None:
            return await listener(messages, context)
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, listener, messages, context)

    async def _call_listener(
        self, messages: list[MessageExt], context: ConsumeConcurrentlyContext
    ) -> ConsumeConcurrentlyStatus | None:
        status: ConsumeConcurrentlyStatus | None = await self._run_listener(messages, context)
        return status

    async def _consume(
        self, messages: list[MessageExt], process_queue: ProcessQueue, queue: MessageQueue
    ) -> None:
        """Java ConsumeMessageConcurrentlyService.ConsumeRequest#run and processConsumeResult."""
        async with self._consume_slots:
            if process_queue.dropped:
                return
            retry = retry_topic(self._group)
            start = str(self.clock.now_ms())
            for message in messages:
                properties = message.properties
                original = properties.get(MessageConst.RETRY_TOPIC)
                if original is not None and message.topic == retry:
                    message.topic = original  # Java resetRetryAndNamespace
                properties[MessageConst.CONSUME_START_TIMESTAMP] = start
            context = ConsumeConcurrentlyContext(queue)
            trace = self._trace.before(messages) if self._trace is not None else None
            raised = False
            try:
                status = await self._call_listener(messages, context)
            except Exception:
                log.exception(
                    "listener of %s failed on %d message(s) of %s", self._group, len(messages), queue
                )
                status, raised = None, True
            if trace is not None and self._trace is not None:
                timeout_ms = self.config.consume_timeout_minutes * 60_000
                self._trace.after(trace, len(messages), status, raised=raised, timeout_ms=timeout_ms)
            if status is None:
                status = ConsumeConcurrentlyStatus.RECONSUME_LATER
        if process_queue.dropped:
            return
        if status is ConsumeConcurrentlyStatus.CONSUME_SUCCESS:
            ack_index = min(context.ack_index, len(messages) - 1)
        else:
            ack_index = -1
        failed = messages[ack_index + 1 :]
        again: list[MessageExt] = []
        if failed and self.clustering:
            for message in failed:
                if not await self._send_message_back(message, context.delay_level_when_next_consume, queue):
                    message.reconsume_times += 1
                    again.append(message)
        elif failed:
            for message in failed:
                log.warning("broadcasting: %s consumed with RECONSUME_LATER is dropped", message.msg_id)
        done = [m for m in messages if m not in again] if again else messages
        offset = process_queue.remove_messages(done, self.clock.now_ms())
        if offset >= 0 and not process_queue.dropped:
            self.offset_store.update_offset(queue, offset, increase_only=True)
        if again:
            later = asyncio.get_running_loop().create_task(self._consume_later(again, process_queue, queue))
            self._later_tasks.add(later)
            later.add_done_callback(self._later_tasks.discard)

    async def _consume_later(
        self, messages: list[MessageExt], process_queue: ProcessQueue, queue: MessageQueue
    ) -> None:
        await asyncio.sleep(CONSUME_AGAIN_DELAY_MS / 1000)
        if self._running and not process_queue.dropped:
            await self._consume(messages, process_queue, queue)

    async def _clean_expired_forever(self) -> None:
        interval_s = self.config.consume_timeout_minutes * 60
        while self._running:
            await asyncio.sleep(interval_s)
            try:
                await self.clean_expired_messages()
            except (PocketMQError, OSError) as error:
                log.warning("cleaning expired messages of %s failed: %s", self._group, error)

    async def clean_expired_messages(self) -> int:
        """Send back the messages stuck in a listener call longer than `consume_timeout_minutes`,
        at most 16 per queue, and let their queues move on (Java ProcessQueue#cleanExpiredMsg).
        Answers how many were sent back."""
        if self._rebalancer is None or not self.clustering:
            return 0
        timeout_ms = self.config.consume_timeout_minutes * 60_000
        cleaned = 0
        for queue, process_queue in list(self._rebalancer.process_queues.items()):
            for _ in range(16):
                message = process_queue.first_expired(self.clock.now_ms(), timeout_ms)
                if message is None or process_queue.dropped:
                    break
                if not await self._send_message_back(message, 3, queue):
                    break
                offset = process_queue.remove_messages([message], self.clock.now_ms())
                if offset >= 0 and not process_queue.dropped:
                    self.offset_store.update_offset(queue, offset, increase_only=True)
                cleaned += 1
        return cleaned

    async def _send_message_back(self, message: MessageExt, delay_level: int, queue: MessageQueue) -> bool:
        """Java DefaultMQPushConsumerImpl#sendMessageBack: CONSUMER_SEND_MSG_BACK to the queue's
        broker; if that fails, send a copy to `%RETRY%<group>` with the client's inner producer.
        False when both failed (the caller then consumes the message again itself)."""
        instance = self.instance
        # Java DefaultMQPushConsumerImpl#getMaxReconsumeTimes: -1 means 16 for concurrent consumption.
        configured = self.config.max_reconsume_times
        max_reconsume_times = 16 if configured == -1 else configured
        try:
            addr = await self.broker_addr(queue)
            await instance.api.consumer_send_message_back(
                addr,
                message,
                group=self._group,
                delay_level=delay_level,
                max_reconsume_times=max_reconsume_times,
                broker_name=queue.broker_name,
                timeout_ms=self.client_config.client_api_timeout_ms,
            )
        except (PocketMQError, OSError) as error:
            log.info("send-back of %s failed (%s); sending it to the retry topic", message.msg_id, error)
        else:
            return True
        retry = retry_message_for(
            message, consumer_group=self._group, max_reconsume_times=max_reconsume_times
        )
        retry.properties[MessageConst.RECONSUME_TIME] = str(message.reconsume_times + 1)
        try:
            producer = await self._send_back_producer()
            await producer.send(retry)
        except (PocketMQError, OSError) as error:
            log.info(
                "sending %s to the retry topic failed (%s); consuming it again in 5 s", message.msg_id, error
            )
            return False
        return True

    async def _send_back_producer(self) -> Producer:
        """The client's inner producer (Java MQClientInstance#getDefaultMQProducer): the one already
        started in this client, else one this consumer starts and stops."""
        existing = self.instance.producers.get(CLIENT_INNER_PRODUCER_GROUP)
        if isinstance(existing, Producer):
            return existing
        if self._own_inner_producer is None:
            producer = Producer(
                CLIENT_INNER_PRODUCER_GROUP, client_config=self.client_config, clock=self.clock
            )
            try:
                await producer.start()
            except ConfigError:  # another consumer of this client started it meanwhile
                existing = self.instance.producers.get(CLIENT_INNER_PRODUCER_GROUP)
                if isinstance(existing, Producer):
                    return existing
                raise
            self._own_inner_producer = producer
        return self._own_inner_producer
