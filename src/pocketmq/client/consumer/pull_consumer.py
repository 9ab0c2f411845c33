"""PullConsumer: pulls a queue at an offset when the application asks (Java DefaultMQPullConsumer),
and `PullConsumerBase`, what it shares with `lite_pull_consumer.LitePullConsumer`: the client
instance, the offset store (broker for clustering, local file for broadcasting), broker calls, and one
PULL_MESSAGE with the subscription in the request and the client's exact tag check after the broker's
hash filter.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Final

from pocketmq.client.api import PullResult, PullStatus, decode_pulled_messages
from pocketmq.client.consumer.broker_calls import ConsumerBrokerCalls
from pocketmq.client.consumer.offset_store import OffsetStore, ReadOffsetType
from pocketmq.client.consumer.rebalance import ConsumeType, MessageModel
from pocketmq.client.instance import ClientConfig, ClientInstance, get_client_instance
from pocketmq.common.clock import SYSTEM_CLOCK, Clock
from pocketmq.common.errors import ClientError, ConfigError
from pocketmq.common.filter_expression import SubscriptionData, build_subscription_data
from pocketmq.common.message import MessageConst, MessageExt, MessageQueue
from pocketmq.common.sysflag import PullSysFlag
from pocketmq.protocol.bodies.consumer import ConsumerRunningInfo
from pocketmq.protocol.bodies.heartbeat import ConsumerData
from pocketmq.protocol.headers.pull import PullMessageRequestHeader

__all__ = ["PullConsumer", "PullConsumerBase", "filter_by_tags"]

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


class PullConsumerBase(ConsumerBrokerCalls):
    """What both pull consumers share: the instance, the offset store, broker calls (ConsumerBrokerCalls)."""

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
        self._offset_store = self._new_offset_store(instance, self.message_model, self._offset_store_dir)
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


class PullConsumer(PullConsumerBase):
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
