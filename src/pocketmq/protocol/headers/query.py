"""Headers of queries on the store: offsets by queue (GET_MAX_OFFSET 30, GET_MIN_OFFSET 31,
SEARCH_OFFSET_BY_TIMESTAMP 29, GET_EARLIEST_MSG_STORETIME 32), QUERY_MESSAGE by key (12),
VIEW_MESSAGE_BY_ID (33) and QUERY_CONSUME_QUEUE (321).

Java: GetMaxOffsetRequestHeader and the others of the same names.
"""

from __future__ import annotations

from pocketmq.protocol.headers.base import WireHeader, java, wire_header

__all__ = [
    "GetMaxOffsetRequestHeader",
    "GetMaxOffsetResponseHeader",
    "GetMinOffsetRequestHeader",
    "GetMinOffsetResponseHeader",
    "SearchOffsetRequestHeader",
    "SearchOffsetResponseHeader",
    "GetEarliestMsgStoretimeRequestHeader",
    "GetEarliestMsgStoretimeResponseHeader",
    "QueryMessageRequestHeader",
    "QueryMessageResponseHeader",
    "ViewMessageRequestHeader",
    "QueryConsumeQueueRequestHeader",
]


@wire_header
class GetMaxOffsetRequestHeader(WireHeader):
    topic: str = java("topic")
    queue_id: int = java("queueId")
    broker_name: str | None = java("bname", default=None)


@wire_header
class GetMaxOffsetResponseHeader(WireHeader):
    #: Queue offset one past the last unit of the queue.
    offset: int = java("offset")


@wire_header
class GetMinOffsetRequestHeader(WireHeader):
    topic: str = java("topic")
    queue_id: int = java("queueId")
    broker_name: str | None = java("bname", default=None)


@wire_header
class GetMinOffsetResponseHeader(WireHeader):
    offset: int = java("offset")


@wire_header
class SearchOffsetRequestHeader(WireHeader):
    topic: str = java("topic")
    queue_id: int = java("queueId")
    #: Milliseconds since the epoch.
    timestamp: int = java("timestamp")
    broker_name: str | None = java("bname", default=None)


@wire_header
class SearchOffsetResponseHeader(WireHeader):
    offset: int = java("offset")


@wire_header
class GetEarliestMsgStoretimeRequestHeader(WireHeader):
    topic: str = java("topic")
    queue_id: int = java("queueId")
    broker_name: str | None = java("bname", default=None)


@wire_header
class GetEarliestMsgStoretimeResponseHeader(WireHeader):
    #: Store time (ms since the epoch) of the first message of the queue.
    timestamp: int = java("timestamp")


@wire_header
class QueryMessageRequestHeader(WireHeader):
    topic: str = java("topic")
    #: A KEYS entry, or a UNIQ_KEY when unique_key_query is set.
    key: str = java("key")
    max_count: int = java("maxNum")
    begin_timestamp: int = java("beginTimestamp")
    end_timestamp: int = java("endTimestamp")
    #: Java MixAll.UNIQUE_MSG_QUERY_FLAG, added beside the header by the client.
    unique_key_query: bool = java("_UNIQUE_KEY_QUERY", default=False)


@wire_header
class QueryMessageResponseHeader(WireHeader):
    index_last_update_timestamp: int = java("indexLastUpdateTimestamp")
    #: Commit-log offset up to which the index is built.
    index_last_update_commit_log_offset: int = java("indexLastUpdatePhyoffset")


@wire_header
class ViewMessageRequestHeader(WireHeader):
    #: Commit-log offset of the message (decoded from an offset message id).
    commit_log_offset: int = java("offset")


@wire_header
class QueryConsumeQueueRequestHeader(WireHeader):
    topic: str = java("topic")
    queue_id: int = java("queueId")
    #: First queue offset wanted.
    index: int = java("index")
    count: int = java("count")
    consumer_group: str | None = java("consumerGroup", default=None)
