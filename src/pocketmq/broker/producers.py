"""ProducerManager: the producer groups a broker knows and their client connections.

Java: ProducerManager. Filled by HEART_BEAT, emptied by UNREGISTER_CLIENT, connection close and
120 s of silence. Used for GET_PRODUCER_CONNECTION_LIST and, later, transaction check-backs (any
live connection of the group). Pure bookkeeping, bounded.
"""

from __future__ import annotations

from collections.abc import Hashable

from pocketmq.broker.consumers import CHANNEL_EXPIRED_TIMEOUT_MS, ClientChannelInfo

__all__ = ["ProducerManager"]


class ProducerManager:
    def __init__(
        self,
        *,
        groups_max: int = 10_000,
        channels_per_group_max: int = 10_000,
        channel_expired_timeout_ms: int = CHANNEL_EXPIRED_TIMEOUT_MS,
    ) -> None:
        self._groups: dict[str, dict[Hashable, ClientChannelInfo]] = {}
        self.groups_max = groups_max
        self.channels_per_group_max = channels_per_group_max
        self.channel_expired_timeout_ms = channel_expired_timeout_ms

    def groups(self) -> list[str]:
        return list(self._groups)

    def channels(self, group: str) -> dict[Hashable, ClientChannelInfo]:
        return dict(self._groups.get(group, {}))

    def register(self, group: str, connection: Hashable, info: ClientChannelInfo, now_ms: int) -> None:
        """Java ProducerManager#registerProducer. Raises ValueError beyond a bound."""
        channels = self._groups.get(group)
        if channels is None:
            if len(self._groups) >= self.groups_max:
                raise ValueError(f"the broker already tracks {self.groups_max} producer groups")
            channels = self._groups[group] = {}
        old = channels.get(connection)
        if old is None:
            if len(channels) >= self.channels_per_group_max:
                raise ValueError(
                    f"producer group {group!r} already has {self.channels_per_group_max} clients"
                )
            channels[connection] = info
        else:
            old.client_id = info.client_id
            old.last_update_ms = now_ms

    def unregister(self, group: str, connection: Hashable) -> bool:
        channels = self._groups.get(group)
        if channels is None or channels.pop(connection, None) is None:
            return False
        if not channels:
            del self._groups[group]
        return True

    def connection_closed(self, connection: Hashable) -> None:
        for group in list(self._groups):
            self.unregister(group, connection)

    def scan_inactive(self, now_ms: int) -> list[Hashable]:
        """Connections silent longer than the expiry, removed from every group (the caller closes them)."""
        expired: list[Hashable] = []
        for group, channels in list(self._groups.items()):
            for connection, info in list(channels.items()):
                if now_ms - info.last_update_ms > self.channel_expired_timeout_ms:
                    del channels[connection]
                    expired.append(connection)
            if not channels:
                del self._groups[group]
        return expired

    def any_channel(self, group: str) -> Hashable | None:
        channels = self._groups.get(group)
        if not channels:
            return None
        return next(iter(channels))
