"""Send handlers: SEND_MESSAGE, SEND_MESSAGE_V2 and SEND_BATCH_MESSAGE.

Java: SendMessageProcessor and AbstractSendMessageProcessor#msgCheck (4.9.8). The hot path: a plain
def that checks the request, appends the record (`MessageStore.append_message`, no await) and
answers in the same loop iteration; only a SYNC_FLUSH store makes it return a coroutine that waits
for the group commit. Every refusal names the problem in the remark; nothing is stored then.
"""

from __future__ import annotations

import asyncio
import random
import struct
from collections.abc import Awaitable, Callable
from typing import Any, Final

from pocketmq.broker.handlers.context import FAQ_URL, BrokerContext
from pocketmq.broker.schedule import park_delayed  # issue 4
from pocketmq.broker.transaction.records import half_message, is_half_message_request  # issue 4
from pocketmq.common.message import (
    NAME_VALUE_SEPARATOR,
    PROPERTY_SEPARATOR,
    MessageConst,
    MessageExt,
    string_to_properties,
)
from pocketmq.common.message_id import create_offset_msg_id
from pocketmq.common.topic import (
    PERM_READ,
    PERM_WRITE,
    SystemTopics,
    TopicConfig,
    dlq_topic,
    is_retry_topic,
    is_writeable,
    validate_topic,
)
from pocketmq.protocol.codes import RequestCode, ResponseCode
from pocketmq.protocol.command import RemotingCommand, make_response
from pocketmq.protocol.headers.send import (
    SendMessageRequestHeader,
    SendMessageRequestHeaderV2,
    send_request_header_of,
)
from pocketmq.remoting import Connection, Handler, HandlerResult
from pocketmq.store.config import FlushDiskType
from pocketmq.store.results import PutMessageResult, PutMessageStatus

__all__ = ["SendHandlers", "decode_batch_body", "PUT_STATUS_TO_RESPONSE", "peer_host"]

_WAIT = MessageConst.WAIT_STORE_MSG_OK
_CLUSTER = MessageConst.CLUSTER
_TRAN_MSG = MessageConst.TRANSACTION_PREPARED
_DELAY = MessageConst.DELAY_TIME_LEVEL  # issue 4

#: Java SendMessageProcessor#handlePutMessageResult: store status -> (response code, remark).
PUT_STATUS_TO_RESPONSE: Final[dict[PutMessageStatus, tuple[ResponseCode, str | None]]] = {
    PutMessageStatus.PUT_OK: (ResponseCode.SUCCESS, None),
    PutMessageStatus.FLUSH_DISK_TIMEOUT: (ResponseCode.FLUSH_DISK_TIMEOUT, None),
    PutMessageStatus.FLUSH_SLAVE_TIMEOUT: (ResponseCode.FLUSH_SLAVE_TIMEOUT, None),
    PutMessageStatus.SLAVE_NOT_AVAILABLE: (ResponseCode.SLAVE_NOT_AVAILABLE, None),
    PutMessageStatus.CREATE_MAPPED_FILE_FAILED: (
        ResponseCode.SYSTEM_ERROR,
        "create mapped file failed, server is busy or broken.",
    ),
    PutMessageStatus.MESSAGE_ILLEGAL: (
        ResponseCode.MESSAGE_ILLEGAL,
        "the message is illegal, maybe msg body or properties length not matched. "
        "msg body length limit 4M, msg properties length limit 32k.",
    ),
    PutMessageStatus.PROPERTIES_SIZE_EXCEEDED: (
        ResponseCode.MESSAGE_ILLEGAL,
        "the message is illegal, maybe msg body or properties length not matched. "
        "msg body length limit 4M, msg properties length limit 32k.",
    ),
    PutMessageStatus.SERVICE_NOT_AVAILABLE: (
        ResponseCode.SERVICE_NOT_AVAILABLE,
        "service not available now. It may be caused by one of the following reasons: "
        "the broker's disk is full, messages are put to the slave, message store has been shut down, etc.",
    ),
    PutMessageStatus.OS_PAGECACHE_BUSY: (
        ResponseCode.SYSTEM_ERROR,
        "[PC_SYNCHRONIZED]broker busy, start flow control for a while",
    ),
    PutMessageStatus.UNKNOWN_ERROR: (ResponseCode.SYSTEM_ERROR, "UNKNOWN_ERROR"),
}

#: Statuses that still count as stored (the client sees SEND_OK-like results, Java sendOK=true).
_STORED = frozenset(
    {
        PutMessageStatus.PUT_OK,
        PutMessageStatus.FLUSH_DISK_TIMEOUT,
        PutMessageStatus.FLUSH_SLAVE_TIMEOUT,
        PutMessageStatus.SLAVE_NOT_AVAILABLE,
    }
)

# Java MessageDecoder#encodeMessage, one message of a SEND_BATCH_MESSAGE body.
_BATCH_HEAD = struct.Struct(
    ">i"  # total_size
    "i"  # magic (0 from clients)
    "i"  # body_crc (0 from clients)
    "i"  # flag
    "i"  # body_length
)
assert _BATCH_HEAD.size == 20
_SHORT = struct.Struct(">h")
#: At most this many messages in one batch request.
BATCH_MESSAGES_MAX: Final = 10_000


def peer_host(connection: Connection) -> tuple[str, int]:
    """The (ip, port) of the peer, cached on the connection (the born host of what it sends)."""
    host = connection.attributes.get("peer_host")
    if host is None:
        ip, _, port = connection.peer_address.rpartition(":")
        ip = ip.strip("[]") or "127.0.0.1"
        try:
            host = (ip, int(port))
        except ValueError:
            host = ("127.0.0.1", 0)
        connection.attributes["peer_host"] = host
    return host


def decode_batch_body(body: bytes) -> list[tuple[int, bytes, str]]:
    """(flag, body, properties string) of each message of a batch; ValueError when malformed."""
    messages: list[tuple[int, bytes, str]] = []
    position = 0
    end = len(body)
    view = memoryview(body)
    while position < end:
        if len(messages) >= BATCH_MESSAGES_MAX:
            raise ValueError(f"more than {BATCH_MESSAGES_MAX} messages in one batch")
        if position + _BATCH_HEAD.size + 2 > end:
            raise ValueError(f"batch body ends inside a message header at byte {position}")
        total, _magic, _crc, flag, body_length = _BATCH_HEAD.unpack_from(body, position)
        if total < _BATCH_HEAD.size + 2 or position + total > end or body_length < 0:
            raise ValueError(f"batch message at byte {position} has a bad size {total}")
        start = position + _BATCH_HEAD.size
        if start + body_length + 2 > position + total:
            raise ValueError(f"batch message at byte {position}: body of {body_length} bytes overruns it")
        message_body = bytes(view[start : start + body_length])
        (properties_length,) = _SHORT.unpack_from(body, start + body_length)
        properties_start = start + body_length + 2
        if properties_length < 0 or properties_start + properties_length != position + total:
            raise ValueError(f"batch message at byte {position}: properties length does not match its size")
        properties = bytes(view[properties_start : properties_start + properties_length]).decode()
        messages.append((flag, message_body, properties))
        position += total
    if not messages:
        raise ValueError("the batch has no messages")
    return messages


_INT32_MIN, _INT32_MAX = -(2**31), 2**31 - 1
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1


def header_range_problem(header: SendMessageRequestHeader) -> str | None:
    """A field outside what the record layout can hold (Java would fail to parse it as int/long)."""
    for name, value in (("sysFlag", header.sys_flag), ("flag", header.flag)):
        if not _INT32_MIN <= value <= _INT32_MAX:
            return f"{name}={value} does not fit a 32-bit int"
    if header.reconsume_times is not None and not 0 <= header.reconsume_times <= _INT32_MAX:
        return f"reconsumeTimes={header.reconsume_times} must be within 0..{_INT32_MAX}"
    if not _INT64_MIN <= header.born_timestamp <= _INT64_MAX:
        return f"bornTimestamp={header.born_timestamp} does not fit a 64-bit long"
    return None


def _without_wait(properties: dict[str, str], cluster: str) -> tuple[str | None, str]:
    """Drop WAIT and add CLUSTER, as the 4.9.8 broker stores single sends; returns (WAIT, string)."""
    wait = properties.pop(_WAIT, None)
    properties[_CLUSTER] = cluster
    return wait, PROPERTY_SEPARATOR.join(
        [f"{name}{NAME_VALUE_SEPARATOR}{value}" for name, value in properties.items()]
    )


class SendHandlers:
    """SEND_MESSAGE / SEND_MESSAGE_V2 / SEND_BATCH_MESSAGE against one broker context."""

    def __init__(self, context: BrokerContext) -> None:
        self._context = context
        config = context.config
        self._cluster = config.broker_cluster_name
        self._trace_on = "true" if config.trace_on else "false"
        self._region = config.region_id
        self._sync_flush = context.store_config.flush_disk_type is FlushDiskType.SYNC_FLUSH
        self._random = random.Random()
        self._forbidden_remark = f"the broker[{context.broker_host}] sending message is forbidden"
        # Offset msgIds share the store host part: compute it once (hex of ip + port).
        host, port = context.store.store_host
        self._msg_id_prefix = create_offset_msg_id(host, port, 0)[:-16]

    def routes(self) -> dict[int, Handler]:
        return {
            RequestCode.SEND_MESSAGE: self.send_message,
            RequestCode.SEND_MESSAGE_V2: self.send_message,
            RequestCode.SEND_BATCH_MESSAGE: self.send_batch_message,
        }

    # -- checks (Java AbstractSendMessageProcessor#msgCheck) ----------------------------------------
    def _check(
        self, request: RemotingCommand, header: SendMessageRequestHeader, connection: Connection
    ) -> TopicConfig | RemotingCommand:
        context = self._context
        topic = header.topic
        if not is_writeable(context.config.broker_permission):
            return make_response(request, ResponseCode.NO_PERMISSION, self._forbidden_remark)
        topic_config = context.topics.select_topic_config(topic)
        if topic_config is None:
            problem = validate_topic(topic)
            if problem is not None:
                return make_response(request, ResponseCode.SYSTEM_ERROR, problem)
            if topic in SystemTopics.NOT_SENDABLE:
                return make_response(
                    request, ResponseCode.NO_PERMISSION, f"Sending message to topic[{topic}] is forbidden."
                )
            created = self._create_topic(request, header)
            if isinstance(created, RemotingCommand):
                return created
            topic_config = created
        elif topic in SystemTopics.NOT_SENDABLE:
            return make_response(
                request, ResponseCode.NO_PERMISSION, f"Sending message to topic[{topic}] is forbidden."
            )
        if not is_writeable(topic_config.perm):
            return make_response(
                request, ResponseCode.NO_PERMISSION, f"the topic[{topic}] sending message is forbidden"
            )
        problem = header_range_problem(header)
        if problem is not None:
            return make_response(request, ResponseCode.MESSAGE_ILLEGAL, problem)
        queue_id = header.queue_id
        queue_count = max(topic_config.write_queue_nums, topic_config.read_queue_nums)
        if queue_id >= queue_count:
            return make_response(
                request,
                ResponseCode.SYSTEM_ERROR,
                f"request queueId[{queue_id}] is illegal, topic {topic} has {queue_count} queues "
                f"(readQueueNums={topic_config.read_queue_nums}, "
                f"writeQueueNums={topic_config.write_queue_nums}) Producer: {connection.peer_address}",
            )
        return topic_config

    def _create_topic(
        self, request: RemotingCommand, header: SendMessageRequestHeader
    ) -> TopicConfig | RemotingCommand:
        """Auto-create through the default topic (TBW102), or a retry topic with one queue."""
        context = self._context
        now = context.clock.now_ms()
        topic = header.topic
        result = context.topics.create_topic_in_send_message_method(
            topic,
            header.default_topic,
            header.default_topic_queue_count,
            1 if header.unit_mode else 0,
            now_ms=now,
        )
        if result.topic_config is None and is_retry_topic(topic):
            result = context.topics.create_topic_in_send_message_back_method(
                topic, 1, PERM_READ | PERM_WRITE, 0, now_ms=now
            )
        if result.topic_config is None:
            reason = f" ({result.reason})" if result.reason else ""
            return make_response(
                request,
                ResponseCode.TOPIC_NOT_EXIST,
                f"topic[{topic}] not exist, apply first please!{reason} {FAQ_URL}",
            )
        if result.created:
            context.persist_topic_creation(topic)
            # Java registers oneway right after an internal creation (see the 4.9.8 frames).
            context.register_now(True)
        return result.topic_config

    def _retry_or_dlq(
        self, request: RemotingCommand, header: SendMessageRequestHeader, queue_id: int
    ) -> tuple[str, int] | RemotingCommand:
        """Java SendMessageProcessor#handleRetryAndDLQ: a retry message that has been reconsumed
        too often goes to `%DLQ%<group>` instead (the retry issue builds on this hook)."""
        context = self._context
        topic = header.topic
        group = topic[len(SystemTopics.RETRY_GROUP_TOPIC_PREFIX) :]
        group_config = context.groups.find_subscription_group_config(group, now_ms=context.clock.now_ms())
        if group_config is None:
            return make_response(
                request,
                ResponseCode.SUBSCRIPTION_GROUP_NOT_EXIST,
                f"subscription group not exist, {group} {FAQ_URL}",
            )
        max_reconsume = (
            header.max_reconsume_times
            if header.max_reconsume_times is not None
            else group_config.retry_max_times
        )
        if (header.reconsume_times or 0) < max_reconsume:
            return topic, queue_id
        created = context.topics.create_dlq_topic(group, now_ms=context.clock.now_ms())
        if created.topic_config is None:
            return make_response(request, ResponseCode.SYSTEM_ERROR, f"topic[{dlq_topic(group)}] not exist")
        if created.created:
            context.persist_topic_creation(created.topic_config.topic_name)
            context.register_now(True)
        return created.topic_config.topic_name, 0

    # -- SEND_MESSAGE / SEND_MESSAGE_V2 ------------------------------------------------------------
    def send_message(
        self, request: RemotingCommand, connection: Connection
    ) -> HandlerResult | Awaitable[HandlerResult]:
        # The V2 header has the same field names: use it as is (no copy to the long-name class).
        header: SendMessageRequestHeader = (
            SendMessageRequestHeaderV2.from_ext_fields(request.ext_fields)  # type: ignore[assignment]
            if request.code == RequestCode.SEND_MESSAGE_V2
            else send_request_header_of(request)
        )
        checked = self._check(request, header, connection)
        if type(checked) is RemotingCommand:
            return checked
        topic_config: TopicConfig = checked  # type: ignore[assignment]
        pending = self._context.pending_topics
        if pending and header.topic in pending:
            return self._after_topic_durable(header.topic, request, connection, self.send_message)
        body = request.body
        if not body:
            return make_response(request, ResponseCode.MESSAGE_ILLEGAL, "the message body is empty")
        topic = header.topic
        queue_id = header.queue_id
        if queue_id < 0:
            queue_id = self._random.randrange(max(topic_config.write_queue_nums, 1))
        if topic[0] == "%" and is_retry_topic(topic):
            routed = self._retry_or_dlq(request, header, queue_id)
            if type(routed) is RemotingCommand:
                return routed
            topic, queue_id = routed  # type: ignore[misc]
        properties = string_to_properties(header.properties) if header.properties else {}
        if topic != header.topic:
            properties.pop(MessageConst.DELAY_TIME_LEVEL, None)
        if properties.get(_TRAN_MSG) == "true" and self._context.config.reject_transaction_message:
            return make_response(
                request,
                ResponseCode.NO_PERMISSION,
                f"the broker[{self._context.broker_host}] sending transaction message is forbidden",
            )
        wait, properties_string = _without_wait(properties, self._cluster)
        message = MessageExt(
            topic=topic,
            body=body,
            flag=header.flag,
            properties=properties,
            queue_id=queue_id,
            sys_flag=header.sys_flag,
            born_timestamp=header.born_timestamp,
            born_host=peer_host(connection),
            reconsume_times=header.reconsume_times or 0,
        )
        if _TRAN_MSG in properties and is_half_message_request(properties, message.reconsume_times):
            # issue 4: a half message waits in RMQ_SYS_TRANS_HALF_TOPIC queue 0 with REAL_TOPIC /
            # REAL_QID until END_TRANSACTION (Java TransactionalMessageBridge#parseHalfMessageInner).
            message, properties_string = half_message(message, wait)
        elif _DELAY in properties:
            # issue 4: park a delayed message in SCHEDULE_TOPIC_XXXX as 4.9.8 writes it.
            message, properties_string = park_delayed(message, properties_string, wait, self._context.store)
        result = self._context.store.append_message(message, properties_string=properties_string)
        if self._sync_flush and result.status is PutMessageStatus.PUT_OK and wait != "false":
            return self._wait_flushed(request, result, queue_id)
        return self._respond(request, result, queue_id)

    async def _after_topic_durable(
        self,
        topic: str,
        request: RemotingCommand,
        connection: Connection,
        again: Callable[[RemotingCommand, Connection], HandlerResult | Awaitable[HandlerResult]],
    ) -> HandlerResult:
        """Answer a send to a just-created topic once topics.json holds it."""
        pending = self._context.pending_topics
        waiter = pending.get(topic)
        if waiter is not None:
            try:
                await asyncio.shield(waiter)
            except Exception as error:
                return make_response(
                    request,
                    ResponseCode.SYSTEM_ERROR,
                    f"writing topics.json for the new topic {topic} failed: {error}",
                )
            if pending.get(topic) is waiter:
                del pending[topic]
        result = again(request, connection)
        if result is None or isinstance(result, RemotingCommand):
            return result
        return await result

    async def _wait_flushed(
        self, request: RemotingCommand, result: PutMessageResult, queue_id: int
    ) -> RemotingCommand:
        result.status = await self._context.store.wait_flushed(result.end_offset)
        return self._respond(request, result, queue_id)

    def _respond(self, request: RemotingCommand, result: PutMessageResult, queue_id: int) -> RemotingCommand:
        status = result.status
        if status in _STORED:
            stats = self._context.stats
            stats.put_message_count += result.message_count
            stats.put_message_bytes += result.wrote_bytes
            code = PUT_STATUS_TO_RESPONSE[status][0]
            # Java HashMap order of the 4.9.8 response extFields.
            ext: dict[str, Any] = {
                "queueId": str(queue_id),
                "TRACE_ON": self._trace_on,
                "MSG_REGION": self._region,
                "msgId": (
                    self._msg_id_prefix + format(result.commit_log_offset, "016X")
                    if result.message_count == 1
                    else result.msg_id
                ),
                "queueOffset": str(result.queue_offset),
            }
            return make_response(request, code, None, ext)
        code, remark = PUT_STATUS_TO_RESPONSE.get(status, (ResponseCode.SYSTEM_ERROR, status.name))
        if result.remark:
            remark = f"{remark} ({result.remark})" if remark else result.remark
        return make_response(request, code, remark)

    # -- SEND_BATCH_MESSAGE ------------------------------------------------------------------------
    def send_batch_message(
        self, request: RemotingCommand, connection: Connection
    ) -> HandlerResult | Awaitable[HandlerResult]:
        header = send_request_header_of(request)
        checked = self._check(request, header, connection)
        if type(checked) is RemotingCommand:
            return checked
        topic_config: TopicConfig = checked  # type: ignore[assignment]
        topic = header.topic
        pending = self._context.pending_topics
        if pending and topic in pending:
            return self._after_topic_durable(topic, request, connection, self.send_batch_message)
        if is_retry_topic(topic):
            return make_response(
                request, ResponseCode.MESSAGE_ILLEGAL, f"batch request does not support retry group {topic}"
            )
        if not request.body:
            return make_response(request, ResponseCode.MESSAGE_ILLEGAL, "the batch body is empty")
        try:
            decoded = decode_batch_body(request.body)
        except (ValueError, UnicodeDecodeError) as error:
            return make_response(request, ResponseCode.MESSAGE_ILLEGAL, f"malformed batch body: {error}")
        queue_id = header.queue_id
        if queue_id < 0:
            queue_id = self._random.randrange(max(topic_config.write_queue_nums, 1))
        batch_properties = string_to_properties(header.properties) if header.properties else {}
        batch_properties[_CLUSTER] = self._cluster
        wait = batch_properties.get(_WAIT)
        born_host = peer_host(connection)
        messages: list[MessageExt] = []
        for flag, body, properties_string in decoded:
            if not body:
                return make_response(
                    request, ResponseCode.MESSAGE_ILLEGAL, f"message {len(messages)} of the batch has no body"
                )
            properties = string_to_properties(properties_string)
            # Java MessageExtBatchEncoder: each inner message keeps its properties and gets the
            # batch's (CLUSTER, WAIT) appended.
            for name, value in batch_properties.items():
                properties.setdefault(name, value)
            messages.append(
                MessageExt(
                    topic=topic,
                    body=body,
                    flag=flag,
                    properties=properties,
                    queue_id=queue_id,
                    sys_flag=header.sys_flag,
                    born_timestamp=header.born_timestamp,
                    born_host=born_host,
                )
            )
        result = self._context.store.append_messages(messages)
        if self._sync_flush and result.status is PutMessageStatus.PUT_OK and wait != "false":
            return self._wait_flushed(request, result, queue_id)
        return self._respond(request, result, queue_id)
