"""The networked client against real `mqnamesrv` and `mqbroker` processes (issue 3 acceptance)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from pocketmq.client.api import SendStatus
from pocketmq.client.blocking import BlockingLitePullConsumer, BlockingProducer
from pocketmq.client.consumer.consume_from import ConsumeFromWhere
from pocketmq.client.consumer.lite_pull_consumer import LitePullConsumer, LitePullConsumerConfig
from pocketmq.client.consumer.pull_consumer import PullConsumer
from pocketmq.client.consumer.push_consumer import (
    ConsumeConcurrentlyContext,
    ConsumeConcurrentlyStatus,
    PushConsumer,
)
from pocketmq.client.instance import ClientConfig
from pocketmq.client.producer.producer import Producer, ProducerConfig
from pocketmq.common.errors import PocketMQError
from pocketmq.common.message import Message, MessageExt, MessageQueue
from pocketmq.protocol import fastjson
from pocketmq.protocol.bodies.consumer import ConsumerRunningInfo
from pocketmq.protocol.codes import RequestCode, ResponseCode
from pocketmq.protocol.command import SerializeType, make_request
from pocketmq.remoting import RemotingClient
from tests.support.client import client_config, create_topic, start_broadcasting_consumers
from tests.support.cluster import Cluster, running_cluster

pytestmark = pytest.mark.timeout(120)

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    with running_cluster(tmp_path_factory.mktemp("client-cluster")) as cluster:
        yield cluster


async def send_all(producer: Producer, topic: str, count: int, concurrency: int = 32) -> set[str]:
    ids: set[str] = set()

    async def worker(start: int) -> None:
        for i in range(start, count, concurrency):
            result = await producer.send(Message(topic, f"msg-{i}".encode(), tags="TagA", keys=[f"key-{i}"]))
            assert result.send_status is SendStatus.SEND_OK
            assert result.msg_id is not None
            ids.add(result.msg_id)

    await asyncio.gather(*(worker(i) for i in range(concurrency)))
    return ids


async def test_ten_thousand_messages_are_received_exactly_once(cluster: Cluster) -> None:
    topic, total = "ClientExactlyOnce", 10_000
    await create_topic(cluster, topic, 4)
    received: Counter[str] = Counter()
    done = asyncio.Event()

    async def listener(
        messages: list[MessageExt], context: ConsumeConcurrentlyContext
    ) -> ConsumeConcurrentlyStatus:
        for message in messages:
            received[message.body.decode()] += 1
        if len(received) >= total:
            done.set()
        return ConsumeConcurrentlyStatus.CONSUME_SUCCESS

    consumer = PushConsumer("client-eo", client_config=client_config(cluster, "eo-c"), listener=listener)
    consumer.subscribe(topic, "TagA || TagB")
    await consumer.start()
    try:
        async with Producer("client-eo-p", client_config=client_config(cluster, "eo-p")) as producer:
            ids = await send_all(producer, topic, total)
        assert len(ids) == total
        await asyncio.wait_for(done.wait(), 60)
        await asyncio.sleep(0.5)  # let any duplicate show up
    finally:
        await consumer.shutdown()
    duplicates = {body: n for body, n in received.items() if n > 1}
    assert len(received) == total
    assert not duplicates, f"{len(duplicates)} duplicates: {list(duplicates.items())[:5]}"


async def test_two_consumers_share_eight_queues_and_one_takes_over_after_sigkill(cluster: Cluster) -> None:
    topic, group, rebalance_ms = "ClientRebalance", "client-rb", 2000
    await create_topic(cluster, topic, 8)

    def ok(messages: list[MessageExt], context: ConsumeConcurrentlyContext) -> ConsumeConcurrentlyStatus:
        return ConsumeConcurrentlyStatus.CONSUME_SUCCESS

    consumer = PushConsumer(
        group, client_config=client_config(cluster, "rb-a", rebalance_interval_ms=rebalance_ms), listener=ok
    )
    consumer.subscribe(topic)
    await consumer.start()
    args = [cluster.namesrv_address, group, topic, "rb-b", str(rebalance_ms)]
    other = subprocess.Popen(
        [sys.executable, "-m", "tests.integration.client_consumer_process", *args],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    try:
        assert other.stdout is not None
        loop = asyncio.get_running_loop()
        other_held = 0
        async with asyncio.timeout(30):
            while other_held != 4:
                line = await loop.run_in_executor(None, other.stdout.readline)
                assert line, "the other consumer exited"
                if line.startswith("HELD "):
                    other_held = int(line.split()[1])
            while len(mine := {q for q in consumer.held_queues() if q.topic == topic}) != 4:
                await asyncio.sleep(0.05)
        assert len(mine) == 4
        other.kill()
        other.wait(10)
        killed_at = loop.time()
        async with asyncio.timeout(rebalance_ms / 1000 + 5):
            while len({q for q in consumer.held_queues() if q.topic == topic}) != 8:
                await asyncio.sleep(0.05)
        took_over_s = loop.time() - killed_at
        print(f"took over all 8 queues {took_over_s:.2f} s after SIGKILL")
    finally:
        if other.poll() is None:
            other.kill()
            other.wait(10)
        if other.stdout is not None:
            other.stdout.close()
        await consumer.shutdown()


async def test_broadcasting_delivers_everything_to_every_consumer(cluster: Cluster, tmp_path: Path) -> None:
    topic, total = "ClientBroadcast", 500
    await create_topic(cluster, topic, 4)
    got, consumers = await start_broadcasting_consumers(
        cluster, "client-bc", topic, instance_prefix="bc", offset_store_dir=tmp_path
    )
    try:
        async with Producer("client-bc-p", client_config=client_config(cluster, "bc-p")) as producer:
            await send_all(producer, topic, total)
        async with asyncio.timeout(30):
            while not all(len(c) == total for c in got.values()):
                await asyncio.sleep(0.05)
    finally:
        for consumer in consumers:
            await consumer.shutdown()
    for counts in got.values():
        assert len(counts) == total and max(counts.values()) == 1


async def test_pull_consumers_seek_and_reread(cluster: Cluster) -> None:
    topic = "ClientPullSeek"
    await create_topic(cluster, topic, 2)
    queue = MessageQueue(topic, cluster.broker_name, 1)
    async with Producer("client-ps-p", client_config=client_config(cluster, "ps-p")) as producer:
        for i in range(40):
            await producer.send(Message(topic, f"p{i}".encode(), tags="A" if i % 2 else "B"), queue)
    async with PullConsumer("client-ps", client_config=client_config(cluster, "ps-c")) as puller:
        assert queue in await puller.fetch_message_queues(topic)
        result = await puller.pull(queue, "A", 0, 32)
        assert [m.body for m in result.messages] == [f"p{i}".encode() for i in range(1, 40, 2)]
        again = await puller.pull(queue, "*", 5, 3)
        assert [m.body for m in again.messages] == [b"p5", b"p6", b"p7"]
    lite = LitePullConsumer(
        "client-lite",
        client_config=client_config(cluster, "ps-l"),
        config=LitePullConsumerConfig(consume_from_where=ConsumeFromWhere.CONSUME_FROM_FIRST_OFFSET),
    )
    await lite.assign([queue])
    await lite.start()
    try:
        bodies: list[bytes] = []
        async with asyncio.timeout(20):
            while len(bodies) < 40:
                bodies.extend(m.body for m in await lite.poll(1000))
        assert bodies == [f"p{i}".encode() for i in range(40)]
        await lite.seek(queue, 30)
        reread: list[bytes] = []
        async with asyncio.timeout(20):
            while len(reread) < 10:
                reread.extend(m.body for m in await lite.poll(1000))
        assert reread == [f"p{i}".encode() for i in range(30, 40)]
        await lite.commit()
    finally:
        await lite.shutdown()


def test_blocking_facade_sends_and_polls(cluster: Cluster) -> None:
    topic = "ClientBlocking"
    asyncio.run(create_topic(cluster, topic, 1))
    with BlockingProducer("client-bl-p", client_config=client_config(cluster, "bl-p")) as producer:
        results = [producer.send(Message(topic, f"b{i}".encode())) for i in range(5)]
        results.append(producer.send_async(Message(topic, b"b5")).result(5))
    assert [r.queue_offset for r in results] == list(range(6))
    with BlockingLitePullConsumer(
        "client-bl",
        client_config=client_config(cluster, "bl-c"),
        config=LitePullConsumerConfig(consume_from_where=ConsumeFromWhere.CONSUME_FROM_FIRST_OFFSET),
    ) as consumer:
        consumer.assign([MessageQueue(topic, cluster.broker_name, 0)])
        bodies: list[bytes] = []
        for _ in range(20):
            bodies.extend(m.body for m in consumer.poll(1000))
            if len(bodies) == 6:
                break
    assert bodies == [f"b{i}".encode() for i in range(6)]


@pytest.mark.long
async def test_reconsume_later_is_redelivered_through_the_retry_topic(cluster: Cluster) -> None:
    topic = "ClientRetry"
    await create_topic(cluster, topic, 1)
    seen: list[tuple[str, int, bytes]] = []
    done = asyncio.Event()

    async def listener(
        messages: list[MessageExt], context: ConsumeConcurrentlyContext
    ) -> ConsumeConcurrentlyStatus:
        message = messages[0]
        seen.append((message.topic, message.reconsume_times, message.body))
        if message.reconsume_times == 0:
            return ConsumeConcurrentlyStatus.RECONSUME_LATER
        done.set()
        return ConsumeConcurrentlyStatus.CONSUME_SUCCESS

    consumer = PushConsumer("client-retry", client_config=client_config(cluster, "rt-c"), listener=listener)
    consumer.subscribe(topic)
    await consumer.start()
    try:
        async with Producer("client-retry-p", client_config=client_config(cluster, "rt-p")) as producer:
            await producer.send(Message(topic, b"retry-me"))
        await asyncio.wait_for(done.wait(), 60)  # delay level 3: 10 s
    finally:
        await consumer.shutdown()
    assert seen[0] == (topic, 0, b"retry-me")
    assert seen[-1] == (topic, 1, b"retry-me")


@pytest.mark.long
async def test_clients_carry_on_after_the_broker_is_killed_and_restarted(tmp_path: Path) -> None:
    cluster = Cluster(tmp_path / "restart")
    cluster.start()
    try:
        topic = "ClientRestart"
        await create_topic(cluster, topic, 4)
        received: Counter[str] = Counter()

        async def listener(
            messages: list[MessageExt], context: ConsumeConcurrentlyContext
        ) -> ConsumeConcurrentlyStatus:
            received.update(m.body.decode() for m in messages)
            return ConsumeConcurrentlyStatus.CONSUME_SUCCESS

        consumer = PushConsumer(
            "client-restart", client_config=client_config(cluster, "rs-c"), listener=listener
        )
        consumer.subscribe(topic)
        await consumer.start()
        producer = Producer("client-restart-p", client_config=client_config(cluster, "rs-p"))
        await producer.start()
        try:
            for i in range(300):
                await producer.send(Message(topic, f"before-{i}".encode()))
            async with asyncio.timeout(30):
                while len(received) < 300:
                    await asyncio.sleep(0.05)
            cluster.kill_broker()
            cluster.start_broker()
            sent_after = 0
            async with asyncio.timeout(60):
                while sent_after < 300:
                    try:
                        await producer.send(Message(topic, f"after-{sent_after}".encode()))
                    except PocketMQError:
                        await asyncio.sleep(0.2)  # the broker is still coming back
                        continue
                    sent_after += 1
                while sum(1 for body in received if body.startswith("after-")) < 300:
                    await asyncio.sleep(0.05)
        finally:
            await producer.shutdown()
            await consumer.shutdown()
    finally:
        cluster.stop()


async def test_rocketmq_binary_headers_work_end_to_end(cluster: Cluster) -> None:
    topic = "ClientBinaryHeaders"
    await create_topic(cluster, topic, 1)
    binary = ClientConfig(
        namesrv_addr=cluster.namesrv_address, instance_name="bin", serialize_type=SerializeType.ROCKETMQ
    )
    async with Producer("client-bin-p", client_config=binary) as producer:
        results = [await producer.send(Message(topic, f"r{i}".encode(), tags="TagBin")) for i in range(3)]
    assert [r.queue_offset for r in results] == [0, 1, 2]
    async with PullConsumer("client-bin", client_config=binary) as puller:
        pulled = await puller.pull(MessageQueue(topic, cluster.broker_name, 0), "TagBin", 0, 32)
    assert [m.body for m in pulled.messages] == [b"r0", b"r1", b"r2"]


def test_bench_tools_run_against_the_cluster(cluster: Cluster) -> None:
    from click.testing import CliRunner

    from pocketmq.cli.main import cli

    runner = CliRunner()
    namesrv = cluster.namesrv_address
    for mode in ("sync", "async", "batch"):
        result = runner.invoke(
            cli,
            [
                "bench",
                "producer",
                "-n",
                namesrv,
                "-t",
                "ClientBench",
                "-w",
                "4",
                "--count",
                "200",
                "-m",
                mode,
            ],
        )
        assert result.exit_code == 0, result.output
        assert "200 ok, 0 failed" in result.output, result.output
    result = runner.invoke(
        cli, ["bench", "consumer", "-n", namesrv, "-t", "ClientBench", "--from-first", "--count", "600"]
    )
    assert result.exit_code == 0, result.output
    # 603 messages are there (one warm-up send per producer run): the count stops at 600
    assert "600 ok, 0 failed" in result.output, result.output
    assert "avg born-to-consume:" in result.output and "avg store-to-consume:" in result.output


async def test_admin_requests_reach_the_consumer_through_the_broker(cluster: Cluster) -> None:
    """mqadmin consumerStatus / consumeMessage / resetOffsetByTime: the broker forwards them to us."""
    topic, group = "ClientAdmin", "client-admin"
    await create_topic(cluster, topic, 1)
    bodies: list[bytes] = []

    async def listener(
        messages: list[MessageExt], context: ConsumeConcurrentlyContext
    ) -> ConsumeConcurrentlyStatus:
        bodies.extend(m.body for m in messages)
        return ConsumeConcurrentlyStatus.CONSUME_SUCCESS

    consumer = PushConsumer(group, client_config=client_config(cluster, "adm-c"), listener=listener)
    consumer.subscribe(topic)
    await consumer.start()
    try:
        async with Producer("client-admin-p", client_config=client_config(cluster, "adm-p")) as producer:
            sent = [await producer.send(Message(topic, f"a{i}".encode())) for i in range(3)]
        async with asyncio.timeout(10):
            while len(bodies) < 3:
                await asyncio.sleep(0.02)
        await consumer.persist_consumer_offset()
        client_id = consumer.instance.client_id
        async with RemotingClient() as admin:
            info = await admin.invoke(
                cluster.broker_address,
                make_request(
                    RequestCode.GET_CONSUMER_RUNNING_INFO, {"consumerGroup": group, "clientId": client_id}
                ),
                5000,
            )
            assert info.code == ResponseCode.SUCCESS, info
            running = ConsumerRunningInfo.decode(info.body)
            assert {s.topic for s in running.subscriptions} == {topic, f"%RETRY%{group}"}
            assert MessageQueue(topic, cluster.broker_name, 0) in running.queues

            direct = await admin.invoke(
                cluster.broker_address,
                make_request(
                    RequestCode.CONSUME_MESSAGE_DIRECTLY,
                    {"consumerGroup": group, "clientId": client_id, "msgId": sent[1].offset_msg_id},
                ),
                5000,
            )
            assert direct.code == ResponseCode.SUCCESS, direct
            assert fastjson.loads(direct.body or b"")["consumeResult"] == "CR_SUCCESS"
            assert bodies.count(b"a1") == 2

            reset = await admin.invoke(
                cluster.broker_address,
                make_request(
                    RequestCode.INVOKE_BROKER_TO_RESET_OFFSET,
                    {"topic": topic, "group": group, "timestamp": "0", "isForce": "true"},
                ),
                5000,
            )
            assert reset.code == ResponseCode.SUCCESS, reset
        async with asyncio.timeout(10):
            while bodies.count(b"a0") < 2 or bodies.count(b"a2") < 2:  # all read again from offset 0
                await asyncio.sleep(0.02)
    finally:
        await consumer.shutdown()


async def test_sql92_subscription_is_filtered_by_the_broker(tmp_path: Path) -> None:
    cluster = Cluster(tmp_path / "sql92", {"enablePropertyFilter": "true"})
    cluster.start()
    try:
        topic = "ClientSql92"
        await create_topic(cluster, topic, 2)
        got: list[bytes] = []

        def listener(
            messages: list[MessageExt], context: ConsumeConcurrentlyContext
        ) -> ConsumeConcurrentlyStatus:
            got.extend(m.body for m in messages)
            return ConsumeConcurrentlyStatus.CONSUME_SUCCESS

        consumer = PushConsumer(
            "client-sql", client_config=client_config(cluster, "sql-c"), listener=listener
        )
        consumer.subscribe(topic, "a > 5 AND b = 'x'", "SQL92")
        await consumer.start()
        try:
            async with Producer("client-sql-p", client_config=client_config(cluster, "sql-p")) as producer:
                for i in range(10):
                    properties = {"a": str(i), "b": "x" if i % 2 else "y"}
                    await producer.send(Message(topic, f"m{i}".encode(), properties=properties))
            async with asyncio.timeout(10):
                while len(got) < 2:
                    await asyncio.sleep(0.02)
            await asyncio.sleep(0.3)
        finally:
            await consumer.shutdown()
        assert sorted(got) == [b"m7", b"m9"]
    finally:
        cluster.stop()


async def test_a_tag_with_the_same_hash_code_does_not_reach_the_listener(cluster: Cluster) -> None:
    """ "Aa" and "BB" share Java's String.hashCode (2112): the broker's ConsumeQueue filter lets both
    through; the client's exact tag check keeps only the subscribed one."""
    topic = "ClientTagCollision"
    await create_topic(cluster, topic, 1)
    got: list[tuple[str | None, bytes]] = []

    def listener(
        messages: list[MessageExt], context: ConsumeConcurrentlyContext
    ) -> ConsumeConcurrentlyStatus:
        got.extend((m.tags, m.body) for m in messages)
        return ConsumeConcurrentlyStatus.CONSUME_SUCCESS

    consumer = PushConsumer(
        "client-collide", client_config=client_config(cluster, "col-c"), listener=listener
    )
    consumer.subscribe(topic, "Aa")
    await consumer.start()
    try:
        async with Producer("client-collide-p", client_config=client_config(cluster, "col-p")) as producer:
            for tag in ("BB", "Aa", "BB", "Aa", "Other"):
                await producer.send(Message(topic, tag.encode(), tags=tag))
        async with asyncio.timeout(10):
            while len(got) < 2:
                await asyncio.sleep(0.02)
        await asyncio.sleep(0.3)
    finally:
        await consumer.shutdown()
    assert got == [("Aa", b"Aa"), ("Aa", b"Aa")]
    async with PullConsumer("client-collide-pull", client_config=client_config(cluster, "col-l")) as puller:
        pulled = await puller.pull(MessageQueue(topic, cluster.broker_name, 0), "Aa", 0, 32)
    assert [m.tags for m in pulled.messages] == ["Aa", "Aa"]


@pytest.mark.long
async def test_a_consumer_started_while_the_broker_is_down_catches_up(tmp_path: Path) -> None:
    cluster = Cluster(tmp_path / "late-broker")
    cluster.start()
    try:
        topic = "ClientLateBroker"
        await create_topic(cluster, topic, 2)
        cluster.kill_broker()
        got: list[bytes] = []

        def listener(
            messages: list[MessageExt], context: ConsumeConcurrentlyContext
        ) -> ConsumeConcurrentlyStatus:
            got.extend(m.body for m in messages)
            return ConsumeConcurrentlyStatus.CONSUME_SUCCESS

        fast = ClientConfig(
            namesrv_addr=cluster.namesrv_address,
            instance_name="late-c",
            poll_name_server_interval_ms=500,
            rebalance_interval_ms=500,
        )
        consumer = PushConsumer("client-late", client_config=fast, listener=listener)
        consumer.subscribe(topic)
        await consumer.start()
        try:
            await asyncio.sleep(1)
            cluster.start_broker()
            async with Producer("client-late-p", client_config=client_config(cluster, "late-p")) as producer:
                async with asyncio.timeout(30):
                    while True:
                        try:
                            await producer.send(Message(topic, b"after the broker came back"))
                            break
                        except PocketMQError:
                            await asyncio.sleep(0.2)
            async with asyncio.timeout(30):
                while not got:
                    await asyncio.sleep(0.05)
        finally:
            await consumer.shutdown()
        assert got == [b"after the broker came back"]
    finally:
        cluster.stop()


async def test_message_trace_reaches_the_trace_topic(cluster: Cluster) -> None:
    topic = "ClientTraced"
    await create_topic(cluster, topic, 1)
    traced = ProducerConfig(enable_msg_trace=True, trace_topic="ClientTraceTopic")
    async with Producer(
        "client-traced-p", client_config=client_config(cluster, "tr-p"), config=traced
    ) as producer:
        sent = await producer.send(Message(topic, b"traced", tags="TagT"))
    async with PullConsumer("client-trace-reader", client_config=client_config(cluster, "tr-r")) as puller:
        bodies: list[str] = []
        async with asyncio.timeout(15):
            while not bodies:
                with contextlib.suppress(PocketMQError):  # the trace topic may not be routed yet
                    for queue in await puller.fetch_message_queues("ClientTraceTopic"):
                        result = await puller.pull(queue, "*", 0, 32)
                        bodies += [m.body.decode() for m in result.messages]
                await asyncio.sleep(0.1)
    [record] = [line.split("\x01") for body in bodies for line in body.split("\x02") if line]
    assert record[0] == "Pub" and record[4] == topic and record[5] == sent.msg_id and record[13] == "true"
