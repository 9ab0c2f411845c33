"""TopicConfigManager: the broker's topic table, its system topics and `config/topics.json`.

Java: TopicConfigManager, TopicValidator's system-topic set. The table starts with the system topics
(the same ones, with the same queue counts and permissions, as 4.9.8), then topics.json (or its
.bak) overrides and extends them. Every change bumps the DataVersion, which REGISTER_BROKER carries
to the name servers.

Persistence is the caller's (config_manager.py): a change sets `dirty` and returns; the broker writes
the file and registers with the name servers when `created` says a topic is new.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

from pocketmq.broker.config import BrokerConfig
from pocketmq.broker.config_manager import VersionedTable
from pocketmq.common.topic import (
    PERM_INHERIT,
    PERM_READ,
    PERM_WRITE,
    SystemTopics,
    TopicConfig,
    dlq_topic,
    retry_topic,
)

__all__ = [
    "TopicConfigManager",
    "CreateTopicResult",
    "SCHEDULE_TOPIC_QUEUE_NUMS",
    "DLQ_QUEUE_NUMS_PER_GROUP",
    "TRANS_CHECK_MAX_TIME_QUEUE_NUMS",
    "SYSTEM_TOPIC_PREFIX",
]

FILE_NAME = "topics.json"
#: One queue per delay level. Java: TopicConfigManager.SCHEDULE_TOPIC_QUEUE_NUM.
SCHEDULE_TOPIC_QUEUE_NUMS = 18
#: Java: MixAll.DLQ_NUMS_PER_GROUP.
DLQ_QUEUE_NUMS_PER_GROUP = 1
#: Java: DefaultTransactionalMessageCheckListener.TCMT_QUEUE_NUMS.
TRANS_CHECK_MAX_TIME_QUEUE_NUMS = 1
#: Topics starting with this are system topics. Java: TopicValidator.SYSTEM_TOPIC_PREFIX.
SYSTEM_TOPIC_PREFIX = "rmq_sys_"

_PERM_READ_WRITE = PERM_READ | PERM_WRITE

# Java: TopicValidator's static SYSTEM_TOPIC_SET (the constructor adds the per-broker ones).
_STATIC_SYSTEM_TOPICS = frozenset(
    {
        SystemTopics.AUTO_CREATE_TOPIC_KEY,
        SystemTopics.SCHEDULE,
        SystemTopics.BENCHMARK,
        SystemTopics.TRANS_HALF,
        SystemTopics.TRACE,
        SystemTopics.TRANS_OP_HALF,
        SystemTopics.TRANS_CHECK_MAX_TIME,
        SystemTopics.SELF_TEST,
        SystemTopics.OFFSET_MOVED_EVENT,
    }
)


@dataclass(frozen=True, slots=True)
class CreateTopicResult:
    #: The topic's config; None when it could not be created (no template, or not inheritable).
    topic_config: TopicConfig | None
    #: True when this call created it: persist, then register with the name servers.
    created: bool = False
    #: Why nothing was created, for the response remark.
    reason: str | None = None


def _system_topic_configs(broker: BrokerConfig) -> list[TopicConfig]:
    """Java: the TopicConfigManager(BrokerController) constructor, in its order."""
    configs = [TopicConfig(topic_name=SystemTopics.SELF_TEST, read_queue_nums=1, write_queue_nums=1)]
    if broker.auto_create_topic_enable:
        configs.append(
            TopicConfig(
                topic_name=SystemTopics.AUTO_CREATE_TOPIC_KEY,
                read_queue_nums=broker.default_topic_queue_nums,
                write_queue_nums=broker.default_topic_queue_nums,
                perm=PERM_INHERIT | _PERM_READ_WRITE,
            )
        )
    configs.append(
        TopicConfig(topic_name=SystemTopics.BENCHMARK, read_queue_nums=1024, write_queue_nums=1024)
    )
    configs.append(
        TopicConfig(
            topic_name=broker.broker_cluster_name,
            perm=PERM_INHERIT | (_PERM_READ_WRITE if broker.cluster_topic_enable else 0),
        )
    )
    configs.append(
        TopicConfig(
            topic_name=broker.broker_name,
            read_queue_nums=1,
            write_queue_nums=1,
            perm=PERM_INHERIT | (_PERM_READ_WRITE if broker.broker_topic_enable else 0),
        )
    )
    configs.append(
        TopicConfig(topic_name=SystemTopics.OFFSET_MOVED_EVENT, read_queue_nums=1, write_queue_nums=1)
    )
    configs.append(
        TopicConfig(
            topic_name=SystemTopics.SCHEDULE,
            read_queue_nums=SCHEDULE_TOPIC_QUEUE_NUMS,
            write_queue_nums=SCHEDULE_TOPIC_QUEUE_NUMS,
        )
    )
    if broker.trace_topic_enable:
        configs.append(
            TopicConfig(topic_name=broker.msg_trace_topic_name, read_queue_nums=1, write_queue_nums=1)
        )
    configs.append(
        TopicConfig(
            topic_name=broker.broker_cluster_name + SystemTopics.REPLY_TOPIC_POSTFIX,
            read_queue_nums=1,
            write_queue_nums=1,
        )
    )
    return configs


class TopicConfigManager(VersionedTable[TopicConfig]):
    """The topic table of one broker. Returned TopicConfig objects are snapshots: change a topic
    with `update_topic_config`, never by mutating one. `to_json()` is the topics.json document, also
    the `topicConfigSerializeWrapper` of REGISTER_BROKER and the body of GET_ALL_TOPIC_CONFIG (Java
    TopicConfigSerializeWrapper)."""

    TABLE_KEY = "topicConfigTable"

    def __init__(self, broker: BrokerConfig, config_dir: Path | str, *, now_ms: int) -> None:
        system = _system_topic_configs(broker)
        super().__init__(
            config_dir, FILE_NAME, ((config.topic_name, config) for config in system), now_ms=now_ms
        )
        self._broker = broker
        self._system_topics = _STATIC_SYSTEM_TOPICS | {config.topic_name for config in system}

    # -- persistence: topics.json (or its .bak) merged over the system topics ------------------------
    def entry_from_json(self, name: str, raw: Mapping[str, Any]) -> tuple[str, TopicConfig]:
        config = TopicConfig.from_json({"topicName": name, **raw})
        return config.topic_name, config

    # -- queries --------------------------------------------------------------------------------
    @property
    def topics(self) -> Mapping[str, TopicConfig]:
        """A read-only view of the table."""
        return MappingProxyType(self._table)

    def select_topic_config(self, topic: str) -> TopicConfig | None:
        return self._table.get(topic)

    def is_system_topic(self, topic: str) -> bool:
        """Java: TopicValidator#isSystemTopic (with the topics the constructor added)."""
        return topic in self._system_topics or topic.startswith(SYSTEM_TOPIC_PREFIX)

    def is_order_topic(self, topic: str) -> bool:
        config = self._table.get(topic)
        return config is not None and config.order

    # -- changes --------------------------------------------------------------------------------
    def create_topic_in_send_message_method(
        self,
        topic: str,
        default_topic: str,
        client_default_topic_queue_nums: int,
        topic_sys_flag: int,
        *,
        now_ms: int,
    ) -> CreateTopicResult:
        """A send to an unknown topic (Java TopicConfigManager#createTopicInSendMessageMethod): copy
        the template `default_topic` (TBW102) if its perm has the inherit bit, with
        min(client's queue count, template's write queues) queues and the template's perm without
        the inherit bit."""
        existing = self._table.get(topic)
        if existing is not None:
            return CreateTopicResult(existing)
        template = self._table.get(default_topic)
        if template is None:
            return CreateTopicResult(None, reason=f"the default topic {default_topic} does not exist")
        if default_topic == SystemTopics.AUTO_CREATE_TOPIC_KEY and not self._broker.auto_create_topic_enable:
            # Java drops the inherit bit of a TBW102 loaded from an older topics.json.
            template = dataclasses.replace(template, perm=_PERM_READ_WRITE)
            self._table[default_topic] = template
        if not template.perm & PERM_INHERIT:
            return CreateTopicResult(
                None,
                reason=f"the default topic {default_topic} cannot be inherited (perm {template.perm}); "
                f"create {topic} first",
            )
        queue_nums = max(0, min(client_default_topic_queue_nums, template.write_queue_nums))
        config = TopicConfig(
            topic_name=topic,
            read_queue_nums=queue_nums,
            write_queue_nums=queue_nums,
            perm=template.perm & ~PERM_INHERIT,
            topic_filter_type=template.topic_filter_type,
            topic_sys_flag=topic_sys_flag,
        )
        self._table[topic] = config
        self._changed(now_ms)
        return CreateTopicResult(config, created=True)

    def create_topic_in_send_message_back_method(
        self, topic: str, queue_nums: int, perm: int, topic_sys_flag: int, *, now_ms: int
    ) -> CreateTopicResult:
        """Create `topic` with exactly these settings unless it exists (Java
        #createTopicInSendMessageBackMethod: retry, DLQ and transaction topics)."""
        existing = self._table.get(topic)
        if existing is not None:
            return CreateTopicResult(existing)
        config = TopicConfig(
            topic_name=topic,
            read_queue_nums=queue_nums,
            write_queue_nums=queue_nums,
            perm=perm,
            topic_sys_flag=topic_sys_flag,
        )
        self._table[topic] = config
        self._changed(now_ms)
        return CreateTopicResult(config, created=True)

    def create_retry_topic(
        self, consumer_group: str, retry_queue_nums: int, topic_sys_flag: int = 0, *, now_ms: int
    ) -> CreateTopicResult:
        """`%RETRY%<group>` with the group's retryQueueNums queues, read-write (Java: send-back and
        heartbeat paths)."""
        return self.create_topic_in_send_message_back_method(
            retry_topic(consumer_group), retry_queue_nums, _PERM_READ_WRITE, topic_sys_flag, now_ms=now_ms
        )

    def create_dlq_topic(self, consumer_group: str, *, now_ms: int) -> CreateTopicResult:
        """`%DLQ%<group>`, one queue, read-write as in 4.9.8 (consumers do not subscribe to it)."""
        return self.create_topic_in_send_message_back_method(
            dlq_topic(consumer_group), DLQ_QUEUE_NUMS_PER_GROUP, _PERM_READ_WRITE, 0, now_ms=now_ms
        )

    def create_trans_half_topic(self, *, now_ms: int) -> CreateTopicResult:
        """RMQ_SYS_TRANS_HALF_TOPIC, one queue (Java TransactionalMessageBridge#selectTopicConfig)."""
        return self.create_topic_in_send_message_back_method(
            SystemTopics.TRANS_HALF, 1, _PERM_READ_WRITE, 0, now_ms=now_ms
        )

    def create_trans_check_max_time_topic(self, *, now_ms: int) -> CreateTopicResult:
        """TRANS_CHECK_MAX_TIME_TOPIC (Java #createTopicOfTranCheckMaxTime)."""
        return self.create_topic_in_send_message_back_method(
            SystemTopics.TRANS_CHECK_MAX_TIME,
            TRANS_CHECK_MAX_TIME_QUEUE_NUMS,
            _PERM_READ_WRITE,
            0,
            now_ms=now_ms,
        )

    def update_topic_config(self, config: TopicConfig, *, now_ms: int) -> TopicConfig | None:
        """Create or replace a topic (UPDATE_AND_CREATE_TOPIC); returns the replaced config."""
        old = self._table.get(config.topic_name)
        self._table[config.topic_name] = dataclasses.replace(config)
        self._changed(now_ms)
        return old

    def delete_topic_config(self, topic: str, *, now_ms: int) -> bool:
        """DELETE_TOPIC_IN_BROKER; False when there was no such topic."""
        if self._table.pop(topic, None) is None:
            return False
        self._changed(now_ms)
        return True

    def update_order_topic_config(self, order_topics: Iterable[str], *, now_ms: int) -> bool:
        """Mark exactly `order_topics` as ordered (Java #updateOrderTopicConfig, from the name
        server's ORDER_TOPIC_CONFIG namespace); True when something changed."""
        wanted = set(order_topics)
        changed = False
        for name, config in self._table.items():
            order = name in wanted
            if config.order != order:
                self._table[name] = dataclasses.replace(config, order=order)
                changed = True
        if changed:
            self._changed(now_ms)
        return changed

    def update_topic_sys_flag(self, topic: str, topic_sys_flag: int, *, now_ms: int) -> bool:
        """Java #updateTopicUnitFlag / #updateTopicUnitSubFlag, with the computed flag."""
        config = self._table.get(topic)
        if config is None:
            return False
        self._table[topic] = dataclasses.replace(config, topic_sys_flag=topic_sys_flag)
        self._changed(now_ms)
        return True
