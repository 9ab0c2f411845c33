"""RemotingCommand: one request or response of the remoting protocol, as a mutable value.

Java: org.apache.rocketmq.remoting.protocol.RemotingCommand. The frame layout lives in frame.py; this module
only holds the fields, the flag bits and the constructors for requests and responses.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Any, Final

from pocketmq.protocol.codes import LanguageCode

__all__ = [
    "SerializeType",
    "RemotingCommand",
    "FLAG_RESPONSE",
    "FLAG_ONEWAY",
    "DEFAULT_VERSION",
    "DEFAULT_LANGUAGE",
    "make_request",
    "make_response",
]

#: flag bit 0: the command is a response (Java RemotingCommand.RPC_TYPE).
FLAG_RESPONSE: Final = 0x1
#: flag bit 1: the request expects no response (Java RemotingCommand.RPC_ONEWAY).
FLAG_ONEWAY: Final = 0x2

#: The `version` we send: RocketMQ 4.9.8 (Java MQVersion.Version.V4_9_8 = 409), as the Java broker does.
DEFAULT_VERSION: Final = 409
DEFAULT_LANGUAGE: Final = LanguageCode.PYTHON


class SerializeType(IntEnum):
    """How the header is encoded (the high byte of the frame's second int). A response uses its request's."""

    JSON = 0
    ROCKETMQ = 1


# Encoding details of a decoded JSON header that only matter to re-encode it byte for byte
# (RemotingCommand.json_style). Our own commands use 0: the Java style.
#: extFields was present although empty (Java writes `{}` when a custom header had no fields).
STYLE_EMPTY_EXT_FIELDS: Final = 0x1
#: no "serializeTypeCurrentRPC" key (the C++ client leaves it out).
STYLE_NO_SERIALIZE_TYPE_KEY: Final = 0x2
#: the header JSON ends with "\n" (the C++ client writes one).
STYLE_TRAILING_NEWLINE: Final = 0x4


class RemotingCommand:
    """A request or a response. Mutable, like Java's: the client assigns `opaque` when it sends.

    `ext_fields` maps Java header field names to values. Java sends strings; other clients send JSON numbers
    and booleans as well, and decoding keeps them as they came (typed headers accept both).
    `body` is None when the frame has no body.
    """

    __slots__ = (
        "body",
        "code",
        "ext_fields",
        "flag",
        "json_style",
        "language",
        "opaque",
        "remark",
        "serialize_type",
        "version",
    )

    def __init__(
        self,
        code: int,
        *,
        language: LanguageCode = DEFAULT_LANGUAGE,
        version: int = DEFAULT_VERSION,
        opaque: int = 0,
        flag: int = 0,
        remark: str | None = None,
        ext_fields: dict[str, Any] | None = None,
        body: bytes | None = None,
        serialize_type: SerializeType = SerializeType.JSON,
        json_style: int = 0,
    ) -> None:
        self.code = code
        self.language = language
        self.version = version
        self.opaque = opaque
        self.flag = flag
        self.remark = remark
        self.ext_fields: dict[str, Any] = {} if ext_fields is None else ext_fields
        self.body = body
        self.serialize_type = serialize_type
        self.json_style = json_style

    @property
    def is_response(self) -> bool:
        return bool(self.flag & FLAG_RESPONSE)

    @property
    def is_oneway(self) -> bool:
        return bool(self.flag & FLAG_ONEWAY)

    def mark_oneway(self) -> None:
        self.flag |= FLAG_ONEWAY

    def ext_str(self, name: str) -> str | None:
        """An extFields value as the string Java would see (numbers and booleans from other clients too)."""
        value = self.ext_fields.get(name)
        if value is None or type(value) is str:
            return value
        if value is True:
            return "true"
        if value is False:
            return "false"
        return str(value)

    def __repr__(self) -> str:
        kind = (
            "response" if self.flag & FLAG_RESPONSE else ("oneway" if self.flag & FLAG_ONEWAY else "request")
        )
        body = "None" if self.body is None else f"{len(self.body)} bytes"
        return (
            f"RemotingCommand({kind} code={self.code} opaque={self.opaque} remark={self.remark!r} "
            f"ext_fields={self.ext_fields!r} body={body} {self.serialize_type.name})"
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, RemotingCommand):
            return NotImplemented
        return all(getattr(self, name) == getattr(other, name) for name in self.__slots__)

    __hash__ = None  # type: ignore[assignment]


def make_request(
    code: int,
    ext_fields: dict[str, Any] | None = None,
    body: bytes | None = None,
    *,
    oneway: bool = False,
    serialize_type: SerializeType = SerializeType.JSON,
    remark: str | None = None,
    language: LanguageCode = DEFAULT_LANGUAGE,
) -> RemotingCommand:
    """A request; the connection that sends it assigns `opaque`."""
    return RemotingCommand(
        code,
        language=language,
        flag=FLAG_ONEWAY if oneway else 0,
        remark=remark,
        ext_fields=ext_fields,
        body=body,
        serialize_type=serialize_type,
    )


def make_response(
    request: RemotingCommand,
    code: int,
    remark: str | None = None,
    ext_fields: dict[str, Any] | None = None,
    body: bytes | None = None,
) -> RemotingCommand:
    """The response to `request`: same opaque, same serialize type (PROTOCOL.md: answer in the request's)."""
    return RemotingCommand(
        code,
        opaque=request.opaque,
        flag=FLAG_RESPONSE,
        remark=remark,
        ext_fields=ext_fields,
        body=body,
        serialize_type=request.serialize_type,
    )
