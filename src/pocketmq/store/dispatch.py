"""Dispatch: from one stored record to its ConsumeQueue unit and index entries, then the
arrival notification (Java CommitLogDispatcherBuildConsumeQueue / BuildIndex, and the
MessageArrivingListener that wakes held pulls).

The put path calls `dispatch` right after the append (no await between); recovery calls it for
every record it replays. Both are idempotent for units and entries already present.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from pocketmq.common.java_hash import java_string_hash
from pocketmq.common.message import MessageConst
from pocketmq.common.sysflag import (
    TRANSACTION_COMMIT_TYPE,
    TRANSACTION_NOT_TYPE,
    transaction_value,
)
from pocketmq.common.topic import SystemTopics
from pocketmq.store.commit_log.record import RecordInfo
from pocketmq.store.consume_queue.consume_queue import ConsumeQueue
from pocketmq.store.index.index_service import IndexService

__all__ = ["MessageArrivingListener", "ConsumeQueueTable", "Dispatcher", "tags_code_of", "is_consumable"]

#: Called after new units were written: (topic, queue_id, max_offset of that queue).
MessageArrivingListener = Callable[[str, int, int], None]

SCHEDULE_TOPIC = SystemTopics.SCHEDULE

_TAGS_CACHE: dict[str, int] = {}


def tags_hash(tags: str) -> int:
    code = _TAGS_CACHE.get(tags)
    if code is None:
        code = java_string_hash(tags)
        if len(_TAGS_CACHE) > 65536:
            _TAGS_CACHE.clear()
        _TAGS_CACHE[tags] = code
    return code


def tags_code_of(
    topic: str, properties: dict[str, str], store_timestamp: int, delay_levels_ms: tuple[int, ...]
) -> int:
    """Java CommitLog#checkMessageAndReturnSize: String.hashCode() of TAGS (0 without tags); for
    SCHEDULE_TOPIC_XXXX the delivery time of the DELAY level."""
    tags = properties.get(MessageConst.TAGS)
    code = tags_hash(tags) if tags else 0
    if topic == SCHEDULE_TOPIC:
        level_text = properties.get(MessageConst.DELAY_TIME_LEVEL)
        if level_text:
            level = min(int(level_text), len(delay_levels_ms))
            if level > 0:
                code = store_timestamp + delay_levels_ms[level - 1]
    return code


def is_consumable(sys_flag: int) -> bool:
    """Plain and committed records get a ConsumeQueue unit; prepared and rolled-back ones do not."""
    kind = transaction_value(sys_flag)
    return kind in (TRANSACTION_NOT_TYPE, TRANSACTION_COMMIT_TYPE)


class ConsumeQueueTable:
    """Every ConsumeQueue of the store, created on first use."""

    __slots__ = (
        "file_bytes",
        "queues",
        "read_only",
        "root",
    )

    def __init__(self, root: Path, file_bytes: int, *, read_only: bool = False) -> None:
        self.root = root
        self.file_bytes = file_bytes
        self.read_only = read_only
        self.queues: dict[tuple[str, int], ConsumeQueue] = {}

    def load(self) -> None:
        if not self.root.is_dir():
            return
        for topic_dir in sorted(self.root.iterdir()):
            if not topic_dir.is_dir():
                continue
            for queue_dir in sorted(topic_dir.iterdir()):
                if queue_dir.is_dir() and queue_dir.name.isdigit():
                    queue = ConsumeQueue(
                        topic_dir.name,
                        int(queue_dir.name),
                        self.root,
                        self.file_bytes,
                        read_only=self.read_only,
                    )
                    queue.load()
                    self.queues[(topic_dir.name, int(queue_dir.name))] = queue

    def find(self, topic: str, queue_id: int) -> ConsumeQueue | None:
        return self.queues.get((topic, queue_id))

    def find_or_create(self, topic: str, queue_id: int) -> ConsumeQueue:
        queue = self.queues.get((topic, queue_id))
        if queue is None:
            queue = ConsumeQueue(topic, queue_id, self.root, self.file_bytes, read_only=self.read_only)
            self.queues[(topic, queue_id)] = queue
        return queue

    def close(self) -> None:
        for queue in self.queues.values():
            queue.close()


class Dispatcher:
    __slots__ = (
        "consume_queues",
        "delay_levels_ms",
        "dispatched_end",
        "index",
        "last_store_timestamp",
        "listeners",
    )

    def __init__(
        self,
        consume_queues: ConsumeQueueTable,
        index: IndexService | None,
        delay_levels_ms: tuple[int, ...],
    ) -> None:
        self.consume_queues = consume_queues
        self.index = index
        self.delay_levels_ms = delay_levels_ms
        self.listeners: list[MessageArrivingListener] = []
        #: Store time of the last dispatched record (for the checkpoint).
        self.last_store_timestamp = 0
        #: End of the last dispatched record: everything before it has its units and entries.
        self.dispatched_end = 0

    def dispatch(  # noqa: PLR0917 (hot path: positional arguments)
        self,
        topic: str,
        queue_id: int,
        queue_offset: int,
        commit_log_offset: int,
        size: int,
        tags_code: int,
        store_timestamp: int,
        sys_flag: int,
        keys: str | None,
        uniq_key: str | None,
        notify: bool = True,
    ) -> None:
        if is_consumable(sys_flag):
            queue = self.consume_queues.queues.get((topic, queue_id))
            if queue is None:
                queue = self.consume_queues.find_or_create(topic, queue_id)
            queue.put(queue_offset, commit_log_offset, size, tags_code)
            if notify and self.listeners:
                for listener in self.listeners:
                    listener(topic, queue_id, queue_offset + 1)
        if self.index is not None and (keys or uniq_key):
            self.index.build_index(topic, keys, uniq_key, commit_log_offset, store_timestamp, sys_flag)
        self.last_store_timestamp = store_timestamp
        self.dispatched_end = commit_log_offset + size

    def dispatch_record(self, info: RecordInfo, *, notify: bool = False) -> None:
        """Dispatch a record read back from the CommitLog (recovery, a tool catching up)."""
        properties = info.properties or {}
        self.dispatch(
            info.topic,
            info.queue_id,
            info.queue_offset,
            info.commit_log_offset,
            info.size,
            tags_code_of(info.topic, properties, info.store_timestamp, self.delay_levels_ms),
            info.store_timestamp,
            info.sys_flag,
            properties.get(MessageConst.KEYS),
            properties.get(MessageConst.UNIQ_CLIENT_MESSAGE_ID_KEYIDX),
            notify=notify,
        )
