"""Query handlers: QUERY_MESSAGE, VIEW_MESSAGE_BY_ID and the per-queue offset questions
(GET_MAX_OFFSET, GET_MIN_OFFSET, SEARCH_OFFSET_BY_TIMESTAMP, GET_EARLIEST_MSG_STORETIME).

Java: QueryMessageProcessor and AdminBrokerProcessor (offsets). All plain defs over the store's
look-ups; like 4.9.8, the offset questions do not check that the topic exists (they answer 0).
"""

from __future__ import annotations

from typing import Final

from pocketmq.broker.handlers.context import BrokerContext
from pocketmq.protocol.codes import RequestCode, ResponseCode
from pocketmq.protocol.command import RemotingCommand, make_response
from pocketmq.protocol.headers.query import (
    GetEarliestMsgStoretimeRequestHeader,
    GetMaxOffsetRequestHeader,
    GetMinOffsetRequestHeader,
    QueryMessageRequestHeader,
    SearchOffsetRequestHeader,
    ViewMessageRequestHeader,
)
from pocketmq.remoting import Connection, Handler

__all__ = ["QueryHandlers", "DEFAULT_QUERY_MAX_COUNT"]

#: Java MessageStoreConfig.defaultQueryMaxNum (32): the cap of a unique-key query, and of any query.
DEFAULT_QUERY_MAX_COUNT: Final = 32
#: Java maxMsgsNumBatch (64): the most messages one QUERY_MESSAGE returns.
QUERY_MAX_COUNT: Final = 64


class QueryHandlers:
    def __init__(self, context: BrokerContext) -> None:
        self._context = context

    def routes(self) -> dict[int, Handler]:
        return {
            RequestCode.QUERY_MESSAGE: self.query_message,
            RequestCode.VIEW_MESSAGE_BY_ID: self.view_message_by_id,
            RequestCode.GET_MAX_OFFSET: self.get_max_offset,
            RequestCode.GET_MIN_OFFSET: self.get_min_offset,
            RequestCode.SEARCH_OFFSET_BY_TIMESTAMP: self.search_offset_by_timestamp,
            RequestCode.GET_EARLIEST_MSG_STORETIME: self.get_earliest_msg_storetime,
        }

    def query_message(self, request: RemotingCommand, connection: Connection) -> RemotingCommand:
        header = QueryMessageRequestHeader.from_ext_fields(request.ext_fields)
        max_count = DEFAULT_QUERY_MAX_COUNT if header.unique_key_query else header.max_count
        max_count = max(0, min(max_count, QUERY_MAX_COUNT))
        result = self._context.store.query_message(
            header.topic, header.key, max_count, header.begin_timestamp, header.end_timestamp
        )
        ext = {
            "indexLastUpdatePhyoffset": str(result.index_last_update_commit_log_offset),
            "indexLastUpdateTimestamp": str(result.index_last_update_timestamp),
        }
        if result.messages:
            return make_response(request, ResponseCode.SUCCESS, None, ext, b"".join(result.messages))
        return make_response(
            request, ResponseCode.QUERY_NOT_FOUND, "can not find message, maybe time range not correct", ext
        )

    def view_message_by_id(self, request: RemotingCommand, connection: Connection) -> RemotingCommand:
        header = ViewMessageRequestHeader.from_ext_fields(request.ext_fields)
        offset = header.commit_log_offset
        record = self._context.store.select_one_message_by_offset(offset) if offset >= 0 else None
        if record is None:
            return make_response(
                request, ResponseCode.SYSTEM_ERROR, f"can not find message by the offset, {offset}"
            )
        return make_response(request, ResponseCode.SUCCESS, None, None, record)

    def get_max_offset(self, request: RemotingCommand, connection: Connection) -> RemotingCommand:
        header = GetMaxOffsetRequestHeader.from_ext_fields(request.ext_fields)
        offset = self._context.store.get_max_offset_in_queue(header.topic, header.queue_id)
        return make_response(request, ResponseCode.SUCCESS, None, {"offset": str(offset)})

    def get_min_offset(self, request: RemotingCommand, connection: Connection) -> RemotingCommand:
        header = GetMinOffsetRequestHeader.from_ext_fields(request.ext_fields)
        offset = self._context.store.get_min_offset_in_queue(header.topic, header.queue_id)
        return make_response(request, ResponseCode.SUCCESS, None, {"offset": str(offset)})

    def search_offset_by_timestamp(self, request: RemotingCommand, connection: Connection) -> RemotingCommand:
        header = SearchOffsetRequestHeader.from_ext_fields(request.ext_fields)
        offset = self._context.store.get_offset_in_queue_by_time(
            header.topic, header.queue_id, header.timestamp
        )
        return make_response(request, ResponseCode.SUCCESS, None, {"offset": str(offset)})

    def get_earliest_msg_storetime(self, request: RemotingCommand, connection: Connection) -> RemotingCommand:
        header = GetEarliestMsgStoretimeRequestHeader.from_ext_fields(request.ext_fields)
        timestamp = self._context.store.get_earliest_message_time(header.topic, header.queue_id)
        return make_response(request, ResponseCode.SUCCESS, None, {"timestamp": str(timestamp)})
