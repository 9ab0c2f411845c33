"""ConsumerManager: the consumer groups a broker knows, their client connections and subscriptions.

Java: ConsumerManager, ConsumerGroupInfo, ClientChannelInfo, DefaultConsumerIdsChangeListener.
Pure bookkeeping: every change returns the connections to tell (NOTIFY_CONSUMER_IDS_CHANGED); the
broker sends those notifications, so this module never does I/O. Decisions take `now_ms`.

Rules: a group exists while it has at least one connection; a heartbeat registers or refreshes a
connection; a closed connection, UNREGISTER_CLIENT or 120 s of silence removes it. Everything fed by
peers is bounded (`groups_max`, `channels_per_group_max`, `subscriptions_per_group_max`).
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from dataclasses import dataclass, field
from typing import Final

from pocketmq.common.filter_expression import SubscriptionData
from pocketmq.protocol.bodies.consumer import ClientConnection
from pocketmq.protocol.bodies.heartbeat import ConsumeFromWhere, ConsumeType, MessageModel

__all__ = [
    "ConsumeType",
    "MessageModel",
    "ConsumeFromWhere",
    "ClientChannelInfo",
    "ConsumerGroupInfo",
    "ConsumerManager",
    "CHANNEL_EXPIRED_TIMEOUT_MS",
]

#: A connection without a heartbeat for this long is dropped (Java: channelExpiredTimeout, 120 s).
CHANNEL_EXPIRED_TIMEOUT_MS: Final = 120_000


@dataclass(slots=True)
class ClientChannelInfo:
    """One client connection of a group (Java ClientChannelInfo)."""

    client_id: str
    client_addr: str
    language: str
    version: int
    last_update_ms: int

    def to_connection(self) -> ClientConnection:
        """Java Connection (GET_CONSUMER_CONNECTION_LIST / GET_PRODUCER_CONNECTION_LIST items)."""
        return ClientConnection(
            client_id=self.client_id,
            client_addr=self.client_addr,
            language=self.language,
            version=self.version,
        )


@dataclass(slots=True)
class ConsumerGroupInfo:
    """Java ConsumerGroupInfo: a group's connections, subscriptions and consume settings."""

    group_name: str
    consume_type: ConsumeType
    message_model: MessageModel
    consume_from_where: ConsumeFromWhere
    channels: dict[Hashable, ClientChannelInfo] = field(default_factory=dict)
    subscriptions: dict[str, SubscriptionData] = field(default_factory=dict)
    last_update_ms: int = 0

    def client_ids(self) -> list[str]:
        return [info.client_id for info in self.channels.values()]

    def update_channel(
        self,
        connection: Hashable,
        info: ClientChannelInfo,
        *,
        consume_type: ConsumeType,
        message_model: MessageModel,
        consume_from_where: ConsumeFromWhere,
        now_ms: int,
    ) -> bool:
        """Java ConsumerGroupInfo#updateChannel: True when the connection is new to the group."""
        self.consume_type = consume_type
        self.message_model = message_model
        self.consume_from_where = consume_from_where
        self.last_update_ms = now_ms
        old = self.channels.get(connection)
        if old is None:
            self.channels[connection] = info
            return True
        if old.client_id != info.client_id:
            old.client_id = info.client_id
        old.last_update_ms = now_ms
        return False

    def update_subscriptions(self, subscriptions: Iterable[SubscriptionData], now_ms: int) -> bool:
        """Java ConsumerGroupInfo#updateSubscription: True when a topic was added or removed; a newer
        subVersion replaces a subscription without counting as a change (as in 4.9.8)."""
        changed = False
        topics: set[str] = set()
        for subscription in subscriptions:
            topics.add(subscription.topic)
            old = self.subscriptions.get(subscription.topic)
            if old is None:
                self.subscriptions[subscription.topic] = subscription
                changed = True
            elif subscription.sub_version > old.sub_version:
                self.subscriptions[subscription.topic] = subscription
        for topic in [topic for topic in self.subscriptions if topic not in topics]:
            del self.subscriptions[topic]
            changed = True
        self.last_update_ms = now_ms
        return changed


class ConsumerManager:
    """group -> ConsumerGroupInfo. Connections are any hashable (the broker uses `Connection`)."""

    def __init__(
        self,
        *,
        groups_max: int = 10_000,
        channels_per_group_max: int = 10_000,
        subscriptions_per_group_max: int = 1_000,
        channel_expired_timeout_ms: int = CHANNEL_EXPIRED_TIMEOUT_MS,
    ) -> None:
        self._groups: dict[str, ConsumerGroupInfo] = {}
        self.groups_max = groups_max
        self.channels_per_group_max = channels_per_group_max
        self.subscriptions_per_group_max = subscriptions_per_group_max
        self.channel_expired_timeout_ms = channel_expired_timeout_ms

    def get(self, group: str) -> ConsumerGroupInfo | None:
        return self._groups.get(group)

    def groups(self) -> list[str]:
        return list(self._groups)

    def subscription(self, group: str, topic: str) -> SubscriptionData | None:
        info = self._groups.get(group)
        return None if info is None else info.subscriptions.get(topic)

    def groups_of_topic(self, topic: str) -> list[str]:
        """Java ConsumerManager#queryTopicConsumeByWho."""
        return [name for name, info in self._groups.items() if topic in info.subscriptions]

    def register(
        self,
        group: str,
        connection: Hashable,
        info: ClientChannelInfo,
        *,
        consume_type: ConsumeType,
        message_model: MessageModel,
        consume_from_where: ConsumeFromWhere,
        subscriptions: list[SubscriptionData],
        now_ms: int,
    ) -> list[Hashable] | None:
        """Java ConsumerManager#registerConsumer. Returns the group's connections to notify when the
        group changed (new connection, topics added or removed), else None. Raises ValueError when
        a bound would be exceeded (the handler answers it; nothing changes)."""
        if len(subscriptions) > self.subscriptions_per_group_max:
            raise ValueError(
                f"{len(subscriptions)} subscriptions in one group; at most "
                f"{self.subscriptions_per_group_max} are accepted"
            )
        group_info = self._groups.get(group)
        if group_info is None:
            if len(self._groups) >= self.groups_max:
                raise ValueError(f"the broker already tracks {self.groups_max} consumer groups")
            group_info = ConsumerGroupInfo(group, consume_type, message_model, consume_from_where)
            self._groups[group] = group_info
        elif (
            connection not in group_info.channels and len(group_info.channels) >= self.channels_per_group_max
        ):
            raise ValueError(f"consumer group {group!r} already has {self.channels_per_group_max} clients")
        new_channel = group_info.update_channel(
            connection,
            info,
            consume_type=consume_type,
            message_model=message_model,
            consume_from_where=consume_from_where,
            now_ms=now_ms,
        )
        changed = group_info.update_subscriptions(subscriptions, now_ms)
        if new_channel or changed:
            return list(group_info.channels)
        return None

    def unregister(self, group: str, connection: Hashable) -> list[Hashable] | None:
        """Java ConsumerManager#unregisterConsumer: the remaining connections to notify, or None when
        the connection was not in the group. An emptied group is removed."""
        group_info = self._groups.get(group)
        if group_info is None or group_info.channels.pop(connection, None) is None:
            return None
        if not group_info.channels:
            del self._groups[group]
        return list(group_info.channels)

    def connection_closed(self, connection: Hashable) -> dict[str, list[Hashable]]:
        """Java ConsumerManager#doChannelCloseEvent: for every group the connection was in, the
        connections left to notify (possibly none); emptied groups are removed."""
        changed: dict[str, list[Hashable]] = {}
        for group in list(self._groups):
            remaining = self.unregister(group, connection)
            if remaining is not None:
                changed[group] = remaining
        return changed

    def scan_inactive(self, now_ms: int) -> tuple[list[Hashable], dict[str, list[Hashable]]]:
        """Java ConsumerManager#scanNotActiveChannel: connections silent for longer than the expiry
        (to close) and, per changed group, the connections to notify."""
        expired: list[Hashable] = []
        changed: dict[str, list[Hashable]] = {}
        for group, group_info in list(self._groups.items()):
            stale = [
                connection
                for connection, info in group_info.channels.items()
                if now_ms - info.last_update_ms > self.channel_expired_timeout_ms
            ]
            for connection in stale:
                del group_info.channels[connection]
                expired.append(connection)
            if stale:
                if not group_info.channels:
                    del self._groups[group]
                changed[group] = list(group_info.channels)
        return expired, changed

    def find_channel(self, group: str, client_id: str) -> Hashable | None:
        group_info = self._groups.get(group)
        if group_info is None:
            return None
        for connection, info in group_info.channels.items():
            if info.client_id == client_id:
                return connection
        return None
