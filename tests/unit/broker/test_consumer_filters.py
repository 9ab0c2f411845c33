"""ConsumerFilterManager: registration rules, dead filters, cleaning, consumerFilter.json."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pocketmq.broker.filter import ConsumerFilterManager
from pocketmq.broker.filter.consumer_filters import ConsumerFilterData, compile_filter
from pocketmq.broker.filter.sql92 import Sql92Error
from pocketmq.common.filter_expression import ExpressionType, build_subscription_data
from pocketmq.store.config_file import loads_lenient

NOW = 1_800_000_000_000
DAY = 24 * 3600 * 1000


def _sql(topic: str, expression: str, version: int) -> object:
    return build_subscription_data(topic, expression, ExpressionType.SQL92, sub_version=version)


def test_register_compiles_and_ignores_tag_subscriptions(tmp_path: Path) -> None:
    manager = ConsumerFilterManager(tmp_path)
    assert manager.register(
        topic="T",
        consumer_group="G",
        expression="a > 1",
        expression_type="SQL92",
        client_version=1,
        now_ms=NOW,
    )
    assert not manager.register(
        topic="T2", consumer_group="G", expression="TagA", expression_type="TAG", client_version=1, now_ms=NOW
    )
    data = manager.get("T", "G")
    assert data is not None and data.compiled is not None and data.compiled.matches({"a": "2"})
    assert data.born_time_ms == NOW and not data.is_dead
    assert manager.get("T2", "G") is None and manager.dirty


def test_versions_decide_replacement(tmp_path: Path) -> None:
    manager = ConsumerFilterManager(tmp_path)
    register = manager.register
    register(
        topic="T",
        consumer_group="G",
        expression="a > 1",
        expression_type="SQL92",
        client_version=5,
        now_ms=NOW,
    )
    # an older or equal version never replaces the expression
    assert not register(
        topic="T",
        consumer_group="G",
        expression="a > 9",
        expression_type="SQL92",
        client_version=5,
        now_ms=NOW,
    )
    assert manager.get("T", "G").expression == "a > 1"  # type: ignore[union-attr]
    # a newer version does
    assert register(
        topic="T",
        consumer_group="G",
        expression="a > 9",
        expression_type="SQL92",
        client_version=6,
        now_ms=NOW + 1,
    )
    assert manager.get("T", "G").expression == "a > 9"  # type: ignore[union-attr]
    # a newer version with an invalid expression removes the filter (the pull reports the error)
    assert not register(
        topic="T",
        consumer_group="G",
        expression="a >",
        expression_type="SQL92",
        client_version=7,
        now_ms=NOW + 2,
    )
    assert manager.get("T", "G") is None


def test_heartbeat_marks_unsubscribed_topics_dead_and_revives(tmp_path: Path) -> None:
    manager = ConsumerFilterManager(tmp_path)
    manager.register_subscriptions("G", [_sql("A", "a = 1", 1), _sql("B", "b = 1", 1)], NOW)  # type: ignore[list-item]
    manager.register_subscriptions("G", [_sql("A", "a = 1", 1)], NOW + 10)  # type: ignore[list-item]
    b = manager.get("B", "G")
    assert b is not None and b.is_dead and b.dead_time_ms == NOW + 10
    manager.register_subscriptions("G", [_sql("A", "a = 1", 1), _sql("B", "b = 1", 1)], NOW + 20)  # type: ignore[list-item]
    assert not manager.get("B", "G").is_dead  # type: ignore[union-attr]
    manager.unregister("G", NOW + 30)
    assert all(data.is_dead for data in manager.get_by_group("G"))


def test_clean_drops_long_dead_filters(tmp_path: Path) -> None:
    manager = ConsumerFilterManager(tmp_path, clean_time_span_ms=DAY)
    manager.register(
        topic="T",
        consumer_group="G",
        expression="a = 1",
        expression_type="SQL92",
        client_version=1,
        now_ms=NOW,
    )
    manager.unregister("G", NOW + 1)
    manager.clean(NOW + DAY)
    assert manager.get("T", "G") is not None
    manager.clean(NOW + 1 + DAY)
    assert manager.get("T", "G") is None and manager.to_json() == {}


def test_persist_and_load(tmp_path: Path) -> None:
    manager = ConsumerFilterManager(tmp_path)
    manager.register(
        topic="T",
        consumer_group="G",
        expression="a BETWEEN 1 AND 3",
        expression_type="SQL92",
        client_version=4,
        now_ms=NOW,
    )
    manager.persist(NOW)
    document = loads_lenient((tmp_path / "consumerFilter.json").read_text())
    saved = document["filterDataByTopic"]["T"]
    assert saved["topic"] == "T"
    assert saved["groupFilterData"]["G"] == {
        "bornTime": NOW,
        "clientVersion": 4,
        "consumerGroup": "G",
        "dead": False,
        "deadTime": 0,
        "expression": "a BETWEEN 1 AND 3",
        "expressionType": "SQL92",
        "topic": "T",
    }
    reloaded = ConsumerFilterManager(tmp_path)
    assert reloaded.load(NOW + 60_000)
    data = reloaded.get("T", "G")
    # after a restart, the filter waits for its consumers to heartbeat again
    assert data is not None and data.is_dead and data.dead_time_ms == NOW + 30_000
    assert data.compiled is not None and data.compiled.matches({"a": "2"})
    assert reloaded.register(
        topic="T",
        consumer_group="G",
        expression="a BETWEEN 1 AND 3",
        expression_type="SQL92",
        client_version=4,
        now_ms=NOW,
    )
    assert not reloaded.get("T", "G").is_dead  # type: ignore[union-attr]


def test_loads_the_golden_file_and_a_java_written_filter(
    golden_config_dir: Path, golden_text: dict[str, str]
) -> None:
    manager = ConsumerFilterManager(golden_config_dir)
    assert manager.load(NOW) and manager.to_json() == {}
    assert manager.encode(NOW) == golden_text["consumerFilter.json"]
    java_written = {
        "filterDataByTopic": {
            "T": {
                "groupFilterData": {
                    "G": {
                        "bloomFilterData": {"bitNum": 64, "bitPos": [1, 5, 9]},
                        "bornTime": NOW,
                        "clientVersion": 3,
                        "consumerGroup": "G",
                        "dead": False,
                        "deadTime": 0,
                        "expression": "a > 1",
                        "expressionType": "SQL92",
                        "topic": "T",
                    }
                },
                "topic": "T",
            }
        }
    }
    (golden_config_dir / "consumerFilter.json").write_text(json.dumps(java_written))
    assert manager.load(NOW)
    data = manager.get("T", "G")
    assert data is not None and data.bloom_filter_data == {"bitNum": 64, "bitPos": [1, 5, 9]}
    assert loads_lenient(manager.encode(NOW))["filterDataByTopic"]["T"]["groupFilterData"]["G"][
        "bloomFilterData"
    ] == {
        "bitNum": 64,
        "bitPos": [1, 5, 9],
    }


def test_invalid_loaded_expression_has_no_compiled_filter() -> None:
    data = ConsumerFilterData.from_json(
        {"topic": "T", "consumerGroup": "G", "expression": "a >", "expressionType": "SQL92"}
    )
    assert data.compiled is None


def test_compile_filter_refuses_unknown_types() -> None:
    with pytest.raises(Sql92Error, match="not supported"):
        compile_filter("a > 1", "CLASS")
    with pytest.raises(Sql92Error, match="needs an expression"):
        compile_filter("", "SQL92")
