"""ConfigFile: one JSON document on disk, replaced atomically, with the previous version kept as `.bak`.

This is how the broker keeps `config/topics.json`, `subscriptionGroup.json`, `consumerOffset.json`,
`delayOffset.json` and `consumerFilter.json` (Java: ConfigManager#persist / #load and
MixAll#string2File). RocketMQ writes `<name>.tmp`, copies the old file to `<name>.bak`, deletes the
old file and renames; a crash between delete and rename leaves no main file, and nothing is fsynced.
Here every step is a rename of a fsynced file, so at every instant `<name>` is a complete old or a
complete new document, and `<name>.bak` is a complete earlier one.

The text is what the 4.9.8 broker writes (fastjson `PrettyFormat`): tab indentation, `"key":value`
without a space, integer map keys unquoted and written inline (`{0:3,1:4\\n\\t\\t}`), no trailing
newline. Reading is lenient: unquoted integer keys are quoted before `json.loads`.

Blocking: `save_text` calls fsync. Async callers take the text on the event loop (`encode`) and run
`save_text` with `asyncio.to_thread`; a lock serialises concurrent saves of one file.
"""

from __future__ import annotations

import json
import os
import re
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

__all__ = ["ConfigFile", "loads_lenient", "dumps_fastjson_pretty"]

# A JSON string (skipped as is) or an object key that is a bare integer: `{0:` / `, 12 :`.
_STRING_OR_BARE_INT_KEY = re.compile(r'"(?:[^"\\]|\\.)*"|([{,]\s*)(-?[0-9]+)(\s*:)', re.DOTALL)


def _quote_bare_int_key(match: re.Match[str]) -> str:
    if match.group(1) is None:
        return match.group(0)
    return f'{match.group(1)}"{match.group(2)}"{match.group(3)}'


def loads_lenient(text: str) -> Any:
    """Parse JSON as fastjson writes it: object keys may be bare integers (`{0:3,1:4}`); those keys
    come back as strings, like every JSON key. Raises ValueError when the text is not JSON."""
    return json.loads(_STRING_OR_BARE_INT_KEY.sub(_quote_bare_int_key, text))


def _dump_string(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


def _dump_scalar(value: Any) -> str:
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, str):
        return _dump_string(value)
    raise TypeError(f"cannot write {type(value).__name__} {value!r} to a config file")


def _dump(value: Any, level: int, out: list[str]) -> None:
    if isinstance(value, Mapping):
        entries = [(key, item) for key, item in value.items() if item is not None]
        if not entries:
            out.append("{}")
            return
        out.append("{")
        inner = "\n" + "\t" * (level + 1)
        for position, (key, item) in enumerate(entries):
            if position:
                out.append(",")
            # fastjson MapSerializer/JavaBeanSerializer: a line break before each String key, none
            # before an Integer key; then a line break before the closing brace.
            if isinstance(key, str):
                out.append(inner)
                out.append(_dump_string(key))
            elif isinstance(key, int) and not isinstance(key, bool):
                out.append(str(key))
            else:
                raise TypeError(f"config keys are str or int, not {type(key).__name__}")
            out.append(":")
            _dump(item, level + 1, out)
        out.append("\n" + "\t" * level + "}")
    elif isinstance(value, list | tuple):
        out.append("[")
        for position, item in enumerate(value):
            if position:
                out.append(",")
            _dump(item, level + 1, out)
        out.append("]")
    else:
        out.append(_dump_scalar(value))


def dumps_fastjson_pretty(document: Mapping[str, Any]) -> str:
    """The document as the 4.9.8 broker writes its config files (see the module docstring).
    None values are left out, as fastjson does."""
    out: list[str] = []
    _dump(document, 0, out)
    return "".join(out)


def _fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_synced(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            view = view[written:]
        os.fsync(fd)
    finally:
        os.close(fd)


class ConfigFile:
    """`<path>`, its backup `<path>.bak` and the scratch files used while replacing them."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.backup_path = self.path.with_name(self.path.name + ".bak")
        self.temp_path = self.path.with_name(self.path.name + ".tmp")
        self._backup_temp_path = self.path.with_name(self.path.name + ".bak.tmp")
        self._lock = threading.Lock()
        #: Which file the last `load` used (None: neither existed or parsed).
        self.loaded_from: Path | None = None
        #: Why the main file was skipped by the last `load`, if it was.
        self.load_problem: str | None = None

    def __repr__(self) -> str:
        return f"ConfigFile({str(self.path)!r})"

    # -- reading ----------------------------------------------------------------------------------
    def load(self) -> Any | None:
        """The parsed document of `<path>`, or of `<path>.bak` when the main file is missing, empty
        or not JSON; None when neither gives a document (a fresh store)."""
        self.loaded_from = None
        self.load_problem = None
        for candidate in (self.path, self.backup_path):
            try:
                text = candidate.read_text(encoding="utf-8")
            except FileNotFoundError:
                problem = f"{candidate} does not exist"
            except (OSError, UnicodeDecodeError) as error:
                problem = f"{candidate} cannot be read: {error}"
            else:
                if not text.strip():
                    problem = f"{candidate} is empty"
                else:
                    try:
                        document = loads_lenient(text)
                    except ValueError as error:
                        problem = f"{candidate} is not valid JSON: {error}"
                    else:
                        self.loaded_from = candidate
                        return document
            if candidate == self.path:
                self.load_problem = problem
        return None

    # -- writing ----------------------------------------------------------------------------------
    def save(self, document: Mapping[str, Any]) -> None:
        self.save_text(dumps_fastjson_pretty(document))

    def save_text(self, text: str) -> None:
        """Replace `<path>` by `text` atomically and durably; the replaced version becomes `.bak`."""
        data = text.encode("utf-8")
        with self._lock:
            directory = self.path.parent
            directory.mkdir(parents=True, exist_ok=True)
            # 1. the new version, complete and on disk, under a scratch name
            _write_synced(self.temp_path, data)
            # 2. the current version becomes the backup (only if it is a usable document: a torn
            #    or foreign main file must not overwrite a good backup)
            try:
                previous = self.path.read_bytes()
            except FileNotFoundError:
                previous = None
            if previous is not None and _is_document(previous):
                _write_synced(self._backup_temp_path, previous)
                os.replace(self._backup_temp_path, self.backup_path)
            # 3. the switch: one rename, then make the directory entry durable
            os.replace(self.temp_path, self.path)
            _fsync_directory(directory)


def _is_document(data: bytes) -> bool:
    try:
        text = data.decode("utf-8")
        if not text.strip():
            return False
        loads_lenient(text)
    except ValueError:
        return False
    return True
