"""LongPolling: held pulls wake when their queue grows past their offset, or at their timeout."""

from __future__ import annotations

import asyncio

from pocketmq.broker.long_polling import HeldPull, LongPolling


class _Connection:
    closed = False


async def test_wakes_on_arrival_past_the_offset_only() -> None:
    woken: list[HeldPull] = []
    polling = LongPolling(woken.append)
    polling.start()
    first = HeldPull(("T", 0), 5, "r1", _Connection())
    other_queue = HeldPull(("T", 1), 0, "r2", _Connection())
    assert polling.hold(first, 10_000)
    assert polling.hold(other_queue, 10_000)
    polling.notify_message_arriving("T", 0, 5)  # not past offset 5 yet
    await asyncio.sleep(0)
    assert woken == []
    polling.notify_message_arriving("T", 0, 6)
    await asyncio.sleep(0)
    assert woken == [first]
    assert polling.held_count == 1
    polling.stop()
    assert woken == [first, other_queue]
    assert polling.held_count == 0


async def test_times_out_and_skips_closed_connections() -> None:
    woken: list[HeldPull] = []
    polling = LongPolling(woken.append)
    polling.start()
    pull = HeldPull(("T", 0), 0, "r", _Connection())
    closed = _Connection()
    closed.closed = True
    gone = HeldPull(("T", 0), 0, "r", closed)
    polling.hold(pull, 30)
    polling.hold(gone, 30)
    await asyncio.sleep(0.1)
    assert woken == [pull]
    assert polling.held_count == 0


async def test_bound_and_stopped_refuse_to_hold() -> None:
    polling = LongPolling(lambda pull: None, held_pulls_max=1)
    polling.start()
    assert polling.hold(HeldPull(("T", 0), 0, "r", _Connection()), 1000)
    assert not polling.hold(HeldPull(("T", 0), 0, "r", _Connection()), 1000)
    polling.stop()
    assert not polling.hold(HeldPull(("T", 0), 0, "r", _Connection()), 1000)
