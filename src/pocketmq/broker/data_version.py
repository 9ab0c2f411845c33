"""DataVersion: the (counter, timestamp) pair that versions the topic and subscription-group tables.

Java: DataVersion. The broker sends it with REGISTER_BROKER so the name server can tell whether the
topic table changed; topics.json and subscriptionGroup.json persist it as
`"dataVersion":{"counter":N,"timestamp":MS}`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["DataVersion"]


@dataclass(frozen=True, slots=True)
class DataVersion:
    #: Bumped by one on every change. Java: counter (AtomicLong).
    counter: int = 0
    #: Wall-clock time of the last change, ms since the epoch. Java: timestamp.
    timestamp_ms: int = 0

    def next(self, now_ms: int) -> DataVersion:
        """Java: DataVersion#nextVersion."""
        return DataVersion(counter=self.counter + 1, timestamp_ms=now_ms)

    def to_json(self) -> dict[str, Any]:
        return {"counter": self.counter, "timestamp": self.timestamp_ms}

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None, *, default_timestamp_ms: int = 0) -> DataVersion:
        if not data:
            return cls(0, default_timestamp_ms)
        return cls(
            counter=int(data.get("counter", 0)),
            timestamp_ms=int(data.get("timestamp", default_timestamp_ms)),
        )
