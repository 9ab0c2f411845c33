"""Helpers shared by the JSON bodies: lenient field readers, MessageQueue JSON and maps keyed by
MessageQueue, lists of objects, Java enums on the wire.

Java clients send enums by name, the C++ client by ordinal; numbers may arrive as strings. Readers
take both and raise BodyError (a ProtocolError: the request is answered SYSTEM_ERROR) naming the field.

Bodies whose fields are all scalars (int, float, bool, str, str | None, each with a default) declare
their Java keys with `json_key` and get `to_json` / `from_json` from `@json_body`: written as fastjson
writes a bean (keys in alphabetical order, None fields left out, floats as floats), read leniently with
the readers below (a missing or empty string falls back to the field's default).
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Callable, Mapping
from enum import Enum
from typing import Any, Self, TypeVar, dataclass_transform

import orjson

from pocketmq.common.errors import ProtocolError
from pocketmq.common.message import MessageQueue
from pocketmq.protocol import fastjson

__all__ = [
    "BodyError",
    "JsonBody",
    "json_body",
    "json_key",
    "decode_object",
    "get_str",
    "get_int",
    "get_float",
    "get_bool",
    "get_list",
    "get_object",
    "object_item",
    "get_object_list",
    "require_str",
    "enum_from_wire",
    "message_queue_to_json",
    "message_queue_from_json",
    "message_queue_key",
    "queue_map_items",
    "get_queue_map",
    "queue_map_to_json",
]


class BodyError(ProtocolError):
    """A request body is not the JSON it should be. Answered SYSTEM_ERROR with this message."""


_E = TypeVar("_E", bound=Enum)
_T = TypeVar("_T")


class JsonBody:
    """Mixin: `encode()` / `decode(bytes)` around the subclass's `to_json()` / `from_json(obj)`."""

    __slots__ = ()

    def to_json(self) -> dict[str, Any]:
        raise NotImplementedError

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> Self:
        raise NotImplementedError

    def encode(self) -> bytes:
        return fastjson.dumps(self.to_json())

    @classmethod
    def decode(cls, data: bytes | bytearray | memoryview | None) -> Self:
        return cls.from_json(decode_object(data, cls.__name__))


_JSON_KEY = "json"
_JB = TypeVar("_JB", bound=type[JsonBody])


def json_key(key: str, *, default: Any) -> Any:
    """Declare a scalar body field with its Java JSON key and its default."""
    return dataclasses.field(default=default, metadata={_JSON_KEY: key})


@dataclass_transform(frozen_default=True, kw_only_default=True, field_specifiers=(json_key,))
def json_body(cls: _JB) -> _JB:
    """Make `cls` a frozen, slotted, keyword-only dataclass with `to_json` / `from_json` for its
    `json_key` fields (see the module docstring)."""
    made: Any = dataclasses.dataclass(frozen=True, slots=True, kw_only=True)(cls)
    hints = typing.get_type_hints(made)
    fields = []
    for field in dataclasses.fields(made):
        key = field.metadata.get(_JSON_KEY)
        if key is None or field.default is dataclasses.MISSING:
            raise TypeError(f"{made.__name__}.{field.name} needs json_key('<key>', default=...)")
        kind = hints[field.name]
        if kind not in (int, float, bool, str, str | None):
            raise TypeError(f"{made.__name__}.{field.name}: unsupported body field type {kind!r}")
        fields.append((key, field.name, kind, field.default))
    written = sorted(fields)  # fastjson writes bean fields alphabetically

    def to_json(self: Any) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, name, kind, _ in written:
            value = getattr(self, name)
            if value is not None:
                out[key] = float(value) if kind is float else value
        return out

    def from_json(cls: Any, obj: Mapping[str, Any]) -> Any:
        what = cls.__name__
        values: dict[str, Any] = {}
        for key, name, kind, default in fields:
            if kind is int:
                values[name] = get_int(obj, key, what, default)
            elif kind is float:
                values[name] = get_float(obj, key, what, default)
            elif kind is bool:
                values[name] = get_bool(obj, key, what, default)
            else:
                text = get_str(obj, key, what)
                values[name] = text if default is None else text or default
        return cls(**values)

    made.to_json = to_json
    made.from_json = classmethod(from_json)
    result: _JB = made
    return result


def decode_object(data: bytes | bytearray | memoryview | None, what: str) -> dict[str, Any]:
    if not data:
        raise BodyError(f"{what}: the request has no body")
    try:
        obj = fastjson.loads(data)
    except ProtocolError as error:
        raise BodyError(f"{what}: {error}") from None
    if not isinstance(obj, dict):
        raise BodyError(f"{what}: body is not a JSON object")
    return obj


def _bad(what: str, key: str, value: Any, expected: str) -> BodyError:
    return BodyError(f"{what}: field {key!r} is not {expected}: {value!r:.80}")


def get_str(obj: Mapping[str, Any], key: str, what: str, default: str | None = None) -> str | None:
    value = obj.get(key)
    if value is None:
        return default
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    raise _bad(what, key, value, "a string")


def require_str(obj: Mapping[str, Any], key: str, what: str) -> str:
    value = get_str(obj, key, what)
    if value is None:
        raise BodyError(f"{what}: field {key!r} is missing")
    return value


def get_int(obj: Mapping[str, Any], key: str, what: str, default: int = 0) -> int:
    value = obj.get(key)
    if value is None:
        return default
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            pass
    raise _bad(what, key, value, "an integer")


def get_float(obj: Mapping[str, Any], key: str, what: str, default: float = 0.0) -> float:
    value = obj.get(key)
    if value is None:
        return default
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            pass
    raise _bad(what, key, value, "a number")


def get_bool(obj: Mapping[str, Any], key: str, what: str, default: bool = False) -> bool:
    value = obj.get(key)
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value != 0
    if isinstance(value, str):
        return value.lower() == "true" or value == "1"
    raise _bad(what, key, value, "a boolean")


def get_list(obj: Mapping[str, Any], key: str, what: str) -> list[Any]:
    value = obj.get(key)
    if value is None:
        return []
    if isinstance(value, list):
        return value
    raise _bad(what, key, value, "a list")


def get_object(obj: Mapping[str, Any], key: str, what: str) -> dict[Any, Any]:
    value = obj.get(key)
    if value is None:
        return {}
    if isinstance(value, dict):
        return value
    raise _bad(what, key, value, "an object")


def object_item(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise BodyError(f"{what}: expected an object, got {value!r:.80}")
    return value


def get_object_list(
    obj: Mapping[str, Any], key: str, what: str, from_json: Callable[[dict[str, Any]], _T]
) -> tuple[_T, ...]:
    """A JSON array of objects, each decoded by `from_json`."""
    return tuple(from_json(object_item(item, what)) for item in get_list(obj, key, what))


def enum_from_wire(kind: type[_E], value: Any, default: _E) -> _E:
    """A Java enum sent by name (Java clients) or by ordinal (the C++ client); unknown or None: default."""
    if value is None or isinstance(value, bool):
        return default
    members = list(kind)
    if isinstance(value, int):
        return members[value] if 0 <= value < len(members) else default
    text = str(value)
    if text.isdigit():
        index = int(text)
        return members[index] if index < len(members) else default
    return kind.__members__.get(text, default)


def message_queue_to_json(queue: MessageQueue) -> dict[str, Any]:
    """Java MessageQueue as fastjson writes it (fields alphabetically)."""
    return {"brokerName": queue.broker_name, "queueId": queue.queue_id, "topic": queue.topic}


def message_queue_from_json(obj: Any, what: str = "MessageQueue") -> MessageQueue:
    if isinstance(obj, fastjson.ObjectKey):
        obj = obj.as_dict()
    if not isinstance(obj, dict):
        raise BodyError(f"{what}: a message queue is not an object: {obj!r:.80}")
    return MessageQueue(
        topic=require_str(obj, "topic", what),
        broker_name=require_str(obj, "brokerName", what),
        queue_id=get_int(obj, "queueId", what),
    )


def message_queue_key(queue: MessageQueue) -> tuple[str, str, int]:
    """Java's MessageQueue ordering (topic, brokerName, queueId), for TreeMap/TreeSet-ordered output."""
    return (queue.topic, queue.broker_name, queue.queue_id)


def queue_map_items(obj: Mapping[str, Any], key: str, what: str) -> list[tuple[MessageQueue, Any]]:
    """A fastjson map keyed by MessageQueue objects (or, from lenient writers, by JSON strings)."""
    pairs = []
    for raw_key, value in get_object(obj, key, what).items():
        queue_key = raw_key
        if isinstance(raw_key, str):
            try:
                queue_key = fastjson.loads(raw_key)
            except Exception:
                raise BodyError(
                    f"{what}: {key} has a key that is not a message queue: {raw_key!r:.80}"
                ) from None
        pairs.append((message_queue_from_json(queue_key, what), value))
    return pairs


def get_queue_map(
    obj: Mapping[str, Any], key: str, what: str, from_json: Callable[[dict[str, Any]], _T]
) -> dict[MessageQueue, _T]:
    """A fastjson map keyed by MessageQueue whose values are objects, each decoded by `from_json`."""
    return {queue: from_json(object_item(value, what)) for queue, value in queue_map_items(obj, key, what)}


def queue_map_to_json(table: Mapping[MessageQueue, _T], to_json: Callable[[_T], Any]) -> orjson.Fragment:
    """A map keyed by MessageQueue as fastjson writes it (object keys), in Java's MessageQueue order."""
    return fastjson.object_key_map(
        (message_queue_to_json(queue), to_json(table[queue]))
        for queue in sorted(table, key=message_queue_key)
    )
