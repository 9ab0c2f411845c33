"""Start offsets of new queues, as RebalancePushImpl#computePullFromWhereWithException."""

from __future__ import annotations

from datetime import UTC, timedelta, timezone

import pytest

from pocketmq.client.consumer.consume_from import (
    CannotStart,
    ConsumeFromWhere,
    StartAtMaxOffset,
    StartAtOffset,
    StartAtTimestamp,
    StartDecision,
    compute_pull_from_where,
    decide_start_offset,
    default_consume_timestamp,
    format_consume_timestamp,
    parse_consume_timestamp,
)
from pocketmq.client.consumer.offset_store import RemoteBrokerOffsetStore
from pocketmq.common.errors import ClientError
from pocketmq.common.message import MessageQueue

TOPIC = MessageQueue("TopicTest", "broker-a", 0)
RETRY = MessageQueue("%RETRY%group", "broker-a", 0)
TS = 1_700_000_000_000

LAST = ConsumeFromWhere.CONSUME_FROM_LAST_OFFSET
FIRST = ConsumeFromWhere.CONSUME_FROM_FIRST_OFFSET
TIME = ConsumeFromWhere.CONSUME_FROM_TIMESTAMP
MAX = ConsumeFromWhere.CONSUME_FROM_MAX_OFFSET


@pytest.mark.parametrize(
    ("where", "queue", "stored", "expected"),
    [
        (LAST, TOPIC, 7, StartAtOffset(7)),
        (LAST, TOPIC, 0, StartAtOffset(0)),  # the broker's new-group answer for a young queue
        (LAST, TOPIC, -1, StartAtMaxOffset()),
        (LAST, RETRY, -1, StartAtOffset(0)),
        (MAX, TOPIC, -1, StartAtMaxOffset()),  # deprecated values behave as LAST for push
        (FIRST, TOPIC, -1, StartAtOffset(0)),
        (FIRST, RETRY, -1, StartAtOffset(0)),
        (FIRST, TOPIC, 9, StartAtOffset(9)),
        (TIME, TOPIC, -1, StartAtTimestamp(TS)),
        (TIME, RETRY, -1, StartAtMaxOffset()),
        (TIME, TOPIC, 3, StartAtOffset(3)),
    ],
)
def test_decide(where: ConsumeFromWhere, queue: MessageQueue, stored: int, expected: StartDecision) -> None:
    assert (
        decide_start_offset(
            consume_from_where=where, queue=queue, stored_offset=stored, consume_timestamp_ms=TS
        )
        == expected
    )


@pytest.mark.parametrize("where", list(ConsumeFromWhere))
def test_read_failure_cannot_start(where: ConsumeFromWhere) -> None:
    decision = decide_start_offset(
        consume_from_where=where, queue=TOPIC, stored_offset=-2, consume_timestamp_ms=TS
    )
    assert isinstance(decision, CannotStart)


def test_lite_pull_refuses_deprecated_values() -> None:
    decision = decide_start_offset(
        consume_from_where=MAX, queue=TOPIC, stored_offset=5, consume_timestamp_ms=TS, lite_pull=True
    )
    assert isinstance(decision, CannotStart)


def test_ordinals_are_javas() -> None:
    # The C++ client sends ordinals in heartbeats; the enum keeps Java's order.
    assert list(ConsumeFromWhere).index(FIRST) == 4
    assert list(ConsumeFromWhere).index(TIME) == 5


async def test_compute_pull_from_where_through_the_broker() -> None:
    stored = {TOPIC: 11}
    asked: list[str] = []

    async def query(queue: MessageQueue) -> int:
        if queue in stored:
            return stored[queue]
        raise ClientError(22, "not found")

    async def commit(queue: MessageQueue, offset: int, oneway: bool) -> None:
        raise AssertionError("not used")

    async def max_offset(queue: MessageQueue) -> int:
        asked.append("max")
        return 100

    async def search_offset(queue: MessageQueue, timestamp_ms: int) -> int:
        asked.append(f"search {timestamp_ms}")
        return 40

    store = RemoteBrokerOffsetStore(consumer_group="group", query_offset=query, commit_offset=commit)
    other = MessageQueue("TopicTest", "broker-a", 1)

    async def compute(where: ConsumeFromWhere, queue: MessageQueue) -> int:
        return await compute_pull_from_where(
            consume_from_where=where,
            queue=queue,
            offset_store=store,
            max_offset=max_offset,
            search_offset=search_offset,
            consume_timestamp_ms=TS,
        )

    assert await compute(LAST, TOPIC) == 11
    assert await compute(LAST, other) == 100
    assert await compute(TIME, other) == 40
    assert await compute(FIRST, other) == 0
    assert await compute(LAST, RETRY) == 0
    assert asked == ["max", f"search {TS}"]


def test_consume_timestamp_format() -> None:
    tz = timezone(timedelta(hours=8))
    assert format_consume_timestamp(0, UTC) == "19700101000000"
    assert format_consume_timestamp(0, tz) == "19700101080000"
    assert parse_consume_timestamp("19700101080000", tz) == 0
    assert default_consume_timestamp(30 * 60_000, UTC) == "19700101000000"
    local = parse_consume_timestamp(format_consume_timestamp(TS))
    assert local == TS // 1000 * 1000
    with pytest.raises(ValueError, match="yyyyMMddHHmmss"):
        parse_consume_timestamp("2024-01-01")
