"""A store written by Apache RocketMQ 4.9.8 (../shared/compat/store-4.9.8), opened read-only:
every message of its manifest, its ConsumeQueues, its index and its checkpoint, through the
MessageStore API and through `pocketmq store dump --json` / `verify`."""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
import zlib
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from pocketmq.cli.main import cli
from pocketmq.common.clock import FakeClock
from pocketmq.common.message import MessageExt, properties_to_string, string_to_properties
from pocketmq.store.checkpoint import StoreCheckpoint
from pocketmq.store.commit_log.record import decode_records
from pocketmq.store.config import StoreConfig
from pocketmq.store.message_store import MessageStore
from pocketmq.store.results import GetMessageStatus
from tests.support.compat_data import GOLDEN_STORE

GOLDEN = GOLDEN_STORE

pytestmark = pytest.mark.skipif(not GOLDEN.is_dir(), reason=f"{GOLDEN} is not available")


@pytest.fixture(scope="module")
def manifest() -> dict[str, Any]:
    return json.loads((GOLDEN / "manifest.json").read_text(encoding="utf-8"))  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def store_dir(tmp_path_factory: pytest.TempPathFactory, manifest: dict[str, Any]) -> Path:
    """A copy padded with zeros to the original sizes, as the real broker left it."""
    target = tmp_path_factory.mktemp("golden") / "store"
    shutil.copytree(GOLDEN, target)
    for entry in manifest["files"]:
        path = target / entry["path"]
        assert hashlib.sha256(path.read_bytes()).hexdigest() == entry["sha256_of_stored_bytes"]
        if path.stat().st_size < entry["original_size"]:
            with path.open("r+b") as handle:
                handle.truncate(entry["original_size"])
    return target


def golden_config(root: Path, manifest: dict[str, Any]) -> StoreConfig:
    broker = manifest["broker_config"]
    return StoreConfig(
        store_root_dir=root,
        commit_log_file_bytes=broker["mappedFileSizeCommitLog"],
        consume_queue_file_bytes=broker["mappedFileSizeConsumeQueue"],
        index_hash_slot_count=broker["maxHashSlotNum"],
        index_entry_count=broker["maxIndexNum"],
        store_host="127.0.0.1:10911",
    )


@pytest.fixture
def store(store_dir: Path, manifest: dict[str, Any]) -> Any:
    opened = MessageStore(golden_config(store_dir, manifest), read_only=True)
    report = opened.open()
    assert report.clean and not report.corruptions
    yield opened
    opened.close()


def host(text: str) -> tuple[str, int]:
    name, _, port = text.rpartition(":")
    return name, int(port)


def check_message(message: Any, expected: dict[str, Any]) -> None:
    label = expected["label"]
    assert message.commit_log_offset == expected["commit_log_offset"], label
    assert message.store_size == expected["total_size"], label
    assert message.body_crc == expected["body_crc"], label
    for name in (
        "topic",
        "queue_id",
        "queue_offset",
        "flag",
        "sys_flag",
        "born_timestamp",
        "store_timestamp",
        "reconsume_times",
        "prepared_transaction_offset",
        "properties",
    ):
        assert getattr(message, name) == expected[name], (label, name)
    assert message.born_host == host(expected["born_host"]), label
    assert message.store_host == host(expected["store_host"]), label
    assert message.msg_id == expected["offset_msg_id"], label
    if properties_to_string(message.properties) != expected["properties_string"]:
        # The 4.9.8 broker wrote a duplicate key (WAIT twice in batch records): the dict keeps one.
        assert string_to_properties(expected["properties_string"]) == message.properties, label
    assert message.tags == expected["tags"], label
    assert message.keys == expected["keys"], label
    assert message.uniq_key == expected["uniq_key"], label
    assert len(message.body) == expected["body_len"], label
    assert hashlib.sha256(message.body).hexdigest() == expected["body_sha256"], label
    body = message.body
    if message.sys_flag & 0x1:  # COMPRESSED (zlib type bits 0x300)
        body = zlib.decompress(body)
        assert len(body) == expected["uncompressed_body_len"], label
        assert hashlib.sha256(body).hexdigest() == expected["uncompressed_body_sha256"], label
    if expected.get("body_utf8") is not None:
        assert body.decode() == expected["body_utf8"], label


def test_every_message_through_the_api(store: MessageStore, manifest: dict[str, Any]) -> None:
    messages = manifest["messages"]
    assert len(messages) == 375
    for expected in messages:
        message = store.look_message_by_offset(expected["commit_log_offset"])
        assert message is not None, expected["label"]
        check_message(message, expected)
        by_id = store.view_message_by_id(expected["offset_msg_id"])
        assert by_id is not None and by_id.commit_log_offset == expected["commit_log_offset"]
        record = store.select_one_message_by_offset(expected["commit_log_offset"])
        assert record is not None
        assert hashlib.sha256(record).hexdigest() == expected["record_sha256"], expected["label"]
        raw_properties = expected["properties_string"].encode()
        assert record.endswith(len(raw_properties).to_bytes(2, "big") + raw_properties)


def test_commit_log_bounds_and_checkpoint(store: MessageStore, manifest: dict[str, Any]) -> None:
    assert store.min_commit_log_offset == manifest["commitlog"]["min_offset"]
    assert store.max_commit_log_offset == manifest["commitlog"]["max_offset"]
    checkpoint = StoreCheckpoint(store.config.store_root_dir / "checkpoint", read_only=True).value
    assert checkpoint.physic_msg_timestamp == manifest["checkpoint"]["physic_msg_timestamp"]
    assert checkpoint.logics_msg_timestamp == manifest["checkpoint"]["logics_msg_timestamp"]
    assert checkpoint.index_msg_timestamp == manifest["checkpoint"]["index_msg_timestamp"]
    first = manifest["messages"][0]
    assert store.get_earliest_message_time() == first["store_timestamp"]


def test_consume_queues_and_pulls(store: MessageStore, manifest: dict[str, Any]) -> None:
    by_offset = {m["commit_log_offset"]: m for m in manifest["messages"]}
    for topic, queues in manifest["consume_queues"].items():
        for queue_id_text, expected in queues.items():
            queue_id = int(queue_id_text)
            assert store.get_min_offset_in_queue(topic, queue_id) == expected["min_offset"]
            assert store.get_max_offset_in_queue(topic, queue_id) == expected["max_offset"]
            queue = store.find_consume_queue(topic, queue_id)
            assert queue is not None
            units = []
            offset = expected["min_offset"]
            while offset < expected["max_offset"]:
                chunk = queue.read_units(offset, 1000)
                units.extend([list(u) for u in chunk])
                offset += len(chunk)
            assert units == expected["units"], (topic, queue_id)
            # Pull everything, as a consumer would, and decode the PULL_MESSAGE bodies.
            pulled = []
            offset = expected["min_offset"]
            while True:
                result = store.get_message("G", topic, queue_id, offset, 32)
                if result.status is not GetMessageStatus.FOUND:
                    assert result.status is GetMessageStatus.OFFSET_OVERFLOW_ONE
                    break
                assert result.min_offset == expected["min_offset"]
                assert result.max_offset == expected["max_offset"]
                pulled.extend(decode_records(result.body()))
                offset = result.next_begin_offset
            assert [m.commit_log_offset for m in pulled] == [u[0] for u in expected["units"]]
            for message in pulled:
                check_message(message, by_offset[message.commit_log_offset])
            assert store.check_in_memory_by_consume_offset(topic, queue_id, expected["min_offset"])


def test_index_lookups(store: MessageStore, manifest: dict[str, Any]) -> None:
    assert store.index is not None
    (name, index) = next(iter(manifest["index"].items()))
    index_file = store.index.files[0]
    assert index_file.path.name == name
    header = index["header"]
    assert index_file.begin_timestamp == header["beginTimestamp"]
    assert index_file.end_timestamp == header["endTimestamp"]
    assert index_file.begin_phy_offset == header["beginPhyOffset"]
    assert index_file.end_phy_offset == header["endPhyOffset"]
    assert index_file.hash_slot_count == header["hashSlotCount"]
    assert index_file.index_count == header["indexCount"]
    entries = index["entries_key_hash_phy_offset_time_diff_prev_index"]
    assert [list(index_file.entry(i)) for i in range(1, index_file.index_count)] == entries
    for topic_key, offsets in index["key_lookups"].items():
        topic, _, key = topic_key.partition("#")
        assert sorted(store.index.query_offsets(topic, key, 64, 0, 2**62)) == sorted(offsets), topic_key
    for source in (
        "query_message_by_key_as_reported_by_broker",
        "query_message_by_uniq_key_as_reported_by_broker",
    ):
        for topic_key, offsets in manifest[source].items():
            topic, _, key = topic_key.partition("#")
            result = store.query_message(topic, key, 64, 0, 2**62)
            assert sorted(result.commit_log_offsets) == sorted(offsets), topic_key


def test_offset_by_time(store: MessageStore, manifest: dict[str, Any]) -> None:
    for topic, queues in manifest["consume_queues"].items():
        for queue_id_text, expected in queues.items():
            queue_id = int(queue_id_text)
            for queue_offset, (offset, _, _) in list(enumerate(expected["units"]))[:5]:
                stamp = next(
                    m["store_timestamp"] for m in manifest["messages"] if m["commit_log_offset"] == offset
                )
                found = store.get_offset_in_queue_by_time(topic, queue_id, stamp)
                found_stamp = store.get_message_store_timestamp(topic, queue_id, found)
                assert found_stamp == stamp, (topic, queue_id, queue_offset)


def test_dump_json_and_verify(store_dir: Path, manifest: dict[str, Any]) -> None:
    runner = CliRunner()
    result = runner.invoke(cli, ["store", "dump", "--json", str(store_dir)])
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    assert len(lines) == len(manifest["messages"])
    for line, expected in zip(lines, manifest["messages"], strict=True):
        for name in (
            "commit_log_offset",
            "total_size",
            "topic",
            "queue_id",
            "queue_offset",
            "sys_flag",
            "born_timestamp",
            "store_timestamp",
            "reconsume_times",
            "prepared_transaction_offset",
            "properties",
        ):
            assert line[name] == expected[name], (expected["label"], name)
        assert line["offset_msg_id"] == expected["offset_msg_id"]
        body = base64.b64decode(line["body_base64"])
        assert hashlib.sha256(body).hexdigest() == expected["body_sha256"]
    only_b = runner.invoke(cli, ["store", "dump", "--json", "--topic", "GoldenTopicB", str(store_dir)])
    assert only_b.exit_code == 0
    assert {json.loads(x)["topic"] for x in only_b.stdout.splitlines()} == {"GoldenTopicB"}
    verify = runner.invoke(cli, ["store", "verify", str(store_dir)])
    assert verify.exit_code == 0, verify.output
    assert "OK: 375 records" in verify.stdout


async def test_writer_reproduces_the_golden_store(tmp_path: Path, manifest: dict[str, Any]) -> None:
    """Append the same messages, at the same store times, to an empty store: every record, the
    blank record, every ConsumeQueue unit and every index entry come out byte-identical."""
    clock = FakeClock(manifest["messages"][0]["store_timestamp"])
    store = MessageStore(golden_config(tmp_path, manifest), clock=clock)
    store.open()
    try:
        for expected in manifest["messages"]:
            clock.advance(expected["store_timestamp"] - clock.now_ms())
            message = MessageExt(
                topic=expected["topic"],
                body=b"",
                flag=expected["flag"],
                properties=string_to_properties(expected["properties_string"]),
                queue_id=expected["queue_id"],
                sys_flag=expected["sys_flag"],
                born_timestamp=expected["born_timestamp"],
                born_host=host(expected["born_host"]),
                reconsume_times=expected["reconsume_times"],
                prepared_transaction_offset=expected["prepared_transaction_offset"],
            )
            message.body = golden_body(expected)
            # As the broker does for re-put messages: the dict decides (no DELAY: not parked
            # again), the string is what is stored.
            if expected["topic"] != "SCHEDULE_TOPIC_XXXX":
                message.properties.pop("DELAY", None)
            result = store.append_message(message, properties_string=expected["properties_string"])
            assert result.ok, expected["label"]
            assert result.commit_log_offset == expected["commit_log_offset"], expected["label"]
            assert result.queue_offset == expected["queue_offset"], expected["label"]
            assert result.msg_id == expected["offset_msg_id"]
            record = store.select_one_message_by_offset(result.commit_log_offset)
            assert record is not None
            assert hashlib.sha256(record).hexdigest() == expected["record_sha256"], expected["label"]
        assert store.max_commit_log_offset == manifest["commitlog"]["max_offset"]
        golden_first = (GOLDEN / "commitlog" / "00000000000000000000").read_bytes()
        ours_first = (tmp_path / "commitlog" / "00000000000000000000").read_bytes()
        assert ours_first == golden_first  # including the blank record at the end
        for topic, queues in manifest["consume_queues"].items():
            for queue_id_text, expected_queue in queues.items():
                queue = store.find_consume_queue(topic, int(queue_id_text))
                assert queue is not None
                units = []
                offset = 0
                while offset < expected_queue["max_offset"]:
                    chunk = queue.read_units(offset, 1000)
                    units.extend([list(u) for u in chunk])
                    offset += len(chunk)
                assert units == expected_queue["units"], (topic, queue_id_text)
        assert store.index is not None
        index = next(iter(manifest["index"].values()))
        index_file = store.index.files[0]
        entries = [list(index_file.entry(i)) for i in range(1, index_file.index_count)]
        assert entries == index["entries_key_hash_phy_offset_time_diff_prev_index"]
        assert index_file.hash_slot_count == index["header"]["hashSlotCount"]
    finally:
        store.close()


def golden_body(expected: dict[str, Any]) -> bytes:
    """The stored body, taken from the golden CommitLog (the manifest has only hashes)."""
    offset = expected["commit_log_offset"]
    name = "00000000000000000000" if offset < 1_048_576 else "00000000000001048576"
    data = (GOLDEN / "commitlog" / name).read_bytes()
    message = decode_records(data[offset % 1_048_576 : offset % 1_048_576 + expected["total_size"]])[0]
    return message.body
