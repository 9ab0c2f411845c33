"""Outcomes of store operations: status enums (Java PutMessageStatus, GetMessageStatus,
AppendMessageStatus) and the result values the broker turns into responses."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

from pocketmq.common.message_id import create_offset_msg_id

__all__ = [
    "PutMessageStatus",
    "GetMessageStatus",
    "PutMessageResult",
    "GetMessageResult",
    "QueryMessageResult",
]


class PutMessageStatus(Enum):
    PUT_OK = "PUT_OK"
    FLUSH_DISK_TIMEOUT = "FLUSH_DISK_TIMEOUT"
    FLUSH_SLAVE_TIMEOUT = "FLUSH_SLAVE_TIMEOUT"
    SLAVE_NOT_AVAILABLE = "SLAVE_NOT_AVAILABLE"
    SERVICE_NOT_AVAILABLE = "SERVICE_NOT_AVAILABLE"
    CREATE_MAPPED_FILE_FAILED = "CREATE_MAPPED_FILE_FAILED"
    MESSAGE_ILLEGAL = "MESSAGE_ILLEGAL"
    PROPERTIES_SIZE_EXCEEDED = "PROPERTIES_SIZE_EXCEEDED"
    OS_PAGECACHE_BUSY = "OS_PAGECACHE_BUSY"
    UNKNOWN_ERROR = "UNKNOWN_ERROR"

    @property
    def ok(self) -> bool:
        return self is PutMessageStatus.PUT_OK


class GetMessageStatus(Enum):
    FOUND = "FOUND"
    NO_MATCHED_MESSAGE = "NO_MATCHED_MESSAGE"
    MESSAGE_WAS_REMOVING = "MESSAGE_WAS_REMOVING"
    OFFSET_FOUND_NULL = "OFFSET_FOUND_NULL"
    OFFSET_OVERFLOW_BADLY = "OFFSET_OVERFLOW_BADLY"
    OFFSET_OVERFLOW_ONE = "OFFSET_OVERFLOW_ONE"
    OFFSET_TOO_SMALL = "OFFSET_TOO_SMALL"
    NO_MATCHED_LOGIC_QUEUE = "NO_MATCHED_LOGIC_QUEUE"
    NO_MESSAGE_IN_QUEUE = "NO_MESSAGE_IN_QUEUE"


class PutMessageResult:
    """What a put produced. For a batch, offsets are those of the first message and `message_count`
    says how many were written (Java AppendMessageResult + PutMessageResult).

    The C put path (_speedups.c, make_result) fills these slots as __init__ does: change both."""

    __slots__ = (
        "_record_offsets",
        "_store_host",
        "commit_log_offset",
        "message_count",
        "queue_offset",
        "remark",
        "status",
        "store_timestamp",
        "wrote_bytes",
    )

    def __init__(  # noqa: PLR0917
        self,
        status: PutMessageStatus,
        commit_log_offset: int = -1,
        wrote_bytes: int = 0,
        queue_offset: int = -1,
        store_timestamp: int = 0,
        message_count: int = 0,
        store_host: tuple[str, int] = ("127.0.0.1", 0),
        record_offsets: tuple[int, ...] = (),
        remark: str = "",
    ) -> None:
        self.status = status
        self.commit_log_offset = commit_log_offset
        self.wrote_bytes = wrote_bytes
        self.queue_offset = queue_offset
        self.store_timestamp = store_timestamp
        self.message_count = message_count
        self._store_host = store_host
        self._record_offsets = record_offsets
        self.remark = remark

    @property
    def ok(self) -> bool:
        return self.status is PutMessageStatus.PUT_OK

    @property
    def msg_id(self) -> str:
        """The offset msgId; for a batch, the ids of every message joined by ',' (as Java does)."""
        if self.commit_log_offset < 0:
            return ""
        host, port = self._store_host
        offsets = self._record_offsets or (self.commit_log_offset,)
        return ",".join(create_offset_msg_id(host, port, offset) for offset in offsets)

    @property
    def end_offset(self) -> int:
        return self.commit_log_offset + self.wrote_bytes

    def __repr__(self) -> str:
        return (
            f"PutMessageResult({self.status.name}, commit_log_offset={self.commit_log_offset}, "
            f"wrote_bytes={self.wrote_bytes}, queue_offset={self.queue_offset}, "
            f"message_count={self.message_count}{', ' + self.remark if self.remark else ''})"
        )


@dataclass(slots=True)
class GetMessageResult:
    """A pull's answer: raw CommitLog records (copies) and where the next pull starts."""

    status: GetMessageStatus
    next_begin_offset: int
    min_offset: int
    max_offset: int
    #: Each stored record, as bytes (the PULL_MESSAGE body is their concatenation).
    messages: list[bytes] = field(default_factory=list)
    #: Commit-log offsets and queue offsets of `messages`.
    commit_log_offsets: list[int] = field(default_factory=list)
    queue_offsets: list[int] = field(default_factory=list)
    buffer_total_bytes: int = 0
    suggest_pulling_from_slave: bool = False

    @property
    def message_count(self) -> int:
        return len(self.messages)

    def body(self) -> bytes:
        return b"".join(self.messages)


@dataclass(slots=True)
class QueryMessageResult:
    """Messages found by key (raw records) and the index freshness (Java QueryMessageResult)."""

    messages: list[bytes] = field(default_factory=list)
    commit_log_offsets: list[int] = field(default_factory=list)
    index_last_update_timestamp: int = 0
    index_last_update_commit_log_offset: int = 0
