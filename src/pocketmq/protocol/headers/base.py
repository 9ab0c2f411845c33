"""WireHeader: typed request/response headers <-> extFields, with the Java field names declared once.

A header is a frozen dataclass whose fields name their Java key with `java("key")`. `@wire_header`
compiles, once per class, a `from_ext_fields` and a `to_ext_fields` specialised to its fields (the way
`dataclasses` compiles `__init__`), so decoding a SEND_MESSAGE_V2 header costs a dict lookup and a
conversion per field, with no per-field loop or reflection at run time.

Decoding accepts what every client sends: Java strings ("4", "true"), and the JSON numbers and
booleans of the C++ and other clients (4, true). A missing required field or a value that is not a
number (a JSON boolean is not one, as Integer.parseInt("true") fails in Java) raises HeaderError naming
the Java key (Java: "the custom field <topic> is null"). Encoding writes strings, as Java does, and
leaves out None fields, in field order or, with `@wire_header(key_order=...)`, in the order given:
headers rebuilt byte for byte (REGISTER_BROKER) list their keys in the order Java's HashMap writes them.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final, Self, TypeVar, dataclass_transform, overload

from pocketmq.common.errors import ProtocolError

__all__ = ["HeaderError", "WireHeader", "java", "wire_header", "parse_bool"]

_JAVA_KEY: Final = "java"
_MISSING: Any = dataclasses.MISSING


class HeaderError(ProtocolError):
    """A request header lacks a required field or holds a malformed value. Answered SYSTEM_ERROR."""


def java(key: str, *, default: Any = _MISSING) -> Any:
    """Declare a header field with its Java extFields key; without a default the field is required."""
    if default is _MISSING:
        return dataclasses.field(metadata={_JAVA_KEY: key})
    return dataclasses.field(default=default, metadata={_JAVA_KEY: key})


class WireHeader:
    """Base of every typed header; `@wire_header` supplies the two codecs."""

    __slots__ = ()

    @classmethod
    def from_ext_fields(cls, ext_fields: Mapping[str, Any]) -> Self:
        """Decode from a command's extFields; raises HeaderError naming a missing or malformed field."""
        raise NotImplementedError(f"{cls.__name__} is not decorated with @wire_header")

    def to_ext_fields(self) -> dict[str, str]:
        """Encode as Java does: every value a string, None fields left out."""
        raise NotImplementedError(f"{type(self).__name__} is not decorated with @wire_header")


def parse_bool(value: Any) -> bool:
    """Java Boolean.parseBoolean, plus JSON booleans/numbers and "1" (the C++ client writes 0/1)."""
    if value is True or value is False:
        return value
    if type(value) is str:
        return value.lower() == "true" or value == "1"
    if type(value) is int:
        return value != 0
    return False


def _missing(cls: type, key: str) -> HeaderError:
    return HeaderError(f"the custom field <{key}> is null (header {cls.__name__})")


def _bad(cls: type, key: str, value: Any, expected: str) -> HeaderError:
    return HeaderError(f"the custom field <{key}> is not {expected}: {value!r:.80} (header {cls.__name__})")


def _as_str(value: Any) -> str:
    if value is True:
        return "true"
    if value is False:
        return "false"
    return str(value)


_H = TypeVar("_H", bound=type[WireHeader])


def _field_kind(annotation: Any) -> tuple[type, bool]:
    """(str | int | bool, optional?) of a field annotation."""
    optional = False
    args = typing.get_args(annotation)
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        others = [arg for arg in args if arg is not type(None)]
        optional = len(others) != len(args)
        if len(others) != 1:
            raise TypeError(f"unsupported header field type {annotation!r}")
        annotation = others[0]
    if annotation not in (str, int, bool):
        raise TypeError(f"unsupported header field type {annotation!r}")
    return annotation, optional


@overload
def wire_header(cls: _H, /) -> _H: ...


@overload
def wire_header(*, key_order: Sequence[str]) -> Callable[[_H], _H]: ...


@dataclass_transform(frozen_default=True, kw_only_default=True, field_specifiers=(java,))
def wire_header(cls: _H | None = None, /, *, key_order: Sequence[str] | None = None) -> Any:
    """Make `cls` a frozen, slotted, keyword-only dataclass and compile its extFields codecs.

    `key_order`: every Java key of the class, in the order `to_ext_fields` writes them (default: the
    order of the fields)."""
    if cls is None:
        return lambda header_class: _compile(header_class, key_order)
    return _compile(cls, key_order)


def _compile(cls: _H, key_order: Sequence[str] | None) -> _H:
    made: Any = dataclasses.dataclass(frozen=True, slots=True, kw_only=True)(cls)
    hints = typing.get_type_hints(made)
    decode_lines = ["def from_ext_fields(cls, ext_fields):", "    get = ext_fields.get"]
    encode_by_key: dict[str, list[str]] = {}
    namespace: dict[str, Any] = {
        "_missing": _missing,
        "_bad": _bad,
        "_as_str": _as_str,
        "parse_bool": parse_bool,
        "made": made,
        "_INT_ERRORS": (TypeError, ValueError, OverflowError),
        "new": object.__new__,
        "str": str,
        "int": int,
        "bool": bool,
    }
    arguments = []
    for index, field in enumerate(dataclasses.fields(made)):
        key = field.metadata.get(_JAVA_KEY)
        if key is None:
            raise TypeError(f"{made.__name__}.{field.name} lacks java('<key>')")
        kind, optional = _field_kind(hints[field.name])
        local = f"f{index}"
        arguments.append(f"{field.name}={local}")
        decode_lines.append(f"    v = get({key!r})")
        if field.default is _MISSING:
            decode_lines.append(f"    if v is None: raise _missing(cls, {key!r})")
        else:
            namespace[f"default{index}"] = field.default
            decode_lines.append(f"    if v is None: {local} = default{index}")
            decode_lines.append("    else:")
        indent = "    " if field.default is _MISSING else "        "
        if kind is str:
            decode_lines.append(f"{indent}{local} = v if v.__class__ is str else _as_str(v)")
        elif kind is int:
            # Java sends strings: int() takes them (and JSON numbers) in one call.
            decode_lines.append(f"{indent}if v.__class__ is bool: raise _bad(cls, {key!r}, v, 'an integer')")
            decode_lines.append(f"{indent}try: {local} = int(v)")
            decode_lines.append(
                f"{indent}except _INT_ERRORS: raise _bad(cls, {key!r}, v, 'an integer') from None"
            )
        else:
            decode_lines.append(f"{indent}{local} = v if v.__class__ is bool else parse_bool(v)")
        value = f"self.{field.name}"
        if kind is str:
            converted = "v"
        elif kind is int:
            converted = "str(v)"
        else:
            converted = "'true' if v else 'false'"
        if optional or field.default is None:
            encode_by_key[key] = [f"    v = {value}", f"    if v is not None: out[{key!r}] = {converted}"]
        else:
            encode_by_key[key] = [f"    v = {value}", f"    out[{key!r}] = {converted}"]
    if key_order is not None and sorted(key_order) != sorted(encode_by_key):
        raise TypeError(f"{made.__name__}: key_order {list(key_order)} is not its keys {list(encode_by_key)}")
    encode_lines = ["def to_ext_fields(self):", "    out = {}"]
    for key in encode_by_key if key_order is None else key_order:
        encode_lines.extend(encode_by_key[key])
    # Fill the slots directly: the frozen dataclass __init__ (object.__setattr__ per field) costs as
    # much as all the parsing above. Only for the class itself, not for subclasses.
    decode_lines.append("    if cls is not made:")
    decode_lines.append(f"        return cls({', '.join(arguments)})")
    decode_lines.append("    self = new(cls)")
    for index, field in enumerate(dataclasses.fields(made)):
        namespace[f"set{index}"] = made.__dict__[field.name].__set__
        decode_lines.append(f"    set{index}(self, f{index})")
    decode_lines.append("    return self")
    encode_lines.append("    return out")
    source = "\n".join(decode_lines) + "\n\n" + "\n".join(encode_lines) + "\n"
    exec(compile(source, f"<wire_header {made.__qualname__}>", "exec"), namespace)
    made.from_ext_fields = classmethod(namespace["from_ext_fields"])
    made.to_ext_fields = namespace["to_ext_fields"]
    made.__wire_source__ = source
    result: _H = made
    return result
