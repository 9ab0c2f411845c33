"""JSON as Java's fastjson writes and reads it: lenient parsing and a compact, order-keeping writer.

fastjson (the JSON library of RocketMQ 4.x) writes bean fields alphabetically, map entries in HashMap
order, no spaces, non-ASCII as raw UTF-8, and with some settings integer map keys unquoted
(`{0:"127.0.0.1:10911"}`, as in consumerOffset.json), and maps keyed by objects with the key written as
a JSON object (`{{"brokerName":"b","queueId":0,"topic":"T"}:{...}}`, ConsumeStats and TopicStatsTable,
which are not JSON at all). Parse every body from a peer with `loads`: it takes strict JSON at orjson
speed and falls back to a lenient parser for the quirks. Build dicts in the order Java would write them
and serialize with `dumps`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any, Final

import orjson

from pocketmq.common.errors import ProtocolError

__all__ = ["loads", "dumps", "JsonValue", "ObjectKey", "object_key_map"]

JsonValue = Any

_WHITESPACE: Final = frozenset(" \t\r\n")
_NUMBER = re.compile(r"-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?")
_BARE_WORD = re.compile(r"[A-Za-z_$][A-Za-z0-9_$]*|-?\d+(?:\.\d+)?")
_ESCAPES: Final = {'"': '"', "\\": "\\", "/": "/", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}


def loads(data: bytes | bytearray | memoryview | str) -> JsonValue:
    """Parse JSON from fastjson or any other peer. Object key order is kept.

    Accepts, beyond strict JSON: unquoted keys (`{0:"a"}`, `{key:1}`, keys become strings), object keys
    (`{{"topic":"T"}:1}`, keys become ObjectKey), single-quoted strings, trailing commas. Raises
    ProtocolError naming the position of the problem.
    """
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        pass
    if isinstance(data, str):
        text = data
    else:
        try:
            text = bytes(data).decode()
        except UnicodeDecodeError as error:
            raise ProtocolError(f"JSON body is not UTF-8: {error}") from None
    return _LenientParser(text).parse()


class ObjectKey(tuple[tuple[str, Any], ...]):
    """A map key that fastjson wrote as a JSON object, as its (key, value) pairs in order."""

    __slots__ = ()

    def as_dict(self) -> dict[str, Any]:
        return dict(self)


def object_key_map(pairs: Iterable[tuple[Any, Any]]) -> orjson.Fragment:
    """A map whose keys are objects, written the fastjson way (`{{...}:{...}}`), to embed in `dumps`."""
    parts: list[bytes] = []
    for key, value in pairs:
        parts.append(dumps(key) + b":" + dumps(value))
    return orjson.Fragment(b"{" + b",".join(parts) + b"}")


class _LenientParser:
    """Recursive descent over the text; only used when orjson refuses the input."""

    __slots__ = ("_position", "_text")

    def __init__(self, text: str) -> None:
        self._text = text
        self._position = 0

    def parse(self) -> JsonValue:
        value = self._value(0)
        self._skip()
        if self._position != len(self._text):
            self._fail("trailing characters")
        return value

    def _fail(self, what: str) -> None:
        excerpt = self._text[max(0, self._position - 20) : self._position + 20]
        raise ProtocolError(f"invalid JSON at character {self._position} ({what}): ...{excerpt!r}...")

    def _skip(self) -> None:
        text = self._text
        position = self._position
        while position < len(text) and text[position] in _WHITESPACE:
            position += 1
        self._position = position

    def _value(self, depth: int) -> JsonValue:
        if depth > 512:
            self._fail("nested too deeply")
        self._skip()
        if self._position >= len(self._text):
            self._fail("unexpected end")
        char = self._text[self._position]
        if char == "{":
            return self._object(depth)
        if char == "[":
            return self._array(depth)
        if char in "\"'":
            return self._string(char)
        match = _NUMBER.match(self._text, self._position)
        if match:
            self._position = match.end()
            token = match.group()
            if any(c in token for c in ".eE"):
                return float(token)
            return int(token)
        for word, value in (("true", True), ("false", False), ("null", None)):
            if self._text.startswith(word, self._position):
                self._position += len(word)
                return value
        self._fail("unexpected character")
        return None  # unreachable

    def _object(self, depth: int) -> dict[Any, JsonValue]:
        self._position += 1
        result: dict[Any, JsonValue] = {}
        while True:
            self._skip()
            if self._position >= len(self._text):
                self._fail("unterminated object")
            char = self._text[self._position]
            if char == "}":
                self._position += 1
                return result
            key: Any
            if char in "\"'":
                key = self._string(char)
            elif char == "{":
                key = ObjectKey(self._object(depth + 1).items())
                try:
                    hash(key)
                except TypeError:
                    self._fail("object key holds nested objects")
            else:
                match = _BARE_WORD.match(self._text, self._position)
                if not match:
                    self._fail("expected an object key")
                    raise AssertionError  # unreachable
                key = match.group()
                self._position = match.end()
            self._skip()
            if self._text[self._position : self._position + 1] != ":":
                self._fail("expected ':'")
            self._position += 1
            result[key] = self._value(depth + 1)
            self._skip()
            char = self._text[self._position : self._position + 1]
            if char == ",":
                self._position += 1
            elif char != "}":
                self._fail("expected ',' or '}'")

    def _array(self, depth: int) -> list[JsonValue]:
        self._position += 1
        result: list[JsonValue] = []
        while True:
            self._skip()
            if self._text[self._position : self._position + 1] == "]":
                self._position += 1
                return result
            result.append(self._value(depth + 1))
            self._skip()
            char = self._text[self._position : self._position + 1]
            if char == ",":
                self._position += 1
            elif char != "]":
                self._fail("expected ',' or ']'")

    def _string(self, quote: str) -> str:
        text = self._text
        position = self._position + 1
        parts: list[str] = []
        start = position
        while True:
            if position >= len(text):
                self._position = position
                self._fail("unterminated string")
            char = text[position]
            if char == quote:
                parts.append(text[start:position])
                self._position = position + 1
                return "".join(parts)
            if char == "\\":
                parts.append(text[start:position])
                escape = text[position + 1 : position + 2]
                if escape == "u":
                    digits = text[position + 2 : position + 6]
                    try:
                        parts.append(chr(int(digits, 16)))
                    except ValueError:
                        self._position = position
                        self._fail("bad \\u escape")
                    position += 6
                elif escape in _ESCAPES or escape == "'":
                    parts.append(_ESCAPES.get(escape, escape))
                    position += 2
                else:
                    self._position = position
                    self._fail("bad escape")
                start = position
                continue
            position += 1


def dumps(value: JsonValue, *, unquoted_int_keys: bool = False) -> bytes:
    """Compact JSON bytes in the order of the given dicts, non-ASCII as raw UTF-8 (as fastjson writes it).

    With `unquoted_int_keys`, integer dict keys are written bare (`{0:3}`), as fastjson writes maps with
    Integer/Long keys in RocketMQ's config files; otherwise they are quoted as strings (as in route bodies).
    Control characters are escaped as `\\u00XX` like fastjson. Embed maps with object keys with
    `object_key_map`.
    """
    if not unquoted_int_keys:
        try:
            return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS)
        except TypeError as error:
            raise ProtocolError(f"cannot write JSON: {error}") from None
    parts: list[bytes] = []
    _write(value, parts)
    return b"".join(parts)


def _write(value: JsonValue, parts: list[bytes]) -> None:
    if isinstance(value, orjson.Fragment):
        parts.append(orjson.dumps(value))
    elif isinstance(value, dict):
        parts.append(b"{")
        first = True
        for key, item in value.items():
            if not first:
                parts.append(b",")
            first = False
            if isinstance(key, int) and not isinstance(key, bool):
                parts.append(str(key).encode())
            else:
                parts.append(orjson.dumps(str(key)))
            parts.append(b":")
            _write(item, parts)
        parts.append(b"}")
    elif isinstance(value, list | tuple):
        parts.append(b"[")
        for index, item in enumerate(value):
            if index:
                parts.append(b",")
            _write(item, parts)
        parts.append(b"]")
    else:
        try:
            parts.append(orjson.dumps(value))
        except TypeError as error:
            raise ProtocolError(f"cannot write JSON: {error}") from None
