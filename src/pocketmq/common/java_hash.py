"""Java's `String.hashCode()`, which RocketMQ stores on disk: ConsumeQueue tags codes and IndexFile key
hashes. It runs over UTF-16 code units, so characters outside the BMP count as two.

The polynomial s[0]*31^(n-1) + ... + s[n-1] is evaluated as one `sum(map(mul, units, powers))`
over precomputed powers of 31 (mod 2**32), so that the loop runs in C: about 4x faster than a
Python loop for a 40-character key. The store's C put path (store/_speedups.c) computes the same.
"""

from __future__ import annotations

import operator

__all__ = ["java_string_hash", "index_key_hash", "MAX_FAST_UNITS", "POWERS_OF_31"]

_MASK_32 = 0xFFFFFFFF
#: Keys up to this many UTF-16 units take the map/sum path; longer ones a plain loop.
MAX_FAST_UNITS = 512
#: 31**(MAX_FAST_UNITS-1) ... 31**0 (mod 2**32): the last n of them weigh a key of n units.
POWERS_OF_31 = [pow(31, i, 1 << 32) for i in range(MAX_FAST_UNITS)][::-1]


def java_string_hash(text: str) -> int:
    """The signed 32-bit `String.hashCode()` of `text`."""
    if text.isascii():
        units: bytes | list[int] = text.encode("ascii")
    else:
        raw = text.encode("utf-16-be")
        units = [(raw[i] << 8) | raw[i + 1] for i in range(0, len(raw), 2)]
    n = len(units)
    if n <= MAX_FAST_UNITS:
        h = sum(map(operator.mul, units, POWERS_OF_31[MAX_FAST_UNITS - n :])) & _MASK_32
    else:
        h = 0
        for unit in units:
            h = (h * 31 + unit) & _MASK_32
    return int(h - (1 << 32) if h & 0x80000000 else h)


def index_key_hash(key: str) -> int:
    """IndexFile key hash: `Math.abs(key.hashCode())`, where abs(Integer.MIN_VALUE) stays negative
    in Java; RocketMQ maps that case to 0 (IndexFile#indexKeyHashMethod)."""
    h = java_string_hash(key)
    if h == -(1 << 31):
        return 0
    return abs(h)
