"""Crash recovery and corruption: torn tails, flipped bytes, truncated files, a missing
checkpoint or missing ConsumeQueues. After each, the store opens, keeps every intact record, and
its ConsumeQueues and index match the CommitLog exactly (verify_store)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from pocketmq.cli.main import cli
from pocketmq.common.errors import CorruptionError
from pocketmq.store.config import StoreConfig
from pocketmq.store.message_store import MessageStore
from pocketmq.store.results import GetMessageStatus, PutMessageResult
from pocketmq.store.tools import verify_store
from tests.store.conftest import make_message, tiny_config


def write_and_crash(config: StoreConfig, count: int) -> list[PutMessageResult]:
    """Append `count` messages, flush, and close without a clean shutdown (abort stays)."""
    store = MessageStore(config)
    store.open()
    results = [
        store.append_message(
            make_message(body=f"m{i}".encode() * 20, queue_id=i % 2, keys=f"k{i}", uniq_key=f"U{i}")
        )
        for i in range(count)
    ]
    store.flush_now()
    store.close()
    assert (config.store_root_dir / "abort").exists()
    return results


def reopen_and_verify(config: StoreConfig) -> tuple[MessageStore, Any]:
    store = MessageStore(config)
    report = store.open()
    verified = verify_store(store)
    assert verified.ok, verified.problems
    return store, report


def segment_of(config: StoreConfig, offset: int) -> tuple[Path, int]:
    start = offset - offset % config.commit_log_file_bytes
    return config.commit_log_path / f"{start:020d}", offset - start


def patch(path: Path, position: int, data: bytes) -> None:
    with path.open("r+b") as handle:
        handle.seek(position)
        handle.write(data)


@pytest.mark.parametrize("cut", ["mid_header", "mid_body", "after_last_record", "zeroed_end"])
def test_recovery_truncates_torn_tail(tmp_path: Path, cut: str) -> None:
    config = tiny_config(tmp_path)
    results = write_and_crash(config, 40)
    last = results[-1]
    path, position = segment_of(config, last.commit_log_offset)
    keep = {"mid_header": 10, "mid_body": 95, "after_last_record": last.wrote_bytes, "zeroed_end": 0}[cut]
    patch(path, position + keep, bytes(last.wrote_bytes - keep))
    store, report = reopen_and_verify(config)
    try:
        intact = 40 if cut == "after_last_record" else 39
        assert not report.clean
        assert report.commit_log_end == results[intact - 1].end_offset
        assert store.max_commit_log_offset == results[intact - 1].end_offset
        assert (
            store.get_max_offset_in_queue("TopicT", 0) + store.get_max_offset_in_queue("TopicT", 1) == intact
        )
        if intact == 39:
            assert (report.truncated_bytes > 0) == (cut != "zeroed_end")
            assert store.query_message("TopicT", "k39", 5, 0, 2**62).messages == []
            assert (path.read_bytes()[position:]).strip(b"\x00") == b""  # zeroed
        again = store.append_message(make_message(queue_id=1))
        assert again.commit_log_offset == results[intact - 1].end_offset
        assert again.queue_offset == intact // 2
        assert len(store.query_message("TopicT", "k20", 5, 0, 2**62).messages) == 1
    finally:
        store.close()


def test_flipped_byte_mid_log_is_reported_and_skipped(tmp_path: Path) -> None:
    config = tiny_config(tmp_path)
    results = write_and_crash(config, 60)
    victim = results[5]
    os.remove(config.store_root_dir / "checkpoint")  # force a scan from the first segment
    path, position = segment_of(config, victim.commit_log_offset)
    patch(path, position + 90, b"\xff")  # inside the body: CRC mismatch
    store = MessageStore(config)
    report = store.open()
    try:
        assert report.corruptions and str(path) in report.corruptions[0]
        assert f"position {position}" in report.corruptions[0]
        assert store.max_commit_log_offset == results[-1].end_offset  # nothing after it lost
        got = store.get_message("G", "TopicT", 1, 0, 32)
        assert got.status is GetMessageStatus.FOUND
        assert victim.commit_log_offset not in got.commit_log_offsets
        assert results[7].commit_log_offset in got.commit_log_offsets
    finally:
        store.close()
    verify = CliRunner().invoke(cli, ["store", "verify", str(config.store_root_dir)])
    assert verify.exit_code == 1
    assert "INCONSISTENT" in verify.output and str(position) in verify.output
    # verify reads on past the bad record, as recovery does: every other record is checked.
    assert f"checked {len(results) - 1} records" in verify.output
    # dump prints every intact record, says which one it skipped, and exits non-zero.
    dump = CliRunner().invoke(cli, ["store", "dump", "--json", str(config.store_root_dir)])
    assert dump.exit_code == 1
    offsets = [json.loads(line)["commit_log_offset"] for line in dump.stdout.splitlines()]
    assert offsets == [r.commit_log_offset for r in results if r is not victim]
    assert f"corrupt record skipped: {path} at position {position}" in dump.stderr


def test_garbage_mid_log_in_an_older_segment(tmp_path: Path) -> None:
    config = tiny_config(tmp_path)
    results = write_and_crash(config, 60)
    os.remove(config.store_root_dir / "checkpoint")
    victim = results[3]
    path, position = segment_of(config, victim.commit_log_offset)
    patch(path, position, b"\x00\x00\x00\x07garbage")
    store = MessageStore(config)
    report = store.open()
    try:
        assert report.corruptions and "rest of the segment" in report.corruptions[0]
        assert store.max_commit_log_offset == results[-1].end_offset
        assert store.look_message_by_offset(results[-1].commit_log_offset) is not None
        # Readers walking the log go on past the skipped rest of that segment.
        walked = [
            scanned.commit_log_offset for scanned in store.commit_log.scan(results[4].commit_log_offset)
        ]
        assert results[-1].commit_log_offset in walked
    finally:
        store.close()
    store = MessageStore(config)  # and again: no crash loop
    store.open()
    store.close()


def test_missing_checkpoint_and_consume_queues_are_rebuilt(tmp_path: Path) -> None:
    config = tiny_config(tmp_path)
    results = write_and_crash(config, 50)
    os.remove(config.store_root_dir / "checkpoint")
    shutil.rmtree(config.consume_queue_path)
    shutil.rmtree(config.index_path)
    store, report = reopen_and_verify(config)
    try:
        assert report.redispatched_records == 50
        assert store.get_max_offset_in_queue("TopicT", 0) == 25
        assert store.get_message("G", "TopicT", 0, 0, 1).commit_log_offsets == [results[0].commit_log_offset]
        assert len(store.query_message("TopicT", "U49", 5, 0, 2**62).messages) == 1
    finally:
        store.close()


def test_consume_queue_ahead_of_the_log_is_cut(tmp_path: Path) -> None:
    config = tiny_config(tmp_path)
    results = write_and_crash(config, 30)
    # Lose the last three records entirely (as if the OS dropped those pages).
    for result in results[-3:]:
        path, position = segment_of(config, result.commit_log_offset)
        patch(path, position, bytes(result.wrote_bytes))
    store, _ = reopen_and_verify(config)
    try:
        assert store.max_commit_log_offset == results[-4].end_offset
        assert store.get_max_offset_in_queue("TopicT", 0) + store.get_max_offset_in_queue("TopicT", 1) == 27
    finally:
        store.close()


def test_truncated_files(tmp_path: Path) -> None:
    config = tiny_config(tmp_path)
    results = write_and_crash(config, 40)
    last_path, position = segment_of(config, results[-1].commit_log_offset)
    os.truncate(last_path, position + 20)  # the last segment, cut short mid-record
    store, _ = reopen_and_verify(config)
    try:
        assert store.max_commit_log_offset == results[-2].end_offset
        assert last_path.stat().st_size == config.commit_log_file_bytes
    finally:
        store.close()
    first = config.commit_log_path / f"{0:020d}"
    os.truncate(first, 1000)  # an older segment cut short: refused, naming the file
    with pytest.raises(CorruptionError, match=str(first)):
        MessageStore(config).open()


def test_clean_shutdown_reopens_without_rescanning(tmp_path: Path) -> None:
    config = tiny_config(tmp_path)
    store = MessageStore(config)
    store.open()
    for i in range(30):
        store.append_message(make_message(queue_id=i % 3))
    store.flush_now()
    store.close()
    (config.store_root_dir / "abort").unlink()
    store = MessageStore(config)
    report = store.open()
    try:
        assert report.clean and report.redispatched_records == 0
        assert report.scanned_from == store.max_commit_log_offset
    finally:
        store.close()


def test_torn_tail_before_an_empty_preallocated_segment(tmp_path: Path) -> None:
    """Found by the SIGKILL soak: the next segment was already pre-allocated (all zeros) when the
    writer died mid-record; that is a torn tail, not a mid-log corruption."""
    config = tiny_config(tmp_path)
    results = write_and_crash(config, 10)
    last = results[-1]
    path, position = segment_of(config, last.commit_log_offset)
    patch(path, position + 95, bytes(last.wrote_bytes - 95))
    next_start = last.commit_log_offset - last.commit_log_offset % 4096 + 4096
    (config.commit_log_path / f"{next_start:020d}").write_bytes(bytes(4096))
    store, report = reopen_and_verify(config)
    try:
        assert not report.corruptions
        assert store.max_commit_log_offset == results[-2].end_offset
        assert not (config.commit_log_path / f"{next_start:020d}").exists()
        assert store.append_message(make_message()).commit_log_offset == results[-2].end_offset
    finally:
        store.close()


def test_the_tools_refuse_a_directory_that_is_not_a_store(tmp_path: Path) -> None:
    for command in ("verify", "dump"):
        result = CliRunner().invoke(cli, ["store", command, str(tmp_path)])
        assert result.exit_code != 0
        assert "is not a store directory" in result.output
