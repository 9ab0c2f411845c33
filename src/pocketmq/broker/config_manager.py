"""ConfigManager: a broker table kept in one JSON file under `config/`, and its data-versioned form.

Java: ConfigManager (load / encode / decode / persist) and the DataVersion that TopicConfigManager and
SubscriptionGroupManager carry. A subclass says how its document reads (`decode`) and writes
(`to_json`); loading, encoding and writing the file are here, once. Persistence is the caller's: a
change sets `dirty`; the broker writes with `persist()` (blocking: fsync) or takes `encode()` on the
event loop and runs `config_file.save_text` in a thread.

`VersionedTable` is the named table with a DataVersion (topics, subscription groups): it starts with
built-in entries, the file overrides and extends them (keeping the file's order, so a rewrite is
identical), and every change bumps the version that REGISTER_BROKER carries to the name servers.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, ClassVar, Generic, Protocol, TypeVar

from pocketmq.protocol.bodies.route import DataVersion
from pocketmq.store.config_file import ConfigFile, dumps_fastjson_pretty

__all__ = ["ConfigManager", "VersionedTable"]


class ConfigManager:
    """One JSON document on disk (`config_file`) and the table it holds."""

    def __init__(self, config_dir: Path | str, file_name: str) -> None:
        self.config_file = ConfigFile(Path(config_dir) / file_name)
        #: True when the table changed since the last encode.
        self.dirty = False

    def to_json(self) -> dict[str, Any]:
        """The file document."""
        raise NotImplementedError

    def decode(self, document: Mapping[str, Any]) -> None:
        """Take the table from a document read from the file."""
        raise NotImplementedError

    def load(self) -> bool:
        """Read the file (or its .bak) into the table; True when a file was read."""
        document = self.config_file.load()
        if not isinstance(document, Mapping):
            return False
        self.decode(document)
        return True

    def encode(self) -> str:
        """The file text as the 4.9.8 broker writes it. Clears `dirty`."""
        self.dirty = False
        return dumps_fastjson_pretty(self.to_json())

    def persist(self) -> None:
        """Write the file now (blocking: fsync)."""
        self.config_file.save_text(self.encode())


class _Entry(Protocol):
    def to_json(self) -> dict[str, Any]: ...


_V = TypeVar("_V", bound=_Entry)


class VersionedTable(ConfigManager, Generic[_V]):
    """Named entries plus a DataVersion: `{"dataVersion": ..., TABLE_KEY: {name: entry}}`."""

    #: The document's key for the table ("topicConfigTable", "subscriptionGroupTable").
    TABLE_KEY: ClassVar[str]

    def __init__(
        self, config_dir: Path | str, file_name: str, built_in: Iterable[tuple[str, _V]], *, now_ms: int
    ) -> None:
        super().__init__(config_dir, file_name)
        self._table: dict[str, _V] = dict(built_in)
        self._data_version = DataVersion(counter=0, timestamp_ms=now_ms)

    def entry_from_json(self, name: str, raw: Mapping[str, Any]) -> tuple[str, _V]:
        """(table key, entry) of one entry of the file."""
        raise NotImplementedError

    def decode(self, document: Mapping[str, Any]) -> None:
        loaded: dict[str, _V] = {}
        for name, raw in (document.get(self.TABLE_KEY) or {}).items():
            if isinstance(raw, Mapping):
                key, entry = self.entry_from_json(name, raw)
                loaded[key] = entry
        # The file's entries override the built-in ones; its order is kept so a rewrite is identical.
        self._table = loaded | {name: entry for name, entry in self._table.items() if name not in loaded}
        if isinstance(document.get("dataVersion"), Mapping):
            self._data_version = DataVersion.from_json(document["dataVersion"])

    def to_json(self) -> dict[str, Any]:
        return {
            "dataVersion": self._data_version.to_json(),
            self.TABLE_KEY: {name: entry.to_json() for name, entry in self._table.items()},
        }

    @property
    def data_version(self) -> DataVersion:
        return self._data_version

    def _changed(self, now_ms: int) -> None:
        self._data_version = self._data_version.next_version(now_ms)
        self.dirty = True
