"""Admin requests the broker forwards to one consumer client: GET_CONSUMER_RUNNING_INFO and
CONSUME_MESSAGE_DIRECTLY.

Java: AdminBrokerProcessor#getConsumerRunningInfo / #consumeMessageDirectly and
Broker2Client#callClient. The admin names the group and client id; the broker finds that client's
connection from its heartbeats, sends it the request (with the stored message as the body for
CONSUME_MESSAGE_DIRECTLY) and hands the client's answer back. A client that is not connected is
answered SYSTEM_ERROR, as in 4.9.8.
"""

from __future__ import annotations

from typing import Final

from pocketmq.broker.handlers.context import BrokerContext
from pocketmq.common.errors import PocketMQError
from pocketmq.common.message_id import decode_offset_msg_id
from pocketmq.protocol.codes import RequestCode, ResponseCode
from pocketmq.protocol.command import RemotingCommand, make_request, make_response
from pocketmq.protocol.headers.consumer import (
    ConsumeMessageDirectlyResultRequestHeader,
    GetConsumerRunningInfoRequestHeader,
)
from pocketmq.remoting import Connection, Handler

__all__ = ["ForwardHandlers", "CALL_CLIENT_TIMEOUT_MS"]

#: Java: the admin's own timeout bounds it; the broker waits this long for the client.
CALL_CLIENT_TIMEOUT_MS: Final = 5000


class ForwardHandlers:
    def __init__(self, context: BrokerContext) -> None:
        self._context = context

    def routes(self) -> dict[int, Handler]:
        return {
            RequestCode.GET_CONSUMER_RUNNING_INFO: self.get_consumer_running_info,
            RequestCode.CONSUME_MESSAGE_DIRECTLY: self.consume_message_directly,
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
            return make_response(
                request,
                ResponseCode.SYSTEM_ERROR,
                f"The Consumer <{header.consumer_group}> <{header.client_id}> not online",
            )
        forwarded = make_request(RequestCode.GET_CONSUMER_RUNNING_INFO, header.to_ext_fields())
        return await self._call(request, client, forwarded)

    async def consume_message_directly(
        self, request: RemotingCommand, connection: Connection
    ) -> RemotingCommand:
        header = ConsumeMessageDirectlyResultRequestHeader.from_ext_fields(request.ext_fields)
        client = self._client(header.consumer_group, header.client_id)
        if client is None:
            return make_response(
                request,
                ResponseCode.SYSTEM_ERROR,
                f"The Consumer <{header.consumer_group}> <{header.client_id}> not online",
            )
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
