"""Java properties text (`java.util.Properties`): the format of RocketMQ's broker.conf and
namesrv.conf, which pocketmq reads unchanged.

`key=value`, `key: value` or `key value`; `#` and `!` comments; backslash continuations and
escapes, `\\uXXXX` included. The last occurrence of a key wins.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

__all__ = ["parse_java_properties", "format_properties"]


_ESCAPES: Final = {"t": "\t", "n": "\n", "r": "\r", "f": "\f"}


def _unescape(text: str) -> str:
    out: list[str] = []
    index = 0
    while index < len(text):
        char = text[index]
        if char == "\\" and index + 1 < len(text):
            following = text[index + 1]
            if following == "u" and index + 6 <= len(text):
                try:
                    out.append(chr(int(text[index + 2 : index + 6], 16)))
                    index += 6
                    continue
                except ValueError:
                    pass
            out.append(_ESCAPES.get(following, following))
            index += 2
            continue
        out.append(char)
        index += 1
    return "".join(out)


def _logical_lines(text: str) -> list[tuple[int, str]]:
    """Join continuation lines (an odd number of trailing backslashes); skip comments and blanks."""
    lines: list[tuple[int, str]] = []
    pending: str | None = None
    start = 0
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.lstrip(" \t\f")
        if pending is None:
            if not line or line[0] in "#!":
                continue
            start = number
            pending = ""
        trailing = len(line) - len(line.rstrip("\\"))
        if trailing % 2 == 1:
            pending += line[:-1]
            continue
        lines.append((start, pending + line))
        pending = None
    if pending:
        lines.append((start, pending))
    return lines


def parse_java_properties(text: str) -> dict[str, str]:
    """Parse java.util.Properties text: `key=value`, `key: value` or `key value`, `#`/`!` comments,
    backslash continuations and escapes. The last occurrence of a key wins."""
    values: dict[str, str] = {}
    for _number, line in _logical_lines(text):
        index = 0
        while index < len(line):
            char = line[index]
            if char == "\\":
                index += 2
                continue
            if char in "=: \t\f":
                break
            index += 1
        key = line[:index]
        # One separator: '=' or ':' (with whitespace around it), or whitespace alone.
        rest = line[index:].lstrip(" \t\f")
        if rest[:1] in ("=", ":"):
            rest = rest[1:].lstrip(" \t\f")
        values[_unescape(key)] = _unescape(rest)
    return values


def format_properties(values: Mapping[str, str]) -> str:
    """`key=value` lines, as `mqnamesrv -p` prints them and configStorePath holds them."""
    return "".join(f"{key}={value}\n" for key, value in values.items())
