"""Wire helpers for the broker integration tests: typed requests sent with RemotingClient (no client
library, so the tests see exactly what the broker answers). No tests here."""

from __future__ import annotations

import json
import struct
from collections.abc import Iterator

import pytest

from pocketmq.common.message import MessageExt, properties_to_string
from pocketmq.common.sysflag import PullSysFlag
from pocketmq.protocol.codes import RequestCode, ResponseCode
from pocketmq.protocol.command import RemotingCommand, make_request
from pocketmq.protocol.headers.admin import CreateTopicRequestHeader
from pocketmq.protocol.headers.consumer import (
    QueryConsumerOffsetRequestHeader,
    UpdateConsumerOffsetRequestHeader,
)
from pocketmq.protocol.headers.pull import PullMessageRequestHeader
from pocketmq.protocol.headers.send import SendMessageRequestHeaderV2
from pocketmq.remoting import RemotingClient
from pocketmq.store.commit_log.record import decode_records
from tests.support.cluster import Cluster, running_cluster

__all__ = [
    "cluster_fixture",
    "send",
    "send_batch",
    "pull",
    "create_topic",
    "heartbeat",
    "query_offset",
    "update_offset",
    "decode",
    "TIMEOUT_MS",
]

TIMEOUT_MS = 5000


def cluster_fixture(name: str, **settings: str):  # type: ignore[no-untyped-def]
    @pytest.fixture(scope="module")
    def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
        with running_cluster(tmp_path_factory.mktemp(name), **settings) as running:
            yield running
            # The broker must stop cleanly on SIGTERM (exit 0 within the wait, not SIGKILLed).
            assert running.broker is not None
            assert running.broker.stop() == 0, running.logs()

    return cluster


async def send(
    client: RemotingClient,
    address: str,
    topic: str,
    body: bytes,
    *,
    queue_id: int = 0,
    properties: dict[str, str] | None = None,
    group: str = "TestProducerGroup",
    default_topic: str = "TBW102",
    code: int = RequestCode.SEND_MESSAGE_V2,
    born_timestamp: int = 1_795_590_334_739,
) -> RemotingCommand:
    header = SendMessageRequestHeaderV2(
        producer_group=group,
        topic=topic,
        default_topic=default_topic,
        default_topic_queue_count=4,
        queue_id=queue_id,
        sys_flag=0,
        born_timestamp=born_timestamp,
        flag=0,
        properties=properties_to_string(properties or {"WAIT": "true"}),
        reconsume_times=0,
        unit_mode=False,
        batch=False,
    )
    ext = header.to_ext_fields() if code != RequestCode.SEND_MESSAGE else header.to_v1().to_ext_fields()
    return await client.invoke(address, make_request(code, ext, body), TIMEOUT_MS)


def encode_batch(messages: list[tuple[bytes, dict[str, str]]]) -> bytes:
    """Java MessageDecoder#encodeMessages."""
    parts = []
    for body, properties in messages:
        props = properties_to_string(properties).encode()
        total = 4 + 4 + 4 + 4 + 4 + len(body) + 2 + len(props)
        parts.append(
            struct.pack(">iiiii", total, 0, 0, 0, len(body)) + body + struct.pack(">h", len(props)) + props
        )
    return b"".join(parts)


async def send_batch(
    client: RemotingClient,
    address: str,
    topic: str,
    messages: list[tuple[bytes, dict[str, str]]],
    queue_id: int = 0,
) -> RemotingCommand:
    header = SendMessageRequestHeaderV2(
        producer_group="TestProducerGroup",
        topic=topic,
        default_topic="TBW102",
        default_topic_queue_count=4,
        queue_id=queue_id,
        sys_flag=0,
        born_timestamp=1_795_590_334_866,
        flag=0,
        properties="WAIT\x01true",
        batch=True,
    )
    request = make_request(RequestCode.SEND_BATCH_MESSAGE, header.to_ext_fields(), encode_batch(messages))
    return await client.invoke(address, request, TIMEOUT_MS)


async def pull(
    client: RemotingClient,
    address: str,
    topic: str,
    queue_id: int,
    offset: int,
    *,
    group: str = "TestConsumerGroup",
    max_count: int = 32,
    subscription: str | None = "*",
    suspend_ms: int = 0,
    commit_offset: int | None = None,
    expression_type: str = "TAG",
    sub_version: int = 0,
) -> RemotingCommand:
    sys_flag = PullSysFlag.build(
        commit_offset=commit_offset is not None,
        suspend=suspend_ms > 0,
        subscription=subscription is not None,
    )
    header = PullMessageRequestHeader(
        consumer_group=group,
        topic=topic,
        queue_id=queue_id,
        queue_offset=offset,
        max_message_count=max_count,
        sys_flag=sys_flag,
        commit_offset=commit_offset or 0,
        suspend_timeout_ms=suspend_ms or 15000,
        subscription=subscription,
        sub_version=sub_version,
        expression_type=expression_type,
    )
    request = make_request(RequestCode.PULL_MESSAGE, header.to_ext_fields())
    return await client.invoke(address, request, TIMEOUT_MS + suspend_ms)


async def create_topic(
    client: RemotingClient, address: str, topic: str, *, queues: int = 4, perm: int = 6
) -> RemotingCommand:
    header = CreateTopicRequestHeader(
        topic=topic,
        default_topic="TBW102",
        read_queue_count=queues,
        write_queue_count=queues,
        perm=perm,
        topic_filter_type="SINGLE_TAG",
        topic_sys_flag=0,
        order=False,
    )
    response = await client.invoke(
        address, make_request(RequestCode.UPDATE_AND_CREATE_TOPIC, header.to_ext_fields()), TIMEOUT_MS
    )
    assert response.code == ResponseCode.SUCCESS, response
    return response


async def heartbeat(
    client: RemotingClient,
    address: str,
    client_id: str,
    group: str | None,
    topics: dict[str, str] | None = None,
    *,
    producer_group: str | None = None,
    ordinals: bool = False,
) -> RemotingCommand:
    consumers = []
    if group is not None:
        subscriptions = [
            {
                "classFilterMode": False,
                "codeSet": [],
                "expressionType": "TAG",
                "subString": expression,
                "subVersion": 1,
                "tagsSet": [] if expression == "*" else [t.strip() for t in expression.split("||")],
                "topic": topic,
            }
            for topic, expression in (topics or {}).items()
        ]
        for item in subscriptions:
            from pocketmq.common.java_hash import java_string_hash

            item["codeSet"] = [java_string_hash(tag) for tag in item["tagsSet"]]  # type: ignore[union-attr]
        consumers.append(
            {
                "consumeFromWhere": 0 if ordinals else "CONSUME_FROM_FIRST_OFFSET",
                "consumeType": 1 if ordinals else "CONSUME_PASSIVELY",
                "groupName": group,
                "messageModel": 1 if ordinals else "CLUSTERING",
                "subscriptionDataSet": subscriptions,
                "unitMode": False,
            }
        )
    body = {
        "clientID": client_id,
        "consumerDataSet": consumers,
        "producerDataSet": [{"groupName": producer_group}] if producer_group else [],
    }
    request = make_request(RequestCode.HEART_BEAT, None, json.dumps(body).encode())
    return await client.invoke(address, request, TIMEOUT_MS)


async def query_offset(
    client: RemotingClient, address: str, group: str, topic: str, queue_id: int
) -> RemotingCommand:
    header = QueryConsumerOffsetRequestHeader(consumer_group=group, topic=topic, queue_id=queue_id)
    return await client.invoke(
        address, make_request(RequestCode.QUERY_CONSUMER_OFFSET, header.to_ext_fields()), TIMEOUT_MS
    )


async def update_offset(  # noqa: PLR0917
    client: RemotingClient, address: str, group: str, topic: str, queue_id: int, offset: int
) -> RemotingCommand:
    header = UpdateConsumerOffsetRequestHeader(
        consumer_group=group, topic=topic, queue_id=queue_id, commit_offset=offset
    )
    return await client.invoke(
        address, make_request(RequestCode.UPDATE_CONSUMER_OFFSET, header.to_ext_fields()), TIMEOUT_MS
    )


def decode(response: RemotingCommand) -> list[MessageExt]:
    assert response.body is not None, response
    return decode_records(response.body)
