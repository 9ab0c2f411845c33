"""Fixed layouts: ConsumeQueue unit, index header and entry, checkpoint; the Java hash."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from pocketmq.common.clock import FakeClock
from pocketmq.common.java_hash import index_key_hash as slow_index_key_hash
from pocketmq.common.java_hash import java_string_hash
from pocketmq.store.checkpoint import CHECKPOINT, Checkpoint, StoreCheckpoint
from pocketmq.store.consume_queue.unit import CQ_UNIT, pack_unit, unpack_units
from pocketmq.store.index.index_file import IndexFile
from pocketmq.store.index.index_service import IndexService
from pocketmq.store.index.layout import (
    INDEX_ENTRY,
    INDEX_HEADER,
    fast_java_string_hash,
    index_key_hash,
    unsigned_hash,
)


@given(st.integers(0, 2**63 - 1), st.integers(1, 2**31 - 1), st.integers(-(2**63), 2**63 - 1))
def test_consume_queue_unit_round_trip(offset: int, size: int, tags_code: int) -> None:
    data = pack_unit(offset, size, tags_code)
    assert len(data) == CQ_UNIT.size == 20
    assert unpack_units(data + data[:7]) == [(offset, size, tags_code)]


def test_index_and_checkpoint_sizes() -> None:
    assert INDEX_HEADER.size == 40 and INDEX_ENTRY.size == 20 and CHECKPOINT.size == 24


@given(st.text(max_size=600))
@settings(max_examples=300)
def test_fast_hash_matches_java(text: str) -> None:
    assert fast_java_string_hash(text) == java_string_hash(text) == _reference_hash(text)
    assert index_key_hash(text) == slow_index_key_hash(text)


def _reference_hash(text: str) -> int:
    """String.hashCode() the plain way: a loop over the UTF-16 code units."""
    raw = text.encode("utf-16-be")
    h = 0
    for i in range(0, len(raw), 2):
        h = (h * 31 + ((raw[i] << 8) | raw[i + 1])) & 0xFFFFFFFF
    return h - (1 << 32) if h & 0x80000000 else h


def test_known_java_hashes() -> None:
    assert fast_java_string_hash("TagA") == 2598919
    assert fast_java_string_hash("") == 0
    assert fast_java_string_hash("🚀") == java_string_hash("🚀")


def test_checkpoint_round_trip(tmp_path: Path) -> None:
    checkpoint = StoreCheckpoint(tmp_path / "checkpoint")
    assert not checkpoint.existed
    checkpoint.write(Checkpoint(11, 22, 33))
    assert (tmp_path / "checkpoint").stat().st_size == 4096
    again = StoreCheckpoint(tmp_path / "checkpoint", read_only=True)
    assert again.value == Checkpoint(11, 22, 33)
    assert again.value.min_timestamp() == 11 - 3000


def test_index_file_chains_and_cut(tmp_path: Path) -> None:
    index = IndexFile(tmp_path / "20260101000000000", 4, 16, create=True)
    for i in range(10):
        assert index.put_key(i % 3 + 100, i * 100, 1_000_000 + i * 1000)
    assert index.index_count == 11
    assert index.select_offsets(100, 10, 0, 2**62) == [900, 600, 300, 0]
    assert index.select_offsets(100, 2, 0, 2**62) == [900, 600]
    assert index.select_offsets(100, 10, 1_003_000, 1_006_000) == [600, 300]
    assert index.cut(500) == 5
    assert index.index_count == 6 and index.end_phy_offset == 400
    assert index.select_offsets(100, 10, 0, 2**62) == [300, 0]
    assert index.select_offsets(101, 10, 0, 2**62) == [400, 100]
    index.close()
    reopened = IndexFile(tmp_path / "20260101000000000", 4, 16)
    assert reopened.index_count == 6 and reopened.select_offsets(102, 10, 0, 2**62) == [200]
    while reopened.put_key(7, 9999, 1_010_000):
        pass
    assert reopened.is_full and reopened.index_count == 16
    reopened.close()


@given(
    st.text(alphabet="0123456789ABCDEF", min_size=0, max_size=70), st.sampled_from(["T", "BenchTopic", "ü"])
)
@settings(max_examples=300)
def test_uniq_key_hash_matches_java(uniq_key: str, topic: str) -> None:
    service = IndexService(Path("/nonexistent"), 16, 64, FakeClock())
    prefix = unsigned_hash(f"{topic}#")
    assert service.uniq_key_hash(topic, prefix, uniq_key) == slow_index_key_hash(f"{topic}#{uniq_key}")
    # again, now from the cached head
    assert service.uniq_key_hash(topic, prefix, uniq_key) == slow_index_key_hash(f"{topic}#{uniq_key}")
