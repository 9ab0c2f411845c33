"""Pipelined echo requests/s through RemotingServer/RemotingClient, against a raw asyncio-Protocol baseline.

Both run in this one process on uvloop, over 127.0.0.1. The baseline echoes length-prefixed frames with no
decoding at all: it is the ceiling the transport allows. Usage: python bench/remoting_bench.py [--seconds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import struct
import time

import uvloop

from pocketmq.protocol.codes import ResponseCode
from pocketmq.protocol.command import RemotingCommand, make_request, make_response
from pocketmq.remoting import Connection, RemotingClient, RemotingServer, Router

ECHO_CODE = 9999
_LENGTH = struct.Struct(">i")


def frame_of(payload: bytes) -> bytes:
    return _LENGTH.pack(len(payload)) + payload


class RawEchoServer(asyncio.Protocol):
    """Cuts length-prefixed frames and writes them back, one write per data_received."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport: asyncio.Transport = transport  # type: ignore[assignment]
        self.buffer = bytearray()

    def data_received(self, data: bytes) -> None:
        buffer = self.buffer
        buffer += data
        position = 0
        end = len(buffer)
        while end - position >= 4:
            (length,) = _LENGTH.unpack_from(buffer, position)
            if end - position - 4 < length:
                break
            position += 4 + length
        if position:
            self.transport.write(bytes(buffer[:position]))
            del buffer[:position]


class RawEchoClient(asyncio.Protocol):
    def __init__(self, done: asyncio.Event) -> None:
        self.done = done
        self.buffer = bytearray()
        self.received = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport: asyncio.Transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        buffer = self.buffer
        buffer += data
        position = 0
        end = len(buffer)
        while end - position >= 4:
            (length,) = _LENGTH.unpack_from(buffer, position)
            if end - position - 4 < length:
                break
            position += 4 + length
            self.received += 1
        del buffer[:position]
        self.done.set()


async def bench_raw(seconds: float, window: int, payload: bytes) -> float:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(RawEchoServer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    done = asyncio.Event()
    transport, protocol = await loop.create_connection(lambda: RawEchoClient(done), "127.0.0.1", port)
    frame = frame_of(payload)
    sent = 0
    started = time.perf_counter()
    deadline = started + seconds
    while time.perf_counter() < deadline:
        # keep `window` frames in flight
        missing = window - (sent - protocol.received)
        if missing > 0:
            transport.write(frame * missing)
            sent += missing
        done.clear()
        await done.wait()
    elapsed = time.perf_counter() - started
    transport.close()
    server.close()
    return protocol.received / elapsed


def echo(request: RemotingCommand, connection: Connection) -> RemotingCommand:
    return make_response(request, ResponseCode.SUCCESS, body=request.body)


async def bench_remoting(seconds: float, window: int, payload: bytes) -> float:
    server = RemotingServer("127.0.0.1", 0, Router({ECHO_CODE: echo}))
    await server.start()
    client = RemotingClient()
    connection = await client.connection(server.address)
    completed = 0

    async def worker() -> None:
        nonlocal completed
        ext = {"topic": "BenchTopic", "queueId": "1"}
        while time.perf_counter() < deadline:
            await connection.invoke(make_request(ECHO_CODE, dict(ext), payload), 5000)
            completed += 1

    started = time.perf_counter()
    deadline = started + seconds
    await asyncio.gather(*(worker() for _ in range(window)))
    elapsed = time.perf_counter() - started
    await client.close()
    await server.stop()
    return completed / elapsed


class RawPipelinedClient(asyncio.Protocol):
    """Counts response frames; the caller keeps `window` pre-encoded requests in flight."""

    def __init__(self, done: asyncio.Event) -> None:
        self.done = done
        self.buffer = bytearray()
        self.received = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport: asyncio.Transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        buffer = self.buffer
        buffer += data
        position = 0
        end = len(buffer)
        while end - position >= 4:
            (length,) = _LENGTH.unpack_from(buffer, position)
            if end - position - 4 < length:
                break
            position += 4 + length
            self.received += 1
        del buffer[:position]
        self.done.set()


async def bench_server_only(seconds: float, window: int, payload: bytes) -> float:
    """RemotingServer answering a raw client that pipelines pre-encoded frames: the server's own cost."""
    from pocketmq.protocol.frame import encode

    server = RemotingServer("127.0.0.1", 0, Router({ECHO_CODE: echo}))
    await server.start()
    loop = asyncio.get_running_loop()
    done = asyncio.Event()
    transport, protocol = await loop.create_connection(
        lambda: RawPipelinedClient(done), "127.0.0.1", server.port
    )
    frame = encode(make_request(ECHO_CODE, {"topic": "BenchTopic", "queueId": "1"}, payload))
    sent = 0
    started = time.perf_counter()
    deadline = started + seconds
    while time.perf_counter() < deadline:
        missing = window - (sent - protocol.received)
        if missing > 0:
            transport.write(frame * missing)
            sent += missing
        done.clear()
        await done.wait()
    elapsed = time.perf_counter() - started
    transport.close()
    await server.stop()
    return protocol.received / elapsed


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--window", type=int, default=256, help="requests in flight")
    parser.add_argument("--size", type=int, default=100, help="body bytes")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds; the best of each is kept")
    args = parser.parse_args()
    payload = b"x" * args.size
    # The machine is shared: interleave the three measurements and keep each one's best round.
    raw = server_only = remoting = 0.0
    for _ in range(args.rounds):
        raw = max(raw, await bench_raw(args.seconds, args.window, payload))
        server_only = max(server_only, await bench_server_only(args.seconds, args.window, payload))
        remoting = max(remoting, await bench_remoting(args.seconds, args.window, payload))
    rows = [
        ("raw asyncio.Protocol echo (baseline)", raw, "frames/s"),
        ("RemotingServer, raw pipelining client", server_only, "requests/s"),
        ("RemotingServer + RemotingClient.invoke", remoting, "requests/s"),
    ]
    print(
        f"{args.size}-byte bodies, {args.window} in flight, best of {args.rounds} x {args.seconds:g} s,"
        " one process on uvloop"
    )
    for label, rate, unit in rows:
        print(f"{label:40} {rate:12,.0f} {unit:10}  ratio to baseline {rate / raw:.3f}")


if __name__ == "__main__":
    uvloop.run(main())
