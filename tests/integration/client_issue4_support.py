"""Helpers of the issue 4 client tests (orderly, retry, transactions) against real processes;
`client_config` and `create_topic` are tests.support.client's, re-exported."""

from __future__ import annotations

from pocketmq.common.message import MessageExt
from pocketmq.protocol.codes import RequestCode, ResponseCode
from pocketmq.protocol.command import make_request
from pocketmq.remoting import RemotingClient
from pocketmq.store.commit_log.record import decode_records
from tests.support.client import client_config, create_topic
from tests.support.cluster import Cluster

__all__ = ["SHORT_DELAY_LEVELS", "client_config", "create_topic", "query_by_uniq_key", "pull_all"]

#: 18 levels; retries use level 3 + reconsumeTimes: 1 s, 2 s, 3 s, then 1 s each.
SHORT_DELAY_LEVELS = "1s 1s 1s 2s 3s " + " ".join(["1s"] * 13)


async def query_by_uniq_key(cluster: Cluster, topic: str, uniq_key: str) -> list[MessageExt]:
    """QUERY_MESSAGE by client message id (as mqadmin queryMsgByUniqueKey)."""
    fields = {
        "topic": topic,
        "key": uniq_key,
        "maxNum": "32",
        "beginTimestamp": "0",
        "endTimestamp": str(2**62),
        "_UNIQUE_KEY_QUERY": "true",
    }
    async with RemotingClient() as client:
        response = await client.invoke(
            cluster.broker_address, make_request(RequestCode.QUERY_MESSAGE, fields), 3000
        )
    if response.code != ResponseCode.SUCCESS or not response.body:
        return []
    return decode_records(response.body)


async def pull_all(
    cluster: Cluster, topic: str, queue_id: int = 0, group: str = "issue4-reader"
) -> list[MessageExt]:
    """Every message of one queue from offset 0 (raw PULL_MESSAGE, no subscription needed)."""
    messages: list[MessageExt] = []
    offset = 0
    async with RemotingClient() as client:
        while True:
            fields = {
                "consumerGroup": group,
                "topic": topic,
                "queueId": str(queue_id),
                "queueOffset": str(offset),
                "maxMsgNums": "32",
                "sysFlag": "4",  # SUBSCRIPTION: the subscription comes with the pull
                "commitOffset": "0",
                "suspendTimeoutMillis": "0",
                "subscription": "*",
                "subVersion": "0",
                "expressionType": "TAG",
            }
            response = await client.invoke(
                cluster.broker_address, make_request(RequestCode.PULL_MESSAGE, fields), 3000
            )
            if response.code != ResponseCode.SUCCESS or not response.body:
                return messages
            batch = decode_records(response.body)
            messages.extend(batch)
            offset = int(response.ext_fields["nextBeginOffset"])
