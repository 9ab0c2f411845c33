"""The only source of time in pocketmq.

Every decision takes `now_ms` from a `Clock`; tests pass a `FakeClock` and step it. A tidy test
greps the tree for direct calls to the time module outside this file.
"""

from __future__ import annotations

import time
from typing import Protocol

__all__ = ["Clock", "FakeClock", "SystemClock", "SYSTEM_CLOCK", "now_ms", "monotonic_ms"]


class Clock(Protocol):
    def now_ms(self) -> int:
        """Wall-clock milliseconds since the epoch (Java System.currentTimeMillis)."""
        ...

    def monotonic_ms(self) -> int:
        """Milliseconds from an arbitrary start that never goes back: for timeouts and intervals."""
        ...


class SystemClock:
    def now_ms(self) -> int:
        return time.time_ns() // 1_000_000

    def monotonic_ms(self) -> int:
        return time.monotonic_ns() // 1_000_000


class FakeClock:
    """A clock that moves only when told to; `advance` steps both readings."""

    def __init__(self, start_ms: int = 1_700_000_000_000) -> None:
        self._now_ms = start_ms
        self._monotonic_ms = 0

    def now_ms(self) -> int:
        return self._now_ms

    def monotonic_ms(self) -> int:
        return self._monotonic_ms

    def advance(self, delta_ms: int) -> None:
        if delta_ms < 0:
            raise ValueError(f"a clock never goes back (delta_ms={delta_ms})")
        self._now_ms += delta_ms
        self._monotonic_ms += delta_ms


SYSTEM_CLOCK = SystemClock()


def now_ms() -> int:
    return SYSTEM_CLOCK.now_ms()


def monotonic_ms() -> int:
    return SYSTEM_CLOCK.monotonic_ms()


def perf_counter_s() -> float:
    """High-resolution seconds for benchmarks and latency figures only."""
    return time.perf_counter()
