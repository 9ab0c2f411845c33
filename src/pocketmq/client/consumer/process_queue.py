"""ProcessQueue: the messages pulled for one queue and not yet consumed, and that queue's local
state (Java org.apache.rocketmq.client.impl.consumer.ProcessQueue).

Messages are held by queue offset in sorted order. Concurrent consumption removes them in any
order and commits the smallest offset still in flight (or the last offset + 1 once empty), so a
crash re-delivers instead of losing. Orderly consumption takes a batch from the head into a
"consuming" map and then commits, rolls back, or puts some back to consume again.

The count and byte size feed flow control (`flow_control`). Lock state (held on the broker for
orderly clustering consumption) and timestamps are plain fields; every time comparison takes
`now_ms` (R8). Plain code, no awaits: one event loop owns a ProcessQueue, so it needs no lock
(Java guards it with a ReadWriteLock because threads share it). Java's per-queue consume lock
belongs to the orderly consume service, not here.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Final

from pocketmq.common.message import MessageConst, MessageExt

__all__ = [
    "REBALANCE_LOCK_MAX_LIVE_TIME_MS",
    "REBALANCE_LOCK_INTERVAL_MS",
    "PULL_MAX_IDLE_TIME_MS",
    "PULL_DELAY_WHEN_FLOW_CONTROL_MS",
    "PULL_DELAY_WHEN_EXCEPTION_MS",
    "FlowControlConfig",
    "PullGate",
    "ProcessQueue",
    "flow_control",
]

MiB: Final = 1024 * 1024

#: A broker lock older than this is treated as lost. Java: rocketmq.client.rebalance.lockMaxLiveTime.
REBALANCE_LOCK_MAX_LIVE_TIME_MS: Final = 30_000
#: Orderly consumers renew their broker locks this often. Java: rocketmq.client.rebalance.lockInterval.
REBALANCE_LOCK_INTERVAL_MS: Final = 20_000
#: A queue not pulled for this long is dropped and re-added by rebalance. Java: pullMaxIdleTime.
PULL_MAX_IDLE_TIME_MS: Final = 120_000
#: Java DefaultMQPushConsumerImpl.PULL_TIME_DELAY_MILLS_WHEN_CACHE_FLOW_CONTROL.
PULL_DELAY_WHEN_FLOW_CONTROL_MS: Final = 50
#: Java DefaultMQPushConsumerImpl.pullTimeDelayMillsWhenException (also used when not locked).
PULL_DELAY_WHEN_EXCEPTION_MS: Final = 3_000


@dataclass(frozen=True, slots=True, kw_only=True)
class FlowControlConfig:
    """Per-queue pull limits of a push consumer (Java DefaultMQPushConsumer fields)."""

    #: Cached messages per queue before pulling pauses. Java: pullThresholdForQueue (1000).
    pull_threshold_for_queue: int = 1000
    #: Cached body bytes per queue, in MiB. Java: pullThresholdSizeForQueue (100 MiB).
    pull_threshold_size_for_queue_mib: int = 100
    #: Largest offset span cached for concurrent consumption. Java: consumeConcurrentlyMaxSpan (2000).
    consume_concurrently_max_span: int = 2000


class PullGate(Enum):
    """What the pull loop does with a queue now (Java DefaultMQPushConsumerImpl#pullMessage checks)."""

    PULL = "pull"
    DROPPED = "dropped"  # stop pulling this queue
    CACHE_COUNT = "cache_count"  # too many messages cached: retry in 50 ms
    CACHE_SIZE = "cache_size"  # too many bytes cached: retry in 50 ms
    SPAN = "span"  # concurrent consumption: offsets too far apart: retry in 50 ms
    NOT_LOCKED = "not_locked"  # orderly: no broker lock yet: retry in 3 s

    @property
    def delay_ms(self) -> int:
        if self is PullGate.NOT_LOCKED:
            return PULL_DELAY_WHEN_EXCEPTION_MS
        if self in (PullGate.CACHE_COUNT, PullGate.CACHE_SIZE, PullGate.SPAN):
            return PULL_DELAY_WHEN_FLOW_CONTROL_MS
        return 0


class ProcessQueue:
    """Messages of one queue between pull and consumption, plus that queue's lock and liveness."""

    def __init__(self, *, now_ms: int) -> None:
        self._messages: dict[int, MessageExt] = {}
        self._offsets: list[int] = []  # sorted keys of _messages
        # Orderly consumption: the batch taken and not yet committed (Java consumingMsgOrderlyTreeMap).
        self._consuming: dict[int, MessageExt] = {}
        self._message_count = 0
        self._message_bytes = 0
        self._queue_offset_max = 0
        #: Set when rebalance gives the queue away; pulls and consumption stop.
        self.dropped = False
        #: Orderly: the broker lock is held (as of `last_lock_timestamp_ms`).
        self.locked = False
        self.last_lock_timestamp_ms = now_ms
        self.last_pull_timestamp_ms = now_ms
        self.last_consume_timestamp_ms = now_ms
        #: Times an orderly queue could not be unlocked because it was being consumed.
        self.try_unlock_times = 0
        #: A consume task is scheduled or running for this queue (orderly dispatch).
        self.consuming = False
        #: Messages the broker still holds behind the last pull (MAX_OFFSET - queue offset).
        self.message_accumulation = 0

    # -- state ---------------------------------------------------------------------------------

    @property
    def message_count(self) -> int:
        """Messages held, including an orderly batch being consumed (Java msgCount)."""
        return self._message_count

    @property
    def message_bytes(self) -> int:
        """Body bytes held, including an orderly batch being consumed (Java msgSize)."""
        return self._message_bytes

    def first_offset(self) -> int | None:
        return self._offsets[0] if self._offsets else None

    def last_offset(self) -> int | None:
        return self._offsets[-1] if self._offsets else None

    def max_span(self) -> int:
        """Last minus first cached offset (0 when empty): concurrent flow control."""
        return self._offsets[-1] - self._offsets[0] if self._offsets else 0

    def has_temp_message(self) -> bool:
        """Messages are waiting (not counting a batch being consumed)."""
        return bool(self._offsets)

    def is_lock_expired(self, now_ms: int) -> bool:
        return now_ms - self.last_lock_timestamp_ms > REBALANCE_LOCK_MAX_LIVE_TIME_MS

    def is_pull_expired(self, now_ms: int) -> bool:
        return now_ms - self.last_pull_timestamp_ms > PULL_MAX_IDLE_TIME_MS

    def can_consume_orderly(self, now_ms: int, *, clustering: bool) -> bool:
        """Orderly consumption may proceed: broadcasting needs no lock; clustering needs a live one
        (Java ConsumeMessageOrderlyService.ConsumeRequest#run)."""
        if self.dropped:
            return False
        return not clustering or (self.locked and not self.is_lock_expired(now_ms))

    def mark_locked(self, now_ms: int) -> None:
        self.locked = True
        self.last_lock_timestamp_ms = now_ms

    # -- concurrent and orderly consumption ----------------------------------------------------

    def put_messages(self, messages: Sequence[MessageExt]) -> bool:
        """Add pulled messages; True when a consume task should be dispatched (Java putMessage)."""
        added = 0
        for message in messages:
            offset = message.queue_offset
            if offset in self._messages:
                self._messages[offset] = message  # Java TreeMap#put replaces, counts nothing
                continue
            self._messages[offset] = message
            if not self._offsets or offset > self._offsets[-1]:
                self._offsets.append(offset)
            else:
                bisect.insort(self._offsets, offset)
            added += 1
            # Java keeps the offset of the last message added; the largest is the same for
            # in-order pulls and never commits past an unconsumed message otherwise.
            self._queue_offset_max = max(self._queue_offset_max, offset)
            self._message_bytes += len(message.body)
        self._message_count += added

        dispatch = False
        if self._offsets and not self.consuming:
            dispatch = True
            self.consuming = True
        if messages:
            last = messages[-1]
            max_offset = last.properties.get(MessageConst.MAX_OFFSET)
            if max_offset is not None and max_offset.lstrip("-").isdigit():
                accumulation = int(max_offset) - last.queue_offset
                if accumulation > 0:
                    self.message_accumulation = accumulation
        return dispatch

    def remove_messages(self, messages: Iterable[MessageExt], now_ms: int) -> int:
        """Remove consumed messages; the offset to commit: the smallest still held, or the largest
        offset ever added + 1 once empty; -1 if nothing was held (Java removeMessage)."""
        self.last_consume_timestamp_ms = now_ms
        if not self._offsets:
            return -1
        for message in messages:
            removed = self._messages.pop(message.queue_offset, None)
            if removed is not None:
                self._remove_offset(message.queue_offset)
                self._message_count -= 1
                self._message_bytes -= len(message.body)
        if self._message_count == 0:
            self._message_bytes = 0
        assert self._message_count >= len(self._offsets), (self._message_count, len(self._offsets))
        return self._offsets[0] if self._offsets else self._queue_offset_max + 1

    def take_messages(self, batch_size: int, now_ms: int) -> list[MessageExt]:
        """Orderly: move up to `batch_size` messages from the head into the consuming batch. An
        empty answer clears `consuming`, so the next put dispatches again (Java takeMessages)."""
        self.last_consume_timestamp_ms = now_ms
        taken_offsets = self._offsets[:batch_size]
        del self._offsets[:batch_size]
        taken = []
        for offset in taken_offsets:
            message = self._messages.pop(offset)
            self._consuming[offset] = message
            taken.append(message)
        if not taken:
            self.consuming = False
        return taken

    def commit(self) -> int:
        """Orderly: the batch was consumed; the offset to commit (last + 1), -1 if no batch."""
        if not self._consuming:
            return -1
        last = max(self._consuming)
        self._message_count -= len(self._consuming)
        if self._message_count == 0:
            self._message_bytes = 0
        else:
            self._message_bytes -= sum(len(m.body) for m in self._consuming.values())
        self._consuming.clear()
        return last + 1

    def rollback(self) -> None:
        """Orderly: put the whole batch back to be consumed again (Java rollback)."""
        for offset, message in self._consuming.items():
            self._put_back(offset, message)
        self._consuming.clear()

    def make_messages_to_consume_again(self, messages: Iterable[MessageExt]) -> None:
        """Orderly: put these messages of the batch back at the head (SUSPEND_CURRENT_QUEUE_A_MOMENT)."""
        for message in messages:
            self._consuming.pop(message.queue_offset, None)
            self._put_back(message.queue_offset, message)

    def consuming_batch(self) -> list[MessageExt]:
        """Orderly: the batch taken and not yet committed, by offset."""
        return [self._consuming[offset] for offset in sorted(self._consuming)]

    def first_expired(self, now_ms: int, consume_timeout_ms: int) -> MessageExt | None:
        """Concurrent: the head message if its consumption started more than `consume_timeout_ms`
        ago (Java cleanExpiredMsg sends it back with delay level 3 and removes it)."""
        if not self._offsets:
            return None
        head = self._messages[self._offsets[0]]
        started = head.properties.get(MessageConst.CONSUME_START_TIMESTAMP)
        if started and started.isdigit() and now_ms - int(started) > consume_timeout_ms:
            return head
        return None

    def clear(self) -> None:
        self._messages.clear()
        self._offsets.clear()
        self._consuming.clear()
        self._message_count = 0
        self._message_bytes = 0
        self._queue_offset_max = 0

    # -- helpers -------------------------------------------------------------------------------

    def _remove_offset(self, offset: int) -> None:
        index = bisect.bisect_left(self._offsets, offset)
        assert index < len(self._offsets) and self._offsets[index] == offset, offset
        del self._offsets[index]

    def _put_back(self, offset: int, message: MessageExt) -> None:
        if offset not in self._messages:
            bisect.insort(self._offsets, offset)
        self._messages[offset] = message


def flow_control(queue: ProcessQueue, config: FlowControlConfig, *, orderly: bool) -> PullGate:
    """Whether to pull the queue now (Java DefaultMQPushConsumerImpl#pullMessage, before the
    request): dropped, then the cached count, the cached MiB, then the span (concurrent) or the
    broker lock (orderly)."""
    if queue.dropped:
        return PullGate.DROPPED
    if queue.message_count > config.pull_threshold_for_queue:
        return PullGate.CACHE_COUNT
    if queue.message_bytes // MiB > config.pull_threshold_size_for_queue_mib:
        return PullGate.CACHE_SIZE
    if not orderly:
        if queue.max_span() > config.consume_concurrently_max_span:
            return PullGate.SPAN
    elif not queue.locked:
        return PullGate.NOT_LOCKED
    return PullGate.PULL
