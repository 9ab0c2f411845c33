"""PutPath: the straight-line put of the common message, the store's hot path.

The common message has IPv4 born and store hosts, a topic seen before (its encoded tail is
cached), no DELAY level to park, is not a prepared or rolled-back transaction, and has a record
that fits the current segment's limits. For it, `append` does the whole put in one step: the
CommitLog record written in place, then the queue offset reserved, the ConsumeQueue unit, the
index entries (UNIQ_KEY and each KEYS entry) and the arrival notification; it returns the
PutMessageResult. For any other message it returns None having written nothing, and
MessageStore takes its general path, which gives the same result more slowly.

Two implementations with identical results, file for file:
- this one, pure Python: the reference;
- `_speedups.PutPath` in C (`_speedups.c`), compiled by `pip install` when a C compiler and the
  Python headers are there (an optional setuptools extension). It does the same steps on the same
  objects and calls the same Python methods for the rare cases (a new ConsumeQueue file, an
  index file to roll).
`make_put_path` returns the C one when it was built, unless POCKETMQ_PURE_PYTHON=1 is set or
`accelerated=False` is asked for. tests/store/test_put_path.py runs both on the same messages and
compares the store directories byte for byte.
"""

from __future__ import annotations

import importlib
import os
import zlib
from collections.abc import Callable
from typing import Any, Final, Protocol

from pocketmq.common.message import MessageConst, MessageExt, properties_to_string
from pocketmq.store.commit_log.commit_log import CommitLog
from pocketmq.store.commit_log.record import (
    END_FILE_MIN_BLANK_BYTES,
    MAX_PROPERTIES_BYTES,
    MESSAGE_MAGIC,
    RECORD_FIXED_V4,
)
from pocketmq.store.dispatch import ConsumeQueueTable, Dispatcher, tags_hash
from pocketmq.store.index.index_service import IndexService
from pocketmq.store.results import PutMessageResult, PutMessageStatus

__all__ = ["PutPathLike", "PutPath", "make_put_path", "accelerator_available", "PUT_PATH_IMPLEMENTATIONS"]

_TAGS = MessageConst.TAGS
_KEYS = MessageConst.KEYS
_UNIQ_KEY = MessageConst.UNIQ_CLIENT_MESSAGE_ID_KEYIDX
_DELAY = MessageConst.DELAY_TIME_LEVEL
_PUT_OK = PutMessageStatus.PUT_OK
_pack_fixed = RECORD_FIXED_V4.pack_into
_crc32 = zlib.crc32


class PutPathLike(Protocol):
    #: True while the fast path may take puts (the store is open for writing, IPv4 store host).
    open: bool

    def append(self, message: MessageExt, properties_string: str | None) -> PutMessageResult | None: ...


def _load_accelerator() -> Callable[..., PutPathLike] | None:
    try:
        module = importlib.import_module("pocketmq.store._speedups")
    except ImportError:  # not compiled: the pure-Python twin below serves
        return None
    put_path: Callable[..., PutPathLike] = module.PutPath
    return put_path


_CPutPath = _load_accelerator()
#: The implementations this installation has, "c" first when it was built.
PUT_PATH_IMPLEMENTATIONS: Final = ("c", "python") if _CPutPath is not None else ("python",)


def accelerator_available() -> bool:
    """True when the C put path was built and imports."""
    return _CPutPath is not None


def make_put_path(  # noqa: PLR0917 (the C twin takes the same positional arguments)
    commit_log: CommitLog,
    consume_queues: ConsumeQueueTable,
    index: IndexService | None,
    dispatcher: Dispatcher,
    topic_tails: dict[str, bytes],
    host_cache: dict[str, bytes],
    store_host: tuple[str, int],
    store_ip: bytes,
    max_body_bytes: int,
    max_record_bytes: int,
    schedule_delayed: bool,
    now_ms: Callable[[], int],
    *,
    accelerated: bool = True,
) -> PutPathLike:
    """The C put path if it was built (and not refused by `accelerated=False` or
    POCKETMQ_PURE_PYTHON=1), else the pure-Python one."""
    arguments = (
        commit_log, consume_queues, index, dispatcher, topic_tails, host_cache, store_host, store_ip,
        max_body_bytes, max_record_bytes, schedule_delayed, now_ms,
    )  # fmt: skip
    if accelerated and _CPutPath is not None and os.environ.get("POCKETMQ_PURE_PYTHON") != "1":
        put_path: PutPathLike = _CPutPath(*arguments)
        return put_path
    return PutPath(*arguments)


class PutPath:
    """The pure-Python put path (the reference for `_speedups.PutPath`)."""

    implementation: Final = "python"

    def __init__(  # noqa: PLR0917
        self,
        commit_log: CommitLog,
        consume_queues: ConsumeQueueTable,
        index: IndexService | None,
        dispatcher: Dispatcher,
        topic_tails: dict[str, bytes],
        host_cache: dict[str, bytes],
        store_host: tuple[str, int],
        store_ip: bytes,
        max_body_bytes: int,
        max_record_bytes: int,
        schedule_delayed: bool,
        now_ms: Callable[[], int],
    ) -> None:
        self._commit_log = commit_log
        self._consume_queues = consume_queues
        self._index = index
        self._dispatcher = dispatcher
        self._topic_tails = topic_tails
        self._host_cache = host_cache
        self._store_host = store_host
        self._store_ip = store_ip if len(store_ip) == 4 else bytes(4)
        self._store_port = store_host[1]
        self._max_body_bytes = max_body_bytes
        self._max_record_bytes = max_record_bytes
        self._schedule_delayed = schedule_delayed
        self._now_ms = now_ms
        self.open = False

    def append(self, message: MessageExt, properties_string: str | None) -> PutMessageResult | None:
        """Put `message` and return its result, or None (nothing written) if it is not for the
        fast path. Kept free of calls: it is the hot path."""
        if not self.open:
            return None
        properties = message.properties
        body = message.body
        topic = message.topic
        topic_tail = self._topic_tails.get(topic)
        born_host = message.born_host
        born_ip = self._host_cache.get(born_host[0])
        sys_flag = message.sys_flag
        queue_id = message.queue_id
        if (
            topic_tail is None
            or born_ip is None
            or len(born_ip) != 4
            or sys_flag & 0x4  # prepared or rolled back: no queue offset, no unit
            or queue_id < 0
            or len(body) > self._max_body_bytes
            or (self._schedule_delayed and _DELAY in properties)
        ):
            return None
        if properties_string is None:
            properties_string = properties_to_string(properties)
        properties_bytes = properties_string.encode()
        properties_length = len(properties_bytes)
        body_length = len(body)
        total = 90 + body_length + len(topic_tail) + properties_length  # record_size() for IPv4 hosts
        if properties_length > MAX_PROPERTIES_BYTES or total > self._max_record_bytes:
            return None
        commit_log = self._commit_log
        mapped = commit_log._last
        if mapped is None or mapped.file_size - mapped.wrote_position < total + END_FILE_MIN_BLANK_BYTES:
            mapped = commit_log._writable(total)
        position = mapped.wrote_position
        offset = mapped.file_from_offset + position
        key = (topic, queue_id)
        queue_offsets = commit_log.queue_offsets
        queue_offset = queue_offsets.get(key, 0)
        now = self._now_ms()
        mm: Any = mapped.mm
        _pack_fixed(
            mm, position, total, MESSAGE_MAGIC, _crc32(body) & 0x7FFFFFFF, queue_id, message.flag,
            queue_offset, offset, sys_flag, message.born_timestamp, born_ip, born_host[1], now,
            self._store_ip, self._store_port, message.reconsume_times,
            message.prepared_transaction_offset, body_length,
        )  # fmt: skip
        p = position + 88
        mm[p : p + body_length] = body
        p += body_length
        end = position + total
        mm[p:end] = topic_tail + properties_length.to_bytes(2, "big") + properties_bytes
        # Written: reserve the queue offset and move the positions.
        queue_offsets[key] = queue_offset + 1
        mapped.wrote_position = end
        commit_log.last_store_timestamp = now
        # Dispatch (Java reput): ConsumeQueue unit, index entries, arrival notification.
        tags = properties.get(_TAGS)
        tags_code = tags_hash(tags) if tags else 0
        queue = self._consume_queues.queues.get(key)
        if queue is None:
            queue = self._consume_queues.find_or_create(topic, queue_id)
        queue.put(queue_offset, offset, total, tags_code)
        index = self._index
        if index is not None:
            uniq_key = properties.get(_UNIQ_KEY)
            keys = properties.get(_KEYS)
            if uniq_key or keys:
                index.build_index(topic, keys, uniq_key, offset, now, sys_flag)
        dispatcher = self._dispatcher
        dispatcher.last_store_timestamp = now
        dispatcher.dispatched_end = offset + total
        for listener in dispatcher.listeners:
            listener(topic, queue_id, queue_offset + 1)
        return PutMessageResult(_PUT_OK, offset, total, queue_offset, now, 1, self._store_host)
