"""RebalanceLockManager: which client of a consumer group holds each queue, for orderly consumers.

Java: RebalanceLockManager. An orderly consumer locks its queues (LOCK_BATCH_MQ) before pulling them
and renews the locks every 20 s; a lock not renewed for 60 s expires and another client of the
group may take it. UNLOCK_BATCH_MQ releases the caller's own locks. Pure: decisions take `now_ms`.
Bounded by `queues_max` locks in total.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from pocketmq.common.message import MessageQueue

__all__ = ["RebalanceLockManager", "LOCK_MAX_LIVE_TIME_MS"]

#: Java: rocketmq.broker.rebalance.lockMaxLiveTime (60 s).
LOCK_MAX_LIVE_TIME_MS: Final = 60_000


class RebalanceLockManager:
    def __init__(
        self, *, lock_max_live_time_ms: int = LOCK_MAX_LIVE_TIME_MS, queues_max: int = 1_000_000
    ) -> None:
        #: group -> queue -> (client id, last renewal ms)
        self._locks: dict[str, dict[MessageQueue, tuple[str, int]]] = {}
        self._count = 0
        self.lock_max_live_time_ms = lock_max_live_time_ms
        self.queues_max = queues_max

    def _expired(self, last_update_ms: int, now_ms: int) -> bool:
        return now_ms - last_update_ms > self.lock_max_live_time_ms

    def try_lock_batch(
        self, group: str, queues: Iterable[MessageQueue], client_id: str, now_ms: int
    ) -> list[MessageQueue]:
        """Lock or renew each queue for `client_id`; returns the queues it now holds."""
        table = self._locks.setdefault(group, {})
        locked: list[MessageQueue] = []
        for queue in queues:
            entry = table.get(queue)
            if entry is None:
                if self._count >= self.queues_max:
                    continue
                self._count += 1
            elif entry[0] != client_id and not self._expired(entry[1], now_ms):
                continue
            table[queue] = (client_id, now_ms)
            locked.append(queue)
        if not table:
            del self._locks[group]
        return locked

    def unlock_batch(self, group: str, queues: Iterable[MessageQueue], client_id: str) -> None:
        table = self._locks.get(group)
        if table is None:
            return
        for queue in queues:
            entry = table.get(queue)
            if entry is not None and entry[0] == client_id:
                del table[queue]
                self._count -= 1
        if not table:
            del self._locks[group]

    def holder(self, group: str, queue: MessageQueue, now_ms: int) -> str | None:
        entry = self._locks.get(group, {}).get(queue)
        if entry is None or self._expired(entry[1], now_ms):
            return None
        return entry[0]
