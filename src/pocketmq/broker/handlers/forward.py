"""Admin requests the broker forwards to consumer clients: GET_CONSUMER_RUNNING_INFO,
CONSUME_MESSAGE_DIRECTLY and INVOKE_BROKER_TO_RESET_OFFSET.

Java: AdminBrokerProcessor#getConsumerRunningInfo / #consumeMessageDirectly / #resetOffset and
Broker2Client#callClient / #resetOffset. A reset computes each queue's offset for the timestamp
(-1: the max offset) and tells every online client of the group with RESET_CONSUMER_CLIENT_OFFSET
(oneway); the clients adopt and commit it, as in 4.9.8 (the broker's table is not changed here).
For the other two the admin names the group and client id; the broker finds that client's
connection from its heartbeats, sends it the request (with the stored message as the body for
CONSUME_MESSAGE_DIRECTLY) and hands the client's answer back. A client that is not connected is
answered SYSTEM_ERROR, as in 4.9.8.
"""

from __future__ import annotations

import logging
from typing import Final

from pocketmq.broker.handlers.context import BrokerContext
from pocketmq.common.errors import PocketMQError
from pocketmq.common.message import MessageQueue
from pocketmq.common.message_id import decode_offset_msg_id
from pocketmq.protocol.bodies.consumer import ResetOffsetBody
from pocketmq.protocol.codes import RequestCode, ResponseCode
from pocketmq.protocol.command import RemotingCommand, make_request, make_response
from pocketmq.protocol.headers.consumer import (
    ConsumeMessageDirectlyResultRequestHeader,
    GetConsumerRunningInfoRequestHeader,
    ResetOffsetRequestHeader,
)
from pocketmq.remoting import Connection, Handler

__all__ = ["ForwardHandlers", "CALL_CLIENT_TIMEOUT_MS"]

log = logging.getLogger(__name__)

#: Java: the admin's own timeout bounds it; the broker waits this long for the client.
CALL_CLIENT_TIMEOUT_MS: Final = 5000


class ForwardHandlers:
    def __init__(self, context: BrokerContext) -> None:
        self._context = context

    def routes(self) -> dict[int, Handler]:
        return {
            RequestCode.GET_CONSUMER_RUNNING_INFO: self.get_consumer_running_info,
            RequestCode.CONSUME_MESSAGE_DIRECTLY: self.consume_message_directly,
            RequestCode.INVOKE_BROKER_TO_RESET_OFFSET: self.invoke_broker_to_reset_offset,
        }

    def _client(self, group: str, client_id: str | None) -> Connection | None:
        connection = self._context.consumers.find_channel(group, client_id or "")
        return connection if isinstance(connection, Connection) and not connection.closed else None

    async def _call(
        self, request: RemotingCommand, connection: Connection, forwarded: RemotingCommand
    ) -> RemotingCommand:
        try:
            answer = await connection.invoke(forwarded, CALL_CLIENT_TIMEOUT_MS)
        except PocketMQError as error:
            return make_response(request, ResponseCode.SYSTEM_ERROR, f"invoke the consumer failed: {error}")
        return make_response(request, answer.code, answer.remark, dict(answer.ext_fields), answer.body)

    async def get_consumer_running_info(
        self, request: RemotingCommand, connection: Connection
    ) -> RemotingCommand:
        header = GetConsumerRunningInfoRequestHeader.from_ext_fields(request.ext_fields)
        client = self._client(header.consumer_group, header.client_id)
        if client is None:
            return _consumer_not_online(request, header.consumer_group, header.client_id)
        forwarded = make_request(RequestCode.GET_CONSUMER_RUNNING_INFO, header.to_ext_fields())
        return await self._call(request, client, forwarded)

    async def consume_message_directly(
        self, request: RemotingCommand, connection: Connection
    ) -> RemotingCommand:
        header = ConsumeMessageDirectlyResultRequestHeader.from_ext_fields(request.ext_fields)
        client = self._client(header.consumer_group, header.client_id)
        if client is None:
            return _consumer_not_online(request, header.consumer_group, header.client_id)
        try:
            offset = decode_offset_msg_id(header.msg_id or "").commit_log_offset
        except ValueError as error:
            return make_response(request, ResponseCode.SYSTEM_ERROR, str(error))
        record = self._context.store.select_one_message_by_offset(offset)
        if record is None:
            return make_response(
                request, ResponseCode.SYSTEM_ERROR, f"can not find message by the offset, {offset}"
            )
        forwarded = make_request(RequestCode.CONSUME_MESSAGE_DIRECTLY, header.to_ext_fields(), record)
        return await self._call(request, client, forwarded)

    async def invoke_broker_to_reset_offset(
        self, request: RemotingCommand, connection: Connection
    ) -> RemotingCommand:
        header = ResetOffsetRequestHeader.from_ext_fields(request.ext_fields)
        context = self._context
        topic, group = header.topic, header.group
        topic_config = context.topics.select_topic_config(topic)
        if topic_config is None:
            return make_response(
                request,
                ResponseCode.SYSTEM_ERROR,
                f"[reset-offset] reset offset failed, no topic in this broker. topic={topic}",
            )
        store = context.store
        offsets: dict[MessageQueue, int] = {}
        for queue_id in range(topic_config.write_queue_nums):
            consumer_offset = context.offsets.query_offset(group, topic, queue_id)
            if consumer_offset == -1:
                return make_response(
                    request, ResponseCode.SYSTEM_ERROR, f"THe consumer group <{group}> not exist"
                )
            if header.timestamp == -1:
                target = store.get_max_offset_in_queue(topic, queue_id)
            else:
                target = store.get_offset_in_queue_by_time(topic, queue_id, header.timestamp)
            target = max(target, 0)
            queue = MessageQueue(topic, context.config.broker_name, queue_id)
            offsets[queue] = target if header.force or target < consumer_offset else consumer_offset
        group_info = context.consumers.get(group)
        clients = [
            c
            for c in (group_info.channels if group_info else {})
            if isinstance(c, Connection) and not c.closed
        ]
        if not clients:
            return make_response(
                request,
                ResponseCode.SYSTEM_ERROR,
                f"Consumer not online, such as: group={group}, topic={topic}, timestamp={header.timestamp}",
            )
        body = ResetOffsetBody(offsets=offsets).encode()
        for client in clients:
            try:
                await client.invoke_oneway(
                    make_request(RequestCode.RESET_CONSUMER_CLIENT_OFFSET, header.to_ext_fields(), body)
                )
            except PocketMQError as error:
                log.info("[reset-offset] telling %s failed: %s", client, error)
        return make_response(request, ResponseCode.SUCCESS, None, None, body)


def _consumer_not_online(request: RemotingCommand, group: str, client_id: str | None) -> RemotingCommand:
    return make_response(
        request, ResponseCode.SYSTEM_ERROR, f"The Consumer <{group}> <{client_id}> not online"
    )
