"""Which queue a message is sent to: round-robin over a topic's writable queues, avoiding the broker
that just failed, optionally steered by latency fault tolerance; and the MessageQueueSelector
helpers for ordered sends (Java MQFaultStrategy, LatencyFaultToleranceImpl, TopicPublishInfo,
ThreadLocalIndex, SelectMessageQueueByHash / ByRandom).

Pure: every time comparison takes `now_ms`, and the random starting points come from an injected
`random.Random`, so a seeded simulation replays exactly.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final

from pocketmq.common.java_hash import java_string_hash
from pocketmq.common.message import Message, MessageQueue

__all__ = [
    "LATENCY_MAX_MS",
    "NOT_AVAILABLE_DURATION_MS",
    "ISOLATION_LATENCY_MS",
    "SendWhichQueue",
    "TopicPublishInfo",
    "FaultItem",
    "LatencyFaultTolerance",
    "MQFaultStrategy",
    "MessageQueueSelector",
    "JavaLong",
    "java_hash_code",
    "select_by_hash",
    "SelectMessageQueueByRandom",
]

#: Send latencies (ms) at or above which a broker is set aside... Java MQFaultStrategy.latencyMax.
LATENCY_MAX_MS: Final = (50, 100, 550, 1000, 2000, 3000, 15000)
#: ...for this long (ms), pairwise. Java MQFaultStrategy.notAvailableDuration.
NOT_AVAILABLE_DURATION_MS: Final = (0, 0, 30000, 60000, 120000, 180000, 600000)
#: A send that failed counts as this latency (Java updateFaultItem(..., isolation=true)): 30 s
#: maps to 10 minutes aside.
ISOLATION_LATENCY_MS: Final = 30_000

_INT_MASK: Final = 0xFFFFFFFF
_POSITIVE_MASK: Final = 0x7FFFFFFF
_INT_MIN: Final = -(1 << 31)


def _to_int32(value: int) -> int:
    value &= _INT_MASK
    return value - (1 << 32) if value & 0x80000000 else value


def _position(index: int, size: int) -> int:
    # Java: pos = Math.abs(index) % size; if (pos < 0) pos = 0. Math.abs(Integer.MIN_VALUE) stays
    # negative, so that one index maps to 0.
    if index == _INT_MIN:
        return 0
    return abs(index) % size


class SendWhichQueue:
    """The round-robin counter (Java ThreadLocalIndex: one per thread there; one per publish info
    here, since one event loop sends). Starts at a random point so producers spread out."""

    def __init__(self, rng: random.Random) -> None:
        self._index = rng.randrange(0, 1 << 31)

    def increment_and_get(self) -> int:
        """The next non-negative index (Java: ++index, masked to 31 bits)."""
        self._index = _to_int32(self._index + 1)
        return self._index & _POSITIVE_MASK


@dataclass(slots=True, kw_only=True)
class TopicPublishInfo:
    """A topic's writable queues from its route (Java TopicPublishInfo)."""

    topic: str
    #: The writable queues, broker by broker, as the route lists them.
    message_queues: list[MessageQueue]
    #: writeQueueNums of each broker whose QueueData is writable (Java getQueueIdByBroker).
    write_queue_nums_by_broker: Mapping[str, int]
    send_which_queue: SendWhichQueue
    order_topic: bool = False

    def ok(self) -> bool:
        return bool(self.message_queues)

    def select_one_message_queue(self, last_broker_name: str | None = None) -> MessageQueue:
        """The next queue in turn, skipping `last_broker_name` when another broker has queues."""
        if not self.message_queues:
            raise ValueError(f"topic {self.topic} has no writable queue to select from")
        size = len(self.message_queues)
        if last_broker_name is not None:
            for _ in range(size):
                queue = self.message_queues[_position(self.send_which_queue.increment_and_get(), size)]
                if queue.broker_name != last_broker_name:
                    return queue
        return self.message_queues[_position(self.send_which_queue.increment_and_get(), size)]

    def write_queue_nums(self, broker_name: str | None) -> int:
        """writeQueueNums of a writable broker of this topic, -1 if none (Java getQueueIdByBroker)."""
        if broker_name is None:
            return -1
        return self.write_queue_nums_by_broker.get(broker_name, -1)


@dataclass(slots=True)
class FaultItem:
    """A broker's last send latency and when it may be used again (Java FaultItem)."""

    name: str
    current_latency_ms: int
    start_timestamp_ms: int

    def is_available(self, now_ms: int) -> bool:
        return now_ms - self.start_timestamp_ms >= 0


class LatencyFaultTolerance:
    """Brokers set aside after slow or failed sends (Java LatencyFaultToleranceImpl)."""

    def __init__(self, *, rng: random.Random) -> None:
        self._items: dict[str, FaultItem] = {}
        self._which_item_worst = SendWhichQueue(rng)

    def update_fault_item(
        self, name: str, current_latency_ms: int, not_available_duration_ms: int, now_ms: int
    ) -> None:
        item = self._items.get(name)
        if item is None:
            self._items[name] = FaultItem(name, current_latency_ms, now_ms + not_available_duration_ms)
        else:
            item.current_latency_ms = current_latency_ms
            item.start_timestamp_ms = now_ms + not_available_duration_ms

    def is_available(self, name: str, now_ms: int) -> bool:
        item = self._items.get(name)
        return item is None or item.is_available(now_ms)

    def remove(self, name: str | None) -> None:
        if name is not None:
            self._items.pop(name, None)

    def pick_one_at_least(self, now_ms: int) -> str | None:
        """A broker to try when none is available: one of the better half, in turn (Java
        pickOneAtLeast sorts available first, then by latency, then by start time)."""
        if not self._items:
            return None
        ranked = sorted(
            self._items.values(),
            key=lambda item: (
                not item.is_available(now_ms),
                item.current_latency_ms,
                item.start_timestamp_ms,
            ),
        )
        half = len(ranked) // 2
        if half <= 0:
            return ranked[0].name
        return ranked[self._which_item_worst.increment_and_get() % half].name

    def items(self) -> list[FaultItem]:
        return list(self._items.values())


class MQFaultStrategy:
    """Queue selection for sends (Java MQFaultStrategy). With `send_latency_fault_enable` off (the
    Java default) it is plain round-robin avoiding the last failed broker; on, it prefers queues of
    brokers not set aside by LatencyFaultTolerance."""

    def __init__(
        self,
        *,
        rng: random.Random,
        send_latency_fault_enable: bool = False,
        latency_max_ms: Sequence[int] = LATENCY_MAX_MS,
        not_available_duration_ms: Sequence[int] = NOT_AVAILABLE_DURATION_MS,
    ) -> None:
        if len(latency_max_ms) != len(not_available_duration_ms):
            raise ValueError("latency_max_ms and not_available_duration_ms must have the same length")
        self.send_latency_fault_enable = send_latency_fault_enable
        self.latency_max_ms = tuple(latency_max_ms)
        self.not_available_duration_ms = tuple(not_available_duration_ms)
        self.fault_tolerance = LatencyFaultTolerance(rng=rng)

    def select_one_message_queue(
        self, info: TopicPublishInfo, last_broker_name: str | None, now_ms: int
    ) -> MessageQueue:
        if not self.send_latency_fault_enable:
            return info.select_one_message_queue(last_broker_name)
        if not info.message_queues:
            raise ValueError(f"topic {info.topic} has no writable queue to select from")
        # Java 4.9.8 ignores last_broker_name on this path: the fault table already avoids it.
        size = len(info.message_queues)
        index = info.send_which_queue.increment_and_get()
        for _ in range(size):
            queue = info.message_queues[_position(index, size)]
            index = _to_int32(index + 1)
            if self.fault_tolerance.is_available(queue.broker_name, now_ms):
                return queue
        not_best = self.fault_tolerance.pick_one_at_least(now_ms)
        write_queue_nums = info.write_queue_nums(not_best)
        if write_queue_nums > 0:
            queue = info.select_one_message_queue()
            if not_best is not None:
                queue_id = info.send_which_queue.increment_and_get() % write_queue_nums
                return MessageQueue(queue.topic, not_best, queue_id)
            return queue
        self.fault_tolerance.remove(not_best)
        return info.select_one_message_queue()

    def update_fault_item(
        self, broker_name: str, current_latency_ms: int, *, isolation: bool, now_ms: int
    ) -> None:
        """Record a send's latency (`isolation`: the send failed)."""
        if self.send_latency_fault_enable:
            duration = self.compute_not_available_duration(
                ISOLATION_LATENCY_MS if isolation else current_latency_ms
            )
            self.fault_tolerance.update_fault_item(broker_name, current_latency_ms, duration, now_ms)

    def compute_not_available_duration(self, current_latency_ms: int) -> int:
        for latency_max, duration in zip(
            reversed(self.latency_max_ms), reversed(self.not_available_duration_ms), strict=True
        ):
            if current_latency_ms >= latency_max:
                return duration
        return 0


# ---------------------------------------------------------------------------------------------
# MessageQueueSelector helpers (ordered messages)

#: Java MessageQueueSelector#select(mqs, msg, arg).
MessageQueueSelector = Callable[[Sequence[MessageQueue], Message, object], MessageQueue]


@dataclass(frozen=True, slots=True)
class JavaLong:
    """Marks an int as a Java `Long` for hashing: Long.hashCode differs from Integer.hashCode for
    negative values and is the only choice above 32 bits."""

    value: int


def java_hash_code(arg: object) -> int:
    """Java `hashCode()` of a selector argument: str as String, bool as Boolean, int as Integer when
    it fits in 32 bits (else as Long), `JavaLong` as Long."""
    if isinstance(arg, str):
        return java_string_hash(arg)
    if isinstance(arg, bool):
        return 1231 if arg else 1237
    if isinstance(arg, JavaLong | int):
        value = arg.value if isinstance(arg, JavaLong) else arg
        if not -(1 << 63) <= value < (1 << 63):
            raise ValueError(f"{value} does not fit in a Java long")
        if isinstance(arg, int) and _INT_MIN <= value < (1 << 31):
            return value
        unsigned = value & 0xFFFFFFFFFFFFFFFF
        return _to_int32(unsigned ^ (unsigned >> 32))
    raise TypeError(
        f"cannot hash a {type(arg).__name__} as Java does; pass a str, an int, a bool or a JavaLong"
    )


def select_by_hash(queues: Sequence[MessageQueue], message: Message, arg: object) -> MessageQueue:
    """Java SelectMessageQueueByHash: `abs(arg.hashCode() % len(queues))`, so one key always maps
    to the same queue as it does from a Java producer."""
    if not queues:
        raise ValueError("no queue to select from")
    size = len(queues)
    hash_code = java_hash_code(arg)
    remainder = abs(hash_code) % size  # == abs of Java's truncated remainder, even for MIN_VALUE
    return queues[remainder]


@dataclass(slots=True)
class SelectMessageQueueByRandom:
    """Java SelectMessageQueueByRandom, with the random source injected."""

    rng: random.Random = field(default_factory=random.Random)

    def __call__(self, queues: Sequence[MessageQueue], message: Message, arg: object) -> MessageQueue:
        if not queues:
            raise ValueError("no queue to select from")
        return queues[self.rng.randrange(len(queues))]
