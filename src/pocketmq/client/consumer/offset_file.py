"""offsets.json: the broadcasting consumer's local offset file (Java OffsetSerializeWrapper written
by fastjson with PrettyFormat), encoded and decoded byte-compatibly with the Java client.

fastjson writes a map keyed by objects with each key inlined as a JSON object, which is not valid
JSON, and indents with tabs:

    {
    \t"offsetTable":{{
    \t\t\t"brokerName":"broker-a",
    \t\t\t"queueId":3,
    \t\t\t"topic":"TopicTest"
    \t\t}:1470
    \t}
    }

The decoder is lenient: inline-object keys, unquoted number keys, and plain JSON (a table keyed by
strings is skipped) all parse; anything else raises `ValueError` naming the position.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Final

from pocketmq.common.message import MessageQueue

__all__ = ["encode_offset_table", "decode_offset_table"]

_NUMBER: Final = re.compile(r"-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?")
_WHITESPACE: Final = " \t\r\n"


def encode_offset_table(table: Mapping[MessageQueue, int]) -> str:
    """The file text Java's LocalFileOffsetStore writes (`OffsetSerializeWrapper.toJson(true)`)."""
    if not table:
        return '{\n\t"offsetTable":{}\n}'
    entries = []
    for queue, offset in table.items():
        entries.append(
            "{\n"
            f'\t\t\t"brokerName":{_string(queue.broker_name)},\n'
            f'\t\t\t"queueId":{queue.queue_id},\n'
            f'\t\t\t"topic":{_string(queue.topic)}\n'
            f"\t\t}}:{offset}"
        )
    return '{\n\t"offsetTable":{' + ",".join(entries) + "\n\t}\n}"


def _string(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


def decode_offset_table(text: str) -> dict[MessageQueue, int]:
    """The offset table of an offsets.json text; `ValueError` when it does not parse."""
    parser = _LenientParser(text)
    root = parser.parse()
    if not isinstance(root, _Object):
        raise ValueError("offsets.json: the top level is not an object")
    table: dict[MessageQueue, int] = {}
    for key, value in root.pairs:
        if key != "offsetTable" or not isinstance(value, _Object):
            continue
        for queue_key, offset in value.pairs:
            if not isinstance(queue_key, _Object) or isinstance(offset, bool) or not isinstance(offset, int):
                continue
            fields = dict(queue_key.pairs)
            topic, broker_name, queue_id = (
                fields.get("topic"),
                fields.get("brokerName"),
                fields.get("queueId"),
            )
            if isinstance(topic, str) and isinstance(broker_name, str) and type(queue_id) is int:
                table[MessageQueue(topic, broker_name, queue_id)] = offset
    return table


class _Object:
    """A parsed object, keeping keys that may themselves be objects."""

    __slots__ = ("pairs",)

    def __init__(self, pairs: list[tuple[object, object]]) -> None:
        self.pairs = pairs


class _LenientParser:
    def __init__(self, text: str) -> None:
        self._text = text
        self._pos = 0

    def parse(self) -> object:
        value = self._value()
        self._skip()
        if self._pos != len(self._text):
            self._fail("trailing characters")
        return value

    def _fail(self, what: str) -> None:
        raise ValueError(f"offsets.json: {what} at character {self._pos}")

    def _skip(self) -> None:
        while self._pos < len(self._text) and self._text[self._pos] in _WHITESPACE:
            self._pos += 1

    def _peek(self) -> str:
        self._skip()
        if self._pos >= len(self._text):
            self._fail("unexpected end")
        return self._text[self._pos]

    def _expect(self, char: str) -> None:
        if self._peek() != char:
            self._fail(f"expected {char!r}")
        self._pos += 1

    def _value(self) -> object:
        char = self._peek()
        if char == "{":
            return self._object()
        if char == "[":
            return self._array()
        if char == '"':
            return self._string()
        for literal, value in (("true", True), ("false", False), ("null", None)):
            if self._text.startswith(literal, self._pos):
                self._pos += len(literal)
                return value
        match = _NUMBER.match(self._text, self._pos)
        if match is None:
            self._fail("unexpected character")
            raise AssertionError  # unreachable: _fail raises
        self._pos = match.end()
        number = match.group()
        return int(number) if number.lstrip("-").isdigit() else float(number)

    def _object(self) -> _Object:
        self._expect("{")
        pairs: list[tuple[object, object]] = []
        if self._peek() == "}":
            self._pos += 1
            return _Object(pairs)
        while True:
            key = self._value()  # fastjson keys: strings, bare numbers, or inline objects
            self._expect(":")
            pairs.append((key, self._value()))
            if self._peek() == ",":
                self._pos += 1
                if self._peek() == "}":  # a trailing comma, as fastjson accepts
                    self._pos += 1
                    return _Object(pairs)
                continue
            self._expect("}")
            return _Object(pairs)

    def _array(self) -> list[object]:
        self._expect("[")
        items: list[object] = []
        if self._peek() == "]":
            self._pos += 1
            return items
        while True:
            items.append(self._value())
            if self._peek() == ",":
                self._pos += 1
                continue
            self._expect("]")
            return items

    def _string(self) -> str:
        decoder = json.JSONDecoder()
        try:
            value, end = decoder.raw_decode(self._text, self._pos)
        except json.JSONDecodeError as error:
            raise ValueError(f"offsets.json: bad string at character {self._pos}: {error.msg}") from None
        assert isinstance(value, str)
        self._pos = end
        return value
