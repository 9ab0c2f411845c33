"""ConsumerConfig: the settings a push consumer and a lite pull consumer share.

Java: the fields DefaultMQPushConsumer and DefaultLitePullConsumer both declare (messageModel,
consumeFromWhere, consumeTimestamp, allocateMessageQueueStrategy) and the local offset store directory.
Each consumer's own settings extend it: push_consumer.PushConsumerConfig,
lite_pull_consumer.LitePullConsumerConfig.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from pocketmq.client.consumer.allocation import AllocateStrategy, Averagely
from pocketmq.client.consumer.consume_from import ConsumeFromWhere
from pocketmq.client.consumer.rebalance import MessageModel

__all__ = ["ConsumerConfig"]


@dataclass(frozen=True, slots=True, kw_only=True)
class ConsumerConfig:
    #: Java: messageModel (CLUSTERING).
    message_model: MessageModel = MessageModel.CLUSTERING
    #: Java: consumeFromWhere (CONSUME_FROM_LAST_OFFSET).
    consume_from_where: ConsumeFromWhere = ConsumeFromWhere.CONSUME_FROM_LAST_OFFSET
    #: yyyyMMddHHmmss for CONSUME_FROM_TIMESTAMP; None: half an hour ago. Java: consumeTimestamp.
    consume_timestamp: str | None = None
    #: Java: allocateMessageQueueStrategy (AllocateMessageQueueAveragely).
    allocate_strategy: AllocateStrategy = field(default_factory=Averagely)
    #: Broadcasting offsets directory (default ~/.rocketmq_offsets).
    #: Java: rocketmq.client.localOffsetStoreDir.
    offset_store_dir: Path | None = None
