"""Producer queue selection: round-robin, last-broker avoidance, latency fault tolerance, selectors."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from pocketmq.client.producer.queue_selection import (
    JavaLong,
    LatencyFaultTolerance,
    MQFaultStrategy,
    SelectMessageQueueByRandom,
    SendWhichQueue,
    TopicPublishInfo,
    java_hash_code,
    select_by_hash,
)
from pocketmq.common.message import Message, MessageQueue

NOW = 1_700_000_000_000


def publish_info(rng: random.Random, brokers: dict[str, int]) -> TopicPublishInfo:
    return TopicPublishInfo(
        topic="T",
        message_queues=[MessageQueue("T", b, i) for b, n in brokers.items() for i in range(n)],
        write_queue_nums_by_broker=dict(brokers),
        send_which_queue=SendWhichQueue(rng),
    )


def test_send_which_queue_wraps_like_java_int() -> None:
    counter = SendWhichQueue(random.Random(1))
    counter._index = (1 << 31) - 2
    assert counter.increment_and_get() == (1 << 31) - 1
    assert counter.increment_and_get() == 0  # ++ overflows to MIN_VALUE; masked to 0
    assert counter.increment_and_get() == 1


def test_round_robin_visits_every_queue() -> None:
    info = publish_info(random.Random(3), {"a": 4, "b": 4})
    picks = [info.select_one_message_queue() for _ in range(80)]
    assert Counter(picks) == {q: 10 for q in info.message_queues}
    assert all(
        picks[i + 1] == info.message_queues[(info.message_queues.index(picks[i]) + 1) % 8] for i in range(79)
    )


def test_avoids_the_last_broker_when_possible() -> None:
    info = publish_info(random.Random(5), {"a": 4, "b": 4})
    assert all(info.select_one_message_queue("a").broker_name == "b" for _ in range(50))
    only_a = publish_info(random.Random(5), {"a": 2})
    assert only_a.select_one_message_queue("a").broker_name == "a"
    with pytest.raises(ValueError, match="no writable queue"):
        publish_info(random.Random(5), {}).select_one_message_queue()


def test_not_available_duration_table_is_javas() -> None:
    strategy = MQFaultStrategy(rng=random.Random(0), send_latency_fault_enable=True)
    cases = {0: 0, 49: 0, 50: 0, 100: 0, 549: 0, 550: 30_000, 999: 30_000, 1000: 60_000, 2000: 120_000}
    cases |= {3000: 180_000, 14_999: 180_000, 15_000: 600_000, 30_000: 600_000}
    assert {latency: strategy.compute_not_available_duration(latency) for latency in cases} == cases


def test_fault_tolerance_sets_slow_brokers_aside() -> None:
    strategy = MQFaultStrategy(rng=random.Random(9), send_latency_fault_enable=True)
    info = publish_info(random.Random(9), {"a": 4, "b": 4})
    strategy.update_fault_item("a", 1200, isolation=False, now_ms=NOW)  # aside for 60 s
    assert all(
        strategy.select_one_message_queue(info, None, NOW + 1000).broker_name == "b" for _ in range(40)
    )
    later = [strategy.select_one_message_queue(info, None, NOW + 60_000).broker_name for _ in range(40)]
    assert set(later) == {"a", "b"}
    strategy.update_fault_item("b", 10, isolation=True, now_ms=NOW)  # failed: aside for 10 minutes
    assert not strategy.fault_tolerance.is_available("b", NOW + 599_999)
    assert strategy.fault_tolerance.is_available("b", NOW + 600_000)


def test_all_brokers_aside_picks_one_of_the_better_half() -> None:
    strategy = MQFaultStrategy(rng=random.Random(2), send_latency_fault_enable=True)
    info = publish_info(random.Random(2), {"a": 4, "b": 2})
    strategy.update_fault_item("a", 600, isolation=False, now_ms=NOW)
    strategy.update_fault_item("b", 20_000, isolation=False, now_ms=NOW)
    picks = {strategy.select_one_message_queue(info, None, NOW + 1) for _ in range(20)}
    assert {q.broker_name for q in picks} == {"a"}  # half = 1: always the fastest
    assert all(0 <= q.queue_id < 4 for q in picks)


def test_unknown_not_best_broker_is_removed() -> None:
    strategy = MQFaultStrategy(rng=random.Random(4), send_latency_fault_enable=True)
    info = publish_info(random.Random(4), {"a": 2})
    strategy.update_fault_item("gone", 600, isolation=False, now_ms=NOW)
    strategy.update_fault_item("a", 600, isolation=False, now_ms=NOW)
    for _ in range(5):
        assert strategy.select_one_message_queue(info, None, NOW + 1).broker_name == "a"
    assert [item.name for item in strategy.fault_tolerance.items()] in (["a"], ["gone", "a"])


def test_disabled_fault_tolerance_records_nothing() -> None:
    strategy = MQFaultStrategy(rng=random.Random(0))
    strategy.update_fault_item("a", 20_000, isolation=True, now_ms=NOW)
    assert strategy.fault_tolerance.items() == []
    info = publish_info(random.Random(0), {"a": 1, "b": 1})
    assert strategy.select_one_message_queue(info, "a", NOW).broker_name == "b"


def test_latency_fault_tolerance_as_java_test() -> None:
    # LatencyFaultToleranceImplTest
    tolerance = LatencyFaultTolerance(rng=random.Random(0))
    tolerance.update_fault_item("BrokerA", 3000, 3000, NOW)
    assert not tolerance.is_available("BrokerA", NOW)
    assert tolerance.is_available("BrokerB", NOW)
    assert tolerance.is_available("BrokerA", NOW + 3000)
    tolerance.remove("BrokerA")
    assert tolerance.is_available("BrokerA", NOW)
    tolerance.update_fault_item("BrokerA", 1000, 3000, NOW)
    assert tolerance.pick_one_at_least(NOW) == "BrokerA"
    tolerance.update_fault_item("BrokerB", 1001, 3000, NOW)
    assert tolerance.pick_one_at_least(NOW) == "BrokerA"
    assert LatencyFaultTolerance(rng=random.Random(0)).pick_one_at_least(NOW) is None


# --- selectors --------------------------------------------------------------------------------


def test_java_hash_codes() -> None:
    assert java_hash_code("123") == 48690
    assert java_hash_code("polygenelubricants") == -(1 << 31)
    assert java_hash_code(True) == 1231 and java_hash_code(False) == 1237
    assert java_hash_code(-1) == -1  # Integer
    assert java_hash_code(JavaLong(-1)) == 0  # Long: (int)(v ^ v >>> 32)
    assert java_hash_code(JavaLong(7)) == 7
    assert java_hash_code(1 << 40) == 256  # beyond 32 bits: Long
    with pytest.raises(TypeError):
        java_hash_code(1.5)
    with pytest.raises(ValueError):
        java_hash_code(1 << 64)


@pytest.mark.parametrize(
    ("order_id", "queue_id"),
    [("123", 0), ("234", 3), ("polygenelubricants", 8), (-7, 7), (15, 5)],
)
def test_select_by_hash_as_java(order_id: object, queue_id: int) -> None:
    # Java: value = arg.hashCode() % size; if (value < 0) value = Math.abs(value).
    # "234".hashCode() = 49683; MIN_VALUE % 10 = -8 -> 8; -7 % 10 = -7 -> 7.
    queues = [MessageQueue("FooBar", "DefaultBroker", i) for i in range(10)]
    assert select_by_hash(queues, Message("FooBar"), order_id).queue_id == queue_id


def test_select_by_random_is_seeded() -> None:
    queues = [MessageQueue("T", "b", i) for i in range(4)]
    first = [SelectMessageQueueByRandom(random.Random(1))(queues, Message("T"), None) for _ in range(3)]
    selector = SelectMessageQueueByRandom(random.Random(1))
    assert selector(queues, Message("T"), None) == first[0]
    with pytest.raises(ValueError):
        selector([], Message("T"), None)
