"""Helpers for the store tests: tiny configurations (to force rolling) and message builders."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pocketmq.common.message import MessageExt
from pocketmq.store.config import FlushDiskType, StoreConfig


def tiny_config(root: Path, **overrides: Any) -> StoreConfig:
    values: dict[str, Any] = {
        "store_root_dir": root,
        "commit_log_file_bytes": 4096,
        "consume_queue_file_bytes": 20 * 8,
        "index_hash_slot_count": 16,
        "index_entry_count": 64,
        "flush_interval_ms": 20,
        "flush_consume_queue_interval_ms": 50,
        "flush_disk_type": FlushDiskType.ASYNC_FLUSH,
        "preallocate_next_segment": False,
    }
    values.update(overrides)
    return StoreConfig(**values)


def make_message(
    topic: str = "TopicT",
    body: bytes = b"hello",
    *,
    queue_id: int = 0,
    tags: str | None = "TagA",
    keys: str | None = None,
    uniq_key: str | None = None,
    properties: dict[str, str] | None = None,
    sys_flag: int = 0,
    born_host: tuple[str, int] = ("10.1.2.3", 40000),
) -> MessageExt:
    props = dict(properties or {})
    if tags:
        props["TAGS"] = tags
    if keys:
        props["KEYS"] = keys
    if uniq_key:
        props["UNIQ_KEY"] = uniq_key
    return MessageExt(
        topic=topic,
        body=body,
        queue_id=queue_id,
        properties=props,
        sys_flag=sys_flag,
        born_timestamp=1_700_000_000_000,
        born_host=born_host,
    )
