"""MessageFilter: what one pull applies to the units and records it reads.

Java: ExpressionMessageFilter and ExpressionForRetryMessageFilter. Two stages, so the store can skip
most work: `is_matched_by_consume_queue(tags_code)` on each 20-byte ConsumeQueue unit (tag
subscriptions decide here, by hash code), then `is_matched_by_commit_log(properties)` on records that
passed (SQL92 subscriptions decide here, on the user properties and TAGS). `needs_properties` tells
the store whether the second stage can reject anything.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from pocketmq.broker.filter.sql92 import Sql92Filter
from pocketmq.common.filter_expression import SubscriptionData
from pocketmq.common.topic import SystemTopics, is_retry_topic

__all__ = ["MessageFilter", "build_message_filter", "PROPERTY_RETRY_TOPIC"]

#: The property holding the original topic of a retried message (Java MessageConst).
PROPERTY_RETRY_TOPIC = "RETRY_TOPIC"

#: Finds the SQL92 filter of (original topic, group) for retried messages.
RetryFilterLookup = Callable[[str, str], Sql92Filter | None]


@dataclass(frozen=True, slots=True)
class MessageFilter:
    #: The subscription of the pull (None: everything matches).
    subscription: SubscriptionData | None
    #: The compiled SQL92 filter of (topic, group), for SQL92 subscriptions.
    sql_filter: Sql92Filter | None = None
    #: Set when pulls from `%RETRY%<group>` apply the filter of each message's original topic
    #: (broker setting filterSupportRetry).
    retry_lookup: RetryFilterLookup | None = None

    @property
    def _is_retry_pull(self) -> bool:
        return (
            self.retry_lookup is not None
            and self.subscription is not None
            and is_retry_topic(self.subscription.topic)
        )

    @property
    def needs_properties(self) -> bool:
        """Whether `is_matched_by_commit_log` can say no (else the store may skip decoding)."""
        if self.subscription is None or self.subscription.class_filter_mode:
            return False
        if self._is_retry_pull:
            return True
        return not self.subscription.is_tag_type and self.sql_filter is not None

    def is_matched_by_consume_queue(self, tags_code: int | None) -> bool:
        """Stage one, on a ConsumeQueue unit's tags code (a hash: collisions pass, and the client
        checks the exact tag). SQL92 subscriptions pass here (no bloom-filter bitmaps)."""
        if self.subscription is None:
            return True
        return self.subscription.matches_tags_code(tags_code)

    def is_matched_by_commit_log(self, properties: Mapping[str, str] | None) -> bool:
        """Stage two, on the properties of a stored record."""
        if not self.needs_properties:
            return True
        sql_filter = self.sql_filter
        if self._is_retry_pull:
            assert self.retry_lookup is not None and self.subscription is not None
            original_topic = (properties or {}).get(PROPERTY_RETRY_TOPIC)
            group = self.subscription.topic[len(SystemTopics.RETRY_GROUP_TOPIC_PREFIX) :]
            sql_filter = self.retry_lookup(original_topic, group) if original_topic else None
        if sql_filter is None:
            return True
        return sql_filter.matches(properties)


def build_message_filter(
    subscription: SubscriptionData | None,
    sql_filter: Sql92Filter | None = None,
    *,
    filter_support_retry: bool = False,
    retry_lookup: RetryFilterLookup | None = None,
) -> MessageFilter:
    """The filter of one pull. With `filter_support_retry`, pass `retry_lookup` (usually
    `lambda topic, group: (data := filters.get(topic, group)) and data.compiled`)."""
    return MessageFilter(subscription, sql_filter, retry_lookup if filter_support_retry else None)
