"""Java's `String.hashCode()`, which RocketMQ stores on disk: ConsumeQueue tags codes and IndexFile key
hashes. It runs over UTF-16 code units, so characters outside the BMP count as two."""

from __future__ import annotations

__all__ = ["java_string_hash", "index_key_hash"]

_MASK_32 = 0xFFFFFFFF


def java_string_hash(text: str) -> int:
    """The signed 32-bit `String.hashCode()` of `text` (s[0]*31^(n-1) + ... + s[n-1])."""
    h = 0
    if text.isascii():
        for byte in text.encode("ascii"):
            h = (h * 31 + byte) & _MASK_32
    else:
        units = text.encode("utf-16-be")
        for i in range(0, len(units), 2):
            h = (h * 31 + ((units[i] << 8) | units[i + 1])) & _MASK_32
    return h - (1 << 32) if h & 0x80000000 else h


def index_key_hash(key: str) -> int:
    """IndexFile key hash: `Math.abs(key.hashCode())`, where abs(Integer.MIN_VALUE) stays negative
    in Java; RocketMQ maps that case to 0 (IndexFile#indexKeyHashMethod)."""
    h = java_string_hash(key)
    if h == -(1 << 31):
        return 0
    return abs(h)
