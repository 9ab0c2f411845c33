"""TopicConfigManager: system topics, topics.json of the real 4.9.8 store, auto-creation rules."""

from __future__ import annotations

from pathlib import Path

from pocketmq.broker.config import BrokerConfig
from pocketmq.broker.topics import TopicConfigManager
from pocketmq.common.topic import TopicConfig
from pocketmq.store.config_file import loads_lenient

NOW = 1_800_000_000_000
GOLDEN_BROKER = BrokerConfig(broker_name="broker-a", broker_cluster_name="DefaultCluster")


def _manager(config_dir: Path, **settings: object) -> TopicConfigManager:
    broker = BrokerConfig(**{"broker_name": "broker-a", **settings})  # type: ignore[arg-type]
    return TopicConfigManager(broker, config_dir, now_ms=NOW)


def test_system_topics_are_those_of_4_9_8(tmp_path: Path, golden_text: dict[str, str]) -> None:
    manager = TopicConfigManager(GOLDEN_BROKER, tmp_path, now_ms=NOW)
    golden = loads_lenient(golden_text["topics.json"])["topicConfigTable"]
    ours = manager.to_json()["topicConfigTable"]
    for name, config in ours.items():
        assert golden[name] == config, name
    assert set(golden) - set(ours) == {
        "%RETRY%GoldenConsumerGroup",
        "RMQ_SYS_TRANS_HALF_TOPIC",
        "GoldenTopicA",
        "GoldenTopicB",
    }
    assert manager.data_version.counter == 0


def test_optional_system_topics(tmp_path: Path) -> None:
    manager = _manager(
        tmp_path, auto_create_topic_enable=False, trace_topic_enable=True, cluster_topic_enable=False
    )
    assert manager.select_topic_config("TBW102") is None
    assert manager.select_topic_config("RMQ_SYS_TRACE_TOPIC") is not None
    assert manager.select_topic_config("DefaultCluster").perm == 1  # type: ignore[union-attr]
    assert manager.is_system_topic("DefaultCluster") and manager.is_system_topic("broker-a")
    assert manager.is_system_topic("rmq_sys_anything") and manager.is_system_topic(
        "RMQ_SYS_TRANS_OP_HALF_TOPIC"
    )
    assert not manager.is_system_topic("OrderTopic")


def test_loads_and_rewrites_the_golden_file(golden_config_dir: Path, golden_text: dict[str, str]) -> None:
    manager = TopicConfigManager(GOLDEN_BROKER, golden_config_dir, now_ms=NOW)
    assert manager.load()
    assert manager.data_version.counter == 4 and manager.data_version.timestamp_ms == 1795589888536
    topic_a = manager.select_topic_config("GoldenTopicA")
    assert topic_a == TopicConfig(topic_name="GoldenTopicA", read_queue_nums=4, write_queue_nums=4, perm=6)
    golden = loads_lenient(golden_text["topics.json"])
    assert manager.to_json() == golden
    manager.persist()
    assert (golden_config_dir / "topics.json").read_text() == golden_text["topics.json"]
    # the file written is the file read, and the old one became the backup
    assert (golden_config_dir / "topics.json.bak").read_text() == golden_text["topics.json"]


def test_loads_the_backup_when_topics_json_is_gone(golden_config_dir: Path) -> None:
    (golden_config_dir / "topics.json").unlink()
    manager = TopicConfigManager(GOLDEN_BROKER, golden_config_dir, now_ms=NOW)
    assert manager.load() and manager.data_version.counter == 3
    assert manager.select_topic_config("GoldenTopicB") is not None


def test_auto_create_through_tbw102(tmp_path: Path) -> None:
    manager = _manager(tmp_path, default_topic_queue_nums=8)
    result = manager.create_topic_in_send_message_method("NewTopic", "TBW102", 4, 0, now_ms=NOW + 1)
    assert result.created and result.topic_config == TopicConfig(
        topic_name="NewTopic", read_queue_nums=4, write_queue_nums=4, perm=6
    )
    assert (
        manager.data_version.counter == 1 and manager.data_version.timestamp_ms == NOW + 1 and manager.dirty
    )
    # the client asks for more queues than the template has: the template's count wins
    wide = manager.create_topic_in_send_message_method("Wide", "TBW102", 64, 0, now_ms=NOW)
    assert wide.topic_config is not None and wide.topic_config.write_queue_nums == 8
    # an existing topic is returned as is
    again = manager.create_topic_in_send_message_method("NewTopic", "TBW102", 2, 0, now_ms=NOW)
    assert not again.created and again.topic_config is not None and again.topic_config.read_queue_nums == 4
    assert (
        manager.create_topic_in_send_message_method("X", "NoTemplate", 4, 0, now_ms=NOW).topic_config is None
    )


def test_auto_create_refused_when_disabled(golden_config_dir: Path) -> None:
    # topics.json still holds TBW102 with the inherit bit, from a time auto-creation was on
    manager = TopicConfigManager(
        BrokerConfig(broker_name="broker-a", auto_create_topic_enable=False), golden_config_dir, now_ms=NOW
    )
    manager.load()
    result = manager.create_topic_in_send_message_method("NewTopic", "TBW102", 4, 0, now_ms=NOW)
    assert result.topic_config is None and not result.created
    assert result.reason is not None and "cannot be inherited" in result.reason
    assert manager.select_topic_config("TBW102").perm == 6  # type: ignore[union-attr]


def test_retry_dlq_and_transaction_topics(tmp_path: Path) -> None:
    manager = _manager(tmp_path)
    retry = manager.create_retry_topic("G", 1, now_ms=NOW)
    assert retry.created and retry.topic_config == TopicConfig(
        topic_name="%RETRY%G", read_queue_nums=1, write_queue_nums=1, perm=6
    )
    dlq = manager.create_dlq_topic("G", now_ms=NOW)
    assert dlq.topic_config is not None and dlq.topic_config.topic_name == "%DLQ%G"
    half = manager.create_trans_half_topic(now_ms=NOW)
    assert half.topic_config is not None and half.topic_config.write_queue_nums == 1
    check = manager.create_trans_check_max_time_topic(now_ms=NOW)
    assert check.topic_config is not None and check.topic_config.topic_name == "TRANS_CHECK_MAX_TIME_TOPIC"
    assert not manager.create_retry_topic("G", 3, now_ms=NOW).created
    assert manager.data_version.counter == 4


def test_update_delete_and_order(tmp_path: Path) -> None:
    manager = _manager(tmp_path)
    config = TopicConfig(topic_name="T", read_queue_nums=2, write_queue_nums=4, perm=4)
    assert manager.update_topic_config(config, now_ms=NOW) is None
    assert manager.update_topic_config(config, now_ms=NOW) == config
    assert manager.topics["T"] == config
    assert manager.update_order_topic_config(["T"], now_ms=NOW) and manager.is_order_topic("T")
    assert not manager.update_order_topic_config(["T"], now_ms=NOW)
    assert manager.update_topic_sys_flag("T", 1, now_ms=NOW) and manager.topics["T"].topic_sys_flag == 1
    assert manager.delete_topic_config("T", now_ms=NOW)
    assert not manager.delete_topic_config("T", now_ms=NOW)
    assert manager.data_version.counter == 5


def test_encode_clears_dirty_and_round_trips(tmp_path: Path) -> None:
    manager = _manager(tmp_path)
    manager.create_topic_in_send_message_method("T", "TBW102", 4, 0, now_ms=NOW + 5)
    manager.persist()
    assert not manager.dirty
    reloaded = _manager(tmp_path)
    assert reloaded.load() and reloaded.topics == manager.topics
    assert reloaded.data_version == manager.data_version
