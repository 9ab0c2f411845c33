"""Name-server request and response headers (extFields), and the requests a broker sends.

Java: protocol.header.namesrv.* and GetTopicsByClusterRequestHeader. Each header declares its Java
keys once (`@wire_header`, base.py); those a broker's frames are rebuilt from byte for byte write them
in the order Java's HashMap does (`key_order`). Java sends every value as a string; other clients send
JSON numbers and booleans: both are accepted. A missing required field or a malformed number raises
HeaderError (a ProtocolError), which the connection answers with SYSTEM_ERROR and the message as
remark (the connection stays open).

For brokers: `make_register_broker_request` builds REGISTER_BROKER exactly as a 4.9.8 broker does
(extFields in the same order, bodyCrc32, optional compressed body), `parse_register_broker_response`
reads the answer, and `make_unregister_broker_request` builds UNREGISTER_BROKER.
"""

from __future__ import annotations

import zlib

from pocketmq.protocol.bodies.route import KVTable, RegisterBrokerBody, RegisterBrokerResult
from pocketmq.protocol.codes import RequestCode
from pocketmq.protocol.command import RemotingCommand, make_request
from pocketmq.protocol.headers.base import WireHeader, java, wire_header

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
# broker registration


@wire_header(
    # The order a 4.9.8 broker writes them (Java HashMap order of these keys).
    key_order=(
        "brokerId",
        "bodyCrc32",
        "clusterName",
        "brokerAddr",
        "haServerAddr",
        "compressed",
        "brokerName",
    )
)
class RegisterBrokerRequestHeader(WireHeader):
    broker_name: str = java("brokerName")
    broker_addr: str = java("brokerAddr")
    cluster_name: str = java("clusterName")
    ha_server_addr: str = java("haServerAddr")
    broker_id: int = java("brokerId")
    compressed: bool = java("compressed", default=False)
    #: 0: not checked.
    body_crc32: int = java("bodyCrc32", default=0)


@wire_header
class RegisterBrokerResponseHeader(WireHeader):
    ha_server_addr: str | None = java("haServerAddr", default=None)
    master_addr: str | None = java("masterAddr", default=None)


@wire_header(key_order=("brokerId", "clusterName", "brokerAddr", "brokerName"))
class UnregisterBrokerRequestHeader(WireHeader):
    broker_name: str = java("brokerName")
    broker_addr: str = java("brokerAddr")
    cluster_name: str = java("clusterName")
    broker_id: int = java("brokerId")


@wire_header(key_order=("brokerId", "clusterName", "brokerAddr", "brokerName"))
class QueryDataVersionRequestHeader(WireHeader):
    broker_name: str = java("brokerName")
    broker_addr: str = java("brokerAddr")
    cluster_name: str = java("clusterName")
    broker_id: int = java("brokerId")


@wire_header
class QueryDataVersionResponseHeader(WireHeader):
    changed: bool = java("changed", default=False)


# ----------------------------------------------------------------------------------------------
# routes and topics


@wire_header
class GetRouteInfoRequestHeader(WireHeader):
    topic: str = java("topic")
    accept_standard_json_only: bool | None = java("acceptStandardJsonOnly", default=None)


@wire_header(key_order=("clusterName", "topic"))
class DeleteTopicFromNamesrvRequestHeader(WireHeader):
    topic: str = java("topic")
    #: Absent: every cluster.
    cluster_name: str | None = java("clusterName", default=None)


@wire_header
class GetTopicsByClusterRequestHeader(WireHeader):
    cluster: str = java("cluster")


@wire_header
class WipeWritePermOfBrokerRequestHeader(WireHeader):
    broker_name: str = java("brokerName")


@wire_header
class WipeWritePermOfBrokerResponseHeader(WireHeader):
    wipe_topic_count: int = java("wipeTopicCount")


@wire_header
class AddWritePermOfBrokerRequestHeader(WireHeader):
    broker_name: str = java("brokerName")


@wire_header
class AddWritePermOfBrokerResponseHeader(WireHeader):
    add_topic_count: int = java("addTopicCount")


# ----------------------------------------------------------------------------------------------
# KV config


@wire_header(key_order=("namespace", "value", "key"))
class PutKVConfigRequestHeader(WireHeader):
    namespace: str = java("namespace")
    key: str = java("key")
    value: str = java("value")


@wire_header
class GetKVConfigRequestHeader(WireHeader):
    namespace: str = java("namespace")
    key: str = java("key")


@wire_header
class GetKVConfigResponseHeader(WireHeader):
    value: str | None = java("value", default=None)


@wire_header
class DeleteKVConfigRequestHeader(WireHeader):
    namespace: str = java("namespace")
    key: str = java("key")


@wire_header
class GetKVListByNamespaceRequestHeader(WireHeader):
    namespace: str = java("namespace")


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
