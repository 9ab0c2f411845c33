"""Message trace: what producers and consumers did with each message, sent to RMQ_SYS_TRACE_TOPIC in
the 4.9.8 Java client's format, so RocketMQ's console and tools read it (Java client/trace:
TraceDataEncoder, AsyncTraceDispatcher, SendMessageTraceHookImpl, ConsumeMessageTraceHookImpl).

Each record is one line of fields joined by \\x01 and ended by \\x02:
- Pub: type, time, region, group, topic, msgId, tags, keys, store host, body length, cost ms,
  message type ordinal, offset msgId, success;
- SubBefore (one per message): type, time, region, group, request id, msgId, retry times, keys;
- SubAfter (one per message): type, request id, msgId, cost ms, success, keys, return-type ordinal,
  time, group.
A dispatcher batches records (up to 100, under 128,000 bytes a message) every 100 ms and sends them
with its own producer (group `_INNER_TRACE_PRODUCER-<group>-<PRODUCE|CONSUME>-<n>`); the keys of a
trace message are the traced msgIds and keys, so the trace of a message is found by its id.
Tracing never blocks or fails a send or a listener call: records beyond 2,048 waiting are dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from enum import IntEnum
from typing import Any, Final, Protocol

from pocketmq.common.message import Message, MessageConst

__all__ = [
    "TRACE_TOPIC",
    "MessageType",
    "ConsumeReturnType",
    "ConsumedBean",
    "TraceSender",
    "TraceDispatcher",
    "encode_pub",
    "encode_sub_before",
    "encode_sub_after",
    "trace_keys",
]

log = logging.getLogger(__name__)

CONTENT_SPLITOR: Final = "\x01"
FIELD_SPLITOR: Final = "\x02"
#: Java TopicValidator.RMQ_SYS_TRACE_TOPIC, the default trace topic.
TRACE_TOPIC: Final = "RMQ_SYS_TRACE_TOPIC"
#: Java TraceConstants.GROUP_NAME_PREFIX and TRACE_INSTANCE_NAME.
GROUP_NAME_PREFIX: Final = "_INNER_TRACE_PRODUCER"
TRACE_INSTANCE_NAME: Final = "PID_CLIENT_INNER_TRACE_PRODUCER"
#: Java AsyncTraceDispatcher: queueSize, batchSize, maxMsgSize, pollingTimeMil.
QUEUE_SIZE: Final = 2048
BATCH_SIZE: Final = 100
MAX_MESSAGE_BYTES: Final = 128_000
POLLING_MS: Final = 100

_group_counter = itertools.count(1)


class MessageType(IntEnum):
    """Java MessageType; the trace carries the ordinal."""

    NORMAL_MSG = 0
    TRANS_MSG_HALF = 1
    TRANS_MSG_COMMIT = 2
    DELAY_MSG = 3


class ConsumeReturnType(IntEnum):
    """Java ConsumeReturnType; SubAfter carries the ordinal."""

    SUCCESS = 0
    TIME_OUT = 1
    EXCEPTION = 2
    RETURNNULL = 3
    FAILED = 4


def _text(value: object) -> str:
    """A value as Java's StringBuilder#append writes it."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    return str(value)


def _record(*fields: object, end: str = FIELD_SPLITOR) -> str:
    return CONTENT_SPLITOR.join(_text(field) for field in fields) + end


def encode_pub(
    *,
    timestamp_ms: int,
    region_id: str,
    group: str,
    topic: str,
    msg_id: str | None,
    tags: str | None,
    keys: str | None,
    store_host: str,
    body_length: int,
    cost_ms: int,
    message_type: MessageType,
    offset_msg_id: str | None,
    success: bool,
) -> str:
    """One Pub record (Java TraceDataEncoder, case Pub)."""
    return _record(
        "Pub", timestamp_ms, region_id, group, topic, msg_id, tags, keys, store_host, body_length,
        cost_ms, int(message_type), offset_msg_id, success,
    )  # fmt: skip


@dataclass(frozen=True, slots=True)
class ConsumedBean:
    """One message of a listener call (Java TraceBean, the fields a consume trace uses)."""

    msg_id: str
    keys: str | None
    retry_times: int


def encode_sub_before(
    *, timestamp_ms: int, region_id: str | None, group: str, request_id: str, beans: Sequence[ConsumedBean]
) -> str:
    """SubBefore records, one per message (Java TraceDataEncoder, case SubBefore)."""
    return "".join(
        _record(
            "SubBefore", timestamp_ms, region_id, group, request_id, bean.msg_id, bean.retry_times, bean.keys
        )
        for bean in beans
    )


def encode_sub_after(
    *,
    request_id: str,
    beans: Sequence[ConsumedBean],
    cost_ms: int,
    success: bool,
    return_type: ConsumeReturnType,
    timestamp_ms: int,
    group: str,
) -> str:
    """SubAfter records, one per message (Java TraceDataEncoder, case SubAfter, access channel LOCAL)."""
    return "".join(
        _record("SubAfter", request_id, bean.msg_id, cost_ms, success, bean.keys, int(return_type), end="")
        + CONTENT_SPLITOR
        + _record(timestamp_ms, group)
        for bean in beans
    )


def trace_keys(msg_id: str | None, keys: str | None) -> list[str]:
    """The keys a trace message is indexed by: the msgId and each of the message's keys."""
    found = [msg_id] if msg_id else []
    if keys:
        found.extend(key for key in keys.split(MessageConst.KEY_SEPARATOR) if key)
    return found


class TraceSender(Protocol):
    """The producer a dispatcher sends with (a pocketmq Producer)."""

    async def start(self) -> None: ...

    async def shutdown(self) -> None: ...

    async def send(self, message: Message) -> Any: ...


class TraceDispatcher:
    """Batches trace records and sends them to the trace topic (Java AsyncTraceDispatcher)."""

    def __init__(
        self,
        *,
        group: str,
        kind: str,
        make_sender: Callable[[str], TraceSender],
        trace_topic: str | None = None,
    ) -> None:
        #: Java: PRODUCE or CONSUME.
        self.kind = kind
        self.trace_topic = trace_topic or TRACE_TOPIC
        self._sender = make_sender(f"{GROUP_NAME_PREFIX}-{group}-{kind}-{next(_group_counter)}")
        self._pending: asyncio.Queue[tuple[str, list[str]]] = asyncio.Queue(QUEUE_SIZE)
        self._task: asyncio.Task[None] | None = None
        self.dropped = 0

    async def start(self) -> None:
        if self._task is None:
            await self._sender.start()
            self._task = asyncio.get_running_loop().create_task(self._run(), name=f"trace-{self.kind}")

    async def shutdown(self) -> None:
        """Send what is waiting (at most 5 s), then stop."""
        task, self._task = self._task, None
        if task is None:
            return
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(5):
                await self._send_waiting()
        await self._sender.shutdown()

    def append(self, data: str, keys: Iterable[str]) -> bool:
        """Queue one context's records; False (and dropped) when 2,048 already wait."""
        try:
            self._pending.put_nowait((data, list(keys)))
        except asyncio.QueueFull:
            self.dropped += 1
            return False
        return True

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(POLLING_MS / 1000)
            if not self._pending.empty():
                await self._send_waiting()

    async def _send_waiting(self) -> None:
        batch: list[tuple[str, list[str]]] = []
        while not self._pending.empty() and len(batch) < BATCH_SIZE * 10:
            batch.append(self._pending.get_nowait())
        data: list[str] = []
        keys: dict[str, None] = {}
        size = 0
        for record, record_keys in batch:
            data.append(record)
            keys.update(dict.fromkeys(record_keys))
            size += len(record)
            if size >= MAX_MESSAGE_BYTES - 10_000 or len(data) >= BATCH_SIZE:
                await self._send(data, keys)
                data, keys, size = [], {}, 0
        if data:
            await self._send(data, keys)

    async def _send(self, data: list[str], keys: dict[str, None]) -> None:
        message = Message(self.trace_topic, "".join(data).encode(), keys=list(keys) or None)
        try:
            await self._sender.send(message)
        except Exception as error:  # a trace never fails the traced work
            log.warning("sending %d trace record(s) to %s failed: %s", len(data), self.trace_topic, error)
