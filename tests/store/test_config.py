"""StoreConfig: Java key names, properties text, validation."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from pocketmq.common.errors import ConfigError
from pocketmq.common.properties import parse_java_properties
from pocketmq.store.config import FlushDiskType, StoreConfig


def test_from_java_properties(tmp_path: Path) -> None:
    text = f"""
# broker.conf
brokerName = broker-a
storePathRootDir={tmp_path}
flushDiskType=SYNC_FLUSH
mappedFileSizeCommitLog=1048576
mappedFileSizeConsumeQueue : 6000
maxHashSlotNum=1000
maxIndexNum=4000
messageIndexEnable=false
deleteWhen=04;05
fileReservedTime=48
"""
    config = StoreConfig.from_properties(text)
    assert config.store_root_dir == tmp_path
    assert config.flush_disk_type is FlushDiskType.SYNC_FLUSH
    assert config.commit_log_file_bytes == 1 << 20
    assert config.consume_queue_file_bytes == 6000
    assert config.index_file_bytes == 84_040
    assert not config.message_index_enable
    assert config.file_reserved_hours == 48
    assert config.commit_log_path == tmp_path / "commitlog"
    printed = config.to_java_properties()
    assert printed["flushDiskType"] == "SYNC_FLUSH" and printed["maxIndexNum"] == "4000"
    assert StoreConfig.from_mapping(printed) == dataclasses.replace(
        config, commit_log_dir=config.commit_log_path
    )


def test_bad_values_are_refused() -> None:
    with pytest.raises(ConfigError, match="multiple of 20"):
        StoreConfig(consume_queue_file_bytes=30)
    with pytest.raises(ConfigError, match="flushDiskType"):
        StoreConfig.from_properties("flushDiskType=SOMETIMES")
    with pytest.raises(ConfigError, match="deleteWhen"):
        StoreConfig(delete_when="25")
    assert StoreConfig().delay_levels_ms()[:3] == (1000, 5000, 10000)
    assert len(StoreConfig().delay_levels_ms()) == 18


def test_java_properties_continuations() -> None:
    assert parse_java_properties("a=1\\\n  2\n! c\nb:  x y \nflag") == {"a": "12", "b": "x y ", "flag": ""}
