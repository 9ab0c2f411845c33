"""ConsumerOffsetManager: committed consume offsets of clustering groups, `config/consumerOffset.json`.

Java: ConsumerOffsetManager. Keys are `"topic@group"`, values `{queueId: offset}` where the offset is
the next queue offset the group will consume. The file is written with unquoted integer keys, as the
4.9.8 broker does (`{0:3,1:4}`). Commits are plain dict writes; the broker persists every
`flushConsumerOffsetInterval` (5 s) and at shutdown.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from pocketmq.broker.config_manager import ConfigManager

__all__ = ["ConsumerOffsetManager", "TOPIC_GROUP_SEPARATOR"]

FILE_NAME = "consumerOffset.json"
#: Java: ConsumerOffsetManager.TOPIC_GROUP_SEPARATOR.
TOPIC_GROUP_SEPARATOR = "@"


def _key(topic: str, group: str) -> str:
    return topic + TOPIC_GROUP_SEPARATOR + group


def _split(key: str) -> tuple[str, str] | None:
    # Java splits on "@" and skips keys that do not give exactly two parts.
    parts = key.split(TOPIC_GROUP_SEPARATOR)
    return (parts[0], parts[1]) if len(parts) == 2 else None


class ConsumerOffsetManager(ConfigManager):
    def __init__(self, config_dir: Path | str) -> None:
        super().__init__(config_dir, FILE_NAME)
        self._table: dict[str, dict[int, int]] = {}

    # -- persistence: consumerOffset.json (or its .bak) replaces the table ---------------------------
    def decode(self, document: Mapping[str, Any]) -> None:
        table: dict[str, dict[int, int]] = {}
        for key, offsets in (document.get("offsetTable") or {}).items():
            if isinstance(offsets, Mapping):
                table[str(key)] = {int(queue_id): int(offset) for queue_id, offset in offsets.items()}
        self._table = table

    def to_json(self) -> dict[str, Any]:
        return {"offsetTable": {key: dict(offsets) for key, offsets in self._table.items()}}

    # -- commits and queries --------------------------------------------------------------------
    def commit_offset(self, group: str, topic: str, queue_id: int, offset: int) -> None:
        """UPDATE_CONSUMER_OFFSET or a pull's commit offset. A smaller offset than the stored one
        is accepted (resets move offsets back), as in Java."""
        self._table.setdefault(_key(topic, group), {})[queue_id] = offset
        self.dirty = True

    def query_offset(self, group: str, topic: str, queue_id: int) -> int:
        """QUERY_CONSUMER_OFFSET: the stored offset, or -1 when none (Java returns -1 too; the
        broker then applies the new-group rule)."""
        return self._table.get(_key(topic, group), {}).get(queue_id, -1)

    def query_offsets(self, group: str, topic: str) -> dict[int, int] | None:
        """All queues of (topic, group), or None."""
        offsets = self._table.get(_key(topic, group))
        return dict(offsets) if offsets is not None else None

    @property
    def offset_table(self) -> Mapping[str, Mapping[int, int]]:
        """A copy of the whole table (GET_ALL_CONSUMER_OFFSET)."""
        return {key: dict(offsets) for key, offsets in self._table.items()}

    def which_topic_by_consumer(self, group: str) -> set[str]:
        return {parts[0] for key in self._table if (parts := _split(key)) and parts[1] == group}

    def which_group_by_topic(self, topic: str) -> set[str]:
        return {parts[1] for key in self._table if (parts := _split(key)) and parts[0] == topic}

    def query_min_offset_in_all_group(
        self, topic: str, filter_groups: Iterable[str], min_offset_in_queue: Callable[[int], int]
    ) -> dict[int, int]:
        """Java #queryMinOffsetInAllGroup: per queue of `topic`, the smallest offset of the groups
        not in `filter_groups`, ignoring offsets already below the queue's min offset."""
        skipped = set(filter_groups)
        result: dict[int, int] = {}
        for key, offsets in self._table.items():
            parts = _split(key)
            if parts is None or parts[0] != topic or parts[1] in skipped:
                continue
            for queue_id, offset in offsets.items():
                if offset >= min_offset_in_queue(queue_id):
                    result[queue_id] = min(offset, result.get(queue_id, offset))
        return result

    def clone_offset(self, source_group: str, destination_group: str, topic: str) -> bool:
        """CLONE_GROUP_OFFSET."""
        offsets = self._table.get(_key(topic, source_group))
        if offsets is None:
            return False
        self._table[_key(topic, destination_group)] = dict(offsets)
        self.dirty = True
        return True

    def remove_offset(self, group: str) -> int:
        """Forget every offset of `group` (DELETE_SUBSCRIPTIONGROUP with cleanOffset); returns how
        many topic@group entries went."""
        keys = [key for key in self._table if (parts := _split(key)) and parts[1] == group]
        return self._remove(keys)

    def remove_topic(self, topic: str) -> int:
        """Forget every offset on `topic` (after DELETE_TOPIC_IN_BROKER)."""
        keys = [key for key in self._table if (parts := _split(key)) and parts[0] == topic]
        return self._remove(keys)

    def clean_deleted_topics(self, existing_topics: Iterable[str]) -> int:
        """Forget offsets of topics that no longer exist; returns how many entries went."""
        existing = set(existing_topics)
        keys = [key for key in self._table if (parts := _split(key)) and parts[0] not in existing]
        return self._remove(keys)

    def scan_unsubscribed_topic(
        self,
        is_subscribed: Callable[[str, str], bool],
        min_offset_in_queue: Callable[[str, int], int],
    ) -> int:
        """Java #scanUnsubscribedTopic: drop (topic, group) entries no online consumer subscribes to
        and whose every offset is at or below the queue's min offset (nothing left to consume)."""
        keys = []
        for key, offsets in self._table.items():
            parts = _split(key)
            if parts is None or is_subscribed(parts[1], parts[0]) or not offsets:
                continue
            topic = parts[0]
            if all(offset <= min_offset_in_queue(topic, queue_id) for queue_id, offset in offsets.items()):
                keys.append(key)
        return self._remove(keys)

    def _remove(self, keys: list[str]) -> int:
        for key in keys:
            del self._table[key]
        if keys:
            self.dirty = True
        return len(keys)
