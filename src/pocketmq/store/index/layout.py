"""IndexFile layout (Java IndexHeader, IndexFile) and the index key hashes built on Java String.hashCode().

File = 40-byte header + slot_count int32 slots + entry_count 20-byte entries. Entry 0 is never
used: index_count starts at 1 and a slot value 0 means "empty".
"""

from __future__ import annotations

import operator
import struct
from typing import Final

from pocketmq.common.java_hash import MAX_FAST_UNITS, POWERS_OF_31, index_key_hash, java_string_hash

__all__ = [
    "INDEX_HEADER",
    "INDEX_ENTRY",
    "SLOT",
    "INDEX_HEADER_BYTES",
    "INDEX_ENTRY_BYTES",
    "fast_java_string_hash",
    "index_key_hash",
    "index_key_hash_with_prefix",
    "unsigned_hash",
]

INDEX_HEADER = struct.Struct(
    ">q"  # begin_timestamp: store time of the first entry
    "q"  # end_timestamp: store time of the last entry
    "q"  # begin_phy_offset: commit-log offset of the first entry
    "q"  # end_phy_offset: commit-log offset of the last entry
    "i"  # hash_slot_count: slots in use
    "i"  # index_count: next entry number (starts at 1)
)
assert INDEX_HEADER.size == 40
INDEX_ENTRY = struct.Struct(
    ">i"  # key_hash: abs(String.hashCode()) of "topic#key"
    "q"  # phy_offset: commit-log offset of the message
    "i"  # time_diff: seconds since begin_timestamp
    "i"  # prev_index: previous entry of the same slot (0 = none)
)
assert INDEX_ENTRY.size == 20
SLOT = struct.Struct(">i")
INDEX_HEADER_BYTES: Final = 40
INDEX_ENTRY_BYTES: Final = 20

_MASK = 0xFFFFFFFF
_MAX_FAST = MAX_FAST_UNITS
_POWERS = POWERS_OF_31
#: The one implementation lives in common/java_hash.py; the name stays for the index's callers.
fast_java_string_hash = java_string_hash


_POW31 = [pow(31, n, 1 << 32) for n in range(_MAX_FAST + 1)]
_POWERS_BY_LENGTH = [tuple(_POWERS[_MAX_FAST - n :]) for n in range(129)]


def unsigned_hash(text: str) -> int:
    """String.hashCode() as an unsigned 32-bit value (ASCII fast path)."""
    if text.isascii():
        data = text.encode("ascii")
        n = len(data)
        if n <= 128:
            return int(sum(map(operator.mul, data, _POWERS_BY_LENGTH[n])) & _MASK)
    return fast_java_string_hash(text) & _MASK


def index_key_hash_with_prefix(prefix_hash: int, key: str) -> int:
    """index_key_hash(prefix + key) from the unsigned hash of `prefix` (e.g. "topic#"), which the
    index caches per topic: h(a + b) = h(a) * 31**len(b) + h(b) (mod 2**32)."""
    if not key.isascii() or len(key) > _MAX_FAST:
        return 0 if prefix_hash < 0 else _abs_signed(unsigned_hash_concat(prefix_hash, key))
    h = (prefix_hash * _POW31[len(key)] + unsigned_hash(key)) & _MASK
    return _abs_signed(h)


def unsigned_hash_concat(prefix_hash: int, key: str) -> int:
    units = len(key.encode("utf-16-be")) // 2
    return (prefix_hash * pow(31, units, 1 << 32) + (fast_java_string_hash(key) & _MASK)) & _MASK


def _abs_signed(h: int) -> int:
    if h & 0x80000000:
        h -= 1 << 32
        return 0 if h == -(1 << 31) else -h
    return h
