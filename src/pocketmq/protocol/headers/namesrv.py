"""Name-server request and response headers (extFields), and the requests a broker sends.

Java: protocol.header.namesrv.* and GetTopicsByClusterRequestHeader. Each header maps its Java keys in
one place (`from_ext_fields` / `to_ext_fields`, the latter in the order Java's HashMap writes them).
Java sends every value as a string; other clients send JSON numbers and booleans: both are accepted.
A missing required field or a malformed number raises ProtocolError, which the connection answers
with SYSTEM_ERROR and the message as remark (the connection stays open).

For brokers: `make_register_broker_request` builds REGISTER_BROKER exactly as a 4.9.8 broker does
(extFields in the same order, bodyCrc32, optional compressed body), `parse_register_broker_response`
reads the answer, and `make_unregister_broker_request` builds UNREGISTER_BROKER.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pocketmq.common.errors import ProtocolError
from pocketmq.protocol.bodies.route import KVTable, RegisterBrokerBody, RegisterBrokerResult
from pocketmq.protocol.codes import RequestCode
from pocketmq.protocol.command import RemotingCommand, make_request

__all__ = [
    "body_crc32",
    "RegisterBrokerRequestHeader",
    "RegisterBrokerResponseHeader",
    "UnregisterBrokerRequestHeader",
    "GetRouteInfoRequestHeader",
    "PutKVConfigRequestHeader",
    "GetKVConfigRequestHeader",
    "GetKVConfigResponseHeader",
    "DeleteKVConfigRequestHeader",
    "GetKVListByNamespaceRequestHeader",
    "WipeWritePermOfBrokerRequestHeader",
    "WipeWritePermOfBrokerResponseHeader",
    "AddWritePermOfBrokerRequestHeader",
    "AddWritePermOfBrokerResponseHeader",
    "DeleteTopicFromNamesrvRequestHeader",
    "GetTopicsByClusterRequestHeader",
    "QueryDataVersionRequestHeader",
    "QueryDataVersionResponseHeader",
    "make_register_broker_request",
    "parse_register_broker_response",
    "make_unregister_broker_request",
]


def body_crc32(body: bytes | None) -> int:
    """Java UtilAll#crc32: CRC-32 of the body with the sign bit cleared (0 for no body)."""
    return zlib.crc32(body) & 0x7FFFFFFF if body else 0


# ----------------------------------------------------------------------------------------------
# extFields readers: Java strings, or JSON numbers / booleans from other clients


def _text(ext: Mapping[str, Any], key: str) -> str | None:
    value = ext.get(key)
    if value is None or type(value) is str:
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _required(ext: Mapping[str, Any], key: str) -> str:
    value = _text(ext, key)
    if value is None:
        raise ProtocolError(f"the request header lacks the required field {key!r}")
    return value


def _int_or_none(ext: Mapping[str, Any], key: str) -> int | None:
    value = ext.get(key)
    if value is None:
        return None
    if isinstance(value, bool):
        raise ProtocolError(f"header field {key!r} should be a number, got {value!r}")
    if isinstance(value, int):
        return value
    try:
        return int(str(value).strip())
    except ValueError:
        raise ProtocolError(f"header field {key!r} should be a number, got {value!r}") from None


def _required_int(ext: Mapping[str, Any], key: str) -> int:
    value = _int_or_none(ext, key)
    if value is None:
        raise ProtocolError(f"the request header lacks the required field {key!r}")
    return value


def _bool_or_none(ext: Mapping[str, Any], key: str) -> bool | None:
    value = ext.get(key)
    if value is None:
        return None
    if isinstance(value, bool):
        return value
    # Java Boolean.parseBoolean: "true" in any case is true, anything else false.
    return str(value).strip().lower() == "true"


def _java_bool(value: bool) -> str:
    return "true" if value else "false"


# ----------------------------------------------------------------------------------------------
# broker registration


@dataclass(frozen=True, slots=True, kw_only=True)
class RegisterBrokerRequestHeader:
    broker_name: str  # "brokerName"
    broker_addr: str  # "brokerAddr"
    cluster_name: str  # "clusterName"
    ha_server_addr: str  # "haServerAddr"
    broker_id: int  # "brokerId"
    compressed: bool = False  # "compressed"
    body_crc32: int = 0  # "bodyCrc32" (0: not checked)

    @classmethod
    def from_ext_fields(cls, ext: Mapping[str, Any]) -> RegisterBrokerRequestHeader:
        return cls(
            broker_name=_required(ext, "brokerName"),
            broker_addr=_required(ext, "brokerAddr"),
            cluster_name=_required(ext, "clusterName"),
            ha_server_addr=_required(ext, "haServerAddr"),
            broker_id=_required_int(ext, "brokerId"),
            compressed=bool(_bool_or_none(ext, "compressed")),
            body_crc32=_int_or_none(ext, "bodyCrc32") or 0,
        )

    def to_ext_fields(self) -> dict[str, Any]:
        # The order a 4.9.8 broker writes them (Java HashMap order of these keys).
        return {
            "brokerId": str(self.broker_id),
            "bodyCrc32": str(self.body_crc32),
            "clusterName": self.cluster_name,
            "brokerAddr": self.broker_addr,
            "haServerAddr": self.ha_server_addr,
            "compressed": _java_bool(self.compressed),
            "brokerName": self.broker_name,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class RegisterBrokerResponseHeader:
    ha_server_addr: str | None = None  # "haServerAddr"
    master_addr: str | None = None  # "masterAddr"

    @classmethod
    def from_ext_fields(cls, ext: Mapping[str, Any]) -> RegisterBrokerResponseHeader:
        return cls(ha_server_addr=_text(ext, "haServerAddr"), master_addr=_text(ext, "masterAddr"))

    def to_ext_fields(self) -> dict[str, Any]:
        # Java HashMap order of these keys (as every to_ext_fields here): haServerAddr, masterAddr.
        fields: dict[str, Any] = {}
        if self.ha_server_addr is not None:
            fields["haServerAddr"] = self.ha_server_addr
        if self.master_addr is not None:
            fields["masterAddr"] = self.master_addr
        return fields


@dataclass(frozen=True, slots=True, kw_only=True)
class UnregisterBrokerRequestHeader:
    broker_name: str  # "brokerName"
    broker_addr: str  # "brokerAddr"
    cluster_name: str  # "clusterName"
    broker_id: int  # "brokerId"

    @classmethod
    def from_ext_fields(cls, ext: Mapping[str, Any]) -> UnregisterBrokerRequestHeader:
        return cls(
            broker_name=_required(ext, "brokerName"),
            broker_addr=_required(ext, "brokerAddr"),
            cluster_name=_required(ext, "clusterName"),
            broker_id=_required_int(ext, "brokerId"),
        )

    def to_ext_fields(self) -> dict[str, Any]:
        return {
            "brokerId": str(self.broker_id),
            "clusterName": self.cluster_name,
            "brokerAddr": self.broker_addr,
            "brokerName": self.broker_name,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class QueryDataVersionRequestHeader:
    broker_name: str  # "brokerName"
    broker_addr: str  # "brokerAddr"
    cluster_name: str  # "clusterName"
    broker_id: int  # "brokerId"

    @classmethod
    def from_ext_fields(cls, ext: Mapping[str, Any]) -> QueryDataVersionRequestHeader:
        return cls(
            broker_name=_required(ext, "brokerName"),
            broker_addr=_required(ext, "brokerAddr"),
            cluster_name=_required(ext, "clusterName"),
            broker_id=_required_int(ext, "brokerId"),
        )

    def to_ext_fields(self) -> dict[str, Any]:
        return {
            "brokerId": str(self.broker_id),
            "clusterName": self.cluster_name,
            "brokerAddr": self.broker_addr,
            "brokerName": self.broker_name,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class QueryDataVersionResponseHeader:
    changed: bool  # "changed"

    @classmethod
    def from_ext_fields(cls, ext: Mapping[str, Any]) -> QueryDataVersionResponseHeader:
        return cls(changed=bool(_bool_or_none(ext, "changed")))

    def to_ext_fields(self) -> dict[str, Any]:
        return {"changed": _java_bool(self.changed)}


# ----------------------------------------------------------------------------------------------
# routes and topics


@dataclass(frozen=True, slots=True, kw_only=True)
class GetRouteInfoRequestHeader:
    topic: str  # "topic"
    accept_standard_json_only: bool | None = None  # "acceptStandardJsonOnly"

    @classmethod
    def from_ext_fields(cls, ext: Mapping[str, Any]) -> GetRouteInfoRequestHeader:
        return cls(
            topic=_required(ext, "topic"),
            accept_standard_json_only=_bool_or_none(ext, "acceptStandardJsonOnly"),
        )

    def to_ext_fields(self) -> dict[str, Any]:
        fields: dict[str, Any] = {"topic": self.topic}
        if self.accept_standard_json_only is not None:
            fields["acceptStandardJsonOnly"] = _java_bool(self.accept_standard_json_only)
        return fields


@dataclass(frozen=True, slots=True, kw_only=True)
class DeleteTopicFromNamesrvRequestHeader:
    topic: str  # "topic"
    cluster_name: str | None = None  # "clusterName" (absent: every cluster)

    @classmethod
    def from_ext_fields(cls, ext: Mapping[str, Any]) -> DeleteTopicFromNamesrvRequestHeader:
        return cls(topic=_required(ext, "topic"), cluster_name=_text(ext, "clusterName"))

    def to_ext_fields(self) -> dict[str, Any]:
        fields: dict[str, Any] = {}
        if self.cluster_name is not None:
            fields["clusterName"] = self.cluster_name
        fields["topic"] = self.topic
        return fields


@dataclass(frozen=True, slots=True, kw_only=True)
class GetTopicsByClusterRequestHeader:
    cluster: str  # "cluster"

    @classmethod
    def from_ext_fields(cls, ext: Mapping[str, Any]) -> GetTopicsByClusterRequestHeader:
        return cls(cluster=_required(ext, "cluster"))

    def to_ext_fields(self) -> dict[str, Any]:
        return {"cluster": self.cluster}


@dataclass(frozen=True, slots=True, kw_only=True)
class WipeWritePermOfBrokerRequestHeader:
    broker_name: str  # "brokerName"

    @classmethod
    def from_ext_fields(cls, ext: Mapping[str, Any]) -> WipeWritePermOfBrokerRequestHeader:
        return cls(broker_name=_required(ext, "brokerName"))

    def to_ext_fields(self) -> dict[str, Any]:
        return {"brokerName": self.broker_name}


@dataclass(frozen=True, slots=True, kw_only=True)
class WipeWritePermOfBrokerResponseHeader:
    wipe_topic_count: int  # "wipeTopicCount"

    @classmethod
    def from_ext_fields(cls, ext: Mapping[str, Any]) -> WipeWritePermOfBrokerResponseHeader:
        return cls(wipe_topic_count=_required_int(ext, "wipeTopicCount"))

    def to_ext_fields(self) -> dict[str, Any]:
        return {"wipeTopicCount": str(self.wipe_topic_count)}


@dataclass(frozen=True, slots=True, kw_only=True)
class AddWritePermOfBrokerRequestHeader:
    broker_name: str  # "brokerName"

    @classmethod
    def from_ext_fields(cls, ext: Mapping[str, Any]) -> AddWritePermOfBrokerRequestHeader:
        return cls(broker_name=_required(ext, "brokerName"))

    def to_ext_fields(self) -> dict[str, Any]:
        return {"brokerName": self.broker_name}


@dataclass(frozen=True, slots=True, kw_only=True)
class AddWritePermOfBrokerResponseHeader:
    add_topic_count: int  # "addTopicCount"

    @classmethod
    def from_ext_fields(cls, ext: Mapping[str, Any]) -> AddWritePermOfBrokerResponseHeader:
        return cls(add_topic_count=_required_int(ext, "addTopicCount"))

    def to_ext_fields(self) -> dict[str, Any]:
        return {"addTopicCount": str(self.add_topic_count)}


# ----------------------------------------------------------------------------------------------
# KV config


@dataclass(frozen=True, slots=True, kw_only=True)
class PutKVConfigRequestHeader:
    namespace: str  # "namespace"
    key: str  # "key"
    value: str  # "value"

    @classmethod
    def from_ext_fields(cls, ext: Mapping[str, Any]) -> PutKVConfigRequestHeader:
        return cls(
            namespace=_required(ext, "namespace"), key=_required(ext, "key"), value=_required(ext, "value")
        )

    def to_ext_fields(self) -> dict[str, Any]:
        return {"namespace": self.namespace, "value": self.value, "key": self.key}


@dataclass(frozen=True, slots=True, kw_only=True)
class GetKVConfigRequestHeader:
    namespace: str  # "namespace"
    key: str  # "key"

    @classmethod
    def from_ext_fields(cls, ext: Mapping[str, Any]) -> GetKVConfigRequestHeader:
        return cls(namespace=_required(ext, "namespace"), key=_required(ext, "key"))

    def to_ext_fields(self) -> dict[str, Any]:
        return {"namespace": self.namespace, "key": self.key}


@dataclass(frozen=True, slots=True, kw_only=True)
class GetKVConfigResponseHeader:
    value: str | None = None  # "value"

    @classmethod
    def from_ext_fields(cls, ext: Mapping[str, Any]) -> GetKVConfigResponseHeader:
        return cls(value=_text(ext, "value"))

    def to_ext_fields(self) -> dict[str, Any]:
        return {} if self.value is None else {"value": self.value}


@dataclass(frozen=True, slots=True, kw_only=True)
class DeleteKVConfigRequestHeader:
    namespace: str  # "namespace"
    key: str  # "key"

    @classmethod
    def from_ext_fields(cls, ext: Mapping[str, Any]) -> DeleteKVConfigRequestHeader:
        return cls(namespace=_required(ext, "namespace"), key=_required(ext, "key"))

    def to_ext_fields(self) -> dict[str, Any]:
        return {"namespace": self.namespace, "key": self.key}


@dataclass(frozen=True, slots=True, kw_only=True)
class GetKVListByNamespaceRequestHeader:
    namespace: str  # "namespace"

    @classmethod
    def from_ext_fields(cls, ext: Mapping[str, Any]) -> GetKVListByNamespaceRequestHeader:
        return cls(namespace=_required(ext, "namespace"))

    def to_ext_fields(self) -> dict[str, Any]:
        return {"namespace": self.namespace}


# ----------------------------------------------------------------------------------------------
# what a broker sends


def make_register_broker_request(
    *,
    cluster_name: str,
    broker_addr: str,
    broker_name: str,
    broker_id: int,
    ha_server_addr: str,
    body: RegisterBrokerBody,
    compressed: bool = False,
    oneway: bool = False,
) -> RemotingCommand:
    """REGISTER_BROKER as a 4.9.8 broker sends it (BrokerOuterAPI#registerBrokerAll): the header with
    bodyCrc32 of the encoded body, and the body (JSON, or Java's compressed format)."""
    encoded = body.encode(compressed=compressed)
    header = RegisterBrokerRequestHeader(
        broker_name=broker_name,
        broker_addr=broker_addr,
        cluster_name=cluster_name,
        ha_server_addr=ha_server_addr,
        broker_id=broker_id,
        compressed=compressed,
        body_crc32=body_crc32(encoded),
    )
    return make_request(RequestCode.REGISTER_BROKER, header.to_ext_fields(), encoded, oneway=oneway)


def parse_register_broker_response(response: RemotingCommand) -> RegisterBrokerResult:
    """The name server's answer to REGISTER_BROKER (the caller checks `response.code` first)."""
    header = RegisterBrokerResponseHeader.from_ext_fields(response.ext_fields)
    kv_table = KVTable.decode(response.body) if response.body else None
    return RegisterBrokerResult(
        ha_server_addr=header.ha_server_addr, master_addr=header.master_addr, kv_table=kv_table
    )


def make_unregister_broker_request(
    *, cluster_name: str, broker_addr: str, broker_name: str, broker_id: int
) -> RemotingCommand:
    header = UnregisterBrokerRequestHeader(
        broker_name=broker_name, broker_addr=broker_addr, cluster_name=cluster_name, broker_id=broker_id
    )
    return make_request(RequestCode.UNREGISTER_BROKER, header.to_ext_fields())
