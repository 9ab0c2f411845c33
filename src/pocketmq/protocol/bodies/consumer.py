"""Bodies of consumer management: LOCK_BATCH_MQ / UNLOCK_BATCH_MQ, GET_CONSUMER_LIST_BY_GROUP,
GET_CONSUMER_CONNECTION_LIST / GET_PRODUCER_CONNECTION_LIST, GET_CONSUME_STATS, QUERY_CONSUME_TIME_SPAN,
offset resets (INVOKE_BROKER_TO_RESET_OFFSET, RESET_CONSUMER_CLIENT_OFFSET), GET_CONSUMER_RUNNING_INFO
and CONSUME_MESSAGE_DIRECTLY results.

Java: LockBatchRequestBody, LockBatchResponseBody, UnlockBatchRequestBody,
GetConsumerListByGroupResponseBody, Connection, ConsumerConnection, ProducerConnection, ConsumeStats,
OffsetWrapper, QueryConsumeTimeSpanBody, QueueTimeSpan, ResetOffsetBody, ConsumerRunningInfo,
ProcessQueueInfo, ConsumeStatus, ConsumeMessageDirectlyResult. fastjson writes maps keyed by MessageQueue
with object keys (`{{"brokerName":..}:{..}}`); `fastjson.loads` reads them and these bodies write them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Self, TypeVar

from pocketmq.common.filter_expression import SubscriptionData
from pocketmq.common.message import MessageQueue
from pocketmq.protocol.bodies.base import (
    JsonBody,
    enum_from_wire,
    get_bool,
    get_float,
    get_int,
    get_list,
    get_object,
    get_object_list,
    get_queue_map,
    get_str,
    json_body,
    json_key,
    message_queue_from_json,
    message_queue_to_json,
    object_item,
    queue_map_items,
    queue_map_to_json,
    require_str,
)
from pocketmq.protocol.bodies.heartbeat import (
    ConsumeFromWhere,
    ConsumeType,
    MessageModel,
    subscription_from_json,
)

__all__ = [
    "LockBatchRequestBody",
    "LockBatchResponseBody",
    "UnlockBatchRequestBody",
    "GetConsumerListByGroupResponseBody",
    "ClientConnection",
    "ConsumerConnection",
    "ProducerConnection",
    "OffsetWrapper",
    "ConsumeStats",
    "QueueTimeSpan",
    "QueryConsumeTimeSpanBody",
    "ResetOffsetBody",
    "ProcessQueueInfo",
    "ConsumeStatus",
    "ConsumerRunningInfo",
    "CMResult",
    "ConsumeMessageDirectlyResult",
]


def _queues(obj: Mapping[str, Any], key: str, what: str) -> tuple[MessageQueue, ...]:
    return tuple(message_queue_from_json(item, what) for item in get_list(obj, key, what))


# ------------------------------------------------------------------------------------------ locks


@dataclass(frozen=True, slots=True, kw_only=True)
class _QueueBatchRequestBody(JsonBody):
    """The fields LOCK_BATCH_MQ and UNLOCK_BATCH_MQ requests share (Java: two classes alike)."""

    consumer_group: str  # "consumerGroup"
    client_id: str  # "clientId"
    queues: tuple[MessageQueue, ...] = ()  # "mqSet"

    def to_json(self) -> dict[str, Any]:
        return {
            "clientId": self.client_id,
            "consumerGroup": self.consumer_group,
            "mqSet": [message_queue_to_json(queue) for queue in self.queues],
        }

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> Self:
        what = cls.__name__
        return cls(
            consumer_group=require_str(obj, "consumerGroup", what),
            client_id=require_str(obj, "clientId", what),
            queues=_queues(obj, "mqSet", what),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class LockBatchRequestBody(_QueueBatchRequestBody):
    """LOCK_BATCH_MQ (41) request: an orderly consumer asks for exclusive queues."""


@dataclass(frozen=True, slots=True, kw_only=True)
class UnlockBatchRequestBody(_QueueBatchRequestBody):
    """UNLOCK_BATCH_MQ (42) request."""


@dataclass(frozen=True, slots=True, kw_only=True)
class LockBatchResponseBody(JsonBody):
    """LOCK_BATCH_MQ response: the queues now locked by the asking client."""

    locked_queues: tuple[MessageQueue, ...] = ()  # "lockOKMQSet"

    def to_json(self) -> dict[str, Any]:
        return {"lockOKMQSet": [message_queue_to_json(queue) for queue in self.locked_queues]}

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> LockBatchResponseBody:
        return cls(locked_queues=_queues(obj, "lockOKMQSet", cls.__name__))


# ------------------------------------------------------------------------------- group members


@dataclass(frozen=True, slots=True, kw_only=True)
class GetConsumerListByGroupResponseBody(JsonBody):
    consumer_ids: tuple[str, ...] = ()  # "consumerIdList"

    def to_json(self) -> dict[str, Any]:
        return {"consumerIdList": list(self.consumer_ids)}

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> GetConsumerListByGroupResponseBody:
        return cls(consumer_ids=tuple(str(item) for item in get_list(obj, "consumerIdList", cls.__name__)))


@dataclass(frozen=True, slots=True, kw_only=True)
class ClientConnection(JsonBody):
    """One client connection of a group (Java protocol.body.Connection)."""

    client_id: str  # "clientId"
    client_addr: str  # "clientAddr"
    #: LanguageCode name as the client sent it in its request header ("JAVA", "CPP", "PYTHON").
    language: str  # "language"
    version: int  # "version"

    def to_json(self) -> dict[str, Any]:
        return {
            "clientAddr": self.client_addr,
            "clientId": self.client_id,
            "language": self.language,
            "version": self.version,
        }

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> ClientConnection:
        what = "Connection"
        return cls(
            client_id=get_str(obj, "clientId", what) or "",
            client_addr=get_str(obj, "clientAddr", what) or "",
            language=get_str(obj, "language", what) or "OTHER",
            version=get_int(obj, "version", what),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class ConsumerConnection(JsonBody):
    """GET_CONSUMER_CONNECTION_LIST (203) response."""

    connections: tuple[ClientConnection, ...] = ()  # "connectionSet"
    #: topic -> subscription. Java: subscriptionTable.
    subscriptions: Mapping[str, SubscriptionData] = field(default_factory=dict)
    consume_type: ConsumeType | None = None  # "consumeType"
    message_model: MessageModel | None = None  # "messageModel"
    consume_from_where: ConsumeFromWhere | None = None  # "consumeFromWhere"

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"connectionSet": [connection.to_json() for connection in self.connections]}
        if self.consume_from_where is not None:
            out["consumeFromWhere"] = self.consume_from_where.name
        if self.consume_type is not None:
            out["consumeType"] = self.consume_type.name
        if self.message_model is not None:
            out["messageModel"] = self.message_model.name
        out["subscriptionTable"] = {topic: data.to_json() for topic, data in self.subscriptions.items()}
        return out

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> ConsumerConnection:
        what = cls.__name__
        return cls(
            connections=get_object_list(obj, "connectionSet", what, ClientConnection.from_json),
            subscriptions={
                str(topic): subscription_from_json(item, what)
                for topic, item in get_object(obj, "subscriptionTable", what).items()
            },
            consume_type=_optional_enum(ConsumeType, obj.get("consumeType")),
            message_model=_optional_enum(MessageModel, obj.get("messageModel")),
            consume_from_where=_optional_enum(ConsumeFromWhere, obj.get("consumeFromWhere")),
        )


_E = TypeVar("_E", bound=Enum)


def _optional_enum(kind: type[_E], value: Any) -> _E | None:
    if value is None:
        return None
    return enum_from_wire(kind, value, next(iter(kind)))


@dataclass(frozen=True, slots=True, kw_only=True)
class ProducerConnection(JsonBody):
    """GET_PRODUCER_CONNECTION_LIST (204) response."""

    connections: tuple[ClientConnection, ...] = ()  # "connectionSet"

    def to_json(self) -> dict[str, Any]:
        return {"connectionSet": [connection.to_json() for connection in self.connections]}

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> ProducerConnection:
        what = cls.__name__
        return cls(connections=get_object_list(obj, "connectionSet", what, ClientConnection.from_json))


# ------------------------------------------------------------------------------------ statistics


@json_body
class OffsetWrapper(JsonBody):
    #: The queue's max offset.
    broker_offset: int = json_key("brokerOffset", default=0)
    #: The group's committed offset.
    consumer_offset: int = json_key("consumerOffset", default=0)
    #: Store time of the last consumed message (ms), 0 if none.
    last_timestamp: int = json_key("lastTimestamp", default=0)


@dataclass(frozen=True, slots=True, kw_only=True)
class ConsumeStats(JsonBody):
    """GET_CONSUME_STATS (208) response (Java admin.ConsumeStats)."""

    offsets: Mapping[MessageQueue, OffsetWrapper] = field(default_factory=dict)  # "offsetTable"
    consume_tps: float = 0.0  # "consumeTps"

    def to_json(self) -> dict[str, Any]:
        return {
            "consumeTps": float(self.consume_tps),
            "offsetTable": queue_map_to_json(self.offsets, OffsetWrapper.to_json),
        }

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> ConsumeStats:
        what = cls.__name__
        return cls(
            offsets=get_queue_map(obj, "offsetTable", what, OffsetWrapper.from_json),
            consume_tps=get_float(obj, "consumeTps", what),
        )

    def total_diff(self) -> int:
        """Java ConsumeStats#computeTotalDiff: messages not yet consumed, over all queues."""
        return sum(wrapper.broker_offset - wrapper.consumer_offset for wrapper in self.offsets.values())


@dataclass(frozen=True, slots=True, kw_only=True)
class QueueTimeSpan(JsonBody):
    queue: MessageQueue  # "messageQueue"
    min_timestamp: int = 0  # "minTimeStamp": store time of the queue's first message
    max_timestamp: int = 0  # "maxTimeStamp": store time of its last message
    consume_timestamp: int = 0  # "consumeTimeStamp": store time at the group's committed offset
    delay_time_ms: int = 0  # "delayTime": max_timestamp - consume_timestamp

    def to_json(self) -> dict[str, Any]:
        return {
            "consumeTimeStamp": self.consume_timestamp,
            "delayTime": self.delay_time_ms,
            "maxTimeStamp": self.max_timestamp,
            "messageQueue": message_queue_to_json(self.queue),
            "minTimeStamp": self.min_timestamp,
        }

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> QueueTimeSpan:
        what = cls.__name__
        return cls(
            queue=message_queue_from_json(obj.get("messageQueue"), what),
            min_timestamp=get_int(obj, "minTimeStamp", what),
            max_timestamp=get_int(obj, "maxTimeStamp", what),
            consume_timestamp=get_int(obj, "consumeTimeStamp", what),
            delay_time_ms=get_int(obj, "delayTime", what),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class QueryConsumeTimeSpanBody(JsonBody):
    """QUERY_CONSUME_TIME_SPAN (303) response."""

    spans: tuple[QueueTimeSpan, ...] = ()  # "consumeTimeSpanSet"

    def to_json(self) -> dict[str, Any]:
        return {"consumeTimeSpanSet": [span.to_json() for span in self.spans]}

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> QueryConsumeTimeSpanBody:
        what = cls.__name__
        return cls(spans=get_object_list(obj, "consumeTimeSpanSet", what, QueueTimeSpan.from_json))


@dataclass(frozen=True, slots=True, kw_only=True)
class ResetOffsetBody(JsonBody):
    """Response of INVOKE_BROKER_TO_RESET_OFFSET and body of RESET_CONSUMER_CLIENT_OFFSET."""

    offsets: Mapping[MessageQueue, int] = field(default_factory=dict)  # "offsetTable"

    def to_json(self) -> dict[str, Any]:
        return {"offsetTable": queue_map_to_json(self.offsets, int)}

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> ResetOffsetBody:
        what = cls.__name__
        offsets = {}
        for queue, value in queue_map_items(obj, "offsetTable", what):
            offsets[queue] = get_int({"offset": value}, "offset", what)
        return cls(offsets=offsets)


# ---------------------------------------------------------------------- running info (to admins)


@json_body
class ProcessQueueInfo(JsonBody):
    commit_offset: int = json_key("commitOffset", default=0)
    cached_msg_min_offset: int = json_key("cachedMsgMinOffset", default=0)
    cached_msg_max_offset: int = json_key("cachedMsgMaxOffset", default=0)
    cached_msg_count: int = json_key("cachedMsgCount", default=0)
    cached_msg_size_mib: int = json_key("cachedMsgSizeInMiB", default=0)
    transaction_msg_min_offset: int = json_key("transactionMsgMinOffset", default=0)
    transaction_msg_max_offset: int = json_key("transactionMsgMaxOffset", default=0)
    transaction_msg_count: int = json_key("transactionMsgCount", default=0)
    locked: bool = json_key("locked", default=False)
    try_unlock_times: int = json_key("tryUnlockTimes", default=0)
    last_lock_timestamp: int = json_key("lastLockTimestamp", default=0)
    dropped: bool = json_key("droped", default=False)  # (sic)
    last_pull_timestamp: int = json_key("lastPullTimestamp", default=0)
    last_consume_timestamp: int = json_key("lastConsumeTimestamp", default=0)


@json_body
class ConsumeStatus(JsonBody):
    pull_rt_ms: float = json_key("pullRT", default=0.0)
    pull_tps: float = json_key("pullTPS", default=0.0)
    consume_rt_ms: float = json_key("consumeRT", default=0.0)
    consume_ok_tps: float = json_key("consumeOKTPS", default=0.0)
    consume_failed_tps: float = json_key("consumeFailedTPS", default=0.0)
    consume_failed_count: int = json_key("consumeFailedMsgs", default=0)


@dataclass(frozen=True, slots=True, kw_only=True)
class ConsumerRunningInfo(JsonBody):
    """GET_CONSUMER_RUNNING_INFO (307) answer of a client (forwarded to admins by the broker)."""

    #: Java Properties: consumer settings and PROP_* keys (all strings).
    properties: Mapping[str, str] = field(default_factory=dict)
    subscriptions: tuple[SubscriptionData, ...] = ()  # "subscriptionSet"
    queues: Mapping[MessageQueue, ProcessQueueInfo] = field(default_factory=dict)  # "mqTable"
    #: topic -> consume status. Java: statusTable.
    status: Mapping[str, ConsumeStatus] = field(default_factory=dict)
    jstack: str | None = None  # "jstack"

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.jstack is not None:
            out["jstack"] = self.jstack
        out["mqTable"] = queue_map_to_json(self.queues, ProcessQueueInfo.to_json)
        out["properties"] = dict(self.properties)
        out["statusTable"] = {topic: self.status[topic].to_json() for topic in sorted(self.status)}
        out["subscriptionSet"] = [subscription.to_json() for subscription in self.subscriptions]
        return out

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> ConsumerRunningInfo:
        what = cls.__name__
        return cls(
            properties={str(key): str(value) for key, value in get_object(obj, "properties", what).items()},
            subscriptions=tuple(
                subscription_from_json(item, what) for item in get_list(obj, "subscriptionSet", what)
            ),
            queues=get_queue_map(obj, "mqTable", what, ProcessQueueInfo.from_json),
            status={
                str(topic): ConsumeStatus.from_json(object_item(value, what))
                for topic, value in get_object(obj, "statusTable", what).items()
            },
            jstack=get_str(obj, "jstack", what),
        )


class CMResult(Enum):
    """Java CMResult: outcome of CONSUME_MESSAGE_DIRECTLY."""

    CR_SUCCESS = "CR_SUCCESS"
    CR_LATER = "CR_LATER"
    CR_ROLLBACK = "CR_ROLLBACK"
    CR_COMMIT = "CR_COMMIT"
    CR_THROW_EXCEPTION = "CR_THROW_EXCEPTION"
    CR_RETURN_NULL = "CR_RETURN_NULL"


@dataclass(frozen=True, slots=True, kw_only=True)
class ConsumeMessageDirectlyResult(JsonBody):
    order: bool = False  # "order"
    auto_commit: bool = True  # "autoCommit"
    consume_result: CMResult | None = None  # "consumeResult"
    remark: str | None = None  # "remark"
    spent_time_ms: int = 0  # "spentTimeMills"

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"autoCommit": self.auto_commit}
        if self.consume_result is not None:
            out["consumeResult"] = self.consume_result.name
        out["order"] = self.order
        if self.remark is not None:
            out["remark"] = self.remark
        out["spentTimeMills"] = self.spent_time_ms
        return out

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> ConsumeMessageDirectlyResult:
        what = cls.__name__
        return cls(
            order=get_bool(obj, "order", what),
            auto_commit=get_bool(obj, "autoCommit", what, default=True),
            consume_result=_optional_enum(CMResult, obj.get("consumeResult")),
            remark=get_str(obj, "remark", what),
            spent_time_ms=get_int(obj, "spentTimeMills", what),
        )
