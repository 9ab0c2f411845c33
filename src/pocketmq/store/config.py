"""StoreConfig: every setting of the message store, with its Java name (MessageStoreConfig).

Loaded from Java-properties text (`broker.conf`) through one table, `JAVA_KEYS`; the broker config
embeds it. Sizes in bytes, times in milliseconds unless the name says otherwise.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any

from pocketmq.common.errors import ConfigError
from pocketmq.common.properties import parse_java_properties

__all__ = ["FlushDiskType", "StoreConfig", "JAVA_KEYS", "DEFAULT_DELAY_LEVELS"]

KiB = 1024
MiB = 1024 * KiB
GiB = 1024 * MiB
CONSUME_QUEUE_UNIT_BYTES = 20
INDEX_HEADER_BYTES = 40
DEFAULT_DELAY_LEVELS = "1s 5s 10s 30s 1m 2m 3m 4m 5m 6m 7m 8m 9m 10m 20m 30m 1h 2h"


class FlushDiskType(Enum):
    ASYNC_FLUSH = "ASYNC_FLUSH"
    SYNC_FLUSH = "SYNC_FLUSH"


@dataclass(frozen=True, slots=True, kw_only=True)
class StoreConfig:
    #: Root of the store directory. Java: storePathRootDir (~/store).
    store_root_dir: Path = Path.home() / "store"
    #: CommitLog directory; None means <root>/commitlog. Java: storePathCommitLog.
    commit_log_dir: Path | None = None
    #: Size of each CommitLog segment. Java: mappedFileSizeCommitLog (1 GiB).
    commit_log_file_bytes: int = 1 * GiB
    #: Size of each ConsumeQueue file, 300,000 units. Java: mappedFileSizeConsumeQueue.
    consume_queue_file_bytes: int = 300_000 * CONSUME_QUEUE_UNIT_BYTES
    #: Java: flushDiskType (ASYNC_FLUSH).
    flush_disk_type: FlushDiskType = FlushDiskType.ASYNC_FLUSH
    #: Interval of the asynchronous CommitLog flush. Java: flushIntervalCommitLog (500 ms).
    flush_interval_ms: int = 500
    #: Interval of the ConsumeQueue/index flush and checkpoint. Java: flushIntervalConsumeQueue (1000 ms).
    flush_consume_queue_interval_ms: int = 1000
    #: How long a SYNC_FLUSH put waits for its fsync. Java: syncFlushTimeout (5000 ms).
    sync_flush_timeout_ms: int = 5000
    #: CommitLog segments older than this are deleted. Java: fileReservedTime (72 hours).
    file_reserved_hours: int = 72
    #: Hours of the day at which expired files are deleted, ';'-separated. Java: deleteWhen ("04").
    delete_when: str = "04"
    #: Disk usage (percent) above which expired files go at once. Java: diskMaxUsedSpaceRatio (75).
    disk_max_used_space_ratio: int = 75
    #: Interval of the retention check. Java: cleanResourceInterval (10000 ms).
    clean_resource_interval_ms: int = 10_000
    #: At most this many segments deleted per retention run. Java: DELETE_FILES_BATCH_MAX (10).
    delete_files_batch_max: int = 10
    #: Largest body accepted. Java: maxMessageSize (4 MiB).
    max_message_bytes: int = 4 * MiB
    #: Hash slots per index file. Java: maxHashSlotNum (5,000,000).
    index_hash_slot_count: int = 5_000_000
    #: Entries per index file. Java: maxIndexNum (20,000,000).
    index_entry_count: int = 20_000_000
    #: Build the key index. Java: messageIndexEnable (true).
    message_index_enable: bool = True
    #: Share of RAM treated as "in memory" for pulls and the new-group rule (percent).
    #: Java: accessMessageInMemoryMaxRatio (40).
    access_message_in_memory_max_ratio: int = 40
    #: Pull batch limits. Java: maxTransferBytesOnMessageInMemory (256 KiB),
    #: maxTransferCountOnMessageInMemory (32), maxTransferBytesOnMessageInDisk (64 KiB),
    #: maxTransferCountOnMessageInDisk (8).
    max_transfer_bytes_in_memory: int = 256 * KiB
    max_transfer_count_in_memory: int = 32
    max_transfer_bytes_on_disk: int = 64 * KiB
    max_transfer_count_on_disk: int = 8
    #: Delay levels. Java: messageDelayLevel.
    message_delay_level: str = DEFAULT_DELAY_LEVELS
    #: Move messages with a DELAY property to SCHEDULE_TOPIC_XXXX on put, as the 4.9.8 CommitLog does.
    schedule_delayed_messages: bool = True
    #: Store host written into records and offset msgIds ("ip:port"). Java: brokerIP1 + listenPort.
    store_host: str = "127.0.0.1:10911"
    #: Pre-allocate the next CommitLog segment ahead of need. Java: AllocateMappedFileService.
    preallocate_next_segment: bool = True

    def __post_init__(self) -> None:
        if self.consume_queue_file_bytes % CONSUME_QUEUE_UNIT_BYTES != 0:
            raise ConfigError(
                f"mappedFileSizeConsumeQueue={self.consume_queue_file_bytes} must be a multiple of 20"
            )
        if self.commit_log_file_bytes < 4 * KiB:
            raise ConfigError(f"mappedFileSizeCommitLog={self.commit_log_file_bytes} is below 4096")
        if not 0 <= self.access_message_in_memory_max_ratio <= 100:
            raise ConfigError("accessMessageInMemoryMaxRatio must be within 0..100")
        if self.index_hash_slot_count <= 0 or self.index_entry_count <= 1:
            raise ConfigError("maxHashSlotNum must be > 0 and maxIndexNum > 1")
        for hour in self.delete_when.split(";"):
            if not hour.strip().isdigit() or not 0 <= int(hour) <= 23:
                raise ConfigError(f"deleteWhen={self.delete_when!r}: hours 00..23 separated by ';'")
        self.delay_levels_ms()  # validates

    # -- derived paths ------------------------------------------------------------------------
    @property
    def commit_log_path(self) -> Path:
        return self.commit_log_dir if self.commit_log_dir is not None else self.store_root_dir / "commitlog"

    @property
    def consume_queue_path(self) -> Path:
        return self.store_root_dir / "consumequeue"

    @property
    def index_path(self) -> Path:
        return self.store_root_dir / "index"

    @property
    def index_file_bytes(self) -> int:
        return INDEX_HEADER_BYTES + 4 * self.index_hash_slot_count + 20 * self.index_entry_count

    def delay_levels_ms(self) -> tuple[int, ...]:
        """Delay of each level 1..N in milliseconds (index 0 is level 1)."""
        units = {"s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}
        levels = []
        for item in self.message_delay_level.split():
            unit = units.get(item[-1:])
            if unit is None or not item[:-1].isdigit():
                raise ConfigError(f"messageDelayLevel item {item!r}: expected e.g. 1s, 5m, 2h")
            levels.append(int(item[:-1]) * unit)
        return tuple(levels)

    # -- loading ------------------------------------------------------------------------------
    @classmethod
    def from_properties(cls, text: str, **overrides: Any) -> StoreConfig:
        """Build from Java-properties text with Java key names; unknown keys are ignored (they
        belong to other components)."""
        return cls.from_mapping(parse_java_properties(text), **overrides)

    @classmethod
    def from_mapping(cls, values: Mapping[str, str], **overrides: Any) -> StoreConfig:
        kwargs: dict[str, Any] = {}
        fields = {f.name: f for f in dataclasses.fields(cls)}
        for java_name, raw in values.items():
            name = JAVA_KEYS.get(java_name)
            if name is None:
                continue
            kwargs[name] = _convert(fields[name].type, raw.strip(), java_name)
        kwargs.update(overrides)
        return cls(**kwargs)

    def to_java_properties(self) -> dict[str, str]:
        """The effective values under their Java names (for `-p` and GET_BROKER_CONFIG)."""
        out: dict[str, str] = {}
        for java_name, name in JAVA_KEYS.items():
            value = getattr(self, name)
            if isinstance(value, Enum):
                value = value.value
            elif isinstance(value, bool):
                value = "true" if value else "false"
            elif value is None:
                value = str(self.commit_log_path)
            out[java_name] = str(value)
        return out


#: Java key -> StoreConfig field. The one place where Java names are translated.
JAVA_KEYS: Mapping[str, str] = {
    "storePathRootDir": "store_root_dir",
    "storePathCommitLog": "commit_log_dir",
    "mappedFileSizeCommitLog": "commit_log_file_bytes",
    "mappedFileSizeConsumeQueue": "consume_queue_file_bytes",
    "flushDiskType": "flush_disk_type",
    "flushIntervalCommitLog": "flush_interval_ms",
    "flushIntervalConsumeQueue": "flush_consume_queue_interval_ms",
    "syncFlushTimeout": "sync_flush_timeout_ms",
    "fileReservedTime": "file_reserved_hours",
    "deleteWhen": "delete_when",
    "diskMaxUsedSpaceRatio": "disk_max_used_space_ratio",
    "cleanResourceInterval": "clean_resource_interval_ms",
    "maxMessageSize": "max_message_bytes",
    "maxHashSlotNum": "index_hash_slot_count",
    "maxIndexNum": "index_entry_count",
    "messageIndexEnable": "message_index_enable",
    "accessMessageInMemoryMaxRatio": "access_message_in_memory_max_ratio",
    "maxTransferBytesOnMessageInMemory": "max_transfer_bytes_in_memory",
    "maxTransferCountOnMessageInMemory": "max_transfer_count_in_memory",
    "maxTransferBytesOnMessageInDisk": "max_transfer_bytes_on_disk",
    "maxTransferCountOnMessageInDisk": "max_transfer_count_on_disk",
    "messageDelayLevel": "message_delay_level",
}


def _convert(kind: Any, raw: str, java_name: str) -> Any:
    kind_text = kind if isinstance(kind, str) else getattr(kind, "__name__", str(kind))
    raw = raw.strip()  # java.util.Properties keeps trailing blanks; a stray one is never meant
    try:
        if "Path" in kind_text:
            return Path(raw).expanduser()
        if kind_text == "int":
            return int(raw)
        if kind_text == "bool":
            if raw.lower() not in ("true", "false"):
                raise ValueError(raw)
            return raw.lower() == "true"
        if kind_text == "FlushDiskType":
            return FlushDiskType(raw)
    except ValueError:
        expected = " or ".join(FlushDiskType.__members__)
        choices = f": expected {expected}" if kind_text == "FlushDiskType" else ""
        raise ConfigError(f"{java_name}={raw!r} is not a valid {kind_text}{choices}") from None
    return raw
