"""Where a consumer starts on a queue it has just been given (Java
RebalancePushImpl#computePullFromWhereWithException, and RebalanceLitePullImpl's variant).

First the group's stored offset is read (push: from the broker, READ_FROM_STORE; lite pull:
MEMORY_FIRST_THEN_STORE). A stored offset always wins. The broker already applies the
new-group rule (docs PROTOCOL.md, "New consumer group offset rule"): for a group without an
offset it answers 0 while the queue's min offset is 0 and still in memory, so a new group starts
at the beginning of young queues whatever it asked for, and only otherwise answers
QUERY_NOT_FOUND (stored offset -1). Then `ConsumeFromWhere` decides:

- CONSUME_FROM_LAST_OFFSET (and the deprecated LAST_OFFSET_AND_FROM_MIN_WHEN_BOOT_FIRST, MIN_OFFSET,
  MAX_OFFSET, for push consumers): the queue's max offset; a retry topic (`%RETRY%<group>`)
  starts at 0 instead, so no retried message is skipped.
- CONSUME_FROM_FIRST_OFFSET: 0.
- CONSUME_FROM_TIMESTAMP: the offset of `consume_timestamp` (SEARCH_OFFSET_BY_TIMESTAMP); a retry
  topic starts at its max offset instead.

A read failure (-2) or a deprecated value for a lite-pull consumer gives -1: the rebalance skips
the queue this round and tries again at the next one.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from typing import Final

from pocketmq.client.consumer.offset_store import OffsetStore, ReadOffsetType
from pocketmq.common.message import MessageQueue
from pocketmq.common.topic import is_retry_topic
from pocketmq.protocol.bodies.heartbeat import ConsumeFromWhere

__all__ = [
    "ConsumeFromWhere",
    "StartAtOffset",
    "StartAtMaxOffset",
    "StartAtTimestamp",
    "CannotStart",
    "StartDecision",
    "start_offset_read_type",
    "decide_start_offset",
    "compute_pull_from_where",
    "CONSUME_TIMESTAMP_FORMAT",
    "format_consume_timestamp",
    "parse_consume_timestamp",
    "default_consume_timestamp",
]


_LAST_OFFSET_LIKE: Final = frozenset(
    {
        ConsumeFromWhere.CONSUME_FROM_LAST_OFFSET,
        ConsumeFromWhere.CONSUME_FROM_LAST_OFFSET_AND_FROM_MIN_WHEN_BOOT_FIRST,
        ConsumeFromWhere.CONSUME_FROM_MIN_OFFSET,
        ConsumeFromWhere.CONSUME_FROM_MAX_OFFSET,
    }
)


@dataclass(frozen=True, slots=True)
class StartAtOffset:
    offset: int


@dataclass(frozen=True, slots=True)
class StartAtMaxOffset:
    """Ask the broker for the queue's max offset (GET_MAX_OFFSET) and start there."""


@dataclass(frozen=True, slots=True)
class StartAtTimestamp:
    """Ask the broker for the offset of this time (SEARCH_OFFSET_BY_TIMESTAMP) and start there."""

    timestamp_ms: int


@dataclass(frozen=True, slots=True)
class CannotStart:
    """No start offset this round (Java -1): the queue is not added now."""

    reason: str


StartDecision = StartAtOffset | StartAtMaxOffset | StartAtTimestamp | CannotStart


def start_offset_read_type(*, lite_pull: bool) -> ReadOffsetType:
    """Push consumers read the stored offset from the store; lite-pull consumers memory first."""
    return ReadOffsetType.MEMORY_FIRST_THEN_STORE if lite_pull else ReadOffsetType.READ_FROM_STORE


def decide_start_offset(
    *,
    consume_from_where: ConsumeFromWhere,
    queue: MessageQueue,
    stored_offset: int,
    consume_timestamp_ms: int,
    lite_pull: bool = False,
) -> StartDecision:
    """The start of `queue` given the offset store's answer (>= 0 an offset, -1 none, -2 failed)."""
    if consume_from_where in _LAST_OFFSET_LIKE:
        if lite_pull and consume_from_where is not ConsumeFromWhere.CONSUME_FROM_LAST_OFFSET:
            return CannotStart(f"{consume_from_where.name} is not supported by lite pull consumers")
        rule = ConsumeFromWhere.CONSUME_FROM_LAST_OFFSET
    else:
        rule = consume_from_where
    if stored_offset >= 0:
        return StartAtOffset(stored_offset)
    if stored_offset != -1:
        return CannotStart(f"the stored offset of {queue} could not be read")
    retry = is_retry_topic(queue.topic)
    if rule is ConsumeFromWhere.CONSUME_FROM_LAST_OFFSET:
        return StartAtOffset(0) if retry else StartAtMaxOffset()
    if rule is ConsumeFromWhere.CONSUME_FROM_FIRST_OFFSET:
        return StartAtOffset(0)
    assert rule is ConsumeFromWhere.CONSUME_FROM_TIMESTAMP, rule
    return StartAtMaxOffset() if retry else StartAtTimestamp(consume_timestamp_ms)


async def compute_pull_from_where(
    *,
    consume_from_where: ConsumeFromWhere,
    queue: MessageQueue,
    offset_store: OffsetStore,
    max_offset: Callable[[MessageQueue], Awaitable[int]],
    search_offset: Callable[[MessageQueue, int], Awaitable[int]],
    consume_timestamp_ms: int,
    lite_pull: bool = False,
) -> int:
    """The next offset to pull from `queue`, or -1 to skip it this round. `max_offset` and
    `search_offset` are the broker calls (GET_MAX_OFFSET, SEARCH_OFFSET_BY_TIMESTAMP); their
    errors propagate, and the rebalance then skips the queue (Java: MQClientException)."""
    stored = await offset_store.read_offset(queue, start_offset_read_type(lite_pull=lite_pull))
    decision = decide_start_offset(
        consume_from_where=consume_from_where,
        queue=queue,
        stored_offset=stored,
        consume_timestamp_ms=consume_timestamp_ms,
        lite_pull=lite_pull,
    )
    match decision:
        case StartAtOffset(offset):
            return offset
        case StartAtMaxOffset():
            return await max_offset(queue)
        case StartAtTimestamp(timestamp_ms):
            return await search_offset(queue, timestamp_ms)
        case CannotStart():
            return -1
    raise AssertionError(decision)


#: Java UtilAll.YYYYMMDDHHMMSS, the format of DefaultMQPushConsumer#consumeTimestamp.
CONSUME_TIMESTAMP_FORMAT: Final = "%Y%m%d%H%M%S"


def format_consume_timestamp(timestamp_ms: int, tz: tzinfo | None = None) -> str:
    """`yyyyMMddHHmmss` in local time (or `tz`), as Java UtilAll#timeMillisToHumanString3."""
    moment = (
        datetime.fromtimestamp(timestamp_ms / 1000, tz) if tz else datetime.fromtimestamp(timestamp_ms / 1000)
    )
    return moment.strftime(CONSUME_TIMESTAMP_FORMAT)


def parse_consume_timestamp(text: str, tz: tzinfo | None = None) -> int:
    """Milliseconds of a `yyyyMMddHHmmss` local time (or `tz`); `ValueError` if malformed."""
    if len(text) != 14 or not text.isdigit():
        raise ValueError(f"consume timestamp {text!r} is not of the form yyyyMMddHHmmss")
    moment = datetime.strptime(text, CONSUME_TIMESTAMP_FORMAT)
    moment = moment.replace(tzinfo=tz) if tz else moment.astimezone()
    return int(moment.timestamp()) * 1000


def default_consume_timestamp(now_ms: int, tz: tzinfo | None = None) -> str:
    """Half an hour before `now_ms` (Java DefaultMQPushConsumer's default consumeTimestamp)."""
    return format_consume_timestamp(now_ms - int(timedelta(minutes=30).total_seconds() * 1000), tz)
