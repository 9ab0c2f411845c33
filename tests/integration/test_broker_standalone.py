"""`pocketmq standalone`: a name server and a broker in one process, ready in under a second,
addresses printed, clean shutdown on SIGTERM (and `mqbroker -p`)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import time
from pathlib import Path

from pocketmq.protocol.codes import RequestCode, ResponseCode
from pocketmq.protocol.command import make_request
from pocketmq.remoting import RemotingClient
from tests.integration.test_broker_helpers import TIMEOUT_MS, decode, pull, send
from tests.support.processes import BIN, free_port, wait_for_port


async def test_standalone_serves_and_stops_cleanly(tmp_path: Path) -> None:
    namesrv_port, broker_port = free_port(), free_port()
    config = tmp_path / "broker.conf"
    config.write_text(
        f"listenPort={broker_port}\nnamesrvAddr=127.0.0.1:{namesrv_port}\nbrokerName=broker-sa\n"
        "mappedFileSizeCommitLog=16777216\n"
    )
    store = tmp_path / "data"
    log_path = tmp_path / "standalone.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [str(BIN / "pocketmq"), "standalone", "--store", str(store), "-c", str(config)],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        await asyncio.to_thread(wait_for_port, broker_port, 10.0, process)
        await asyncio.to_thread(wait_for_port, namesrv_port, 10.0, process)
        # How fast it gets ready is a figure for the benchmarks (docs/performance.md), not a test.
        address = f"127.0.0.1:{broker_port}"
        async with RemotingClient() as client:
            response = await send(client, address, "StandaloneTopic", b"hello", queue_id=0)
            assert response.code == ResponseCode.SUCCESS, response
            assert [m.body for m in decode(await pull(client, address, "StandaloneTopic", 0, 0))] == [
                b"hello"
            ]
            deadline = time.monotonic() + 5
            while True:
                route = await client.invoke(
                    f"127.0.0.1:{namesrv_port}",
                    make_request(RequestCode.GET_ROUTEINFO_BY_TOPIC, {"topic": "StandaloneTopic"}),
                    TIMEOUT_MS,
                )
                if route.code == ResponseCode.SUCCESS or time.monotonic() > deadline:
                    break
                await asyncio.sleep(0.05)
            assert route.code == ResponseCode.SUCCESS
            assert f"127.0.0.1:{broker_port}".encode() in (route.body or b"")
        os.killpg(process.pid, signal.SIGTERM)
        assert await asyncio.to_thread(process.wait, 15) == 0
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)
    output = log_path.read_text()
    assert f"name server 127.0.0.1:{namesrv_port}" in output, output
    assert f"broker 127.0.0.1:{broker_port}" in output, output
    assert "shut down" in output, output
    assert (store / "commitlog").is_dir()
    assert not (store / "abort").exists()


def test_mqbroker_prints_its_effective_config(tmp_path: Path) -> None:
    config = tmp_path / "broker.conf"
    config.write_text("brokerName=broker-p\nlistenPort=10999\nflushDiskType=SYNC_FLUSH\n")
    result = subprocess.run(
        [str(BIN / "mqbroker"), "-c", str(config), "-p", "-n", "127.0.0.1:9999"],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    assert "brokerName=broker-p" in result.stdout
    assert "listenPort=10999" in result.stdout
    assert "namesrvAddr=127.0.0.1:9999" in result.stdout
    assert "flushDiskType=SYNC_FLUSH" in result.stdout
