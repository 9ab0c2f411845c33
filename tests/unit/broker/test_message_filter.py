"""MessageFilter: the two stages a pull applies (ConsumeQueue tags code, then record properties)."""

from __future__ import annotations

from pocketmq.broker.filter import build_message_filter, compile_sql92
from pocketmq.common.filter_expression import ExpressionType, build_subscription_data
from pocketmq.common.java_hash import java_string_hash


def test_no_subscription_matches_everything() -> None:
    message_filter = build_message_filter(None)
    assert message_filter.is_matched_by_consume_queue(1)
    assert message_filter.is_matched_by_commit_log({"a": "1"})
    assert not message_filter.needs_properties


def test_tag_subscription_decides_on_the_consume_queue() -> None:
    message_filter = build_message_filter(build_subscription_data("T", "TagA || TagB"))
    assert message_filter.is_matched_by_consume_queue(java_string_hash("TagB"))
    assert not message_filter.is_matched_by_consume_queue(java_string_hash("TagC"))
    assert not message_filter.is_matched_by_consume_queue(0)  # a message without tags
    assert not message_filter.needs_properties
    assert message_filter.is_matched_by_commit_log({"TAGS": "TagC"})


def test_sql92_subscription_decides_on_the_properties() -> None:
    subscription = build_subscription_data("T", "a > 1 AND TAGS = 'x'", ExpressionType.SQL92)
    message_filter = build_message_filter(subscription, compile_sql92(subscription.sub_string))
    assert message_filter.needs_properties
    assert message_filter.is_matched_by_consume_queue(java_string_hash("anything"))
    assert message_filter.is_matched_by_commit_log({"a": "2", "TAGS": "x"})
    assert not message_filter.is_matched_by_commit_log({"a": "2"})
    assert not message_filter.is_matched_by_commit_log(None)


def test_sql92_subscription_without_compiled_filter_passes() -> None:
    subscription = build_subscription_data("T", "a > 1", ExpressionType.SQL92)
    assert build_message_filter(subscription).is_matched_by_commit_log({"a": "0"})


def test_retry_pulls_use_the_filter_of_the_original_topic() -> None:
    filters = {("OrderTopic", "G"): compile_sql92("region = 'eu'")}
    subscription = build_subscription_data("%RETRY%G", "*")
    message_filter = build_message_filter(
        subscription, filter_support_retry=True, retry_lookup=lambda topic, group: filters.get((topic, group))
    )
    assert message_filter.needs_properties
    assert message_filter.is_matched_by_commit_log({"RETRY_TOPIC": "OrderTopic", "region": "eu"})
    assert not message_filter.is_matched_by_commit_log({"RETRY_TOPIC": "OrderTopic", "region": "us"})
    assert message_filter.is_matched_by_commit_log({"RETRY_TOPIC": "TagTopic", "region": "us"})
    assert message_filter.is_matched_by_commit_log({"region": "us"})
    off = build_message_filter(subscription, retry_lookup=lambda topic, group: filters.get((topic, group)))
    assert off.is_matched_by_commit_log({"RETRY_TOPIC": "OrderTopic", "region": "us"})
