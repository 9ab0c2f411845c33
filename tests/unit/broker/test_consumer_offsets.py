"""ConsumerOffsetManager and ScheduleOffsetTable against the real 4.9.8 files."""

from __future__ import annotations

from pathlib import Path

from pocketmq.broker.consumer_offsets import ConsumerOffsetManager
from pocketmq.broker.schedule_offsets import ScheduleOffsetTable, delay_level_to_queue_id


def test_loads_and_rewrites_the_golden_offsets(golden_config_dir: Path, golden_text: dict[str, str]) -> None:
    manager = ConsumerOffsetManager(golden_config_dir)
    assert manager.load()
    assert manager.query_offsets("GoldenConsumerGroup", "GoldenTopicA") == {0: 3, 1: 3, 2: 4, 3: 3}
    assert manager.query_offset("GoldenConsumerGroup", "GoldenTopicB", 2) == 5
    assert manager.query_offset("GoldenConsumerGroup", "%RETRY%GoldenConsumerGroup", 0) == 1
    assert manager.query_offset("GoldenConsumerGroup", "GoldenTopicB", 9) == -1
    assert manager.query_offset("Other", "GoldenTopicB", 0) == -1
    assert manager.encode() == golden_text["consumerOffset.json"]
    manager.persist()
    assert (golden_config_dir / "consumerOffset.json").read_text() == golden_text["consumerOffset.json"]


def test_commit_query_and_persist(tmp_path: Path) -> None:
    manager = ConsumerOffsetManager(tmp_path)
    manager.commit_offset("G", "T", 0, 10)
    manager.commit_offset("G", "T", 1, 20)
    manager.commit_offset("G", "T", 0, 5)  # moving back is allowed (offset resets)
    assert manager.query_offset("G", "T", 0) == 5 and manager.dirty
    manager.persist()
    assert not manager.dirty
    assert (
        tmp_path / "consumerOffset.json"
    ).read_text() == '{\n\t"offsetTable":{\n\t\t"T@G":{0:5,1:20\n\t\t}\n\t}\n}'
    reloaded = ConsumerOffsetManager(tmp_path)
    assert reloaded.load() and reloaded.offset_table == {"T@G": {0: 5, 1: 20}}


def test_queries_by_group_and_topic() -> None:
    manager = ConsumerOffsetManager(Path("/nonexistent"))
    manager.commit_offset("G1", "A", 0, 1)
    manager.commit_offset("G1", "B", 0, 1)
    manager.commit_offset("G2", "A", 0, 7)
    manager.commit_offset("G2", "A", 1, 2)
    assert manager.which_topic_by_consumer("G1") == {"A", "B"}
    assert manager.which_group_by_topic("A") == {"G1", "G2"}
    assert manager.query_min_offset_in_all_group("A", [], lambda queue_id: 0) == {0: 1, 1: 2}
    assert manager.query_min_offset_in_all_group("A", ["G1"], lambda queue_id: 0) == {0: 7, 1: 2}
    assert manager.query_min_offset_in_all_group("A", [], lambda queue_id: 3) == {0: 7}
    assert manager.clone_offset("G2", "G3", "A") and manager.query_offsets("G3", "A") == {0: 7, 1: 2}


def test_cleaning() -> None:
    manager = ConsumerOffsetManager(Path("/nonexistent"))
    for group, topic in [("G1", "A"), ("G1", "Gone"), ("G2", "A"), ("G2", "Gone")]:
        manager.commit_offset(group, topic, 0, 5)
    assert manager.clean_deleted_topics(["A"]) == 2 and manager.which_group_by_topic("Gone") == set()
    assert manager.remove_offset("G1") == 1 and manager.which_topic_by_consumer("G1") == set()
    manager.commit_offset("G3", "A", 0, 5)
    removed = manager.scan_unsubscribed_topic(
        is_subscribed=lambda group, topic: group == "G2", min_offset_in_queue=lambda topic, queue_id: 5
    )
    assert removed == 1 and manager.which_group_by_topic("A") == {"G2"}
    assert manager.remove_topic("A") == 1 and manager.offset_table == {}


def test_schedule_offsets(golden_config_dir: Path, golden_text: dict[str, str]) -> None:
    table = ScheduleOffsetTable(golden_config_dir)
    assert table.load()
    assert table.offsets == {2: 1, 3: 1} and table.get(2) == 1 and table.get(1) == 0
    assert table.encode() == golden_text["delayOffset.json"]
    table.update(1, 4)
    table.persist()
    reloaded = ScheduleOffsetTable(golden_config_dir)
    assert reloaded.load() and reloaded.offsets == {2: 1, 3: 1, 1: 4}
    assert delay_level_to_queue_id(3) == 2
