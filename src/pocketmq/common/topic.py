"""Topics: configuration, permission bits, validation and the system topic names.

Java: TopicConfig, PermName, TopicValidator, MixAll. Topic configs are persisted in
`config/topics.json` as `{"topicConfigTable": {name: {...}}, "dataVersion": {...}}`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum
from typing import Any, Final

__all__ = [
    "PERM_PRIORITY",
    "PERM_READ",
    "PERM_WRITE",
    "PERM_INHERIT",
    "is_readable",
    "is_writeable",
    "perm_to_string",
    "TopicFilterType",
    "TopicConfig",
    "SystemTopics",
    "TOPIC_MAX_LENGTH",
    "validate_topic",
    "retry_topic",
    "dlq_topic",
    "is_retry_topic",
    "is_dlq_topic",
]

PERM_PRIORITY: Final = 0x8
PERM_READ: Final = 0x4
PERM_WRITE: Final = 0x2
PERM_INHERIT: Final = 0x1

TOPIC_MAX_LENGTH: Final = 127
_TOPIC_PATTERN = re.compile(r"^[%|a-zA-Z0-9_-]+$")


def is_readable(perm: int) -> bool:
    return bool(perm & PERM_READ)


def is_writeable(perm: int) -> bool:
    return bool(perm & PERM_WRITE)


def perm_to_string(perm: int) -> str:
    return (
        ("R" if perm & PERM_READ else "-")
        + ("W" if perm & PERM_WRITE else "-")
        + ("X" if perm & PERM_INHERIT else "-")
    )


class TopicFilterType(Enum):
    SINGLE_TAG = "SINGLE_TAG"
    MULTI_TAG = "MULTI_TAG"


@dataclass(slots=True, kw_only=True)
class TopicConfig:
    """Java TopicConfig; field names map to topics.json keys in `to_json` / `from_json`."""

    topic_name: str
    read_queue_nums: int = 16
    write_queue_nums: int = 16
    perm: int = PERM_READ | PERM_WRITE
    topic_filter_type: TopicFilterType = TopicFilterType.SINGLE_TAG
    topic_sys_flag: int = 0
    order: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "order": self.order,
            "perm": self.perm,
            "readQueueNums": self.read_queue_nums,
            "topicFilterType": self.topic_filter_type.value,
            "topicName": self.topic_name,
            "topicSysFlag": self.topic_sys_flag,
            "writeQueueNums": self.write_queue_nums,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TopicConfig:
        return cls(
            topic_name=str(data["topicName"]),
            read_queue_nums=int(data.get("readQueueNums", 16)),
            write_queue_nums=int(data.get("writeQueueNums", 16)),
            perm=int(data.get("perm", PERM_READ | PERM_WRITE)),
            topic_filter_type=TopicFilterType(data.get("topicFilterType", "SINGLE_TAG")),
            topic_sys_flag=int(data.get("topicSysFlag", 0)),
            order=bool(data.get("order", False)),
        )


class SystemTopics:
    AUTO_CREATE_TOPIC_KEY: Final = "TBW102"
    SELF_TEST: Final = "SELF_TEST_TOPIC"
    BENCHMARK: Final = "BenchmarkTest"
    SCHEDULE: Final = "SCHEDULE_TOPIC_XXXX"
    TRANS_HALF: Final = "RMQ_SYS_TRANS_HALF_TOPIC"
    TRANS_OP_HALF: Final = "RMQ_SYS_TRANS_OP_HALF_TOPIC"
    TRANS_CHECK_MAX_TIME: Final = "TRANS_CHECK_MAX_TIME_TOPIC"
    TRACE: Final = "RMQ_SYS_TRACE_TOPIC"
    OFFSET_MOVED_EVENT: Final = "OFFSET_MOVED_EVENT"
    REPLY_TOPIC_POSTFIX: Final = "_REPLY_TOPIC"

    RETRY_GROUP_TOPIC_PREFIX: Final = "%RETRY%"
    DLQ_GROUP_TOPIC_PREFIX: Final = "%DLQ%"

    NOT_SENDABLE: Final = frozenset(
        {SCHEDULE, TRANS_HALF, TRANS_OP_HALF, TRANS_CHECK_MAX_TIME, OFFSET_MOVED_EVENT}
    )


def validate_topic(topic: str) -> str | None:
    """None when `topic` is a legal name, else a sentence saying what is wrong (Java TopicValidator)."""
    if not topic:
        return "the topic name is empty; give a name of [%|a-zA-Z0-9_-] characters"
    if len(topic) > TOPIC_MAX_LENGTH:
        return f"the topic name has {len(topic)} characters; at most {TOPIC_MAX_LENGTH} are allowed"
    if not _TOPIC_PATTERN.match(topic):
        return f"the topic name {topic!r} contains characters other than [%|a-zA-Z0-9_-]"
    return None


def retry_topic(group: str) -> str:
    return SystemTopics.RETRY_GROUP_TOPIC_PREFIX + group


def dlq_topic(group: str) -> str:
    return SystemTopics.DLQ_GROUP_TOPIC_PREFIX + group


def is_retry_topic(topic: str) -> bool:
    return topic.startswith(SystemTopics.RETRY_GROUP_TOPIC_PREFIX)


def is_dlq_topic(topic: str) -> bool:
    return topic.startswith(SystemTopics.DLQ_GROUP_TOPIC_PREFIX)
