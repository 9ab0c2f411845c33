"""What the client tests share, against real processes (Cluster) or the in-process FakeCluster: a
ClientConfig for a cluster, creating a topic on a real broker, and broadcasting consumers."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path
from typing import Protocol

from pocketmq.client.consumer.consume_from import ConsumeFromWhere
from pocketmq.client.consumer.push_consumer import (
    ConsumeConcurrentlyContext,
    ConsumeConcurrentlyStatus,
    PushConsumer,
    PushConsumerConfig,
)
from pocketmq.client.consumer.rebalance import MessageModel
from pocketmq.client.instance import ClientConfig
from pocketmq.common.message import MessageExt
from pocketmq.protocol.codes import RequestCode, ResponseCode
from pocketmq.protocol.command import make_request
from pocketmq.remoting import RemotingClient
from tests.support.cluster import Cluster

__all__ = ["client_config", "create_topic", "start_broadcasting_consumers"]


class _HasNamesrv(Protocol):
    @property
    def namesrv_address(self) -> str: ...


def client_config(cluster: _HasNamesrv, name: str, **kwargs: int) -> ClientConfig:
    return ClientConfig(namesrv_addr=cluster.namesrv_address, instance_name=name, **kwargs)


async def create_topic(cluster: Cluster, topic: str, queue_nums: int) -> None:
    """UPDATE_AND_CREATE_TOPIC on the broker (as mqadmin updateTopic), then wait for the route."""
    fields = {
        "topic": topic,
        "defaultTopic": "TBW102",
        "readQueueNums": str(queue_nums),
        "writeQueueNums": str(queue_nums),
        "perm": "6",
        "topicFilterType": "SINGLE_TAG",
        "topicSysFlag": "0",
        "order": "false",
    }
    async with RemotingClient() as client:
        response = await client.invoke(
            cluster.broker_address, make_request(RequestCode.UPDATE_AND_CREATE_TOPIC, fields), 3000
        )
        assert response.code == ResponseCode.SUCCESS, response
        for _ in range(100):
            route = await client.invoke(
                cluster.namesrv_address,
                make_request(RequestCode.GET_ROUTEINFO_BY_TOPIC, {"topic": topic}),
                3000,
            )
            if route.code == ResponseCode.SUCCESS:
                return
            await asyncio.sleep(0.1)
    raise AssertionError(f"topic {topic} never appeared in the name server")


async def start_broadcasting_consumers(
    cluster: _HasNamesrv, group: str, topic: str, *, instance_prefix: str, offset_store_dir: Path
) -> tuple[dict[str, Counter[str]], list[PushConsumer]]:
    """Two started broadcasting push consumers of `group`, "x" and "y", from the first offset; each
    counts the bodies it receives in its Counter. The caller shuts them down."""
    got: dict[str, Counter[str]] = {"x": Counter(), "y": Counter()}
    consumers = []
    for name in list(got):

        def listener(
            messages: list[MessageExt], context: ConsumeConcurrentlyContext, name: str = name
        ) -> ConsumeConcurrentlyStatus:
            got[name].update(m.body.decode() for m in messages)
            return ConsumeConcurrentlyStatus.CONSUME_SUCCESS

        consumer = PushConsumer(
            group,
            client_config=client_config(cluster, f"{instance_prefix}-{name}"),
            config=PushConsumerConfig(
                message_model=MessageModel.BROADCASTING,
                consume_from_where=ConsumeFromWhere.CONSUME_FROM_FIRST_OFFSET,
                offset_store_dir=offset_store_dir,
            ),
            listener=listener,
        )
        consumer.subscribe(topic)
        await consumer.start()
        consumers.append(consumer)
    return got, consumers
