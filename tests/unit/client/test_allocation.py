"""Allocation strategies against results derived by hand from the Java algorithms
(client/consumer/rebalance/*.java in Apache RocketMQ 4.9.8), plus partition properties."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pocketmq.client.consumer.allocation import (
    AllocateStrategy,
    Averagely,
    AveragelyByCircle,
    ByConfig,
    ByMachineRoom,
    ConsistentHash,
    MachineRoomNearby,
    allocate_averagely,
    allocate_averagely_by_circle,
    allocate_by_machine_room,
    allocate_consistent_hash,
    consistent_hash_md5,
    java_string_key,
    sort_client_ids,
    sort_queues,
    strategy_by_name,
)
from pocketmq.common.message import MessageQueue


def queues(count: int, topic: str = "topic", broker: str = "broker-a") -> list[MessageQueue]:
    return [MessageQueue(topic, broker, i) for i in range(count)]


def ids(allocated: list[MessageQueue]) -> list[int]:
    return [queue.queue_id for queue in allocated]


CLIENTS = ["CID_PREFIX0", "CID_PREFIX1", "CID_PREFIX2", "CID_PREFIX3"]


# --- Averagely --------------------------------------------------------------------------------


def test_averagely_sizes_match_java_test() -> None:
    # AllocateMessageQueueAveragelyTest: 10 queues over 4 clients -> 3, 3, 2, 2.
    all_queues = queues(10)
    assert [ids(allocate_averagely("g", c, all_queues, CLIENTS)) for c in CLIENTS] == [
        [0, 1, 2],
        [3, 4, 5],
        [6, 7],
        [8, 9],
    ]


@pytest.mark.parametrize(
    ("queue_count", "client_count", "expected"),
    [
        (8, 3, [[0, 1, 2], [3, 4, 5], [6, 7]]),
        (8, 2, [[0, 1, 2, 3], [4, 5, 6, 7]]),
        (2, 3, [[0], [1], []]),
        (3, 3, [[0], [1], [2]]),
        (1, 4, [[0], [], [], []]),
        (7, 4, [[0, 1], [2, 3], [4, 5], [6]]),
    ],
)
def test_averagely_blocks(queue_count: int, client_count: int, expected: list[list[int]]) -> None:
    clients = [f"c{i}" for i in range(client_count)]
    assert [ids(allocate_averagely("g", c, queues(queue_count), clients)) for c in clients] == expected


# --- AveragelyByCircle ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("queue_count", "client_count", "expected"),
    [
        (8, 3, [[0, 3, 6], [1, 4, 7], [2, 5]]),
        (2, 3, [[0], [1], []]),
        (10, 4, [[0, 4, 8], [1, 5, 9], [2, 6], [3, 7]]),
    ],
)
def test_averagely_by_circle(queue_count: int, client_count: int, expected: list[list[int]]) -> None:
    clients = [f"c{i}" for i in range(client_count)]
    assert [
        ids(allocate_averagely_by_circle("g", c, queues(queue_count), clients)) for c in clients
    ] == expected


# --- invalid input, as AbstractAllocateMessageQueueStrategy#check -----------------------------


@pytest.mark.parametrize(
    "strategy", [Averagely(), AveragelyByCircle(), ConsistentHash(), ByMachineRoom(frozenset())]
)
def test_invalid_input_as_java(strategy: AllocateStrategy) -> None:
    with pytest.raises(ValueError, match="current_client_id"):
        strategy.allocate("g", "", queues(4), CLIENTS)
    with pytest.raises(ValueError, match="all_queues"):
        strategy.allocate("g", "CID_PREFIX0", [], CLIENTS)
    with pytest.raises(ValueError, match="all_client_ids"):
        strategy.allocate("g", "CID_PREFIX0", queues(4), [])
    # A client id missing from the list: Java logs [BUG] and allocates nothing.
    assert strategy.allocate("g", "stranger", queues(4), CLIENTS) == []


def test_by_config_returns_the_configured_queues_whatever_the_input() -> None:
    configured = (MessageQueue("t", "b", 3), MessageQueue("t", "b", 1))
    strategy = ByConfig(configured)
    assert strategy.allocate("g", "", [], []) == list(configured)
    assert strategy.name == "CONFIG"


# --- ConsistentHash ---------------------------------------------------------------------------


def test_md5_hash_is_the_first_four_digest_bytes() -> None:
    # md5("CID-0-0") = 71479af9a4586a33aaef3e2d737d08f9 (checked with md5sum).
    assert consistent_hash_md5("CID-0-0") == 0x71479AF9
    assert consistent_hash_md5("x") == int(hashlib.md5(b"x").hexdigest()[:8], 16)


def ring_oracle(queue: MessageQueue, clients: list[str], virtual_nodes: int) -> str:
    """Independent reading of ConsistentHashRouter#routeNode: the owner of the first ring point at
    or after the queue's hash, wrapping around; as the smallest clockwise distance."""
    key_hash = consistent_hash_md5(
        f"MessageQueue [topic={queue.topic}, brokerName={queue.broker_name}, queueId={queue.queue_id}]"
    )
    best: tuple[int, str] | None = None
    for client in clients:
        for replica in range(virtual_nodes):
            point = consistent_hash_md5(f"{client}-{replica}")
            distance = (point - key_hash) % (1 << 32)
            if best is None or distance < best[0]:
                best = (distance, client)
    assert best is not None
    return best[1]


@pytest.mark.parametrize(
    ("queue_count", "client_count", "virtual_nodes"), [(20, 10, 3), (10, 20, 3), (16, 3, 10)]
)
def test_consistent_hash_matches_the_ring(queue_count: int, client_count: int, virtual_nodes: int) -> None:
    clients = [f"CID-{i}" for i in range(client_count)]
    all_queues = queues(queue_count, topic="topic_test")
    for client in clients:
        got = allocate_consistent_hash("g", client, all_queues, clients, virtual_node_count=virtual_nodes)
        assert got == [q for q in all_queues if ring_oracle(q, clients, virtual_nodes) == client]


def test_consistent_hash_pinned_values() -> None:
    # Pinned from the ring above (4 queues of topic_test on broker-a, 2 clients, 10 virtual nodes),
    # so a change of the hash or the key format shows up here.
    clients = ["CID-0", "CID-1"]
    all_queues = queues(4, topic="topic_test")
    got = {c: ids(ConsistentHash().allocate("g", c, all_queues, clients)) for c in clients}
    assert got == {c: [q.queue_id for q in all_queues if ring_oracle(q, clients, 10) == c] for c in clients}
    assert sorted(got["CID-0"] + got["CID-1"]) == [0, 1, 2, 3]


def test_consistent_hash_with_no_virtual_nodes_allocates_nothing() -> None:
    assert allocate_consistent_hash("g", "a", queues(3), ["a"], virtual_node_count=0) == []
    with pytest.raises(ValueError):
        ConsistentHash(-1)


def test_consistent_hash_moves_few_queues_when_a_client_joins() -> None:
    all_queues = queues(64)
    before = {c: set(ConsistentHash().allocate("g", c, all_queues, ["a", "b", "c"])) for c in "abc"}
    after = {c: set(ConsistentHash().allocate("g", c, all_queues, ["a", "b", "c", "d"])) for c in "abcd"}
    for client in "abc":
        assert after[client] <= before[client]  # a joining client only takes, never reshuffles


# --- MachineRoom ------------------------------------------------------------------------------


def test_by_machine_room_matches_java_test() -> None:
    # AllocateMessageQueueByMachineRoomTest: queues 0-4 on room1@broker-a, 5-9 on room2@broker-b.
    all_queues = [
        MessageQueue("topic", "room1@broker-a" if i < 5 else "room2@broker-b", i) for i in range(10)
    ]
    clients = ["CID_PREFIX0", "CID_PREFIX1"]
    got = [
        ids(allocate_by_machine_room("", c, all_queues, clients, consumer_idcs={"room1"})) for c in clients
    ]
    assert got == [[0, 1, 4], [2, 3]]


def test_by_machine_room_splits_broker_names_as_java() -> None:
    # Java "room1@b@".split("@") is ["room1", "b"]: trailing empty strings are dropped.
    all_queues = [
        MessageQueue("t", "room1@b@", 0),
        MessageQueue("t", "room1@b@c", 1),
        MessageQueue("t", "room1", 2),
    ]
    assert ids(allocate_by_machine_room("", "c", all_queues, ["c"], consumer_idcs={"room1"})) == [0]


def test_machine_room_nearby() -> None:
    # Queues in rooms A and B and C; consumers only in A and B: C's queues are shared by everyone.
    all_queues = sort_queues([MessageQueue("t", f"{room}@broker", i) for room in "ABC" for i in range(4)])
    clients = ["A-1", "A-2", "B-1"]
    strategy = MachineRoomNearby(
        Averagely(), lambda q: q.broker_name.split("@")[0], lambda c: c.split("-")[0]
    )
    got = {c: strategy.allocate("g", c, all_queues, clients) for c in clients}
    assert [str(q.broker_name) + str(q.queue_id) for q in got["B-1"]] == [
        "B@broker0",
        "B@broker1",
        "B@broker2",
        "B@broker3",
        "C@broker3",
    ]
    assert strategy.name == "MACHINE_ROOM_NEARBY-AVG"
    assert sorted(q for c in clients for q in got[c]) == sorted(all_queues)


# --- ordering ---------------------------------------------------------------------------------


def test_java_string_order_uses_utf16_code_units() -> None:
    # U+FF5E (one unit 0xFF5E) sorts after U+1F600 (units 0xD83D 0xDE00) in Java, before it by code point.
    assert sort_client_ids(["\uff5e", "\U0001f600"]) == ["\U0001f600", "\uff5e"]
    assert java_string_key("ab") < java_string_key("abc") < java_string_key("b")


def test_sort_queues_as_message_queue_compare_to() -> None:
    unsorted = [
        MessageQueue("b", "x", 0),
        MessageQueue("a", "y", 1),
        MessageQueue("a", "y", 0),
        MessageQueue("a", "x", 9),
    ]
    assert sort_queues(unsorted) == [
        MessageQueue("a", "x", 9),
        MessageQueue("a", "y", 0),
        MessageQueue("a", "y", 1),
        MessageQueue("b", "x", 0),
    ]


def test_strategy_by_name() -> None:
    assert strategy_by_name("AVG") == Averagely()
    assert strategy_by_name("AllocateMessageQueueAveragelyByCircle").name == "AVG_BY_CIRCLE"
    with pytest.raises(ValueError, match="unknown allocation strategy"):
        strategy_by_name("NOPE")


# --- properties: every queue exactly once across all clients ----------------------------------

queue_lists = st.lists(
    st.builds(
        MessageQueue,
        st.sampled_from(["TopicA", "TopicB"]),
        st.sampled_from(["broker-a", "broker-b", "room1@broker-c", "room2@broker-d"]),
        st.integers(0, 31),
    ),
    min_size=1,
    max_size=40,
    unique=True,
)
client_lists = st.lists(st.text(min_size=1, max_size=8), min_size=1, max_size=12, unique=True)

PARTITIONING: list[AllocateStrategy] = [
    Averagely(),
    AveragelyByCircle(),
    ConsistentHash(),
    ConsistentHash(1),
    MachineRoomNearby(AveragelyByCircle(), lambda q: q.broker_name[-1], lambda c: "abcd"[len(c) % 4]),
]


@settings(max_examples=150, deadline=None)
@given(all_queues=queue_lists, clients=client_lists)
def test_every_queue_is_assigned_exactly_once(all_queues: list[MessageQueue], clients: list[str]) -> None:
    all_queues = sort_queues(all_queues)
    clients = sort_client_ids(clients)
    for strategy in PARTITIONING:
        assigned = [q for c in clients for q in strategy.allocate("g", c, all_queues, clients)]
        assert sorted(assigned) == sorted(all_queues), strategy.name


@settings(max_examples=100, deadline=None)
@given(all_queues=queue_lists, clients=client_lists)
def test_machine_room_assigns_each_eligible_queue_once(
    all_queues: list[MessageQueue], clients: list[str]
) -> None:
    all_queues = sort_queues(all_queues)
    clients = sort_client_ids(clients)
    strategy = ByMachineRoom(frozenset({"room1", "room2"}))
    assigned = [q for c in clients for q in strategy.allocate("g", c, all_queues, clients)]
    assert sorted(assigned) == sorted(q for q in all_queues if "@" in q.broker_name)


@settings(max_examples=100, deadline=None)
@given(all_queues=queue_lists, clients=client_lists)
def test_averagely_is_balanced(all_queues: list[MessageQueue], clients: list[str]) -> None:
    sizes = [len(allocate_averagely("g", c, all_queues, clients)) for c in clients]
    assert max(sizes) - min(sizes) <= 1
