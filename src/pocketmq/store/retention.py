"""Retention: which CommitLog segments to delete, then the ConsumeQueue and index files that only
point at deleted data (Java CleanCommitLogService, CleanConsumeQueueService).

- At a `deleteWhen` hour, segments whose last write is older than `fileReservedTime` go.
- Disk use above `diskMaxUsedSpaceRatio`: the same, without waiting for the hour.
- Disk use above 85% (Java diskSpaceCleanForciblyRatio): segments go regardless of age.
- A manual request (TRIGGER_DELETE_FILES) acts like the hour.
Never the segment being written; never one a reader holds (the run stops there and retries).
"""

from __future__ import annotations

import datetime as _dt
import os
from dataclasses import dataclass
from pathlib import Path

from pocketmq.store.commit_log.commit_log import CommitLog
from pocketmq.store.dispatch import ConsumeQueueTable
from pocketmq.store.index.index_service import IndexService

__all__ = [
    "RetentionOutcome",
    "is_time_to_delete",
    "disk_used_percent",
    "run_retention",
    "CLEAN_FORCIBLY_PERCENT",
]

CLEAN_FORCIBLY_PERCENT = 85


@dataclass(slots=True)
class RetentionOutcome:
    deleted_segments: int = 0
    deleted_consume_queue_files: int = 0
    deleted_index_files: int = 0
    commit_log_min_offset: int = 0
    reason: str = ""


def is_time_to_delete(delete_when: str, now_ms: int) -> bool:
    hour = _dt.datetime.fromtimestamp(now_ms / 1000).hour
    return any(int(item) == hour for item in delete_when.split(";") if item.strip())


def disk_used_percent(path: Path) -> float:
    stat = os.statvfs(path)
    total = stat.f_blocks * stat.f_frsize
    if total <= 0:
        return -1.0
    free = stat.f_bfree * stat.f_frsize  # Java File#getFreeSpace (reserved blocks count as free)
    return 100.0 * (total - free) / total


def run_retention(
    commit_log: CommitLog,
    queues: ConsumeQueueTable,
    index: IndexService | None,
    *,
    now_ms: int,
    file_reserved_hours: int,
    delete_when: str,
    disk_max_used_space_ratio: int,
    delete_files_batch_max: int,
    disk_used: float,
    manual: bool = False,
) -> RetentionOutcome:
    outcome = RetentionOutcome()
    time_up = is_time_to_delete(delete_when, now_ms)
    space_full = disk_used < 0 or disk_used > disk_max_used_space_ratio
    forcibly = disk_used > CLEAN_FORCIBLY_PERCENT
    if time_up or space_full or manual:
        outcome.reason = "manual" if manual else ("time" if time_up else "disk")
        expired_ms = file_reserved_hours * 3_600_000
        files = commit_log.files.files
        count = 0
        for mapped in files[:-1]:
            if count >= delete_files_batch_max:
                break
            if not (now_ms >= mapped.mtime_ms() + expired_ms or forcibly):
                break
            if mapped.reference_count > 0:
                break  # a reader holds it: try again next run
            count += 1
        if count:
            commit_log.files.delete_first(count)
        outcome.deleted_segments = count
    min_offset = commit_log.min_offset
    outcome.commit_log_min_offset = min_offset
    for queue in queues.queues.values():
        outcome.deleted_consume_queue_files += queue.delete_expired(min_offset)
    if index is not None:
        outcome.deleted_index_files = index.delete_expired(min_offset)
    return outcome
