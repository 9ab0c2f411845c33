"""Consume offsets kept by a consumer: the OffsetStore interface, LocalFileOffsetStore
(broadcasting: a JSON file per client and group) and RemoteBrokerOffsetStore (clustering: an
in-memory table committed to the broker through injected calls). Java: client/consumer/store/.

An offset here is the next queue offset to consume. `read_offset` answers -1 when no offset is
known (OFFSET_NOT_FOUND) and, for the remote store, -2 when the broker could not be asked
(OFFSET_READ_FAILED); the start-offset rule (`consume_from`) treats the two differently.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from collections.abc import Awaitable, Callable, Collection
from enum import Enum
from pathlib import Path
from typing import Final, Protocol

from pocketmq.client.consumer.offset_file import decode_offset_table, encode_offset_table
from pocketmq.common.errors import ClientError, PocketMQError
from pocketmq.common.message import MessageQueue

__all__ = [
    "OFFSET_NOT_FOUND",
    "OFFSET_READ_FAILED",
    "ReadOffsetType",
    "OffsetStore",
    "OffsetTable",
    "LocalFileOffsetStore",
    "RemoteBrokerOffsetStore",
    "QueryOffset",
    "CommitOffset",
    "default_local_offset_store_dir",
    "local_offset_file",
]

log = logging.getLogger(__name__)

#: No offset is stored for the queue (Java readOffset -1).
OFFSET_NOT_FOUND: Final = -1
#: The broker could not be asked (Java RemoteBrokerOffsetStore#readOffset -2).
OFFSET_READ_FAILED: Final = -2

#: Java: LocalFileOffsetStore.LOCAL_OFFSET_STORE_DIR, overridable by -Drocketmq.client.localOffsetStoreDir.
LOCAL_OFFSET_STORE_DIR_ENV: Final = "ROCKETMQ_CLIENT_LOCAL_OFFSET_STORE_DIR"


class ReadOffsetType(Enum):
    """Where `read_offset` looks (Java ReadOffsetType)."""

    READ_FROM_MEMORY = "READ_FROM_MEMORY"
    READ_FROM_STORE = "READ_FROM_STORE"
    MEMORY_FIRST_THEN_STORE = "MEMORY_FIRST_THEN_STORE"


class OffsetStore(Protocol):
    """Java OffsetStore. Memory operations are plain calls; reaching the store is awaited."""

    async def load(self) -> None: ...

    def update_offset(self, queue: MessageQueue, offset: int, *, increase_only: bool) -> None: ...

    async def read_offset(self, queue: MessageQueue, read_type: ReadOffsetType) -> int: ...

    async def persist_all(self, queues: Collection[MessageQueue]) -> None: ...

    async def persist(self, queue: MessageQueue) -> None: ...

    def remove_offset(self, queue: MessageQueue) -> None: ...

    def clone_offset_table(self, topic: str | None = None) -> dict[MessageQueue, int]: ...

    async def update_consume_offset_to_broker(
        self, queue: MessageQueue, offset: int, *, oneway: bool
    ) -> None: ...


class OffsetTable:
    """The in-memory offsets both stores share (Java offsetTable with AtomicLong values)."""

    def __init__(self) -> None:
        self._offsets: dict[MessageQueue, int] = {}

    def update(self, queue: MessageQueue, offset: int, *, increase_only: bool) -> None:
        """Set the offset; with `increase_only`, never move it back (Java compareAndIncreaseOnly)."""
        previous = self._offsets.get(queue)
        if previous is None or not increase_only or offset > previous:
            self._offsets[queue] = offset

    def get(self, queue: MessageQueue) -> int | None:
        return self._offsets.get(queue)

    def read(self, queue: MessageQueue, read_type: ReadOffsetType) -> int | None:
        """What `read_offset` answers without the store: the offset held (unless READ_FROM_STORE),
        OFFSET_NOT_FOUND when READ_FROM_MEMORY finds none; None: ask the store."""
        if read_type is ReadOffsetType.READ_FROM_STORE:
            return None
        offset = self._offsets.get(queue)
        if offset is None and read_type is ReadOffsetType.READ_FROM_MEMORY:
            return OFFSET_NOT_FOUND
        return offset

    def remove(self, queue: MessageQueue) -> None:
        self._offsets.pop(queue, None)

    def items(self) -> list[tuple[MessageQueue, int]]:
        return list(self._offsets.items())

    def clone(self, topic: str | None = None) -> dict[MessageQueue, int]:
        """A copy, of one topic when `topic` is not blank (Java cloneOffsetTable)."""
        if topic is None or not topic.strip():
            return dict(self._offsets)
        return {queue: offset for queue, offset in self._offsets.items() if queue.topic == topic}

    def __len__(self) -> int:
        return len(self._offsets)


class _TableOffsetStore:
    """The memory side both stores share: their `table` (Java offsetTable) and its plain calls."""

    table: OffsetTable

    def update_offset(self, queue: MessageQueue, offset: int, *, increase_only: bool) -> None:
        self.table.update(queue, offset, increase_only=increase_only)

    def remove_offset(self, queue: MessageQueue) -> None:
        self.table.remove(queue)

    def clone_offset_table(self, topic: str | None = None) -> dict[MessageQueue, int]:
        return self.table.clone(topic)


# ---------------------------------------------------------------------------------------------
# Broadcasting: a local file


def default_local_offset_store_dir() -> Path:
    """`~/.rocketmq_offsets`, or $ROCKETMQ_CLIENT_LOCAL_OFFSET_STORE_DIR."""
    configured = os.environ.get(LOCAL_OFFSET_STORE_DIR_ENV)
    return Path(configured) if configured else Path.home() / ".rocketmq_offsets"


def local_offset_file(store_dir: Path, client_id: str, consumer_group: str) -> Path:
    """Java layout: `<dir>/<clientId>/<group>/offsets.json`."""
    return store_dir / client_id / consumer_group / "offsets.json"


class LocalFileOffsetStore(_TableOffsetStore):
    """Broadcasting offsets in `offsets.json` (Java LocalFileOffsetStore), written atomically: the
    new text goes to `offsets.json.tmp` and is fsynced, the previous file is kept as
    `offsets.json.bak`, then the temporary file replaces it. A file that does not parse falls
    back to the `.bak` copy, as Java does."""

    def __init__(self, *, client_id: str, consumer_group: str, store_dir: Path | None = None) -> None:
        self.consumer_group = consumer_group
        self.path = local_offset_file(
            store_dir or default_local_offset_store_dir(), client_id, consumer_group
        )
        self.table = OffsetTable()
        self._file_lock = threading.Lock()

    async def load(self) -> None:
        stored = await asyncio.to_thread(self._read_file)
        for queue, offset in (stored or {}).items():
            self.table.update(queue, offset, increase_only=False)
            log.info("loaded consumer offset %s %s %d", self.consumer_group, queue, offset)

    async def read_offset(self, queue: MessageQueue, read_type: ReadOffsetType) -> int:
        in_memory = self.table.read(queue, read_type)
        if in_memory is not None:
            return in_memory
        try:
            stored = await asyncio.to_thread(self._read_file)
        except ValueError:
            return OFFSET_NOT_FOUND  # neither file nor .bak parses (Java: MQClientException -> -1)
        offset = (stored or {}).get(queue)
        if offset is None:
            return OFFSET_NOT_FOUND
        self.table.update(queue, offset, increase_only=False)
        return offset

    async def persist_all(self, queues: Collection[MessageQueue]) -> None:
        if not queues:
            return
        # Snapshot on the loop: the worker thread never reads the live table.
        await asyncio.to_thread(self._merge_and_write, {q: o for q, o in self.table.items() if q in queues})

    async def persist(self, queue: MessageQueue) -> None:
        offset = self.table.get(queue)
        if offset is not None:
            await asyncio.to_thread(self._merge_and_write, {queue: offset})

    async def update_consume_offset_to_broker(
        self, queue: MessageQueue, offset: int, *, oneway: bool
    ) -> None:
        """Broadcasting offsets never go to the broker (Java: an empty method)."""

    # -- file I/O (runs in a worker thread) ----------------------------------------------------

    def _read_file(self) -> dict[MessageQueue, int] | None:
        """The stored table; None when neither file exists; ValueError if `.bak` does not parse."""
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            text = ""
        if text:
            try:
                return decode_offset_table(text)
            except ValueError as error:
                log.warning("%s does not parse (%s); trying %s.bak", self.path, error, self.path.name)
        try:
            backup = self.path.with_name(self.path.name + ".bak").read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        return decode_offset_table(backup) if backup else None

    def _merge_and_write(self, offsets: dict[MessageQueue, int]) -> None:
        # Java persist/persistAll: read the file, overlay the given offsets, write it back, so that
        # offsets of queues this process does not hold (yet) survive. One writer at a time: two
        # overlapping persists would share the .tmp file.
        with self._file_lock:
            try:
                stored = self._read_file() or {}
            except ValueError as error:
                log.error("not persisting offsets of %s: %s", self.consumer_group, error)
                return
            stored.update(offsets)
            _write_atomically(self.path, encode_offset_table(stored))


def _write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    with open(temporary, "w", encoding="utf-8") as file:
        file.write(text)
        file.flush()
        os.fsync(file.fileno())
    if path.exists():
        backup = path.with_name(path.name + ".bak")
        backup.write_bytes(path.read_bytes())
    os.replace(temporary, path)
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


# ---------------------------------------------------------------------------------------------
# Clustering: the broker, through injected calls

#: Ask the broker for the group's offset of a queue (QUERY_CONSUMER_OFFSET). Raise `ClientError`
#: when the broker answers an error code (QUERY_NOT_FOUND: no offset yet), anything else when the
#: broker cannot be reached.
QueryOffset = Callable[[MessageQueue], Awaitable[int]]
#: Commit an offset to the broker (UPDATE_CONSUMER_OFFSET); `oneway` sends without waiting.
CommitOffset = Callable[[MessageQueue, int, bool], Awaitable[None]]


class RemoteBrokerOffsetStore(_TableOffsetStore):
    """Clustering offsets: an in-memory table, read from and committed to the broker through the
    injected `query_offset` / `commit_offset` calls (Java RemoteBrokerOffsetStore)."""

    def __init__(
        self, *, consumer_group: str, query_offset: QueryOffset, commit_offset: CommitOffset
    ) -> None:
        self.consumer_group = consumer_group
        self.table = OffsetTable()
        self._query_offset = query_offset
        self._commit_offset = commit_offset

    async def load(self) -> None:
        """Nothing to load: offsets are read from the broker when a queue is added."""

    async def read_offset(self, queue: MessageQueue, read_type: ReadOffsetType) -> int:
        in_memory = self.table.read(queue, read_type)
        if in_memory is not None:
            return in_memory
        try:
            offset = await self._query_offset(queue)
        except ClientError:
            return OFFSET_NOT_FOUND  # the broker answered: no offset (Java MQBrokerException)
        except (PocketMQError, OSError, TimeoutError) as error:
            log.warning("cannot read the offset of %s from the broker: %s", queue, error)
            return OFFSET_READ_FAILED
        self.table.update(queue, offset, increase_only=False)
        return offset

    async def persist_all(self, queues: Collection[MessageQueue]) -> None:
        """Commit the offsets of `queues` (oneway, as Java) and forget every other queue."""
        if not queues:
            return
        unused = []
        for queue, offset in self.table.items():
            if queue in queues:
                await self._commit_logged(queue, offset)
            else:
                unused.append(queue)
        for queue in unused:
            self.table.remove(queue)
            log.info("removed unused queue %s of %s", queue, self.consumer_group)

    async def persist(self, queue: MessageQueue) -> None:
        offset = self.table.get(queue)
        if offset is not None:
            await self._commit_logged(queue, offset)

    async def update_consume_offset_to_broker(
        self, queue: MessageQueue, offset: int, *, oneway: bool
    ) -> None:
        """Commit one offset now; errors propagate to the caller."""
        await self._commit_offset(queue, offset, oneway)

    async def _commit_logged(self, queue: MessageQueue, offset: int) -> None:
        try:
            await self._commit_offset(queue, offset, True)
        except (PocketMQError, OSError, TimeoutError) as error:
            log.error("cannot commit offset %d of %s for %s: %s", offset, queue, self.consumer_group, error)
