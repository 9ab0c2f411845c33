"""Messages and queues: Message (what a producer sends), MessageExt (what the store holds and a
consumer receives), MessageQueue (topic, broker name, queue id), and the properties string.

Properties travel and are stored as `name\\x01value\\x02name\\x01value` (no trailing separator; some
clients send one, which decoding accepts). Java: MessageConst, MessageDecoder#messageProperties2String.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

__all__ = [
    "NAME_VALUE_SEPARATOR",
    "PROPERTY_SEPARATOR",
    "MessageConst",
    "Message",
    "MessageExt",
    "MessageQueue",
    "properties_to_string",
    "string_to_properties",
]

NAME_VALUE_SEPARATOR: Final = "\x01"
PROPERTY_SEPARATOR: Final = "\x02"


class MessageConst:
    """Property names (Java MessageConst)."""

    KEYS: Final = "KEYS"
    TAGS: Final = "TAGS"
    WAIT_STORE_MSG_OK: Final = "WAIT"
    DELAY_TIME_LEVEL: Final = "DELAY"
    RETRY_TOPIC: Final = "RETRY_TOPIC"
    REAL_TOPIC: Final = "REAL_TOPIC"
    REAL_QUEUE_ID: Final = "REAL_QID"
    TRANSACTION_PREPARED: Final = "TRAN_MSG"
    PRODUCER_GROUP: Final = "PGROUP"
    MIN_OFFSET: Final = "MIN_OFFSET"
    MAX_OFFSET: Final = "MAX_OFFSET"
    BUYER_ID: Final = "BUYER_ID"
    ORIGIN_MESSAGE_ID: Final = "ORIGIN_MESSAGE_ID"
    TRANSFER_FLAG: Final = "TRANSFER_FLAG"
    CORRECTION_FLAG: Final = "CORRECTION_FLAG"
    MQ2_FLAG: Final = "MQ2_FLAG"
    RECONSUME_TIME: Final = "RECONSUME_TIME"
    MSG_REGION: Final = "MSG_REGION"
    TRACE_SWITCH: Final = "TRACE_ON"
    UNIQ_CLIENT_MESSAGE_ID_KEYIDX: Final = "UNIQ_KEY"
    MAX_RECONSUME_TIMES: Final = "MAX_RECONSUME_TIMES"
    CONSUME_START_TIMESTAMP: Final = "CONSUME_START_TIME"
    TRANSACTION_PREPARED_QUEUE_OFFSET: Final = "TRAN_PREPARED_QUEUE_OFFSET"
    TRANSACTION_CHECK_TIMES: Final = "TRANSACTION_CHECK_TIMES"
    CHECK_IMMUNITY_TIME_IN_SECONDS: Final = "CHECK_IMMUNITY_TIME_IN_SECONDS"
    INSTANCE_ID: Final = "INSTANCE_ID"
    CORRELATION_ID: Final = "CORRELATION_ID"
    MESSAGE_REPLY_TO_CLIENT: Final = "REPLY_TO_CLIENT"
    MESSAGE_TTL: Final = "TTL"
    REPLY_MESSAGE_ARRIVE_TIME: Final = "ARRIVE_TIME"
    PUSH_REPLY_TIME: Final = "PUSH_REPLY_TIME"
    CLUSTER: Final = "CLUSTER"
    MESSAGE_TYPE: Final = "MSG_TYPE"
    SHARDING_KEY: Final = "__SHARDINGKEY"

    KEY_SEPARATOR: Final = " "


def properties_to_string(properties: dict[str, str]) -> str:
    """Encode properties in insertion order, without a trailing separator (as the 4.9.8 broker stores)."""
    return PROPERTY_SEPARATOR.join(
        f"{name}{NAME_VALUE_SEPARATOR}{value}" for name, value in properties.items()
    )


def string_to_properties(text: str) -> dict[str, str]:
    """Decode a properties string; entries without a name/value separator are skipped, as in Java."""
    properties: dict[str, str] = {}
    if not text:
        return properties
    for item in text.split(PROPERTY_SEPARATOR):
        name, sep, value = item.partition(NAME_VALUE_SEPARATOR)
        if sep:
            properties[name] = value
    return properties


@dataclass(slots=True)
class Message:
    """A message as a producer builds it (Java org.apache.rocketmq.common.message.Message)."""

    topic: str
    body: bytes = b""
    flag: int = 0
    properties: dict[str, str] = field(default_factory=dict)
    transaction_id: str | None = None

    def __init__(
        self,
        topic: str,
        body: bytes = b"",
        *,
        tags: str | None = None,
        keys: str | list[str] | None = None,
        flag: int = 0,
        properties: dict[str, str] | None = None,
        delay_time_level: int = 0,
        wait_store_msg_ok: bool = True,
    ) -> None:
        self.topic = topic
        self.body = body
        self.flag = flag
        self.properties = dict(properties or {})
        self.transaction_id = None
        if tags:
            self.properties[MessageConst.TAGS] = tags
        if keys:
            self.keys = keys
        if delay_time_level > 0:
            self.delay_time_level = delay_time_level
        if not wait_store_msg_ok:
            self.properties[MessageConst.WAIT_STORE_MSG_OK] = "false"

    @property
    def tags(self) -> str | None:
        return self.properties.get(MessageConst.TAGS)

    @tags.setter
    def tags(self, value: str) -> None:
        self.properties[MessageConst.TAGS] = value

    @property
    def keys(self) -> str | None:
        return self.properties.get(MessageConst.KEYS)

    @keys.setter
    def keys(self, value: str | list[str]) -> None:
        if not isinstance(value, str):
            value = MessageConst.KEY_SEPARATOR.join(value)
        self.properties[MessageConst.KEYS] = value

    @property
    def delay_time_level(self) -> int:
        return int(self.properties.get(MessageConst.DELAY_TIME_LEVEL, "0"))

    @delay_time_level.setter
    def delay_time_level(self, level: int) -> None:
        self.properties[MessageConst.DELAY_TIME_LEVEL] = str(level)

    def put_user_property(self, name: str, value: str) -> None:
        self.properties[name] = value

    def get_property(self, name: str) -> str | None:
        return self.properties.get(name)


@dataclass(slots=True, kw_only=True)
class MessageExt:
    """A stored message, every field of the CommitLog record (Java MessageExt).

    `body` is the body as stored (still compressed when COMPRESSED is set); see
    `store.commit_log.record` for the layout.
    """

    topic: str
    body: bytes
    flag: int = 0
    properties: dict[str, str] = field(default_factory=dict)
    queue_id: int = 0
    queue_offset: int = 0
    commit_log_offset: int = 0
    store_size: int = 0
    body_crc: int = 0
    sys_flag: int = 0
    born_timestamp: int = 0
    born_host: tuple[str, int] = ("127.0.0.1", 0)
    store_timestamp: int = 0
    store_host: tuple[str, int] = ("127.0.0.1", 0)
    reconsume_times: int = 0
    prepared_transaction_offset: int = 0
    msg_id: str = ""  # the offset message id (store host + commit-log offset)

    @property
    def tags(self) -> str | None:
        return self.properties.get(MessageConst.TAGS)

    @property
    def keys(self) -> str | None:
        return self.properties.get(MessageConst.KEYS)

    @property
    def uniq_key(self) -> str | None:
        return self.properties.get(MessageConst.UNIQ_CLIENT_MESSAGE_ID_KEYIDX)


@dataclass(frozen=True, slots=True, order=True)
class MessageQueue:
    """One queue of a topic on one broker (Java MessageQueue); ordered as Java compares them."""

    topic: str
    broker_name: str
    queue_id: int

    def __str__(self) -> str:
        return f"MessageQueue [topic={self.topic}, brokerName={self.broker_name}, queueId={self.queue_id}]"
