"""Appender: one put or one batch from validation to dispatch (Java CommitLog#asyncPutMessage and
asyncPutMessages with DefaultMessageStore's checks).

The common message takes the fast path (put_path.py, in C when it was built) and the rest the
general path here: validation with RocketMQ's statuses, DELAY levels parked in
SCHEDULE_TOPIC_XXXX, `CommitLog.append`, then dispatch. Both give the same result for a message
both can take. Plain defs, no await: on one event loop, reserving an offset and writing the
record cannot interleave with another put.
"""

from __future__ import annotations

from collections.abc import Sequence

from pocketmq.common.clock import Clock
from pocketmq.common.message import MessageConst, MessageExt, properties_to_string
from pocketmq.store.commit_log.commit_log import CommitLog
from pocketmq.store.commit_log.record import (
    _HOST_CACHE,
    END_FILE_MIN_BLANK_BYTES,
    MAX_PROPERTIES_BYTES,
    MAX_TOPIC_BYTES,
    host_bytes,
    record_size,
)
from pocketmq.store.config import StoreConfig
from pocketmq.store.dispatch import SCHEDULE_TOPIC, ConsumeQueueTable, Dispatcher, is_consumable, tags_hash
from pocketmq.store.index.index_service import IndexService
from pocketmq.store.put_path import PutPathLike, make_put_path
from pocketmq.store.results import PutMessageResult, PutMessageStatus

__all__ = ["Appender"]

_TAGS = MessageConst.TAGS
_KEYS = MessageConst.KEYS
_UNIQ_KEY = MessageConst.UNIQ_CLIENT_MESSAGE_ID_KEYIDX
_DELAY = MessageConst.DELAY_TIME_LEVEL


class Appender:
    def __init__(  # noqa: PLR0917
        self,
        config: StoreConfig,
        commit_log: CommitLog,
        consume_queues: ConsumeQueueTable,
        index: IndexService | None,
        dispatcher: Dispatcher,
        clock: Clock,
        store_host: tuple[str, int],
        *,
        read_only: bool = False,
        accelerated: bool = True,
    ) -> None:
        """`accelerated=False` keeps the fast path in pure Python even when its C twin was built."""
        self._config = config
        self._commit_log = commit_log
        self._dispatcher = dispatcher
        self._clock = clock
        self._store_host = store_host
        self.read_only = read_only
        #: True between open and shutdown of a writable store; puts are refused otherwise.
        self.accepting = False
        self._topic_bytes: dict[str, bytes] = {}
        # The fast path's state: the encoded topic tail (length byte + topic) of each topic seen.
        self._topic_tails: dict[str, bytes] = {}
        self._max_record_bytes = config.commit_log_file_bytes - END_FILE_MIN_BLANK_BYTES
        self._store_ip = host_bytes(store_host[0])
        self.put_path: PutPathLike = make_put_path(
            commit_log,
            consume_queues,
            index,
            dispatcher,
            self._topic_tails,
            _HOST_CACHE,
            store_host,
            self._store_ip,
            config.max_message_bytes,
            self._max_record_bytes,
            config.schedule_delayed_messages,
            clock.now_ms,
            accelerated=accelerated,
        )
        #: put_path.append: the message's result, or None for the general path.
        self.fast_append = self.put_path.append

    def set_accepting(self, accepting: bool) -> None:
        self.accepting = accepting
        self.put_path.open = accepting and len(self._store_ip) == 4

    def _refuse(self, status: PutMessageStatus, remark: str) -> PutMessageResult:
        return PutMessageResult(status, remark=remark)

    def _prepare(
        self, message: MessageExt, properties_string: str | None
    ) -> tuple[str, int, dict[str, str], bytes, bytes] | PutMessageResult:
        """Validate and resolve (topic, queue_id, properties, topic bytes, properties bytes)."""
        if not self.accepting:
            return self._refuse(
                PutMessageStatus.SERVICE_NOT_AVAILABLE,
                "the store is read-only" if self.read_only else "the store is not open",
            )
        if len(message.body) > self._config.max_message_bytes:
            return self._refuse(
                PutMessageStatus.MESSAGE_ILLEGAL,
                f"body of {len(message.body)} bytes exceeds maxMessageSize={self._config.max_message_bytes}",
            )
        topic = message.topic
        queue_id = message.queue_id
        properties = message.properties
        if self._config.schedule_delayed_messages and _DELAY in properties and topic != SCHEDULE_TOPIC:
            level_text = properties[_DELAY]
            level = int(level_text) if level_text.lstrip("-").isdigit() else 0
            if level > 0 and is_consumable(message.sys_flag):
                # Java 4.9.8 CommitLog#asyncPutMessage: park it in SCHEDULE_TOPIC_XXXX.
                max_level = len(self._dispatcher.delay_levels_ms)
                level = min(level, max_level)
                properties = dict(properties)
                properties[_DELAY] = str(level)
                properties[MessageConst.REAL_TOPIC] = topic
                properties[MessageConst.REAL_QUEUE_ID] = str(queue_id)
                topic, queue_id = SCHEDULE_TOPIC, level - 1
                properties_string = None
        topic_bytes = self._topic_bytes.get(topic)
        if topic_bytes is None:
            topic_bytes = topic.encode()
            if len(topic_bytes) > MAX_TOPIC_BYTES or not topic_bytes:
                return self._refuse(
                    PutMessageStatus.MESSAGE_ILLEGAL,
                    f"topic of {len(topic_bytes)} bytes; 1..{MAX_TOPIC_BYTES} are allowed",
                )
            self._topic_bytes[topic] = topic_bytes
        if properties_string is None:
            properties_string = properties_to_string(properties)
        properties_bytes = properties_string.encode()
        if len(properties_bytes) > MAX_PROPERTIES_BYTES:
            return self._refuse(
                PutMessageStatus.PROPERTIES_SIZE_EXCEEDED,
                f"properties of {len(properties_bytes)} bytes; at most {MAX_PROPERTIES_BYTES} are allowed",
            )
        if queue_id < 0:
            return self._refuse(PutMessageStatus.MESSAGE_ILLEGAL, f"queue id {queue_id} is negative")
        return topic, queue_id, properties, topic_bytes, properties_bytes

    def append(self, message: MessageExt, properties_string: str | None) -> PutMessageResult:
        """Append and dispatch one message now, without waiting for a flush. The message is not
        modified; `properties_string` (the wire form) saves re-encoding the properties.

        The common message goes through the put path (put_path.py, in C when it was built);
        anything else through `_append_general`, which gives the same result."""
        result = self.fast_append(message, properties_string)
        if result is None:
            return self.append_general(message, properties_string)
        return result

    def append_general(self, message: MessageExt, properties_string: str | None) -> PutMessageResult:
        prepared = self._prepare(message, properties_string)
        if isinstance(prepared, PutMessageResult):
            return prepared
        topic, queue_id, properties, topic_bytes, properties_bytes = prepared
        if (
            record_size(len(message.body), len(topic_bytes), len(properties_bytes), 0x30)
            > self._max_record_bytes
        ):
            return self._refuse(
                PutMessageStatus.MESSAGE_ILLEGAL, "the record does not fit in one CommitLog segment"
            )
        if topic not in self._topic_tails and len(self._topic_tails) < 100_000 and topic != SCHEDULE_TOPIC:
            # (SCHEDULE_TOPIC_XXXX stays on this path: its tags code is a delivery time.)
            self._topic_tails[topic] = bytes([len(topic_bytes)]) + topic_bytes
        host_bytes(message.born_host[0])  # warms the host cache for the fast path
        now = self._clock.now_ms()
        outcome = self._commit_log.append(message, topic, topic_bytes, queue_id, properties_bytes, now)
        tags = properties.get(_TAGS)
        tags_code = tags_hash(tags) if tags else 0
        if topic == SCHEDULE_TOPIC:
            tags_code = self._delivery_time(properties, now, tags_code)
        self._dispatcher.dispatch(
            topic,
            queue_id,
            outcome.queue_offset,
            outcome.commit_log_offset,
            outcome.wrote_bytes,
            tags_code,
            now,
            message.sys_flag,
            properties.get(_KEYS),
            properties.get(_UNIQ_KEY),
        )
        return PutMessageResult(
            PutMessageStatus.PUT_OK,
            outcome.commit_log_offset,
            outcome.wrote_bytes,
            outcome.queue_offset,
            now,
            1,
            self._store_host,
        )

    def _delivery_time(self, properties: dict[str, str], store_timestamp: int, default: int) -> int:
        levels = self._dispatcher.delay_levels_ms
        text = properties.get(_DELAY)
        if not text or not text.isdigit():
            return default
        level = min(int(text), len(levels))
        return store_timestamp + levels[level - 1] if level > 0 else default

    def append_batch(self, messages: Sequence[MessageExt]) -> PutMessageResult:
        """Append a batch (one topic and queue) contiguously with consecutive queue offsets;
        all or nothing (Java putMessages / MessageExtBatch)."""
        if not messages:
            return self._refuse(PutMessageStatus.MESSAGE_ILLEGAL, "empty batch")
        topic, queue_id = messages[0].topic, messages[0].queue_id
        encoded: list[tuple[MessageExt, bytes]] = []
        total = 0
        topic_bytes = b""
        props_list = []
        for message in messages:
            if message.topic != topic or message.queue_id != queue_id:
                return self._refuse(PutMessageStatus.MESSAGE_ILLEGAL, "a batch must have one topic and queue")
            if _DELAY in message.properties:
                return self._refuse(PutMessageStatus.MESSAGE_ILLEGAL, "batch messages cannot be delayed")
            if not is_consumable(message.sys_flag):
                return self._refuse(
                    PutMessageStatus.MESSAGE_ILLEGAL, "batch messages cannot be transactional"
                )
            prepared = self._prepare(message, None)
            if isinstance(prepared, PutMessageResult):
                return prepared
            _, _, properties, topic_bytes, properties_bytes = prepared
            encoded.append((message, properties_bytes))
            props_list.append(properties)
            total += len(message.body) + len(properties_bytes) + len(topic_bytes) + 130
        if total > self._config.commit_log_file_bytes - 64:
            return self._refuse(
                PutMessageStatus.MESSAGE_ILLEGAL, "the batch does not fit in one CommitLog segment"
            )
        now = self._clock.now_ms()
        outcome = self._commit_log.append_batch(encoded, topic, topic_bytes, queue_id, now)
        dispatch = self._dispatcher.dispatch
        last = len(messages) - 1
        for i, (message, properties) in enumerate(zip(messages, props_list, strict=True)):
            tags = properties.get(_TAGS)
            dispatch(
                topic,
                queue_id,
                outcome.queue_offset + i,
                outcome.record_offsets[i],
                outcome.record_sizes[i],
                tags_hash(tags) if tags else 0,
                now,
                message.sys_flag,
                properties.get(_KEYS),
                properties.get(_UNIQ_KEY),
                notify=i == last,
            )
        return PutMessageResult(
            PutMessageStatus.PUT_OK,
            outcome.commit_log_offset,
            outcome.wrote_bytes,
            outcome.queue_offset,
            now,
            len(messages),
            self._store_host,
            outcome.record_offsets,
        )
