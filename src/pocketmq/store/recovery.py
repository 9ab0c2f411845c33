"""Recovery: make the CommitLog, ConsumeQueues and indexes agree after a restart.

Java: DefaultMessageStore#recover, CommitLog#recoverNormally / recoverAbnormally.

- Clean shutdown (no `abort` file): scan from the end of the last ConsumeQueue unit on.
- Abnormal (`abort` present): scan, checking each record's magic, size and CRC, from the segment
  whose first record is older than the checkpoint (minus 3 s); no checkpoint: from the first.
- The torn tail is cut (and zeroed) at the first bad record of the last segment. A bad record
  with valid data behind it is a mid-log corruption: it is reported with file and position and
  skipped (never dispatched); the store still opens, `pocketmq store verify` names it.
- ConsumeQueue units and index entries at or past the scan start are dropped and rebuilt from the
  scanned records, so that they match the CommitLog exactly.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field

from pocketmq.store.checkpoint import StoreCheckpoint
from pocketmq.store.commit_log.commit_log import CommitLog, ScannedRecord
from pocketmq.store.commit_log.record import (
    END_FILE_MIN_BLANK_BYTES,
    MESSAGE_MAGIC,
    TOTAL_AND_MAGIC,
    check_record,
)
from pocketmq.store.dispatch import ConsumeQueueTable, Dispatcher
from pocketmq.store.index.index_service import IndexService
from pocketmq.store.mapped_file import MappedFile

__all__ = ["RecoveryReport", "recover"]

log = logging.getLogger(__name__)


@dataclass(slots=True)
class RecoveryReport:
    #: True when the last shutdown was clean (no abort file).
    clean: bool
    #: Where the CommitLog scan started and where the data ends.
    scanned_from: int = 0
    commit_log_end: int = 0
    #: Bytes of torn tail cut off.
    truncated_bytes: int = 0
    #: Records dispatched again into ConsumeQueues and the index.
    redispatched_records: int = 0
    #: Mid-log corruptions, each "file at position: reason".
    corruptions: list[str] = field(default_factory=list)


def _first_store_timestamp(mapped: MappedFile) -> int:
    info = check_record(mapped.mm, 0, mapped.mapped_bytes, check_crc=False) if mapped.mm is not None else None
    if info is None or info.size <= 0:
        return 0
    return info.store_timestamp


def _abnormal_scan_start(commit_log: CommitLog, checkpoint: StoreCheckpoint) -> int:
    files = commit_log.files.files
    if not checkpoint.existed:
        return files[0].file_from_offset
    low = checkpoint.value.min_timestamp()
    for mapped in reversed(files):
        stamp = _first_store_timestamp(mapped)
        if 0 < stamp <= low:
            return mapped.file_from_offset
    return files[0].file_from_offset


def _clean_scan_start(commit_log: CommitLog, queues: ConsumeQueueTable) -> int:
    files = commit_log.files.files
    hint = max((queue.max_commit_log_end for queue in queues.queues.values()), default=-1)
    last_start = files[-1].file_from_offset
    if hint < 0:
        return files[0].file_from_offset if not queues.queues else last_start
    mapped = commit_log.files.find(hint)
    if hint == commit_log.files.max_offset or mapped is None:
        return hint if mapped is not None or hint == commit_log.files.max_offset else last_start
    position = hint - mapped.file_from_offset
    info = check_record(mapped.mm, position, mapped.mapped_bytes) if mapped.mm is not None else None
    if info is not None and info.size >= 0:
        return hint
    return last_start


def _followed_by_valid_record(commit_log: CommitLog, offset: int) -> int:
    """Size of the bad record at `offset` when its size field is sane and a valid record follows
    it (a mid-log corruption), else 0 (a torn tail)."""
    mapped = commit_log.files.find(offset)
    if mapped is None or mapped.mm is None:
        return 0
    position = offset - mapped.file_from_offset
    limit = mapped.mapped_bytes
    if limit - position < END_FILE_MIN_BLANK_BYTES:
        return 0
    size, magic = TOTAL_AND_MAGIC.unpack_from(mapped.mm, position)
    if magic != MESSAGE_MAGIC or size < 91 or position + size >= limit:
        return 0
    after = check_record(mapped.mm, position + size, limit)
    return size if after.size > 0 else 0


def _later_segments_hold_data(commit_log: CommitLog, mapped: MappedFile) -> bool:
    """Whether a segment after `mapped` starts with a record (else the bad record is a torn
    tail: the segments after it are only pre-allocated, still zero)."""
    for later in commit_log.files.files:
        if later.file_from_offset <= mapped.file_from_offset or later.mm is None:
            continue
        if check_record(later.mm, 0, later.mapped_bytes, check_crc=False).size != 0:
            return True
    return False


def resume_offset(commit_log: CommitLog, scanned: ScannedRecord) -> int | None:
    """Where reading can go on after the bad record `scanned`: just past it when its size field is
    sane and a valid record follows (a corrupt record), at the next segment when later segments
    hold data (a corrupt rest of a segment), None at a torn tail (the end of the data)."""
    bad = scanned.commit_log_offset
    skip = _followed_by_valid_record(commit_log, bad)
    if skip:
        return bad + skip
    if _later_segments_hold_data(commit_log, scanned.file):
        return scanned.file.file_from_offset + scanned.file.file_size
    return None


def scan_past_corruption(commit_log: CommitLog, start: int) -> Iterator[ScannedRecord]:
    """Every record from `start`, bad ones included (size -1), going on after each bad record
    where recovery does: what `store dump` and `store verify` read."""
    offset: int | None = start
    while offset is not None:
        resume: int | None = None
        for scanned in commit_log.scan(offset):
            yield scanned
            if scanned.info.size < 0:
                resume = resume_offset(commit_log, scanned)
                break
        offset = resume


def recover(
    commit_log: CommitLog,
    queues: ConsumeQueueTable,
    index: IndexService | None,
    dispatcher: Dispatcher,
    checkpoint: StoreCheckpoint,
    *,
    abnormal: bool,
    read_only: bool,
) -> RecoveryReport:
    report = RecoveryReport(clean=not abnormal)
    for queue in queues.queues.values():
        queue.recover()
    files = commit_log.files.files
    if not files:
        if not read_only:
            for queue in queues.queues.values():
                queue.cut_from_commit_log_offset(0)
            if index is not None:
                index.cut(0)
        return report
    if abnormal and not read_only:
        start = _abnormal_scan_start(commit_log, checkpoint)
    else:
        start = _clean_scan_start(commit_log, queues)
    report.scanned_from = start
    if not read_only:
        for queue in queues.queues.values():
            queue.cut_from_commit_log_offset(start)
        if index is not None:
            index.cut(start)
    end = start
    offset = start
    dispatch = dispatcher.dispatch_record
    while True:
        resume_at: int | None = None
        for scanned in commit_log.scan(offset):
            info = scanned.info
            if info.blank:
                end = scanned.file.file_from_offset + scanned.file.file_size
                continue
            if info.size > 0:
                end = scanned.commit_log_offset + info.size
                if not read_only:
                    dispatch(info)
                    report.redispatched_records += 1
                continue
            # A bad record: torn tail, or corruption with data behind it?
            bad = scanned.commit_log_offset
            where = commit_log.describe(bad)
            resume_at = resume_offset(commit_log, scanned)
            segment_end = scanned.file.file_from_offset + scanned.file.file_size
            if resume_at is None:
                end = bad
            elif resume_at == segment_end:
                report.corruptions.append(
                    f"{where}: {info.error} (rest of the segment, {segment_end - bad} bytes, skipped)"
                )
                scanned.file.wrote_position = bad - scanned.file.file_from_offset
            else:
                report.corruptions.append(f"{where}: {info.error} (record skipped)")
            break
        if resume_at is None:
            break
        offset = end = resume_at
    for message in report.corruptions:
        log.error("store recovery: corrupt CommitLog record at %s", message)
    max_offset = commit_log.files.max_offset
    report.commit_log_end = end
    data_end = _data_end(commit_log, end)
    report.truncated_bytes = max(0, data_end - end)
    commit_log.files.truncate(end)
    if max_offset and report.truncated_bytes:
        log.warning(
            "store recovery: cut %d bytes of torn tail at %s",
            report.truncated_bytes,
            commit_log.describe(end),
        )
    commit_log.queue_offsets = {key: queue.max_offset for key, queue in queues.queues.items()}
    dispatcher.dispatched_end = end
    return report


def _data_end(commit_log: CommitLog, end: int) -> int:
    """The position after the last non-zero byte of the segment holding `end` (for reporting)."""
    mapped = commit_log.files.find(end)
    if mapped is None or mapped.mm is None:
        return end
    position = end - mapped.file_from_offset
    tail = mapped.mm[position : min(mapped.mapped_bytes, position + (1 << 20))]
    return end + len(tail.rstrip(b"\x00"))
