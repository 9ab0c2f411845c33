"""A running RemotingServer under bad input: oversize and malformed frames close only their own
connection, and random or mutated frames never stop it from serving everyone else."""

from __future__ import annotations

import asyncio
import random
import struct
from collections.abc import AsyncIterator

import pytest

from pocketmq.common.errors import ConnectionClosedError, RemotingError
from pocketmq.protocol.codes import ResponseCode
from pocketmq.protocol.command import RemotingCommand, SerializeType, make_request, make_response
from pocketmq.protocol.frame import FrameDecoder, encode
from pocketmq.protocol.headers.pull import PullMessageRequestHeader
from pocketmq.remoting import Connection, RemotingClient, RemotingServer, Router

ECHO = 9001
PULL = 11
FRAME_LIMIT = 64 * 1024


def echo(request: RemotingCommand, connection: Connection) -> RemotingCommand:
    return make_response(request, ResponseCode.SUCCESS, body=request.body)


def pull(request: RemotingCommand, connection: Connection) -> RemotingCommand:
    header = PullMessageRequestHeader.from_ext_fields(request.ext_fields)  # HeaderError -> SYSTEM_ERROR
    return make_response(request, ResponseCode.PULL_NOT_FOUND, remark=f"offset {header.queue_offset}")


@pytest.fixture
async def server() -> AsyncIterator[RemotingServer]:
    server = RemotingServer("127.0.0.1", 0, Router({ECHO: echo, PULL: pull}), frame_bytes_max=FRAME_LIMIT)
    await server.start()
    yield server
    await server.stop()


async def _raw(server: RemotingServer) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection("127.0.0.1", server.port)


async def _closed_by_server(reader: asyncio.StreamReader) -> bool:
    try:
        data = await asyncio.wait_for(reader.read(), 5)
    except ConnectionResetError:
        return True
    return data == b""


async def test_oversize_frame_closes_that_connection_only(server: RemotingServer) -> None:
    async with RemotingClient() as client:
        assert (await client.invoke(server.address, make_request(ECHO), 3000)).code == ResponseCode.SUCCESS
        reader, writer = await _raw(server)
        writer.write(struct.pack(">ii", FRAME_LIMIT + 1, 0))  # announces more than the limit; nothing follows
        await writer.drain()
        assert await _closed_by_server(reader)
        writer.close()
        assert (await client.invoke(server.address, make_request(ECHO), 3000)).code == ResponseCode.SUCCESS


async def test_client_refuses_an_oversize_response() -> None:
    def big(request: RemotingCommand, connection: Connection) -> RemotingCommand:
        return make_response(request, ResponseCode.SUCCESS, body=b"x" * 10_000)

    server = RemotingServer("127.0.0.1", 0, Router({ECHO: big}))
    async with server, RemotingClient(frame_bytes_max=4096) as client:
        with pytest.raises(ConnectionClosedError, match="exceeds the limit"):
            await client.invoke(server.address, make_request(ECHO), 3000)


async def test_malformed_frame_closes_that_connection_only(server: RemotingServer) -> None:
    async with RemotingClient() as client:
        reader, writer = await _raw(server)
        writer.write(struct.pack(">ii", 7, 3) + b"{x}")
        await writer.drain()
        assert await _closed_by_server(reader)
        writer.close()
        assert (await client.invoke(server.address, make_request(ECHO, body=b"ok"), 3000)).body == b"ok"


async def test_missing_header_field_is_answered_and_the_connection_stays(server: RemotingServer) -> None:
    async with RemotingClient() as client:
        response = await client.invoke(server.address, make_request(PULL, {"topic": "T"}), 3000)
        assert response.code == ResponseCode.SYSTEM_ERROR
        assert response.remark is not None and "<consumerGroup> is null" in response.remark
        assert (await client.invoke(server.address, make_request(ECHO), 3000)).code == ResponseCode.SUCCESS


async def test_a_raw_client_speaking_binary_headers_gets_binary_answers(server: RemotingServer) -> None:
    reader, writer = await _raw(server)
    request = make_request(ECHO, {"k": "v"}, b"body", serialize_type=SerializeType.ROCKETMQ)
    request.opaque = 42
    writer.write(encode(request) * 3)  # pipelined in one write
    await writer.drain()
    decoder = FrameDecoder()
    responses: list[RemotingCommand] = []
    while len(responses) < 3:
        decoder.feed(await asyncio.wait_for(reader.read(65536), 5))
        while (command := decoder.next_command()) is not None:
            responses.append(command)
    assert all(
        r.opaque == 42 and r.serialize_type is SerializeType.ROCKETMQ and r.body == b"body" for r in responses
    )
    writer.close()


def _mutations(rng: random.Random, frames: list[bytes]) -> bytes:
    choice = rng.randrange(6)
    if choice == 0:
        return rng.randbytes(rng.randrange(1, 200))
    frame = bytearray(rng.choice(frames))
    if choice == 1:  # flip bytes anywhere, the length prefix included
        for _ in range(rng.randrange(1, 6)):
            frame[rng.randrange(len(frame))] = rng.randrange(256)
    elif choice == 2:  # truncate
        del frame[rng.randrange(1, len(frame)) :]
    elif choice == 3:  # garbage header length
        frame[5:8] = rng.randbytes(3)
    elif choice == 4:  # unknown code, valid frame
        request = make_request(rng.randrange(-1000, 1000), {"x": "y"})
        frame = bytearray(encode(request))
    else:  # valid frame then junk
        frame += rng.randbytes(rng.randrange(1, 50))
    return bytes(frame)


async def test_fuzzed_frames_never_stop_the_server(server: RemotingServer) -> None:
    seed = random.randrange(2**32)
    rng = random.Random(seed)
    seeds = [
        encode(make_request(ECHO, {"topic": "T", "queueId": "1"}, b"hello")),
        encode(
            make_request(PULL, {"consumerGroup": "G", "topic": "T"}, serialize_type=SerializeType.ROCKETMQ)
        ),
        encode(make_request(ECHO, remark="r", serialize_type=SerializeType.ROCKETMQ)),
    ]
    async with RemotingClient() as client:
        for _ in range(60):
            reader, writer = await _raw(server)
            writer.write(_mutations(rng, seeds))
            await writer.drain()
            try:
                await asyncio.wait_for(reader.read(65536), 0.05)  # an answer, a close, or nothing yet
            except (TimeoutError, ConnectionResetError):
                pass
            writer.close()
            # A well-behaved client is served after every attack.
            response = await client.invoke(server.address, make_request(ECHO, body=b"still"), 3000)
            assert response.body == b"still", f"seed {seed}"
    await asyncio.sleep(0.05)
    assert len(server.connections) <= 2, f"seed {seed}: {server.connections}"


async def test_connect_timeout_and_bad_address_are_remoting_errors() -> None:
    async with RemotingClient(connect_timeout_ms=200) as client:
        with pytest.raises(RemotingError, match="bad address"):
            await client.invoke("nonsense", make_request(ECHO), 1000)


async def test_a_peer_that_does_not_read_is_not_buffered_without_bound(server: RemotingServer) -> None:
    reader, writer = await _raw(server)
    body = b"b" * 32 * 1024
    count = 400  # 12.5 MiB of responses
    writer.write(encode(make_request(ECHO, body=body)) * count)
    await asyncio.sleep(0.3)  # we do not read: the server fills its buffer and stops reading us
    (connection,) = server.connections
    assert connection.write_paused
    decoder = FrameDecoder()
    answered = 0
    while answered < count:
        decoder.feed(await asyncio.wait_for(reader.read(1 << 20), 5))
        while decoder.next_command() is not None:
            answered += 1
    assert not connection.write_paused
    writer.close()


async def test_connections_beyond_the_maximum_are_refused() -> None:
    closed: list[Connection] = []
    server = RemotingServer(
        "127.0.0.1", 0, Router({ECHO: echo}), connections_max=2, on_connection_closed=closed.append
    )
    async with server:
        clients = [RemotingClient() for _ in range(3)]
        try:
            for client in clients[:2]:
                assert (
                    await client.invoke(server.address, make_request(ECHO), 3000)
                ).code == ResponseCode.SUCCESS
            with pytest.raises(ConnectionClosedError):
                await clients[2].invoke(server.address, make_request(ECHO), 3000)
            assert len(server.connections) == 2
            assert closed == []
        finally:
            for client in clients:
                await client.close()


async def test_idle_connections_are_closed() -> None:
    closed: list[Connection] = []
    server = RemotingServer(
        "127.0.0.1", 0, Router({ECHO: echo}), idle_timeout_ms=200, on_connection_closed=closed.append
    )
    async with server, RemotingClient() as client:
        await client.invoke(server.address, make_request(ECHO), 3000)
        for _ in range(4):  # traffic keeps it open
            await asyncio.sleep(0.08)
            await client.invoke(server.address, make_request(ECHO), 3000)
        assert closed == []
        await asyncio.sleep(0.5)
        assert len(closed) == 1 and closed[0].close_reason == "idle for more than 200 ms"
        # the client reconnects on its next call
        assert (await client.invoke(server.address, make_request(ECHO), 3000)).code == ResponseCode.SUCCESS
