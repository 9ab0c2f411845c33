"""HEART_BEAT (34) body: HeartbeatData with its ProducerData and ConsumerData, and the consumer enums.

Java: HeartbeatData, ProducerData, ConsumerData, ConsumeType, MessageModel, ConsumeFromWhere.
Java clients send enum names (CONSUME_PASSIVELY, CLUSTERING, CONSUME_FROM_LAST_OFFSET); the C++ client
sends ordinals (`"consumeType":1,"messageModel":1,"consumeFromWhere":0`), leaves out unitMode and sends
subVersion as a string: all are accepted. Subscriptions are
pocketmq.common.filter_expression.SubscriptionData.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any

from pocketmq.common.filter_expression import SubscriptionData
from pocketmq.protocol.bodies.base import (
    BodyError,
    JsonBody,
    enum_from_wire,
    get_bool,
    get_list,
    get_str,
    require_str,
)

__all__ = [
    "ConsumeType",
    "MessageModel",
    "ConsumeFromWhere",
    "ProducerData",
    "ConsumerData",
    "HeartbeatData",
    "subscription_from_json",
]


class ConsumeType(Enum):
    """Java ConsumeType, in ordinal order: 0 pull (actively), 1 push (passively)."""

    CONSUME_ACTIVELY = "CONSUME_ACTIVELY"
    CONSUME_PASSIVELY = "CONSUME_PASSIVELY"


class MessageModel(Enum):
    """Java MessageModel, in ordinal order."""

    BROADCASTING = "BROADCASTING"
    CLUSTERING = "CLUSTERING"


class ConsumeFromWhere(Enum):
    """Java ConsumeFromWhere, in ordinal order (deprecated members kept: the ordinals matter)."""

    CONSUME_FROM_LAST_OFFSET = "CONSUME_FROM_LAST_OFFSET"
    CONSUME_FROM_LAST_OFFSET_AND_FROM_MIN_WHEN_BOOT_FIRST = (
        "CONSUME_FROM_LAST_OFFSET_AND_FROM_MIN_WHEN_BOOT_FIRST"
    )
    CONSUME_FROM_MIN_OFFSET = "CONSUME_FROM_MIN_OFFSET"
    CONSUME_FROM_MAX_OFFSET = "CONSUME_FROM_MAX_OFFSET"
    CONSUME_FROM_FIRST_OFFSET = "CONSUME_FROM_FIRST_OFFSET"
    CONSUME_FROM_TIMESTAMP = "CONSUME_FROM_TIMESTAMP"


def subscription_from_json(obj: Any, what: str) -> SubscriptionData:
    if not isinstance(obj, dict):
        raise BodyError(f"{what}: a subscription is not an object: {obj!r:.80}")
    try:
        return SubscriptionData.from_json(obj)
    except (KeyError, TypeError, ValueError) as error:
        raise BodyError(f"{what}: bad subscription {obj!r:.120}: {error!r}") from None


@dataclass(frozen=True, slots=True, kw_only=True)
class ProducerData(JsonBody):
    group_name: str  # "groupName"

    def to_json(self) -> dict[str, Any]:
        return {"groupName": self.group_name}

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> ProducerData:
        return cls(group_name=require_str(obj, "groupName", "ProducerData"))


@dataclass(frozen=True, slots=True, kw_only=True)
class ConsumerData(JsonBody):
    group_name: str  # "groupName"
    consume_type: ConsumeType = ConsumeType.CONSUME_PASSIVELY  # "consumeType"
    message_model: MessageModel = MessageModel.CLUSTERING  # "messageModel"
    consume_from_where: ConsumeFromWhere = ConsumeFromWhere.CONSUME_FROM_LAST_OFFSET  # "consumeFromWhere"
    subscriptions: tuple[SubscriptionData, ...] = ()  # "subscriptionDataSet"
    unit_mode: bool = False  # "unitMode"

    def to_json(self) -> dict[str, Any]:
        return {
            "consumeFromWhere": self.consume_from_where.name,
            "consumeType": self.consume_type.name,
            "groupName": self.group_name,
            "messageModel": self.message_model.name,
            "subscriptionDataSet": [subscription.to_json() for subscription in self.subscriptions],
            "unitMode": self.unit_mode,
        }

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> ConsumerData:
        what = "ConsumerData"
        return cls(
            group_name=require_str(obj, "groupName", what),
            consume_type=enum_from_wire(ConsumeType, obj.get("consumeType"), ConsumeType.CONSUME_PASSIVELY),
            message_model=enum_from_wire(MessageModel, obj.get("messageModel"), MessageModel.CLUSTERING),
            consume_from_where=enum_from_wire(
                ConsumeFromWhere, obj.get("consumeFromWhere"), ConsumeFromWhere.CONSUME_FROM_LAST_OFFSET
            ),
            subscriptions=tuple(
                subscription_from_json(item, what) for item in get_list(obj, "subscriptionDataSet", what)
            ),
            unit_mode=get_bool(obj, "unitMode", what),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class HeartbeatData(JsonBody):
    client_id: str  # "clientID"
    producers: tuple[ProducerData, ...] = ()  # "producerDataSet"
    consumers: tuple[ConsumerData, ...] = ()  # "consumerDataSet"

    def to_json(self) -> dict[str, Any]:
        return {
            "clientID": self.client_id,
            "consumerDataSet": [consumer.to_json() for consumer in self.consumers],
            "producerDataSet": [producer.to_json() for producer in self.producers],
        }

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> HeartbeatData:
        what = "HeartbeatData"
        producers = []
        for item in get_list(obj, "producerDataSet", what):
            if not isinstance(item, dict):
                raise BodyError(f"{what}: a producerDataSet item is not an object")
            producers.append(ProducerData.from_json(item))
        consumers = []
        for item in get_list(obj, "consumerDataSet", what):
            if not isinstance(item, dict):
                raise BodyError(f"{what}: a consumerDataSet item is not an object")
            consumers.append(ConsumerData.from_json(item))
        client_id = get_str(obj, "clientID", what)
        if client_id is None:
            raise BodyError(f"{what}: field 'clientID' is missing")
        return cls(client_id=client_id, producers=tuple(producers), consumers=tuple(consumers))
