"""ConsumerFilterManager: the compiled SQL92 filter of each (topic, consumer group), kept in
`config/consumerFilter.json`.

Java: ConsumerFilterManager, ConsumerFilterData. Heartbeats register a group's subscriptions (only
SQL92 ones are kept); a filter whose topic the group no longer subscribes to, or whose group left,
is marked dead and removed `filter_data_clean_time_span_ms` later. After a restart every loaded
filter counts as dead (its consumers must heartbeat again) until it is registered again. Pulls
without the subscription flag use the filter kept here.

Not built: the bloom-filter bitmaps of `enableCalcFilterBitMap`. A `bloomFilterData` read from a
RocketMQ file is kept and written back unchanged; new filters have none (a RocketMQ broker that loads
such a file discards the filters and rebuilds them from heartbeats).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pocketmq.broker.filter.sql92 import Sql92Error, Sql92Filter, compile_sql92
from pocketmq.common.filter_expression import ExpressionType, SubscriptionData, is_tag_type
from pocketmq.store.config_file import ConfigFile, dumps_fastjson_pretty

__all__ = ["ConsumerFilterData", "ConsumerFilterManager", "compile_filter"]

FILE_NAME = "consumerFilter.json"
#: Java: ConsumerFilterManager.MS_24_HOUR, the default of filterDataCleanTimeSpan.
DEFAULT_CLEAN_TIME_SPAN_MS = 24 * 3600 * 1000
#: On load, filters count as dead since 30 s before the load (Java ConsumerFilterManager#decode).
_DEAD_ON_LOAD_MS = 30_000


def compile_filter(expression: str | None, expression_type: str | None) -> Sql92Filter:
    """Compile a non-tag expression (Java FilterFactory#get(type).compile). Raises Sql92Error with
    the reason, which the broker sends as SUBSCRIPTION_PARSE_FAILED."""
    if expression_type != ExpressionType.SQL92:
        raise Sql92Error(f"the filter type {expression_type!r} is not supported; use TAG or SQL92")
    if not expression:
        raise Sql92Error("an SQL92 subscription needs an expression")
    return compile_sql92(expression)


@dataclass(frozen=True, slots=True, kw_only=True)
class ConsumerFilterData:
    """One group's filter on one topic (Java ConsumerFilterData; JSON names in `to_json`)."""

    consumer_group: str
    topic: str
    expression: str
    expression_type: str
    #: When the filter was built, ms. Java: bornTime.
    born_time_ms: int
    #: When its consumers went away, ms; 0 while alive. Java: deadTime.
    dead_time_ms: int = 0
    #: The subscription version the client sent (its subVersion). Java: clientVersion.
    client_version: int = 0
    #: Java BloomFilterData ({"bitNum": n, "bitPos": [...]}), carried unchanged.
    bloom_filter_data: Mapping[str, Any] | None = None
    #: The compiled expression (not persisted; None when a loaded expression no longer compiles).
    compiled: Sql92Filter | None = dataclasses.field(default=None, compare=False)

    @property
    def is_dead(self) -> bool:
        """Java: ConsumerFilterData#isDead (deadTime >= bornTime)."""
        return self.dead_time_ms >= self.born_time_ms

    @classmethod
    def build(
        cls,
        *,
        topic: str,
        consumer_group: str,
        expression: str,
        expression_type: str,
        client_version: int,
        now_ms: int,
    ) -> ConsumerFilterData:
        """Java: ConsumerFilterManager#build; raises Sql92Error when the expression is invalid."""
        compiled = compile_filter(expression, expression_type)
        return cls(
            consumer_group=consumer_group,
            topic=topic,
            expression=expression,
            expression_type=expression_type,
            born_time_ms=now_ms,
            client_version=client_version,
            compiled=compiled,
        )

    def to_json(self) -> dict[str, Any]:
        # fastjson: bean properties in alphabetical order, `dead` from isDead(), nulls left out.
        return {
            "bloomFilterData": dict(self.bloom_filter_data) if self.bloom_filter_data is not None else None,
            "bornTime": self.born_time_ms,
            "clientVersion": self.client_version,
            "consumerGroup": self.consumer_group,
            "dead": self.is_dead,
            "deadTime": self.dead_time_ms,
            "expression": self.expression,
            "expressionType": self.expression_type,
            "topic": self.topic,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ConsumerFilterData:
        expression = str(data.get("expression") or "")
        expression_type = str(data.get("expressionType") or ExpressionType.SQL92)
        try:
            compiled: Sql92Filter | None = compile_filter(expression, expression_type)
        except Sql92Error:
            compiled = None
        bloom = data.get("bloomFilterData")
        return cls(
            consumer_group=str(data.get("consumerGroup") or ""),
            topic=str(data.get("topic") or ""),
            expression=expression,
            expression_type=expression_type,
            born_time_ms=int(data.get("bornTime") or 0),
            dead_time_ms=int(data.get("deadTime") or 0),
            client_version=int(data.get("clientVersion") or 0),
            bloom_filter_data=dict(bloom) if isinstance(bloom, Mapping) else None,
            compiled=compiled,
        )


class ConsumerFilterManager:
    """All SQL92 filters of the broker, by topic then group."""

    def __init__(
        self, config_dir: Path | str, *, clean_time_span_ms: int = DEFAULT_CLEAN_TIME_SPAN_MS
    ) -> None:
        self.config_file = ConfigFile(Path(config_dir) / FILE_NAME)
        self._clean_time_span_ms = clean_time_span_ms
        self._by_topic: dict[str, dict[str, ConsumerFilterData]] = {}
        #: True when something changed since the last encode.
        self.dirty = False

    # -- persistence ----------------------------------------------------------------------------
    def load(self, now_ms: int) -> bool:
        """Read consumerFilter.json (or its .bak); True when a file was read. Every filter loaded
        counts as dead from 30 s before `now_ms` until its group registers again."""
        document = self.config_file.load()
        if not isinstance(document, Mapping):
            return False
        loaded: dict[str, dict[str, ConsumerFilterData]] = {}
        for topic, by_topic in (document.get("filterDataByTopic") or {}).items():
            if not isinstance(by_topic, Mapping):
                continue
            groups: dict[str, ConsumerFilterData] = {}
            for group, raw in (by_topic.get("groupFilterData") or {}).items():
                if not isinstance(raw, Mapping):
                    continue
                data = ConsumerFilterData.from_json(raw)
                if data.dead_time_ms == 0:
                    dead_time = now_ms - _DEAD_ON_LOAD_MS
                    data = dataclasses.replace(data, dead_time_ms=max(dead_time, data.born_time_ms))
                groups[str(group)] = data
            loaded[str(topic)] = groups
        self._by_topic = loaded
        return True

    def encode(self, now_ms: int) -> str:
        """The file text, after removing filters dead for longer than the clean time span (as
        Java's encode does). Clears `dirty`."""
        self.clean(now_ms)
        self.dirty = False
        return self.config_file_text()

    def config_file_text(self) -> str:
        return dumps_fastjson_pretty({"filterDataByTopic": self.to_json()})

    def persist(self, now_ms: int) -> None:
        """Write consumerFilter.json now (blocking: fsync). From async code:
        `text = manager.encode(now)` on the loop, then `config_file.save_text` in a thread."""
        self.config_file.save_text(self.encode(now_ms))

    def to_json(self) -> dict[str, Any]:
        return {
            topic: {
                "groupFilterData": {group: data.to_json() for group, data in groups.items()},
                "topic": topic,
            }
            for topic, groups in self._by_topic.items()
        }

    # -- queries --------------------------------------------------------------------------------
    def get(self, topic: str, consumer_group: str) -> ConsumerFilterData | None:
        return self._by_topic.get(topic, {}).get(consumer_group)

    def get_by_group(self, consumer_group: str) -> list[ConsumerFilterData]:
        return [
            data
            for groups in self._by_topic.values()
            for data in groups.values()
            if data.consumer_group == consumer_group
        ]

    # -- changes --------------------------------------------------------------------------------
    def register_subscriptions(
        self, consumer_group: str, subscriptions: Iterable[SubscriptionData], now_ms: int
    ) -> None:
        """A heartbeat of `consumer_group` (Java ConsumerFilterManager#register(group, subList)):
        register each SQL92 subscription; filters of topics no longer subscribed become dead."""
        subscriptions = list(subscriptions)
        for subscription in subscriptions:
            self.register(
                topic=subscription.topic,
                consumer_group=consumer_group,
                expression=subscription.sub_string,
                expression_type=subscription.expression_type,
                client_version=subscription.sub_version,
                now_ms=now_ms,
            )
        subscribed = {subscription.topic for subscription in subscriptions}
        for data in self.get_by_group(consumer_group):
            if data.topic not in subscribed and not data.is_dead:
                self._put(dataclasses.replace(data, dead_time_ms=now_ms))

    def register(
        self,
        *,
        topic: str,
        consumer_group: str,
        expression: str | None,
        expression_type: str | None,
        client_version: int,
        now_ms: int,
    ) -> bool:
        """Java: FilterDataMapByTopic#register. True when the filter was added, replaced or revived.
        An invalid new expression removes the group's old filter (the client will see the parse
        error on its next pull) and returns False."""
        if is_tag_type(expression_type) or not expression:
            return False
        assert expression_type is not None
        old = self.get(topic, consumer_group)
        if old is not None and client_version <= old.client_version:
            if client_version == old.client_version and old.is_dead:
                self._put(dataclasses.replace(old, dead_time_ms=0))
                return True
            return False
        if old is not None and old.expression == expression and old.expression_type == expression_type:
            self._put(dataclasses.replace(old, client_version=client_version, dead_time_ms=0))
            return True
        try:
            data = ConsumerFilterData.build(
                topic=topic,
                consumer_group=consumer_group,
                expression=expression,
                expression_type=expression_type,
                client_version=client_version,
                now_ms=now_ms,
            )
        except Sql92Error:
            if old is not None:
                self._remove(topic, consumer_group)
            return False
        self._put(data)
        return True

    def unregister(self, consumer_group: str, now_ms: int) -> None:
        """The group's last consumer left (Java #unRegister): its filters become dead."""
        for data in self.get_by_group(consumer_group):
            if not data.is_dead:
                self._put(dataclasses.replace(data, dead_time_ms=now_ms))

    def clean(self, now_ms: int) -> None:
        """Drop filters dead for at least the clean time span, then topics left without filters."""
        for topic in list(self._by_topic):
            groups = self._by_topic[topic]
            for group, data in list(groups.items()):
                if data.is_dead and now_ms - data.dead_time_ms >= self._clean_time_span_ms:
                    del groups[group]
                    self.dirty = True
            if not groups:
                del self._by_topic[topic]
                self.dirty = True

    def _put(self, data: ConsumerFilterData) -> None:
        self._by_topic.setdefault(data.topic, {})[data.consumer_group] = data
        self.dirty = True

    def _remove(self, topic: str, consumer_group: str) -> None:
        groups = self._by_topic.get(topic)
        if groups is not None and groups.pop(consumer_group, None) is not None:
            self.dirty = True
