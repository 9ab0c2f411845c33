"""Issue 4 on a real `mqbroker`: delayed messages across a SIGKILL and a clean restart of the broker:
none lost, none delivered before its time (duplicates after a crash are allowed: at least once)."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Iterator

import pytest

from pocketmq.common.message import MessageExt
from pocketmq.protocol.codes import ResponseCode
from pocketmq.remoting import RemotingClient
from tests.integration.test_broker_helpers import create_topic, decode, pull, send
from tests.support.cluster import Cluster, running_cluster

LEVELS = "1s 3s " + " ".join(["1s"] * 16)


@pytest.fixture
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    with running_cluster(
        tmp_path_factory.mktemp("broker-issue4-delay-restart"), messageDelayLevel=LEVELS
    ) as c:
        yield c


async def pull_all(client: RemotingClient, address: str, topic: str) -> list[MessageExt]:
    messages: list[MessageExt] = []
    while True:
        response = await pull(client, address, topic, 0, len(messages))
        if response.code != ResponseCode.SUCCESS:
            return messages
        messages += decode(response)


async def send_delayed(address: str, topic: str, count: int, level: int) -> dict[bytes, int]:
    """Send `count` messages; body -> earliest allowed delivery time (ms)."""
    due: dict[bytes, int] = {}
    async with RemotingClient() as client:
        for index in range(count):
            body = f"{topic}-{level}-{index}".encode()
            sent = int(time.time() * 1000)
            response = await send(client, address, topic, body, properties={"DELAY": str(level)})
            assert response.code == ResponseCode.SUCCESS, response
            due[body] = sent + (1000 if level == 1 else 3000)
            await asyncio.sleep(0.01)
    return due


async def collect(address: str, topic: str, expected: int, timeout_s: float = 20) -> list[MessageExt]:
    deadline = time.monotonic() + timeout_s
    async with RemotingClient() as client:
        while True:
            messages = await pull_all(client, address, topic)
            if len({m.body for m in messages}) >= expected or time.monotonic() > deadline:
                await asyncio.sleep(1.5)  # and nothing more arrives
                return await pull_all(client, address, topic)
            await asyncio.sleep(0.05)


@pytest.mark.parametrize("how", ["sigkill", pytest.param("sigterm", marks=pytest.mark.long)])
async def test_delayed_messages_survive_a_broker_restart(cluster: Cluster, how: str) -> None:
    address = cluster.broker_address
    async with RemotingClient() as client:
        await create_topic(client, address, "DelayRestartTopic", queues=1)
    due = await send_delayed(address, "DelayRestartTopic", 30, level=1)
    due |= await send_delayed(address, "DelayRestartTopic", 30, level=2)
    await asyncio.sleep(1.2)  # some level-1 messages are delivered, no level-2 one is
    if how == "sigkill":
        cluster.kill_broker()
    else:
        assert cluster.broker is not None
        cluster.broker.stop()
    cluster.start_broker()
    messages = await collect(address, "DelayRestartTopic", len(due))
    counts = Counter(m.body for m in messages)
    assert set(counts) == set(due), set(due) - set(counts)
    for message in messages:
        assert message.store_timestamp >= due[message.body], message.body
    duplicates = sum(counts.values()) - len(counts)
    if how == "sigterm":
        assert duplicates == 0, counts
    print(f"{how}: {len(counts)} delayed messages delivered after the restart, {duplicates} twice")
