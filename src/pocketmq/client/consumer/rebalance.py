"""Rebalance: which queues a consumer adds and drops so that, across a group, every queue of a
subscribed topic has one consumer (Java RebalanceImpl, RebalancePushImpl).

`Rebalancer` owns one consumer's process-queue table and decides; it never touches the network.
`plan()` takes what the networked client learned (subscribed topics, each topic's queues from the
route, each topic's consumer ids from a broker) and answers a `RebalancePlan`: per topic the
allocation, then the queues to drop and to add. `apply_plan()` carries a plan out through injected
async ports (persist and unlock a dropped queue, lock a new one on the broker for orderly
consumption, compute its start offset, start pulling), in Java's order. The async service that runs
it every 20 s and on NOTIFY_CONSUMER_IDS_CHANGED lives with the networked client.

Java behaviours kept on purpose:
- Clustering sorts queues and client ids (Java order) and asks the strategy; a strategy error
  (empty queue or id list) leaves that topic's queues untouched this round, as does a missing
  route or consumer id list. Broadcasting takes every queue.
- A held queue that is no longer assigned is marked dropped first, and leaves the table only when
  its removal succeeds (an orderly queue being consumed refuses; the next round retries).
- A push consumer's queue not pulled for 120 s is dropped and re-added (pull loop recovery).
- Orderly clustering adds a queue only after the broker granted its lock.
- Queues of topics no longer subscribed are dropped without persisting (truncateMessageQueueNotMyTopic).
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Protocol

from pocketmq.client.consumer.allocation import AllocateStrategy, sort_client_ids, sort_queues
from pocketmq.client.consumer.process_queue import ProcessQueue
from pocketmq.common.message import MessageQueue
from pocketmq.protocol.bodies.heartbeat import ConsumeType, MessageModel

__all__ = [
    "MessageModel",
    "ConsumeType",
    "AssignmentStatus",
    "TopicAssignment",
    "RebalancePlan",
    "Rebalancer",
    "RebalancePorts",
    "apply_plan",
    "queues_by_broker",
    "per_queue_thresholds",
]

log = logging.getLogger(__name__)


class AssignmentStatus(Enum):
    ASSIGNED = "assigned"
    NO_ROUTE = "no_route"  # the topic's queues are not known (yet)
    NO_CLIENT_IDS = "no_client_ids"  # the broker did not tell the group's consumer ids
    ALLOCATION_FAILED = "allocation_failed"  # the strategy refused its input


@dataclass(frozen=True, slots=True)
class TopicAssignment:
    """One topic's allocation for this consumer. Only ASSIGNED topics change the table."""

    topic: str
    status: AssignmentStatus
    assigned: frozenset[MessageQueue] = frozenset()
    all_queues: frozenset[MessageQueue] = frozenset()
    reason: str = ""


@dataclass(frozen=True, slots=True)
class RebalancePlan:
    """What to change, in the order `apply_plan` does it."""

    assignments: tuple[TopicAssignment, ...]
    #: Held, of an ASSIGNED topic, no longer assigned: drop, persist, (orderly) unlock.
    drop: tuple[MessageQueue, ...]
    #: Held and assigned but not pulled for too long (push only): drop the same way, then re-add.
    drop_pull_expired: tuple[MessageQueue, ...]
    #: Held, of a topic no longer subscribed: drop at once.
    drop_unsubscribed: tuple[MessageQueue, ...]
    #: Assigned and not held: (orderly clustering: lock on the broker first), then start pulling.
    add: tuple[MessageQueue, ...]
    #: Whether each added queue needs the broker lock first.
    lock_before_add: bool

    def is_empty(self) -> bool:
        return not (self.drop or self.drop_pull_expired or self.drop_unsubscribed or self.add)


class Rebalancer:
    """One consumer's rebalance decisions and its process-queue table (Java RebalanceImpl without
    the network). Plain code: one event loop owns it."""

    def __init__(
        self,
        *,
        consumer_group: str,
        client_id: str,
        message_model: MessageModel,
        consume_type: ConsumeType,
        strategy: AllocateStrategy,
        orderly: bool = False,
    ) -> None:
        self.consumer_group = consumer_group
        self.client_id = client_id
        self.message_model = message_model
        self.consume_type = consume_type
        self.strategy = strategy
        self.orderly = orderly
        #: Java processQueueTable: the queues this consumer holds.
        self.process_queues: dict[MessageQueue, ProcessQueue] = {}

    # -- deciding ------------------------------------------------------------------------------

    def assign(
        self, topic: str, queues: Collection[MessageQueue] | None, client_ids: Sequence[str] | None
    ) -> TopicAssignment:
        """Java RebalanceImpl#rebalanceByTopic, up to the allocation."""
        if queues is None:
            return TopicAssignment(topic, AssignmentStatus.NO_ROUTE, reason=f"no route for {topic}")
        all_queues = frozenset(queues)
        if self.message_model is MessageModel.BROADCASTING:
            return TopicAssignment(topic, AssignmentStatus.ASSIGNED, all_queues, all_queues)
        if client_ids is None:
            return TopicAssignment(
                topic, AssignmentStatus.NO_CLIENT_IDS, all_queues=all_queues, reason="no consumer id list"
            )
        try:
            allocated = self.strategy.allocate(
                self.consumer_group, self.client_id, sort_queues(all_queues), sort_client_ids(client_ids)
            )
        except ValueError as error:
            return TopicAssignment(
                topic,
                AssignmentStatus.ALLOCATION_FAILED,
                all_queues=all_queues,
                reason=f"{self.strategy.name}: {error}",
            )
        return TopicAssignment(topic, AssignmentStatus.ASSIGNED, frozenset(allocated), all_queues)

    def plan(
        self,
        *,
        subscribed_topics: Iterable[str],
        topic_queues: Mapping[str, Collection[MessageQueue]],
        client_ids: Mapping[str, Sequence[str] | None],
        now_ms: int,
    ) -> RebalancePlan:
        """Decide one round. `topic_queues` maps a topic to its readable queues (absent: no route);
        `client_ids` maps a topic to the group's consumer ids a broker gave (absent or None:
        unknown)."""
        topics = list(dict.fromkeys(subscribed_topics))
        assignments = tuple(self.assign(t, topic_queues.get(t), client_ids.get(t)) for t in topics)
        drop: list[MessageQueue] = []
        drop_pull_expired: list[MessageQueue] = []
        add: list[MessageQueue] = []
        for assignment in assignments:
            if assignment.status is not AssignmentStatus.ASSIGNED:
                if not assignment.topic.startswith("%RETRY%"):
                    log.warning(
                        "rebalance %s: %s left as is: %s",
                        self.consumer_group,
                        assignment.topic,
                        assignment.reason,
                    )
                continue
            for queue, process_queue in self.process_queues.items():
                if queue.topic != assignment.topic:
                    continue
                if queue not in assignment.assigned:
                    drop.append(queue)
                elif self.consume_type is ConsumeType.CONSUME_PASSIVELY and process_queue.is_pull_expired(
                    now_ms
                ):
                    drop_pull_expired.append(queue)
            add.extend(q for q in sort_queues(assignment.assigned) if q not in self.process_queues)
        subscribed = set(topics)
        drop_unsubscribed = [q for q in self.process_queues if q.topic not in subscribed]
        return RebalancePlan(
            assignments=assignments,
            drop=tuple(drop),
            drop_pull_expired=tuple(drop_pull_expired),
            drop_unsubscribed=tuple(drop_unsubscribed),
            add=tuple(add),
            # Java also locks for orderly broadcasting, where the per-group broker lock lets only one
            # consumer add each queue; broadcasting needs no lock (docs/client-internals.md).
            lock_before_add=self.orderly and self.message_model is MessageModel.CLUSTERING,
        )

    # -- the table -----------------------------------------------------------------------------

    def add_process_queue(self, queue: MessageQueue, process_queue: ProcessQueue) -> bool:
        """Hold `queue`; False if it is held already (Java putIfAbsent)."""
        if queue in self.process_queues:
            return False
        self.process_queues[queue] = process_queue
        return True

    def remove_process_queue(self, queue: MessageQueue) -> ProcessQueue | None:
        """Stop holding `queue`; the process queue is marked dropped."""
        process_queue = self.process_queues.pop(queue, None)
        if process_queue is not None:
            process_queue.dropped = True
        return process_queue

    def held_queues(self, topic: str | None = None) -> set[MessageQueue]:
        return {q for q in self.process_queues if topic is None or q.topic == topic}

    def apply_lock_result(
        self, requested: Iterable[MessageQueue], locked: Collection[MessageQueue], now_ms: int
    ) -> None:
        """Record a LOCK_BATCH_MQ answer (Java lockAll): granted queues are locked as of `now_ms`,
        refused ones unlocked."""
        for queue in locked:
            process_queue = self.process_queues.get(queue)
            if process_queue is not None:
                process_queue.mark_locked(now_ms)
        for queue in requested:
            if queue not in locked and (process_queue := self.process_queues.get(queue)) is not None:
                process_queue.locked = False

    def delayed_unlock_still_wanted(self, queue: MessageQueue) -> bool:
        """Whether a delayed UNLOCK_BATCH_MQ of a dropped orderly queue should still be sent.

        Java (RebalancePushImpl#unlockDelay) unlocks 20 s after dropping a queue that still had
        cached messages, unconditionally. If rebalance gave the queue back to this consumer in
        between, it has locked it again and consumes under that lock, and the late unlock would
        let a second consumer lock and consume it too (found by the seeded simulation). So skip it
        while the queue is held again."""
        process_queue = self.process_queues.get(queue)
        return process_queue is None or process_queue.dropped

    def destroy(self) -> list[MessageQueue]:
        """Drop everything (shutdown); the queues that were held."""
        queues = list(self.process_queues)
        for process_queue in self.process_queues.values():
            process_queue.dropped = True
        self.process_queues.clear()
        return queues


class RebalancePorts(Protocol):
    """What `apply_plan` needs from the networked consumer (Java RebalancePushImpl's overrides)."""

    async def remove_unnecessary_queue(self, queue: MessageQueue, process_queue: ProcessQueue) -> bool:
        """Persist and forget the queue's offset; orderly clustering: unlock it on the broker (after
        the consume lock, later if messages are still cached). False keeps it for the next round."""
        ...

    async def lock(self, queue: MessageQueue) -> bool:
        """LOCK_BATCH_MQ for one queue; True if this client now holds it."""
        ...

    def remove_dirty_offset(self, queue: MessageQueue) -> None:
        """Forget any in-memory offset of a queue about to be added."""
        ...

    async def compute_pull_from_where(self, queue: MessageQueue) -> int:
        """The start offset (`consume_from.compute_pull_from_where`), -1 to skip this round."""
        ...

    def dispatch_pull(self, queue: MessageQueue, process_queue: ProcessQueue, next_offset: int) -> None:
        """Start pulling the new queue from `next_offset`."""
        ...


async def apply_plan(
    rebalancer: Rebalancer, plan: RebalancePlan, ports: RebalancePorts, now_ms: int
) -> set[str]:
    """Carry out `plan` (Java updateProcessQueueTableInRebalance and truncateMessageQueueNotMyTopic);
    the topics whose held queues changed (Java then calls messageQueueChanged for each)."""
    changed: set[str] = set()
    for queue in (*plan.drop, *plan.drop_pull_expired):
        process_queue = rebalancer.process_queues.get(queue)
        if process_queue is None:
            continue
        process_queue.dropped = True
        if await ports.remove_unnecessary_queue(queue, process_queue):
            rebalancer.process_queues.pop(queue, None)
            changed.add(queue.topic)
            log.info("rebalance %s: dropped %s", rebalancer.consumer_group, queue)
    for queue in plan.drop_unsubscribed:
        if rebalancer.remove_process_queue(queue) is not None:
            log.info(
                "rebalance %s: dropped %s of a topic no longer subscribed", rebalancer.consumer_group, queue
            )

    # Queues dropped for pull expiry are added again in the same round, as in Java.
    to_add = [*plan.add, *(q for q in plan.drop_pull_expired if q not in rebalancer.process_queues)]
    for queue in to_add:
        if queue in rebalancer.process_queues:
            continue
        if plan.lock_before_add and not await ports.lock(queue):
            log.warning(
                "rebalance %s: %s not added: the broker lock was refused", rebalancer.consumer_group, queue
            )
            continue
        ports.remove_dirty_offset(queue)
        process_queue = ProcessQueue(now_ms=now_ms)
        process_queue.locked = True  # as Java: a lock was just granted, or none is needed
        next_offset = await ports.compute_pull_from_where(queue)
        if next_offset < 0:
            log.warning("rebalance %s: %s not added: no start offset", rebalancer.consumer_group, queue)
            continue
        if rebalancer.add_process_queue(queue, process_queue):
            ports.dispatch_pull(queue, process_queue, next_offset)
            changed.add(queue.topic)
            log.info("rebalance %s: added %s from offset %d", rebalancer.consumer_group, queue, next_offset)
    return changed


def queues_by_broker(queues: Iterable[MessageQueue]) -> dict[str, set[MessageQueue]]:
    """Queues grouped by broker name, for LOCK_BATCH_MQ / UNLOCK_BATCH_MQ (one request per broker)."""
    grouped: dict[str, set[MessageQueue]] = {}
    for queue in queues:
        grouped.setdefault(queue.broker_name, set()).add(queue)
    return grouped


def per_queue_thresholds(
    *,
    pull_threshold_for_topic: int,
    pull_threshold_size_for_topic_mib: int,
    held_queue_count: int,
    pull_threshold_for_queue: int,
    pull_threshold_size_for_queue_mib: int,
) -> tuple[int, int]:
    """Per-queue pull limits after a rebalance changed the held queues (Java
    RebalancePushImpl#messageQueueChanged): a topic-wide limit (not -1) is split evenly, at least 1."""
    if held_queue_count == 0:
        return pull_threshold_for_queue, pull_threshold_size_for_queue_mib
    count = pull_threshold_for_queue
    if pull_threshold_for_topic != -1:
        count = max(1, pull_threshold_for_topic // held_queue_count)
    size = pull_threshold_size_for_queue_mib
    if pull_threshold_size_for_topic_mib != -1:
        size = max(1, pull_threshold_size_for_topic_mib // held_queue_count)
    return count, size
