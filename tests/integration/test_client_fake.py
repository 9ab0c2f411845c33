"""The networked client against an in-memory name server + broker (fast; no processes)."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from pocketmq.client.api import SendResult, SendStatus
from pocketmq.client.consumer.consume_from import ConsumeFromWhere
from pocketmq.client.consumer.lite_pull_consumer import LitePullConsumer, LitePullConsumerConfig
from pocketmq.client.consumer.pull_consumer import PullConsumer
from pocketmq.client.consumer.push_consumer import (
    ConsumeConcurrentlyContext,
    ConsumeConcurrentlyStatus,
    PushConsumer,
    PushConsumerConfig,
)
from pocketmq.client.producer.producer import Producer, ProducerConfig
from pocketmq.common.clock import FakeClock, now_ms
from pocketmq.common.errors import ClientError
from pocketmq.common.message import Message, MessageExt, MessageQueue, string_to_properties
from pocketmq.protocol.codes import RequestCode, ResponseCode
from tests.integration.client_fake_cluster import FakeCluster
from tests.support.client import client_config, start_broadcasting_consumers

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
async def cluster() -> AsyncIterator[FakeCluster]:
    fake = await FakeCluster().start()
    yield fake
    await fake.stop()


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


async def test_batch_async_oneway_selector_and_compression(cluster: FakeCluster) -> None:
    async with Producer("pg2", client_config=client_config(cluster, "p2")) as producer:
        batch = [Message("TopicB", f"b{i}".encode(), tags="T") for i in range(10)]
        result = await producer.send(batch)
        assert result.msg_id is not None and len(result.msg_id.split(",")) == 10
        assert len(result.offset_msg_id.split(",")) == 10
        async_result = await producer.send_async(Message("TopicB", b"async"))
        assert async_result.send_status is SendStatus.SEND_OK
        seen: list[SendResult] = []
        await producer.send_async(Message("TopicB", b"cb"), lambda r, e: seen.append(r))  # type: ignore[arg-type]
        await asyncio.sleep(0)
        assert seen and seen[0] is not None
        await producer.send_oneway(Message("TopicB", b"oneway"))
        by_key = [await producer.send(Message("TopicB", b"o"), sharding_key="order-1") for _ in range(3)]
        assert len({r.message_queue for r in by_key}) == 1
        big = bytes(range(256)) * 40
        big_result = await producer.send(Message("TopicB", big))
    sends = [
        r for r in cluster.requests if r.body and len(r.body) < len(big) and r.ext_fields.get("f") == "769"
    ]
    assert sends, "a body over 4 KiB is sent zlib-compressed with sysFlag 769"
    consumer = PullConsumer("pull-g", client_config=client_config(cluster, "pc"))
    await consumer.start()
    try:
        queue = big_result.message_queue
        pulled = await consumer.pull(queue, "*", big_result.queue_offset, 1)
        assert pulled.messages[0].body == big
        assert pulled.messages[0].msg_id == big_result.msg_id
    finally:
        await consumer.shutdown()
    assert cluster.message_count("TopicB") == 10 + 1 + 1 + 1 + 3 + 1


async def test_two_consumers_share_queues_and_one_takes_over(cluster: FakeCluster) -> None:
    cluster.create_topic("TopicR", 8)

    def ok(messages: list[MessageExt], context: ConsumeConcurrentlyContext) -> ConsumeConcurrentlyStatus:
        return ConsumeConcurrentlyStatus.CONSUME_SUCCESS

    config = client_config(cluster, "r1", rebalance_interval_ms=1000)
    first = PushConsumer("rg", client_config=config, listener=ok)
    second = PushConsumer(
        "rg", client_config=client_config(cluster, "r2", rebalance_interval_ms=1000), listener=ok
    )
    for consumer in (first, second):
        consumer.subscribe("TopicR")
        await consumer.start()
    try:
        for _ in range(100):
            a = {q for q in first.held_queues() if q.topic == "TopicR"}
            b = {q for q in second.held_queues() if q.topic == "TopicR"}
            if len(a) == 4 and len(b) == 4:
                break
            await asyncio.sleep(0.1)
        assert len(a) == 4 and len(b) == 4 and not a & b
        # The second disappears without unregistering: its connections just close.
        second._running = False
        await second.instance.remoting.close()
        for _ in range(100):
            if len({q for q in first.held_queues() if q.topic == "TopicR"}) == 8:
                break
            await asyncio.sleep(0.1)
        assert len({q for q in first.held_queues() if q.topic == "TopicR"}) == 8
    finally:
        await first.shutdown()


async def test_broadcasting_delivers_everything_to_every_consumer(
    cluster: FakeCluster, tmp_path: Path
) -> None:
    cluster.create_topic("TopicBC", 4)
    got, consumers = await start_broadcasting_consumers(
        cluster, "bg", "TopicBC", instance_prefix="b", offset_store_dir=tmp_path
    )
    try:
        async with Producer("pg3", client_config=client_config(cluster, "p3")) as producer:
            await asyncio.gather(*(producer.send(Message("TopicBC", f"m{i}".encode())) for i in range(200)))
        for _ in range(100):
            if all(len(c) == 200 for c in got.values()):
                break
            await asyncio.sleep(0.1)
        assert all(len(c) == 200 and max(c.values()) == 1 for c in got.values()), {
            k: (len(c), max(c.values(), default=0)) for k, c in got.items()
        }
    finally:
        for consumer in consumers:
            await consumer.shutdown()
    assert list(tmp_path.glob("*/bg/offsets.json"))


async def test_reconsume_later_comes_back_through_the_retry_topic(cluster: FakeCluster) -> None:
    seen: list[tuple[str, int]] = []
    done = asyncio.Event()

    async def listener(
        messages: list[MessageExt], context: ConsumeConcurrentlyContext
    ) -> ConsumeConcurrentlyStatus:
        message = messages[0]
        seen.append((message.topic, message.reconsume_times))
        if message.reconsume_times == 0:
            return ConsumeConcurrentlyStatus.RECONSUME_LATER
        done.set()
        return ConsumeConcurrentlyStatus.CONSUME_SUCCESS

    cluster.create_topic("TopicRT", 4)
    consumer = PushConsumer("retry-g", client_config=client_config(cluster, "rt"), listener=listener)
    consumer.subscribe("TopicRT")
    await consumer.start()
    try:
        async with Producer("pg4", client_config=client_config(cluster, "p4")) as producer:
            await producer.send(Message("TopicRT", b"retry-me"))
        await asyncio.wait_for(done.wait(), 15)
    finally:
        await consumer.shutdown()
    assert seen[0] == ("TopicRT", 0) and seen[-1] == ("TopicRT", 1)


async def test_lite_pull_consumer_polls_seeks_and_rereads(cluster: FakeCluster) -> None:
    cluster.create_topic("TopicL", 2)
    async with Producer("pg5", client_config=client_config(cluster, "p5")) as producer:
        queue = MessageQueue("TopicL", cluster.broker_name, 1)
        for i in range(30):
            await producer.send(Message("TopicL", f"l{i}".encode()), queue)
    consumer = LitePullConsumer(
        "lite-g",
        client_config=client_config(cluster, "lp"),
        config=LitePullConsumerConfig(consume_from_where=ConsumeFromWhere.CONSUME_FROM_FIRST_OFFSET),
    )
    await consumer.assign([queue])
    await consumer.start()
    try:
        bodies: list[bytes] = []
        while len(bodies) < 30:
            batch = await consumer.poll(5000)
            assert batch, "poll timed out"
            bodies.extend(m.body for m in batch)
        assert bodies == [f"l{i}".encode() for i in range(30)]
        await consumer.commit()  # oneway, as Java: give the fake broker a moment
        for _ in range(250):
            if cluster.offsets.get(("lite-g", "TopicL", 1)) == 30:
                break
            await asyncio.sleep(0.02)
        assert cluster.offsets.get(("lite-g", "TopicL", 1)) == 30
        await consumer.seek(queue, 10)
        again: list[bytes] = []
        while len(again) < 20:
            batch = await consumer.poll(5000)
            assert batch, "poll after seek timed out"
            again.extend(m.body for m in batch)
        assert again == [f"l{i}".encode() for i in range(10, 30)]
    finally:
        await consumer.shutdown()


@pytest.mark.parametrize("latency_fault", [False, True])
async def test_failed_sends_are_retried_on_another_broker(cluster: FakeCluster, latency_fault: bool) -> None:
    failing = FakeCluster(broker_name="broker-b")
    await failing.start()
    failing.fail_sends_with = ResponseCode.SYSTEM_ERROR
    cluster.peers.append(failing)
    cluster.create_topic("TopicF", 4)
    failing.create_topic("TopicF", 4)
    try:
        async with Producer(
            "pgf",
            client_config=client_config(cluster, f"pf-{latency_fault}"),
            config=ProducerConfig(send_latency_fault_enable=latency_fault),
        ) as producer:
            results = [await producer.send(Message("TopicF", f"f{i}".encode())) for i in range(20)]
        assert all(r.message_queue.broker_name == "broker-a" for r in results)
        assert cluster.message_count("TopicF") == 20
        attempts_on_b = len(failing.requests_of(RequestCode.SEND_MESSAGE_V2))
        assert attempts_on_b >= 1
        if latency_fault:
            assert attempts_on_b == 1, "a failed broker is set aside after one failure"
    finally:
        await failing.stop()


async def test_send_to_an_unknown_topic_goes_through_tbw102(cluster: FakeCluster) -> None:
    async with Producer("pga", client_config=client_config(cluster, "pa")) as producer:
        result = await producer.send(Message("AutoCreated", b"x"))
    assert result.send_status is SendStatus.SEND_OK
    send = cluster.requests_of(RequestCode.SEND_MESSAGE_V2)[-1]
    assert send.ext_fields["b"] == "AutoCreated" and send.ext_fields["c"] == "TBW102"
    assert cluster.message_count("AutoCreated") == 1


async def test_bad_messages_are_refused_before_sending(cluster: FakeCluster) -> None:
    async with Producer("pgb", client_config=client_config(cluster, "pb")) as producer:
        for message in (
            Message("bad topic!", b"x"),
            Message("TopicOK", b""),
            Message("TopicOK", b"x" * (4 * 1024 * 1024 + 1)),
        ):
            with pytest.raises(ClientError):
                await producer.send(message)
    assert not cluster.requests_of(RequestCode.SEND_MESSAGE_V2)


async def test_lite_pull_consumer_subscribe_mode_gets_queues_from_rebalance(cluster: FakeCluster) -> None:
    cluster.create_topic("TopicLS", 4)
    async with Producer("pg6", client_config=client_config(cluster, "p6")) as producer:
        await asyncio.gather(
            *(producer.send(Message("TopicLS", f"s{i}".encode(), tags="X")) for i in range(40))
        )
    consumer = LitePullConsumer(
        "lite-s",
        client_config=client_config(cluster, "ls"),
        config=LitePullConsumerConfig(consume_from_where=ConsumeFromWhere.CONSUME_FROM_FIRST_OFFSET),
    )
    consumer.subscribe("TopicLS", "X")
    await consumer.start()
    try:
        got: Counter[bytes] = Counter()
        async with asyncio.timeout(10):
            while len(got) < 40:
                got.update(m.body for m in await consumer.poll(500))
        assert max(got.values()) == 1
        assert len(consumer.assignment()) == 4
    finally:
        await consumer.shutdown()


async def test_a_listener_call_stuck_past_the_consume_timeout_is_sent_back(cluster: FakeCluster) -> None:
    cluster.create_topic("TopicStuck", 1)
    clock = FakeClock(start_ms=now_ms())
    release = asyncio.Event()
    calls: list[int] = []

    async def listener(
        messages: list[MessageExt], context: ConsumeConcurrentlyContext
    ) -> ConsumeConcurrentlyStatus:
        calls.append(messages[0].reconsume_times)
        if messages[0].reconsume_times == 0:
            await release.wait()  # stuck
        return ConsumeConcurrentlyStatus.CONSUME_SUCCESS

    consumer = PushConsumer(
        "stuck-g", client_config=client_config(cluster, "st"), listener=listener, clock=clock
    )
    consumer.subscribe("TopicStuck")
    await consumer.start()
    try:
        async with Producer("pg7", client_config=client_config(cluster, "p7")) as producer:
            await producer.send(Message("TopicStuck", b"slow"))
        async with asyncio.timeout(10):
            while not calls:
                await asyncio.sleep(0.02)
        assert await consumer.clean_expired_messages() == 0
        clock.advance(16 * 60_000)
        assert await consumer.clean_expired_messages() == 1
        async with asyncio.timeout(10):
            while calls != [0, 1]:
                await asyncio.sleep(0.02)
    finally:
        release.set()
        await consumer.shutdown()
    assert cluster.offsets[("stuck-g", "TopicStuck", 0)] == 1


async def test_topic_wide_cache_limits_are_split_over_the_held_queues(cluster: FakeCluster) -> None:
    cluster.create_topic("TopicT", 4)

    def ok(messages: list[MessageExt], context: ConsumeConcurrentlyContext) -> ConsumeConcurrentlyStatus:
        return ConsumeConcurrentlyStatus.CONSUME_SUCCESS

    consumer = PushConsumer(
        "thr-g",
        client_config=client_config(cluster, "thr"),
        config=PushConsumerConfig(pull_threshold_for_topic=100, pull_threshold_size_for_topic_mib=10),
        listener=ok,
    )
    consumer.subscribe("TopicT")
    await consumer.start()
    try:
        async with asyncio.timeout(10):
            while len(consumer.held_queues()) < 5:  # 4 + the retry queue
                await asyncio.sleep(0.02)
        assert consumer._flow_control.pull_threshold_for_queue == 20
        assert consumer._flow_control.pull_threshold_size_for_queue_mib == 2
    finally:
        await consumer.shutdown()


async def test_no_message_is_lost_while_consumers_join_leave_and_die(cluster: FakeCluster) -> None:
    """At least once through rebalances: every message is consumed; duplicates only after a
    consumer died before committing (RocketMQ allows those) and are reported."""
    cluster.create_topic("TopicChurn", 8)
    total = 3000
    received: Counter[str] = Counter()

    async def listener(
        messages: list[MessageExt], context: ConsumeConcurrentlyContext
    ) -> ConsumeConcurrentlyStatus:
        received.update(m.body.decode() for m in messages)
        await asyncio.sleep(0)
        return ConsumeConcurrentlyStatus.CONSUME_SUCCESS

    def consumer(name: str) -> PushConsumer:
        made = PushConsumer(
            "churn-g",
            client_config=client_config(
                cluster, name, rebalance_interval_ms=500, persist_consumer_offset_interval_ms=200
            ),
            config=PushConsumerConfig(consume_from_where=ConsumeFromWhere.CONSUME_FROM_FIRST_OFFSET),
            listener=listener,
        )
        made.subscribe("TopicChurn")
        return made

    async def produce() -> None:
        async with Producer("pg-churn", client_config=client_config(cluster, "p-churn")) as producer:
            for i in range(total):
                await producer.send(Message("TopicChurn", f"c{i}".encode()))
                if i % 100 == 0:
                    await asyncio.sleep(0.02)

    first, second, third = consumer("ch1"), consumer("ch2"), consumer("ch3")
    producing = asyncio.create_task(produce())
    await first.start()
    await asyncio.sleep(0.3)
    await second.start()
    await asyncio.sleep(0.3)
    await third.start()
    await asyncio.sleep(0.3)
    await second.shutdown()  # leaves cleanly: commits, unregisters
    await asyncio.sleep(0.3)
    third._running = False  # dies: nothing committed after its last periodic commit
    await third.instance.shutdown()
    await producing
    try:
        async with asyncio.timeout(30):
            while len(received) < total:
                await asyncio.sleep(0.05)
    finally:
        await first.shutdown()
    assert set(received) == {f"c{i}" for i in range(total)}
    duplicates = sum(n - 1 for n in received.values())
    print(f"{duplicates} duplicate deliveries of {total} messages through 2 joins, a leave and a death")


async def test_unsubscribe_drops_the_topics_queues(cluster: FakeCluster) -> None:
    cluster.create_topic("TopicU1", 2)
    cluster.create_topic("TopicU2", 2)

    def ok(messages: list[MessageExt], context: ConsumeConcurrentlyContext) -> ConsumeConcurrentlyStatus:
        return ConsumeConcurrentlyStatus.CONSUME_SUCCESS

    consumer = PushConsumer("unsub-g", client_config=client_config(cluster, "un"), listener=ok)
    consumer.subscribe("TopicU1")
    consumer.subscribe("TopicU2")
    await consumer.start()
    try:
        async with asyncio.timeout(10):
            while {q.topic for q in consumer.held_queues()} != {"TopicU1", "TopicU2", "%RETRY%unsub-g"}:
                await asyncio.sleep(0.02)
            consumer.unsubscribe("TopicU2")
            while "TopicU2" in {q.topic for q in consumer.held_queues()}:
                await asyncio.sleep(0.02)
    finally:
        await consumer.shutdown()


async def test_a_refused_send_back_goes_to_the_retry_topic_through_the_inner_producer(
    cluster: FakeCluster,
) -> None:
    cluster.create_topic("TopicSB", 1)
    cluster.fail_send_backs = True
    seen: list[tuple[str, int]] = []
    done = asyncio.Event()

    async def listener(
        messages: list[MessageExt], context: ConsumeConcurrentlyContext
    ) -> ConsumeConcurrentlyStatus:
        seen.append((messages[0].topic, messages[0].reconsume_times))
        if messages[0].reconsume_times == 0:
            return ConsumeConcurrentlyStatus.RECONSUME_LATER
        done.set()
        return ConsumeConcurrentlyStatus.CONSUME_SUCCESS

    consumer = PushConsumer("sb-g", client_config=client_config(cluster, "sb"), listener=listener)
    consumer.subscribe("TopicSB")
    await consumer.start()
    try:
        async with Producer("pg-sb", client_config=client_config(cluster, "p-sb")) as producer:
            await producer.send(Message("TopicSB", b"back"))
        await asyncio.wait_for(done.wait(), 4)  # well before the 5 s local retry
    finally:
        await consumer.shutdown()
    assert seen == [("TopicSB", 0), ("TopicSB", 1)]
    sends = cluster.requests_of(RequestCode.SEND_MESSAGE_V2)
    copy = [r for r in sends if r.ext_fields["b"] == "%RETRY%sb-g"]
    assert len(copy) == 1
    assert copy[0].ext_fields["a"] == "CLIENT_INNER_PRODUCER" and copy[0].ext_fields["j"] == "1"
    assert copy[0].ext_fields["l"] == "16"
    properties = string_to_properties(copy[0].ext_fields["i"])
    assert properties["RETRY_TOPIC"] == "TopicSB" and properties["DELAY"] == "3"
