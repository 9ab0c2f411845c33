"""Client and broker together: real `mqnamesrv` + `mqbroker` processes against a same-run baseline.

What runs (all on 127.0.0.1, free ports, a temporary store that is deleted at the end):

- `mqnamesrv` and `mqbroker` (ASYNC_FLUSH, the broker.conf defaults otherwise);
- the baseline: a bare RemotingServer in its own process (`canned-server` below) that answers
  SEND_MESSAGE_V2 and SEND_BATCH_MESSAGE with a canned SUCCESS response shaped like the broker's
  (queueId, TRACE_ON, MSG_REGION, msgId, queueOffset; one msgId per message of a batch), with no store
  behind it. It also answers GET_ROUTEINFO_BY_TOPIC with a route to itself and every other request
  with SUCCESS, so that pocketmq's Producer can send to it exactly as it sends to the broker.

Every measurement is a fresh client process (`client` below) with the same concurrency against either
server, so "broker / baseline" is the broker's and the store's share of the cost:

- sync send: 16 senders, each awaiting `Producer.send` of one 128 B message;
- batch send: 4 senders, each awaiting `Producer.send` of a list of 200 x 128 B;
- async send: `Producer.send_async`, 128 in flight; oneway: 16 senders of `send_oneway`, the elapsed
  time ending when a sync send queued behind them is answered (the server has read them all);
- the same sync and batch loads through a bare RemotingClient (pre-built SEND_MESSAGE_V2 /
  SEND_BATCH_MESSAGE requests with the Producer's header fields): no Producer code on the client side;
- push consume: a new group (CONSUME_FROM_FIRST_OFFSET) drains a backlog, with 1 and 32 messages
  per listener call, timed from the first message to the last. Its reference is a bare RemotingClient
  pulling the same backlog (PULL_MESSAGE, 32 per pull, 4 queues at once, nothing decoded);
- RSS (VmRSS from /proc/<pid>/status) of mqbroker after start and a short idle, and after the load.

The cases are interleaved over several rounds and each one keeps its best round (the 2 cores are
shared; the best round is the least disturbed one). A warm-up round (not counted) creates the topics
and their ConsumeQueue files first.

Usage: python bench/e2e_bench.py [--rounds 3] [--seconds 2.5] [--size 128] [--senders 16]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.metadata
import json
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

BIN = Path(sys.executable).parent
HERE = Path(__file__).resolve()

#: Targets of issue 3 on this 2-core machine, client and broker together.
TARGET_SYNC_MSG_S = 18_000
TARGET_BATCH_MSG_S = 100_000
TARGET_IDLE_RSS_MB = 64

BROKER_NAME = "broker-bench"
CANNED_BROKER_NAME = "canned"
QUEUES = 4
ASYNC_IN_FLIGHT = 128
BATCH_SENDERS = 4


# --------------------------------------------------------------------------------------------------
# the baseline server (child process)


def serve_canned(port: int) -> None:
    """A RemotingServer answering sends with a canned SUCCESS, routes with a route to itself."""
    import uvloop

    from pocketmq.protocol.bodies.route import BrokerData, QueueData, TopicRouteData
    from pocketmq.protocol.codes import RequestCode, ResponseCode
    from pocketmq.protocol.command import RemotingCommand, make_response
    from pocketmq.remoting import Connection, RemotingServer, Router

    address = f"127.0.0.1:{port}"
    route_body = TopicRouteData(
        queue_datas=(
            QueueData(
                broker_name=CANNED_BROKER_NAME, read_queue_nums=QUEUES, write_queue_nums=QUEUES, perm=6
            ),
        ),
        broker_datas=(
            BrokerData(cluster="DefaultCluster", broker_name=CANNED_BROKER_NAME, broker_addrs={0: address}),
        ),
    ).encode()
    # The broker's msgId: store host (ip + port, hex) + commit-log offset (16 hex digits).
    msg_id_prefix = "7F000001" + format(port, "08X")
    offset = [0]
    batch_ids: dict[int, str] = {}

    def send(request: RemotingCommand, connection: Connection) -> RemotingCommand:
        offset[0] += 1
        ext = request.ext_fields or {}
        return make_response(
            request,
            ResponseCode.SUCCESS,
            None,
            {
                "queueId": str(ext.get("e", ext.get("queueId", "0"))),
                "TRACE_ON": "true",
                "MSG_REGION": "DefaultRegion",
                "msgId": msg_id_prefix + format(offset[0] * 200, "016X"),
                "queueOffset": str(offset[0]),
            },
        )

    def send_batch(request: RemotingCommand, connection: Connection) -> RemotingCommand:
        body = request.body or b""
        ids = batch_ids.get(len(body))
        if ids is None:
            # Count the entries once per body size (the bench sends one shape): one msgId each.
            count = position = 0
            while position + 4 <= len(body):
                position += int.from_bytes(body[position : position + 4], "big")
                count += 1
            ids = ",".join(msg_id_prefix + format(n * 200, "016X") for n in range(count))
            batch_ids[len(body)] = ids
        offset[0] += 1
        ext = request.ext_fields or {}
        return make_response(
            request,
            ResponseCode.SUCCESS,
            None,
            {
                "queueId": str(ext.get("e", "0")),
                "TRACE_ON": "true",
                "MSG_REGION": "DefaultRegion",
                "msgId": ids,
                "queueOffset": str(offset[0]),
            },
        )

    def route(request: RemotingCommand, connection: Connection) -> RemotingCommand:
        return make_response(request, ResponseCode.SUCCESS, None, None, route_body)

    def anything(request: RemotingCommand, connection: Connection) -> RemotingCommand | None:
        if request.flag & 0x2:
            return None
        return make_response(request, ResponseCode.SUCCESS)

    router = Router(
        {
            RequestCode.SEND_MESSAGE_V2: send,
            RequestCode.SEND_MESSAGE: send,
            RequestCode.SEND_BATCH_MESSAGE: send_batch,
            RequestCode.GET_ROUTEINFO_BY_TOPIC: route,
        },
        default=anything,
    )

    async def main() -> None:
        server = RemotingServer("127.0.0.1", port, router)
        await server.start()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGTERM, stop.set)
        loop.add_signal_handler(signal.SIGINT, stop.set)
        await stop.wait()
        await server.stop()

    uvloop.run(main())


# --------------------------------------------------------------------------------------------------
# the load (child process, one per measurement)


def _summary(count: int, elapsed: float, rts_ms: list[float]) -> dict[str, Any]:
    rts_ms.sort()
    return {
        "count": count,
        "elapsed": elapsed,
        "rate": count / elapsed if elapsed > 0 else 0.0,
        "avg_ms": sum(rts_ms) / len(rts_ms) if rts_ms else None,
        "p99_ms": rts_ms[min(len(rts_ms) - 1, int(len(rts_ms) * 0.99))] if rts_ms else None,
    }


async def _producer_load(args: argparse.Namespace) -> dict[str, Any]:
    from pocketmq.client.instance import ClientConfig
    from pocketmq.client.producer.producer import Producer
    from pocketmq.common.message import Message

    body = os.urandom(args.size)
    topic = args.topic
    config = ClientConfig(namesrv_addr=args.namesrv, instance_name=f"e2e-{os.getpid()}")
    producer = Producer("e2e_bench_producer", client_config=config)
    await producer.start()
    await producer.send(Message(topic, body))  # route (and topic) before timing
    perf = time.perf_counter
    rts: list[float] = []
    count = 0
    mode = args.mode
    started = perf()
    deadline = started + args.seconds

    async def sync_sender() -> None:
        nonlocal count
        while perf() < deadline:
            begin = perf()
            await producer.send(Message(topic, body))
            rts.append((perf() - begin) * 1000)
            count += 1

    async def batch_sender() -> None:
        nonlocal count
        while perf() < deadline:
            messages = [Message(topic, body) for _ in range(args.batch)]
            begin = perf()
            await producer.send(messages)
            rts.append((perf() - begin) * 1000)
            count += len(messages)

    async def oneway_sender() -> None:
        nonlocal count
        while perf() < deadline:
            await producer.send_oneway(Message(topic, body))
            count += 1
            await asyncio.sleep(0)

    if mode == "sync":
        await asyncio.gather(*(sync_sender() for _ in range(args.senders)))
    elif mode == "batch":
        await asyncio.gather(*(batch_sender() for _ in range(BATCH_SENDERS)))
    elif mode == "oneway":
        await asyncio.gather(*(oneway_sender() for _ in range(args.senders)))
        # Queued behind every oneway on the same connection: answered once the server read them all.
        await producer.send(Message(topic, body))
    elif mode == "async":
        window = asyncio.Semaphore(ASYNC_IN_FLIGHT)
        failures = 0

        def done(begin: float) -> Any:
            def callback(result: Any, error: BaseException | None) -> None:
                nonlocal count, failures
                window.release()
                if error is None:
                    rts.append((perf() - begin) * 1000)
                    count += 1
                else:
                    failures += 1

            return callback

        while perf() < deadline:
            await window.acquire()
            producer.send_async(Message(topic, body), done(perf()))
        for _ in range(ASYNC_IN_FLIGHT):
            await window.acquire()
    else:
        raise SystemExit(f"unknown mode {mode}")
    elapsed = perf() - started
    await producer.shutdown()
    return _summary(count, elapsed, rts)


async def _remoting_load(args: argparse.Namespace) -> dict[str, Any]:
    """A bare RemotingClient: pre-built SEND_MESSAGE_V2 / SEND_BATCH_MESSAGE with the Producer's fields."""
    from pocketmq.client.producer.producer import encode_batch
    from pocketmq.common.message import Message, MessageConst
    from pocketmq.protocol.bodies.route import TopicRouteData
    from pocketmq.protocol.codes import RequestCode
    from pocketmq.protocol.command import make_request
    from pocketmq.remoting import RemotingClient

    client = RemotingClient()
    route = await client.invoke(
        args.namesrv, make_request(RequestCode.GET_ROUTEINFO_BY_TOPIC, {"topic": args.topic}), 3000
    )
    if not route.body:
        raise SystemExit(f"no route for {args.topic}: {route.code} {route.remark}")
    data = TopicRouteData.decode(route.body)
    broker = data.broker_datas[0]
    address = broker.broker_addrs[0]
    body = os.urandom(args.size)
    batch = args.mode == "batch"
    pid_part = format(os.getpid() & 0xFFFF, "04X")
    sequence = [0]

    def uniq() -> str:
        sequence[0] += 1
        return "7F000001" + pid_part + "00000000" + format(sequence[0], "012X")

    if batch:
        messages = []
        for _ in range(args.batch):
            message = Message(args.topic, body)
            message.properties[MessageConst.UNIQ_CLIENT_MESSAGE_ID_KEYIDX] = uniq()
            message.properties[MessageConst.WAIT_STORE_MSG_OK] = "true"
            messages.append(message)
        payload = encode_batch(messages)
        per_request = args.batch
        senders = BATCH_SENDERS
        code = RequestCode.SEND_BATCH_MESSAGE
    else:
        payload = body
        per_request = 1
        senders = args.senders
        code = RequestCode.SEND_MESSAGE_V2
    perf = time.perf_counter
    rts: list[float] = []
    count = 0
    queue = [0]

    def fields() -> dict[str, Any]:
        queue[0] += 1
        properties = "WAIT\x01true" if batch else f"UNIQ_KEY\x01{uniq()}\x02WAIT\x01true"
        return {
            "a": "e2e_bench_producer",
            "b": args.topic,
            "c": "TBW102",
            "d": "4",
            "e": str(queue[0] % QUEUES),
            "f": "0",
            "g": str(int(time.time() * 1000)),
            "h": "0",
            "i": properties,
            "j": "0",
            "k": "false",
            "m": "true" if batch else "false",
            "n": broker.broker_name,
        }

    await client.invoke(address, make_request(code, fields(), payload), 3000)
    started = perf()
    deadline = started + args.seconds

    async def sender() -> None:
        nonlocal count
        while perf() < deadline:
            request = make_request(code, fields(), payload)
            begin = perf()
            response = await client.invoke(address, request, 3000)
            rts.append((perf() - begin) * 1000)
            if response.code != 0:
                raise SystemExit(f"send failed: {response.code} {response.remark}")
            count += per_request

    await asyncio.gather(*(sender() for _ in range(senders)))
    elapsed = perf() - started
    await client.close()
    return _summary(count, elapsed, rts)


async def _consume_load(args: argparse.Namespace) -> dict[str, Any]:
    from pocketmq.client.consumer.consume_from import ConsumeFromWhere
    from pocketmq.client.consumer.push_consumer import (
        ConsumeConcurrentlyContext,
        ConsumeConcurrentlyStatus,
        PushConsumer,
        PushConsumerConfig,
    )
    from pocketmq.client.instance import ClientConfig
    from pocketmq.common.message import MessageExt

    perf = time.perf_counter
    target = args.count
    received = 0
    first = last = 0.0
    done = asyncio.Event()
    rts: list[float] = []

    async def listener(
        messages: list[MessageExt], context: ConsumeConcurrentlyContext
    ) -> ConsumeConcurrentlyStatus:
        nonlocal received, first, last
        now = perf()
        if received == 0:
            first = now
        received += len(messages)
        last = now
        if received >= target:
            done.set()
        return ConsumeConcurrentlyStatus.CONSUME_SUCCESS

    consumer = PushConsumer(
        args.group,
        client_config=ClientConfig(namesrv_addr=args.namesrv, instance_name=f"e2e-{os.getpid()}"),
        config=PushConsumerConfig(
            consume_from_where=ConsumeFromWhere.CONSUME_FROM_FIRST_OFFSET,
            consume_message_batch_max_size=args.batch,
        ),
        listener=listener,
    )
    consumer.subscribe(args.topic, "*")
    await consumer.start()
    try:
        async with asyncio.timeout(60):
            await done.wait()
    finally:
        await consumer.shutdown()
    # Counted from the first message to the last (the start and the first rebalance are left out).
    return _summary(received, last - first, rts)


async def _pull_load(args: argparse.Namespace) -> dict[str, Any]:
    """PULL_MESSAGE through a bare RemotingClient over the backlog, 32 per pull, every queue at once."""
    from pocketmq.protocol.bodies.route import TopicRouteData
    from pocketmq.protocol.codes import RequestCode, ResponseCode
    from pocketmq.protocol.command import make_request
    from pocketmq.remoting import RemotingClient

    client = RemotingClient()
    route = await client.invoke(
        args.namesrv, make_request(RequestCode.GET_ROUTEINFO_BY_TOPIC, {"topic": args.topic}), 3000
    )
    assert route.body
    address = TopicRouteData.decode(route.body).broker_datas[0].broker_addrs[0]
    perf = time.perf_counter
    count = 0
    rts: list[float] = []

    async def puller(queue_id: int) -> None:
        nonlocal count
        offset = 0
        while count < args.count:
            request = make_request(
                RequestCode.PULL_MESSAGE,
                {
                    "consumerGroup": args.group,
                    "topic": args.topic,
                    "queueId": str(queue_id),
                    "queueOffset": str(offset),
                    "maxMsgNums": "32",
                    "sysFlag": "4",
                    "commitOffset": "0",
                    "suspendTimeoutMillis": "0",
                    "subscription": "*",
                    "subVersion": "0",
                    "expressionType": "TAG",
                },
            )
            begin = perf()
            response = await client.invoke(address, request, 3000)
            rts.append((perf() - begin) * 1000)
            if response.code != ResponseCode.SUCCESS:
                return
            ext = response.ext_fields or {}
            next_offset = int(ext["nextBeginOffset"])
            count += next_offset - offset
            offset = next_offset

    started = perf()
    await asyncio.gather(*(puller(queue_id) for queue_id in range(QUEUES)))
    elapsed = perf() - started
    await client.close()
    return _summary(count, elapsed, rts)


def run_client(args: argparse.Namespace) -> None:
    import uvloop

    loads = {
        "producer": _producer_load,
        "remoting": _remoting_load,
        "consume": _consume_load,
        "pull": _pull_load,
    }
    result = uvloop.run(loads[args.client](args))
    print(json.dumps(result))


# --------------------------------------------------------------------------------------------------
# the orchestrator


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, process: subprocess.Popen[bytes], timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"{process.args!r} exited with {process.returncode} before port {port} opened")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return
        time.sleep(0.05)
    raise SystemExit(f"nothing listens on 127.0.0.1:{port} after {timeout_s} s")


def rss_mb(pid: int) -> dict[str, float]:
    """VmRSS and its parts (RssAnon: heap; RssFile: mapped store pages and libraries), in MB."""
    found = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "RssAnon", "RssFile"):
            found[name] = int(value.split()[0]) / 1024
    return found


def rss_text(rss: dict[str, float]) -> str:
    return f"{rss['VmRSS']:.1f} MB (anon {rss['RssAnon']:.1f}, file {rss['RssFile']:.1f})"


@dataclass
class Server:
    name: str
    process: subprocess.Popen[bytes]
    port: int

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"


@contextlib.contextmanager
def started(name: str, args: list[str], port: int, log: Path) -> Iterator[Server]:
    with log.open("ab") as out:
        process = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_for_port(port, process)
        yield Server(name, process, port)
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)


def client(
    kind: str, mode: str, namesrv: str, topic: str, opts: argparse.Namespace, **extra: Any
) -> dict[str, Any]:
    argv = [
        sys.executable,
        str(HERE),
        "client",
        kind,
        "--mode",
        mode,
        "--namesrv",
        namesrv,
        "--topic",
        topic,
        "--seconds",
        str(extra.get("seconds", opts.seconds)),
        "--size",
        str(opts.size),
        "--senders",
        str(opts.senders),
        "--batch",
        str(extra.get("batch", opts.batch)),
        "--count",
        str(extra.get("count", 0)),
        "--group",
        str(extra.get("group", "e2e_bench_group")),
    ]
    done = subprocess.run(argv, capture_output=True, timeout=120, check=False)
    if done.returncode != 0:
        raise SystemExit(
            f"client {kind} {mode} -> {topic} failed:\n{done.stderr.decode(errors='replace')[-3000:]}"
        )
    return dict(json.loads(done.stdout.decode().strip().splitlines()[-1]))


def machine() -> str:
    model = "?"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    try:
        loop = f"uvloop {importlib.metadata.version('uvloop')}"
    except importlib.metadata.PackageNotFoundError:
        loop = "no uvloop"
    return (
        f"{os.cpu_count()} CPUs ({model}), {platform.system()} {platform.release()}, "
        f"CPython {platform.python_version()}, {loop}"
    )


@dataclass(frozen=True)
class Case:
    key: str
    kind: str  # producer | remoting
    mode: str
    server: str  # broker | canned
    topic: str


def orchestrate(opts: argparse.Namespace) -> None:
    workdir = Path(tempfile.mkdtemp(prefix="pocketmq-e2e-"))
    namesrv_port, broker_port, canned_port = free_port(), free_port(), free_port()
    (workdir / "namesrv.conf").write_text(
        f"listenPort={namesrv_port}\nkvConfigPath={workdir / 'kvConfig.json'}\n"
    )
    (workdir / "broker.conf").write_text(
        "".join(
            f"{key}={value}\n"
            for key, value in {
                "brokerClusterName": "DefaultCluster",
                "brokerName": BROKER_NAME,
                "brokerId": "0",
                "brokerIP1": "127.0.0.1",
                "listenPort": broker_port,
                "namesrvAddr": f"127.0.0.1:{namesrv_port}",
                "storePathRootDir": workdir / "store",
                "flushDiskType": "ASYNC_FLUSH",
                "autoCreateTopicEnable": "true",
                "defaultTopicQueueNums": QUEUES,
            }.items()
        )
    )
    print(f"machine: {machine()}")
    print(
        f"store: {workdir}; {opts.rounds} rounds x {opts.seconds:g} s per case, best round kept\n", flush=True
    )
    began = time.monotonic()
    try:
        with contextlib.ExitStack() as stack:
            namesrv = stack.enter_context(
                started(
                    "mqnamesrv",
                    [str(BIN / "mqnamesrv"), "-c", str(workdir / "namesrv.conf")],
                    namesrv_port,
                    workdir / "namesrv.log",
                )
            )
            broker = stack.enter_context(
                started(
                    "mqbroker",
                    [str(BIN / "mqbroker"), "-c", str(workdir / "broker.conf")],
                    broker_port,
                    workdir / "broker.log",
                )
            )
            canned = stack.enter_context(
                started(
                    "canned",
                    [sys.executable, str(HERE), "canned-server", "--port", str(canned_port)],
                    canned_port,
                    workdir / "canned.log",
                )
            )
            time.sleep(opts.idle)
            rss_idle = rss_mb(broker.process.pid)
            rss_canned_idle = rss_mb(canned.process.pid)
            print(f"idle RSS after {opts.idle:g} s: mqbroker {rss_text(rss_idle)}", flush=True)
            namesrv_of = {"broker": namesrv.address, "canned": canned.address}
            cases = [
                Case("producer sync", "producer", "sync", "broker", "E2eSync"),
                Case("producer sync", "producer", "sync", "canned", "E2eSync"),
                Case("producer batch", "producer", "batch", "broker", "E2eBatch"),
                Case("producer batch", "producer", "batch", "canned", "E2eBatch"),
                Case("producer async", "producer", "async", "broker", "E2eAsync"),
                Case("producer async", "producer", "async", "canned", "E2eAsync"),
                Case("producer oneway", "producer", "oneway", "broker", "E2eOneway"),
                Case("producer oneway", "producer", "oneway", "canned", "E2eOneway"),
                Case("RemotingClient sync", "remoting", "sync", "broker", "E2eSync"),
                Case("RemotingClient sync", "remoting", "sync", "canned", "E2eSync"),
                Case("RemotingClient batch", "remoting", "batch", "broker", "E2eBatch"),
                Case("RemotingClient batch", "remoting", "batch", "canned", "E2eBatch"),
            ]
            # Warm-up: topics created through TBW102, ConsumeQueue files, page cache; not counted.
            for case in cases:
                client(case.kind, case.mode, namesrv_of[case.server], case.topic, opts, seconds=0.3)
            # The consume backlog, written once before the rounds.
            backlog = client(
                "producer", "batch", namesrv.address, "E2eConsume", opts, seconds=opts.backlog_seconds
            )
            backlog_count = int(backlog["count"])
            print(f"consume backlog: {backlog_count:,} messages in E2eConsume", flush=True)
            best: dict[tuple[str, str], dict[str, Any]] = {}

            this_round: dict[tuple[str, str], float] = {}

            def keep(key: tuple[str, str], result: dict[str, Any]) -> None:
                if key[0] in ("producer sync", "producer batch"):
                    this_round[key] = result["rate"]
                if key not in best or result["rate"] > best[key]["rate"]:
                    best[key] = result

            consume_count = int(backlog_count * 0.9)
            for round_number in range(opts.rounds):
                for case in cases:
                    result = client(case.kind, case.mode, namesrv_of[case.server], case.topic, opts)
                    keep((case.key, case.server), result)
                for batch in (1, 32):
                    result = client(
                        "consume",
                        "push",
                        namesrv.address,
                        "E2eConsume",
                        opts,
                        batch=batch,
                        count=consume_count,
                        group=f"e2e_consume_{batch}_{round_number}",
                    )
                    keep((f"push consume, {batch} per listener call", "broker"), result)
                result = client(
                    "pull", "pull", namesrv.address, "E2eConsume", opts, count=consume_count, group="e2e_pull"
                )
                keep(("RemotingClient pull", "broker"), result)
                print(
                    f"round {round_number + 1}/{opts.rounds} msg/s: "
                    + ", ".join(f"{key}/{server} {rate:,.0f}" for (key, server), rate in this_round.items()),
                    flush=True,
                )
            rss_loaded = rss_mb(broker.process.pid)
            time.sleep(opts.idle)
            rss_after = rss_mb(broker.process.pid)
            store_bytes = sum(f.stat().st_size for f in (workdir / "store").rglob("*") if f.is_file())
        report(
            opts,
            best,
            rss={"idle": rss_idle, "canned": rss_canned_idle, "loaded": rss_loaded, "after": rss_after},
            consume_count=consume_count,
            took_s=time.monotonic() - began,
        )
        print(f"(store files at the end: {store_bytes / 2**20:,.0f} MB allocated size)")
    finally:
        if opts.keep:
            print(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


def report(
    opts: argparse.Namespace,
    best: dict[tuple[str, str], dict[str, Any]],
    *,
    rss: dict[str, dict[str, float]],
    consume_count: int,
    took_s: float,
) -> None:
    def rate(key: str, server: str) -> float:
        return float(best[(key, server)]["rate"])

    rows: list[tuple[str, dict[str, Any], str, str]] = []
    for key, unit in (
        ("producer sync", f"{opts.senders} senders"),
        ("producer batch", f"{BATCH_SENDERS} senders x {opts.batch}"),
        ("producer async", f"{ASYNC_IN_FLIGHT} in flight"),
        ("producer oneway", f"{opts.senders} senders"),
        ("RemotingClient sync", f"{opts.senders} senders"),
        ("RemotingClient batch", f"{BATCH_SENDERS} senders x {opts.batch}"),
    ):
        for server in ("broker", "canned"):
            ratio = rate(key, server) / rate(key, "canned")
            target = ""
            if server == "broker" and key == "producer sync":
                target = f">= {TARGET_SYNC_MSG_S:,}: " + (
                    "met" if rate(key, server) >= TARGET_SYNC_MSG_S else "NOT met"
                )
            if server == "broker" and key == "producer batch":
                target = f">= {TARGET_BATCH_MSG_S:,}: " + (
                    "met" if rate(key, server) >= TARGET_BATCH_MSG_S else "NOT met"
                )
            label = f"{key} ({unit}) -> {'mqbroker' if server == 'broker' else 'baseline server'}"
            rows.append((label, best[(key, server)], f"{ratio:.2f}", target))
    pull = rate("RemotingClient pull", "broker")
    for batch in (1, 32):
        key = f"push consume, {batch} per listener call"
        rows.append((f"{key} -> mqbroker", best[(key, "broker")], f"{rate(key, 'broker') / pull:.2f}", ""))
    rows.append(
        (
            "RemotingClient pull, 32 per pull (consume ref.)",
            best[("RemotingClient pull", "broker")],
            "1.00",
            "",
        )
    )
    print()
    print(f"{opts.size} B bodies; best of {opts.rounds} rounds. ratio: the same client against the baseline")
    print("server in the same run = 1.00 (consume rows: / the bare pull). RT per request (a batch is one).")
    print()
    print(f"| {'case':70} | {'msg/s':>9} | {'avg RT ms':>9} | {'p99 RT ms':>9} | {'ratio':>5} | target")
    print(f"|{'-' * 72}|{'-' * 11}|{'-' * 11}|{'-' * 11}|{'-' * 7}|---")

    def fmt_ms(value: float | None) -> str:
        return "-" if value is None else f"{value:.3f}"

    for label, result, ratio_text, target in rows:
        avg, p99 = fmt_ms(result["avg_ms"]), fmt_ms(result["p99_ms"])
        print(f"| {label:70} | {result['rate']:>9,.0f} | {avg:>9} | {p99:>9} | {ratio_text:>5} | {target}")
    idle = rss["idle"]["VmRSS"]
    idle_target = f"<= {TARGET_IDLE_RSS_MB} MB: " + ("met" if idle <= TARGET_IDLE_RSS_MB else "NOT met")
    print()
    print(f"mqbroker VmRSS idle after start + {opts.idle:g} s: {rss_text(rss['idle'])}; target {idle_target}")
    print(f"mqbroker VmRSS right after the load: {rss_text(rss['loaded'])}")
    print(f"mqbroker VmRSS {opts.idle:g} s later: {rss_text(rss['after'])}")
    print(f"baseline server process (Python + pocketmq.remoting), idle: {rss_text(rss['canned'])}")
    print(f"push consume: {consume_count:,} messages per round, timed first message to last.")
    print(f"took {took_s:.0f} s")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command")
    canned = sub.add_parser("canned-server", help="(internal) the baseline server")
    canned.add_argument("--port", type=int, required=True)
    load = sub.add_parser("client", help="(internal) one measurement, printed as JSON")
    load.add_argument("client", choices=["producer", "remoting", "consume", "pull"])
    load.add_argument("--mode", default="sync")
    load.add_argument("--namesrv", required=True)
    load.add_argument("--topic", required=True)
    load.add_argument("--seconds", type=float, default=2.5)
    load.add_argument("--size", type=int, default=128)
    load.add_argument("--senders", type=int, default=16)
    load.add_argument("--batch", type=int, default=200)
    load.add_argument("--count", type=int, default=0)
    load.add_argument("--group", default="e2e_bench_group")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds; each case keeps its best")
    parser.add_argument("--seconds", type=float, default=2.5, help="seconds per send measurement")
    parser.add_argument("--size", type=int, default=128, help="body bytes")
    parser.add_argument("--senders", type=int, default=16, help="concurrent sync/oneway senders")
    parser.add_argument("--batch", type=int, default=200, help="messages per batch")
    parser.add_argument("--idle", type=float, default=3.0, help="seconds of idle before reading the RSS")
    parser.add_argument(
        "--backlog-seconds", type=float, default=1.5, help="batch sends filling the consume backlog"
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary store and logs")
    opts = parser.parse_args()
    if opts.command == "canned-server":
        serve_canned(opts.port)
    elif opts.command == "client":
        run_client(opts)
    else:
        orchestrate(opts)


if __name__ == "__main__":
    main()
