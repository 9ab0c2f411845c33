"""IndexService: the list of IndexFiles, writing keys of new messages and answering key queries.

Keys are `topic#UNIQ_KEY` and `topic#k` for each space-separated entry of KEYS; rolled-back
transactional records are not indexed (Java IndexService#buildIndex). Files are named by their
creation time, `yyyyMMddHHmmssSSS`.
"""

from __future__ import annotations

import datetime as _dt
import operator
import re
from pathlib import Path

from pocketmq.common.clock import Clock
from pocketmq.common.sysflag import TRANSACTION_ROLLBACK_TYPE
from pocketmq.store.index.index_file import IndexFile
from pocketmq.store.index.layout import (
    _POW31,
    _POWERS_BY_LENGTH,
    index_key_hash,
    index_key_hash_with_prefix,
    unsigned_hash,
)

__all__ = ["IndexService"]

_TRANSACTION_MASK = 0xC
_mul = operator.mul
_POW31_12 = _POW31[12]
_POWERS_12 = _POWERS_BY_LENGTH[12]
_INDEX_NAME = re.compile(r"^\d{17}$")


def _file_name(now_ms: int) -> str:
    moment = _dt.datetime.fromtimestamp(now_ms / 1000)
    return moment.strftime("%Y%m%d%H%M%S") + f"{now_ms % 1000:03d}"


class IndexService:
    __slots__ = (
        "_prefix_hashes",
        "_uniq_heads",
        "clock",
        "directory",
        "entry_count",
        "files",
        "read_only",
        "slot_count",
    )

    def __init__(
        self, directory: Path, slot_count: int, entry_count: int, clock: Clock, *, read_only: bool = False
    ) -> None:
        self.directory = directory
        self.slot_count = slot_count
        self.entry_count = entry_count
        self.clock = clock
        self.read_only = read_only
        self.files: list[IndexFile] = []
        self._prefix_hashes: dict[str, int] = {}
        self._uniq_heads: dict[str, dict[str, int]] = {}

    def load(self) -> None:
        if not self.directory.is_dir():
            return
        if not self.read_only:
            for leftover in self.directory.glob("*.tmp"):
                leftover.unlink()
        for name in sorted(p.name for p in self.directory.iterdir() if _INDEX_NAME.match(p.name)):
            self.files.append(
                IndexFile(self.directory / name, self.slot_count, self.entry_count, read_only=self.read_only)
            )

    @property
    def end_phy_offset(self) -> int:
        return self.files[-1].end_phy_offset if self.files else 0

    @property
    def end_timestamp(self) -> int:
        return self.files[-1].end_timestamp if self.files else 0

    def _writable(self) -> IndexFile:
        files = self.files
        if files and not files[-1].is_full:
            return files[-1]
        previous = files[-1] if files else None
        self.directory.mkdir(parents=True, exist_ok=True)
        now = self.clock.now_ms()
        while (self.directory / _file_name(now)).exists():
            now += 1
        created = IndexFile(
            self.directory / _file_name(now),
            self.slot_count,
            self.entry_count,
            create=True,
            previous_end_phy_offset=previous.end_phy_offset if previous else 0,
            previous_end_timestamp=previous.end_timestamp if previous else 0,
        )
        files.append(created)
        return created

    def build_index(  # noqa: PLR0917
        self,
        topic: str,
        keys: str | None,
        uniq_key: str | None,
        commit_log_offset: int,
        store_timestamp: int,
        sys_flag: int,
    ) -> None:
        """Index one message (idempotent for replays: offsets below the last indexed are skipped)."""
        if sys_flag & _TRANSACTION_MASK == TRANSACTION_ROLLBACK_TYPE:
            return
        files = self.files
        if files and commit_log_offset < files[-1].end_phy_offset:
            return
        index_file = files[-1] if files and not files[-1].is_full else self._writable()
        prefix = self._prefix_hashes.get(topic)
        if prefix is None:
            prefix = self._prefix_hashes[topic] = unsigned_hash(f"{topic}#")
        if uniq_key:
            h = self.uniq_key_hash(topic, prefix, uniq_key)
            if not index_file.put_key(h, commit_log_offset, store_timestamp):
                index_file = self._writable()
                index_file.put_key(h, commit_log_offset, store_timestamp)
        if keys:
            for key in keys.split(" "):
                if key:
                    key_hash = index_key_hash_with_prefix(prefix, key)
                    if not index_file.put_key(key_hash, commit_log_offset, store_timestamp):
                        index_file = self._writable()
                        index_file.put_key(key_hash, commit_log_offset, store_timestamp)

    def uniq_key_hash(self, topic: str, prefix: int, uniq_key: str) -> int:
        """index_key_hash(f"{topic}#{uniq_key}"), fast. A UNIQ_KEY is a head fixed per producer
        (ip, pid, class-loader hash) and 12 hex digits that change (time, counter), so the hash
        of `topic#head` is cached and only the tail is hashed: h(a+b) = h(a)*31**len(b) + h(b)."""
        n = len(uniq_key)
        if n <= 12 or n > 128 or not uniq_key.isascii():
            return index_key_hash_with_prefix(prefix, uniq_key)
        heads = self._uniq_heads.get(topic)
        if heads is None:
            heads = self._uniq_heads[topic] = {}
        head = uniq_key[:-12]
        base = heads.get(head)
        if base is None:
            if len(heads) > 4096:
                heads.clear()
            base = heads[head] = (prefix * _POW31[n - 12] + unsigned_hash(head)) & 0xFFFFFFFF
        h = (base * _POW31_12 + sum(map(_mul, uniq_key[-12:].encode(), _POWERS_12))) & 0xFFFFFFFF
        if h & 0x80000000:
            return 0 if h == 0x80000000 else 0x100000000 - h
        return int(h)

    def query_offsets(self, topic: str, key: str, max_count: int, begin: int, end: int) -> list[int]:
        """Commit-log offsets of messages indexed under `topic#key` stored within [begin, end],
        newest file first (Java IndexService#queryOffset)."""
        found: list[int] = []
        key_hash = index_key_hash(f"{topic}#{key}")
        for index_file in reversed(self.files):
            if index_file.is_time_matched(begin, end):
                found.extend(index_file.select_offsets(key_hash, max_count - len(found), begin, end))
            if len(found) >= max_count or index_file.begin_timestamp < begin:
                break
        return found

    def cut(self, commit_log_offset: int) -> None:
        """Drop entries at or past `commit_log_offset` (abnormal recovery, before re-dispatch)."""
        while self.files:
            last = self.files[-1]
            last.cut(commit_log_offset)
            if last.index_count <= 1 and len(self.files) > 1:
                self.files.pop().destroy()
                continue
            if last.begin_phy_offset < commit_log_offset or last.index_count > 1 or len(self.files) == 1:
                break

    def delete_expired(self, min_commit_log_offset: int) -> int:
        """Delete files whose entries all point before the CommitLog's min offset (never the
        last one). Java IndexService#deleteExpiredFile."""
        count = 0
        while len(self.files) > 1 and self.files[0].end_phy_offset < min_commit_log_offset:
            self.files.pop(0).destroy()
            count += 1
        return count

    def flush(self) -> None:
        """Blocking: fdatasync the files changed since the last flush."""
        for index_file in self.files:
            if not index_file.flushed:
                index_file.flush()

    def close(self) -> None:
        for index_file in self.files:
            index_file.close()
        self.files = []
