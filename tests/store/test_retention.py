"""Retention: expired segments go at deleteWhen, on disk pressure or on request; never the one
being written, never one a reader holds; ConsumeQueue and index files follow; min offsets move."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest

from pocketmq.common.clock import FakeClock
from pocketmq.store import message_store as message_store_module
from pocketmq.store.message_store import MessageStore
from pocketmq.store.results import GetMessageStatus
from tests.store.conftest import make_message, tiny_config

HOUR_MS = 3_600_000


def at_local_hour(hour: int) -> int:
    return int(dt.datetime(2027, 1, 5, hour, 30).timestamp() * 1000)


@pytest.fixture(autouse=True)
def quiet_disk(monkeypatch: pytest.MonkeyPatch) -> None:
    """The machine's real disk use must not decide these tests."""
    monkeypatch.setattr(message_store_module, "disk_used_percent", lambda path: 10.0)


def filled_store(tmp_path: Path, count: int = 120) -> MessageStore:
    store = MessageStore(tiny_config(tmp_path, file_reserved_hours=72), clock=FakeClock(at_local_hour(1)))
    store.open()
    for i in range(count):
        store.append_message(make_message(body=b"r" * 150, queue_id=i % 2, keys=f"k{i}"))
    return store


def age_segments(store: MessageStore, hours: int) -> None:
    old = (at_local_hour(4) - hours * HOUR_MS) / 1000
    for mapped in store.commit_log.files.files:
        os.utime(mapped.path, (old, old))


def test_expired_segments_go_at_delete_when(tmp_path: Path) -> None:
    store = filled_store(tmp_path)
    try:
        segments = len(store.commit_log.files)
        assert segments > 4
        age_segments(store, 100)
        assert store.run_retention(now_ms=at_local_hour(3)).deleted_segments == 0  # not the hour
        outcome = store.run_retention(now_ms=at_local_hour(4))
        assert outcome.deleted_segments == segments - 1  # never the last one
        assert store.min_commit_log_offset == store.commit_log.files.files[0].file_from_offset
        assert outcome.deleted_consume_queue_files > 0
        for queue_id in (0, 1):
            low = store.get_min_offset_in_queue("TopicT", queue_id)
            assert low > 0
            got = store.get_message("G", "TopicT", queue_id, 0, 32)
            assert (got.status, got.next_begin_offset) == (GetMessageStatus.OFFSET_TOO_SMALL, low)
            got = store.get_message("G", "TopicT", queue_id, low, 32)
            assert got.status is GetMessageStatus.FOUND
            assert got.commit_log_offsets[0] >= store.min_commit_log_offset
        assert store.index is not None and len(store.index.files) >= 1
        assert all(f.end_phy_offset >= store.min_commit_log_offset for f in store.index.files[:-1])
        assert store.query_message("TopicT", "k0", 5, 0, 2**62).messages == []
        assert len(store.query_message("TopicT", "k119", 5, 0, 2**62).messages) == 1
        result = store.append_message(make_message())
        assert result.ok
    finally:
        store.close()


def test_young_segments_stay_and_batch_limit(tmp_path: Path) -> None:
    store = filled_store(tmp_path)
    try:
        age_segments(store, 10)
        assert store.run_retention(now_ms=at_local_hour(4)).deleted_segments == 0
        age_segments(store, 100)
        object.__setattr__(store.config, "delete_files_batch_max", 2)
        assert store.run_retention(now_ms=at_local_hour(4), manual=True).deleted_segments == 2
    finally:
        store.close()


def test_a_held_segment_is_not_deleted(tmp_path: Path) -> None:
    store = filled_store(tmp_path)
    try:
        age_segments(store, 100)
        second = store.commit_log.files.files[1]
        assert second.retain()
        outcome = store.run_retention(now_ms=at_local_hour(4))
        assert outcome.deleted_segments == 1  # stops at the held one
        assert store.commit_log.files.files[0] is second and second.path.exists()
        second.release()
        assert store.run_retention(now_ms=at_local_hour(4)).deleted_segments > 0
    finally:
        store.close()


@pytest.mark.parametrize(
    ("disk_used", "hours", "deleted"), [(80.0, 100, True), (80.0, 1, False), (90.0, 1, True)]
)
def test_disk_pressure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, disk_used: float, hours: int, deleted: bool
) -> None:
    store = filled_store(tmp_path)
    monkeypatch.setattr(message_store_module, "disk_used_percent", lambda path: disk_used)
    try:
        age_segments(store, hours)
        outcome = store.run_retention(now_ms=at_local_hour(4) + 3 * HOUR_MS)  # off the hour
        assert (outcome.deleted_segments > 0) == deleted
    finally:
        store.close()
