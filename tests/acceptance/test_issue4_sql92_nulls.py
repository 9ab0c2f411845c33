"""Acceptance audit, issue 4 item 5: SQL92 filters evaluated by a real `mqbroker` (enablePropertyFilter)
with SQL's NULL semantics for missing properties, a syntax error answered SUBSCRIPTION_PARSE_FAILED
with its reason, and the compiled subscription kept in consumerFilter.json."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from pocketmq.protocol.codes import RequestCode, ResponseCode
from pocketmq.protocol.command import make_request
from pocketmq.remoting import RemotingClient
from tests.integration.test_broker_helpers import TIMEOUT_MS, create_topic, decode, pull, send
from tests.support.cluster import Cluster, running_cluster

pytestmark = pytest.mark.timeout(60)

TOPIC = "AuditSqlNulls"

#: body -> user properties; "none" has neither `price` nor `vip`.
MESSAGES: dict[str, dict[str, str]] = {
    "none": {},
    "cheap": {"price": "5"},
    "dear": {"price": "15"},
    "vip-only": {"vip": "true"},
    "dear-vip": {"price": "15", "vip": "true"},
    "not-a-number": {"price": "abc"},
}

CASES: list[tuple[str, set[str]]] = [
    ("price > 10", {"dear", "dear-vip"}),
    ("NOT (price > 10)", {"cheap"}),  # NOT NULL is NULL: messages without price stay out
    ("price IS NULL", {"none", "vip-only"}),
    ("price IS NOT NULL", {"cheap", "dear", "dear-vip", "not-a-number"}),
    ("price IS NULL OR price > 10", {"none", "vip-only", "dear", "dear-vip"}),
    ("price > 10 OR vip = TRUE", {"dear", "dear-vip", "vip-only"}),  # NULL OR TRUE is TRUE
    ("price > 10 AND vip = TRUE", {"dear-vip"}),  # NULL AND ... never TRUE
    ("price BETWEEN 1 AND 10", {"cheap"}),
    ("price <> 5", {"dear", "dear-vip"}),  # a string that is no number does not match a number
]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    with running_cluster(tmp_path_factory.mktemp("acceptance-sql92"), enablePropertyFilter="true") as running:
        yield running


async def pulled_bodies(client: RemotingClient, cluster: Cluster, expression: str) -> set[str]:
    response = await pull(
        client,
        cluster.broker_address,
        TOPIC,
        0,
        0,
        group="AuditSqlGroup",
        subscription=expression,
        expression_type="SQL92",
    )
    if response.code == ResponseCode.PULL_NOT_FOUND:
        return set()
    assert response.code == ResponseCode.SUCCESS, (expression, response)
    return {m.body.decode() for m in decode(response)}


async def test_sql92_null_semantics_on_a_real_broker(cluster: Cluster) -> None:
    async with RemotingClient() as client:
        await create_topic(client, cluster.broker_address, TOPIC, queues=1)
        for body, properties in MESSAGES.items():
            sent = await send(client, cluster.broker_address, TOPIC, body.encode(), properties=properties)
            assert sent.code == ResponseCode.SUCCESS, sent
        for expression, expected in CASES:
            assert await pulled_bodies(client, cluster, expression) == expected, expression


async def test_a_syntax_error_names_the_problem(cluster: Cluster) -> None:
    async with RemotingClient() as client:
        await create_topic(client, cluster.broker_address, TOPIC, queues=1)
        broken = await pull(
            client,
            cluster.broker_address,
            TOPIC,
            0,
            0,
            group="AuditSqlGroup",
            subscription="price >>> 5",
            expression_type="SQL92",
        )
        assert broken.code == ResponseCode.SUBSCRIPTION_PARSE_FAILED
        print("SUBSCRIPTION_PARSE_FAILED remark:", broken.remark)
        assert broken.remark and "price >>> 5" in broken.remark, broken.remark
        body = {
            "clientId": "c",
            "group": "AuditSqlGroup",
            "subscriptionData": {"topic": TOPIC, "subString": "price = NULL", "expressionType": "SQL92"},
        }
        refused = await client.invoke(
            cluster.broker_address,
            make_request(RequestCode.CHECK_CLIENT_CONFIG, None, json.dumps(body).encode()),
            TIMEOUT_MS,
        )
        assert refused.code == ResponseCode.SUBSCRIPTION_PARSE_FAILED
        print("CHECK_CLIENT_CONFIG remark:", refused.remark)
        assert refused.remark and "NULL" in refused.remark, refused.remark


async def test_a_heartbeat_subscription_is_kept_in_consumer_filter_json(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    workdir = tmp_path_factory.mktemp("acceptance-sql92-file")
    with running_cluster(workdir, enablePropertyFilter="true") as cluster:
        async with RemotingClient() as client:
            await create_topic(client, cluster.broker_address, TOPIC, queues=1)
            subscription = {
                "classFilterMode": False,
                "codeSet": [],
                "expressionType": "SQL92",
                "subString": "price IS NULL OR price > 10",
                "subVersion": 1,
                "tagsSet": [],
                "topic": TOPIC,
            }
            heartbeat = {
                "clientID": "10.2.2.2@sql",
                "consumerDataSet": [
                    {
                        "consumeFromWhere": "CONSUME_FROM_FIRST_OFFSET",
                        "consumeType": "CONSUME_PASSIVELY",
                        "groupName": "AuditSqlFileGroup",
                        "messageModel": "CLUSTERING",
                        "subscriptionDataSet": [subscription],
                        "unitMode": False,
                    }
                ],
                "producerDataSet": [],
            }
            answer = await client.invoke(
                cluster.broker_address,
                make_request(RequestCode.HEART_BEAT, None, json.dumps(heartbeat).encode()),
                TIMEOUT_MS,
            )
            assert answer.code == ResponseCode.SUCCESS, answer
        assert cluster.broker is not None
        assert cluster.broker.stop() == 0
        saved = (cluster.store_dir / "config" / "consumerFilter.json").read_text()
        assert "AuditSqlFileGroup" in saved and "price IS NULL OR price > 10" in saved, saved
