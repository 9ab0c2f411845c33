"""BrokerContext: the narrow set of components the request handlers work with.

Handlers get this instead of the whole Broker (STYLE: no back-references to a whole subsystem).
`broker.py` builds it once and wires the callbacks (registration trigger, consumer notification).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from pocketmq.broker.config import BrokerConfig
from pocketmq.broker.consumer_offsets import ConsumerOffsetManager
from pocketmq.broker.consumers import ConsumerManager
from pocketmq.broker.filter import ConsumerFilterManager
from pocketmq.broker.producers import ProducerManager
from pocketmq.broker.rebalance_locks import RebalanceLockManager
from pocketmq.broker.subscription_groups import SubscriptionGroupManager
from pocketmq.broker.topics import TopicConfigManager
from pocketmq.common.clock import Clock
from pocketmq.store.config import StoreConfig

if TYPE_CHECKING:
    from pocketmq.broker.long_polling import LongPolling
    from pocketmq.store.message_store import MessageStore

__all__ = ["BrokerContext", "BrokerStats", "FAQ_URL"]

#: Java FAQUrl prefix that 4.9.8 appends to several remarks.
FAQ_URL = "http://rocketmq.apache.org/docs/faq/"


@dataclass(slots=True)
class BrokerStats:
    """Counters for GET_BROKER_RUNTIME_INFO (Java StoreStatsService, reduced): totals, and samples
    taken every 10 s for the rates over 10 s, 1 min and 10 min."""

    put_message_count: int = 0
    put_message_bytes: int = 0
    get_found_count: int = 0
    get_miss_count: int = 0
    boot_timestamp_ms: int = 0
    #: (now_ms, put, found, miss) every 10 s, the last 10 minutes.
    samples: deque[tuple[int, int, int, int]] = field(default_factory=lambda: deque(maxlen=61))

    def sample(self, now_ms: int) -> None:
        self.samples.append((now_ms, self.put_message_count, self.get_found_count, self.get_miss_count))

    def rates(self, index: int, now_ms: int) -> str:
        """Java getPutTps() and friends: "tps10s tps60s tps600s" (per second) of counter `index`
        (1 put, 2 found, 3 miss), each from the oldest sample within its window."""
        current = (now_ms, self.put_message_count, self.get_found_count, self.get_miss_count)
        parts = []
        for window_ms in (10_000, 60_000, 600_000):
            oldest = next((sample for sample in self.samples if now_ms - sample[0] <= window_ms), None)
            if oldest is None or now_ms <= oldest[0]:
                parts.append("0.0")
                continue
            parts.append(f"{(current[index] - oldest[index]) * 1000 / (now_ms - oldest[0]):.1f}")
        return " ".join(parts)


@dataclass(slots=True)
class BrokerContext:
    config: BrokerConfig
    store_config: StoreConfig
    store: MessageStore
    topics: TopicConfigManager
    groups: SubscriptionGroupManager
    offsets: ConsumerOffsetManager
    consumers: ConsumerManager
    producers: ProducerManager
    filters: ConsumerFilterManager
    clock: Clock
    #: "ip:port" clients reach this broker at (the store host of every record).
    broker_address: str
    long_polling: LongPolling | None = None
    locks: RebalanceLockManager = field(default_factory=RebalanceLockManager)
    stats: BrokerStats = field(default_factory=BrokerStats)
    #: Register with every name server now (oneway=True after an internal topic creation).
    register_now: Callable[[bool], None] = lambda oneway: None
    #: Send NOTIFY_CONSUMER_IDS_CHANGED for `group` to these connections.
    notify_consumers: Callable[[str, list[Hashable]], None] = lambda group, connections: None
    #: Write changed topics.json / subscriptionGroup.json soon (off the loop).
    persist_soon: Callable[[], None] = lambda: None
    #: The broker config changed (UPDATE_BROKER_CONFIG): the owner adopts it everywhere.
    config_changed: Callable[[BrokerConfig], None] = lambda config: None
    #: Write every changed config file now (off the loop); the task ends when they are durable.
    persist_now: Callable[[], asyncio.Future[None]] | None = None
    #: Topics created on the send path whose topics.json write is still in flight: sends to them
    #: are answered only once it is durable (a SIGKILL must not lose an acknowledged message).
    pending_topics: dict[str, asyncio.Future[None]] = field(default_factory=dict)
    #: delayOffset.json as the file holds it (the GET_ALL_DELAY_OFFSET body); set by the owner of
    #: the schedule service.
    delay_offsets_json: Callable[[], str] = lambda: '{"offsetTable":{}}'
    #: scheduleMessageOffset_<level> -> "delivered,max" for GET_BROKER_RUNTIME_INFO.
    schedule_stats: Callable[[], dict[str, str]] = dict

    def persist_topic_creation(self, topic: str) -> None:
        """After creating `topic` on the send path: write topics.json now and hold sends to it."""
        if self.persist_now is None:
            self.persist_soon()
            return
        future = self.persist_now()
        self.pending_topics[topic] = future
        future.add_done_callback(lambda _: self.pending_topics.pop(topic, None))

    @property
    def broker_host(self) -> str:
        return self.broker_address.rpartition(":")[0]
