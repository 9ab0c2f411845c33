"""pocketmq's Python client and the official Apache RocketMQ client (C++ core) on one pocketmq cluster:
each consumes what the other produced, and both share one consumer group's queues."""

from __future__ import annotations

import asyncio
import os
from collections import Counter
from collections.abc import Iterator

import pytest

from pocketmq.client.consumer.consume_from import ConsumeFromWhere
from pocketmq.client.consumer.push_consumer import (
    ConsumeConcurrentlyContext,
    ConsumeConcurrentlyStatus,
    PushConsumer,
    PushConsumerConfig,
)
from pocketmq.client.instance import ClientConfig
from pocketmq.client.producer.producer import Producer
from pocketmq.common.message import Message, MessageExt
from tests.compat.cpp_client import CppClientUnavailableError, ensure_cpp_client, read_json_lines, run_script
from tests.support.client import create_topic
from tests.support.cluster import Cluster, running_cluster

pytestmark = [pytest.mark.compat_client, pytest.mark.timeout(180)]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    try:
        ensure_cpp_client()
    except CppClientUnavailableError as error:
        pytest.skip(f"the official client is not available: {error}")
    with running_cluster(tmp_path_factory.mktemp("cpp-interop")) as cluster:
        yield cluster


def config(cluster: Cluster, name: str) -> ClientConfig:
    return ClientConfig(namesrv_addr=cluster.namesrv_address, instance_name=name)


async def test_we_consume_what_the_official_client_sent(cluster: Cluster) -> None:
    topic = "InteropFromCpp"
    await create_topic(cluster, topic, 4)
    loop = asyncio.get_running_loop()
    sent = await loop.run_in_executor(
        None, run_script, "cpp_producer", [cluster.namesrv_address, topic, "20"]
    )
    big = await loop.run_in_executor(
        None,
        run_script,
        "cpp_producer",
        [cluster.namesrv_address, topic, "3", "--body-size", "6000", "--prefix", "big"],
    )
    assert len(sent) == 20 and len(big) == 3
    got: Counter[bytes] = Counter()
    keys: dict[bytes, str | None] = {}

    def listener(
        messages: list[MessageExt], context: ConsumeConcurrentlyContext
    ) -> ConsumeConcurrentlyStatus:
        for message in messages:
            got[message.body] += 1
            keys[message.body] = message.keys
        return ConsumeConcurrentlyStatus.CONSUME_SUCCESS

    consumer = PushConsumer(
        "interop-from-cpp",
        client_config=config(cluster, "ic"),
        config=PushConsumerConfig(consume_from_where=ConsumeFromWhere.CONSUME_FROM_FIRST_OFFSET),
        listener=listener,
    )
    consumer.subscribe(topic, "TagA")
    await consumer.start()
    try:
        async with asyncio.timeout(30):
            while len(got) < 23:
                await asyncio.sleep(0.05)
    finally:
        await consumer.shutdown()
    assert {body for body in got if body.startswith(b"cpp-")} == {f"cpp-{i}".encode() for i in range(20)}
    assert max(got.values()) == 1
    big_bodies = [body for body in got if body.startswith(b"big-")]
    assert len(big_bodies) == 3 and all(len(body) == 6000 for body in big_bodies)
    assert keys[b"cpp-7"] == "key-7 shared-1"


async def test_the_official_client_consumes_what_we_sent(cluster: Cluster) -> None:
    topic = "InteropToCpp"
    await create_topic(cluster, topic, 4)
    async with Producer("interop-p", client_config=config(cluster, "ip")) as producer:
        for i in range(20):
            await producer.send(Message(topic, f"py-{i}".encode(), tags="TagA", keys=[f"k{i}"]))
        await producer.send([Message(topic, f"py-batch-{i}".encode(), tags="TagA") for i in range(5)])
        await producer.send(Message(topic, b"z" * 9000, tags="TagA"))  # zlib-compressed on the wire
    loop = asyncio.get_running_loop()
    deliveries = await loop.run_in_executor(
        None,
        lambda: run_script(
            "cpp_push_consumer", [cluster.namesrv_address, "interop-to-cpp", topic, "26", "60"], timeout_s=90
        ),
    )
    bodies = Counter(str(d["body"]) for d in deliveries if "body" in d)
    expected = {f"py-{i}" for i in range(20)} | {f"py-batch-{i}" for i in range(5)} | {"z" * 9000}
    assert set(bodies) == expected, deliveries[-3:]
    assert max(bodies.values()) == 1


async def test_one_group_shared_by_both_clients_consumes_everything_once(cluster: Cluster) -> None:
    """Both allocate with AllocateMessageQueueAveragely over the same sorted ids: disjoint halves."""
    topic, group = "InteropShared", "interop-shared"
    await create_topic(cluster, topic, 8)
    got: Counter[str] = Counter()

    def listener(
        messages: list[MessageExt], context: ConsumeConcurrentlyContext
    ) -> ConsumeConcurrentlyStatus:
        got.update(m.body.decode() for m in messages)
        return ConsumeConcurrentlyStatus.CONSUME_SUCCESS

    consumer = PushConsumer(group, client_config=config(cluster, "is"), listener=listener)
    consumer.subscribe(topic)
    await consumer.start()
    cpp = await asyncio.create_subprocess_exec(
        str(ensure_cpp_client()),
        str(_script("cpp_push_consumer")),
        cluster.namesrv_address,
        group,
        topic,
        "1000",
        "15",  # seconds: it cannot know its share, so it stops by time
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
        env={**os.environ, "PYTHONPATH": ""},
    )
    try:
        async with asyncio.timeout(30):
            while len({q for q in consumer.held_queues() if q.topic == topic}) != 4:
                await asyncio.sleep(0.1)
        async with Producer("interop-shared-p", client_config=config(cluster, "isp")) as producer:
            for i in range(200):
                await producer.send(Message(topic, f"s{i}".encode()))
        stdout, _ = await asyncio.wait_for(cpp.communicate(), 60)
    finally:
        if cpp.returncode is None:
            cpp.kill()
            await cpp.wait()
        await consumer.shutdown()
    cpp_bodies = Counter(str(d["body"]) for d in read_json_lines(stdout.decode().splitlines()) if "body" in d)
    everything = got + cpp_bodies
    assert set(everything) == {f"s{i}" for i in range(200)}
    assert max(everything.values()) == 1
    assert got and cpp_bodies, "both clients took a share"


def _script(name: str) -> object:
    from tests.compat.cpp_client import SCRIPTS

    return SCRIPTS / f"{name}.py"
