"""The exception hierarchy. Expected outcomes are status values; these are for bugs, bad input,
corruption and I/O failures. Messages say what went wrong, with the value, and what to do."""

from __future__ import annotations

__all__ = [
    "PocketMQError",
    "ConfigError",
    "ProtocolError",
    "FrameTooLargeError",
    "CorruptionError",
    "StoreLockedError",
    "NotBuiltError",
    "ClientError",
    "RemotingError",
    "ConnectionClosedError",
    "RequestTimeoutError",
]


class PocketMQError(Exception):
    """Base of every pocketmq error."""


class ConfigError(PocketMQError, ValueError):
    """A configuration value is missing, malformed or out of range."""


class ProtocolError(PocketMQError):
    """A peer sent bytes that do not follow the remoting protocol; that connection is closed."""


class FrameTooLargeError(ProtocolError):
    """A frame announces more bytes than the limit; refused before anything is buffered."""


class CorruptionError(PocketMQError):
    """Stored bytes fail a check (magic, size, CRC). The message names the file and the position."""


class StoreLockedError(PocketMQError):
    """Another process holds the lock file of a store directory."""


class NotBuiltError(PocketMQError, NotImplementedError):
    """A feature that pocketmq does not implement yet; the message names the issue that tracks it."""


class ClientError(PocketMQError):
    """A request was answered with an error code (the code and the remark are kept)."""

    def __init__(self, code: int, remark: str | None, message: str | None = None) -> None:
        self.code = code
        self.remark = remark
        super().__init__(message or f"broker answered code {code}: {remark}")


class RemotingError(PocketMQError):
    """A remote call failed at the transport level."""


class ConnectionClosedError(RemotingError):
    """The connection closed while a call was pending."""


class RequestTimeoutError(RemotingError, TimeoutError):
    """No response arrived within the call's timeout."""
