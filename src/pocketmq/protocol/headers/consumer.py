"""Headers of consumer management: offsets (QUERY_CONSUMER_OFFSET 14, UPDATE_CONSUMER_OFFSET 15), the
consumers of a group (GET_CONSUMER_LIST_BY_GROUP 38, NOTIFY_CONSUMER_IDS_CHANGED 40,
GET_CONSUMER_CONNECTION_LIST 203), UNREGISTER_CLIENT (35), consume statistics (GET_CONSUME_STATS 208,
QUERY_CONSUME_TIME_SPAN 303, QUERY_TOPIC_CONSUME_BY_WHO 300), offset resets and clones (220, 222,
223, 314, 308), and the broker-to-client requests GET_CONSUMER_RUNNING_INFO (307) and
CONSUME_MESSAGE_DIRECTLY (309). LOCK_BATCH_MQ / UNLOCK_BATCH_MQ carry bodies only.

Java: the classes of the same names in protocol.header.
"""

from __future__ import annotations

from pocketmq.protocol.headers.base import WireHeader, java, wire_header

__all__ = [
    "QueryConsumerOffsetRequestHeader",
    "QueryConsumerOffsetResponseHeader",
    "UpdateConsumerOffsetRequestHeader",
    "GetConsumerListByGroupRequestHeader",
    "NotifyConsumerIdsChangedRequestHeader",
    "UnregisterClientRequestHeader",
    "GetConsumerConnectionListRequestHeader",
    "GetConsumeStatsRequestHeader",
    "QueryConsumeTimeSpanRequestHeader",
    "QueryTopicConsumeByWhoRequestHeader",
    "GetConsumerRunningInfoRequestHeader",
    "ConsumeMessageDirectlyResultRequestHeader",
    "ResetOffsetRequestHeader",
    "GetConsumerStatusRequestHeader",
    "CloneGroupOffsetRequestHeader",
    "QueryCorrectionOffsetHeader",
]


@wire_header
class QueryConsumerOffsetRequestHeader(WireHeader):
    consumer_group: str = java("consumerGroup")
    topic: str = java("topic")
    queue_id: int = java("queueId")
    broker_name: str | None = java("bname", default=None)


@wire_header
class QueryConsumerOffsetResponseHeader(WireHeader):
    #: The group's committed queue offset (QUERY_NOT_FOUND instead when there is none).
    offset: int = java("offset")


@wire_header
class UpdateConsumerOffsetRequestHeader(WireHeader):
    consumer_group: str = java("consumerGroup")
    topic: str = java("topic")
    queue_id: int = java("queueId")
    commit_offset: int = java("commitOffset")
    broker_name: str | None = java("bname", default=None)


@wire_header
class GetConsumerListByGroupRequestHeader(WireHeader):
    consumer_group: str = java("consumerGroup")


@wire_header
class NotifyConsumerIdsChangedRequestHeader(WireHeader):
    """Broker -> client, oneway: the consumers of this group changed; rebalance now."""

    consumer_group: str = java("consumerGroup")


@wire_header
class UnregisterClientRequestHeader(WireHeader):
    client_id: str = java("clientID")
    #: The C++ client sends "" for the group it does not unregister.
    producer_group: str | None = java("producerGroup", default=None)
    consumer_group: str | None = java("consumerGroup", default=None)


@wire_header
class GetConsumerConnectionListRequestHeader(WireHeader):
    consumer_group: str = java("consumerGroup")


@wire_header
class GetConsumeStatsRequestHeader(WireHeader):
    consumer_group: str = java("consumerGroup")
    #: None: every topic the group subscribes to.
    topic: str | None = java("topic", default=None)


@wire_header
class QueryConsumeTimeSpanRequestHeader(WireHeader):
    topic: str = java("topic")
    group: str = java("group")


@wire_header
class QueryTopicConsumeByWhoRequestHeader(WireHeader):
    topic: str = java("topic")


@wire_header
class GetConsumerRunningInfoRequestHeader(WireHeader):
    """Broker -> client (forwarded from an admin): report ConsumerRunningInfo."""

    consumer_group: str = java("consumerGroup")
    client_id: str = java("clientId")
    jstack_enable: bool = java("jstackEnable", default=False)


@wire_header
class ConsumeMessageDirectlyResultRequestHeader(WireHeader):
    """Broker -> client (forwarded from an admin): consume this message (in the body) now."""

    consumer_group: str = java("consumerGroup")
    client_id: str | None = java("clientId", default=None)
    msg_id: str | None = java("msgId", default=None)
    broker_name: str | None = java("brokerName", default=None)


@wire_header
class ResetOffsetRequestHeader(WireHeader):
    """INVOKE_BROKER_TO_RESET_OFFSET (admin -> broker) and RESET_CONSUMER_CLIENT_OFFSET (broker -> client)."""

    topic: str = java("topic")
    group: str = java("group")
    #: Reset to the first message stored at or after this time (ms since the epoch).
    timestamp: int = java("timestamp")
    force: bool = java("isForce")


@wire_header
class GetConsumerStatusRequestHeader(WireHeader):
    """INVOKE_BROKER_TO_GET_CONSUMER_STATUS (admin -> broker) and GET_CONSUMER_STATUS_FROM_CLIENT."""

    topic: str = java("topic")
    group: str = java("group")
    client_addr: str | None = java("clientAddr", default=None)


@wire_header
class CloneGroupOffsetRequestHeader(WireHeader):
    source_group: str = java("srcGroup")
    destination_group: str = java("destGroup")
    topic: str | None = java("topic", default=None)
    offline: bool = java("offline", default=False)


@wire_header
class QueryCorrectionOffsetHeader(WireHeader):
    #: Comma-separated groups.
    filter_groups: str | None = java("filterGroups", default=None)
    compare_group: str = java("compareGroup")
    topic: str = java("topic")
