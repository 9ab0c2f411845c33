"""The numbers of one `pocketmq bench` run (counts, latencies) and the lines that print them.

Two latencies per message at most, named by `Measures`: the producer's send round trip; the
consumer's born-to-consume and store-to-consume.
"""

from __future__ import annotations

import asyncio
import sys
from dataclasses import dataclass, field

from pocketmq.common.clock import perf_counter_s

__all__ = ["CONSUMER_MEASURES", "PRODUCER_MEASURES", "Measures", "Stats", "print_summary", "report_progress"]


@dataclass
class Stats:
    """Counters of one run, and of the current one-second window."""

    ok: int = 0
    failed: int = 0
    rt_sum_ms: float = 0.0
    rt_max_ms: float = 0.0
    extra_sum_ms: float = 0.0
    extra_max_ms: float = 0.0
    window: list[float] = field(default_factory=lambda: [0, 0, 0.0, 0.0, 0.0, 0.0])
    #: The first failure, shown when no send succeeded.
    first_error: BaseException | None = None
    #: Messages that arrived after `--count` was reached (pulled before the consumer stopped):
    #: acknowledged, not counted.
    uncounted: int = 0

    def record(self, count: int, rt_ms: float, extra_ms: float = 0.0) -> None:
        self.ok += count
        self.rt_sum_ms += rt_ms * count
        self.rt_max_ms = max(self.rt_max_ms, rt_ms)
        self.extra_sum_ms += extra_ms * count
        self.extra_max_ms = max(self.extra_max_ms, extra_ms)
        w = self.window
        w[0] += count
        w[2] += rt_ms * count
        w[3] = max(w[3], rt_ms)
        w[4] += extra_ms * count
        w[5] = max(w[5], extra_ms)

    def fail(self, count: int = 1, error: BaseException | None = None) -> None:
        self.failed += count
        self.window[1] += count
        if self.first_error is None:
            self.first_error = error

    def take_window(self) -> list[float]:
        window, self.window = self.window, [0, 0, 0.0, 0.0, 0.0, 0.0]
        return window


@dataclass(frozen=True, slots=True)
class Measures:
    """What the two latencies of a run are, under the names the progress lines print."""

    #: The latency every message has: "send RT" (producer) or "born-to-consume" (consumer).
    rt: str
    #: A second latency, if any: "store-to-consume" (consumer).
    extra: str | None = None


PRODUCER_MEASURES = Measures("send RT")
#: born-to-consume: from the producer's born timestamp to the listener call, so it includes the time
#: the message waited in the broker (the whole backlog when a group starts from the first offset).
CONSUMER_MEASURES = Measures("born-to-consume", "store-to-consume")


def _line(text: str, *, final: bool = False) -> None:
    sys.stdout.write("\r" + text.ljust(110) + ("\n" if final else ""))
    sys.stdout.flush()


async def report_progress(
    stats: Stats, started: float, label: str, measures: Measures, stop: asyncio.Event
) -> None:
    """One progress line a second (overwriting the last) until `stop` is set."""
    while not stop.is_set():
        try:
            async with asyncio.timeout(1):
                await stop.wait()
        except TimeoutError:
            pass
        if stop.is_set():
            return
        count, failed, rt_sum, rt_max, extra_sum, extra_max = stats.take_window()
        elapsed = perf_counter_s() - started
        average = rt_sum / count if count else 0.0
        text = (
            f"[{elapsed:6.1f}s] {label} TPS: {int(count):>7,}  avg {measures.rt}: {average:7.3f} ms  "
            f"max: {rt_max:7.1f} ms  failures: {int(failed)}  total: {stats.ok:,}"
        )
        if measures.extra:
            extra_average = extra_sum / count if count else 0.0
            text += f"  avg {measures.extra}: {extra_average:.1f} ms  max: {extra_max:.0f} ms"
        _line(text)


def print_summary(stats: Stats, elapsed: float, label: str, measures: Measures) -> None:
    """The lines that end a run: counts, TPS, the latencies, the messages not counted."""
    average = stats.rt_sum_ms / stats.ok if stats.ok else 0.0
    _line(f"[{elapsed:6.1f}s] done", final=True)
    print(f"{label}: {stats.ok:,} ok, {stats.failed:,} failed in {elapsed:.2f} s")
    print(
        f"  TPS: {stats.ok / elapsed if elapsed else 0:,.0f}  avg {measures.rt}: {average:.3f} ms  "
        f"max {measures.rt}: {stats.rt_max_ms:.1f} ms"
    )
    if measures.extra:
        extra_average = stats.extra_sum_ms / stats.ok if stats.ok else 0.0
        print(
            f"  avg {measures.extra}: {extra_average:.1f} ms  "
            f"max {measures.extra}: {stats.extra_max_ms:.0f} ms"
        )
    if stats.uncounted:
        print(
            f"  {stats.uncounted:,} more arrived after the count was reached (pulled before the consumer "
            "stopped): acknowledged, not counted"
        )
