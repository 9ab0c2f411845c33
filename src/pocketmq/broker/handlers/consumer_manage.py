"""Consumer handlers: QUERY_CONSUMER_OFFSET, UPDATE_CONSUMER_OFFSET, GET_CONSUMER_LIST_BY_GROUP,
and the orderly consumers' LOCK_BATCH_MQ / UNLOCK_BATCH_MQ.

Java: ConsumerManageProcessor, AdminBrokerProcessor#lockBatchMQ / #unlockBatchMQ.
UPDATE_CONSUMER_OFFSET arrives oneway from Java clients and two-way
from the C++ client: the router drops the answer of a oneway request. QUERY_CONSUMER_OFFSET applies
the new-group rule of PROTOCOL.md for a group with no stored offset.
"""

from __future__ import annotations

from pocketmq.broker.handlers.context import BrokerContext
from pocketmq.protocol.bodies.base import BodyError
from pocketmq.protocol.bodies.consumer import (
    GetConsumerListByGroupResponseBody,
    LockBatchRequestBody,
    LockBatchResponseBody,
    UnlockBatchRequestBody,
)
from pocketmq.protocol.codes import RequestCode, ResponseCode
from pocketmq.protocol.command import RemotingCommand, make_response
from pocketmq.protocol.headers.consumer import (
    GetConsumerListByGroupRequestHeader,
    QueryConsumerOffsetRequestHeader,
    UpdateConsumerOffsetRequestHeader,
)
from pocketmq.remoting import Connection, Handler

__all__ = ["ConsumerManageHandlers", "NOT_FOUND_REMARK"]

#: Java ConsumerManageProcessor#queryConsumerOffset, as 4.9.8 sends it.
NOT_FOUND_REMARK = "Not found, V3_0_6_SNAPSHOT maybe this group consumer boot first"


class ConsumerManageHandlers:
    def __init__(self, context: BrokerContext) -> None:
        self._context = context

    def routes(self) -> dict[int, Handler]:
        return {
            RequestCode.QUERY_CONSUMER_OFFSET: self.query_consumer_offset,
            RequestCode.UPDATE_CONSUMER_OFFSET: self.update_consumer_offset,
            RequestCode.GET_CONSUMER_LIST_BY_GROUP: self.get_consumer_list_by_group,
            RequestCode.LOCK_BATCH_MQ: self.lock_batch_mq,
            RequestCode.UNLOCK_BATCH_MQ: self.unlock_batch_mq,
        }

    def query_consumer_offset(self, request: RemotingCommand, connection: Connection) -> RemotingCommand:
        header = QueryConsumerOffsetRequestHeader.from_ext_fields(request.ext_fields)
        context = self._context
        offset = context.offsets.query_offset(header.consumer_group, header.topic, header.queue_id)
        if offset >= 0:
            return make_response(request, ResponseCode.SUCCESS, None, {"offset": str(offset)})
        if self.new_group_starts_at_zero(header.topic, header.queue_id):
            return make_response(request, ResponseCode.SUCCESS, None, {"offset": "0"})
        return make_response(request, ResponseCode.QUERY_NOT_FOUND, NOT_FOUND_REMARK, {})

    def new_group_starts_at_zero(self, topic: str, queue_id: int) -> bool:
        """The new-group rule: offset 0 when the queue's min offset is 0 and its first message is
        not "on disk" (still in memory, or the queue is empty). Java: minOffset <= 0 &&
        !checkInDiskByConsumeOffset(topic, queueId, 0)."""
        store = self._context.store
        if store.get_min_offset_in_queue(topic, queue_id) > 0:
            return False
        if store.get_max_offset_in_queue(topic, queue_id) <= 0:
            return True  # no unit at 0: Java's check answers "not in disk"
        return store.check_in_memory_by_consume_offset(topic, queue_id, 0)

    def update_consumer_offset(self, request: RemotingCommand, connection: Connection) -> RemotingCommand:
        header = UpdateConsumerOffsetRequestHeader.from_ext_fields(request.ext_fields)
        context = self._context
        if context.topics.select_topic_config(header.topic) is None:
            # Java stores it anyway; refusing keeps the offset table bounded by the topic table.
            return make_response(
                request,
                ResponseCode.TOPIC_NOT_EXIST,
                f"topic[{header.topic}] not exist, the offset of {header.consumer_group} was not stored",
            )
        if (
            not 0 <= header.queue_id < 2**31
            or not 0 <= header.commit_offset < 2**63
            or not header.consumer_group
        ):
            return make_response(
                request,
                ResponseCode.SYSTEM_ERROR,
                f"illegal offset commit: group={header.consumer_group!r} queueId={header.queue_id} "
                f"commitOffset={header.commit_offset}",
            )
        context.offsets.commit_offset(
            header.consumer_group, header.topic, header.queue_id, header.commit_offset
        )
        return make_response(request, ResponseCode.SUCCESS, None, {})

    def get_consumer_list_by_group(self, request: RemotingCommand, connection: Connection) -> RemotingCommand:
        header = GetConsumerListByGroupRequestHeader.from_ext_fields(request.ext_fields)
        group_info = self._context.consumers.get(header.consumer_group)
        client_ids = group_info.client_ids() if group_info is not None else []
        if not client_ids:
            return make_response(
                request, ResponseCode.SYSTEM_ERROR, f"no consumer for this group, {header.consumer_group}"
            )
        body = GetConsumerListByGroupResponseBody(consumer_ids=tuple(client_ids)).encode()
        return make_response(request, ResponseCode.SUCCESS, None, {}, body)

    def lock_batch_mq(self, request: RemotingCommand, connection: Connection) -> RemotingCommand:
        try:
            body = LockBatchRequestBody.decode(request.body)
        except (BodyError, ValueError, RecursionError) as error:
            return make_response(request, ResponseCode.SYSTEM_ERROR, f"malformed lock request: {error}")
        context = self._context
        locked = context.locks.try_lock_batch(
            body.consumer_group, body.queues, body.client_id, context.clock.now_ms()
        )
        response = LockBatchResponseBody(locked_queues=tuple(locked)).encode()
        return make_response(request, ResponseCode.SUCCESS, None, None, response)

    def unlock_batch_mq(self, request: RemotingCommand, connection: Connection) -> RemotingCommand:
        try:
            body = UnlockBatchRequestBody.decode(request.body)
        except (BodyError, ValueError, RecursionError) as error:
            return make_response(request, ResponseCode.SYSTEM_ERROR, f"malformed unlock request: {error}")
        self._context.locks.unlock_batch(body.consumer_group, body.queues, body.client_id)
        return make_response(request, ResponseCode.SUCCESS)
