"""Rebalancer decisions and apply_plan against fake ports."""

from __future__ import annotations

from dataclasses import dataclass, field

from pocketmq.client.consumer.allocation import Averagely
from pocketmq.client.consumer.process_queue import PULL_MAX_IDLE_TIME_MS, ProcessQueue
from pocketmq.client.consumer.rebalance import (
    AssignmentStatus,
    ConsumeType,
    MessageModel,
    Rebalancer,
    apply_plan,
    per_queue_thresholds,
    queues_by_broker,
)
from pocketmq.common.message import MessageQueue

NOW = 1_700_000_000_000
T = [MessageQueue("T", "broker-a", i) for i in range(4)] + [
    MessageQueue("T", "broker-b", i) for i in range(4)
]
RETRY = [MessageQueue("%RETRY%g", "broker-a", 0)]


def rebalancer(
    client_id: str = "c1",
    *,
    model: MessageModel = MessageModel.CLUSTERING,
    consume_type: ConsumeType = ConsumeType.CONSUME_PASSIVELY,
    orderly: bool = False,
) -> Rebalancer:
    return Rebalancer(
        consumer_group="g",
        client_id=client_id,
        message_model=model,
        consume_type=consume_type,
        strategy=Averagely(),
        orderly=orderly,
    )


def hold(r: Rebalancer, queues: list[MessageQueue], now_ms: int = NOW) -> None:
    for queue in queues:
        r.add_process_queue(queue, ProcessQueue(now_ms=now_ms))


def test_clustering_adds_its_share_in_java_order() -> None:
    r = rebalancer("c2")
    plan = r.plan(
        subscribed_topics=["T", "%RETRY%g"],
        topic_queues={"T": list(reversed(T)), "%RETRY%g": RETRY},
        client_ids={"T": ["c2", "c1"], "%RETRY%g": ["c2", "c1"]},
        now_ms=NOW,
    )
    # sorted ids: c1, c2 -> c2 takes the second half of the sorted queues; the retry queue goes to c1.
    assert plan.add == tuple(T[4:])
    assert plan.drop == plan.drop_pull_expired == plan.drop_unsubscribed == ()
    assert [a.status for a in plan.assignments] == [AssignmentStatus.ASSIGNED, AssignmentStatus.ASSIGNED]
    assert not plan.lock_before_add


def test_drop_when_reassigned_and_when_unsubscribed() -> None:
    r = rebalancer("c1")
    hold(r, [*T, MessageQueue("Old", "broker-a", 0)])
    plan = r.plan(subscribed_topics=["T"], topic_queues={"T": T}, client_ids={"T": ["c1", "c2"]}, now_ms=NOW)
    assert plan.drop == tuple(T[4:])
    assert plan.drop_unsubscribed == (MessageQueue("Old", "broker-a", 0),)
    assert plan.add == ()


def test_unknown_inputs_leave_the_topic_alone() -> None:
    r = rebalancer("c1")
    hold(r, T)
    plan = r.plan(
        subscribed_topics=["T", "U", "V"],
        topic_queues={"T": [], "V": [MessageQueue("V", "b", 0)]},
        client_ids={"T": ["c1"], "U": ["c1"]},
        now_ms=NOW,
    )
    assert [a.status for a in plan.assignments] == [
        AssignmentStatus.ALLOCATION_FAILED,  # Java: IllegalArgumentException, caught, nothing changes
        AssignmentStatus.NO_ROUTE,
        AssignmentStatus.NO_CLIENT_IDS,
    ]
    assert plan.is_empty()


def test_client_not_in_the_list_drops_everything() -> None:
    r = rebalancer("c9")
    hold(r, T)
    plan = r.plan(subscribed_topics=["T"], topic_queues={"T": T}, client_ids={"T": ["c1"]}, now_ms=NOW)
    assert set(plan.drop) == set(T)


def test_broadcasting_takes_every_queue_without_ids() -> None:
    r = rebalancer("c1", model=MessageModel.BROADCASTING, orderly=True)
    plan = r.plan(subscribed_topics=["T"], topic_queues={"T": T}, client_ids={}, now_ms=NOW)
    assert set(plan.add) == set(T)
    assert not plan.lock_before_add  # broadcasting needs no broker lock


def test_pull_expired_only_for_push_consumers() -> None:
    later = NOW + PULL_MAX_IDLE_TIME_MS + 1
    push = rebalancer("c1")
    hold(push, T[:1])
    plan = push.plan(
        subscribed_topics=["T"], topic_queues={"T": T[:1]}, client_ids={"T": ["c1"]}, now_ms=later
    )
    assert plan.drop_pull_expired == (T[0],)
    pull = rebalancer("c1", consume_type=ConsumeType.CONSUME_ACTIVELY)
    hold(pull, T[:1])
    plan = pull.plan(
        subscribed_topics=["T"], topic_queues={"T": T[:1]}, client_ids={"T": ["c1"]}, now_ms=later
    )
    assert plan.drop_pull_expired == ()


@dataclass
class FakePorts:
    refuse_lock: set[MessageQueue] = field(default_factory=set)
    refuse_removal: set[MessageQueue] = field(default_factory=set)
    no_offset: set[MessageQueue] = field(default_factory=set)
    log: list[str] = field(default_factory=list)

    async def remove_unnecessary_queue(self, queue: MessageQueue, process_queue: ProcessQueue) -> bool:
        self.log.append(f"remove {queue.queue_id}")
        return queue not in self.refuse_removal

    async def lock(self, queue: MessageQueue) -> bool:
        self.log.append(f"lock {queue.queue_id}")
        return queue not in self.refuse_lock

    def remove_dirty_offset(self, queue: MessageQueue) -> None:
        self.log.append(f"forget {queue.queue_id}")

    async def compute_pull_from_where(self, queue: MessageQueue) -> int:
        return -1 if queue in self.no_offset else 100 + queue.queue_id

    def dispatch_pull(self, queue: MessageQueue, process_queue: ProcessQueue, next_offset: int) -> None:
        self.log.append(f"pull {queue.queue_id}@{next_offset}")


async def test_apply_plan_orderly() -> None:
    queues = T[:4]
    r = rebalancer("c1", orderly=True)
    hold(r, [MessageQueue("T", "broker-b", 7)])
    ports = FakePorts(refuse_lock={queues[1]}, no_offset={queues[2]})
    plan = r.plan(subscribed_topics=["T"], topic_queues={"T": queues}, client_ids={"T": ["c1"]}, now_ms=NOW)
    assert plan.lock_before_add
    changed = await apply_plan(r, plan, ports, NOW)
    assert changed == {"T"}
    assert ports.log == [
        "remove 7",
        "lock 0", "forget 0", "pull 0@100",
        "lock 1",
        "lock 2", "forget 2",
        "lock 3", "forget 3", "pull 3@103",
    ]  # fmt: skip
    assert r.held_queues() == {queues[0], queues[3]}
    assert all(pq.locked and not pq.dropped for pq in r.process_queues.values())


async def test_refused_removal_stays_dropped_until_it_succeeds() -> None:
    r = rebalancer("c1")
    hold(r, T[:2])
    ports = FakePorts(refuse_removal={T[1]})
    plan = r.plan(
        subscribed_topics=["T"], topic_queues={"T": T[:2]}, client_ids={"T": ["c1", "c2"]}, now_ms=NOW
    )
    assert await apply_plan(r, plan, ports, NOW) == set()
    assert r.process_queues[T[1]].dropped
    ports.refuse_removal.clear()
    plan = r.plan(
        subscribed_topics=["T"], topic_queues={"T": T[:2]}, client_ids={"T": ["c1", "c2"]}, now_ms=NOW
    )
    assert await apply_plan(r, plan, ports, NOW) == {"T"}
    assert r.held_queues() == {T[0]}


async def test_pull_expired_queue_is_re_added() -> None:
    r = rebalancer("c1")
    hold(r, T[:1])
    old = r.process_queues[T[0]]
    later = NOW + PULL_MAX_IDLE_TIME_MS + 1
    plan = r.plan(subscribed_topics=["T"], topic_queues={"T": T[:1]}, client_ids={"T": ["c1"]}, now_ms=later)
    assert await apply_plan(r, plan, FakePorts(), later) == {"T"}
    assert old.dropped and r.process_queues[T[0]] is not old


def test_lock_results_and_grouping() -> None:
    r = rebalancer("c1", orderly=True)
    hold(r, T[:2])
    r.apply_lock_result(T[:2], {T[0]}, NOW + 5)
    assert r.process_queues[T[0]].locked and r.process_queues[T[0]].last_lock_timestamp_ms == NOW + 5
    assert not r.process_queues[T[1]].locked
    assert queues_by_broker(T) == {"broker-a": set(T[:4]), "broker-b": set(T[4:])}
    assert r.destroy() == T[:2] and r.process_queues == {}


def test_per_queue_thresholds() -> None:
    kwargs = {"pull_threshold_for_queue": 1000, "pull_threshold_size_for_queue_mib": 100}
    assert per_queue_thresholds(
        pull_threshold_for_topic=-1, pull_threshold_size_for_topic_mib=-1, held_queue_count=4, **kwargs
    ) == (1000, 100)
    assert per_queue_thresholds(
        pull_threshold_for_topic=1000, pull_threshold_size_for_topic_mib=1000, held_queue_count=10, **kwargs
    ) == (100, 100)
    assert per_queue_thresholds(
        pull_threshold_for_topic=3, pull_threshold_size_for_topic_mib=3, held_queue_count=10, **kwargs
    ) == (1, 1)
