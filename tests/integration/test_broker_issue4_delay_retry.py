"""Issue 4 on a real `mqbroker`: delay levels and consumer send-back (retry topic, dead letters),
driven over the wire. Short delay levels keep it quick: level 2 is 2 s, every other level 1 s."""

from __future__ import annotations

import asyncio
import time

from pocketmq.common.message import MessageExt
from pocketmq.protocol import fastjson
from pocketmq.protocol.codes import RequestCode, ResponseCode
from pocketmq.protocol.command import RemotingCommand, make_request
from pocketmq.protocol.headers.send import ConsumerSendMsgBackRequestHeader
from pocketmq.remoting import RemotingClient
from tests.integration.test_broker_helpers import (
    TIMEOUT_MS,
    cluster_fixture,
    create_topic,
    decode,
    heartbeat,
    pull,
    send,
)
from tests.support.cluster import Cluster

LEVELS = "1s 2s " + " ".join(["1s"] * 16)
cluster = cluster_fixture("broker-issue4-delay", messageDelayLevel=LEVELS)


async def pull_all(client: RemotingClient, address: str, topic: str, queue_id: int = 0) -> list[MessageExt]:
    messages: list[MessageExt] = []
    while True:
        response = await pull(client, address, topic, queue_id, len(messages))
        if response.code != ResponseCode.SUCCESS:
            return messages
        messages += decode(response)


async def wait_for(
    client: RemotingClient, address: str, topic: str, count: int, *, queue_id: int = 0, timeout_s: float = 10
) -> tuple[list[MessageExt], float]:
    """Poll until `count` messages are in the queue; returns them and the time it happened."""
    deadline = time.monotonic() + timeout_s
    while True:
        messages = await pull_all(client, address, topic, queue_id)
        if len(messages) >= count or time.monotonic() > deadline:
            return messages, time.time()
        await asyncio.sleep(0.02)


async def send_back(
    client: RemotingClient,
    address: str,
    message: MessageExt,
    group: str,
    *,
    delay_level: int = 0,
    max_reconsume_times: int | None = None,
) -> RemotingCommand:
    header = ConsumerSendMsgBackRequestHeader(
        commit_log_offset=message.commit_log_offset,
        group=group,
        delay_level=delay_level,
        origin_msg_id=message.msg_id,
        origin_topic=message.topic,
        max_reconsume_times=max_reconsume_times,
    )
    request = make_request(RequestCode.CONSUMER_SEND_MSG_BACK, header.to_ext_fields())
    return await client.invoke(address, request, TIMEOUT_MS)


async def test_delay_level_two_arrives_after_two_seconds_not_before(cluster: Cluster) -> None:
    address = cluster.broker_address
    async with RemotingClient() as client:
        await create_topic(client, address, "DelayTopic", queues=2)
        properties = {"DELAY": "2", "TAGS": "TagD", "KEYS": "delay-1", "WAIT": "true"}
        sent_at = time.time()
        response = await send(client, address, "DelayTopic", b"delayed", queue_id=1, properties=properties)
        assert response.code == ResponseCode.SUCCESS, response
        # As 4.9.8: the answer names the real queue and the offset in SCHEDULE_TOPIC_XXXX.
        assert response.ext_fields["queueId"] == "1"
        assert await pull_all(client, address, "DelayTopic", 1) == []
        [message], arrived_at = await wait_for(client, address, "DelayTopic", 1, queue_id=1)
        latency = arrived_at - sent_at
        print(f"delay level 2 (2 s): pulled {latency:.3f} s after the send")
        assert 2.0 <= latency < 3.0, latency
        assert message.body == b"delayed"
        assert message.properties["REAL_TOPIC"] == "DelayTopic"
        assert message.properties["REAL_QID"] == "1"
        assert message.store_timestamp - message.born_timestamp >= 0
        parked = await pull_all(client, address, "SCHEDULE_TOPIC_XXXX", 1)
        assert [p.body for p in parked] == [b"delayed"]
        assert message.store_timestamp >= parked[0].store_timestamp + 2000
        await asyncio.sleep(1.5)
        assert len(await pull_all(client, address, "DelayTopic", 1)) == 1


async def test_many_delayed_messages_all_arrive_on_time(cluster: Cluster) -> None:
    """No delivery before its time, none later than 1 s after it (store times, same host clock)."""
    address = cluster.broker_address
    async with RemotingClient() as client:
        await create_topic(client, address, "DelayManyTopic", queues=1)
        sent_ms: dict[bytes, tuple[int, int]] = {}
        for index in range(50):
            level = 1 if index % 2 else 2
            body = f"m{index}".encode()
            sent_ms[body] = (int(time.time() * 1000), 1000 * level)
            response = await send(client, address, "DelayManyTopic", body, properties={"DELAY": str(level)})
            assert response.code == ResponseCode.SUCCESS
        messages, _ = await wait_for(client, address, "DelayManyTopic", 50, timeout_s=10)
        assert sorted(m.body for m in messages) == sorted(sent_ms)
        lateness = []
        for message in messages:
            sent, delay_ms = sent_ms[message.body]
            assert message.store_timestamp >= sent + delay_ms, (message.body, message.store_timestamp - sent)
            lateness.append(message.store_timestamp - sent - delay_ms)
        assert max(lateness) < 1000, lateness
        lateness.sort()
        print(f"delay lateness (ms): median {lateness[len(lateness) // 2]}, max {lateness[-1]}")
        await asyncio.sleep(1)
        assert len(await pull_all(client, address, "DelayManyTopic")) == 50


async def test_send_back_retries_with_growing_reconsume_times_then_dead_letters(cluster: Cluster) -> None:
    address = cluster.broker_address
    group = "RetryGroup"
    async with RemotingClient() as client:
        await create_topic(client, address, "RetryTopic", queues=1)
        await heartbeat(client, address, "10.0.0.1@retry", group, {"RetryTopic": "*"})
        sent = await send(client, address, "RetryTopic", b"fail me", properties={"TAGS": "T", "KEYS": "k"})
        original_id = sent.ext_fields["msgId"]
        [original] = await pull_all(client, address, "RetryTopic")
        retry_topic = f"%RETRY%{group}"
        current = original
        times = []
        for attempt in range(1, 4):
            started = time.time()
            response = await send_back(client, address, current, group)
            assert response.code == ResponseCode.SUCCESS, response
            messages, arrived_at = await wait_for(client, address, retry_topic, attempt)
            assert len(messages) == attempt, messages
            current = messages[-1]
            times.append(arrived_at - started)
            assert current.reconsume_times == attempt
            assert current.body == b"fail me"
            assert current.properties["ORIGIN_MESSAGE_ID"] == original_id
            assert current.properties["RETRY_TOPIC"] == "RetryTopic"
            assert current.properties["REAL_TOPIC"] == retry_topic
            assert current.born_timestamp == original.born_timestamp
        print("send-back to redelivery (s): " + ", ".join(f"{t:.3f}" for t in times))
        # Levels 3, 4, 5 are 1 s each here.
        assert all(0.9 <= t < 2.0 for t in times), times
        # Past maxReconsumeTimes (the request's 3): straight to the DLQ, no delay.
        response = await send_back(client, address, current, group, max_reconsume_times=3)
        assert response.code == ResponseCode.SUCCESS, response
        [dead] = await pull_all(client, address, f"%DLQ%{group}")
        assert dead.properties["ORIGIN_MESSAGE_ID"] == original_id
        assert dead.properties["RETRY_TOPIC"] == "RetryTopic"
        assert dead.reconsume_times == 4
        assert dead.body == b"fail me"


async def test_send_back_with_negative_level_goes_to_dlq_and_unknown_offset_fails(cluster: Cluster) -> None:
    address = cluster.broker_address
    group = "DirectDlqGroup"
    async with RemotingClient() as client:
        await create_topic(client, address, "DlqTopic", queues=1)
        await send(client, address, "DlqTopic", b"poison")
        [original] = await pull_all(client, address, "DlqTopic")
        response = await send_back(client, address, original, group, delay_level=-1)
        assert response.code == ResponseCode.SUCCESS, response
        [dead] = await pull_all(client, address, f"%DLQ%{group}")
        assert dead.body == b"poison"
        assert dead.reconsume_times == 1
        missing = MessageExt(topic="DlqTopic", body=b"", commit_log_offset=10**12, msg_id="X")
        response = await send_back(client, address, missing, group)
        assert response.code == ResponseCode.SYSTEM_ERROR
        assert response.remark is not None and "look message by offset failed" in response.remark


async def test_delay_progress_is_served_to_admin_tools(cluster: Cluster) -> None:
    """GET_ALL_DELAY_OFFSET answers delayOffset.json; runtime info carries scheduleMessageOffset_N."""
    address = cluster.broker_address
    async with RemotingClient() as client:
        await create_topic(client, address, "DelayAdminTopic", queues=1)
        properties = {"DELAY": "1", "TAGS": "TagD", "WAIT": "true"}
        response = await send(
            client, address, "DelayAdminTopic", b"delayed", queue_id=0, properties=properties
        )
        assert response.code == ResponseCode.SUCCESS, response
        delivered, _ = await wait_for(client, address, "DelayAdminTopic", 1)
        assert len(delivered) == 1
        deadline = time.monotonic() + 5
        while True:
            answer = await client.invoke(address, make_request(RequestCode.GET_ALL_DELAY_OFFSET), TIMEOUT_MS)
            assert answer.code == ResponseCode.SUCCESS, answer
            table = fastjson.loads(answer.body or b"{}")["offsetTable"]
            if int(table.get("1", 0)) >= 1 or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.1)
        assert int(table["1"]) >= 1, table
        info = await client.invoke(address, make_request(RequestCode.GET_BROKER_RUNTIME_INFO), TIMEOUT_MS)
        stats = fastjson.loads(info.body or b"{}")["table"]
        delivered_offset, max_offset = stats["scheduleMessageOffset_1"].split(",")
        assert int(delivered_offset) >= 1 and int(max_offset) >= 1, stats
