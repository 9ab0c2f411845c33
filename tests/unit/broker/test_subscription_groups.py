"""SubscriptionGroupManager: built-in groups, subscriptionGroup.json of the real 4.9.8 store."""

from __future__ import annotations

from pathlib import Path

from pocketmq.broker.subscription_groups import SubscriptionGroupConfig, SubscriptionGroupManager
from pocketmq.store.config_file import loads_lenient

NOW = 1_800_000_000_000


def test_built_in_groups_are_those_of_4_9_8(tmp_path: Path, golden_text: dict[str, str]) -> None:
    manager = SubscriptionGroupManager(tmp_path, auto_create_subscription_group=True, now_ms=NOW)
    golden = loads_lenient(golden_text["subscriptionGroup.json"])["subscriptionGroupTable"]
    ours = manager.to_json()["subscriptionGroupTable"]
    assert set(golden) - set(ours) == {"GoldenConsumerGroup"}
    for name, config in ours.items():
        assert golden[name] == config, name


def test_loads_and_rewrites_the_golden_file(golden_config_dir: Path, golden_text: dict[str, str]) -> None:
    manager = SubscriptionGroupManager(golden_config_dir, auto_create_subscription_group=True, now_ms=NOW)
    assert manager.load()
    assert manager.data_version.counter == 1
    group = manager.get("GoldenConsumerGroup")
    assert group == SubscriptionGroupConfig(group_name="GoldenConsumerGroup")
    assert group is not None and group.retry_max_times == 16 and group.retry_queue_nums == 1
    assert manager.encode() == golden_text["subscriptionGroup.json"]


def test_auto_create(tmp_path: Path) -> None:
    manager = SubscriptionGroupManager(tmp_path, auto_create_subscription_group=True, now_ms=NOW)
    created = manager.find_subscription_group_config("NewGroup", now_ms=NOW + 1)
    assert created == SubscriptionGroupConfig(group_name="NewGroup")
    assert manager.dirty and manager.data_version.counter == 1
    assert manager.find_subscription_group_config("NewGroup", now_ms=NOW + 2) is created
    assert manager.data_version.counter == 1


def test_no_auto_create(tmp_path: Path) -> None:
    manager = SubscriptionGroupManager(tmp_path, auto_create_subscription_group=False, now_ms=NOW)
    assert manager.find_subscription_group_config("NewGroup", now_ms=NOW) is None
    assert manager.find_subscription_group_config("CID_RMQ_SYS_TRANS", now_ms=NOW) is not None


def test_update_disable_delete_and_persist(tmp_path: Path) -> None:
    manager = SubscriptionGroupManager(tmp_path, auto_create_subscription_group=True, now_ms=NOW)
    config = SubscriptionGroupConfig(
        group_name="G", retry_max_times=3, retry_queue_nums=2, consume_broadcast_enable=False
    )
    assert manager.update_subscription_group_config(config, now_ms=NOW) is None
    assert manager.disable_consume("G", now_ms=NOW)
    assert manager.get("G") is not None and not manager.get("G").consume_enable  # type: ignore[union-attr]
    manager.persist()
    reloaded = SubscriptionGroupManager(tmp_path, auto_create_subscription_group=True, now_ms=NOW)
    assert reloaded.load() and reloaded.groups == manager.groups
    assert reloaded.delete_subscription_group_config("G", now_ms=NOW)
    assert not reloaded.delete_subscription_group_config("G", now_ms=NOW)


def test_admin_bodies_with_string_values() -> None:
    config = SubscriptionGroupConfig.from_json(
        {"groupName": "G", "consumeEnable": "false", "retryMaxTimes": "5", "brokerId": 0}
    )
    assert not config.consume_enable and config.retry_max_times == 5 and config.retry_queue_nums == 1
