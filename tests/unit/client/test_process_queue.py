"""ProcessQueue: offsets to commit, counts and sizes, orderly take/commit/rollback, flow control."""

from __future__ import annotations

import random

import pytest

from pocketmq.client.consumer.process_queue import (
    PULL_MAX_IDLE_TIME_MS,
    REBALANCE_LOCK_MAX_LIVE_TIME_MS,
    FlowControlConfig,
    ProcessQueue,
    PullGate,
    flow_control,
)
from pocketmq.common.message import MessageConst, MessageExt

NOW = 1_700_000_000_000


def message(offset: int, size: int = 10, **properties: str) -> MessageExt:
    return MessageExt(topic="t", body=b"x" * size, queue_offset=offset, properties=dict(properties))


def test_remove_returns_smallest_in_flight_then_max_plus_one() -> None:
    pq = ProcessQueue(now_ms=NOW)
    batch = [message(o) for o in range(10, 15)]
    assert pq.put_messages(batch) is True
    assert (pq.message_count, pq.message_bytes) == (5, 50)
    assert pq.remove_messages([batch[2], batch[4]], NOW) == 10  # 10 still in flight
    assert pq.remove_messages([batch[0]], NOW) == 11
    assert pq.remove_messages([batch[1], batch[3]], NOW) == 15  # empty: last + 1
    assert (pq.message_count, pq.message_bytes) == (0, 0)
    assert pq.remove_messages([batch[0]], NOW) == -1  # nothing held


def test_put_counts_new_offsets_once_and_dispatches_once() -> None:
    pq = ProcessQueue(now_ms=NOW)
    assert pq.put_messages([message(1), message(2)]) is True
    assert pq.put_messages([message(2), message(3)]) is False  # already consuming
    assert pq.message_count == 3
    assert pq.max_span() == 2
    assert (pq.first_offset(), pq.last_offset()) == (1, 3)


def test_out_of_order_put_keeps_offsets_sorted() -> None:
    pq = ProcessQueue(now_ms=NOW)
    offsets = list(range(100))
    random.Random(7).shuffle(offsets)
    pq.put_messages([message(o) for o in offsets])
    assert pq.take_messages(5, NOW) == [m for m in pq.consuming_batch()]
    assert [m.queue_offset for m in pq.consuming_batch()] == [0, 1, 2, 3, 4]


def test_message_accumulation_from_max_offset_property() -> None:
    pq = ProcessQueue(now_ms=NOW)
    pq.put_messages([message(5), message(6, **{MessageConst.MAX_OFFSET: "100"})])
    assert pq.message_accumulation == 94


def test_orderly_take_commit() -> None:
    pq = ProcessQueue(now_ms=NOW)
    pq.put_messages([message(o, size=4) for o in range(3)])
    taken = pq.take_messages(2, NOW)
    assert [m.queue_offset for m in taken] == [0, 1]
    assert pq.message_count == 3  # the batch still counts until committed
    assert pq.commit() == 2
    assert (pq.message_count, pq.message_bytes) == (1, 4)
    assert pq.commit() == -1  # no batch
    assert [m.queue_offset for m in pq.take_messages(5, NOW)] == [2]
    assert pq.commit() == 3
    assert pq.message_bytes == 0
    assert pq.take_messages(5, NOW) == []
    assert pq.consuming is False  # the next put dispatches again


def test_orderly_rollback_and_consume_again() -> None:
    pq = ProcessQueue(now_ms=NOW)
    pq.put_messages([message(o) for o in range(4)])
    pq.take_messages(3, NOW)
    pq.rollback()
    assert [m.queue_offset for m in pq.take_messages(10, NOW)] == [0, 1, 2, 3]
    again = [m for m in pq.consuming_batch() if m.queue_offset >= 2]
    pq.make_messages_to_consume_again(again)
    assert pq.commit() == 2  # only 0 and 1 were committed
    assert [m.queue_offset for m in pq.take_messages(10, NOW)] == [2, 3]
    assert pq.commit() == 4
    assert pq.message_count == 0


def test_lock_and_pull_expiry() -> None:
    pq = ProcessQueue(now_ms=NOW)
    assert not pq.can_consume_orderly(NOW, clustering=True)
    assert pq.can_consume_orderly(NOW, clustering=False)
    pq.mark_locked(NOW)
    assert pq.can_consume_orderly(NOW + REBALANCE_LOCK_MAX_LIVE_TIME_MS, clustering=True)
    assert pq.is_lock_expired(NOW + REBALANCE_LOCK_MAX_LIVE_TIME_MS + 1)
    assert not pq.can_consume_orderly(NOW + REBALANCE_LOCK_MAX_LIVE_TIME_MS + 1, clustering=True)
    assert not pq.is_pull_expired(NOW + PULL_MAX_IDLE_TIME_MS)
    assert pq.is_pull_expired(NOW + PULL_MAX_IDLE_TIME_MS + 1)
    pq.dropped = True
    assert not pq.can_consume_orderly(NOW, clustering=False)


def test_first_expired() -> None:
    pq = ProcessQueue(now_ms=NOW)
    assert pq.first_expired(NOW, 15 * 60_000) is None
    pq.put_messages([message(1, **{MessageConst.CONSUME_START_TIMESTAMP: str(NOW)}), message(2)])
    assert pq.first_expired(NOW + 15 * 60_000, 15 * 60_000) is None
    expired = pq.first_expired(NOW + 15 * 60_000 + 1, 15 * 60_000)
    assert expired is not None and expired.queue_offset == 1


@pytest.mark.parametrize(
    ("setup", "orderly", "gate"),
    [
        ("empty", False, PullGate.PULL),
        ("dropped", False, PullGate.DROPPED),
        ("count", False, PullGate.CACHE_COUNT),
        ("size", False, PullGate.CACHE_SIZE),
        ("span", False, PullGate.SPAN),
        ("span", True, PullGate.NOT_LOCKED),
        ("locked", True, PullGate.PULL),
    ],
)
def test_flow_control(setup: str, orderly: bool, gate: PullGate) -> None:
    pq = ProcessQueue(now_ms=NOW)
    config = FlowControlConfig(pull_threshold_for_queue=3, pull_threshold_size_for_queue_mib=1)
    if setup == "dropped":
        pq.dropped = True
    elif setup == "count":
        pq.put_messages([message(o) for o in range(4)])
    elif setup == "size":
        pq.put_messages([message(0, size=2 * 1024 * 1024)])
    elif setup == "span":
        pq.put_messages([message(0), message(2001)])
    elif setup == "locked":
        pq.mark_locked(NOW)
    assert flow_control(pq, config, orderly=orderly) is gate
    assert gate.delay_ms == {PullGate.NOT_LOCKED: 3000, PullGate.PULL: 0, PullGate.DROPPED: 0}.get(gate, 50)


def test_defaults_are_javas() -> None:
    config = FlowControlConfig()
    assert (config.pull_threshold_for_queue, config.pull_threshold_size_for_queue_mib) == (1000, 100)
    assert config.consume_concurrently_max_span == 2000
