"""Queue allocation: which of a topic's queues one consumer of a group takes (Java
AllocateMessageQueueStrategy and its implementations in client/consumer/rebalance/).

Every strategy is a pure function of `(consumer_group, current_client_id, all_queues, all_client_ids)`
and gives the same result as the Java strategy of the same name, so pocketmq consumers and Java
consumers can share one group. The inputs are taken as given: RebalanceImpl#rebalanceByTopic sorts
both lists before calling a strategy, and `rebalance.plan_rebalance` does the same through
`sort_queues` / `sort_client_ids`, which order strings as Java's `String.compareTo` does.

Invalid input behaves as Java's AbstractAllocateMessageQueueStrategy#check: an empty client id,
queue list or client id list raises `ValueError` (Java: IllegalArgumentException, which the
rebalance catches and then leaves that topic alone); a client id missing from the list gives no
queues (Java logs "[BUG]" and returns an empty list).
"""

from __future__ import annotations

import hashlib
from bisect import bisect_left
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from typing import Final, Protocol

from pocketmq.common.message import MessageQueue

__all__ = [
    "AllocateStrategy",
    "java_string_key",
    "sort_queues",
    "sort_client_ids",
    "allocate_averagely",
    "allocate_averagely_by_circle",
    "allocate_consistent_hash",
    "consistent_hash_md5",
    "allocate_by_config",
    "allocate_by_machine_room",
    "allocate_machine_room_nearby",
    "Averagely",
    "AveragelyByCircle",
    "ConsistentHash",
    "ByConfig",
    "ByMachineRoom",
    "MachineRoomNearby",
    "strategy_by_name",
]

#: Java AllocateMessageQueueConsistentHash() uses 10 virtual nodes per client.
CONSISTENT_HASH_VIRTUAL_NODES: Final = 10


class AllocateStrategy(Protocol):
    """A named allocation strategy; `name` is Java's getName() (reported in consumer running info)."""

    @property
    def name(self) -> str: ...

    def allocate(
        self,
        consumer_group: str,
        current_client_id: str,
        all_queues: Sequence[MessageQueue],
        all_client_ids: Sequence[str],
    ) -> list[MessageQueue]: ...


# ---------------------------------------------------------------------------------------------
# Java ordering


def java_string_key(text: str) -> bytes:
    """A sort key ordering strings as Java's `String.compareTo` (UTF-16 code units, then length).

    Python compares code points, which differs from UTF-16 for characters above U+FFFF against
    U+E000..U+FFFF; big-endian UTF-16 bytes compare exactly as the code units do.
    """
    return text.encode("utf-16-be", "surrogatepass")


def _queue_key(queue: MessageQueue) -> tuple[bytes, bytes, int]:
    # Java MessageQueue#compareTo: topic, then brokerName, then queueId.
    return java_string_key(queue.topic), java_string_key(queue.broker_name), queue.queue_id


def sort_queues(queues: Iterable[MessageQueue]) -> list[MessageQueue]:
    """The queues in Java's `Collections.sort(mqAll)` order."""
    return sorted(queues, key=_queue_key)


def sort_client_ids(client_ids: Iterable[str]) -> list[str]:
    """The client ids in Java's `Collections.sort(cidAll)` order."""
    return sorted(client_ids, key=java_string_key)


def _check(current_client_id: str, all_queues: Sequence[MessageQueue], all_client_ids: Sequence[str]) -> bool:
    # Java AbstractAllocateMessageQueueStrategy#check.
    if not current_client_id:
        raise ValueError("current_client_id is empty")
    if not all_queues:
        raise ValueError("all_queues is empty: the topic has no readable queue to allocate")
    if not all_client_ids:
        raise ValueError("all_client_ids is empty: the broker knows no consumer of this group")
    return current_client_id in all_client_ids


# ---------------------------------------------------------------------------------------------
# The strategies, as functions


def allocate_averagely(
    consumer_group: str,
    current_client_id: str,
    all_queues: Sequence[MessageQueue],
    all_client_ids: Sequence[str],
) -> list[MessageQueue]:
    """Java AllocateMessageQueueAveragely ("AVG"): contiguous blocks, the first `len % n` clients
    one queue more. 8 queues over 3 clients: [0, 1, 2], [3, 4, 5], [6, 7]."""
    if not _check(current_client_id, all_queues, all_client_ids):
        return []
    queue_count = len(all_queues)
    client_count = len(all_client_ids)
    index = all_client_ids.index(current_client_id)
    remainder = queue_count % client_count
    if queue_count <= client_count:
        block = 1
    elif remainder > 0 and index < remainder:
        block = queue_count // client_count + 1
    else:
        block = queue_count // client_count
    start = index * block if remainder > 0 and index < remainder else index * block + remainder
    count = min(block, queue_count - start)
    return [all_queues[(start + i) % queue_count] for i in range(count)]


def allocate_averagely_by_circle(
    consumer_group: str,
    current_client_id: str,
    all_queues: Sequence[MessageQueue],
    all_client_ids: Sequence[str],
) -> list[MessageQueue]:
    """Java AllocateMessageQueueAveragelyByCircle ("AVG_BY_CIRCLE"): queue i goes to client
    i mod n. 8 queues over 3 clients: [0, 3, 6], [1, 4, 7], [2, 5]."""
    if not _check(current_client_id, all_queues, all_client_ids):
        return []
    index = all_client_ids.index(current_client_id)
    return list(all_queues[index :: len(all_client_ids)])


def consistent_hash_md5(key: str) -> int:
    """The default hash of Java ConsistentHashRouter (MD5Hash): the first 4 bytes of the MD5 of
    the key's bytes, as an unsigned big-endian number (0 .. 2**32 - 1).

    Java hashes `key.getBytes()` in the platform charset; UTF-8 on every current JVM.
    """
    digest = hashlib.md5(key.encode("utf-8", "replace"), usedforsecurity=False).digest()
    return int.from_bytes(digest[:4], "big")


def _build_ring(
    client_ids: Iterable[str], virtual_node_count: int, hash_function: Callable[[str], int]
) -> tuple[list[int], dict[int, str]]:
    # Java ConsistentHashRouter: a TreeMap from hash to virtual node "<clientId>-<replica>". A
    # client listed twice continues its replica numbers (getExistingReplicas), and a hash
    # collision replaces the earlier virtual node, as TreeMap#put does.
    ring: dict[int, str] = {}
    replicas: Counter[str] = Counter()
    for client_id in client_ids:
        existing = replicas[client_id]
        for i in range(virtual_node_count):
            point = hash_function(f"{client_id}-{i + existing}")
            previous = ring.get(point)
            if previous is not None:
                replicas[previous] -= 1
            ring[point] = client_id
            replicas[client_id] += 1
    return sorted(ring), ring


def allocate_consistent_hash(
    consumer_group: str,
    current_client_id: str,
    all_queues: Sequence[MessageQueue],
    all_client_ids: Sequence[str],
    *,
    virtual_node_count: int = CONSISTENT_HASH_VIRTUAL_NODES,
    hash_function: Callable[[str], int] = consistent_hash_md5,
) -> list[MessageQueue]:
    """Java AllocateMessageQueueConsistentHash ("CONSISTENT_HASH"): each client puts
    `virtual_node_count` points `hash("<clientId>-<i>")` on a ring; a queue goes to the first point
    at or after `hash(str(queue))` (Java MessageQueue#toString), wrapping to the first point.
    With no virtual nodes the ring is empty and nobody gets a queue, as in Java."""
    if virtual_node_count < 0:
        raise ValueError(f"virtual_node_count must be >= 0, not {virtual_node_count}")
    if not _check(current_client_id, all_queues, all_client_ids):
        return []
    points, ring = _build_ring(all_client_ids, virtual_node_count, hash_function)
    if not points:
        return []
    result: list[MessageQueue] = []
    for queue in all_queues:
        position = bisect_left(points, hash_function(str(queue)))
        owner = ring[points[position] if position < len(points) else points[0]]
        if owner == current_client_id:
            result.append(queue)
    return result


def allocate_by_config(
    consumer_group: str,
    current_client_id: str,
    all_queues: Sequence[MessageQueue],
    all_client_ids: Sequence[str],
    *,
    queues: Sequence[MessageQueue],
) -> list[MessageQueue]:
    """Java AllocateMessageQueueByConfig ("CONFIG"): the configured queues, whatever the inputs
    (Java performs no check here)."""
    return list(queues)


def _java_split_at(text: str) -> list[str]:
    # Java String#split("@"): no match gives [text]; otherwise trailing empty strings are removed.
    parts = text.split("@")
    if len(parts) == 1:
        return parts
    while parts and parts[-1] == "":
        parts.pop()
    return parts


def allocate_by_machine_room(
    consumer_group: str,
    current_client_id: str,
    all_queues: Sequence[MessageQueue],
    all_client_ids: Sequence[str],
    *,
    consumer_idcs: Collection[str],
) -> list[MessageQueue]:
    """Java AllocateMessageQueueByMachineRoom ("MACHINE_ROOM"): only queues whose broker is named
    `<idc>@<name>` with `idc` in `consumer_idcs` are shared out, in blocks of `len // n`, and
    the leftover queue `index + block * n` goes to the clients whose index is below `len % n`."""
    if not _check(current_client_id, all_queues, all_client_ids):
        return []
    index = all_client_ids.index(current_client_id)
    eligible = []
    for queue in all_queues:
        parts = _java_split_at(queue.broker_name)
        if len(parts) == 2 and parts[0] in consumer_idcs:
            eligible.append(queue)
    client_count = len(all_client_ids)
    block, remainder = divmod(len(eligible), client_count)
    result = eligible[block * index : block * index + block]
    if remainder > index:
        result.append(eligible[index + block * client_count])
    return result


def allocate_machine_room_nearby(
    consumer_group: str,
    current_client_id: str,
    all_queues: Sequence[MessageQueue],
    all_client_ids: Sequence[str],
    *,
    inner: AllocateStrategy,
    broker_room: Callable[[MessageQueue], str],
    consumer_room: Callable[[str], str],
) -> list[MessageQueue]:
    """Java AllocateMachineRoomNearby ("MACHINE_ROOM_NEARBY-<inner>"): the queues of a machine room
    go to the consumers of that room (by `inner`); the queues of rooms without any consumer are
    shared by all consumers (by `inner`). An empty room name raises `ValueError` (as in Java)."""
    if not _check(current_client_id, all_queues, all_client_ids):
        return []
    queues_by_room: dict[str, list[MessageQueue]] = {}
    for queue in all_queues:
        room = broker_room(queue)
        if not room:
            raise ValueError(f"machine room is empty for {queue}")
        queues_by_room.setdefault(room, []).append(queue)
    clients_by_room: dict[str, list[str]] = {}
    for client_id in all_client_ids:
        room = consumer_room(client_id)
        if not room:
            raise ValueError(f"machine room is empty for consumer id {client_id}")
        clients_by_room.setdefault(room, []).append(client_id)

    result: list[MessageQueue] = []
    current_room = consumer_room(current_client_id)
    local_queues = queues_by_room.pop(current_room, None)
    if local_queues:
        result.extend(
            inner.allocate(consumer_group, current_client_id, local_queues, clients_by_room[current_room])
        )
    # Java iterates a TreeMap: rooms in String order.
    for room in sorted(queues_by_room, key=java_string_key):
        if room not in clients_by_room:
            result.extend(
                inner.allocate(consumer_group, current_client_id, queues_by_room[room], all_client_ids)
            )
    return result


# ---------------------------------------------------------------------------------------------
# The strategies, as named objects (what a consumer is configured with)


@dataclass(frozen=True, slots=True)
class Averagely:
    name: str = "AVG"

    def allocate(
        self,
        consumer_group: str,
        current_client_id: str,
        all_queues: Sequence[MessageQueue],
        all_client_ids: Sequence[str],
    ) -> list[MessageQueue]:
        return allocate_averagely(consumer_group, current_client_id, all_queues, all_client_ids)


@dataclass(frozen=True, slots=True)
class AveragelyByCircle:
    name: str = "AVG_BY_CIRCLE"

    def allocate(
        self,
        consumer_group: str,
        current_client_id: str,
        all_queues: Sequence[MessageQueue],
        all_client_ids: Sequence[str],
    ) -> list[MessageQueue]:
        return allocate_averagely_by_circle(consumer_group, current_client_id, all_queues, all_client_ids)


@dataclass(frozen=True, slots=True)
class ConsistentHash:
    virtual_node_count: int = CONSISTENT_HASH_VIRTUAL_NODES
    hash_function: Callable[[str], int] = consistent_hash_md5
    name: str = "CONSISTENT_HASH"

    def __post_init__(self) -> None:
        if self.virtual_node_count < 0:
            raise ValueError(f"virtual_node_count must be >= 0, not {self.virtual_node_count}")

    def allocate(
        self,
        consumer_group: str,
        current_client_id: str,
        all_queues: Sequence[MessageQueue],
        all_client_ids: Sequence[str],
    ) -> list[MessageQueue]:
        return allocate_consistent_hash(
            consumer_group,
            current_client_id,
            all_queues,
            all_client_ids,
            virtual_node_count=self.virtual_node_count,
            hash_function=self.hash_function,
        )


@dataclass(frozen=True, slots=True)
class ByConfig:
    queues: tuple[MessageQueue, ...]
    name: str = "CONFIG"

    def allocate(
        self,
        consumer_group: str,
        current_client_id: str,
        all_queues: Sequence[MessageQueue],
        all_client_ids: Sequence[str],
    ) -> list[MessageQueue]:
        return allocate_by_config(
            consumer_group, current_client_id, all_queues, all_client_ids, queues=self.queues
        )


@dataclass(frozen=True, slots=True)
class ByMachineRoom:
    consumer_idcs: frozenset[str]
    name: str = "MACHINE_ROOM"

    def allocate(
        self,
        consumer_group: str,
        current_client_id: str,
        all_queues: Sequence[MessageQueue],
        all_client_ids: Sequence[str],
    ) -> list[MessageQueue]:
        return allocate_by_machine_room(
            consumer_group, current_client_id, all_queues, all_client_ids, consumer_idcs=self.consumer_idcs
        )


@dataclass(frozen=True, slots=True)
class MachineRoomNearby:
    inner: AllocateStrategy
    broker_room: Callable[[MessageQueue], str]
    consumer_room: Callable[[str], str]

    @property
    def name(self) -> str:
        return f"MACHINE_ROOM_NEARBY-{self.inner.name}"

    def allocate(
        self,
        consumer_group: str,
        current_client_id: str,
        all_queues: Sequence[MessageQueue],
        all_client_ids: Sequence[str],
    ) -> list[MessageQueue]:
        return allocate_machine_room_nearby(
            consumer_group,
            current_client_id,
            all_queues,
            all_client_ids,
            inner=self.inner,
            broker_room=self.broker_room,
            consumer_room=self.consumer_room,
        )


def strategy_by_name(name: str) -> AllocateStrategy:
    """The parameterless strategies by their Java names (AVG, AVG_BY_CIRCLE, CONSISTENT_HASH), or
    by the Java class name (AllocateMessageQueueAveragely, ...). CONFIG and MACHINE_ROOM need
    arguments: build `ByConfig` / `ByMachineRoom` directly."""
    table: dict[str, AllocateStrategy] = {
        "AVG": Averagely(),
        "AllocateMessageQueueAveragely": Averagely(),
        "AVG_BY_CIRCLE": AveragelyByCircle(),
        "AllocateMessageQueueAveragelyByCircle": AveragelyByCircle(),
        "CONSISTENT_HASH": ConsistentHash(),
        "AllocateMessageQueueConsistentHash": ConsistentHash(),
    }
    try:
        return table[name]
    except KeyError:
        raise ValueError(
            f"unknown allocation strategy {name!r}; choose one of AVG, AVG_BY_CIRCLE, CONSISTENT_HASH"
        ) from None
