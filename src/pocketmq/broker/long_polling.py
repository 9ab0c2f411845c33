"""LongPolling: pulls held per topic@queue until a message arrives or their suspend time runs out.

Java: PullRequestHoldService and ManyPullRequest. A pull that finds nothing and carries the SUSPEND
flag is parked here instead of being answered. When the store reports new units for the queue
(`notify_message_arriving`, called by the store's arrival hook), the parked pulls whose offset is
behind the new max offset are woken: the pull handler runs them again (without suspending) and
writes the answer on their connection. At `suspendTimeoutMillis` they run again the same way and
answer PULL_NOT_FOUND if there is still nothing.

Bounds: at most `held_pulls_max` pulls in total; beyond it a pull is answered at once (the client
just pulls again). A pull of a closed connection is dropped when it would wake.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any, Final

__all__ = ["HeldPull", "LongPolling", "HELD_PULLS_MAX_DEFAULT"]

log = logging.getLogger(__name__)

#: Pulls parked at once in one broker (Java has no bound; each one is a few hundred bytes here).
HELD_PULLS_MAX_DEFAULT: Final = 100_000


class HeldPull:
    """One parked pull: the request and its connection, the offset it waits beyond, its timer."""

    __slots__ = ("connection", "deadline_ms", "key", "queue_offset", "request", "state", "timed_out", "timer")

    def __init__(self, key: tuple[str, int], queue_offset: int, request: Any, connection: Any) -> None:
        self.key = key
        self.queue_offset = queue_offset
        self.request = request
        self.connection = connection
        #: Anything the pull handler wants back when the pull wakes (its parsed header and filter).
        self.state: Any = None
        self.timer: asyncio.TimerHandle | None = None
        #: When its suspend time ends (monotonic ms), for a re-hold after a wake-up.
        self.deadline_ms = 0
        #: True when it woke because its suspend time ran out (not because of an arrival).
        self.timed_out = False


#: Runs a woken pull again and writes its answer (the pull handler's `wake`).
WakeCallback = Callable[[HeldPull], None]


class LongPolling:
    def __init__(self, wake: WakeCallback, *, held_pulls_max: int = HELD_PULLS_MAX_DEFAULT) -> None:
        self._wake = wake
        self._held: dict[tuple[str, int], list[HeldPull]] = {}
        self._count = 0
        self.held_pulls_max = held_pulls_max
        self._pending_keys: dict[tuple[str, int], int] = {}
        self._drain_scheduled = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopped = False

    @property
    def held_count(self) -> int:
        return self._count

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopped = False

    def hold(self, pull: HeldPull, timeout_ms: int) -> bool:
        """Park `pull` for up to `timeout_ms`; False when the bound is reached (answer it now)."""
        if self._stopped or self._loop is None or self._count >= self.held_pulls_max:
            return False
        self._held.setdefault(pull.key, []).append(pull)
        self._count += 1
        pull.timer = self._loop.call_later(max(timeout_ms, 0) / 1000, self._expire, pull)
        return True

    def notify_message_arriving(self, topic: str, queue_id: int, max_offset: int) -> None:
        """The store wrote units up to `max_offset` (exclusive) for topic@queue_id. Safe to call from
        the put path: the woken pulls run in a later callback of the same loop iteration."""
        key = (topic, queue_id)
        if key not in self._held:
            return
        previous = self._pending_keys.get(key, -1)
        if max_offset > previous:
            self._pending_keys[key] = max_offset
        if not self._drain_scheduled and self._loop is not None:
            self._drain_scheduled = True
            self._loop.call_soon(self._drain)

    def _drain(self) -> None:
        self._drain_scheduled = False
        pending, self._pending_keys = self._pending_keys, {}
        for key, max_offset in pending.items():
            pulls = self._held.get(key)
            if not pulls:
                continue
            keep: list[HeldPull] = []
            woken: list[HeldPull] = []
            for pull in pulls:
                (woken if max_offset > pull.queue_offset else keep).append(pull)
            if not woken:
                continue
            if keep:
                self._held[key] = keep
            else:
                del self._held[key]
            self._count -= len(woken)
            for pull in woken:
                self._run(pull)

    def _expire(self, pull: HeldPull) -> None:
        pulls = self._held.get(pull.key)
        if pulls is None:
            return
        try:
            pulls.remove(pull)
        except ValueError:
            return
        if not pulls:
            del self._held[pull.key]
        self._count -= 1
        pull.timed_out = True
        self._run(pull)

    def _run(self, pull: HeldPull) -> None:
        if pull.timer is not None:
            pull.timer.cancel()
            pull.timer = None
        if getattr(pull.connection, "closed", False):
            return
        try:
            self._wake(pull)
        except Exception:
            # A bug in one pull must not stop the others from being answered.
            log.exception("waking a held pull of %s failed", pull.key)

    def wake_all(self) -> None:
        """Answer every parked pull now (shutdown: clients get their PULL_NOT_FOUND and move on)."""
        held, self._held = self._held, {}
        self._count = 0
        for pulls in held.values():
            for pull in pulls:
                pull.timed_out = True
                self._run(pull)

    def stop(self) -> None:
        self._stopped = True
        self.wake_all()
