"""Message sysFlag bits (Java MessageSysFlag) and pull request sysFlag bits (Java PullSysFlag)."""

from __future__ import annotations

from enum import IntEnum

__all__ = [
    "COMPRESSED",
    "MULTI_TAGS",
    "TRANSACTION_NOT_TYPE",
    "TRANSACTION_PREPARED_TYPE",
    "TRANSACTION_COMMIT_TYPE",
    "TRANSACTION_ROLLBACK_TYPE",
    "BORNHOST_V6",
    "STOREHOSTADDRESS_V6",
    "NEED_UNWRAP",
    "INNER_BATCH",
    "COMPRESSION_TYPE_MASK",
    "CompressionType",
    "transaction_value",
    "reset_transaction_value",
    "compression_type",
    "PullSysFlag",
]

COMPRESSED = 0x1
MULTI_TAGS = 0x2
TRANSACTION_NOT_TYPE = 0x0
TRANSACTION_PREPARED_TYPE = 0x4
TRANSACTION_COMMIT_TYPE = 0x8
TRANSACTION_ROLLBACK_TYPE = 0xC
_TRANSACTION_MASK = 0xC
BORNHOST_V6 = 0x10
STOREHOSTADDRESS_V6 = 0x20
NEED_UNWRAP = 0x40
INNER_BATCH = 0x80
COMPRESSION_TYPE_MASK = 0x700


class CompressionType(IntEnum):
    """Bits 8-10 of the sysFlag when COMPRESSED is set; 0 means zlib (pre-4.9.x producers)."""

    LZ4 = 0x100
    ZSTD = 0x200
    ZLIB = 0x300


def transaction_value(sys_flag: int) -> int:
    return sys_flag & _TRANSACTION_MASK


def reset_transaction_value(sys_flag: int, transaction_type: int) -> int:
    return (sys_flag & ~_TRANSACTION_MASK) | transaction_type


def compression_type(sys_flag: int) -> CompressionType | None:
    """The compression of a body with COMPRESSED set (zlib when the type bits are 0)."""
    if not sys_flag & COMPRESSED:
        return None
    bits = sys_flag & COMPRESSION_TYPE_MASK
    return CompressionType(bits) if bits else CompressionType.ZLIB


class PullSysFlag:
    COMMIT_OFFSET = 0x1
    SUSPEND = 0x2
    SUBSCRIPTION = 0x4
    CLASS_FILTER = 0x8
    LITE_PULL = 0x10

    @staticmethod
    def build(
        *,
        commit_offset: bool,
        suspend: bool,
        subscription: bool,
        class_filter: bool = False,
        lite_pull: bool = False,
    ) -> int:
        flag = 0
        if commit_offset:
            flag |= PullSysFlag.COMMIT_OFFSET
        if suspend:
            flag |= PullSysFlag.SUSPEND
        if subscription:
            flag |= PullSysFlag.SUBSCRIPTION
        if class_filter:
            flag |= PullSysFlag.CLASS_FILTER
        if lite_pull:
            flag |= PullSysFlag.LITE_PULL
        return flag
