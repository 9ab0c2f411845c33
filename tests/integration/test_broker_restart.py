"""A real broker killed and restarted: every acknowledged message survives a SIGKILL under load, the
broker leaves the routes as soon as its name-server connection closes, a clean stop persists the
consumer offsets, and the new-group rule answers QUERY_NOT_FOUND when the first message is on disk."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from pocketmq.common.errors import PocketMQError
from pocketmq.protocol.codes import RequestCode, ResponseCode
from pocketmq.protocol.command import make_request
from pocketmq.remoting import RemotingClient
from tests.integration.test_broker_helpers import (
    TIMEOUT_MS,
    create_topic,
    decode,
    pull,
    query_offset,
    send,
    send_batch,
    update_offset,
)
from tests.support.cluster import running_cluster

QUEUES = 4


async def _route_code(client: RemotingClient, namesrv: str, topic: str) -> int:
    answer = await client.invoke(
        namesrv, make_request(RequestCode.GET_ROUTEINFO_BY_TOPIC, {"topic": topic}), TIMEOUT_MS
    )
    return answer.code


async def test_sigkill_under_load_keeps_every_acknowledged_message(tmp_path: Path) -> None:
    with running_cluster(tmp_path) as cluster:
        address = cluster.broker_address
        acknowledged: dict[tuple[int, int], bytes] = {}
        async with RemotingClient() as admin:
            await create_topic(admin, address, "CrashTopic", queues=QUEUES)

        async def sender(worker: int) -> None:
            async with RemotingClient() as client:
                sequence = 0
                while True:
                    body = f"w{worker}-m{sequence}".encode()
                    try:
                        response = await send(client, address, "CrashTopic", body, queue_id=worker % QUEUES)
                    except (PocketMQError, OSError):
                        return  # the broker is gone
                    if response.code == ResponseCode.SUCCESS:
                        acknowledged[
                            (int(response.ext_fields["queueId"]), int(response.ext_fields["queueOffset"]))
                        ] = body
                    sequence += 1

        senders = [asyncio.ensure_future(sender(worker)) for worker in range(8)]
        while len(acknowledged) < 2000:
            await asyncio.sleep(0.02)
        await asyncio.to_thread(cluster.kill_broker)
        await asyncio.wait_for(asyncio.gather(*senders), 15)
        assert len(acknowledged) >= 2000
        # The name server dropped the broker when its connection closed (no 120 s wait).
        async with RemotingClient() as client:
            deadline = time.monotonic() + 3
            while await _route_code(client, cluster.namesrv_address, "CrashTopic") == ResponseCode.SUCCESS:
                assert time.monotonic() < deadline, "the killed broker is still in the routes"
                await asyncio.sleep(0.05)
        await asyncio.to_thread(cluster.start_broker)
        async with RemotingClient() as client:
            found: dict[tuple[int, int], bytes] = {}
            for queue_id in range(QUEUES):
                offset = 0
                while True:
                    response = await pull(client, address, "CrashTopic", queue_id, offset, max_count=32)
                    if response.code != ResponseCode.SUCCESS:
                        break
                    for message in decode(response):
                        found[(queue_id, message.queue_offset)] = message.body
                    offset = int(response.ext_fields["nextBeginOffset"])
            missing = {key: body for key, body in acknowledged.items() if found.get(key) != body}
            assert not missing, f"{len(missing)} acknowledged messages lost, e.g. {list(missing.items())[:3]}"
            # The restarted broker registered again and serves new sends.
            deadline = time.monotonic() + 5
            while await _route_code(client, cluster.namesrv_address, "CrashTopic") != ResponseCode.SUCCESS:
                assert time.monotonic() < deadline, "the restarted broker did not register"
                await asyncio.sleep(0.05)
            assert (await send(client, address, "CrashTopic", b"after restart")).code == ResponseCode.SUCCESS


async def test_clean_stop_persists_offsets_and_store(tmp_path: Path) -> None:
    with running_cluster(tmp_path) as cluster:
        address = cluster.broker_address
        async with RemotingClient() as client:
            await create_topic(client, address, "StopTopic")
            for index in range(5):
                await send(client, address, "StopTopic", f"m{index}".encode(), queue_id=1)
            assert (await update_offset(client, address, "StopGroup", "StopTopic", 1, 4)).code == 0
        assert cluster.broker is not None
        assert await asyncio.to_thread(cluster.broker.stop) == 0
        assert not (cluster.store_dir / "abort").exists()
        assert "StopTopic@StopGroup" in (cluster.store_dir / "config" / "consumerOffset.json").read_text()
        assert "StopTopic" in (cluster.store_dir / "config" / "topics.json").read_text()
        await asyncio.to_thread(cluster.start_broker)
        async with RemotingClient() as client:
            assert (await query_offset(client, address, "StopGroup", "StopTopic", 1)).ext_fields == {
                "offset": "4"
            }
            bodies = [m.body for m in decode(await pull(client, address, "StopTopic", 1, 0))]
            assert bodies == [f"m{index}".encode() for index in range(5)]


async def test_new_group_on_disk_gets_query_not_found(tmp_path: Path) -> None:
    with running_cluster(tmp_path, accessMessageInMemoryMaxRatio="0") as cluster:
        address = cluster.broker_address
        async with RemotingClient() as client:
            await create_topic(client, address, "DiskTopic")
            for _ in range(2):
                await send(client, address, "DiskTopic", b"x", queue_id=0)
            answer = await query_offset(client, address, "BrandNewGroup", "DiskTopic", 0)
            assert answer.code == ResponseCode.QUERY_NOT_FOUND
            assert answer.remark == "Not found, V3_0_6_SNAPSHOT maybe this group consumer boot first"
            # An empty queue has no message on disk: offset 0.
            empty = await query_offset(client, address, "BrandNewGroup", "DiskTopic", 3)
            assert (empty.code, empty.ext_fields) == (ResponseCode.SUCCESS, {"offset": "0"})


async def test_sync_flush_sends_wait_for_the_disk_and_survive_a_kill(tmp_path: Path) -> None:
    with running_cluster(tmp_path, flushDiskType="SYNC_FLUSH") as cluster:
        address = cluster.broker_address
        async with RemotingClient() as client:
            await create_topic(client, address, "SyncFlushTopic")
            answers = await asyncio.gather(
                *(
                    send(client, address, "SyncFlushTopic", f"s{index}".encode(), queue_id=index % 4)
                    for index in range(64)
                )
            )
            assert all(answer.code == ResponseCode.SUCCESS for answer in answers), answers[0]
            batch = [(b"b1", {"TAGS": "x"}), (b"b2", {"TAGS": "x"})]
            assert (
                await send_batch(client, address, "SyncFlushTopic", batch, queue_id=0)
            ).code == ResponseCode.SUCCESS
        await asyncio.to_thread(cluster.kill_broker)
        await asyncio.to_thread(cluster.start_broker)
        async with RemotingClient() as client:
            bodies = set()
            for queue_id in range(4):
                bodies |= {
                    m.body
                    for m in decode(await pull(client, address, "SyncFlushTopic", queue_id, 0, max_count=64))
                }
            assert bodies == {f"s{index}".encode() for index in range(64)} | {b"b1", b"b2"}
