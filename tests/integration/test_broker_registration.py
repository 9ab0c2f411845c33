"""A broker registers with every name server it is given (they never talk to each other), at start
and at once after a topic change, and unregisters from all of them when it stops."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from pocketmq.protocol.codes import RequestCode, ResponseCode
from pocketmq.protocol.command import make_request
from pocketmq.remoting import RemotingClient
from tests.integration.test_broker_helpers import TIMEOUT_MS, create_topic
from tests.support.processes import BIN, ManagedProcess, free_port


async def _route_code(client: RemotingClient, namesrv: str, topic: str) -> int:
    answer = await client.invoke(
        namesrv, make_request(RequestCode.GET_ROUTEINFO_BY_TOPIC, {"topic": topic}), TIMEOUT_MS
    )
    return answer.code


async def _wait_for(client: RemotingClient, namesrv: str, topic: str, code: int) -> None:
    deadline = time.monotonic() + 5
    while await _route_code(client, namesrv, topic) != code:
        assert time.monotonic() < deadline, (namesrv, topic, code)
        await asyncio.sleep(0.05)


async def test_registers_with_every_name_server(tmp_path: Path) -> None:
    namesrvs = []
    for index in range(2):
        port = free_port()
        conf = tmp_path / f"namesrv{index}.conf"
        conf.write_text(f"listenPort={port}\nkvConfigPath={tmp_path / f'kv{index}.json'}\n")
        namesrvs.append(
            ManagedProcess([str(BIN / "mqnamesrv"), "-c", str(conf)], port, tmp_path / f"ns{index}.log")
        )
    broker_port = free_port()
    broker_conf = tmp_path / "broker.conf"
    broker_conf.write_text(
        f"brokerIP1=127.0.0.1\nlistenPort={broker_port}\nstorePathRootDir={tmp_path / 'store'}\n"
        "mappedFileSizeCommitLog=16777216\nbrokerName=broker-r\n"
    )
    addresses = ";".join(process.address for process in namesrvs)
    broker = ManagedProcess(
        [str(BIN / "mqbroker"), "-n", addresses, "-c", str(broker_conf)], broker_port, tmp_path / "broker.log"
    )
    try:
        for process in namesrvs:
            await asyncio.to_thread(process.start)
        await asyncio.to_thread(broker.start)
        async with RemotingClient() as client:
            for process in namesrvs:
                await _wait_for(client, process.address, "TBW102", ResponseCode.SUCCESS)
            await create_topic(client, broker.address, "RegisteredTopic")
            for process in namesrvs:
                await _wait_for(client, process.address, "RegisteredTopic", ResponseCode.SUCCESS)
            assert await asyncio.to_thread(broker.stop) == 0
            for process in namesrvs:  # UNREGISTER_BROKER (and the closed connection) removed it
                await _wait_for(client, process.address, "RegisteredTopic", ResponseCode.TOPIC_NOT_EXIST)
    finally:
        for process in (broker, *namesrvs):
            if hasattr(process, "process"):
                process.stop()
