"""Subscription expressions: the tag expression parser and SubscriptionData, shared by client and broker.

Java: FilterAPI#buildSubscriptionData, SubscriptionData, ExpressionType. A tag expression is
`*` (everything) or tags separated by `||`, each trimmed (`"TagA || TagB"`); tags are
case-sensitive. The broker filters on the tag hash codes (Java `String.hashCode()`, what the
ConsumeQueue stores as tags code), so two tags with the same hash both pass there; the client then
checks the exact tag string (`SubscriptionData.matches_tag`), so a collision never reaches a
listener. SQL92 expressions are compiled by the broker only (`pocketmq.broker.filter.sql92`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from pocketmq.common.java_hash import java_string_hash

__all__ = [
    "SUB_ALL",
    "ExpressionType",
    "is_tag_type",
    "parse_tag_expression",
    "SubscriptionData",
    "build_subscription_data",
]

#: Subscribe to every tag. Java: SubscriptionData.SUB_ALL.
SUB_ALL: Final = "*"


class ExpressionType:
    """Java: ExpressionType (plain strings on the wire: `expressionType`)."""

    TAG: Final = "TAG"
    SQL92: Final = "SQL92"


def is_tag_type(expression_type: str | None) -> bool:
    """Java: ExpressionType#isTagType (None and "" mean TAG)."""
    return expression_type is None or expression_type in ("", ExpressionType.TAG)


def parse_tag_expression(sub_string: str | None) -> tuple[str, ...] | None:
    """The tags of `"TagA || TagB"`, in order and without duplicates; None for "everything" (`*`,
    empty or None). Only the exact string "*" means everything, as in Java: `"A || *"` is the tag
    set {"A", "*"}."""
    if sub_string is None or sub_string in ("", SUB_ALL):
        return None
    tags: dict[str, None] = {}
    for part in sub_string.split("||"):
        tag = part.strip()
        if tag:
            tags[tag] = None
    return tuple(tags)


@dataclass(frozen=True, slots=True, kw_only=True)
class SubscriptionData:
    """One topic subscription of a consumer group, as sent in HEART_BEAT and PULL_MESSAGE.

    Wire names (heartbeat `subscriptionDataSet` items): topic, subString, tagsSet, codeSet,
    subVersion, expressionType, classFilterMode.
    """

    topic: str
    #: The expression as the consumer wrote it ("*" for everything). Java: subString.
    sub_string: str = SUB_ALL
    #: TAG or SQL92. Java: expressionType.
    expression_type: str = ExpressionType.TAG
    #: Exact tags (empty: everything). Java: tagsSet.
    tags_set: frozenset[str] = field(default_factory=frozenset)
    #: `java_string_hash` of each tag, what the ConsumeQueue stores. Java: codeSet.
    code_set: frozenset[int] = field(default_factory=frozenset)
    #: Version of the subscription, the client's ms timestamp when it was built. Java: subVersion.
    sub_version: int = 0
    #: Class-filter mode (removed in RocketMQ 5; carried, never evaluated). Java: classFilterMode.
    class_filter_mode: bool = False

    @property
    def is_tag_type(self) -> bool:
        return is_tag_type(self.expression_type)

    @property
    def subscribes_all(self) -> bool:
        """True for a tag subscription to every message (`*`)."""
        return self.is_tag_type and (self.sub_string == SUB_ALL or not self.tags_set)

    def matches_tags_code(self, tags_code: int | None) -> bool:
        """The broker's ConsumeQueue check (Java ExpressionMessageFilter#isMatchedByConsumeQueue for
        tags): a hash match, so it may let a colliding tag through. Non-tag subscriptions pass."""
        if self.class_filter_mode or not self.is_tag_type:
            return True
        if tags_code is None or self.sub_string == SUB_ALL:
            return True
        return _to_int32(tags_code) in self.code_set

    def matches_tag(self, tag: str | None) -> bool:
        """The client's exact check (Java PullAPIWrapper#processPullResult): with a tag set, only
        messages whose tag is in it; a message without a tag does not match."""
        if not self.tags_set or self.class_filter_mode or not self.is_tag_type:
            return True
        return tag is not None and tag in self.tags_set

    def to_json(self) -> dict[str, Any]:
        """The heartbeat JSON shape (Java field names, fastjson's alphabetical order)."""
        return {
            "classFilterMode": self.class_filter_mode,
            "codeSet": sorted(self.code_set),
            "expressionType": self.expression_type,
            "subString": self.sub_string,
            "subVersion": self.sub_version,
            "tagsSet": sorted(self.tags_set),
            "topic": self.topic,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> SubscriptionData:
        """From a heartbeat item; tolerant of missing fields and of numbers sent as strings."""
        tags = frozenset(str(tag) for tag in data.get("tagsSet") or ())
        codes = frozenset(int(code) for code in data.get("codeSet") or ())
        expression_type = data.get("expressionType")
        return cls(
            topic=str(data["topic"]),
            sub_string=str(data.get("subString") if data.get("subString") is not None else SUB_ALL),
            expression_type=str(expression_type) if expression_type else ExpressionType.TAG,
            tags_set=tags,
            code_set=codes,
            sub_version=int(data.get("subVersion") or 0),
            class_filter_mode=_to_bool(data.get("classFilterMode", False)),
        )


def build_subscription_data(
    topic: str,
    sub_string: str | None,
    expression_type: str | None = ExpressionType.TAG,
    *,
    sub_version: int = 0,
) -> SubscriptionData:
    """Java: FilterAPI#build. A tag expression gets its tags and hash codes; an SQL92 expression is
    kept as text (raises ValueError when empty, as Java does)."""
    if is_tag_type(expression_type):
        tags = parse_tag_expression(sub_string)
        if tags is None:
            return SubscriptionData(topic=topic, sub_string=SUB_ALL, sub_version=sub_version)
        return SubscriptionData(
            topic=topic,
            sub_string=sub_string or SUB_ALL,
            tags_set=frozenset(tags),
            code_set=frozenset(java_string_hash(tag) for tag in tags),
            sub_version=sub_version,
        )
    if not sub_string:
        raise ValueError(f"an {expression_type} subscription to {topic!r} needs an expression")
    return SubscriptionData(
        topic=topic,
        sub_string=sub_string,
        expression_type=str(expression_type),
        sub_version=sub_version,
    )


def _to_int32(value: int) -> int:
    # Java: tagsCode.intValue(); a ConsumeQueue stores the tags code as an int64.
    value &= 0xFFFFFFFF
    return value - (1 << 32) if value & 0x80000000 else value


def _to_bool(value: Any) -> bool:
    if isinstance(value, str):
        return value.lower() == "true"
    return bool(value)
