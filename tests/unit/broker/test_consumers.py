"""ConsumerManager and ProducerManager: groups, connections, subscriptions, who to notify."""

from __future__ import annotations

import pytest

from pocketmq.broker.consumers import ClientChannelInfo, ConsumerManager
from pocketmq.broker.producers import ProducerManager
from pocketmq.common.filter_expression import SubscriptionData
from pocketmq.protocol.bodies.heartbeat import ConsumeFromWhere, ConsumeType, MessageModel


def _info(client_id: str, now_ms: int = 0) -> ClientChannelInfo:
    return ClientChannelInfo(
        client_id=client_id, client_addr="1.2.3.4:5", language="JAVA", version=409, last_update_ms=now_ms
    )


def _register(
    manager: ConsumerManager, connection: str, topics: list[str], now_ms: int = 0, version: int = 1
) -> list[object] | None:
    return manager.register(
        "G",
        connection,
        _info(connection, now_ms),
        consume_type=ConsumeType.CONSUME_PASSIVELY,
        message_model=MessageModel.CLUSTERING,
        consume_from_where=ConsumeFromWhere.CONSUME_FROM_LAST_OFFSET,
        subscriptions=[SubscriptionData(topic=topic, sub_version=version) for topic in topics],
        now_ms=now_ms,
    )


def test_new_connections_and_topic_changes_notify_the_whole_group() -> None:
    manager = ConsumerManager()
    assert _register(manager, "c1", ["T"]) == ["c1"]
    assert _register(manager, "c1", ["T"]) is None  # a plain heartbeat changes nothing
    assert _register(manager, "c2", ["T"]) == ["c1", "c2"]
    assert _register(manager, "c2", ["T", "U"]) == ["c1", "c2"]  # a topic added
    assert _register(manager, "c2", ["T", "U"], version=5) is None  # a newer version only replaces
    assert manager.subscription("G", "U") is not None
    assert manager.subscription("G", "U").sub_version == 5  # type: ignore[union-attr]
    assert _register(manager, "c1", ["T"]) == ["c1", "c2"]  # U removed by the latest heartbeat
    assert manager.groups_of_topic("T") == ["G"]
    assert manager.get("G").client_ids() == ["c1", "c2"]  # type: ignore[union-attr]


def test_close_unregister_and_expiry() -> None:
    manager = ConsumerManager(channel_expired_timeout_ms=1000)
    _register(manager, "c1", ["T"], now_ms=0)
    _register(manager, "c2", ["T"], now_ms=500)
    assert manager.connection_closed("c1") == {"G": ["c2"]}
    assert manager.connection_closed("c1") == {}
    assert manager.unregister("G", "nobody") is None
    expired, changed = manager.scan_inactive(now_ms=1400)
    assert (expired, changed) == ([], {})
    expired, changed = manager.scan_inactive(now_ms=1600)
    assert expired == ["c2"]
    assert changed == {"G": []}
    assert manager.get("G") is None


def test_bounds_refuse_without_changing_anything() -> None:
    manager = ConsumerManager(groups_max=1, channels_per_group_max=1, subscriptions_per_group_max=2)
    _register(manager, "c1", ["T"])
    with pytest.raises(ValueError, match="already has"):
        _register(manager, "c2", ["T"])
    with pytest.raises(ValueError, match="subscriptions"):
        _register(manager, "c1", ["A", "B", "C"])
    with pytest.raises(ValueError, match="consumer groups"):
        manager.register(
            "H",
            "c3",
            _info("c3"),
            consume_type=ConsumeType.CONSUME_ACTIVELY,
            message_model=MessageModel.BROADCASTING,
            consume_from_where=ConsumeFromWhere.CONSUME_FROM_FIRST_OFFSET,
            subscriptions=[],
            now_ms=0,
        )
    assert manager.get("G").client_ids() == ["c1"]  # type: ignore[union-attr]


def test_producer_manager() -> None:
    manager = ProducerManager(channel_expired_timeout_ms=1000)
    manager.register("P", "c1", _info("c1", 0), 0)
    manager.register("P", "c2", _info("c2", 0), 0)
    manager.register("P", "c2", _info("c2", 900), 900)
    assert manager.any_channel("P") == "c1"
    manager.connection_closed("c1")
    assert list(manager.channels("P")) == ["c2"]
    assert manager.scan_inactive(1500) == []
    assert manager.scan_inactive(2000) == ["c2"]
    assert manager.groups() == []
    assert not manager.unregister("P", "c2")
