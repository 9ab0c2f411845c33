"""ScheduleOffsetTable: delivery progress of each delay level, `config/delayOffset.json`.

Java: ScheduleMessageService's offsetTable (persisted through ConfigManager). Keys are delay levels
(1-based; level N is queue N-1 of SCHEDULE_TOPIC_XXXX), values the next queue offset to deliver:
`{"offsetTable":{2:1,3:1}}`. The delivery service itself comes with the delay-level work; this module
only keeps the table so that a RocketMQ 4.9.8 store loads and is written back unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pocketmq.broker.config_manager import ConfigManager

__all__ = ["ScheduleOffsetTable", "delay_level_to_queue_id"]

FILE_NAME = "delayOffset.json"


def delay_level_to_queue_id(delay_level: int) -> int:
    """Java: ScheduleMessageService#delayLevel2QueueId."""
    return delay_level - 1


class ScheduleOffsetTable(ConfigManager):
    def __init__(self, config_dir: Path | str) -> None:
        super().__init__(config_dir, FILE_NAME)
        self._offsets: dict[int, int] = {}

    def decode(self, document: Mapping[str, Any]) -> None:
        """delayOffset.json (or its .bak) replaces the table."""
        raw = document.get("offsetTable") or {}
        self._offsets = {int(level): int(offset) for level, offset in raw.items()}

    def to_json(self) -> dict[str, Any]:
        """The file document; also the GET_ALL_DELAY_OFFSET body (Java encodes the same JSON)."""
        return {"offsetTable": dict(self._offsets)}

    @property
    def offsets(self) -> Mapping[int, int]:
        """Delay level -> next queue offset to deliver (a copy)."""
        return dict(self._offsets)

    def get(self, delay_level: int) -> int:
        """The next offset to deliver for `delay_level` (0 when it never delivered)."""
        return self._offsets.get(delay_level, 0)

    def update(self, delay_level: int, offset: int) -> None:
        if delay_level < 1:
            raise ValueError(f"delay levels start at 1, not {delay_level}")
        self._offsets[delay_level] = offset
        self.dirty = True
