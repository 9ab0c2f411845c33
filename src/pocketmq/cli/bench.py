"""`pocketmq bench producer|consumer`: load generators like RocketMQ's benchmark tools
(org.apache.rocketmq.example.benchmark.Producer / Consumer).

Every second one progress line: TPS, average and max latency (producer: the send round trip;
consumer: born-to-consume, from the producer's born timestamp to the listener call, and
store-to-consume), failures; a summary at the end.

Bad input is a one-line usage error before anything starts (exit 2): a body size outside
1..maxMessageSize, zero senders, an illegal topic name, a name server list that is not host:port.
A name server nobody answers on, or a topic the cluster refuses, is a one-line error (exit 1).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable

import click

from pocketmq.broker.config import namesrv_addr_problem
from pocketmq.cli.bench_report import (
    CONSUMER_MEASURES,
    PRODUCER_MEASURES,
    Stats,
    print_summary,
    report_progress,
)
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
from pocketmq.client.producer.producer import Producer, ProducerConfig
from pocketmq.common.clock import now_ms, perf_counter_s
from pocketmq.common.errors import PocketMQError
from pocketmq.common.message import Message, MessageExt
from pocketmq.common.topic import validate_topic
from pocketmq.remoting import RemotingClient, run

__all__ = ["bench", "Stats"]

#: Sends one async sender keeps in flight.
ASYNC_WINDOW_PER_SENDER = 8
#: Largest body (or batch) a send may carry. Java: DefaultMQProducer#maxMessageSize (4 MiB).
BODY_BYTES_MAX = ProducerConfig().max_message_size
#: How long the start-up probe waits for each name server to accept a connection.
NAMESRV_PROBE_TIMEOUT_MS = 3000


# -- option checks: a bad value is one usage line (exit 2), before anything starts ---------------


def _check_namesrv(_context: click.Context, _parameter: click.Parameter, value: str) -> str:
    if problem := namesrv_addr_problem(value):
        raise click.BadParameter(problem)
    return value


def _check_topic(_context: click.Context, _parameter: click.Parameter, value: str) -> str:
    if problem := validate_topic(value):
        raise click.BadParameter(f"{problem}; pick another topic")
    return value


def _at_least(low: int, what: str, high: int | None = None) -> Callable[..., int | None]:
    """A callback refusing an integer option outside low..high, naming the value and the range;
    `what` says what must be in it, with `{span}` where the range goes."""

    def check(_context: click.Context, _parameter: click.Parameter, value: int | None) -> int | None:
        if value is not None and (value < low or (high is not None and value > high)):
            span = f"{low}..{high}" if high is not None else f"at least {low}"
            raise click.BadParameter(f"{value}: {what.format(span=span)}")
        return value

    return check


def _check_duration(_context: click.Context, _parameter: click.Parameter, value: float) -> float:
    if not value > 0:
        raise click.BadParameter(f"{value}: the duration must be more than 0 seconds (or give --count)")
    return value


async def _require_name_server(namesrv_addr: str) -> None:
    """One line and exit 1 when no name server of the list accepts a connection: without one, the
    producer would fail with a routing error and the consumer would report 0 TPS."""
    errors: list[str] = []
    async with RemotingClient(connect_timeout_ms=NAMESRV_PROBE_TIMEOUT_MS) as probe:
        for address in (part.strip() for part in namesrv_addr.split(";")):
            if not address:
                continue
            try:
                await probe.connection(address)
            except PocketMQError as error:
                errors.append(str(error))
            else:
                return
    raise click.ClickException(
        f"the name server cannot be reached ({'; '.join(errors)}); start mqnamesrv there or pass -n host:port"
    )


@cli.group()
def bench() -> None:
    """Benchmarks like RocketMQ's: load a running cluster and print TPS and latency."""


_NAMESRV_OPTION = click.option(
    "-n",
    "--namesrv",
    "namesrv_addr",
    default="127.0.0.1:9876",
    show_default=True,
    callback=_check_namesrv,
    help="Name servers, host:port;host:port.",
)
_TOPIC_OPTION = click.option(
    "-t", "--topic", default="BenchmarkTest", show_default=True, callback=_check_topic
)
_COUNT_OPTION = click.option(
    "--count",
    type=int,
    default=None,
    callback=_at_least(1, "give a message count of {span}"),
    help="Messages (default: run for --duration).",
)
_DURATION_OPTION = click.option(
    "-d",
    "--duration",
    type=float,
    default=10.0,
    show_default=True,
    callback=_check_duration,
    help="Seconds, without --count.",
)


@bench.command("producer")
@_NAMESRV_OPTION
@_TOPIC_OPTION
@click.option(
    "-w",
    "--concurrency",
    default=16,
    show_default=True,
    callback=_at_least(1, "give {span} senders", 10_000),
    help="Concurrent senders.",
)
@click.option(
    "-s",
    "--size",
    "message_size",
    default=128,
    show_default=True,
    callback=_at_least(1, "a body must have {span} bytes (maxMessageSize)", BODY_BYTES_MAX),
    help="Body bytes.",
)
@_COUNT_OPTION
@_DURATION_OPTION
@click.option(
    "-m", "--mode", type=click.Choice(["sync", "async", "oneway", "batch"]), default="sync", show_default=True
)
@click.option(
    "-b",
    "--batch-size",
    default=100,
    show_default=True,
    callback=_at_least(1, "give {span} messages per batch"),
    help="Messages per batch (batch mode).",
)
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
    if mode == "batch" and message_size * batch_size > BODY_BYTES_MAX:
        raise click.UsageError(
            f"-m batch: {batch_size} bodies of {message_size} bytes make {message_size * batch_size} "
            f"bytes, over maxMessageSize ({BODY_BYTES_MAX}); lower -b or -s"
        )
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
    await _require_name_server(namesrv_addr)
    body = os.urandom(message_size)
    config = ClientConfig(namesrv_addr=namesrv_addr, instance_name=f"bench-{os.getpid()}")
    producer = Producer(group, client_config=config)
    try:
        try:
            await producer.start()
            # Warm the route (and create the topic through TBW102 if needed) before timing.
            await producer.send(Message(topic, body, tags=tag))
        except PocketMQError as error:
            raise click.ClickException(f"cannot send to topic {topic!r}: {error}") from None
        stats, elapsed = await _drive_producer(
            producer,
            topic=topic,
            body=body,
            concurrency=concurrency,
            count=count,
            duration=duration,
            mode=mode,
            batch_size=batch_size,
            tag=tag,
            keys=keys,
        )
    finally:
        await producer.shutdown()
    print_summary(
        stats, elapsed, f"producer ({mode}, {concurrency} senders, {message_size} B)", PRODUCER_MEASURES
    )
    if stats.ok == 0 and stats.failed:
        raise click.ClickException(f"every send failed; the first: {stats.first_error}")


async def _drive_producer(
    producer: Producer,
    *,
    topic: str,
    body: bytes,
    concurrency: int,
    count: int | None,
    duration: float,
    mode: str,
    batch_size: int,
    tag: str | None,
    keys: bool,
) -> tuple[Stats, float]:
    """Run the senders until `count` messages or `duration` seconds; the stats and the seconds taken."""
    stats = Stats()
    per_send = batch_size if mode == "batch" else 1
    remaining = [count if count is not None else -1]
    started = perf_counter_s()
    deadline = started + duration
    stop = asyncio.Event()
    reporter = asyncio.create_task(report_progress(stats, started, f"send {mode}", PRODUCER_MEASURES, stop))
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
                stats.fail(n, error)
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
            except Exception as error:  # a failed send is counted; the run goes on
                stats.fail(n, error)
                continue
            stats.record(n, (perf_counter_s() - begin) * 1000)
            if mode == "oneway":
                await asyncio.sleep(0)

    try:
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        await asyncio.gather(*in_flight, return_exceptions=True)
    finally:
        stop.set()
        await reporter
    return stats, perf_counter_s() - started


@bench.command("consumer")
@_NAMESRV_OPTION
@_TOPIC_OPTION
@click.option("-g", "--group", default="benchmark_consumer", show_default=True)
@click.option("-e", "--expression", default="*", show_default=True, help="Tag expression.")
@click.option(
    "-w",
    "--concurrency",
    default=20,
    show_default=True,
    callback=_at_least(1, "give {span} listener calls at once (consumeThreadMax)", 1000),
    help="Listener calls at once.",
)
@click.option(
    "--batch-max-size",
    default=1,
    show_default=True,
    callback=_at_least(1, "give {span} messages per listener call (consumeMessageBatchMaxSize)", 1024),
    help="Messages per listener call.",
)
@_COUNT_OPTION
@_DURATION_OPTION
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
    """Consume with a push consumer; latency = born-to-consume (from the producer's born timestamp),
    plus store-to-consume."""
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
    await _require_name_server(namesrv_addr)
    stats = Stats()
    done = asyncio.Event()

    async def listener(
        messages: list[MessageExt], context: ConsumeConcurrentlyContext
    ) -> ConsumeConcurrentlyStatus:
        now = now_ms()
        # Messages pulled before the consumer stops keep arriving after the count is reached; they
        # are acknowledged and reported apart, so the count printed is the count asked for.
        wanted = len(messages) if count is None else max(0, min(len(messages), count - stats.ok))
        for message in messages[:wanted]:
            stats.record(1, float(now - message.born_timestamp), float(now - message.store_timestamp))
        stats.uncounted += len(messages) - wanted
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
    try:
        consumer.subscribe(topic, expression)
    except PocketMQError as error:
        raise click.ClickException(f"cannot subscribe to {topic!r} with {expression!r}: {error}") from None
    started = perf_counter_s()
    stop = asyncio.Event()
    reporter = asyncio.create_task(report_progress(stats, started, "consume", CONSUMER_MEASURES, stop))
    try:
        await consumer.start()
        try:
            async with asyncio.timeout(None if count is not None else duration):
                await done.wait()
        except TimeoutError:
            pass
    except PocketMQError as error:
        raise click.ClickException(f"cannot consume {topic!r} as group {group!r}: {error}") from None
    finally:
        elapsed = perf_counter_s() - started
        stop.set()
        await reporter
        await consumer.shutdown()
    print_summary(stats, elapsed, f"consumer ({topic}, group {group})", CONSUMER_MEASURES)
