"""RebalanceLockManager: one holder per queue and group, renewal, expiry, unlock."""

from __future__ import annotations

from pocketmq.broker.rebalance_locks import RebalanceLockManager
from pocketmq.common.message import MessageQueue

Q0 = MessageQueue("T", "broker-a", 0)
Q1 = MessageQueue("T", "broker-a", 1)


def test_locks_are_exclusive_until_expiry_or_unlock() -> None:
    locks = RebalanceLockManager(lock_max_live_time_ms=1000)
    assert locks.try_lock_batch("G", [Q0, Q1], "c1", 0) == [Q0, Q1]
    assert locks.try_lock_batch("G", [Q0], "c2", 500) == []
    assert locks.try_lock_batch("H", [Q0], "c2", 500) == [Q0]  # another group
    assert locks.try_lock_batch("G", [Q0], "c1", 900) == [Q0]  # renewal
    assert locks.try_lock_batch("G", [Q0, Q1], "c2", 1500) == [Q1]  # Q1 expired, Q0 renewed at 900
    assert locks.holder("G", Q0, 1500) == "c1"
    locks.unlock_batch("G", [Q0], "c2")  # not the holder: nothing
    assert locks.holder("G", Q0, 1500) == "c1"
    locks.unlock_batch("G", [Q0], "c1")
    assert locks.holder("G", Q0, 1500) is None
    assert locks.try_lock_batch("G", [Q0], "c2", 1600) == [Q0]


def test_bound_on_locks() -> None:
    locks = RebalanceLockManager(queues_max=1)
    assert locks.try_lock_batch("G", [Q0, Q1], "c1", 0) == [Q0]
