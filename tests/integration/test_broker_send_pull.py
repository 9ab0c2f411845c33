"""A real `mqbroker` (and `mqnamesrv`) driven over the wire: send and pull back, batches, long
polling, offsets, topic auto-creation, permissions, heartbeats and consumer notifications."""

from __future__ import annotations

import asyncio
import json
import time

from pocketmq.common.errors import RequestTimeoutError
from pocketmq.common.message_id import decode_offset_msg_id
from pocketmq.protocol.bodies.route import TopicRouteData
from pocketmq.protocol.codes import RequestCode, ResponseCode
from pocketmq.protocol.command import RemotingCommand, make_request, make_response
from pocketmq.remoting import Connection, RemotingClient, Router
from tests.integration.test_broker_helpers import (
    TIMEOUT_MS,
    cluster_fixture,
    create_topic,
    decode,
    heartbeat,
    pull,
    query_offset,
    send,
    send_batch,
    update_offset,
)
from tests.support.cluster import Cluster

cluster = cluster_fixture("broker-send-pull", enablePropertyFilter="true")


async def test_send_then_pull_back_byte_identical_records(cluster: Cluster) -> None:
    address = cluster.broker_address
    async with RemotingClient() as client:
        await create_topic(client, address, "SendPullTopic")
        sent = []
        for index in range(20):
            body = f"body-{index}-".encode() * (index + 1)
            properties = {"KEYS": f"key-{index}", "TAGS": "TagA", "seq": str(index), "WAIT": "true"}
            response = await send(client, address, "SendPullTopic", body, queue_id=1, properties=properties)
            assert response.code == ResponseCode.SUCCESS, response
            assert response.remark is None
            assert list(response.ext_fields) == ["queueId", "TRACE_ON", "MSG_REGION", "msgId", "queueOffset"]
            assert response.ext_fields["queueId"] == "1"
            assert response.ext_fields["queueOffset"] == str(index)
            assert response.ext_fields["MSG_REGION"] == "DefaultRegion"
            sent.append((body, response.ext_fields["msgId"]))
        pulled = await pull(client, address, "SendPullTopic", 1, 0)
        assert pulled.code == ResponseCode.SUCCESS, pulled
        assert pulled.remark == "FOUND"
        assert pulled.ext_fields["nextBeginOffset"] == "20"
        assert pulled.ext_fields["maxOffset"] == "20"
        assert pulled.ext_fields["minOffset"] == "0"
        assert pulled.ext_fields["suggestWhichBrokerId"] == "0"
        messages = decode(pulled)
        assert [m.body for m in messages] == [body for body, _ in sent]
        assert [m.queue_offset for m in messages] == list(range(20))
        for message, (_, msg_id) in zip(messages, sent, strict=True):
            assert message.topic == "SendPullTopic"
            assert message.queue_id == 1
            assert "WAIT" not in message.properties
            assert message.properties["CLUSTER"] == "DefaultCluster"
            assert message.properties["TAGS"] == "TagA"
            assert decode_offset_msg_id(msg_id).commit_log_offset == message.commit_log_offset
        # VIEW_MESSAGE_BY_ID serves the very same bytes as the pull.
        offset = decode_offset_msg_id(sent[3][1]).commit_log_offset
        view = await client.invoke(
            address, make_request(RequestCode.VIEW_MESSAGE_BY_ID, {"offset": str(offset)}), TIMEOUT_MS
        )
        assert view.code == ResponseCode.SUCCESS
        assert decode(view)[0].body == sent[3][0]
        assert pulled.body is not None and view.body is not None and view.body in pulled.body
        # Past the end: PULL_NOT_FOUND / OFFSET_OVERFLOW_ONE; far past: PULL_OFFSET_MOVED.
        none = await pull(client, address, "SendPullTopic", 1, 20)
        assert (none.code, none.remark) == (ResponseCode.PULL_NOT_FOUND, "OFFSET_OVERFLOW_ONE")
        moved = await pull(client, address, "SendPullTopic", 1, 99)
        assert (moved.code, moved.remark) == (ResponseCode.PULL_OFFSET_MOVED, "OFFSET_OVERFLOW_BADLY")
        empty = await pull(client, address, "SendPullTopic", 2, 0)
        assert empty.code == ResponseCode.PULL_NOT_FOUND
        # A tag filter: nothing matches -> PULL_RETRY_IMMEDIATELY with nextBeginOffset advanced.
        filtered = await pull(client, address, "SendPullTopic", 1, 0, subscription="TagB")
        assert (filtered.code, filtered.remark) == (ResponseCode.PULL_RETRY_IMMEDIATELY, "NO_MATCHED_MESSAGE")
        assert filtered.ext_fields["nextBeginOffset"] == "20"


async def test_send_message_v1_and_batch(cluster: Cluster) -> None:
    address = cluster.broker_address
    async with RemotingClient() as client:
        await create_topic(client, address, "BatchTopic")
        v1 = await send(client, address, "BatchTopic", b"v1", queue_id=0, code=RequestCode.SEND_MESSAGE)
        assert v1.code == ResponseCode.SUCCESS, v1
        batch = [(f"batch-{i}".encode(), {"KEYS": f"b{i}", "TAGS": "TagBatch"}) for i in range(3)]
        response = await send_batch(client, address, "BatchTopic", batch, queue_id=0)
        assert response.code == ResponseCode.SUCCESS, response
        assert response.ext_fields["queueOffset"] == "1"
        assert len(response.ext_fields["msgId"].split(",")) == 3
        messages = decode(await pull(client, address, "BatchTopic", 0, 1))
        assert [m.body for m in messages] == [b"batch-0", b"batch-1", b"batch-2"]
        assert [m.queue_offset for m in messages] == [1, 2, 3]
        assert messages[0].properties["KEYS"] == "b0"
        assert messages[0].properties["CLUSTER"] == "DefaultCluster"
        assert messages[0].properties["WAIT"] == "true"  # as 4.9.8 stores batch inner messages
        malformed = await client.invoke(
            address,
            make_request(RequestCode.SEND_BATCH_MESSAGE, response_ext_of_batch(), b"\x00\x00\x00\x09garbage"),
            TIMEOUT_MS,
        )
        assert malformed.code == ResponseCode.MESSAGE_ILLEGAL
        assert "batch" in (malformed.remark or "")


def response_ext_of_batch() -> dict[str, str]:
    return {
        "a": "G",
        "b": "BatchTopic",
        "c": "TBW102",
        "d": "4",
        "e": "0",
        "f": "0",
        "g": "0",
        "h": "0",
        "i": "",
        "m": "true",
    }


async def test_long_polling_wakes_on_arrival_and_times_out(cluster: Cluster) -> None:
    address = cluster.broker_address
    async with RemotingClient() as client:
        await create_topic(client, address, "LongPollTopic")
        # Times out: held for the suspend time, then PULL_NOT_FOUND / OFFSET_OVERFLOW_ONE.
        started = time.monotonic()
        response = await pull(client, address, "LongPollTopic", 0, 0, suspend_ms=600)
        elapsed = time.monotonic() - started
        assert response.code == ResponseCode.PULL_NOT_FOUND, response
        assert 0.55 <= elapsed < 2.0, elapsed
        # Wakes: a message sent during the hold answers the pull at once.
        held = asyncio.ensure_future(pull(client, address, "LongPollTopic", 0, 0, suspend_ms=10_000))
        await asyncio.sleep(0.3)
        assert not held.done()
        sent_at = time.monotonic()
        sent = await send(client, address, "LongPollTopic", b"wake up", queue_id=0)
        assert sent.code == ResponseCode.SUCCESS
        woken = await asyncio.wait_for(held, 5)
        latency = time.monotonic() - sent_at
        assert woken.code == ResponseCode.SUCCESS, woken
        assert [m.body for m in decode(woken)] == [b"wake up"]
        assert latency < 0.25, latency
        # A message for another queue does not wake it.
        other = asyncio.ensure_future(pull(client, address, "LongPollTopic", 0, 1, suspend_ms=800))
        await asyncio.sleep(0.1)
        await send(client, address, "LongPollTopic", b"elsewhere", queue_id=3)
        await asyncio.sleep(0.2)
        assert not other.done()
        assert (await other).code == ResponseCode.PULL_NOT_FOUND


async def test_offsets_commit_query_and_new_group_rule(cluster: Cluster) -> None:
    address = cluster.broker_address
    async with RemotingClient() as client:
        await create_topic(client, address, "OffsetTopic")
        for _ in range(3):
            await send(client, address, "OffsetTopic", b"x", queue_id=0)
        # New group, queue min offset 0 and the first message in memory: offset 0 (Java's rule).
        fresh = await query_offset(client, address, "NeverConsumed", "OffsetTopic", 0)
        assert (fresh.code, fresh.ext_fields) == (ResponseCode.SUCCESS, {"offset": "0"})
        empty = await query_offset(client, address, "NeverConsumed", "OffsetTopic", 2)
        assert (empty.code, empty.ext_fields) == (ResponseCode.SUCCESS, {"offset": "0"})
        committed = await update_offset(client, address, "OffsetGroup", "OffsetTopic", 0, 2)
        assert committed.code == ResponseCode.SUCCESS
        stored = await query_offset(client, address, "OffsetGroup", "OffsetTopic", 0)
        assert stored.ext_fields == {"offset": "2"}
        # A pull with the COMMIT_OFFSET flag commits too.
        await pull(client, address, "OffsetTopic", 0, 2, group="OffsetGroup", commit_offset=3)
        assert (await query_offset(client, address, "OffsetGroup", "OffsetTopic", 0)).ext_fields == {
            "offset": "3"
        }
        # Oneway commit (the Java client's way) is stored without an answer.
        oneway = make_request(
            RequestCode.UPDATE_CONSUMER_OFFSET,
            {"consumerGroup": "OffsetGroup", "topic": "OffsetTopic", "queueId": "1", "commitOffset": "7"},
            oneway=True,
        )
        await client.invoke_oneway(address, oneway)
        await asyncio.sleep(0.1)
        assert (await query_offset(client, address, "OffsetGroup", "OffsetTopic", 1)).ext_fields == {
            "offset": "7"
        }
    # consumerOffset.json is written within flushConsumerOffsetInterval (5 s).
    path = cluster.store_dir / "config" / "consumerOffset.json"
    deadline = time.monotonic() + 8
    while time.monotonic() < deadline:
        if path.exists() and "OffsetTopic@OffsetGroup" in path.read_text():
            break
        await asyncio.sleep(0.2)
    assert "OffsetTopic@OffsetGroup" in path.read_text()


async def test_topic_auto_create_through_tbw102_and_route(cluster: Cluster) -> None:
    address = cluster.broker_address
    async with RemotingClient() as client:
        response = await send(client, address, "AutoCreatedTopic", b"auto", queue_id=2)
        assert response.code == ResponseCode.SUCCESS, response
        pulled = await pull(client, address, "AutoCreatedTopic", 2, 0)
        assert [m.body for m in decode(pulled)] == [b"auto"]
        deadline = time.monotonic() + 5
        route = None
        while time.monotonic() < deadline:
            answer = await client.invoke(
                cluster.namesrv_address,
                make_request(RequestCode.GET_ROUTEINFO_BY_TOPIC, {"topic": "AutoCreatedTopic"}),
                TIMEOUT_MS,
            )
            if answer.code == ResponseCode.SUCCESS and answer.body:
                route = TopicRouteData.decode(answer.body)
                break
            await asyncio.sleep(0.1)
        assert route is not None, "the auto-created topic never reached the name server"
        assert route.queue_datas[0].write_queue_nums == 4
        assert route.broker_datas[0].broker_addrs == {0: cluster.broker_address} or route.broker_datas[
            0
        ].broker_addrs == {"0": cluster.broker_address}
        # Without a template that may be inherited, an unknown topic is refused.
        refused = await send(client, address, "NoSuchTopicAnywhere", b"x", default_topic="NotATemplate")
        assert refused.code == ResponseCode.TOPIC_NOT_EXIST
        assert "NoSuchTopicAnywhere" in (refused.remark or "")


async def test_permissions_are_honoured(cluster: Cluster) -> None:
    address = cluster.broker_address
    async with RemotingClient() as client:
        await create_topic(client, address, "ReadOnlyTopic", perm=4)
        refused = await send(client, address, "ReadOnlyTopic", b"x")
        assert refused.code == ResponseCode.NO_PERMISSION, refused
        assert "ReadOnlyTopic" in (refused.remark or "")
        await create_topic(client, address, "WriteOnlyTopic", perm=2)
        assert (await send(client, address, "WriteOnlyTopic", b"x")).code == ResponseCode.SUCCESS
        no_read = await pull(client, address, "WriteOnlyTopic", 0, 0)
        assert no_read.code == ResponseCode.NO_PERMISSION
        system = await send(client, address, "SCHEDULE_TOPIC_XXXX", b"x")
        assert system.code == ResponseCode.NO_PERMISSION


async def test_bad_input_is_answered_and_the_broker_keeps_serving(cluster: Cluster) -> None:
    address = cluster.broker_address
    async with RemotingClient() as client:
        await create_topic(client, address, "BadInputTopic", queues=2)
        unknown = await client.invoke(address, make_request(4321), TIMEOUT_MS)
        assert unknown.code == ResponseCode.REQUEST_CODE_NOT_SUPPORTED
        assert "4321" in (unknown.remark or "")
        missing = await client.invoke(
            address,
            make_request(RequestCode.SEND_MESSAGE_V2, {"a": "G", "b": "BadInputTopic"}, b"x"),
            TIMEOUT_MS,
        )
        assert missing.code == ResponseCode.SYSTEM_ERROR
        assert "<c>" in (missing.remark or ""), missing.remark
        not_a_number = await client.invoke(
            address,
            make_request(
                RequestCode.PULL_MESSAGE, {"consumerGroup": "G", "topic": "BadInputTopic", "queueId": "x"}
            ),
            TIMEOUT_MS,
        )
        assert not_a_number.code == ResponseCode.SYSTEM_ERROR
        illegal = await send(client, address, "bad topic!", b"x")
        assert illegal.code == ResponseCode.SYSTEM_ERROR
        assert "[%|a-zA-Z0-9_-]" in (illegal.remark or "")
        too_long = await send(client, address, "T" * 200, b"x")
        assert too_long.code == ResponseCode.SYSTEM_ERROR
        assert "127" in (too_long.remark or "")
        oversize = await send(client, address, "BadInputTopic", b"x" * (4 * 1024 * 1024 + 1))
        assert oversize.code == ResponseCode.MESSAGE_ILLEGAL
        assert "4194304" in (oversize.remark or "") or "4M" in (oversize.remark or "")
        empty = await send(client, address, "BadInputTopic", b"")
        assert empty.code == ResponseCode.MESSAGE_ILLEGAL
        out_of_range = await send(client, address, "BadInputTopic", b"x", queue_id=7)
        assert out_of_range.code == ResponseCode.SYSTEM_ERROR
        assert "queueId[7]" in (out_of_range.remark or "")
        bad_pull_queue = await pull(client, address, "BadInputTopic", 5, 0)
        assert bad_pull_queue.code == ResponseCode.SYSTEM_ERROR
        bad_heartbeat = await client.invoke(
            address, make_request(RequestCode.HEART_BEAT, None, b"{not json"), TIMEOUT_MS
        )
        assert bad_heartbeat.code == ResponseCode.SYSTEM_ERROR
        unsupported_kv = await client.invoke(address, make_request(217), TIMEOUT_MS)
        assert unsupported_kv.code == ResponseCode.REQUEST_CODE_NOT_SUPPORTED
        # Nothing was stored by the refusals, and the broker still serves.
        ok = await send(client, address, "BadInputTopic", b"still fine")
        assert ok.code == ResponseCode.SUCCESS
        assert ok.ext_fields["queueOffset"] == "0"
        assert [m.body for m in decode(await pull(client, address, "BadInputTopic", 0, 0))] == [b"still fine"]


async def test_heartbeat_consumer_list_notifications_and_subscription_pull(cluster: Cluster) -> None:
    address = cluster.broker_address
    notified: list[str] = []

    def on_notify(request: RemotingCommand, connection: Connection) -> None:
        notified.append(request.ext_fields.get("consumerGroup", ""))

    router = Router({RequestCode.NOTIFY_CONSUMER_IDS_CHANGED: on_notify})
    async with RemotingClient(router) as first, RemotingClient() as second:
        await create_topic(first, address, "HeartbeatTopic")
        beat = await heartbeat(first, address, "10.0.0.1@first", "HeartbeatGroup", {"HeartbeatTopic": "TagA"})
        assert beat.code == ResponseCode.SUCCESS, beat
        beat = await heartbeat(
            second, address, "10.0.0.2@second", "HeartbeatGroup", {"HeartbeatTopic": "TagA"}, ordinals=True
        )
        assert beat.code == ResponseCode.SUCCESS, beat
        deadline = time.monotonic() + 2
        while "HeartbeatGroup" not in notified and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        assert "HeartbeatGroup" in notified
        listed = await first.invoke(
            address,
            make_request(RequestCode.GET_CONSUMER_LIST_BY_GROUP, {"consumerGroup": "HeartbeatGroup"}),
            TIMEOUT_MS,
        )
        assert listed.code == ResponseCode.SUCCESS
        assert b"10.0.0.1@first" in (listed.body or b"") and b"10.0.0.2@second" in (listed.body or b"")
        # The retry topic of the group exists now.
        retry = await send(first, address, "%RETRY%HeartbeatGroup", b"retry", queue_id=0)
        assert retry.code == ResponseCode.SUCCESS, retry
        # A pull without the SUBSCRIPTION flag uses the heartbeat's subscription (TagA only).
        await send(first, address, "HeartbeatTopic", b"a", queue_id=0, properties={"TAGS": "TagA"})
        await send(first, address, "HeartbeatTopic", b"b", queue_id=0, properties={"TAGS": "TagB"})
        await send(first, address, "HeartbeatTopic", b"c", queue_id=0, properties={"TAGS": "TagA"})
        pulled = await pull(first, address, "HeartbeatTopic", 0, 0, group="HeartbeatGroup", subscription=None)
        assert [m.body for m in decode(pulled)] == [b"a", b"c"]
        stale = await pull(
            first, address, "HeartbeatTopic", 0, 0, group="HeartbeatGroup", subscription=None, sub_version=99
        )
        assert stale.code == ResponseCode.SUBSCRIPTION_NOT_LATEST
        unknown = await pull(
            first, address, "HeartbeatTopic", 0, 0, group="NoHeartbeatGroup", subscription=None
        )
        assert unknown.code == ResponseCode.SUBSCRIPTION_NOT_EXIST
        connections = await first.invoke(
            address,
            make_request(RequestCode.GET_CONSUMER_CONNECTION_LIST, {"consumerGroup": "HeartbeatGroup"}),
            TIMEOUT_MS,
        )
        assert connections.code == ResponseCode.SUCCESS
        assert b"CLUSTERING" in (connections.body or b"")
        notified.clear()
    # `second` closed with its client: the group shrinks (checked through a new connection).
    async with RemotingClient() as third:
        deadline = time.monotonic() + 2
        while True:
            listed = await third.invoke(
                address,
                make_request(RequestCode.GET_CONSUMER_LIST_BY_GROUP, {"consumerGroup": "HeartbeatGroup"}),
                TIMEOUT_MS,
            )
            if listed.code == ResponseCode.SYSTEM_ERROR or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.05)
        assert listed.code == ResponseCode.SYSTEM_ERROR, listed


async def test_admin_queries(cluster: Cluster) -> None:
    address = cluster.broker_address
    async with RemotingClient() as client:
        await create_topic(client, address, "AdminTopic", queues=2)
        await send(client, address, "AdminTopic", b"x", queue_id=0, properties={"KEYS": "admin-key"})
        for code, ext in (
            (RequestCode.GET_MAX_OFFSET, {"topic": "AdminTopic", "queueId": "0"}),
            (RequestCode.GET_MIN_OFFSET, {"topic": "AdminTopic", "queueId": "0"}),
            (
                RequestCode.SEARCH_OFFSET_BY_TIMESTAMP,
                {"topic": "AdminTopic", "queueId": "0", "timestamp": "0"},
            ),
            (RequestCode.GET_EARLIEST_MSG_STORETIME, {"topic": "AdminTopic", "queueId": "0"}),
            (RequestCode.GET_ALL_TOPIC_CONFIG, None),
            (RequestCode.GET_BROKER_RUNTIME_INFO, None),
            (RequestCode.GET_TOPIC_STATS_INFO, {"topic": "AdminTopic"}),
            (RequestCode.GET_CONSUME_STATS, {"consumerGroup": "OffsetGroup"}),
            (RequestCode.GET_BROKER_CONFIG, None),
        ):
            answer = await client.invoke(address, make_request(code, ext), TIMEOUT_MS)
            assert answer.code == ResponseCode.SUCCESS, (code, answer)
        max_offset = await client.invoke(
            address,
            make_request(RequestCode.GET_MAX_OFFSET, {"topic": "AdminTopic", "queueId": "0"}),
            TIMEOUT_MS,
        )
        assert max_offset.ext_fields == {"offset": "1"}
        query = await client.invoke(
            address,
            make_request(
                RequestCode.QUERY_MESSAGE,
                {"topic": "AdminTopic", "key": "admin-key", "maxNum": "32", "beginTimestamp": "0",
                 "endTimestamp": str(2**63 - 1)},
            ),
            TIMEOUT_MS,
        )  # fmt: skip
        assert query.code == ResponseCode.SUCCESS, query
        assert [m.body for m in decode(query)] == [b"x"]
        missing = await client.invoke(
            address, make_request(RequestCode.GET_TOPIC_STATS_INFO, {"topic": "NoSuchTopic"}), TIMEOUT_MS
        )
        assert missing.code == ResponseCode.TOPIC_NOT_EXIST
        deleted = await client.invoke(
            address, make_request(RequestCode.DELETE_TOPIC_IN_BROKER, {"topic": "AdminTopic"}), TIMEOUT_MS
        )
        assert deleted.code == ResponseCode.SUCCESS
        gone = await pull(client, address, "AdminTopic", 0, 0)
        assert gone.code == ResponseCode.TOPIC_NOT_EXIST


async def test_connection_to_a_dead_peer_does_not_hang(cluster: Cluster) -> None:
    # A pull held on a connection that closes is dropped without harm; the broker keeps serving.
    async with RemotingClient() as client:
        await create_topic(client, cluster.broker_address, "ClosedPullTopic")
        held = asyncio.ensure_future(
            pull(client, cluster.broker_address, "ClosedPullTopic", 0, 0, suspend_ms=5000)
        )
        await asyncio.sleep(0.2)
        client.close_connection(cluster.broker_address)
        try:
            await held
        except (RequestTimeoutError, Exception):
            pass
    async with RemotingClient() as client:
        assert (
            await send(client, cluster.broker_address, "ClosedPullTopic", b"ok")
        ).code == ResponseCode.SUCCESS


async def test_orderly_locks(cluster: Cluster) -> None:
    address = cluster.broker_address
    queue = {"brokerName": "broker-a", "queueId": 0, "topic": "LockTopic"}

    def lock_request(code: int, client_id: str) -> RemotingCommand:
        body = {"clientId": client_id, "consumerGroup": "LockGroup", "mqSet": [queue]}
        return make_request(code, None, json.dumps(body).encode())

    async with RemotingClient() as client:
        first = await client.invoke(address, lock_request(RequestCode.LOCK_BATCH_MQ, "c1"), TIMEOUT_MS)
        assert json.loads(first.body or b"{}")["lockOKMQSet"] == [queue]
        second = await client.invoke(address, lock_request(RequestCode.LOCK_BATCH_MQ, "c2"), TIMEOUT_MS)
        assert json.loads(second.body or b"{}")["lockOKMQSet"] == []
        unlocked = await client.invoke(address, lock_request(RequestCode.UNLOCK_BATCH_MQ, "c1"), TIMEOUT_MS)
        assert unlocked.code == ResponseCode.SUCCESS
        third = await client.invoke(address, lock_request(RequestCode.LOCK_BATCH_MQ, "c2"), TIMEOUT_MS)
        assert json.loads(third.body or b"{}")["lockOKMQSet"] == [queue]


async def test_sql92_subscriptions(cluster: Cluster) -> None:
    address = cluster.broker_address

    def check(expression: str) -> RemotingCommand:
        body = {
            "clientId": "c",
            "group": "SqlGroup",
            "subscriptionData": {"topic": "SqlTopic", "subString": expression, "expressionType": "SQL92"},
        }
        return make_request(RequestCode.CHECK_CLIENT_CONFIG, None, json.dumps(body).encode())

    async with RemotingClient() as client:
        await create_topic(client, address, "SqlTopic")
        assert (await client.invoke(address, check("a > 5"), TIMEOUT_MS)).code == ResponseCode.SUCCESS
        bad = await client.invoke(address, check("a >>> 5 AND"), TIMEOUT_MS)
        assert bad.code == ResponseCode.SUBSCRIPTION_PARSE_FAILED
        for value in (3, 7, 9):
            await send(client, address, "SqlTopic", f"a={value}".encode(), properties={"a": str(value)})
        pulled = await pull(client, address, "SqlTopic", 0, 0, subscription="a > 5", expression_type="SQL92")
        assert [m.body for m in decode(pulled)] == [b"a=7", b"a=9"]
        broken = await pull(client, address, "SqlTopic", 0, 0, subscription="a >>>", expression_type="SQL92")
        assert broken.code == ResponseCode.SUBSCRIPTION_PARSE_FAILED
        who = await client.invoke(
            address,
            make_request(RequestCode.QUERY_TOPIC_CONSUME_BY_WHO, {"topic": "OffsetTopic"}),
            TIMEOUT_MS,
        )
        assert who.code == ResponseCode.SUCCESS


async def test_admin_requests_forwarded_to_a_consumer(cluster: Cluster) -> None:
    address = cluster.broker_address
    seen: list[RemotingCommand] = []

    def answer(request: RemotingCommand, connection: Connection) -> RemotingCommand:
        seen.append(request)
        return make_response(request, ResponseCode.SUCCESS, None, None, b'{"answered":true}')

    def on_reset(request: RemotingCommand, connection: Connection) -> None:
        seen.append(request)

    router = Router(
        {
            RequestCode.GET_CONSUMER_RUNNING_INFO: answer,
            RequestCode.CONSUME_MESSAGE_DIRECTLY: answer,
            RequestCode.RESET_CONSUMER_CLIENT_OFFSET: on_reset,
        }
    )
    async with RemotingClient(router) as consumer, RemotingClient() as admin:
        await create_topic(admin, address, "ForwardTopic")
        sent = await send(admin, address, "ForwardTopic", b"direct")
        assert (
            await heartbeat(consumer, address, "10.0.0.9@fwd", "ForwardGroup", {"ForwardTopic": "*"})
        ).code == 0
        info = await admin.invoke(
            address,
            make_request(
                RequestCode.GET_CONSUMER_RUNNING_INFO,
                {"consumerGroup": "ForwardGroup", "clientId": "10.0.0.9@fwd"},
            ),
            TIMEOUT_MS,
        )
        assert (info.code, info.body) == (ResponseCode.SUCCESS, b'{"answered":true}')
        direct = await admin.invoke(
            address,
            make_request(
                RequestCode.CONSUME_MESSAGE_DIRECTLY,
                {
                    "consumerGroup": "ForwardGroup",
                    "clientId": "10.0.0.9@fwd",
                    "msgId": sent.ext_fields["msgId"],
                },
            ),
            TIMEOUT_MS,
        )
        assert direct.code == ResponseCode.SUCCESS
        assert seen[-1].body is not None and b"direct" in seen[-1].body
        offline = await admin.invoke(
            address,
            make_request(
                RequestCode.GET_CONSUMER_RUNNING_INFO, {"consumerGroup": "ForwardGroup", "clientId": "nobody"}
            ),
            TIMEOUT_MS,
        )
        assert offline.code == ResponseCode.SYSTEM_ERROR
        assert "not online" in (offline.remark or "")
        # Reset to the beginning (timestamp 0, forced): the client is told, the admin gets the table.
        for queue_id in range(4):
            await update_offset(admin, address, "ForwardGroup", "ForwardTopic", queue_id, 1)
        reset = await admin.invoke(
            address,
            make_request(
                RequestCode.INVOKE_BROKER_TO_RESET_OFFSET,
                {"topic": "ForwardTopic", "group": "ForwardGroup", "timestamp": "0", "isForce": "true"},
            ),
            TIMEOUT_MS,
        )
        assert reset.code == ResponseCode.SUCCESS, reset
        assert b'"queueId":0' in (reset.body or b"")
        deadline = time.monotonic() + 2
        while seen[-1].code != RequestCode.RESET_CONSUMER_CLIENT_OFFSET and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        assert seen[-1].code == RequestCode.RESET_CONSUMER_CLIENT_OFFSET
        assert seen[-1].ext_fields["group"] == "ForwardGroup"


async def test_update_broker_config_at_runtime(cluster: Cluster) -> None:
    address = cluster.broker_address

    async def update(text: str) -> RemotingCommand:
        return await client.invoke(
            address, make_request(RequestCode.UPDATE_BROKER_CONFIG, None, text.encode()), TIMEOUT_MS
        )

    async with RemotingClient() as client:
        await create_topic(client, address, "RuntimeConfigTopic")
        assert (await update("brokerPermission=4\n")).code == ResponseCode.SUCCESS
        try:
            refused = await send(client, address, "RuntimeConfigTopic", b"x")
            assert refused.code == ResponseCode.NO_PERMISSION
            assert "sending message is forbidden" in (refused.remark or "")
            config = await client.invoke(address, make_request(RequestCode.GET_BROKER_CONFIG), TIMEOUT_MS)
            assert b"brokerPermission=4" in (config.body or b"")
        finally:
            assert (await update("brokerPermission=6\n")).code == ResponseCode.SUCCESS
        assert (await send(client, address, "RuntimeConfigTopic", b"x")).code == ResponseCode.SUCCESS
        unknown = await update("noSuchKey=1\n")
        assert unknown.code == ResponseCode.SYSTEM_ERROR
        assert "noSuchKey" in (unknown.remark or "")


async def test_held_pull_ignores_arrivals_its_filter_rejects(cluster: Cluster) -> None:
    address = cluster.broker_address
    async with RemotingClient() as client:
        await create_topic(client, address, "FilteredLongPollTopic")
        held = asyncio.ensure_future(
            pull(client, address, "FilteredLongPollTopic", 0, 0, subscription="TagA", suspend_ms=5000)
        )
        await asyncio.sleep(0.2)
        for index in range(3):
            await send(
                client, address, "FilteredLongPollTopic", f"b{index}".encode(), properties={"TAGS": "TagB"}
            )
        await asyncio.sleep(0.3)
        assert not held.done(), "woken by messages its subscription rejects"
        sent_at = time.monotonic()
        await send(client, address, "FilteredLongPollTopic", b"a", properties={"TAGS": "TagA"})
        answer = await asyncio.wait_for(held, 5)
        assert time.monotonic() - sent_at < 0.25
        assert answer.code == ResponseCode.SUCCESS, answer
        assert [m.body for m in decode(answer)] == [b"a"]
        assert answer.ext_fields["nextBeginOffset"] == "4"
