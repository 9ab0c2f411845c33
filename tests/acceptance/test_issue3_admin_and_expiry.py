"""Acceptance audit, issue 3, against real `mqnamesrv` / `mqbroker` processes: what the admin
requests answer (not only their codes), the system topics a broker creates, and a broker that stops
registering (SIGSTOP: its connection stays open) leaving the routes once it expires."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from pocketmq.protocol.bodies.admin import TopicStatsTable
from pocketmq.protocol.bodies.consumer import ConsumerConnection, ConsumeStats, ProducerConnection
from pocketmq.protocol.bodies.route import TopicConfigSerializeWrapper
from pocketmq.protocol.codes import RequestCode, ResponseCode
from pocketmq.protocol.command import make_request
from pocketmq.remoting import RemotingClient
from tests.integration.test_broker_helpers import (
    TIMEOUT_MS,
    create_topic,
    decode,
    heartbeat,
    pull,
    send,
    update_offset,
)
from tests.support.cluster import Cluster, running_cluster

pytestmark = pytest.mark.timeout(60)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    with running_cluster(tmp_path_factory.mktemp("acceptance-admin")) as running:
        yield running


def body_json(data: bytes | None) -> dict[str, object]:
    assert data, "empty body"
    decoded = json.loads(data)
    assert isinstance(decoded, dict)
    return decoded


async def test_system_topics_exist_on_the_broker_and_in_the_name_server(cluster: Cluster) -> None:
    expected = {"TBW102", "SELF_TEST_TOPIC", "BenchmarkTest", cluster.cluster_name, cluster.broker_name}
    async with RemotingClient() as client:
        answer = await client.invoke(
            cluster.broker_address, make_request(RequestCode.GET_ALL_TOPIC_CONFIG), TIMEOUT_MS
        )
        assert answer.code == ResponseCode.SUCCESS, answer
        configs = TopicConfigSerializeWrapper.from_json(body_json(answer.body)).topic_config_table
        assert expected <= set(configs), sorted(configs)
        assert configs["BenchmarkTest"].read_queue_nums == 1024
        listed = await client.invoke(
            cluster.namesrv_address,
            make_request(RequestCode.GET_ALL_TOPIC_LIST_FROM_NAMESERVER),
            TIMEOUT_MS,
        )
        assert listed.code == ResponseCode.SUCCESS, listed
        names = body_json(listed.body)["topicList"]
        assert isinstance(names, list)
        topic_list = {str(name) for name in names}
        assert expected <= topic_list, sorted(topic_list)


async def test_stats_and_connection_lists_report_what_happened(cluster: Cluster) -> None:
    address, topic, group = cluster.broker_address, "AuditStatsTopic", "AuditStatsGroup"
    async with RemotingClient() as client:
        await create_topic(client, address, topic, queues=2)
        before_ms = int(time.time() * 1000)
        for index in range(5):
            assert (await send(client, address, topic, f"s{index}".encode(), queue_id=0)).code == 0
        assert (await send(client, address, topic, b"q1", queue_id=1)).code == 0
        assert (await heartbeat(client, address, "10.1.1.1@audit-c", group, {topic: "*"})).code == 0
        assert (
            await heartbeat(client, address, "10.1.1.2@audit-p", None, producer_group="AuditProducerGroup")
        ).code == 0
        assert (await update_offset(client, address, group, topic, 0, 3)).code == 0

        stats = await client.invoke(
            address, make_request(RequestCode.GET_TOPIC_STATS_INFO, {"topic": topic}), TIMEOUT_MS
        )
        assert stats.code == ResponseCode.SUCCESS, stats
        by_queue = {q.queue_id: o for q, o in TopicStatsTable.decode(stats.body).offsets.items()}
        assert (by_queue[0].min_offset, by_queue[0].max_offset) == (0, 5), by_queue
        assert (by_queue[1].min_offset, by_queue[1].max_offset) == (0, 1), by_queue
        assert by_queue[0].last_update_timestamp >= before_ms

        consume = await client.invoke(
            address,
            make_request(RequestCode.GET_CONSUME_STATS, {"consumerGroup": group, "topic": topic}),
            TIMEOUT_MS,
        )
        assert consume.code == ResponseCode.SUCCESS, consume
        offsets = {
            q.queue_id: w for q, w in ConsumeStats.decode(consume.body).offsets.items() if q.topic == topic
        }
        assert offsets[0].broker_offset == 5 and offsets[0].consumer_offset == 3, offsets

        consumers = await client.invoke(
            address,
            make_request(RequestCode.GET_CONSUMER_CONNECTION_LIST, {"consumerGroup": group}),
            TIMEOUT_MS,
        )
        assert consumers.code == ResponseCode.SUCCESS, consumers
        consumer_connection = ConsumerConnection.decode(consumers.body)
        assert [c.client_id for c in consumer_connection.connections] == ["10.1.1.1@audit-c"]
        assert topic in consumer_connection.subscriptions

        producers = await client.invoke(
            address,
            make_request(RequestCode.GET_PRODUCER_CONNECTION_LIST, {"producerGroup": "AuditProducerGroup"}),
            TIMEOUT_MS,
        )
        assert producers.code == ResponseCode.SUCCESS, producers
        assert [c.client_id for c in ProducerConnection.decode(producers.body).connections] == [
            "10.1.1.2@audit-p"
        ]

        first_store_time = decode(await pull(client, address, topic, 0, 0))[0].store_timestamp
        earliest = await client.invoke(
            address,
            make_request(RequestCode.GET_EARLIEST_MSG_STORETIME, {"topic": topic, "queueId": "0"}),
            TIMEOUT_MS,
        )
        assert earliest.ext_fields == {"timestamp": str(first_store_time)}, earliest
        far_future = await client.invoke(
            address,
            make_request(
                RequestCode.SEARCH_OFFSET_BY_TIMESTAMP,
                {"topic": topic, "queueId": "0", "timestamp": str(int(time.time() * 1000) + 3_600_000)},
            ),
            TIMEOUT_MS,
        )
        # As Java's ConsumeQueue#getOffsetInQueueByTime: the last message's offset, not the max.
        assert far_future.ext_fields == {"offset": "4"}, far_future


class ShortExpiryCluster(Cluster):
    """A name server that expires a silent broker after 2 s (scan every 200 ms)."""

    def _write_configs(self) -> tuple[Path, Path]:
        namesrv_conf, broker_conf = super()._write_configs()
        with namesrv_conf.open("a") as handle:
            handle.write("brokerChannelExpiredTime=2000\nscanNotActiveBrokerInterval=200\n")
        return namesrv_conf, broker_conf


async def route_code(client: RemotingClient, namesrv: str, topic: str) -> int:
    answer = await client.invoke(
        namesrv, make_request(RequestCode.GET_ROUTEINFO_BY_TOPIC, {"topic": topic}), TIMEOUT_MS
    )
    return int(answer.code)


async def test_a_silent_broker_expires_from_the_routes(tmp_path: Path) -> None:
    cluster = ShortExpiryCluster(tmp_path)
    cluster.start()
    assert cluster.broker is not None
    stopped = False
    try:
        async with RemotingClient() as client:
            await create_topic(client, cluster.broker_address, "AuditExpiry")
            deadline = time.monotonic() + 10
            while await route_code(client, cluster.namesrv_address, "AuditExpiry") != ResponseCode.SUCCESS:
                assert time.monotonic() < deadline, "the topic never reached the name server"
                await asyncio.sleep(0.1)
            os.killpg(cluster.broker.process.pid, signal.SIGSTOP)  # alive, connected, silent
            stopped = True
            stopped_at = time.monotonic()
            while await route_code(client, cluster.namesrv_address, "AuditExpiry") == ResponseCode.SUCCESS:
                assert time.monotonic() - stopped_at < 8, "the silent broker never expired"
                await asyncio.sleep(0.1)
            expired_after = time.monotonic() - stopped_at
            print(f"the silent broker left the routes {expired_after:.2f} s after SIGSTOP")
            assert expired_after >= 1.5, (
                f"expired after {expired_after:.2f} s, before brokerChannelExpiredTime"
            )
            # (Re-registration after SIGCONT waits for the next period, which is clamped to at least
            # 10 s as in Java; a restarted broker registering again is checked in test_broker_restart.)
    finally:
        if stopped:
            os.killpg(cluster.broker.process.pid, signal.SIGCONT)
        cluster.stop()
