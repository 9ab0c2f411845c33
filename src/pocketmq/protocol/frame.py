"""The remoting frame: bytes <-> RemotingCommand, sans-IO.

Layout (big-endian): `[int32 length][int32 serialize_type << 24 | header_length][header][body]`, where
`length = 4 + header_length + body_length`. The header is JSON or the ROCKETMQ binary layout below.
Java: RemotingCommand#encode/decode, RemotingSerializable, RocketMQSerializable.
"""

from __future__ import annotations

import struct
from typing import Any, Final

import orjson

from pocketmq.common.errors import FrameTooLargeError, ProtocolError
from pocketmq.protocol.codes import LanguageCode
from pocketmq.protocol.command import (
    STYLE_EMPTY_EXT_FIELDS,
    STYLE_NO_SERIALIZE_TYPE_KEY,
    STYLE_TRAILING_NEWLINE,
    RemotingCommand,
    SerializeType,
)

__all__ = [
    "FRAME_BYTES_MAX_DEFAULT",
    "FrameDecoder",
    "encode",
    "encode_parts",
    "decode_frame",
]

#: Largest frame accepted by default (Java: NettyDecoder FRAME_MAX_LENGTH, 16 MiB).
FRAME_BYTES_MAX_DEFAULT: Final = 16 * 1024 * 1024

# The 8-byte frame prefix.
FRAME_PREFIX = struct.Struct(
    ">i"  # length: 4 + header_length + body_length (does not count itself)
    "i"  # serialize_type << 24 | header_length
)
assert FRAME_PREFIX.size == 8

# Fixed head of a ROCKETMQ binary header. Java: RocketMQSerializable#rocketMQProtocolEncode.
BINARY_HEAD = struct.Struct(
    ">h"  # code
    "b"  # language code
    "h"  # version
    "i"  # opaque
    "i"  # flag
)
assert BINARY_HEAD.size == 13

_INT32 = struct.Struct(">i")
_INT16 = struct.Struct(">h")
_UINT32 = struct.Struct(">I")
_FRAME_INT = struct.Struct(">I")

_LANGUAGE_NAMES: Final = {member.value: member.name for member in LanguageCode}
_LANGUAGE_BY_NAME: Final = {member.name: member for member in LanguageCode}
_LANGUAGE_BY_VALUE: Final = {member.value: member for member in LanguageCode}
_LANGUAGE_BY_NAME_OR_VALUE: Final[dict[Any, LanguageCode]] = {**_LANGUAGE_BY_NAME, **_LANGUAGE_BY_VALUE}
_loads = orjson.loads
_new_command = object.__new__
_HEADER_LENGTH_MASK: Final = 0xFFFFFF
_JSON_SERIALIZE_TYPE_KEY: Final = "JSON"


# --------------------------------------------------------------------------------------------- encode


def _json_header(command: RemotingCommand) -> bytes:
    # fastjson writes the bean's keys alphabetically and leaves out nulls; keep that order.
    style = command.json_style
    header: dict[str, Any] = {"code": command.code}
    ext_fields = command.ext_fields
    if ext_fields:
        if not style:
            # Our own commands write every value as a string, as Java does: the Go client, for one,
            # reads extFields as map[string]string. (Decoded frames keep their raw values.)
            for value in ext_fields.values():
                if value.__class__ is not str:
                    ext_fields = {key: _ext_value_str(value) for key, value in ext_fields.items()}
                    break
        header["extFields"] = ext_fields
    elif style & STYLE_EMPTY_EXT_FIELDS:
        header["extFields"] = ext_fields
    header["flag"] = command.flag
    header["language"] = _LANGUAGE_NAMES.get(command.language, "OTHER")
    header["opaque"] = command.opaque
    if command.remark is not None:
        header["remark"] = command.remark
    if not style & STYLE_NO_SERIALIZE_TYPE_KEY:
        header["serializeTypeCurrentRPC"] = _JSON_SERIALIZE_TYPE_KEY
    header["version"] = command.version
    try:
        encoded = orjson.dumps(header)
    except TypeError as error:
        raise ProtocolError(f"cannot encode the header of {command!r}: {error}") from error
    if style & STYLE_TRAILING_NEWLINE:
        encoded += b"\n"
    return encoded


def _ext_value_str(value: Any) -> Any:
    if value.__class__ is str or value is None:
        return value
    if value is True:
        return "true"
    if value is False:
        return "false"
    return str(value)


def _ext_value_bytes(value: Any) -> bytes:
    if type(value) is str:
        return value.encode()
    if value is True:
        return b"true"
    if value is False:
        return b"false"
    return str(value).encode()


def _binary_header(command: RemotingCommand) -> bytes:
    remark = command.remark.encode() if command.remark else b""
    parts = [
        BINARY_HEAD.pack(command.code, int(command.language), command.version, command.opaque, command.flag),
        _INT32.pack(len(remark)),
        remark,
    ]
    entries: list[bytes] = []
    for key, value in command.ext_fields.items():
        if key is None or value is None:  # Java skips null entries
            continue
        key_bytes = key.encode()
        value_bytes = _ext_value_bytes(value)
        entries.append(_INT16.pack(len(key_bytes)))
        entries.append(key_bytes)
        entries.append(_INT32.pack(len(value_bytes)))
        entries.append(value_bytes)
    ext = b"".join(entries)
    parts.append(_INT32.pack(len(ext)))
    parts.append(ext)
    return b"".join(parts)


def encode_parts(command: RemotingCommand, out: list[bytes]) -> None:
    """Append the frame of `command` to `out` as one or two buffers (prefix + header, then the body).

    The body is not copied: a transport can write the parts with one `writelines` or one join per batch.
    """
    header = (
        _json_header(command) if command.serialize_type is SerializeType.JSON else _binary_header(command)
    )
    body = command.body
    body_length = len(body) if body else 0
    header_length = len(header)
    out.append(
        FRAME_PREFIX.pack(4 + header_length + body_length, command.serialize_type << 24 | header_length)
    )
    out.append(header)
    if body:
        out.append(body)


def encode(command: RemotingCommand) -> bytes:
    """The complete frame of `command`, length prefix included."""
    parts: list[bytes] = []
    encode_parts(command, parts)
    return b"".join(parts)


# --------------------------------------------------------------------------------------------- decode


def _decode_json_header(header: bytes | bytearray | memoryview) -> RemotingCommand:
    # The hot path of every JSON frame: one orjson call, then plain dict reads and slot stores.
    try:
        fields = _loads(header)
    except orjson.JSONDecodeError as error:
        raise ProtocolError(f"header is not valid JSON: {error}") from None
    if fields.__class__ is not dict:
        raise ProtocolError(f"header is not a JSON object: {type(fields).__name__}")
    get = fields.get
    code = get("code")
    opaque = get("opaque", 0)
    flag = get("flag", 0)
    version = get("version", 0)
    if code.__class__ is not int or opaque.__class__ is not int or flag.__class__ is not int:
        raise ProtocolError(f"header fields code/opaque/flag must be integers: {fields!r:.200}")
    if version.__class__ is not int:
        raise ProtocolError(f"header field version must be an integer: {fields!r:.200}")
    style = 0
    ext_fields = get("extFields")
    if ext_fields is None:
        ext_fields = {}
    elif ext_fields.__class__ is not dict:
        raise ProtocolError(f"header extFields is not an object: {ext_fields!r:.200}")
    elif not ext_fields:
        style = STYLE_EMPTY_EXT_FIELDS
    remark = get("remark")
    if remark is not None and remark.__class__ is not str:
        remark = str(remark)
    language = get("language")
    try:
        language = _LANGUAGE_BY_NAME_OR_VALUE.get(language, LanguageCode.OTHER)
    except TypeError:  # an unhashable value
        language = LanguageCode.OTHER
    if "serializeTypeCurrentRPC" not in fields:
        style |= STYLE_NO_SERIALIZE_TYPE_KEY
    if header[-1] == 0x0A:
        style |= STYLE_TRAILING_NEWLINE
    command = _new_command(RemotingCommand)
    command.code = code
    command.language = language
    command.version = version
    command.opaque = opaque
    command.flag = flag
    command.remark = remark
    command.ext_fields = ext_fields
    command.body = None
    command.serialize_type = SerializeType.JSON
    command.json_style = style
    return command


def _decode_binary_header(header: bytes | bytearray | memoryview) -> RemotingCommand:
    size = len(header)
    try:
        code, language_code, version, opaque, flag = BINARY_HEAD.unpack_from(header, 0)
        position = BINARY_HEAD.size
        (remark_length,) = _INT32.unpack_from(header, position)
        position += 4
        if remark_length < 0 or position + remark_length > size:
            raise ProtocolError(f"binary header remark length {remark_length} exceeds the header")
        remark = bytes(header[position : position + remark_length]).decode() if remark_length else None
        position += remark_length
        (ext_length,) = _INT32.unpack_from(header, position)
        position += 4
        end = position + ext_length
        if ext_length < 0 or end > size:
            raise ProtocolError(f"binary header extFields length {ext_length} exceeds the header")
        ext_fields: dict[str, Any] = {}
        while position < end:
            (key_length,) = _INT16.unpack_from(header, position)
            position += 2
            key = bytes(header[position : position + key_length]).decode()
            position += key_length
            (value_length,) = _INT32.unpack_from(header, position)
            position += 4
            if key_length < 0 or value_length < 0 or position + value_length > end:
                raise ProtocolError("binary header extFields entry exceeds the header")
            ext_fields[key] = bytes(header[position : position + value_length]).decode()
            position += value_length
    except struct.error as error:
        raise ProtocolError(f"binary header truncated: {error}") from None
    except UnicodeDecodeError as error:
        raise ProtocolError(f"binary header holds invalid UTF-8: {error}") from None
    return RemotingCommand(
        code,
        language=_LANGUAGE_BY_VALUE.get(language_code, LanguageCode.OTHER),
        version=version,
        opaque=opaque,
        flag=flag,
        remark=remark,
        ext_fields=ext_fields,
        serialize_type=SerializeType.ROCKETMQ,
    )


def decode_frame(frame: bytes, *, frame_bytes_max: int = FRAME_BYTES_MAX_DEFAULT) -> RemotingCommand:
    """Exactly one complete frame (length prefix included) -> command."""
    decoder = FrameDecoder(frame_bytes_max=frame_bytes_max)
    decoder.feed(frame)
    command = decoder.next_command()
    if command is None or decoder.buffered_bytes:
        raise ProtocolError(f"not exactly one frame: {len(frame)} bytes, {decoder.buffered_bytes} left over")
    return command


class FrameDecoder:
    """Accumulates bytes and cuts them into commands.

    A frame whose length field exceeds `frame_bytes_max` raises FrameTooLargeError as soon as its first
    four bytes arrive, before its body is buffered. Any malformed frame raises ProtocolError; the decoder
    is then unusable and the connection must be closed.
    """

    __slots__ = ("_buffer", "_position", "frame_bytes_max")

    def __init__(self, *, frame_bytes_max: int = FRAME_BYTES_MAX_DEFAULT) -> None:
        self.frame_bytes_max = frame_bytes_max
        self._buffer: bytes | bytearray = b""
        self._position = 0

    @property
    def buffered_bytes(self) -> int:
        return len(self._buffer) - self._position

    def feed(self, data: bytes | bytearray | memoryview) -> None:
        buffer = self._buffer
        position = self._position
        if position >= len(buffer):
            # Nothing pending: keep the caller's bytes as they are (no copy on the common path).
            self._buffer = data if type(data) is bytes else bytes(data)
            self._position = 0
            return
        if type(buffer) is bytes:
            buffer = bytearray(memoryview(buffer)[position:])
            position = 0
        elif position > 65536 and position * 2 > len(buffer):
            del buffer[:position]  # type: ignore[union-attr]
            position = 0
        buffer += data
        self._buffer = buffer
        self._position = position

    def next_command(self) -> RemotingCommand | None:
        """The next complete command, or None until more bytes arrive."""
        buffer = self._buffer
        position = self._position
        available = len(buffer) - position
        if available < 8:
            if available >= 4:
                self._check_length(_FRAME_INT.unpack_from(buffer, position)[0])
            return None
        length, mark = FRAME_PREFIX.unpack_from(buffer, position)
        if length < 4 or length > self.frame_bytes_max:
            self._check_length(length & 0xFFFFFFFF)
        end = position + 4 + length
        if end > len(buffer):
            return None
        header_length = mark & _HEADER_LENGTH_MASK
        header_start = position + 8
        body_start = header_start + header_length
        if body_start > end:
            raise ProtocolError(f"header length {header_length} exceeds the frame length {length}")
        serialize_type = (mark >> 24) & 0xFF
        header = buffer[header_start:body_start]
        if serialize_type == 0:
            command = _decode_json_header(header)
        elif serialize_type == 1:
            command = _decode_binary_header(header)
        else:
            raise ProtocolError(f"unknown serialize type {serialize_type}")
        if body_start < end:
            if type(buffer) is bytes:
                command.body = buffer[body_start:end]
            else:  # one copy out of the bytearray (the temporary view is released at once)
                command.body = bytes(memoryview(buffer)[body_start:end])
        self._position = end
        if end == len(buffer):
            self._buffer = b""
            self._position = 0
        return command

    def _check_length(self, length: int) -> None:
        if length > self.frame_bytes_max:
            raise FrameTooLargeError(
                f"frame of {length} bytes exceeds the limit of {self.frame_bytes_max} bytes; refused"
            )
        if length < 4:
            raise ProtocolError(f"frame length {length} is smaller than its 4-byte header length field")
