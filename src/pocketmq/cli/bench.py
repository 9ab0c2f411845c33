"""`pocketmq bench producer|consumer`: load generators like RocketMQ's benchmark tools
(org.apache.rocketmq.example.benchmark.Producer / Consumer).

Every second one progress line: TPS, average and max RT (producer: send round trip; consumer: born to
consume and store to consume), failures; a summary at the end.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field

import click

from pocketmq.cli.main import cli
from pocketmq.client.api import SendResult
from pocketmq.client.consumer.consume_from import ConsumeFromWhere
from pocketmq.client.consumer.push_consumer import (
    ConsumeConcurrentlyContext,
    ConsumeConcurrentlyStatus,
    PushConsumer,
    PushConsumerConfig,
)
from pocketmq.client.consumer.rebalance import MessageModel
from pocketmq.client.instance import ClientConfig
from pocketmq.client.producer.producer import Producer
from pocketmq.common.clock import now_ms, perf_counter_s
from pocketmq.common.message import Message, MessageExt
from pocketmq.remoting import run

__all__ = ["bench", "Stats"]

#: Sends one async sender keeps in flight.
ASYNC_WINDOW_PER_SENDER = 8


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

    def fail(self, count: int = 1) -> None:
        self.failed += count
        self.window[1] += count

    def take_window(self) -> list[float]:
        window, self.window = self.window, [0, 0, 0.0, 0.0, 0.0, 0.0]
        return window


def _line(text: str, *, final: bool = False) -> None:
    sys.stdout.write("\r" + text.ljust(110) + ("\n" if final else ""))
    sys.stdout.flush()


async def _report(stats: Stats, started: float, label: str, extra: str | None, stop: asyncio.Event) -> None:
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
            f"[{elapsed:6.1f}s] {label} TPS: {int(count):>7,}  avg RT: {average:7.3f} ms  "
            f"max RT: {rt_max:7.1f} ms  failures: {int(failed)}  total: {stats.ok:,}"
        )
        if extra:
            text += f"  avg {extra}: {extra_sum / count if count else 0.0:.1f} ms  max: {extra_max:.0f} ms"
        _line(text)


def _summary(stats: Stats, elapsed: float, label: str, extra: str | None) -> None:
    average = stats.rt_sum_ms / stats.ok if stats.ok else 0.0
    _line(f"[{elapsed:6.1f}s] done", final=True)
    print(f"{label}: {stats.ok:,} ok, {stats.failed:,} failed in {elapsed:.2f} s")
    print(
        f"  TPS: {stats.ok / elapsed if elapsed else 0:,.0f}  avg RT: {average:.3f} ms  "
        f"max RT: {stats.rt_max_ms:.1f} ms"
    )
    if extra:
        extra_average = stats.extra_sum_ms / stats.ok if stats.ok else 0.0
        print(f"  avg {extra}: {extra_average:.1f} ms  max {extra}: {stats.extra_max_ms:.0f} ms")


@cli.group()
def bench() -> None:
    """Benchmarks like RocketMQ's: load a running cluster and print TPS and RT."""


@bench.command("producer")
@click.option("-n", "--namesrv", "namesrv_addr", default="127.0.0.1:9876", show_default=True)
@click.option("-t", "--topic", default="BenchmarkTest", show_default=True)
@click.option("-w", "--concurrency", default=16, show_default=True, help="Concurrent senders.")
@click.option("-s", "--size", "message_size", default=128, show_default=True, help="Body bytes.")
@click.option("--count", type=int, default=None, help="Messages to send (default: until --duration).")
@click.option(
    "-d", "--duration", type=float, default=10.0, show_default=True, help="Seconds, without --count."
)
@click.option(
    "-m", "--mode", type=click.Choice(["sync", "async", "oneway", "batch"]), default="sync", show_default=True
)
@click.option("-b", "--batch-size", default=100, show_default=True, help="Messages per batch (batch mode).")
@click.option("--tag", default=None, help="Tag of every message.")
@click.option("-k", "--keys", is_flag=True, help="Give every message a key.")
@click.option("-g", "--group", default="benchmark_producer", show_default=True)
def producer_command(  # noqa: PLR0917 - one parameter per click option
    namesrv_addr: str,
    topic: str,
    concurrency: int,
    message_size: int,
    count: int | None,
    duration: float,
    mode: str,
    batch_size: int,
    tag: str | None,
    keys: bool,
    group: str,
) -> None:
    """Send messages as fast as the senders go."""
    run(
        _bench_producer(
            namesrv_addr=namesrv_addr,
            topic=topic,
            concurrency=concurrency,
            message_size=message_size,
            count=count,
            duration=duration,
            mode=mode,
            batch_size=batch_size,
            tag=tag,
            keys=keys,
            group=group,
        )
    )


async def _bench_producer(
    *,
    namesrv_addr: str,
    topic: str,
    concurrency: int,
    message_size: int,
    count: int | None,
    duration: float,
    mode: str,
    batch_size: int,
    tag: str | None,
    keys: bool,
    group: str,
) -> None:
    body = os.urandom(message_size)
    config = ClientConfig(namesrv_addr=namesrv_addr, instance_name=f"bench-{os.getpid()}")
    producer = Producer(group, client_config=config)
    await producer.start()
    stats = Stats()
    per_send = batch_size if mode == "batch" else 1
    remaining = [count if count is not None else -1]
    # Warm the route (and create the topic through TBW102 if needed) before timing.
    await producer.send(Message(topic, body, tags=tag))
    started = perf_counter_s()
    deadline = started + duration
    stop = asyncio.Event()
    reporter = asyncio.create_task(_report(stats, started, f"send {mode}", None, stop))
    sequence = [0]

    def take() -> int:
        if remaining[0] == -1:
            return per_send if perf_counter_s() < deadline else 0
        n = min(per_send, remaining[0])
        remaining[0] -= n
        return n

    def make(n: int) -> list[Message]:
        messages = []
        for _ in range(n):
            sequence[0] += 1
            messages.append(Message(topic, body, tags=tag, keys=f"k{sequence[0]}" if keys else None))
        return messages

    # Async mode: each sender keeps up to `window` sends in flight, as the Java benchmark's
    # callbacks let its threads run ahead; the RT of a send is measured by its callback.
    window = asyncio.Semaphore(concurrency * ASYNC_WINDOW_PER_SENDER)

    def callback(begin: float, n: int) -> Callable[[SendResult | None, BaseException | None], None]:
        def done(result: SendResult | None, error: BaseException | None) -> None:
            window.release()
            if error is not None:
                stats.fail(n)
            else:
                stats.record(n, (perf_counter_s() - begin) * 1000)

        return done

    in_flight: set[asyncio.Task[SendResult]] = set()

    async def worker() -> None:
        while (n := take()) > 0:
            messages = make(n)
            begin = perf_counter_s()
            if mode == "async":
                await window.acquire()
                task = producer.send_async(messages[0], callback(begin, n))
                in_flight.add(task)
                task.add_done_callback(in_flight.discard)
                continue
            try:
                if mode == "oneway":
                    await producer.send_oneway(messages[0])
                else:
                    await producer.send(messages if mode == "batch" else messages[0])
            except Exception:
                stats.fail(n)
                continue
            stats.record(n, (perf_counter_s() - begin) * 1000)
            if mode == "oneway":
                await asyncio.sleep(0)

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    await asyncio.gather(*in_flight, return_exceptions=True)
    elapsed = perf_counter_s() - started
    stop.set()
    await reporter
    await producer.shutdown()
    _summary(stats, elapsed, f"producer ({mode}, {concurrency} senders, {message_size} B)", None)


@bench.command("consumer")
@click.option("-n", "--namesrv", "namesrv_addr", default="127.0.0.1:9876", show_default=True)
@click.option("-t", "--topic", default="BenchmarkTest", show_default=True)
@click.option("-g", "--group", default="benchmark_consumer", show_default=True)
@click.option("-e", "--expression", default="*", show_default=True, help="Tag expression.")
@click.option("-w", "--concurrency", default=20, show_default=True, help="Listener calls at once.")
@click.option("--batch-max-size", default=1, show_default=True, help="Messages per listener call.")
@click.option("--count", type=int, default=None, help="Stop after this many messages.")
@click.option(
    "-d", "--duration", type=float, default=10.0, show_default=True, help="Seconds, without --count."
)
@click.option("--broadcasting", is_flag=True, help="BROADCASTING instead of CLUSTERING.")
@click.option("--from-first", is_flag=True, help="CONSUME_FROM_FIRST_OFFSET for a new group.")
def consumer_command(  # noqa: PLR0917 - one parameter per click option
    namesrv_addr: str,
    topic: str,
    group: str,
    expression: str,
    concurrency: int,
    batch_max_size: int,
    count: int | None,
    duration: float,
    broadcasting: bool,
    from_first: bool,
) -> None:
    """Consume with a push consumer; RT = born-to-consume, plus store-to-consume."""
    run(
        _bench_consumer(
            namesrv_addr=namesrv_addr,
            topic=topic,
            group=group,
            expression=expression,
            concurrency=concurrency,
            batch_max_size=batch_max_size,
            count=count,
            duration=duration,
            broadcasting=broadcasting,
            from_first=from_first,
        )
    )


async def _bench_consumer(
    *,
    namesrv_addr: str,
    topic: str,
    group: str,
    expression: str,
    concurrency: int,
    batch_max_size: int,
    count: int | None,
    duration: float,
    broadcasting: bool,
    from_first: bool,
) -> None:
    stats = Stats()
    done = asyncio.Event()

    async def listener(
        messages: list[MessageExt], context: ConsumeConcurrentlyContext
    ) -> ConsumeConcurrentlyStatus:
        now = now_ms()
        for message in messages:
            stats.record(1, float(now - message.born_timestamp), float(now - message.store_timestamp))
        if count is not None and stats.ok >= count:
            done.set()
        return ConsumeConcurrentlyStatus.CONSUME_SUCCESS

    config = PushConsumerConfig(
        message_model=MessageModel.BROADCASTING if broadcasting else MessageModel.CLUSTERING,
        consume_from_where=ConsumeFromWhere.CONSUME_FROM_FIRST_OFFSET
        if from_first
        else ConsumeFromWhere.CONSUME_FROM_LAST_OFFSET,
        consume_thread_max=concurrency,
        consume_message_batch_max_size=batch_max_size,
    )
    consumer = PushConsumer(
        group,
        client_config=ClientConfig(namesrv_addr=namesrv_addr, instance_name=f"bench-{os.getpid()}"),
        config=config,
        listener=listener,
    )
    consumer.subscribe(topic, expression)
    started = perf_counter_s()
    stop = asyncio.Event()
    reporter = asyncio.create_task(_report(stats, started, "consume", "S2C RT", stop))
    await consumer.start()
    try:
        async with asyncio.timeout(None if count is not None else duration):
            await done.wait()
    except TimeoutError:
        pass
    elapsed = perf_counter_s() - started
    stop.set()
    await reporter
    await consumer.shutdown()
    _summary(stats, elapsed, f"consumer ({topic}, group {group})", "S2C RT")
