"""What the client puts on the wire, compared with the frames a real 4.9.8 Java client sent
(../shared/compat/frames-4.9.8/curated.jsonl), and the broker-to-client requests it answers."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import random
from collections.abc import AsyncIterator
from typing import Any

import pytest

from pocketmq.client.acl import SessionCredentials
from pocketmq.client.api import decode_pulled_messages
from pocketmq.client.consumer.push_consumer import (
    ConsumeConcurrentlyContext,
    ConsumeConcurrentlyStatus,
    PushConsumer,
    PushConsumerConfig,
)
from pocketmq.client.instance import ClientConfig
from pocketmq.client.producer.producer import LocalTransactionState, Producer, ProducerConfig, encode_batch
from pocketmq.client.routing import adapt_default_route, publish_info_from_route, subscribe_queues_from_route
from pocketmq.common.message import Message, MessageExt, MessageQueue, string_to_properties
from pocketmq.protocol import fastjson
from pocketmq.protocol.bodies.route import BrokerData, QueueData, TopicRouteData
from pocketmq.protocol.codes import RequestCode, ResponseCode
from pocketmq.protocol.command import make_request
from tests.integration.client_fake_cluster import FakeCluster
from tests.support.compat_data import CURATED_FRAMES

pytestmark = pytest.mark.timeout(60)

FRAMES = CURATED_FRAMES


def frame(seq: int) -> dict[str, Any]:
    if not FRAMES.exists():
        pytest.skip(f"{FRAMES} is not there")
    for line in FRAMES.read_text().splitlines():
        record = json.loads(line)
        if record["seq"] == seq:
            return record  # type: ignore[no-any-return]
    raise KeyError(seq)


@pytest.fixture
async def cluster() -> AsyncIterator[FakeCluster]:
    fake = await FakeCluster().start()
    yield fake
    await fake.stop()


def client_config(cluster: FakeCluster, name: str) -> ClientConfig:
    return ClientConfig(namesrv_addr=cluster.address, instance_name=name)


def test_batch_body_is_byte_identical_to_the_java_client() -> None:
    java = frame(71)
    messages = []
    for i, uniq in enumerate(
        ["FD000000000000000000000000000002042F5FFD2B277D1E41920002",
         "FD000000000000000000000000000002042F5FFD2B277D1E41920003",
         "FD000000000000000000000000000002042F5FFD2B277D1E41920004"]
    ):  # fmt: skip
        message = Message("FrameTopic", f"batch {i}".encode())
        message.properties.update(
            {"KEYS": f"batch-{i}", "UNIQ_KEY": uniq, "WAIT": "true", "TAGS": "TagBatch"}
        )
        messages.append(message)
    assert encode_batch(messages) == bytes.fromhex(java["body_hex"])


def test_pulled_records_decode() -> None:
    java = frame(152)
    messages = decode_pulled_messages(bytes.fromhex(java["body_hex"]))
    assert messages and all(m.topic == "FrameTopic" for m in messages)
    assert all(m.msg_id == m.properties["UNIQ_KEY"] for m in messages)


def test_routes_to_publish_and_subscribe_queues() -> None:
    route = TopicRouteData(
        queue_datas=(
            QueueData(broker_name="b", read_queue_nums=2, write_queue_nums=3, perm=6),
            QueueData(broker_name="a", read_queue_nums=4, write_queue_nums=4, perm=4),  # read only
            QueueData(broker_name="c", read_queue_nums=2, write_queue_nums=2, perm=6),  # no master
        ),
        broker_datas=(
            BrokerData(cluster="C", broker_name="a", broker_addrs={0: "h:1"}),
            BrokerData(cluster="C", broker_name="b", broker_addrs={0: "h:2"}),
            BrokerData(cluster="C", broker_name="c", broker_addrs={1: "h:3"}),
        ),
    )
    info = publish_info_from_route("T", route, random.Random(1))
    assert info.message_queues == [MessageQueue("T", "b", i) for i in range(3)]
    assert subscribe_queues_from_route("T", route) == {
        *(MessageQueue("T", "a", i) for i in range(4)),
        *(MessageQueue("T", "b", i) for i in range(2)),
        *(MessageQueue("T", "c", i) for i in range(2)),
    }
    adapted = adapt_default_route(
        TopicRouteData(
            queue_datas=(QueueData(broker_name="b", read_queue_nums=8, write_queue_nums=8, perm=7),)
        ),
        4,
    )
    assert adapted.queue_datas[0].read_queue_nums == adapted.queue_datas[0].write_queue_nums == 4
    ordered = publish_info_from_route("T", TopicRouteData(order_topic_conf="a:2;b:1"), random.Random(1))
    assert ordered.order_topic and len(ordered.message_queues) == 3


async def test_send_pull_heartbeat_and_offset_requests_match_the_java_client(cluster: FakeCluster) -> None:
    cluster.create_topic("FrameTopic", 4)
    received = asyncio.Event()

    def listener(
        messages: list[MessageExt], context: ConsumeConcurrentlyContext
    ) -> ConsumeConcurrentlyStatus:
        received.set()
        return ConsumeConcurrentlyStatus.CONSUME_SUCCESS

    consumer = PushConsumer(
        "FrameConsumerGroup", client_config=client_config(cluster, "frameC"), listener=listener
    )
    consumer.subscribe("FrameTopic")
    await consumer.start()
    try:
        async with Producer("FrameProducerGroup", client_config=client_config(cluster, "frameP")) as producer:
            message = Message("FrameTopic", b"hello", tags="TagA", keys=["key-1", "key-2"])
            message.put_user_property("color", "red")
            message.put_user_property("greeting", "你好")
            await producer.send(message)
            await producer.send(Message("FrameTopic", b"x" * 12_000, tags="TagBig"))
        await asyncio.wait_for(received.wait(), 10)
        await consumer.persist_consumer_offset()  # oneway: wait until the fake broker has it
        async with asyncio.timeout(5):
            while not cluster.requests_of(RequestCode.UPDATE_CONSUMER_OFFSET):
                await asyncio.sleep(0.02)
    finally:
        await consumer.shutdown()

    send = cluster.requests_of(RequestCode.SEND_MESSAGE_V2)[0].ext_fields
    java_send = frame(62)["header"]["extFields"]
    assert list(send) == list(java_send)
    for key in "bcdefhjkmn":
        assert send[key] == java_send[key] or key in "e", key
    assert string_to_properties(send["i"]).keys() == string_to_properties(java_send["i"]).keys()
    big = cluster.requests_of(RequestCode.SEND_MESSAGE_V2)[1]
    assert big.ext_fields["f"] == frame(75)["header"]["extFields"]["f"] == "769"

    heartbeat = fastjson.loads(cluster.requests_of(RequestCode.HEART_BEAT)[-1].body or b"")
    java_heartbeat = frame(129)["body_json"]
    assert heartbeat.keys() == java_heartbeat.keys()
    consumer_data = heartbeat["consumerDataSet"][0]
    java_consumer_data = java_heartbeat["consumerDataSet"][0]
    assert consumer_data.keys() == java_consumer_data.keys()
    assert (
        consumer_data["consumeType"] == "CONSUME_PASSIVELY" and consumer_data["messageModel"] == "CLUSTERING"
    )
    assert [s.keys() for s in consumer_data["subscriptionDataSet"]] == [
        s.keys() for s in java_consumer_data["subscriptionDataSet"]
    ]
    assert {s["topic"] for s in consumer_data["subscriptionDataSet"]} == {
        "FrameTopic",
        "%RETRY%FrameConsumerGroup",
    }
    assert {"groupName": "CLIENT_INNER_PRODUCER"} in heartbeat["producerDataSet"]

    pull = cluster.requests_of(RequestCode.PULL_MESSAGE)[0].ext_fields
    java_pull = frame(148)["header"]["extFields"]
    assert set(pull) == set(java_pull)
    for key in ("maxMsgNums", "sysFlag", "suspendTimeoutMillis", "commitOffset", "expressionType", "bname"):
        assert pull[key] == java_pull[key], key

    commits = cluster.requests_of(RequestCode.UPDATE_CONSUMER_OFFSET)
    assert commits and all(c.is_oneway for c in commits)
    assert set(commits[0].ext_fields) == set(frame(174)["header"]["extFields"])


async def test_broker_to_client_requests_are_answered(cluster: FakeCluster) -> None:
    cluster.create_topic("TopicQ", 2)
    consumed: list[bytes] = []

    def listener(
        messages: list[MessageExt], context: ConsumeConcurrentlyContext
    ) -> ConsumeConcurrentlyStatus:
        consumed.extend(m.body for m in messages)
        return ConsumeConcurrentlyStatus.CONSUME_SUCCESS

    checked: list[MessageExt] = []

    def checker(message: MessageExt) -> LocalTransactionState:
        checked.append(message)
        return LocalTransactionState.COMMIT_MESSAGE

    consumer = PushConsumer("gq", client_config=client_config(cluster, "q-c"), listener=listener)
    consumer.subscribe("TopicQ")
    await consumer.start()
    producer = Producer("pq", client_config=client_config(cluster, "q-p"), transaction_checker=checker)
    await producer.start()
    try:
        result = await producer.send(Message("TopicQ", b"direct"))
        await producer.instance.send_heartbeat_to_all_brokers()
        record = cluster.records_by_offset[min(cluster.records_by_offset)]
        connection = cluster.connection_of(consumer.instance.client_id)

        info = await connection.invoke(
            make_request(RequestCode.GET_CONSUMER_RUNNING_INFO, {"consumerGroup": "gq", "clientId": "x"}),
            3000,
        )
        assert info.code == ResponseCode.SUCCESS and b'"subscriptionSet"' in (info.body or b"")
        assert b'"mqTable":{' in (info.body or b"")

        direct = await connection.invoke(
            make_request(
                RequestCode.CONSUME_MESSAGE_DIRECTLY,
                {
                    "consumerGroup": "gq",
                    "clientId": "x",
                    "msgId": result.offset_msg_id,
                    "brokerName": "broker-a",
                },
                record,
            ),
            3000,
        )
        assert direct.code == ResponseCode.SUCCESS
        assert fastjson.loads(direct.body or b"")["consumeResult"] == "CR_SUCCESS"

        queue = result.message_queue
        key = fastjson.dumps({"brokerName": queue.broker_name, "queueId": queue.queue_id, "topic": "TopicQ"})
        body = b'{"offsetTable":{' + key + b":0}}"
        await connection.invoke_oneway(
            make_request(
                RequestCode.RESET_CONSUMER_CLIENT_OFFSET,
                {"topic": "TopicQ", "group": "gq", "timestamp": "0", "isForce": "true"},
                body,
                oneway=True,
            )
        )
        async with asyncio.timeout(10):
            while consumed.count(b"direct") < 3:  # pushed once, directly once, again after the reset
                await asyncio.sleep(0.05)

        producer_connection = cluster.connection_of(producer.instance.client_id)
        half = Message("TopicQ", b"half")
        half.properties["PGROUP"] = "pq"
        await producer_connection.invoke_oneway(
            make_request(
                RequestCode.CHECK_TRANSACTION_STATE,
                {"commitLogOffset": "0", "tranStateTableOffset": "0", "msgId": "M", "transactionId": "T"},
                _record_of(half),
                oneway=True,
            )
        )
        async with asyncio.timeout(5):
            while not cluster.requests_of(RequestCode.END_TRANSACTION):
                await asyncio.sleep(0.02)
        end = cluster.requests_of(RequestCode.END_TRANSACTION)[0]
        assert end.is_oneway
        assert end.ext_fields["commitOrRollback"] == "8" and end.ext_fields["fromTransactionCheck"] == "true"
        assert checked and checked[0].body == b"half"
    finally:
        await producer.shutdown()
        await consumer.shutdown()


def _record_of(message: Message) -> bytes:
    from pocketmq.store.commit_log.record import encode_record

    return encode_record(
        MessageExt(topic=message.topic, body=message.body, properties=dict(message.properties))
    )


async def test_acl_credentials_sign_every_request(cluster: FakeCluster) -> None:
    credentials = SessionCredentials("rocketmq2", "12345678", security_token="tok")
    config = ClientConfig(namesrv_addr=cluster.address, instance_name="acl", credentials=credentials)
    cluster.create_topic("TopicAcl", 1)
    async with Producer("acl-p", client_config=config) as producer:
        await producer.send(Message("TopicAcl", b"signed body"))
    requests = [
        r
        for r in cluster.requests
        if r.code in (RequestCode.SEND_MESSAGE_V2, RequestCode.GET_ROUTEINFO_BY_TOPIC)
    ]
    assert requests
    for request in requests:
        ext = request.ext_fields
        assert ext["AccessKey"] == "rocketmq2" and ext["SecurityToken"] == "tok"
        # Java AclUtils: values of the extFields sorted by key, Signature left out, then the body.
        content = "".join(str(ext[key]) for key in sorted(ext) if key != "Signature").encode() + (
            request.body or b""
        )
        expected = base64.b64encode(hmac.new(b"12345678", content, hashlib.sha1).digest()).decode()
        assert ext["Signature"] == expected


def test_compressed_records_of_the_java_client_are_inflated() -> None:
    store = FRAMES.parent.parent / "store-4.9.8"
    if not store.exists():
        pytest.skip(f"{store} is not there")
    manifest = json.loads((store / "manifest.json").read_text())
    commit_log = (store / "commitlog" / "00000000000000000000").read_bytes()
    compressed = [m for m in manifest["messages"] if m["sys_flag"] & 1]
    assert compressed
    for record in compressed:
        start = record["commit_log_offset"]
        [message] = decode_pulled_messages(commit_log[start : start + record["total_size"]])
        assert hashlib.sha256(message.body).hexdigest() == record["uncompressed_body_sha256"]
        assert message.msg_id == record["uniq_key"]


async def test_message_traces_in_the_java_format(cluster: FakeCluster) -> None:
    cluster.create_topic("TopicTraced", 1)
    done = asyncio.Event()

    def listener(
        messages: list[MessageExt], context: ConsumeConcurrentlyContext
    ) -> ConsumeConcurrentlyStatus:
        done.set()
        return ConsumeConcurrentlyStatus.CONSUME_SUCCESS

    consumer = PushConsumer(
        "traced-g",
        client_config=client_config(cluster, "tr-c"),
        config=PushConsumerConfig(enable_msg_trace=True),
        listener=listener,
    )
    consumer.subscribe("TopicTraced")
    await consumer.start()
    try:
        async with Producer(
            "traced-p",
            client_config=client_config(cluster, "tr-p"),
            config=ProducerConfig(enable_msg_trace=True),
        ) as producer:
            sent = await producer.send(Message("TopicTraced", b"traced", tags="TagT", keys=["k1", "k2"]))
        await asyncio.wait_for(done.wait(), 10)
    finally:
        await consumer.shutdown()
    records = []
    for queue in cluster.topics.get("RMQ_SYS_TRACE_TOPIC", []):
        for record in queue.records:
            message = decode_pulled_messages(record)[0]
            assert sent.msg_id in (message.keys or "").split()
            records += [line.split("\x01") for line in message.body.decode().split("\x02") if line]
    by_type = {fields[0]: fields for fields in records}
    assert set(by_type) == {"Pub", "SubBefore", "SubAfter"}, records
    pub = by_type["Pub"]
    assert len(pub) == 14
    assert pub[2:9] == [
        "DefaultRegion",
        "traced-p",
        "TopicTraced",
        sent.msg_id,
        "TagT",
        "k1 k2",
        cluster.address,
    ]
    assert pub[9] == "6" and pub[11] == "0" and pub[12] == sent.offset_msg_id and pub[13] == "true"
    before, after = by_type["SubBefore"], by_type["SubAfter"]
    assert len(before) == 8 and before[3] == "traced-g" and before[5:] == [sent.msg_id, "0", "k1 k2"]
    assert len(after) == 9 and after[1] == before[4] and after[2] == sent.msg_id
    assert after[4:7] == ["true", "k1 k2", "0"] and after[8] == "traced-g"
