"""Name-server headers against the captured 4.9.8 frames, and a broker's requests rebuilt byte for byte."""

from __future__ import annotations

from typing import Any

import pytest

from pocketmq.common.errors import ProtocolError
from pocketmq.protocol.bodies.route import RegisterBrokerBody
from pocketmq.protocol.codes import LanguageCode, RequestCode
from pocketmq.protocol.frame import decode_frame, encode
from pocketmq.protocol.headers.namesrv import (
    DeleteTopicFromNamesrvRequestHeader,
    GetRouteInfoRequestHeader,
    PutKVConfigRequestHeader,
    RegisterBrokerRequestHeader,
    RegisterBrokerResponseHeader,
    UnregisterBrokerRequestHeader,
    body_crc32,
    make_register_broker_request,
    make_unregister_broker_request,
)


def _requests(frames: list[dict[str, Any]], code: int) -> list[dict[str, Any]]:
    return [frame for frame in frames if frame["kind"] == "request" and frame["code"] == code]


def test_register_broker_requests_rebuild_byte_for_byte(java_frames: list[dict[str, Any]]) -> None:
    frames = _requests(java_frames, RequestCode.REGISTER_BROKER)
    assert len(frames) >= 10
    for frame in frames:
        recorded = decode_frame(bytes.fromhex(frame["frame_hex"]))
        header = RegisterBrokerRequestHeader.from_ext_fields(recorded.ext_fields)
        assert header.to_ext_fields() == recorded.ext_fields
        assert list(header.to_ext_fields()) == list(recorded.ext_fields)
        assert recorded.body is not None and body_crc32(recorded.body) == header.body_crc32
        rebuilt = make_register_broker_request(
            cluster_name=header.cluster_name,
            broker_addr=header.broker_addr,
            broker_name=header.broker_name,
            broker_id=header.broker_id,
            ha_server_addr=header.ha_server_addr,
            body=RegisterBrokerBody.decode(recorded.body),
            oneway=recorded.is_oneway,
        )
        rebuilt.opaque = recorded.opaque
        rebuilt.language = LanguageCode.JAVA
        assert encode(rebuilt) == bytes.fromhex(frame["frame_hex"]), frame["seq"]


def test_unregister_broker_request_rebuilds_byte_for_byte(java_frames: list[dict[str, Any]]) -> None:
    frames = _requests(java_frames, RequestCode.UNREGISTER_BROKER)
    assert frames
    for frame in frames:
        recorded = decode_frame(bytes.fromhex(frame["frame_hex"]))
        header = UnregisterBrokerRequestHeader.from_ext_fields(recorded.ext_fields)
        rebuilt = make_unregister_broker_request(
            cluster_name=header.cluster_name,
            broker_addr=header.broker_addr,
            broker_name=header.broker_name,
            broker_id=header.broker_id,
        )
        rebuilt.opaque = recorded.opaque
        rebuilt.language = LanguageCode.JAVA
        assert encode(rebuilt) == bytes.fromhex(frame["frame_hex"]), frame["seq"]


def test_route_requests_of_both_clients_parse(
    java_frames: list[dict[str, Any]], cpp_frames: list[dict[str, Any]]
) -> None:
    for frame in _requests(java_frames + cpp_frames, RequestCode.GET_ROUTEINFO_BY_TOPIC):
        recorded = decode_frame(bytes.fromhex(frame["frame_hex"]))
        header = GetRouteInfoRequestHeader.from_ext_fields(recorded.ext_fields)
        assert header.topic == recorded.ext_fields["topic"]
        assert header.accept_standard_json_only is None


def test_values_from_non_java_clients_are_accepted() -> None:
    header = RegisterBrokerRequestHeader.from_ext_fields(
        {
            "brokerName": "b",
            "brokerAddr": "h:1",
            "clusterName": "c",
            "haServerAddr": "h:2",
            "brokerId": 1,
            "compressed": True,
            "bodyCrc32": "0",
        }
    )
    assert header.broker_id == 1 and header.compressed and header.body_crc32 == 0
    assert GetRouteInfoRequestHeader.from_ext_fields({"topic": 5, "acceptStandardJsonOnly": "TRUE"}) == (
        GetRouteInfoRequestHeader(topic="5", accept_standard_json_only=True)
    )


@pytest.mark.parametrize(
    "ext",
    [
        {"brokerAddr": "h:1", "clusterName": "c", "haServerAddr": "h:2", "brokerId": "0"},
        {"brokerName": "b", "brokerAddr": "h:1", "clusterName": "c", "haServerAddr": "h:2", "brokerId": "x"},
        {"brokerName": "b", "brokerAddr": "h:1", "clusterName": "c", "haServerAddr": "h:2", "brokerId": True},
    ],
)
def test_missing_or_malformed_fields_raise_protocol_error(ext: dict[str, Any]) -> None:
    with pytest.raises(ProtocolError):
        RegisterBrokerRequestHeader.from_ext_fields(ext)


def test_ext_field_order_is_java_hashmap_order() -> None:
    assert list(RegisterBrokerResponseHeader(ha_server_addr="a", master_addr="b").to_ext_fields()) == [
        "haServerAddr",
        "masterAddr",
    ]
    assert list(DeleteTopicFromNamesrvRequestHeader(topic="t", cluster_name="c").to_ext_fields()) == [
        "clusterName",
        "topic",
    ]
    assert list(PutKVConfigRequestHeader(namespace="n", key="k", value="v").to_ext_fields()) == [
        "namespace",
        "value",
        "key",
    ]
