"""The networked client against an in-memory name server + broker (fast; no processes)."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator

import pytest

from pocketmq.client.api import SendStatus
from pocketmq.client.consumer.push_consumer import (
    ConsumeConcurrentlyContext,
    ConsumeConcurrentlyStatus,
    PushConsumer,
)
from pocketmq.client.instance import ClientConfig
from pocketmq.client.producer.producer import Producer
from pocketmq.common.message import Message, MessageExt
from tests.integration.client_fake_cluster import FakeCluster

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
async def cluster() -> AsyncIterator[FakeCluster]:
    fake = await FakeCluster().start()
    yield fake
    await fake.stop()


def client_config(cluster: FakeCluster, name: str, **kwargs: int) -> ClientConfig:
    return ClientConfig(namesrv_addr=cluster.address, instance_name=name, **kwargs)


async def test_send_then_push_consume_every_message_once(cluster: FakeCluster) -> None:
    received: Counter[str] = Counter()
    done = asyncio.Event()
    total = 500

    def listener(
        messages: list[MessageExt], context: ConsumeConcurrentlyContext
    ) -> ConsumeConcurrentlyStatus:
        for message in messages:
            received[message.body.decode()] += 1
        if len(received) >= total:
            done.set()
        return ConsumeConcurrentlyStatus.CONSUME_SUCCESS

    async with Producer("pg", client_config=client_config(cluster, "p1")) as producer:
        results = await asyncio.gather(
            *(
                producer.send(Message("TopicA", f"m{i}".encode(), tags="TagA", keys=[f"k{i}"]))
                for i in range(total)
            )
        )
        assert all(r.send_status is SendStatus.SEND_OK for r in results)
        assert len({r.msg_id for r in results}) == total
    consumer = PushConsumer("cg", client_config=client_config(cluster, "c1"), listener=listener)
    consumer.subscribe("TopicA", "TagA || TagB")
    await consumer.start()
    try:
        await asyncio.wait_for(done.wait(), 20)
    finally:
        await consumer.shutdown()
    assert len(received) == total
    assert max(received.values()) == 1
