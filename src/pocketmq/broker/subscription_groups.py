"""SubscriptionGroupManager: consumer-group settings and `config/subscriptionGroup.json`.

Java: SubscriptionGroupManager, SubscriptionGroupConfig. The table starts with RocketMQ's built-in
groups, then the file overrides and extends it. Unknown groups are created on first use when
`autoCreateSubscriptionGroup` is on (and always for `CID_RMQ_SYS_*` groups). Like the topic table,
a change bumps the DataVersion and sets `dirty`; the broker persists (config_manager.py).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

from pocketmq.broker.config_manager import VersionedTable

__all__ = [
    "SubscriptionGroupConfig",
    "SubscriptionGroupManager",
    "TOOLS_CONSUMER_GROUP",
    "FILTERSRV_CONSUMER_GROUP",
    "SELF_TEST_CONSUMER_GROUP",
    "is_system_consumer_group",
]

FILE_NAME = "subscriptionGroup.json"
TOOLS_CONSUMER_GROUP = "TOOLS_CONSUMER"
FILTERSRV_CONSUMER_GROUP = "FILTERSRV_CONSUMER"
SELF_TEST_CONSUMER_GROUP = "SELF_TEST_C_GROUP"
ONS_HTTP_PROXY_GROUP = "CID_ONS-HTTP-PROXY"
CID_ONSAPI_PULL_GROUP = "CID_ONSAPI_PULL"
CID_ONSAPI_PERMISSION_GROUP = "CID_ONSAPI_PERMISSION"
CID_ONSAPI_OWNER_GROUP = "CID_ONSAPI_OWNER"
#: Java: MixAll.CID_RMQ_SYS_PREFIX.
SYSTEM_CONSUMER_GROUP_PREFIX = "CID_RMQ_SYS_"
_BUILT_IN_GROUPS = (
    TOOLS_CONSUMER_GROUP,
    FILTERSRV_CONSUMER_GROUP,
    SELF_TEST_CONSUMER_GROUP,
    ONS_HTTP_PROXY_GROUP,
    CID_ONSAPI_PULL_GROUP,
    CID_ONSAPI_PERMISSION_GROUP,
    CID_ONSAPI_OWNER_GROUP,
)


def is_system_consumer_group(group: str) -> bool:
    """Java: MixAll#isSysConsumerGroup."""
    return group.startswith(SYSTEM_CONSUMER_GROUP_PREFIX)


def _to_bool(value: Any) -> bool:
    if isinstance(value, str):
        return value.lower() == "true"
    return bool(value)


@dataclass(frozen=True, slots=True, kw_only=True)
class SubscriptionGroupConfig:
    """Settings of one consumer group (Java SubscriptionGroupConfig; JSON names in `to_json`)."""

    group_name: str
    #: Pulls are refused when false. Java: consumeEnable (true).
    consume_enable: bool = True
    #: Java: consumeFromMinEnable (true).
    consume_from_min_enable: bool = True
    #: Broadcasting consumers allowed. Java: consumeBroadcastEnable (true).
    consume_broadcast_enable: bool = True
    #: Queues of `%RETRY%<group>`. Java: retryQueueNums (1).
    retry_queue_nums: int = 1
    #: Deliveries before a message goes to `%DLQ%<group>`. Java: retryMaxTimes (16).
    retry_max_times: int = 16
    #: Broker to pull from normally. Java: brokerId (0, the master).
    broker_id: int = 0
    #: Broker to pull from when the group lags. Java: whichBrokerWhenConsumeSlowly (1).
    which_broker_when_consume_slowly: int = 1
    #: Tell consumers when the group changes. Java: notifyConsumerIdsChangedEnable (true).
    notify_consumer_ids_changed_enable: bool = True

    def to_json(self) -> dict[str, Any]:
        return {
            "brokerId": self.broker_id,
            "consumeBroadcastEnable": self.consume_broadcast_enable,
            "consumeEnable": self.consume_enable,
            "consumeFromMinEnable": self.consume_from_min_enable,
            "groupName": self.group_name,
            "notifyConsumerIdsChangedEnable": self.notify_consumer_ids_changed_enable,
            "retryMaxTimes": self.retry_max_times,
            "retryQueueNums": self.retry_queue_nums,
            "whichBrokerWhenConsumeSlowly": self.which_broker_when_consume_slowly,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> SubscriptionGroupConfig:
        """From subscriptionGroup.json or an UPDATE_AND_CREATE_SUBSCRIPTIONGROUP body (tolerant of
        missing fields and of values sent as strings)."""
        defaults = cls(group_name="")
        return cls(
            group_name=str(data["groupName"]),
            consume_enable=_to_bool(data.get("consumeEnable", defaults.consume_enable)),
            consume_from_min_enable=_to_bool(
                data.get("consumeFromMinEnable", defaults.consume_from_min_enable)
            ),
            consume_broadcast_enable=_to_bool(
                data.get("consumeBroadcastEnable", defaults.consume_broadcast_enable)
            ),
            retry_queue_nums=int(data.get("retryQueueNums", defaults.retry_queue_nums)),
            retry_max_times=int(data.get("retryMaxTimes", defaults.retry_max_times)),
            broker_id=int(data.get("brokerId", defaults.broker_id)),
            which_broker_when_consume_slowly=int(
                data.get("whichBrokerWhenConsumeSlowly", defaults.which_broker_when_consume_slowly)
            ),
            notify_consumer_ids_changed_enable=_to_bool(
                data.get("notifyConsumerIdsChangedEnable", defaults.notify_consumer_ids_changed_enable)
            ),
        )


class SubscriptionGroupManager(VersionedTable[SubscriptionGroupConfig]):
    """The consumer groups of one broker. `to_json()` is the file document, also the
    GET_ALL_SUBSCRIPTIONGROUP_CONFIG body (Java SubscriptionGroupWrapper)."""

    TABLE_KEY = "subscriptionGroupTable"

    def __init__(self, config_dir: Path | str, *, auto_create_subscription_group: bool, now_ms: int) -> None:
        built_in = ((name, SubscriptionGroupConfig(group_name=name)) for name in _BUILT_IN_GROUPS)
        super().__init__(config_dir, FILE_NAME, built_in, now_ms=now_ms)
        self._auto_create = auto_create_subscription_group

    # -- persistence: subscriptionGroup.json (or its .bak) merged over the built-in groups ----------
    def entry_from_json(self, name: str, raw: Mapping[str, Any]) -> tuple[str, SubscriptionGroupConfig]:
        return str(name), SubscriptionGroupConfig.from_json({"groupName": name, **raw})

    # -- queries and changes --------------------------------------------------------------------
    @property
    def groups(self) -> Mapping[str, SubscriptionGroupConfig]:
        return MappingProxyType(self._table)

    def get(self, group: str) -> SubscriptionGroupConfig | None:
        """The group's config, without creating it."""
        return self._table.get(group)

    def find_subscription_group_config(self, group: str, *, now_ms: int) -> SubscriptionGroupConfig | None:
        """Java #findSubscriptionGroupConfig: the group's config, created with the defaults when it
        is unknown and auto-creation is on (or it is a CID_RMQ_SYS_ group); None otherwise (the
        broker answers SUBSCRIPTION_GROUP_NOT_EXIST)."""
        config = self._table.get(group)
        if config is None and (self._auto_create or is_system_consumer_group(group)):
            config = SubscriptionGroupConfig(group_name=group)
            self._table[group] = config
            self._changed(now_ms)
        return config

    def update_subscription_group_config(
        self, config: SubscriptionGroupConfig, *, now_ms: int
    ) -> SubscriptionGroupConfig | None:
        """Create or replace (UPDATE_AND_CREATE_SUBSCRIPTIONGROUP); returns the replaced config."""
        old = self._table.get(config.group_name)
        self._table[config.group_name] = config
        self._changed(now_ms)
        return old

    def disable_consume(self, group: str, *, now_ms: int) -> bool:
        """Java #disableConsume (a group reading too slowly)."""
        config = self._table.get(group)
        if config is None:
            return False
        self._table[group] = dataclasses.replace(config, consume_enable=False)
        self._changed(now_ms)
        return True

    def delete_subscription_group_config(self, group: str, *, now_ms: int) -> bool:
        """DELETE_SUBSCRIPTIONGROUP; False when there was no such group."""
        if self._table.pop(group, None) is None:
            return False
        self._changed(now_ms)
        return True
