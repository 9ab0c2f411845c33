"""Retry and dead letters of the concurrent push consumer against real `mqnamesrv` / `mqbroker`
processes (issue 4, item 2), with the delay levels shortened (`messageDelayLevel`): redelivery through
`%RETRY%<group>` with growing reconsume counts and delays, `%DLQ%<group>` after maxReconsumeTimes,
ackIndex for batches, local retry when the send-back fails, broadcasting drops failures."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from pocketmq.client.consumer.push_consumer import (
    ConsumeConcurrentlyContext,
    ConsumeConcurrentlyStatus,
    MessageModel,
    PushConsumer,
    PushConsumerConfig,
)
from pocketmq.client.producer.producer import Producer
from pocketmq.common.clock import SYSTEM_CLOCK
from pocketmq.common.message import Message, MessageConst, MessageExt, MessageQueue
from pocketmq.common.topic import dlq_topic, retry_topic
from tests.integration.client_issue4_support import (
    SHORT_DELAY_LEVELS,
    client_config,
    create_topic,
    pull_all,
    query_by_uniq_key,
)
from tests.support.cluster import Cluster, running_cluster

pytestmark = pytest.mark.timeout(120)

LATER = ConsumeConcurrentlyStatus.RECONSUME_LATER
SUCCESS = ConsumeConcurrentlyStatus.CONSUME_SUCCESS


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    workdir = tmp_path_factory.mktemp("issue4-retry")
    with running_cluster(workdir, messageDelayLevel=SHORT_DELAY_LEVELS) as cluster:
        yield cluster


@dataclass(frozen=True)
class Delivery:
    body: str
    topic: str
    reconsume_times: int
    msg_id: str
    origin_msg_id: str | None
    at: float


def record(message: MessageExt) -> Delivery:
    return Delivery(
        message.body.decode(),
        message.topic,
        message.reconsume_times,
        message.msg_id,
        message.properties.get(MessageConst.ORIGIN_MESSAGE_ID),
        SYSTEM_CLOCK.monotonic_ms() / 1000,
    )


async def test_a_message_failing_three_times_arrives_four_times_spaced_by_the_levels(
    cluster: Cluster,
) -> None:
    topic, group = "RetryThrice", "retry-thrice"
    await create_topic(cluster, topic, 1)
    seen: list[Delivery] = []
    done = asyncio.Event()

    async def listener(
        messages: list[MessageExt], context: ConsumeConcurrentlyContext
    ) -> ConsumeConcurrentlyStatus:
        seen.append(record(messages[0]))
        if messages[0].reconsume_times < 3:
            return LATER
        done.set()
        return SUCCESS

    consumer = PushConsumer(group, client_config=client_config(cluster, "r3-c"), listener=listener)
    consumer.subscribe(topic)
    await consumer.start()
    try:
        async with Producer("retry-thrice-p", client_config=client_config(cluster, "r3-p")) as producer:
            sent = await producer.send(Message(topic, b"fails-thrice"))
        await asyncio.wait_for(done.wait(), 30)
        await asyncio.sleep(1.5)  # no fifth delivery
    finally:
        await consumer.shutdown()
    assert [(d.topic, d.reconsume_times, d.msg_id) for d in seen] == [
        (topic, times, sent.msg_id) for times in range(4)
    ]
    assert seen[0].origin_msg_id is None
    assert {d.origin_msg_id for d in seen[1:]} == {sent.offset_msg_id}
    # Retry n waits for delay level 3 + n: 1 s, 2 s, 3 s here.
    gaps = [later.at - earlier.at for earlier, later in itertools.pairwise(seen)]
    for gap, level_s in zip(gaps, (1, 2, 3), strict=True):
        assert level_s - 0.2 <= gap <= level_s + 1.5, gaps


async def test_past_max_reconsume_times_the_message_lands_in_the_dlq_with_its_ids(cluster: Cluster) -> None:
    topic, group = "RetryDead", "retry-dead"
    await create_topic(cluster, topic, 1)
    seen: list[Delivery] = []

    def listener(
        messages: list[MessageExt], context: ConsumeConcurrentlyContext
    ) -> ConsumeConcurrentlyStatus:
        seen.append(record(messages[0]))
        raise RuntimeError("this message always fails")  # an exception counts as RECONSUME_LATER

    consumer = PushConsumer(
        group,
        client_config=client_config(cluster, "rd-c"),
        config=PushConsumerConfig(max_reconsume_times=2),
        listener=listener,
    )
    consumer.subscribe(topic)
    await consumer.start()
    try:
        async with Producer("retry-dead-p", client_config=client_config(cluster, "rd-p")) as producer:
            sent = await producer.send(Message(topic, b"poison", keys=["poison-key"]))
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 20
        dead: list[MessageExt] = []
        while not dead and loop.time() < deadline:
            await asyncio.sleep(0.3)
            dead = await pull_all(cluster, dlq_topic(group))
        await asyncio.sleep(1.5)
    finally:
        await consumer.shutdown()
    assert [d.reconsume_times for d in seen] == [0, 1, 2]
    assert [m.body for m in dead] == [b"poison"]
    assert dead[0].uniq_key == sent.msg_id
    assert dead[0].properties[MessageConst.ORIGIN_MESSAGE_ID] == sent.offset_msg_id
    assert dead[0].properties[MessageConst.RETRY_TOPIC] == topic
    assert dead[0].keys == "poison-key"
    found = await query_by_uniq_key(cluster, dlq_topic(group), sent.msg_id or "")
    assert [m.body for m in found] == [b"poison"]


async def test_ack_index_retries_only_the_messages_after_it(cluster: Cluster) -> None:
    topic, group = "RetryAckIndex", "retry-ack-index"
    await create_topic(cluster, topic, 1)
    async with Producer("retry-ack-p", client_config=client_config(cluster, "ra-p")) as producer:
        for i in range(4):
            await producer.send(Message(topic, f"m{i}".encode()))
    batches: list[list[tuple[str, int]]] = []
    done = asyncio.Event()

    def listener(
        messages: list[MessageExt], context: ConsumeConcurrentlyContext
    ) -> ConsumeConcurrentlyStatus:
        batches.append([(m.body.decode(), m.reconsume_times) for m in messages])
        if len(batches) == 1:
            context.ack_index = 1  # m0 and m1 succeeded; m2 and m3 are retried
        elif sum(len(b) for b in batches) >= 6:
            done.set()
        return SUCCESS

    consumer = PushConsumer(
        group,
        client_config=client_config(cluster, "ra-c"),
        config=PushConsumerConfig(consume_message_batch_max_size=4),
        listener=listener,
    )
    consumer.subscribe(topic)
    await consumer.start()
    try:
        await asyncio.wait_for(done.wait(), 30)
        await asyncio.sleep(1.5)
    finally:
        await consumer.shutdown()
    assert batches[0] == [("m0", 0), ("m1", 0), ("m2", 0), ("m3", 0)]
    assert sorted(m for batch in batches[1:] for m in batch) == [("m2", 1), ("m3", 1)]


async def test_a_failed_send_back_is_consumed_again_locally(cluster: Cluster) -> None:
    topic, group = "RetryLocal", "retry-local"
    await create_topic(cluster, topic, 1)
    seen: list[Delivery] = []
    done = asyncio.Event()

    def listener(
        messages: list[MessageExt], context: ConsumeConcurrentlyContext
    ) -> ConsumeConcurrentlyStatus:
        seen.append(record(messages[0]))
        if len(seen) == 1:
            return LATER
        done.set()
        return SUCCESS

    consumer = PushConsumer(group, client_config=client_config(cluster, "rl-c"), listener=listener)

    async def broker_refuses(message: MessageExt, delay_level: int, queue: MessageQueue) -> bool:
        return False

    consumer._send_message_back = broker_refuses  # type: ignore[method-assign]
    consumer.subscribe(topic)
    await consumer.start()
    try:
        async with Producer("retry-local-p", client_config=client_config(cluster, "rl-p")) as producer:
            await producer.send(Message(topic, b"local"))
        await asyncio.wait_for(done.wait(), 20)
    finally:
        await consumer.shutdown()
    assert [(d.topic, d.reconsume_times) for d in seen] == [(topic, 0), (topic, 1)]
    assert 4.8 <= seen[1].at - seen[0].at <= 7, "consumed again locally after 5 s"
    assert await pull_all(cluster, retry_topic(group)) == []


async def test_broadcasting_drops_a_failed_message(
    cluster: Cluster, tmp_path_factory: pytest.TempPathFactory
) -> None:
    topic, group = "RetryBroadcast", "retry-broadcast"
    await create_topic(cluster, topic, 1)
    seen: list[Delivery] = []
    second = asyncio.Event()

    def listener(
        messages: list[MessageExt], context: ConsumeConcurrentlyContext
    ) -> ConsumeConcurrentlyStatus:
        seen.append(record(messages[0]))
        if messages[0].body == b"second":
            second.set()
        return LATER

    consumer = PushConsumer(
        group,
        client_config=client_config(cluster, "rb-c"),
        config=PushConsumerConfig(
            message_model=MessageModel.BROADCASTING, offset_store_dir=tmp_path_factory.mktemp("offsets")
        ),
        listener=listener,
    )
    consumer.subscribe(topic)
    await consumer.start()
    try:
        async with Producer("retry-broadcast-p", client_config=client_config(cluster, "rb-p")) as producer:
            await producer.send(Message(topic, b"first"))
            await producer.send(Message(topic, b"second"))
        await asyncio.wait_for(second.wait(), 20)
        await asyncio.sleep(2.5)  # a retry would come after 1 s
        held = consumer.held_queues()
    finally:
        await consumer.shutdown()
    assert [(d.body, d.reconsume_times) for d in seen] == [("first", 0), ("second", 0)]
    assert {q.topic for q in held} == {topic}, "broadcasting consumers do not subscribe to the retry topic"
    assert await pull_all(cluster, retry_topic(group)) == []
