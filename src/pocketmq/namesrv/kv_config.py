"""KVConfig: the name server's namespaced key-value settings, persisted to kvConfigPath.

Java: KVConfigManager and KVConfigSerializeWrapper. The file holds
`{"configTable":{"<namespace>":{"<key>":"<value>"}}}`, written the way RocketMQ writes it (new content
to `<path>.tmp`, the previous content to `<path>.bak`, then the temporary file renamed over the
original), so a Java name server can read our file and we can read its file.

The table itself is pure. `render()` gives the bytes to persist and `write_file_atomically` puts
them on disk; the server calls the latter through `asyncio.to_thread`, one write at a time.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from pocketmq.common.errors import CorruptionError, ProtocolError
from pocketmq.protocol.bodies.route import KVTable, decode_json, encode_json

__all__ = [
    "NAMESPACE_ORDER_TOPIC_CONFIG",
    "KVConfig",
    "KVLimits",
    "load_kv_config",
    "write_file_atomically",
]

#: Namespace whose entries are sent back to registering brokers and appended to routes as
#: orderTopicConf (Java NamesrvUtil.NAMESPACE_ORDER_TOPIC_CONFIG).
NAMESPACE_ORDER_TOPIC_CONFIG: Final = "ORDER_TOPIC_CONFIG"


@dataclass(frozen=True, slots=True, kw_only=True)
class KVLimits:
    """Bounds on what peers may store (PUT_KV_CONFIG has no limit in Java; we keep one)."""

    namespaces_max: int = 1024
    entries_per_namespace_max: int = 100_000
    key_chars_max: int = 4096
    value_chars_max: int = 1 << 20


class KVConfig:
    """namespace -> key -> value."""

    def __init__(
        self, table: dict[str, dict[str, str]] | None = None, *, limits: KVLimits = KVLimits()
    ) -> None:
        self._table: dict[str, dict[str, str]] = {ns: dict(kv) for ns, kv in (table or {}).items()}
        self._limits = limits

    def refusal(self, namespace: str, key: str, value: str) -> str | None:
        """None when `put(namespace, key, value)` fits the limits, else a sentence saying why not."""
        limits = self._limits
        if len(key) > limits.key_chars_max:
            return f"the key has {len(key)} characters; at most {limits.key_chars_max} are allowed"
        if len(value) > limits.value_chars_max:
            return f"the value has {len(value)} characters; at most {limits.value_chars_max} are allowed"
        entries = self._table.get(namespace)
        if entries is None and len(self._table) >= limits.namespaces_max:
            return f"there are already {limits.namespaces_max} namespaces (the limit)"
        if entries is not None and key not in entries and len(entries) >= limits.entries_per_namespace_max:
            return (
                f"namespace {namespace!r} already holds {limits.entries_per_namespace_max} keys (the limit)"
            )
        return None

    def put(self, namespace: str, key: str, value: str) -> None:
        self._table.setdefault(namespace, {})[key] = value

    def get(self, namespace: str, key: str) -> str | None:
        entries = self._table.get(namespace)
        return None if entries is None else entries.get(key)

    def delete(self, namespace: str, key: str) -> bool:
        """Remove one key; True if it existed. An emptied namespace stays (as in Java)."""
        entries = self._table.get(namespace)
        return entries is not None and entries.pop(key, None) is not None

    def namespace(self, namespace: str) -> KVTable | None:
        """Every key of `namespace`, or None when the namespace was never created."""
        entries = self._table.get(namespace)
        return None if entries is None else KVTable(table=dict(entries))

    def namespaces(self) -> list[str]:
        return sorted(self._table)

    def render(self) -> bytes:
        """The kvConfig.json content for the current table."""
        return encode_json(
            {"configTable": {ns: dict(sorted(kv.items())) for ns, kv in sorted(self._table.items())}}
        )

    @classmethod
    def parse(cls, content: bytes, *, limits: KVLimits = KVLimits()) -> KVConfig:
        """Read kvConfig.json content (ours or Java's); raises ProtocolError when malformed."""
        data = decode_json(content) if content.strip() else {}
        if data is None:
            data = {}
        if not isinstance(data, dict):
            raise ProtocolError(f"expected a JSON object, got {type(data).__name__}")
        table = data.get("configTable")
        if table is None:
            table = {}
        if not isinstance(table, dict):
            raise ProtocolError(f"configTable is a {type(table).__name__}, not an object")
        parsed: dict[str, dict[str, str]] = {}
        for namespace, entries in table.items():
            if not isinstance(entries, dict):
                raise ProtocolError(f"namespace {namespace!r} is a {type(entries).__name__}, not an object")
            parsed[str(namespace)] = {str(k): str(v) for k, v in entries.items() if v is not None}
        return cls(parsed, limits=limits)


def load_kv_config(path: Path, *, limits: KVLimits = KVLimits()) -> KVConfig:
    """Load `path`; a missing file is an empty table. A malformed file raises CorruptionError naming
    it (a name server must not start and then overwrite the operator's settings)."""
    try:
        content = path.read_bytes()
    except FileNotFoundError:
        return KVConfig(limits=limits)
    try:
        return KVConfig.parse(content, limits=limits)
    except ProtocolError as error:
        raise CorruptionError(f"{path}: not a KV config file ({error}); fix or move it away") from error


def write_file_atomically(path: Path, content: bytes) -> None:
    """Write `content` to `path` so that a crash leaves either the old or the new file, never a torn
    one; the previous content is kept in `<path>.bak` (as Java MixAll#string2File does). Blocking:
    call it through `asyncio.to_thread`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    with open(temporary, "wb") as file:
        file.write(content)
        file.flush()
        os.fsync(file.fileno())
    with contextlib.suppress(FileNotFoundError):
        previous = path.read_bytes()
        backup = path.with_name(path.name + ".bak")
        with open(backup, "wb") as file:
            file.write(previous)
            file.flush()
            os.fsync(file.fileno())
    os.replace(temporary, path)
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)
