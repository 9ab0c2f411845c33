"""Fuzz a real `mqbroker` with mutated 4.9.8 requests and broken frames: every well-formed request
gets an answer, broken frames only close their own connection, and the broker keeps serving with
the messages it stored before intact. The seed is printed on failure (PYTEST_FUZZ_SEED to replay)."""

from __future__ import annotations

import asyncio
import json
import os
import random
import struct

import pytest

from pocketmq.common.errors import PocketMQError
from pocketmq.protocol.codes import RequestCode, ResponseCode
from pocketmq.protocol.command import RemotingCommand, make_request
from pocketmq.protocol.frame import decode_frame, encode
from pocketmq.remoting import RemotingClient
from tests.integration.test_broker_helpers import cluster_fixture, create_topic, decode, pull, send
from tests.support.cluster import Cluster
from tests.support.compat_data import CURATED_FRAMES

CURATED = CURATED_FRAMES
ROUNDS = 250

cluster = cluster_fixture("broker-fuzz")

_NASTY = ["", "-1", "-2147483648", "9223372036854775807", "99999999999999999999", "x", "%%%", "TBW102",
          "\x00", "é" * 300, "1e9", "true", " ", "SCHEDULE_TOPIC_XXXX", "%RETRY%g", "0"]  # fmt: skip


def _requests() -> list[RemotingCommand]:
    if not CURATED.exists():
        pytest.skip(f"{CURATED} is not available")
    requests = []
    for line in CURATED.read_text().splitlines():
        record = json.loads(line)
        if record["direction"] == "client->broker" and record["kind"] == "request":
            requests.append(decode_frame(bytes.fromhex(record["frame_hex"])))
    return requests


def _mutate(rng: random.Random, request: RemotingCommand) -> RemotingCommand:
    command = decode_frame(encode(request))
    command.flag = 0  # two-way: every mutated request must be answered
    keys = list(command.ext_fields)
    for _ in range(rng.randint(1, 3)):
        choice = rng.random()
        if keys and choice < 0.5:
            key = rng.choice(keys)
            command.ext_fields[key] = (
                rng.choice(_NASTY) if rng.random() < 0.7 else rng.randint(-(2**40), 2**40)
            )
        elif keys and choice < 0.65:
            command.ext_fields.pop(rng.choice(keys), None)
        elif choice < 0.85 and command.body:
            body = bytearray(command.body)
            for _ in range(rng.randint(1, 8)):
                body[rng.randrange(len(body))] = rng.randrange(256)
            command.body = bytes(body[: rng.randint(0, len(body))])
        else:
            command.body = rng.randbytes(rng.randint(0, 300))
    if command.code == RequestCode.PULL_MESSAGE:
        command.ext_fields["suspendTimeoutMillis"] = "50"
    return command


def _broken_frame(rng: random.Random, frame: bytes) -> bytes:
    choice = rng.random()
    if choice < 0.3:
        return frame[: rng.randint(1, max(len(frame) - 1, 1))] + rng.randbytes(rng.randint(0, 20))
    if choice < 0.5:
        return struct.pack(">i", rng.choice([-1, 0, 3, 2**31 - 1, 64 << 20])) + frame[4:]
    if choice < 0.75:
        data = bytearray(frame)
        for _ in range(rng.randint(1, 10)):
            data[rng.randrange(8, len(data)) if len(data) > 8 else 0] = rng.randrange(256)
        return bytes(data)
    return rng.randbytes(rng.randint(1, 200))


async def test_mutated_requests_and_broken_frames(cluster: Cluster) -> None:
    seed = int(os.environ.get("PYTEST_FUZZ_SEED", random.randrange(2**32)))
    rng = random.Random(seed)
    address = cluster.broker_address
    requests = _requests()
    async with RemotingClient() as client:
        await create_topic(client, address, "FuzzTopic")
        bodies = [f"keep-{index}".encode() for index in range(10)]
        for body in bodies:
            assert (await send(client, address, "FuzzTopic", body, queue_id=0)).code == ResponseCode.SUCCESS
        for round_number in range(ROUNDS):
            mutated = _mutate(rng, rng.choice(requests))
            try:
                response = await client.invoke(address, mutated, 5000)
            except PocketMQError as error:
                pytest.fail(f"seed {seed} round {round_number}: no answer to {mutated!r}: {error}")
            assert response.is_response, f"seed {seed}: {response!r}"
            if round_number % 25 == 0:
                reader, writer = await asyncio.open_connection("127.0.0.1", cluster.broker_port)
                writer.write(_broken_frame(rng, encode(rng.choice(requests))))
                await writer.drain()
                try:
                    await asyncio.wait_for(reader.read(65536), 0.2)
                except TimeoutError:
                    pass
                writer.close()
        # JSON bodies nested past any parser's depth, or not UTF-8: answered, nothing crashes.
        for code in (RequestCode.HEART_BEAT, RequestCode.LOCK_BATCH_MQ, RequestCode.CHECK_CLIENT_CONFIG,
                     RequestCode.UPDATE_AND_CREATE_SUBSCRIPTIONGROUP):  # fmt: skip
            for body in (b"[" * 100_000, b'{"a":' * 30_000, b"\xff\xfe"):
                answer = await client.invoke(address, make_request(code, None, body), 5000)
                assert answer.code != ResponseCode.SUCCESS, (code, answer)
        # Still serving, and what was stored before is intact.
        pulled = await pull(client, address, "FuzzTopic", 0, 0)
        assert [m.body for m in decode(pulled)][: len(bodies)] == bodies, f"seed {seed}"
        assert (await send(client, address, "FuzzTopic", b"after")).code == ResponseCode.SUCCESS, (
            f"seed {seed}"
        )
