"""Offline tools over a store directory: open it read-only with its file sizes inferred, walk its
messages, and verify that every record, ConsumeQueue unit and index entry agree.

Read-only: no lock is taken and nothing is written, so both work beside a running broker (then
the `abort` file exists and units past the visible end of the CommitLog are not errors).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from pocketmq.common.errors import ConfigError, CorruptionError
from pocketmq.common.message import MessageConst, MessageExt
from pocketmq.common.properties import parse_java_properties
from pocketmq.store.commit_log.record import decode_record
from pocketmq.store.config import StoreConfig
from pocketmq.store.consume_queue.unit import BLANK_UNIT_SIZE
from pocketmq.store.dispatch import is_consumable, tags_code_of
from pocketmq.store.index.layout import index_key_hash
from pocketmq.store.message_store import MessageStore
from pocketmq.store.recovery import scan_past_corruption

__all__ = ["infer_config", "open_read_only", "iter_messages", "VerifyReport", "verify_store"]

_SEGMENT = re.compile(r"^\d{20}$")


def _largest_file(directory: Path, pattern: re.Pattern[str], depth: int) -> int:
    if not directory.is_dir():
        return 0
    glob = "/".join(["*"] * depth)
    sizes = [p.stat().st_size for p in directory.glob(glob) if p.is_file() and pattern.match(p.name)]
    return max(sizes, default=0)


def infer_config(root: Path, config_file: Path | None = None) -> StoreConfig:
    """A StoreConfig for `root`: from `config_file` (broker.conf) when given, else file sizes are
    inferred from the files (index files assume maxIndexNum = 4 * maxHashSlotNum, as Java does)."""
    overrides: dict[str, object] = {"store_root_dir": root, "preallocate_next_segment": False}
    if config_file is not None:
        values = parse_java_properties(config_file.read_text(encoding="utf-8"))
        values.pop("storePathRootDir", None)
        return StoreConfig.from_mapping(values, **overrides)
    commit_log_bytes = _largest_file(root / "commitlog", _SEGMENT, 1)
    if commit_log_bytes >= 4096:
        overrides["commit_log_file_bytes"] = commit_log_bytes
    queue_bytes = _largest_file(root / "consumequeue", _SEGMENT, 3)
    if queue_bytes and queue_bytes % 20 == 0:
        overrides["consume_queue_file_bytes"] = queue_bytes
    index_bytes = _largest_file(root / "index", re.compile(r"^\d{17}$"), 1)
    if index_bytes > 40 and (index_bytes - 40) % 84 == 0:
        slots = (index_bytes - 40) // 84
        overrides["index_hash_slot_count"] = slots
        overrides["index_entry_count"] = 4 * slots
    return StoreConfig(**overrides)  # type: ignore[arg-type]


def open_read_only(root: Path, config_file: Path | None = None) -> MessageStore:
    """Open the store in `root` for reading; a directory with neither `commitlog/` nor
    `consumequeue/` is refused, so that a typo in the path does not read as an empty store."""
    if not (root / "commitlog").is_dir() and not (root / "consumequeue").is_dir():
        raise ConfigError(
            f"{root} is not a store directory (no commitlog/ or consumequeue/ in it); "
            "give the broker's storePathRootDir"
        )
    store = MessageStore(infer_config(root, config_file), read_only=True)
    store.open()
    return store


def iter_messages(
    store: MessageStore,
    *,
    topic: str | None = None,
    on_corruption: Callable[[str], None] | None = None,
) -> Iterator[MessageExt]:
    """Every message record of the CommitLog in offset order. A bad record goes to `on_corruption`
    (file, position and reason) and reading goes on after it where recovery does; without a
    callback it raises CorruptionError."""
    commit_log = store.commit_log
    for scanned in scan_past_corruption(commit_log, commit_log.min_offset):
        info = scanned.info
        if info.blank:
            continue
        if info.size < 0:
            where = f"{commit_log.describe(scanned.commit_log_offset)}: {info.error}"
            if on_corruption is None:
                raise CorruptionError(where)
            on_corruption(where)
            continue
        if topic is not None and info.topic != topic:
            continue
        record = commit_log.get_data(scanned.commit_log_offset, info.size)
        assert record is not None
        yield decode_record(record)


@dataclass(slots=True)
class VerifyReport:
    records: int = 0
    consume_queue_units: int = 0
    index_entries: int = 0
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def verify_store(store: MessageStore, *, max_problems: int = 20) -> VerifyReport:
    """Check every record (magic, size, CRC), that each consumable record has its ConsumeQueue
    unit and each unit points at such a record, and that each index entry points at a record with
    a key of that hash."""
    report = VerifyReport()
    live = (store.config.store_root_dir / "abort").exists()
    if live:
        report.notes.append("abort file present: a broker runs (or crashed); the tail may be moving")
    commit_log = store.commit_log
    queues = store.consume_queues
    delay_levels = store.dispatcher.delay_levels_ms
    end = commit_log.max_offset
    # Beside a running broker, a record after the last unit that was seen in its queue may not be
    # dispatched yet (dispatch follows the append in CommitLog order), so its unit is not required.
    # The horizon is per queue: the queues are loaded one after the other while the writer goes on.
    starts: dict[int, tuple[str, int, int, int, int]] = {}
    keys_of: dict[int, set[int]] = {}

    def problem(text: str) -> bool:
        report.problems.append(text)
        return len(report.problems) >= max_problems

    for scanned in scan_past_corruption(commit_log, commit_log.min_offset):
        info = scanned.info
        if info.blank:
            continue
        offset = scanned.commit_log_offset
        if info.size < 0:
            if problem(f"CommitLog {commit_log.describe(offset)}: {info.error}"):
                return report
            continue
        report.records += 1
        properties = info.properties or {}
        tags_code = tags_code_of(info.topic, properties, info.store_timestamp, delay_levels)
        starts[offset] = (info.topic, info.queue_id, info.queue_offset, info.size, tags_code)
        hashes = set()
        uniq = properties.get(MessageConst.UNIQ_CLIENT_MESSAGE_ID_KEYIDX)
        if uniq:
            hashes.add(index_key_hash(f"{info.topic}#{uniq}"))
        for key in (properties.get(MessageConst.KEYS) or "").split(" "):
            if key:
                hashes.add(index_key_hash(f"{info.topic}#{key}"))
        keys_of[offset] = hashes
        if not is_consumable(info.sys_flag):
            continue
        queue = queues.find(info.topic, info.queue_id)
        if live and (queue is None or offset >= queue.max_commit_log_end):
            continue
        if queue is None:
            if problem(f"record at {offset} ({info.topic}/{info.queue_id}) has no ConsumeQueue"):
                return report
            continue
        if info.queue_offset < queue.min_offset:
            continue
        unit = queue.unit_at(info.queue_offset)
        if unit != (offset, info.size, tags_code):
            text = (
                f"record at {offset} ({info.topic}/{info.queue_id} queue offset {info.queue_offset}): "
                f"ConsumeQueue unit is {unit}, expected {(offset, info.size, tags_code)}"
            )
            if problem(text):
                return report
    for (topic, queue_id), queue in sorted(queues.queues.items()):
        for queue_offset in range(queue.min_offset, queue.max_offset):
            unit = queue.unit_at(queue_offset)
            report.consume_queue_units += 1
            if unit is None or unit[1] == BLANK_UNIT_SIZE:
                continue
            offset, size, tags_code = unit
            if offset < commit_log.min_offset:
                continue
            if offset + size > end:
                if live:
                    continue
                text = (
                    f"ConsumeQueue {topic}/{queue_id} unit {queue_offset} points past the CommitLog end {end}"
                )
                if problem(text):
                    return report
                continue
            expected = starts.get(offset)
            if expected != (topic, queue_id, queue_offset, size, tags_code):
                text = (
                    f"ConsumeQueue {topic}/{queue_id} unit {queue_offset} = {unit} does not match the "
                    f"record there: {expected}"
                )
                if problem(text):
                    return report
    if store.index is not None:
        for index_file in store.index.files:
            for number in range(1, index_file.index_count):
                key_hash, offset, _, prev = index_file.entry(number)
                report.index_entries += 1
                if offset < commit_log.min_offset or (live and offset >= end):
                    continue
                record_hashes = keys_of.get(offset)
                if record_hashes is None or key_hash not in record_hashes or not 0 <= prev < number:
                    text = (
                        f"index {index_file.path.name} entry {number} (hash {key_hash}, offset {offset}, "
                        f"prev {prev}) does not match a key of the record there"
                    )
                    if problem(text):
                        return report
    return report
