"""ClientAPI: the typed remote calls of a client to name servers and brokers (Java MQClientAPIImpl).

Each call builds one request with the Java extFields names (the short `a`..`n` names for
SEND_MESSAGE_V2 and SEND_BATCH_MESSAGE, as a 4.9.8 client sends them), invokes it through a
RemotingClient and turns the response into a value. A response code that is an expected outcome
(PULL_NOT_FOUND, QUERY_NOT_FOUND...) becomes a status or a `ClientError` the caller handles; transport
failures raise `RemotingError`. Frames: ../shared/compat/frames-4.9.8/curated.jsonl.
"""

from __future__ import annotations

import logging
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Final

from pocketmq.client.acl import SessionCredentials, sign_request
from pocketmq.common.errors import ClientError
from pocketmq.common.message import MessageConst, MessageExt, MessageQueue
from pocketmq.common.sysflag import COMPRESSED, CompressionType, compression_type
from pocketmq.protocol.bodies.consumer import GetConsumerListByGroupResponseBody
from pocketmq.protocol.bodies.heartbeat import HeartbeatData
from pocketmq.protocol.bodies.route import TopicRouteData
from pocketmq.protocol.codes import RequestCode, ResponseCode
from pocketmq.protocol.command import RemotingCommand, SerializeType, make_request
from pocketmq.protocol.headers.consumer import (
    GetConsumerListByGroupRequestHeader,
    QueryConsumerOffsetRequestHeader,
    QueryConsumerOffsetResponseHeader,
    UnregisterClientRequestHeader,
    UpdateConsumerOffsetRequestHeader,
)
from pocketmq.protocol.headers.pull import PullMessageRequestHeader, PullMessageResponseHeader
from pocketmq.protocol.headers.query import (
    GetMaxOffsetRequestHeader,
    GetMaxOffsetResponseHeader,
    GetMinOffsetRequestHeader,
    GetMinOffsetResponseHeader,
    SearchOffsetRequestHeader,
    SearchOffsetResponseHeader,
)
from pocketmq.protocol.headers.send import ConsumerSendMsgBackRequestHeader
from pocketmq.protocol.headers.transaction import EndTransactionRequestHeader
from pocketmq.remoting.client import RemotingClient
from pocketmq.store.commit_log.record import decode_records

__all__ = [
    "SendStatus",
    "SendResult",
    "PullStatus",
    "PullResult",
    "ClientAPI",
    "decode_pulled_messages",
    "RETRY_RESPONSE_CODES",
]

log = logging.getLogger(__name__)

#: Codes after which a synchronous send tries again (Java DefaultMQProducer#retryResponseCodes).
RETRY_RESPONSE_CODES: Final = frozenset(
    {
        ResponseCode.TOPIC_NOT_EXIST,
        ResponseCode.SERVICE_NOT_AVAILABLE,
        ResponseCode.SYSTEM_ERROR,
        ResponseCode.SYSTEM_BUSY,
        ResponseCode.NO_PERMISSION,
        205,  # NO_BUYER_ID
        206,  # NOT_IN_CURRENT_UNIT
    }
)


class SendStatus(Enum):
    """Java SendStatus: anything but SEND_OK means stored, but not as safely as asked."""

    SEND_OK = "SEND_OK"
    FLUSH_DISK_TIMEOUT = "FLUSH_DISK_TIMEOUT"
    FLUSH_SLAVE_TIMEOUT = "FLUSH_SLAVE_TIMEOUT"
    SLAVE_NOT_AVAILABLE = "SLAVE_NOT_AVAILABLE"


_SEND_STATUS_BY_CODE: Final[Mapping[int, SendStatus]] = {
    ResponseCode.SUCCESS: SendStatus.SEND_OK,
    ResponseCode.FLUSH_DISK_TIMEOUT: SendStatus.FLUSH_DISK_TIMEOUT,
    ResponseCode.FLUSH_SLAVE_TIMEOUT: SendStatus.FLUSH_SLAVE_TIMEOUT,
    ResponseCode.SLAVE_NOT_AVAILABLE: SendStatus.SLAVE_NOT_AVAILABLE,
}


@dataclass(slots=True)
class SendResult:
    """What a send returns (Java SendResult). `msg_id` is the client id (UNIQ_KEY; comma-separated
    for a batch); `offset_msg_id` is the broker's (store host + commit-log offset)."""

    send_status: SendStatus
    msg_id: str | None
    offset_msg_id: str
    message_queue: MessageQueue
    queue_offset: int
    transaction_id: str | None = None
    region_id: str = "DefaultRegion"
    trace_on: bool = True


class PullStatus(Enum):
    """Java PullStatus."""

    FOUND = "FOUND"
    NO_NEW_MSG = "NO_NEW_MSG"
    NO_MATCHED_MSG = "NO_MATCHED_MSG"
    OFFSET_ILLEGAL = "OFFSET_ILLEGAL"


_PULL_STATUS_BY_CODE: Final[Mapping[int, PullStatus]] = {
    ResponseCode.SUCCESS: PullStatus.FOUND,
    ResponseCode.PULL_NOT_FOUND: PullStatus.NO_NEW_MSG,
    ResponseCode.PULL_RETRY_IMMEDIATELY: PullStatus.NO_MATCHED_MSG,
    ResponseCode.PULL_OFFSET_MOVED: PullStatus.OFFSET_ILLEGAL,
}


@dataclass(slots=True)
class PullResult:
    """Java PullResult (PullResultExt): `messages` are decoded and tag-checked by the caller."""

    pull_status: PullStatus
    next_begin_offset: int
    min_offset: int
    max_offset: int
    messages: list[MessageExt] = field(default_factory=list)
    suggest_which_broker_id: int = 0
    body: bytes | None = None


def _check(response: RemotingCommand, what: str) -> RemotingCommand:
    if response.code != ResponseCode.SUCCESS:
        raise ClientError(response.code, response.remark, f"{what}: code {response.code}, {response.remark}")
    return response


def decode_pulled_messages(body: bytes) -> list[MessageExt]:
    """The CommitLog records of a PULL_MESSAGE body, zlib bodies inflated, and `msg_id` set to the
    client id (UNIQ_KEY) when there is one, as Java's MessageClientExt#getMsgId answers."""
    messages = decode_records(body)
    uniq = MessageConst.UNIQ_CLIENT_MESSAGE_ID_KEYIDX
    for message in messages:
        if message.sys_flag & COMPRESSED:
            if compression_type(message.sys_flag) is CompressionType.ZLIB:
                try:
                    message.body = zlib.decompress(message.body)
                except zlib.error as error:
                    log.warning("cannot inflate the body of %s: %s", message.msg_id, error)
            else:
                log.warning("message %s uses an unsupported compression; body left as stored", message.msg_id)
        client_id = message.properties.get(uniq)
        if client_id:
            message.msg_id = client_id
    return messages


class ClientAPI:
    """Typed calls on top of one RemotingClient (shared by every producer and consumer of a client id)."""

    def __init__(
        self,
        remoting: RemotingClient,
        *,
        default_timeout_ms: int = 3000,
        serialize_type: SerializeType = SerializeType.JSON,
        credentials: SessionCredentials | None = None,
    ) -> None:
        self.remoting = remoting
        self.default_timeout_ms = default_timeout_ms
        #: Header encoding of every request (JSON, or ROCKETMQ as with -Drocketmq.serialize.type=ROCKETMQ).
        self.serialize_type = serialize_type
        #: Signs every request for ACL-enabled servers when set (Java AclClientRPCHook).
        self.credentials = credentials

    def request(
        self,
        code: int,
        ext_fields: dict[str, Any] | None = None,
        body: bytes | None = None,
        *,
        oneway: bool = False,
    ) -> RemotingCommand:
        """A request in this client's serialize type, signed when the client has ACL credentials."""
        request = make_request(code, ext_fields, body, oneway=oneway, serialize_type=self.serialize_type)
        if self.credentials is not None:
            sign_request(request, self.credentials)
        return request

    # -- name server ----------------------------------------------------------------------------

    async def get_topic_route(self, namesrv_addr: str, topic: str, timeout_ms: int) -> TopicRouteData | None:
        """The route of `topic`; None when the name server answers TOPIC_NOT_EXIST."""
        request = self.request(RequestCode.GET_ROUTEINFO_BY_TOPIC, {"topic": topic})
        response = await self.remoting.invoke(namesrv_addr, request, timeout_ms)
        if response.code == ResponseCode.TOPIC_NOT_EXIST:
            return None
        _check(response, f"GET_ROUTEINFO_BY_TOPIC {topic}")
        if not response.body:
            return None
        return TopicRouteData.decode(response.body)

    # -- send -----------------------------------------------------------------------------------

    async def send(
        self,
        addr: str,
        queue: MessageQueue,
        *,
        code: int,
        ext_fields: dict[str, Any],
        body: bytes,
        timeout_ms: int,
        uniq_id: str | None,
    ) -> SendResult:
        response = await self.remoting.invoke(addr, self.request(code, ext_fields, body), timeout_ms)
        return send_result_from_response(response, queue, uniq_id)

    async def send_oneway(self, addr: str, code: int, ext_fields: dict[str, Any], body: bytes) -> None:
        await self.remoting.invoke_oneway(addr, self.request(code, ext_fields, body, oneway=True))

    # -- pull -----------------------------------------------------------------------------------

    async def pull(self, addr: str, header: PullMessageRequestHeader, timeout_ms: int) -> PullResult:
        request = self.request(RequestCode.PULL_MESSAGE, header.to_ext_fields())
        response = await self.remoting.invoke(addr, request, timeout_ms)
        status = _PULL_STATUS_BY_CODE.get(response.code)
        if status is None:
            raise ClientError(
                response.code, response.remark, f"PULL_MESSAGE: code {response.code}, {response.remark}"
            )
        answer = PullMessageResponseHeader.from_ext_fields(response.ext_fields)
        return PullResult(
            pull_status=status,
            next_begin_offset=answer.next_begin_offset,
            min_offset=answer.min_offset,
            max_offset=answer.max_offset,
            suggest_which_broker_id=answer.suggest_which_broker_id,
            body=response.body,
        )

    # -- client management ----------------------------------------------------------------------

    async def heartbeat(self, addr: str, heartbeat: HeartbeatData, timeout_ms: int) -> int:
        """HEART_BEAT; answers the broker's version."""
        request = self.request(RequestCode.HEART_BEAT, None, heartbeat.encode())
        response = _check(await self.remoting.invoke(addr, request, timeout_ms), "HEART_BEAT")
        return response.version

    async def unregister_client(
        self,
        addr: str,
        client_id: str,
        *,
        producer_group: str | None,
        consumer_group: str | None,
        timeout_ms: int,
    ) -> None:
        header = UnregisterClientRequestHeader(
            client_id=client_id, producer_group=producer_group, consumer_group=consumer_group
        )
        request = self.request(RequestCode.UNREGISTER_CLIENT, header.to_ext_fields())
        _check(await self.remoting.invoke(addr, request, timeout_ms), "UNREGISTER_CLIENT")

    async def get_consumer_id_list(self, addr: str, group: str, timeout_ms: int) -> list[str]:
        header = GetConsumerListByGroupRequestHeader(consumer_group=group)
        request = self.request(RequestCode.GET_CONSUMER_LIST_BY_GROUP, header.to_ext_fields())
        response = _check(await self.remoting.invoke(addr, request, timeout_ms), "GET_CONSUMER_LIST_BY_GROUP")
        if not response.body:
            return []
        return list(GetConsumerListByGroupResponseBody.decode(response.body).consumer_ids)

    # -- offsets --------------------------------------------------------------------------------

    async def query_consumer_offset(self, addr: str, group: str, queue: MessageQueue, timeout_ms: int) -> int:
        """The group's stored offset; ClientError(QUERY_NOT_FOUND) when the broker has none."""
        header = QueryConsumerOffsetRequestHeader(
            consumer_group=group, topic=queue.topic, queue_id=queue.queue_id, broker_name=queue.broker_name
        )
        request = self.request(RequestCode.QUERY_CONSUMER_OFFSET, header.to_ext_fields())
        response = _check(await self.remoting.invoke(addr, request, timeout_ms), "QUERY_CONSUMER_OFFSET")
        return QueryConsumerOffsetResponseHeader.from_ext_fields(response.ext_fields).offset

    async def update_consumer_offset(
        self, addr: str, group: str, queue: MessageQueue, offset: int, *, oneway: bool, timeout_ms: int
    ) -> None:
        """UPDATE_CONSUMER_OFFSET; oneway as the Java client sends it from its offset store."""
        fields = UpdateConsumerOffsetRequestHeader(
            consumer_group=group,
            topic=queue.topic,
            queue_id=queue.queue_id,
            commit_offset=offset,
            broker_name=queue.broker_name,
        ).to_ext_fields()
        if oneway:
            request = self.request(RequestCode.UPDATE_CONSUMER_OFFSET, fields, oneway=True)
            await self.remoting.invoke_oneway(addr, request)
            return
        request = self.request(RequestCode.UPDATE_CONSUMER_OFFSET, fields)
        _check(await self.remoting.invoke(addr, request, timeout_ms), "UPDATE_CONSUMER_OFFSET")

    async def get_max_offset(self, addr: str, queue: MessageQueue, timeout_ms: int) -> int:
        header = GetMaxOffsetRequestHeader(
            topic=queue.topic, queue_id=queue.queue_id, broker_name=queue.broker_name
        )
        request = self.request(RequestCode.GET_MAX_OFFSET, header.to_ext_fields())
        response = _check(await self.remoting.invoke(addr, request, timeout_ms), "GET_MAX_OFFSET")
        return GetMaxOffsetResponseHeader.from_ext_fields(response.ext_fields).offset

    async def get_min_offset(self, addr: str, queue: MessageQueue, timeout_ms: int) -> int:
        header = GetMinOffsetRequestHeader(
            topic=queue.topic, queue_id=queue.queue_id, broker_name=queue.broker_name
        )
        request = self.request(RequestCode.GET_MIN_OFFSET, header.to_ext_fields())
        response = _check(await self.remoting.invoke(addr, request, timeout_ms), "GET_MIN_OFFSET")
        return GetMinOffsetResponseHeader.from_ext_fields(response.ext_fields).offset

    async def search_offset(self, addr: str, queue: MessageQueue, timestamp_ms: int, timeout_ms: int) -> int:
        header = SearchOffsetRequestHeader(
            topic=queue.topic, queue_id=queue.queue_id, timestamp=timestamp_ms, broker_name=queue.broker_name
        )
        request = self.request(RequestCode.SEARCH_OFFSET_BY_TIMESTAMP, header.to_ext_fields())
        response = _check(await self.remoting.invoke(addr, request, timeout_ms), "SEARCH_OFFSET_BY_TIMESTAMP")
        return SearchOffsetResponseHeader.from_ext_fields(response.ext_fields).offset

    # -- consumer send-back and transactions ----------------------------------------------------

    async def consumer_send_message_back(
        self,
        addr: str,
        message: MessageExt,
        *,
        group: str,
        delay_level: int,
        max_reconsume_times: int,
        broker_name: str,
        timeout_ms: int,
    ) -> None:
        """CONSUMER_SEND_MSG_BACK: the broker re-puts the message to the group's retry topic."""
        header = ConsumerSendMsgBackRequestHeader(
            commit_log_offset=message.commit_log_offset,
            group=group,
            delay_level=delay_level,
            origin_msg_id=message.msg_id,
            origin_topic=message.topic,
            unit_mode=False,
            max_reconsume_times=max_reconsume_times,
            broker_name=broker_name,
        )
        request = self.request(RequestCode.CONSUMER_SEND_MSG_BACK, header.to_ext_fields())
        _check(await self.remoting.invoke(addr, request, timeout_ms), "CONSUMER_SEND_MSG_BACK")

    async def end_transaction_oneway(self, addr: str, header: EndTransactionRequestHeader) -> None:
        """END_TRANSACTION, oneway as the Java client sends it."""
        request = self.request(RequestCode.END_TRANSACTION, header.to_ext_fields(), oneway=True)
        await self.remoting.invoke_oneway(addr, request)


def send_result_from_response(
    response: RemotingCommand, queue: MessageQueue, uniq_id: str | None
) -> SendResult:
    """Java MQClientAPIImpl#processSendResponse."""
    status = _SEND_STATUS_BY_CODE.get(response.code)
    if status is None:
        raise ClientError(
            response.code, response.remark, f"send to {queue}: code {response.code}, {response.remark}"
        )
    # The keys of SendMessageResponseHeader, read by hand: this runs once per message sent.
    ext = response.ext_fields
    try:
        queue_id = int(ext["queueId"])
        queue_offset = int(ext["queueOffset"])
        offset_msg_id = str(ext["msgId"])
    except (KeyError, TypeError, ValueError):
        raise ClientError(
            response.code, response.remark, f"send to {queue}: malformed response header {ext!r:.200}"
        ) from None
    if queue_id != queue.queue_id:
        queue = MessageQueue(queue.topic, queue.broker_name, queue_id)
    trace_on = ext.get("TRACE_ON")
    return SendResult(
        send_status=status,
        msg_id=uniq_id,
        offset_msg_id=offset_msg_id,
        message_queue=queue,
        queue_offset=queue_offset,
        transaction_id=ext.get("transactionId"),
        region_id=ext.get("MSG_REGION") or "DefaultRegion",
        trace_on=trace_on is None or str(trace_on).lower() != "false",
    )
