"""StoreCheckpoint: the `checkpoint` file (Java StoreCheckpoint).

A 4096-byte file; big-endian int64 at 0: physic_msg_timestamp (store time of the last record
covered by a CommitLog flush), at 8: logics_msg_timestamp (same for ConsumeQueues), at 16:
index_msg_timestamp (of the last full index file). Abnormal recovery starts its scan from the
segment whose first record is older than the smallest of them (minus 3 s, as Java does).
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass
from pathlib import Path

__all__ = ["CHECKPOINT", "CHECKPOINT_FILE_BYTES", "Checkpoint", "StoreCheckpoint"]

CHECKPOINT = struct.Struct(
    ">q"  # physic_msg_timestamp
    "q"  # logics_msg_timestamp
    "q"  # index_msg_timestamp
)
assert CHECKPOINT.size == 24
CHECKPOINT_FILE_BYTES = 4096


@dataclass(slots=True)
class Checkpoint:
    physic_msg_timestamp: int = 0
    logics_msg_timestamp: int = 0
    index_msg_timestamp: int = 0

    def min_timestamp(self, *, index_safe: bool = False) -> int:
        """Java StoreCheckpoint#getMinTimestamp(Index): the earliest of the timestamps, minus 3 s."""
        low = min(self.physic_msg_timestamp, self.logics_msg_timestamp)
        if index_safe:
            low = min(low, self.index_msg_timestamp)
        return max(low, 0) - 3000


class StoreCheckpoint:
    def __init__(self, path: Path, *, read_only: bool = False) -> None:
        self.path = path
        self.read_only = read_only
        self.existed = path.exists()
        self.value = Checkpoint()
        if self.existed:
            data = path.read_bytes()
            if len(data) >= CHECKPOINT.size:
                self.value = Checkpoint(*CHECKPOINT.unpack_from(data, 0))

    def write(self, value: Checkpoint) -> None:
        """Blocking: write and fsync (worker thread)."""
        assert not self.read_only
        self.value = Checkpoint(
            value.physic_msg_timestamp, value.logics_msg_timestamp, value.index_msg_timestamp
        )
        data = CHECKPOINT.pack(
            value.physic_msg_timestamp, value.logics_msg_timestamp, value.index_msg_timestamp
        )
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            if os.fstat(fd).st_size < CHECKPOINT_FILE_BYTES:
                os.ftruncate(fd, CHECKPOINT_FILE_BYTES)
            os.pwrite(fd, data, 0)
            os.fdatasync(fd)
        finally:
            os.close(fd)
