"""The 20-byte ConsumeQueue unit (Java ConsumeQueue.CQ_STORE_UNIT_SIZE)."""

from __future__ import annotations

import struct
from typing import Final

__all__ = ["CQ_UNIT", "CQ_UNIT_BYTES", "BLANK_UNIT_SIZE", "pack_unit", "unpack_units"]

# ConsumeQueue unit. Layout: PROTOCOL.md "ConsumeQueue unit".
CQ_UNIT = struct.Struct(
    ">q"  # commit_log_offset
    "i"  # message size (total record size)
    "q"  # tags_code: Java String.hashCode() of TAGS; delivery time in SCHEDULE_TOPIC_XXXX
)
assert CQ_UNIT.size == 20
CQ_UNIT_BYTES: Final = 20
#: A unit written in front of the first real one of a queue that starts past 0 (Java fillPreBlank).
BLANK_UNIT_SIZE: Final = 0x7FFFFFFF


def pack_unit(commit_log_offset: int, size: int, tags_code: int) -> bytes:
    return CQ_UNIT.pack(commit_log_offset, size, tags_code)


def unpack_units(data: bytes) -> list[tuple[int, int, int]]:
    """Every whole unit of `data`, as (commit_log_offset, size, tags_code)."""
    whole = len(data) - len(data) % CQ_UNIT_BYTES
    return list(CQ_UNIT.iter_unpack(data[:whole]))
