"""Typed request and response headers <-> extFields, one module per family (send, pull, consumer,
query, admin, transaction, namesrv). Each maps its Java keys in one place: see base.py."""

from __future__ import annotations

from pocketmq.protocol.headers.base import HeaderError, WireHeader, java, parse_bool, wire_header

__all__ = ["HeaderError", "WireHeader", "java", "parse_bool", "wire_header"]
