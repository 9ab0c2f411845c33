"""CommitLog record: the 4.x on-disk and on-wire layout of one stored message (pure, no I/O).

Java: CommitLog.MessageExtEncoder / DefaultAppendMessageCallback (writer), MessageDecoder (reader),
CommitLog#checkMessageAndReturnSize (recovery). Fields, big-endian, in order:

     1 TOTALSIZE int32          9 BORNTIMESTAMP int64          15 PREPAREDTRANSACTIONOFFSET int64
     2 MAGICCODE int32         10 BORNHOST 4+4 (16+4 if V6)    16 BODY int32 length + bytes
     3 BODYCRC int32           11 STORETIMESTAMP int64         17 TOPIC int8 length + bytes
     4 QUEUEID int32           12 STOREHOSTADDRESS 4+4 (16+4)  18 PROPERTIES int16 length + bytes
     5 FLAG int32              13 RECONSUMETIMES int32
     6 QUEUEOFFSET int64       14 (see 15)
     7 PHYSICALOFFSET int64
     8 SYSFLAG int32

A segment that cannot hold the next record ends with a blank record: TOTALSIZE = bytes left in the
file, MAGICCODE = BLANK_MAGIC (Java END_FILE_MIN_BLANK_LENGTH = 8: a record always leaves room for it).
The PULL_MESSAGE body is records concatenated: `decode_records` turns it into MessageExt values.
"""

from __future__ import annotations

import ipaddress
import mmap
import struct
import zlib
from dataclasses import dataclass
from typing import Final, TypeAlias

from pocketmq.common.errors import CorruptionError
from pocketmq.common.message import MessageConst, MessageExt, properties_to_string, string_to_properties
from pocketmq.common.message_id import create_offset_msg_id
from pocketmq.common.sysflag import BORNHOST_V6, STOREHOSTADDRESS_V6

__all__ = [
    "MESSAGE_MAGIC",
    "BLANK_MAGIC",
    "END_FILE_MIN_BLANK_BYTES",
    "RECORD_HEAD",
    "RECORD_FIXED_V4",
    "BLANK_RECORD",
    "body_crc",
    "record_size",
    "host_bytes",
    "encode_record",
    "encode_record_into",
    "decode_record",
    "decode_records",
    "read_store_timestamp",
    "record_properties",
    "Buffer",
    "RecordInfo",
    "check_record",
    "MAX_TOPIC_BYTES",
    "MAX_PROPERTIES_BYTES",
]

MESSAGE_MAGIC: Final = -626843481  # 0xDAA320A7 as a Java int
BLANK_MAGIC: Final = -875286124  # 0xCBD43194
END_FILE_MIN_BLANK_BYTES: Final = 8
MAX_TOPIC_BYTES: Final = 127
MAX_PROPERTIES_BYTES: Final = 32767

# Fields 1-9: the part before the born host, the same in every record.
RECORD_HEAD = struct.Struct(
    ">i"  # 1 total_size
    "i"  # 2 magic
    "i"  # 3 body_crc
    "i"  # 4 queue_id
    "i"  # 5 flag
    "q"  # 6 queue_offset
    "q"  # 7 commit_log_offset (PHYSICALOFFSET)
    "i"  # 8 sys_flag
    "q"  # 9 born_timestamp
)
assert RECORD_HEAD.size == 48

# Fields 1-16 (body length) for the common case of IPv4 born and store hosts: one pack per record.
RECORD_FIXED_V4 = struct.Struct(
    ">iiiiiqqiq"  # 1-9 as RECORD_HEAD
    "4si"  # 10 born host ip, port
    "q"  # 11 store_timestamp
    "4si"  # 12 store host ip, port
    "i"  # 13 reconsume_times
    "q"  # 15 prepared_transaction_offset
    "i"  # 16 body length
)
assert RECORD_FIXED_V4.size == 88

HOST_V4 = struct.Struct(">4si")  # ip, port
assert HOST_V4.size == 8
HOST_V6 = struct.Struct(">16si")
assert HOST_V6.size == 20
STORE_TIMESTAMP = struct.Struct(">q")
AFTER_STORE_HOST = struct.Struct(
    ">i"  # 13 reconsume_times
    "q"  # 15 prepared_transaction_offset
    "i"  # 16 body length
)
assert AFTER_STORE_HOST.size == 16
PROPERTIES_LENGTH = struct.Struct(">h")
BLANK_RECORD = struct.Struct(">ii")  # total_size, BLANK_MAGIC
assert BLANK_RECORD.size == END_FILE_MIN_BLANK_BYTES
TOTAL_SIZE = struct.Struct(">i")
TOTAL_AND_MAGIC = struct.Struct(">ii")

#: Anything the decoders read from: bytes, a bytearray, a memoryview or a mapped segment.
Buffer: TypeAlias = bytes | bytearray | memoryview | mmap.mmap

_HOST_CACHE: dict[str, bytes] = {}


def host_bytes(host: str) -> bytes:
    """4 bytes for an IPv4 address, 16 for IPv6 (cached: hosts repeat)."""
    packed = _HOST_CACHE.get(host)
    if packed is None:
        packed = ipaddress.ip_address(host).packed
        if len(_HOST_CACHE) > 4096:
            _HOST_CACHE.clear()
        _HOST_CACHE[host] = packed
    return packed


def _host_text(raw: bytes) -> str:
    if len(raw) == 4:
        return f"{raw[0]}.{raw[1]}.{raw[2]}.{raw[3]}"
    return str(ipaddress.IPv6Address(raw))


def body_crc(body: Buffer) -> int:
    """Java UtilAll.crc32: CRC-32 of the body, as a non-negative int."""
    return zlib.crc32(body) & 0x7FFFFFFF


def record_size(body_bytes: int, topic_bytes: int, properties_bytes: int, sys_flag: int = 0) -> int:
    """Java CommitLog#calMsgLength."""
    born_host = 20 if sys_flag & BORNHOST_V6 else 8
    store_host = 20 if sys_flag & STOREHOSTADDRESS_V6 else 8
    return 72 + born_host + store_host + body_bytes + 1 + topic_bytes + 2 + properties_bytes


def encode_record_into(
    buf: bytearray | mmap.mmap,
    position: int,
    *,
    total_size: int,
    queue_id: int,
    flag: int,
    queue_offset: int,
    commit_log_offset: int,
    sys_flag: int,
    born_timestamp: int,
    born_ip: bytes,
    born_port: int,
    store_timestamp: int,
    store_ip: bytes,
    store_port: int,
    reconsume_times: int,
    prepared_transaction_offset: int,
    body: bytes,
    topic: bytes,
    properties: bytes,
) -> None:
    """Write one record at `position` (the caller checked the room and computed `total_size`)."""
    body_length = len(body)
    if len(born_ip) == 4 and len(store_ip) == 4:
        RECORD_FIXED_V4.pack_into(
            buf, position, total_size, MESSAGE_MAGIC, zlib.crc32(body) & 0x7FFFFFFF, queue_id, flag,
            queue_offset, commit_log_offset, sys_flag, born_timestamp, born_ip, born_port,
            store_timestamp, store_ip, store_port, reconsume_times, prepared_transaction_offset,
            body_length,
        )  # fmt: skip
        p = position + 88
    else:
        RECORD_HEAD.pack_into(
            buf, position, total_size, MESSAGE_MAGIC, zlib.crc32(body) & 0x7FFFFFFF, queue_id, flag,
            queue_offset, commit_log_offset, sys_flag, born_timestamp,
        )  # fmt: skip
        p = position + 48
        host = HOST_V4 if len(born_ip) == 4 else HOST_V6
        host.pack_into(buf, p, born_ip, born_port)
        p += host.size
        STORE_TIMESTAMP.pack_into(buf, p, store_timestamp)
        p += 8
        host = HOST_V4 if len(store_ip) == 4 else HOST_V6
        host.pack_into(buf, p, store_ip, store_port)
        p += host.size
        AFTER_STORE_HOST.pack_into(buf, p, reconsume_times, prepared_transaction_offset, body_length)
        p += 16
    buf[p : p + body_length] = body
    p += body_length
    topic_length = len(topic)
    buf[p] = topic_length
    buf[p + 1 : p + 1 + topic_length] = topic
    p += 1 + topic_length
    properties_length = len(properties)
    PROPERTIES_LENGTH.pack_into(buf, p, properties_length)
    p += 2
    buf[p : p + properties_length] = properties
    assert p + properties_length - position == total_size, (position, total_size)


def _flags_for_hosts(sys_flag: int, born_ip: bytes, store_ip: bytes) -> int:
    sys_flag = (sys_flag | BORNHOST_V6) if len(born_ip) == 16 else (sys_flag & ~BORNHOST_V6)
    return (sys_flag | STOREHOSTADDRESS_V6) if len(store_ip) == 16 else (sys_flag & ~STOREHOSTADDRESS_V6)


def encode_record(message: MessageExt, *, properties_string: str | None = None) -> bytes:
    """One complete record for `message` as it stands (offsets, timestamps and hosts taken from
    it). For messages the broker builds itself and for tests; the store's put path writes in place."""
    topic = message.topic.encode()
    properties = (
        properties_string if properties_string is not None else properties_to_string(message.properties)
    ).encode()
    born_ip = host_bytes(message.born_host[0])
    store_ip = host_bytes(message.store_host[0])
    sys_flag = _flags_for_hosts(message.sys_flag, born_ip, store_ip)
    total = record_size(len(message.body), len(topic), len(properties), sys_flag)
    out = bytearray(total)
    encode_record_into(
        out, 0, total_size=total, queue_id=message.queue_id, flag=message.flag,
        queue_offset=message.queue_offset, commit_log_offset=message.commit_log_offset,
        sys_flag=sys_flag, born_timestamp=message.born_timestamp, born_ip=born_ip,
        born_port=message.born_host[1], store_timestamp=message.store_timestamp, store_ip=store_ip,
        store_port=message.store_host[1], reconsume_times=message.reconsume_times,
        prepared_transaction_offset=message.prepared_transaction_offset, body=message.body,
        topic=topic, properties=properties,
    )  # fmt: skip
    return bytes(out)


def _truncated(position: int, need: int, have: int) -> CorruptionError:
    return CorruptionError(f"record at {position} needs {need} bytes, buffer has {have}")


def decode_record(buffer: Buffer, position: int = 0) -> MessageExt:
    """Decode the record at `position`. Raises CorruptionError on a short buffer, a bad magic or
    a length that does not add up. The body is returned as stored (still compressed if so flagged)."""
    buf = memoryview(buffer).cast("B") if not isinstance(buffer, bytes | bytearray) else buffer
    have = len(buf)
    if have - position < RECORD_HEAD.size:
        raise _truncated(position, RECORD_HEAD.size, have - position)
    (total, magic, crc, queue_id, flag, queue_offset, commit_log_offset, sys_flag, born_timestamp) = (
        RECORD_HEAD.unpack_from(buf, position)
    )
    if magic != MESSAGE_MAGIC:
        raise CorruptionError(f"record at {position}: magic {magic & 0xFFFFFFFF:#x} is not 0xdaa320a7")
    if total < 91 or have - position < total:
        if total < 91:
            raise CorruptionError(f"record at {position}: total size {total} is too small")
        raise _truncated(position, total, have - position)
    p = position + 48
    born = HOST_V6 if sys_flag & BORNHOST_V6 else HOST_V4
    store = HOST_V6 if sys_flag & STOREHOSTADDRESS_V6 else HOST_V4
    end = position + total
    if p + born.size + 8 + store.size + 16 > end:
        raise CorruptionError(f"record at {position}: total size {total} shorter than its fixed fields")
    born_ip, born_port = born.unpack_from(buf, p)
    p += born.size
    (store_timestamp,) = STORE_TIMESTAMP.unpack_from(buf, p)
    p += 8
    store_ip, store_port = store.unpack_from(buf, p)
    p += store.size
    reconsume_times, prepared_offset, body_length = AFTER_STORE_HOST.unpack_from(buf, p)
    p += 16
    if body_length < 0 or p + body_length + 3 > end:
        raise CorruptionError(f"record at {position}: body length {body_length} overruns the record")
    body = bytes(buf[p : p + body_length])
    p += body_length
    topic_length = buf[p]
    p += 1
    if p + topic_length + 2 > end:
        raise CorruptionError(f"record at {position}: topic length {topic_length} overruns the record")
    topic = bytes(buf[p : p + topic_length]).decode("utf-8", "replace")
    p += topic_length
    (properties_length,) = PROPERTIES_LENGTH.unpack_from(buf, p)
    p += 2
    if properties_length < 0 or p + properties_length != end:
        raise CorruptionError(
            f"record at {position}: properties length {properties_length} does not end the record "
            f"(total size {total})"
        )
    properties = string_to_properties(bytes(buf[p : p + properties_length]).decode("utf-8", "replace"))
    store_host = _host_text(store_ip)
    return MessageExt(
        topic=topic,
        body=body,
        flag=flag,
        properties=properties,
        queue_id=queue_id,
        queue_offset=queue_offset,
        commit_log_offset=commit_log_offset,
        store_size=total,
        body_crc=crc,
        sys_flag=sys_flag,
        born_timestamp=born_timestamp,
        born_host=(_host_text(born_ip), born_port),
        store_timestamp=store_timestamp,
        store_host=(store_host, store_port),
        reconsume_times=reconsume_times,
        prepared_transaction_offset=prepared_offset,
        msg_id=create_offset_msg_id(store_host, store_port, commit_log_offset),
    )


def decode_records(buffer: Buffer) -> list[MessageExt]:
    """Decode concatenated records (a PULL_MESSAGE / QUERY_MESSAGE body). Blank records are
    skipped; a truncated or malformed record raises CorruptionError naming its position."""
    buf = buffer if isinstance(buffer, bytes | bytearray) else memoryview(buffer).cast("B")
    messages = []
    position = 0
    end = len(buf)
    while position < end:
        if end - position < 8:
            raise _truncated(position, 8, end - position)
        total, magic = TOTAL_AND_MAGIC.unpack_from(buf, position)
        if total <= 0:
            raise CorruptionError(f"record at {position}: total size {total}")
        if magic == BLANK_MAGIC:
            position += total
            continue
        messages.append(decode_record(buf, position))
        position += total
    return messages


def read_store_timestamp(buffer: Buffer, position: int) -> int:
    """The STORETIMESTAMP of the record at `position` (Java CommitLog#pickupStoreTimestamp)."""
    (sys_flag,) = struct.unpack_from(">i", buffer, position + 36)
    born = 20 if sys_flag & BORNHOST_V6 else 8
    (timestamp,) = STORE_TIMESTAMP.unpack_from(buffer, position + 48 + born)
    return int(timestamp)


def record_properties(record: Buffer, position: int = 0) -> dict[str, str]:
    """Only the properties of the record at `position` (for commit-log stage filters)."""
    (total, _, _, _, _, _, _, sys_flag, _) = RECORD_HEAD.unpack_from(record, position)
    p = position + 48 + (20 if sys_flag & BORNHOST_V6 else 8) + 8
    p += (20 if sys_flag & STOREHOSTADDRESS_V6 else 8) + 12
    (body_length,) = TOTAL_SIZE.unpack_from(record, p)
    p += 4 + body_length
    p += 1 + record[p]
    (properties_length,) = PROPERTIES_LENGTH.unpack_from(record, p)
    p += 2
    if properties_length <= 0 or p + properties_length != position + total:
        return {}
    return string_to_properties(bytes(record[p : p + properties_length]).decode("utf-8", "replace"))


@dataclass(slots=True)
class RecordInfo:
    """What recovery, dispatch and verify need from one record (Java DispatchRequest).

    `size` > 0: a message record; 0: a blank record or the end of the data (zeros); -1: invalid,
    with `error` saying why."""

    size: int
    commit_log_offset: int = 0
    topic: str = ""
    queue_id: int = 0
    queue_offset: int = 0
    sys_flag: int = 0
    store_timestamp: int = 0
    body_crc: int = 0
    properties: dict[str, str] | None = None
    blank: bool = False
    error: str = ""

    @property
    def tags(self) -> str | None:
        return self.properties.get(MessageConst.TAGS) if self.properties else None

    @property
    def keys(self) -> str | None:
        return self.properties.get(MessageConst.KEYS) if self.properties else None

    @property
    def uniq_key(self) -> str | None:
        return self.properties.get(MessageConst.UNIQ_CLIENT_MESSAGE_ID_KEYIDX) if self.properties else None


def check_record(buffer: Buffer, position: int, limit: int, *, check_crc: bool = True) -> RecordInfo:
    """Validate the record at `position` without reading past `limit` (the end of its segment).

    Java CommitLog#checkMessageAndReturnSize: magic, sizes, and optionally the body CRC."""
    if limit - position < 8:
        return RecordInfo(size=0)
    total, magic = TOTAL_AND_MAGIC.unpack_from(buffer, position)
    if magic == BLANK_MAGIC:
        if total != limit - position:
            return RecordInfo(size=-1, error=f"blank record size {total} != {limit - position} bytes left")
        return RecordInfo(size=0, blank=True)
    if total == 0 and magic == 0:
        return RecordInfo(size=0)
    if magic != MESSAGE_MAGIC:
        return RecordInfo(size=-1, error=f"bad magic {magic & 0xFFFFFFFF:#010x}")
    if total < 91 or total > limit - position:
        return RecordInfo(size=-1, error=f"total size {total} out of range")
    try:
        message = _decode_meta(buffer, position, total, check_crc)
    except CorruptionError as error:
        return RecordInfo(size=-1, error=str(error))
    return message


def _decode_meta(buffer: Buffer, position: int, total: int, check_crc: bool) -> RecordInfo:
    (_, _, crc, queue_id, _, queue_offset, commit_log_offset, sys_flag, _) = RECORD_HEAD.unpack_from(
        buffer, position
    )
    if commit_log_offset < 0:
        raise CorruptionError(f"physical offset {commit_log_offset}")
    p = position + 48 + (20 if sys_flag & BORNHOST_V6 else 8)
    (store_timestamp,) = STORE_TIMESTAMP.unpack_from(buffer, p)
    p += 8 + (20 if sys_flag & STOREHOSTADDRESS_V6 else 8)
    _, _, body_length = AFTER_STORE_HOST.unpack_from(buffer, p)
    p += 16
    end = position + total
    if body_length < 0 or p + body_length + 3 > end:
        raise CorruptionError(f"body length {body_length} overruns the record")
    view = memoryview(buffer).cast("B") if not isinstance(buffer, bytes | bytearray) else buffer
    if check_crc:
        actual = zlib.crc32(view[p : p + body_length]) & 0x7FFFFFFF
        if actual != crc:
            raise CorruptionError(f"body CRC {actual} != stored {crc}")
    p += body_length
    topic_length = view[p]
    p += 1
    if p + topic_length + 2 > end:
        raise CorruptionError(f"topic length {topic_length} overruns the record")
    topic = bytes(view[p : p + topic_length]).decode("utf-8", "replace")
    p += topic_length
    (properties_length,) = PROPERTIES_LENGTH.unpack_from(view, p)
    p += 2
    if properties_length < 0 or p + properties_length != end:
        raise CorruptionError(f"properties length {properties_length} does not end the record")
    properties = string_to_properties(bytes(view[p : p + properties_length]).decode("utf-8", "replace"))
    return RecordInfo(
        size=total,
        commit_log_offset=commit_log_offset,
        topic=topic,
        queue_id=queue_id,
        queue_offset=queue_offset,
        sys_flag=sys_flag,
        store_timestamp=store_timestamp,
        body_crc=crc,
        properties=properties,
    )
