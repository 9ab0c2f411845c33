"""Topic routes as a client uses them: TopicRouteData -> publish info (writable queues) and
subscribe info (readable queues), the TBW102 fallback for topics the name servers do not know yet,
and broker address tables (Java MQClientInstance#topicRouteData2TopicPublishInfo /
topicRouteData2TopicSubscribeInfo, updateTopicRouteInfoFromNameServer(topic, isDefault, producer)).

Pure functions of the route; the instance keeps the tables and refreshes them.
"""

from __future__ import annotations

import dataclasses
import random
from typing import Final

from pocketmq.client.producer.queue_selection import SendWhichQueue, TopicPublishInfo
from pocketmq.common.message import MessageQueue
from pocketmq.common.topic import is_readable, is_writeable
from pocketmq.protocol.bodies.route import TopicRouteData

__all__ = [
    "MASTER_ID",
    "publish_info_from_route",
    "subscribe_queues_from_route",
    "adapt_default_route",
    "broker_addresses",
    "route_changed",
]

#: Java MixAll.MASTER_ID.
MASTER_ID: Final = 0


def publish_info_from_route(topic: str, route: TopicRouteData, rng: random.Random) -> TopicPublishInfo:
    """The writable queues of `topic`: per writable QueueData (sorted by broker name, as Java sorts
    them) whose broker has a master, `writeQueueNums` queues. An `orderTopicConf`
    ("broker-a:4;broker-b:4") lists the queues of an ordered topic instead."""
    queues: list[MessageQueue] = []
    by_broker: dict[str, int] = {}
    if route.order_topic_conf:
        for item in route.order_topic_conf.split(";"):
            name, _, count = item.partition(":")
            if name and count.strip().isdigit():
                queues.extend(MessageQueue(topic, name, queue_id) for queue_id in range(int(count)))
                by_broker[name] = int(count)
        return TopicPublishInfo(
            topic=topic,
            message_queues=queues,
            write_queue_nums_by_broker=by_broker,
            send_which_queue=SendWhichQueue(rng),
            order_topic=True,
        )
    masters = {broker.broker_name for broker in route.broker_datas if MASTER_ID in broker.broker_addrs}
    for queue_data in sorted(route.queue_datas, key=lambda q: q.broker_name):
        if not is_writeable(queue_data.perm) or queue_data.broker_name not in masters:
            continue
        by_broker[queue_data.broker_name] = queue_data.write_queue_nums
        queues.extend(
            MessageQueue(topic, queue_data.broker_name, queue_id)
            for queue_id in range(queue_data.write_queue_nums)
        )
    return TopicPublishInfo(
        topic=topic,
        message_queues=queues,
        write_queue_nums_by_broker=by_broker,
        send_which_queue=SendWhichQueue(rng),
    )


def subscribe_queues_from_route(topic: str, route: TopicRouteData) -> set[MessageQueue]:
    """The readable queues of `topic`: `readQueueNums` per readable QueueData."""
    return {
        MessageQueue(topic, queue_data.broker_name, queue_id)
        for queue_data in route.queue_datas
        if is_readable(queue_data.perm)
        for queue_id in range(queue_data.read_queue_nums)
    }


def adapt_default_route(route: TopicRouteData, default_topic_queue_nums: int) -> TopicRouteData:
    """A route of TBW102 used for a topic not created yet: each broker's queue count becomes
    min(defaultTopicQueueNums, readQueueNums), for reading and writing (Java: isDefault branch)."""
    queue_datas = tuple(
        dataclasses.replace(
            queue_data,
            read_queue_nums=min(default_topic_queue_nums, queue_data.read_queue_nums),
            write_queue_nums=min(default_topic_queue_nums, queue_data.read_queue_nums),
        )
        for queue_data in route.queue_datas
    )
    return dataclasses.replace(route, queue_datas=queue_datas)


def broker_addresses(route: TopicRouteData) -> dict[str, dict[int, str]]:
    """broker name -> {broker id: address} of every broker in the route."""
    return {broker.broker_name: dict(broker.broker_addrs) for broker in route.broker_datas}


def route_changed(old: TopicRouteData | None, new: TopicRouteData) -> bool:
    """Whether `new` differs from `old` in what a client uses (Java topicRouteDataIsChange)."""
    if old is None:
        return True
    return sorted(old.queue_datas, key=lambda q: q.broker_name) != sorted(
        new.queue_datas, key=lambda q: q.broker_name
    ) or sorted(old.broker_datas, key=lambda b: b.broker_name) != sorted(
        new.broker_datas, key=lambda b: b.broker_name
    )
