"""JSON bodies: Java and C++ shapes decode; our encodings round-trip; fastjson's object-keyed maps."""

from __future__ import annotations

import pytest

from pocketmq.common.filter_expression import build_subscription_data
from pocketmq.common.message import MessageQueue
from pocketmq.protocol import fastjson
from pocketmq.protocol.bodies.admin import (
    BrokerStatsData,
    BrokerStatsItem,
    ConsumeQueueData,
    GroupList,
    ProducerInfo,
    ProducerTableInfo,
    QueryConsumeQueueResponseBody,
    QueryCorrectionOffsetBody,
    TopicOffset,
    TopicStatsTable,
)
from pocketmq.protocol.bodies.base import BodyError, JsonBody
from pocketmq.protocol.bodies.consumer import (
    ClientConnection,
    CMResult,
    ConsumeMessageDirectlyResult,
    ConsumerConnection,
    ConsumerRunningInfo,
    ConsumeStats,
    ConsumeStatus,
    GetConsumerListByGroupResponseBody,
    LockBatchRequestBody,
    LockBatchResponseBody,
    OffsetWrapper,
    ProcessQueueInfo,
    ProducerConnection,
    QueryConsumeTimeSpanBody,
    QueueTimeSpan,
    ResetOffsetBody,
    UnlockBatchRequestBody,
)
from pocketmq.protocol.bodies.heartbeat import (
    ConsumeFromWhere,
    ConsumerData,
    ConsumeType,
    HeartbeatData,
    MessageModel,
    ProducerData,
)

Q0 = MessageQueue(topic="T", broker_name="broker-a", queue_id=0)
Q1 = MessageQueue(topic="T", broker_name="broker-a", queue_id=1)

JAVA_HEARTBEAT = (
    b'{"clientID":"192.0.2.2@frameC","consumerDataSet":[{"consumeFromWhere":"CONSUME_FROM_FIRST_OFFSET",'
    b'"consumeType":"CONSUME_PASSIVELY","groupName":"FrameConsumerGroup","messageModel":"CLUSTERING",'
    b'"subscriptionDataSet":[{"classFilterMode":false,"codeSet":[],"expressionType":"TAG","subString":"*",'
    b'"subVersion":1795590350268,"tagsSet":[],"topic":"FrameTopic"}],"unitMode":false}],'
    b'"producerDataSet":[{"groupName":"CLIENT_INNER_PRODUCER"}]}'
)
CPP_HEARTBEAT = (
    b'{"clientID":"127.0.0.1@2990#DEFAULT","consumerDataSet":[{"consumeFromWhere":0,"consumeType":1,'
    b'"groupName":"FrameCppConsumerGroup","messageModel":1,"subscriptionDataSet":[{"subString":"*",'
    b'"subVersion":"1795590429276","topic":"%RETRY%FrameCppConsumerGroup"},{"codeSet":[0],"subString":"TagCpp",'
    b'"subVersion":"1795590429276","tagsSet":["TagCpp"],"topic":"FrameTopic"}]}]}'
)


def test_java_heartbeat_decodes_and_re_encodes_byte_identically() -> None:
    heartbeat = HeartbeatData.decode(JAVA_HEARTBEAT)
    (consumer,) = heartbeat.consumers
    assert consumer.consume_type is ConsumeType.CONSUME_PASSIVELY
    assert consumer.message_model is MessageModel.CLUSTERING
    assert consumer.consume_from_where is ConsumeFromWhere.CONSUME_FROM_FIRST_OFFSET
    assert consumer.subscriptions[0].sub_version == 1795590350268
    assert heartbeat.producers == (ProducerData(group_name="CLIENT_INNER_PRODUCER"),)
    assert heartbeat.encode() == JAVA_HEARTBEAT


def test_cpp_heartbeat_ordinals_and_string_numbers() -> None:
    heartbeat = HeartbeatData.decode(CPP_HEARTBEAT + b"\n")
    (consumer,) = heartbeat.consumers
    assert consumer.consume_type is ConsumeType.CONSUME_PASSIVELY
    assert consumer.message_model is MessageModel.CLUSTERING
    assert consumer.consume_from_where is ConsumeFromWhere.CONSUME_FROM_LAST_OFFSET
    assert consumer.subscriptions[1].tags_set == frozenset({"TagCpp"})
    assert consumer.subscriptions[1].sub_version == 1795590429276
    assert heartbeat.producers == ()


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"[1,2]",
        b"{",
        b'{"producerDataSet":[{"groupName":"g"}]}',
        b'{"clientID":"c","consumerDataSet":[7]}',
        b'{"clientID":"c","consumerDataSet":[{"groupName":"g","subscriptionDataSet":[{"subString":"*"}]}]}',
    ],
)
def test_malformed_heartbeats_raise_body_error(body: bytes) -> None:
    with pytest.raises(BodyError):
        HeartbeatData.decode(body)


def test_consume_stats_writes_fastjson_object_keys_and_reads_them_back() -> None:
    stats = ConsumeStats(
        offsets={
            Q1: OffsetWrapper(broker_offset=5, consumer_offset=3, last_timestamp=7),
            Q0: OffsetWrapper(),
        },
        consume_tps=1.5,
    )
    encoded = stats.encode()
    assert encoded.startswith(
        b'{"consumeTps":1.5,"offsetTable":{{"brokerName":"broker-a","queueId":0,"topic":"T"}:'
    )
    assert ConsumeStats.decode(encoded) == stats
    assert stats.total_diff() == 2


SAMPLES: list[JsonBody] = [
    HeartbeatData(
        client_id="c",
        producers=(ProducerData(group_name="p"),),
        consumers=(
            ConsumerData(
                group_name="g",
                consume_type=ConsumeType.CONSUME_ACTIVELY,
                message_model=MessageModel.BROADCASTING,
                consume_from_where=ConsumeFromWhere.CONSUME_FROM_TIMESTAMP,
                subscriptions=(build_subscription_data("T", "A || B", sub_version=3),),
                unit_mode=True,
            ),
        ),
    ),
    LockBatchRequestBody(consumer_group="g", client_id="c", queues=(Q0, Q1)),
    UnlockBatchRequestBody(consumer_group="g", client_id="c", queues=(Q1,)),
    LockBatchResponseBody(locked_queues=(Q0,)),
    GetConsumerListByGroupResponseBody(consumer_ids=("a", "b")),
    ConsumerConnection(
        connections=(
            ClientConnection(client_id="c", client_addr="127.0.0.1:5", language="JAVA", version=409),
        ),
        subscriptions={"T": build_subscription_data("T", "*")},
        consume_type=ConsumeType.CONSUME_PASSIVELY,
        message_model=MessageModel.CLUSTERING,
        consume_from_where=ConsumeFromWhere.CONSUME_FROM_LAST_OFFSET,
    ),
    ProducerConnection(
        connections=(ClientConnection(client_id="p", client_addr="a", language="CPP", version=1),)
    ),
    QueryConsumeTimeSpanBody(
        spans=(QueueTimeSpan(queue=Q0, min_timestamp=1, max_timestamp=3, consume_timestamp=2),)
    ),
    ResetOffsetBody(offsets={Q0: 4, Q1: 9}),
    ConsumerRunningInfo(
        properties={"consumeType": "CONSUME_PASSIVELY"},
        subscriptions=(build_subscription_data("T", "A"),),
        queues={Q0: ProcessQueueInfo(commit_offset=3, locked=True)},
        status={"T": ConsumeStatus(pull_tps=2.5, consume_failed_count=1)},
        jstack="none",
    ),
    ConsumeMessageDirectlyResult(consume_result=CMResult.CR_SUCCESS, remark="ok", spent_time_ms=4),
    TopicStatsTable(offsets={Q0: TopicOffset(min_offset=1, max_offset=9, last_update_timestamp=5)}),
    GroupList(groups=("g1", "g2")),
    BrokerStatsData(minute=BrokerStatsItem(sum=3, tps=1.0, average=0.5)),
    QueryConsumeQueueResponseBody(
        subscription=build_subscription_data("T", "*"),
        units=(ConsumeQueueData(commit_log_offset=10, message_size=100, tags_code=7, evaluated=True),),
        max_queue_index=4,
    ),
    ProducerTableInfo(data={"g": (ProducerInfo(client_id="c", remote_ip="1.2.3.4", version=409),)}),
    QueryCorrectionOffsetBody(correction_offsets={0: 5, 3: 7}),
]


@pytest.mark.parametrize("body", SAMPLES, ids=lambda body: type(body).__name__)
def test_bodies_round_trip(body: JsonBody) -> None:
    encoded = body.encode()
    assert type(body).decode(encoded) == body
    fastjson.loads(encoded)  # our own output parses back (object keys included)


def test_correction_offsets_use_bare_integer_keys_like_fastjson() -> None:
    assert QueryCorrectionOffsetBody(correction_offsets={0: 5}).encode() == b'{"correctionOffsets":{0:5}}'
