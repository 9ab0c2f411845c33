"""Bodies of broker administration: GET_TOPIC_STATS_INFO (TopicStatsTable), QUERY_TOPIC_CONSUME_BY_WHO
and GET_ALL_SUBSCRIPTIONGROUP names (GroupList), VIEW_BROKER_STATS_DATA (BrokerStatsData),
QUERY_CONSUME_QUEUE (QueryConsumeQueueResponseBody), GET_ALL_PRODUCER_INFO (ProducerTableInfo) and
QUERY_CORRECTION_OFFSET (QueryCorrectionOffsetBody).

Java: admin.TopicStatsTable, admin.TopicOffset, protocol.body.GroupList, BrokerStatsData, BrokerStatsItem,
QueryConsumeQueueResponseBody, ConsumeQueueData, ProducerTableInfo, ProducerInfo,
QueryCorrectionOffsetBody. Subscription-group configs are the broker's (broker/subscription_groups.py);
route, cluster and KV bodies are the name server's (route.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pocketmq.common.filter_expression import SubscriptionData
from pocketmq.common.message import MessageQueue
from pocketmq.protocol import fastjson
from pocketmq.protocol.bodies.base import (
    BodyError,
    JsonBody,
    get_int,
    get_list,
    get_object,
    get_object_list,
    get_queue_map,
    get_str,
    json_body,
    json_key,
    object_item,
    queue_map_to_json,
)
from pocketmq.protocol.bodies.heartbeat import subscription_from_json

__all__ = [
    "TopicOffset",
    "TopicStatsTable",
    "GroupList",
    "BrokerStatsItem",
    "BrokerStatsData",
    "ConsumeQueueData",
    "QueryConsumeQueueResponseBody",
    "ProducerInfo",
    "ProducerTableInfo",
    "QueryCorrectionOffsetBody",
]


@json_body
class TopicOffset(JsonBody):
    min_offset: int = json_key("minOffset", default=0)
    max_offset: int = json_key("maxOffset", default=0)
    #: Store time of the queue's last message (ms), 0 if empty.
    last_update_timestamp: int = json_key("lastUpdateTimestamp", default=0)


@dataclass(frozen=True, slots=True, kw_only=True)
class TopicStatsTable(JsonBody):
    """GET_TOPIC_STATS_INFO (202) response: min/max offset of every queue of a topic on this broker."""

    offsets: Mapping[MessageQueue, TopicOffset] = field(default_factory=dict)  # "offsetTable"

    def to_json(self) -> dict[str, Any]:
        return {"offsetTable": queue_map_to_json(self.offsets, TopicOffset.to_json)}

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> TopicStatsTable:
        what = cls.__name__
        return cls(offsets=get_queue_map(obj, "offsetTable", what, TopicOffset.from_json))


@dataclass(frozen=True, slots=True, kw_only=True)
class GroupList(JsonBody):
    groups: tuple[str, ...] = ()  # "groupList"

    def to_json(self) -> dict[str, Any]:
        return {"groupList": list(self.groups)}

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> GroupList:
        return cls(groups=tuple(str(item) for item in get_list(obj, "groupList", cls.__name__)))


@json_body
class BrokerStatsItem(JsonBody):
    sum: int = json_key("sum", default=0)
    tps: float = json_key("tps", default=0.0)
    #: Average per operation.
    average: float = json_key("avgpt", default=0.0)


@dataclass(frozen=True, slots=True, kw_only=True)
class BrokerStatsData(JsonBody):
    """VIEW_BROKER_STATS_DATA (315) response."""

    minute: BrokerStatsItem = field(default_factory=BrokerStatsItem)  # "statsMinute"
    hour: BrokerStatsItem = field(default_factory=BrokerStatsItem)  # "statsHour"
    day: BrokerStatsItem = field(default_factory=BrokerStatsItem)  # "statsDay"

    def to_json(self) -> dict[str, Any]:
        return {
            "statsDay": self.day.to_json(),
            "statsHour": self.hour.to_json(),
            "statsMinute": self.minute.to_json(),
        }

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> BrokerStatsData:
        what = cls.__name__
        return cls(
            minute=BrokerStatsItem.from_json(get_object(obj, "statsMinute", what)),
            hour=BrokerStatsItem.from_json(get_object(obj, "statsHour", what)),
            day=BrokerStatsItem.from_json(get_object(obj, "statsDay", what)),
        )


@json_body
class ConsumeQueueData(JsonBody):
    commit_log_offset: int = json_key("physicOffset", default=0)
    message_size: int = json_key("physicSize", default=0)
    tags_code: int = json_key("tagsCode", default=0)
    extend_data_json: str | None = json_key("extendDataJson", default=None)
    bit_map: str | None = json_key("bitMap", default=None)
    #: Whether the group's filter accepts the unit.
    evaluated: bool = json_key("eval", default=False)
    message: str | None = json_key("msg", default=None)


@dataclass(frozen=True, slots=True, kw_only=True)
class QueryConsumeQueueResponseBody(JsonBody):
    """QUERY_CONSUME_QUEUE (321) response: raw ConsumeQueue units, for `mqadmin queryCq`."""

    subscription: SubscriptionData | None = None  # "subscriptionData"
    filter_data: str | None = None  # "filterData"
    units: tuple[ConsumeQueueData, ...] = ()  # "queueData"
    max_queue_index: int = 0  # "maxQueueIndex"
    min_queue_index: int = 0  # "minQueueIndex"

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.filter_data is not None:
            out["filterData"] = self.filter_data
        out["maxQueueIndex"] = self.max_queue_index
        out["minQueueIndex"] = self.min_queue_index
        out["queueData"] = [unit.to_json() for unit in self.units]
        if self.subscription is not None:
            out["subscriptionData"] = self.subscription.to_json()
        return out

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> QueryConsumeQueueResponseBody:
        what = cls.__name__
        subscription = obj.get("subscriptionData")
        return cls(
            subscription=None if subscription is None else subscription_from_json(subscription, what),
            filter_data=get_str(obj, "filterData", what),
            units=get_object_list(obj, "queueData", what, ConsumeQueueData.from_json),
            max_queue_index=get_int(obj, "maxQueueIndex", what),
            min_queue_index=get_int(obj, "minQueueIndex", what),
        )


@json_body
class ProducerInfo(JsonBody):
    client_id: str = json_key("clientId", default="")
    remote_ip: str = json_key("remoteIP", default="")
    #: LanguageCode name.
    language: str = json_key("language", default="OTHER")
    version: int = json_key("version", default=0)
    last_update_timestamp: int = json_key("lastUpdateTimestamp", default=0)


@dataclass(frozen=True, slots=True, kw_only=True)
class ProducerTableInfo(JsonBody):
    """GET_ALL_PRODUCER_INFO (328) response: producer group -> its producers."""

    data: Mapping[str, tuple[ProducerInfo, ...]] = field(default_factory=dict)  # "data"

    def to_json(self) -> dict[str, Any]:
        return {"data": {group: [info.to_json() for info in infos] for group, infos in self.data.items()}}

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> ProducerTableInfo:
        what = cls.__name__
        data: dict[str, tuple[ProducerInfo, ...]] = {}
        for group, infos in get_object(obj, "data", what).items():
            if not isinstance(infos, list):
                raise BodyError(f"{what}: producers of {group!r} are not a list")
            data[str(group)] = tuple(ProducerInfo.from_json(object_item(info, what)) for info in infos)
        return cls(data=data)


@dataclass(frozen=True, slots=True, kw_only=True)
class QueryCorrectionOffsetBody(JsonBody):
    """QUERY_CORRECTION_OFFSET (308) response: queue id -> offset (fastjson writes the int keys bare)."""

    correction_offsets: Mapping[int, int] = field(default_factory=dict)  # "correctionOffsets"

    def to_json(self) -> dict[str, Any]:
        return {"correctionOffsets": dict(self.correction_offsets)}

    def encode(self) -> bytes:
        return fastjson.dumps(self.to_json(), unquoted_int_keys=True)

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> QueryCorrectionOffsetBody:
        what = cls.__name__
        offsets = {}
        for queue_id, offset in get_object(obj, "correctionOffsets", what).items():
            entry = {"queueId": queue_id, "offset": offset}
            offsets[get_int(entry, "queueId", what)] = get_int(entry, "offset", what)
        return cls(correction_offsets=offsets)
