"""The orderly push consumer against real `mqnamesrv` / `mqbroker` processes (issue 4, item 1):
per-key order while consumers join, SUSPEND_CURRENT_QUEUE_A_MOMENT without skipping, the dead-letter
queue after max reconsume times, broker locks released at shutdown, exact tag check."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import pytest

from pocketmq.client.consumer.consume_orderly_service import (
    ConsumeOrderlyContext,
    ConsumeOrderlyStatus,
    OrderlyPushConsumer,
)
from pocketmq.client.consumer.push_consumer import PushConsumerConfig
from pocketmq.client.producer.producer import Producer
from pocketmq.common.message import Message, MessageConst, MessageExt, MessageQueue
from pocketmq.common.topic import dlq_topic
from tests.integration.client_issue4_support import (
    SHORT_DELAY_LEVELS,
    client_config,
    create_topic,
    pull_all,
    query_by_uniq_key,
)
from tests.support.cluster import Cluster, running_cluster

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    workdir = tmp_path_factory.mktemp("issue4-orderly")
    with running_cluster(workdir, messageDelayLevel=SHORT_DELAY_LEVELS) as cluster:
        yield cluster


@dataclass
class Journal:
    """What the listeners saw: deliveries per key, and any queue consumed by two consumers at once."""

    deliveries: dict[str, list[tuple[int, int, str]]] = field(default_factory=lambda: defaultdict(list))
    active: dict[MessageQueue, str] = field(default_factory=dict)
    overlaps: list[str] = field(default_factory=list)
    first_seen: set[tuple[str, int]] = field(default_factory=set)
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    def listener(self, name: str, *, suspend_every: int = 0) -> object:
        async def consume(messages: list[MessageExt], context: ConsumeOrderlyContext) -> ConsumeOrderlyStatus:
            queue = context.message_queue
            if queue in self.active:
                self.overlaps.append(f"{queue} by {self.active[queue]} and {name}")
            self.active[queue] = name
            try:
                status = ConsumeOrderlyStatus.SUCCESS
                for message in messages:
                    key, seq = message.body.decode().split(":")
                    self.deliveries[key].append((int(seq), message.reconsume_times, name))
                    self.first_seen.add((key, int(seq)))
                    if suspend_every and int(seq) % suspend_every == 5 and message.reconsume_times == 0:
                        status = ConsumeOrderlyStatus.SUSPEND_CURRENT_QUEUE_A_MOMENT
                await asyncio.sleep(0.002)
                self.changed.set()
                return status
            finally:
                del self.active[queue]

        return consume

    async def wait_for(self, count: int, timeout_s: float) -> None:
        async def until() -> None:
            while len(self.first_seen) < count:
                self.changed.clear()
                await self.changed.wait()

        await asyncio.wait_for(until(), timeout_s)

    def check_order(self, keys: list[str], per_key: int) -> None:
        assert not self.overlaps, self.overlaps[:5]
        for key in keys:
            seen = self.deliveries[key]
            highest = -1
            for seq, _, _ in seen:
                # Redelivery after a takeover may go back; a skip forward never happens.
                assert seq <= highest + 1, f"{key}: {seq} delivered before {highest + 1}: {seen}"
                highest = max(highest, seq)
            assert highest == per_key - 1, (key, seen)


def topic_queues(consumer: OrderlyPushConsumer, topic: str) -> set[MessageQueue]:
    return {queue for queue in consumer.held_queues() if queue.topic == topic}


async def wait_until(condition: Callable[[], bool], timeout_s: float) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while not condition():
        assert loop.time() < deadline, "timed out"
        await asyncio.sleep(0.05)


def orderly_consumer(
    cluster: Cluster, group: str, name: str, listener: object, **config: int
) -> OrderlyPushConsumer:
    return OrderlyPushConsumer(
        group,
        client_config=client_config(cluster, name, rebalance_interval_ms=1000),
        config=PushConsumerConfig(**config),  # type: ignore[arg-type]
        listener=listener,  # type: ignore[arg-type]
        suspend_current_queue_time_ms=200,
    )


async def send_keyed(producer: Producer, topic: str, keys: list[str], seqs: range) -> None:
    for seq in seqs:
        await asyncio.gather(
            *(producer.send(Message(topic, f"{key}:{seq}".encode()), sharding_key=key) for key in keys)
        )


async def test_per_key_order_holds_with_suspends_while_a_third_consumer_joins(cluster: Cluster) -> None:
    topic, group = "OrderlyJoin", "orderly-join"
    keys, per_key = [f"key-{i}" for i in range(8)], 40
    await create_topic(cluster, topic, 4)
    journal = Journal()
    consumers = [
        orderly_consumer(cluster, group, name, journal.listener(name, suspend_every=17))
        for name in ("oa", "ob", "oc")
    ]
    for consumer in consumers:
        consumer.subscribe(topic)
    try:
        await consumers[0].start()
        await consumers[1].start()
        # Both hold their queues before messages come (a queue given away with cached messages would
        # be unlocked 20 s later, as Java).
        await wait_until(lambda: len(topic_queues(consumers[1], topic)) == 2, 15)
        async with Producer("orderly-join-p", client_config=client_config(cluster, "oj-p")) as producer:
            await send_keyed(producer, topic, keys, range(0, per_key // 2))
            await journal.wait_for(len(keys) * per_key // 2, 30)
            await asyncio.sleep(0.5)  # the suspended ones are consumed again: nothing stays cached
            # The third consumer joins; the queue it takes is unlocked at once (nothing cached;
            # with cached messages the old owner unlocks 20 s later, as Java).
            await consumers[2].start()
            await wait_until(lambda: bool(topic_queues(consumers[2], topic)), 15)
            await send_keyed(producer, topic, keys, range(per_key // 2, per_key))
        await journal.wait_for(len(keys) * per_key, 60)
        held = [{q.queue_id for q in consumer.held_queues() if q.topic == topic} for consumer in consumers]
    finally:
        for consumer in consumers:
            await consumer.shutdown()
    journal.check_order(keys, per_key)
    assert sorted(q for h in held for q in h) == [0, 1, 2, 3], held
    assert all(held), f"the third consumer took no queue: {held}"
    assert {name for d in journal.deliveries.values() for _, _, name in d} == {"oa", "ob", "oc"}
    # Each suspended message was delivered again right after, with its reconsume count raised.
    for key, seen in journal.deliveries.items():
        for index, (seq, times, _) in enumerate(seen):
            if seq % 17 == 5 and times == 0 and index + 1 < len(seen):
                assert seen[index + 1][0] == seq, (key, seen[index : index + 3])


async def test_a_message_retried_past_max_goes_to_the_dlq_and_the_queue_moves_on(cluster: Cluster) -> None:
    topic, group = "OrderlyPoison", "orderly-poison"
    await create_topic(cluster, topic, 1)
    seen: list[tuple[bytes, int]] = []
    done = asyncio.Event()

    def listener(messages: list[MessageExt], context: ConsumeOrderlyContext) -> ConsumeOrderlyStatus:
        message = messages[0]
        seen.append((message.body, message.reconsume_times))
        if message.body == b"poison":
            return ConsumeOrderlyStatus.SUSPEND_CURRENT_QUEUE_A_MOMENT
        if message.body == b"after":
            done.set()
        return ConsumeOrderlyStatus.SUCCESS

    consumer = orderly_consumer(cluster, group, "op", listener, max_reconsume_times=2)
    consumer.subscribe(topic)
    await consumer.start()
    try:
        async with Producer("orderly-poison-p", client_config=client_config(cluster, "op-p")) as producer:
            first = await producer.send(Message(topic, b"before"), sharding_key="k")
            poison = await producer.send(Message(topic, b"poison", keys=["poison-key"]), sharding_key="k")
            await producer.send(Message(topic, b"after"), sharding_key="k")
        await asyncio.wait_for(done.wait(), 30)
    finally:
        await consumer.shutdown()
    assert first.message_queue == poison.message_queue
    assert seen == [(b"before", 0), (b"poison", 0), (b"poison", 1), (b"poison", 2), (b"after", 0)]
    dead = await pull_all(cluster, dlq_topic(group))
    assert [m.body for m in dead] == [b"poison"]
    assert dead[0].uniq_key == poison.msg_id
    assert dead[0].properties[MessageConst.RETRY_TOPIC] == topic
    found = await query_by_uniq_key(cluster, dlq_topic(group), poison.msg_id or "")
    assert [m.body for m in found] == [b"poison"]


async def test_shutdown_unlocks_so_another_consumer_starts_at_once(cluster: Cluster) -> None:
    topic, group = "OrderlyHandover", "orderly-handover"
    await create_topic(cluster, topic, 2)
    journal = Journal()
    first = orderly_consumer(cluster, group, "h1", journal.listener("h1"))
    first.subscribe(topic)
    await first.start()
    async with Producer("orderly-handover-p", client_config=client_config(cluster, "oh-p")) as producer:
        await send_keyed(producer, topic, ["a", "b", "c"], range(10))
        await journal.wait_for(30, 30)
        await first.shutdown()
        second = orderly_consumer(cluster, group, "h2", journal.listener("h2"))
        second.subscribe(topic)
        loop = asyncio.get_running_loop()
        started = loop.time()
        await second.start()
        try:
            await send_keyed(producer, topic, ["a", "b", "c"], range(10, 20))
            await journal.wait_for(60, 30)
            took = loop.time() - started
        finally:
            await second.shutdown()
    journal.check_order(["a", "b", "c"], 20)
    assert took < 10, f"the second consumer needed {took:.1f} s: the first one's locks were not released"


async def test_exact_tag_check_drops_hash_collisions(cluster: Cluster) -> None:
    # "Aa" and "BB" have the same Java hashCode (2112): the broker's tag-code filter lets both through.
    topic, group = "OrderlyTags", "orderly-tags"
    await create_topic(cluster, topic, 1)
    seen: list[str] = []
    done = asyncio.Event()

    def listener(messages: list[MessageExt], context: ConsumeOrderlyContext) -> ConsumeOrderlyStatus:
        seen.extend(m.body.decode() for m in messages)
        if "last" in seen:
            done.set()
        return ConsumeOrderlyStatus.SUCCESS

    consumer = orderly_consumer(cluster, group, "ot", listener)
    consumer.subscribe(topic, "Aa")
    await consumer.start()
    try:
        async with Producer("orderly-tags-p", client_config=client_config(cluster, "ot-p")) as producer:
            for body, tag in (("one", "Aa"), ("collides", "BB"), ("other", "C"), ("last", "Aa")):
                await producer.send(Message(topic, body.encode(), tags=tag))
        await asyncio.wait_for(done.wait(), 30)
    finally:
        await consumer.shutdown()
    assert seen == ["one", "last"]


async def test_consumers_of_one_client_share_the_inner_producer_for_dead_letters(cluster: Cluster) -> None:
    topic = "OrderlyShared"
    await create_topic(cluster, topic, 1)

    def poison(messages: list[MessageExt], context: ConsumeOrderlyContext) -> ConsumeOrderlyStatus:
        return ConsumeOrderlyStatus.SUSPEND_CURRENT_QUEUE_A_MOMENT

    groups = ("orderly-shared-1", "orderly-shared-2")
    consumers = [
        orderly_consumer(cluster, group, "shared", poison, max_reconsume_times=0) for group in groups
    ]
    for consumer in consumers:
        consumer.subscribe(topic)
        await consumer.start()
    assert consumers[0].instance is consumers[1].instance
    try:
        async with Producer("orderly-shared-p", client_config=client_config(cluster, "os-p")) as producer:
            await producer.send(Message(topic, b"first"))
            await wait_until_dead(cluster, groups, [b"first"])
            await consumers[0].shutdown()  # whichever consumer started the inner producer
            await producer.send(Message(topic, b"second"))
            await wait_until_dead(cluster, groups[1:], [b"first", b"second"])
    finally:
        await consumers[1].shutdown()


async def wait_until_dead(cluster: Cluster, groups: tuple[str, ...], bodies: list[bytes]) -> None:
    async def dead(group: str) -> list[bytes]:
        return [m.body for m in await pull_all(cluster, dlq_topic(group))]

    for _ in range(100):
        if [await dead(group) for group in groups] == [bodies] * len(groups):
            return
        await asyncio.sleep(0.1)
    raise AssertionError({group: await dead(group) for group in groups})
