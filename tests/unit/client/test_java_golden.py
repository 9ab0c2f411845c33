"""Results printed by Apache RocketMQ 4.9.8's own classes (AllocateMessageQueueConsistentHash,
AllocateMessageQueueAveragely, ...ByCircle, ...ByMachineRoom, SelectMessageQueueByHash, and
Collections.sort of client ids) on OpenJDK 17, through a throwaway harness that sorted the inputs
as RebalanceImpl does. Only the printed values are kept here."""

from __future__ import annotations

import random

import pytest

from pocketmq.client.consumer.allocation import (
    AllocateStrategy,
    Averagely,
    AveragelyByCircle,
    ByMachineRoom,
    ConsistentHash,
    sort_client_ids,
    sort_queues,
)
from pocketmq.client.producer.queue_selection import JavaLong, select_by_hash
from pocketmq.common.message import Message, MessageQueue


def queues(topic: str, brokers: list[str], per_broker: int) -> list[MessageQueue]:
    return sort_queues(MessageQueue(topic, b, i) for b in brokers for i in range(per_broker))


def allocate_all(
    strategy: AllocateStrategy, all_queues: list[MessageQueue], clients: list[str]
) -> dict[str, list[str]]:
    clients = sort_client_ids(clients)
    return {
        c: [f"{q.broker_name}/{q.queue_id}" for q in strategy.allocate("g", c, all_queues, clients)]
        for c in clients
    }


AB = ["broker-a", "broker-b"]

GOLDEN: list[tuple[str, AllocateStrategy, list[MessageQueue], list[str], dict[str, list[str]]]] = [
    (
        "hash10 TopicTest 2x8 3c",
        ConsistentHash(),
        queues("TopicTest", AB, 8),
        ["192.168.0.3@9101", "192.168.0.1@1234", "192.168.0.2@5678"],
        {
            "192.168.0.1@1234": [
                "broker-a/1",
                "broker-a/6",
                "broker-a/7",
                "broker-b/3",
                "broker-b/4",
                "broker-b/6",
            ],
            "192.168.0.2@5678": ["broker-a/0", "broker-a/2", "broker-a/4", "broker-a/5", "broker-b/0"],
            "192.168.0.3@9101": ["broker-a/3", "broker-b/1", "broker-b/2", "broker-b/5", "broker-b/7"],
        },
    ),
    (
        "hash3 topic_test 1x20 CID-0..9",
        ConsistentHash(3),
        queues("topic_test", ["broker-a"], 20),
        [f"CID-{i}" for i in range(10)],
        {
            "CID-0": ["broker-a/1", "broker-a/4", "broker-a/5", "broker-a/11", "broker-a/17"],
            "CID-1": ["broker-a/2", "broker-a/6", "broker-a/7"],
            "CID-2": ["broker-a/12", "broker-a/18"],
            "CID-3": ["broker-a/0"],
            "CID-4": [],
            "CID-5": ["broker-a/8", "broker-a/16"],
            "CID-6": ["broker-a/19"],
            "CID-7": ["broker-a/9", "broker-a/10", "broker-a/13", "broker-a/15"],
            "CID-8": [],
            "CID-9": ["broker-a/3", "broker-a/14"],
        },
    ),
    (
        "hash10 T 2x4 2c",
        ConsistentHash(),
        queues("T", AB, 4),
        ["c1", "c2"],
        {
            "c1": ["broker-a/0", "broker-a/3", "broker-b/0", "broker-b/1", "broker-b/3"],
            "c2": ["broker-a/1", "broker-a/2", "broker-b/2"],
        },
    ),
    (
        "avg 2x5 4c",
        Averagely(),
        queues("T", AB, 5),
        ["c3", "c1", "c0", "c2"],
        {
            "c0": ["broker-a/0", "broker-a/1", "broker-a/2"],
            "c1": ["broker-a/3", "broker-a/4", "broker-b/0"],
            "c2": ["broker-b/1", "broker-b/2"],
            "c3": ["broker-b/3", "broker-b/4"],
        },
    ),
    (
        "circle 2x5 4c",
        AveragelyByCircle(),
        queues("T", AB, 5),
        ["c3", "c1", "c0", "c2"],
        {
            "c0": ["broker-a/0", "broker-a/4", "broker-b/3"],
            "c1": ["broker-a/1", "broker-b/0", "broker-b/4"],
            "c2": ["broker-a/2", "broker-b/1"],
            "c3": ["broker-a/3", "broker-b/2"],
        },
    ),
    (
        "avg 1x2 3c",
        Averagely(),
        queues("T", ["broker-a"], 2),
        ["c0", "c1", "c2"],
        {"c0": ["broker-a/0"], "c1": ["broker-a/1"], "c2": []},
    ),
    (
        "room 3 brokers x3 2c",
        ByMachineRoom(frozenset({"room1", "room2"})),
        queues("T", ["room1@broker-a", "room2@broker-b", "room3@broker-c"], 3),
        ["c0", "c1"],
        {
            "c0": ["room1@broker-a/0", "room1@broker-a/1", "room1@broker-a/2"],
            "c1": ["room2@broker-b/0", "room2@broker-b/1", "room2@broker-b/2"],
        },
    ),
]


@pytest.mark.parametrize(
    ("strategy", "all_queues", "clients", "expected"), [g[1:] for g in GOLDEN], ids=[g[0] for g in GOLDEN]
)
def test_allocation_matches_java(
    strategy: AllocateStrategy,
    all_queues: list[MessageQueue],
    clients: list[str],
    expected: dict[str, list[str]],
) -> None:
    assert allocate_all(strategy, all_queues, clients) == expected
    shuffled = list(all_queues)
    random.Random(0).shuffle(shuffled)
    assert allocate_all(strategy, sort_queues(shuffled), list(reversed(clients))) == expected


def test_client_id_sort_matches_java() -> None:
    ids = ["\uff5e", "\U0001f600", "b", "B", "a1", "a"]
    assert sort_client_ids(ids) == ["B", "a", "a1", "b", "\U0001f600", "\uff5e"]


@pytest.mark.parametrize(
    ("arg", "queue_id"),
    [
        ("123", 0),
        ("234", 3),
        ("polygenelubricants", 8),
        ("GydZG_", 8),
        ("DESIGNING WORKHOUSES", 8),
        ("order-42", 7),
        ("中文", 4),
        (-7, 7),
        (15, 5),
        (JavaLong(-1), 0),
        (1 << 40, 6),
        (123456789012, 4),
        (True, 1),
    ],
)
def test_select_by_hash_matches_java(arg: object, queue_id: int) -> None:
    ten = [MessageQueue("FooBar", "DefaultBroker", i) for i in range(10)]
    assert select_by_hash(ten, Message("FooBar"), arg).queue_id == queue_id
