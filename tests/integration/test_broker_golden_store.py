"""A real `mqbroker` started on the store a real RocketMQ 4.9.8 broker wrote (../shared/compat/
store-4.9.8, padded back to its file sizes) serves the same facts the 4.9.8 broker served: every
record byte for byte through PULL_MESSAGE and VIEW_MESSAGE_BY_ID, queue offsets, the consumer
offsets, QUERY_MESSAGE by key and by UNIQ_KEY, and the topic configs."""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Iterator
from typing import Any

import pytest

from pocketmq.protocol.codes import RequestCode, ResponseCode
from pocketmq.protocol.command import make_request
from pocketmq.remoting import RemotingClient
from pocketmq.store.commit_log.record import check_record
from tests.integration.test_broker_helpers import TIMEOUT_MS, pull, query_offset
from tests.support.cluster import Cluster, running_cluster
from tests.support.compat_data import GOLDEN_STORE

GOLDEN = GOLDEN_STORE
GROUP = "GoldenConsumerGroup"


def _manifest() -> dict[str, Any]:
    if not (GOLDEN / "manifest.json").exists():
        pytest.skip(f"{GOLDEN} is not available")
    return json.loads((GOLDEN / "manifest.json").read_text())  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def golden(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Cluster, dict[str, Any]]]:
    manifest = _manifest()
    workdir = tmp_path_factory.mktemp("broker-golden")
    store = workdir / "store"
    for entry in manifest["files"]:
        source = GOLDEN / entry["path"]
        target = store / entry["path"]
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
        with target.open("r+b") as handle:
            handle.truncate(entry["original_size"])  # zero-padded back, as the broker wrote it
    for extra in (GOLDEN / "config").iterdir():
        target = store / "config" / extra.name
        if not target.exists():
            shutil.copyfile(extra, target)
    settings = {
        "mappedFileSizeCommitLog": "1048576",
        "mappedFileSizeConsumeQueue": "6000",
        "maxHashSlotNum": "1000",
        "maxIndexNum": "4000",
        "flushDiskType": "SYNC_FLUSH",
    }
    with running_cluster(workdir, **settings) as cluster:
        yield cluster, manifest
        assert cluster.broker is not None
        assert cluster.broker.stop() == 0, cluster.logs()


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


async def test_every_consumable_record_pulls_back_byte_identical(
    golden: tuple[Cluster, dict[str, Any]],
) -> None:
    cluster, manifest = golden
    expected = {
        (message["topic"], message["queue_id"], message["queue_offset"]): message["record_sha256"]
        for message in manifest["messages"]
    }
    pulled = 0
    async with RemotingClient() as client:
        for topic in ("GoldenTopicA", "GoldenTopicB", "%RETRY%GoldenConsumerGroup"):
            for queue_id, queue in manifest["consume_queues"][topic].items():
                offset = queue["min_offset"]
                while offset < queue["max_offset"]:
                    response = await pull(
                        client, cluster.broker_address, topic, int(queue_id), offset, group=GROUP
                    )
                    assert response.code == ResponseCode.SUCCESS, (topic, queue_id, offset, response)
                    body = response.body or b""
                    position = 0
                    while position < len(body):
                        info = check_record(body, position, len(body))
                        record = body[position : position + info.size]
                        key = (topic, int(queue_id), info.queue_offset)
                        assert _sha256(record) == expected[key], key
                        position += info.size
                        pulled += 1
                    offset = int(response.ext_fields["nextBeginOffset"])
                max_offset = await client.invoke(
                    cluster.broker_address,
                    make_request(RequestCode.GET_MAX_OFFSET, {"topic": topic, "queueId": queue_id}),
                    TIMEOUT_MS,
                )
                assert max_offset.ext_fields == {"offset": str(queue["max_offset"])}
    assert pulled == sum(
        queue["max_offset"] - queue["min_offset"]
        for topic in ("GoldenTopicA", "GoldenTopicB", "%RETRY%GoldenConsumerGroup")
        for queue in manifest["consume_queues"][topic].values()
    )


async def test_view_by_offset_serves_every_record(golden: tuple[Cluster, dict[str, Any]]) -> None:
    cluster, manifest = golden
    async with RemotingClient() as client:
        for message in manifest["messages"][::7]:
            view = await client.invoke(
                cluster.broker_address,
                make_request(RequestCode.VIEW_MESSAGE_BY_ID, {"offset": str(message["commit_log_offset"])}),
                TIMEOUT_MS,
            )
            assert view.code == ResponseCode.SUCCESS, message["label"]
            assert _sha256(view.body or b"") == message["record_sha256"], message["label"]


async def test_consumer_offsets_and_topics_as_the_4_9_8_broker_reported(
    golden: tuple[Cluster, dict[str, Any]],
) -> None:
    cluster, manifest = golden
    async with RemotingClient() as client:
        for key, reported in manifest["consumer_offsets_as_reported_by_broker"][GROUP].items():
            topic, _, queue_id = key.rpartition("@")
            answer = await query_offset(client, cluster.broker_address, GROUP, topic, int(queue_id))
            assert answer.ext_fields == {"offset": str(reported["queryConsumerOffset"])}, key
        topics = await client.invoke(
            cluster.broker_address, make_request(RequestCode.GET_ALL_TOPIC_CONFIG), TIMEOUT_MS
        )
        table = json.loads(topics.body or b"{}")["topicConfigTable"]
        for name in ("GoldenTopicA", "GoldenTopicB", "%RETRY%GoldenConsumerGroup"):
            assert table[name] == manifest["topic_configs_as_reported_by_broker"][name], name


async def test_query_message_by_key_and_uniq_key(golden: tuple[Cluster, dict[str, Any]]) -> None:
    cluster, manifest = golden
    cases = [
        (key, offsets, False)
        for key, offsets in list(manifest["query_message_by_key_as_reported_by_broker"].items())[:40]
    ] + [
        (key, offsets, True)
        for key, offsets in list(manifest["query_message_by_uniq_key_as_reported_by_broker"].items())[:40]
    ]
    async with RemotingClient() as client:
        for topic_key, offsets, unique in cases:
            topic, _, key = topic_key.partition("#")
            answer = await client.invoke(
                cluster.broker_address,
                make_request(
                    RequestCode.QUERY_MESSAGE,
                    {"topic": topic, "key": key, "maxNum": "32", "beginTimestamp": "0",
                     "endTimestamp": str(2**63 - 1), "_UNIQUE_KEY_QUERY": "true" if unique else "false"},
                ),
                TIMEOUT_MS,
            )  # fmt: skip
            assert answer.code == ResponseCode.SUCCESS, topic_key
            body = answer.body or b""
            found = []
            position = 0
            while position < len(body):
                info = check_record(body, position, len(body))
                found.append(info.commit_log_offset)
                position += info.size
            assert sorted(found) == sorted(offsets), topic_key
