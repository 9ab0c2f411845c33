"""protocol/bodies/route.py against the bodies a real 4.9.8 name server and broker exchanged."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pocketmq.common.errors import ProtocolError
from pocketmq.common.topic import TopicConfig
from pocketmq.protocol.bodies.route import (
    BrokerData,
    ClusterInfo,
    DataVersion,
    JsonStyle,
    KVTable,
    QueueData,
    RegisterBrokerBody,
    TopicConfigSerializeWrapper,
    TopicList,
    TopicRouteData,
    decode_json,
    encode_json,
)

# PROTOCOL.md, "GET_ROUTEINFO_BY_TOPIC (105) response body (4.9.8, as sent)".
PROTOCOL_MD_ROUTE = (
    b'{"brokerDatas":[{"brokerAddrs":{"0":"127.0.0.1:10911"},"brokerName":"broker-a",'
    b'"cluster":"DefaultCluster"}],"filterServerTable":{},"queueDatas":[{"brokerName":"broker-a",'
    b'"perm":6,"readQueueNums":4,"topicSysFlag":0,"writeQueueNums":4}]}'
)


def _bodies(frames: list[dict[str, Any]], *, code: int, kind: str) -> list[tuple[dict[str, Any], bytes]]:
    found = []
    for frame in frames:
        matches = frame.get("request_code") == code if kind == "response" else frame["code"] == code
        if frame["kind"] == kind and matches and frame["body_len"]:
            found.append((frame, bytes.fromhex(frame["body_hex"])))
    return found


def test_route_body_matches_protocol_md_byte_for_byte() -> None:
    route = TopicRouteData(
        queue_datas=(QueueData(broker_name="broker-a", read_queue_nums=4, write_queue_nums=4, perm=6),),
        broker_datas=(
            BrokerData(cluster="DefaultCluster", broker_name="broker-a", broker_addrs={0: "127.0.0.1:10911"}),
        ),
    )
    assert route.encode(JsonStyle.STANDARD) == PROTOCOL_MD_ROUTE
    assert TopicRouteData.decode(PROTOCOL_MD_ROUTE) == route


def test_route_bodies_of_java_clients_reencode_identically(java_frames: list[dict[str, Any]]) -> None:
    bodies = _bodies(java_frames, code=105, kind="response")
    assert bodies
    for frame, body in bodies:
        route = TopicRouteData.decode(body)
        assert route.encode(JsonStyle.STANDARD) == body, frame["seq"]


def test_route_bodies_of_old_clients_use_bare_integer_keys(cpp_frames: list[dict[str, Any]]) -> None:
    bodies = _bodies(cpp_frames, code=105, kind="response")
    assert bodies
    for frame, body in bodies:
        assert b'{0:"' in body
        route = TopicRouteData.decode(body)
        assert route.broker_datas[0].broker_addrs == {0: "127.0.0.1:10911"}
        assert route.encode(JsonStyle.FASTJSON) == body, frame["seq"]


def test_cluster_info_bodies_reencode_identically(java_frames: list[dict[str, Any]]) -> None:
    bodies = _bodies(java_frames, code=106, kind="response")
    assert bodies
    for frame, body in bodies:
        info = ClusterInfo.decode(body)
        assert info.cluster_addr_table == {"DefaultCluster": frozenset({"broker-a"})}
        assert info.broker_addrs_of_cluster("DefaultCluster") == ["127.0.0.1:10911"]
        assert info.encode() == body, frame["seq"]


def test_register_broker_bodies_reencode_identically(java_frames: list[dict[str, Any]]) -> None:
    bodies = _bodies(java_frames, code=103, kind="request")
    assert bodies
    for frame, body in bodies:
        register = RegisterBrokerBody.decode(body)
        wrapper = register.topic_config_serialize_wrapper
        assert wrapper.topic_config_table  # a full table, or only the topics just created
        assert wrapper.data_version.timestamp_ms > 0
        assert register.filter_server_list == ()
        assert register.encode() == body, frame["seq"]


def test_compressed_register_body_round_trips() -> None:
    wrapper = TopicConfigSerializeWrapper(
        topic_config_table={
            "TopicA": TopicConfig(topic_name="TopicA", read_queue_nums=4, write_queue_nums=8, perm=6),
            "TBW102": TopicConfig(topic_name="TBW102", read_queue_nums=8, write_queue_nums=8, perm=7),
        },
        data_version=DataVersion(timestamp_ms=1_795_590_305_994, counter=3),
    )
    body = RegisterBrokerBody(topic_config_serialize_wrapper=wrapper, filter_server_list=("10.0.0.1:1",))
    compressed = body.encode(compressed=True)
    assert compressed[:1] == b"\x78"  # a zlib stream, as java.util.zip.Deflater writes
    assert RegisterBrokerBody.decode(compressed, compressed=True) == body


@pytest.mark.parametrize(
    "junk",
    [b"", b"\x78\x9c", b"not deflate at all", b"\x78\x9c\x63\x60\x60\x60\x00\x00\x00\x04\x00\x01"],
)
def test_malformed_compressed_register_body_raises_protocol_error(junk: bytes) -> None:
    with pytest.raises(ProtocolError):
        RegisterBrokerBody.decode(junk, compressed=True)


@pytest.mark.parametrize(
    "junk",
    [b"", b"{", b"[1,2]", b'{"topicConfigSerializeWrapper":[]}', b"\xff\xfe", b'{"filterServerList":3}'],
)
def test_malformed_register_body_raises_protocol_error(junk: bytes) -> None:
    with pytest.raises(ProtocolError):
        RegisterBrokerBody.decode(junk)


def test_lenient_parsing_of_fastjson_quirks() -> None:
    body = (
        b'{"brokerAddrTable":{"b":{"brokerAddrs":{0:"h:1",1:"h:2"},"brokerName":"b","cluster":"c"}},'
        b'"clusterAddrTable":{"c":["b"]}}'
    )
    info = ClusterInfo.decode(body)
    assert info.broker_addr_table["b"].broker_addrs == {0: "h:1", 1: "h:2"}
    assert info.encode() == body
    assert info.encode(JsonStyle.STANDARD) == body.replace(b"{0:", b'{"0":').replace(b",1:", b',"1":')


def test_standard_style_escapes_non_ascii_and_fastjson_style_keeps_it() -> None:
    assert encode_json({"a": "Zürich"}, JsonStyle.FASTJSON) == '{"a":"Zürich"}'.encode()
    assert encode_json({"a": "Zürich"}, JsonStyle.STANDARD) == b'{"a":"Z\\u00FCrich"}'
    # fastjson BrowserCompatible: '/' escaped, UTF-16 surrogates, uppercase hex; default: raw but controls.
    assert encode_json("a/🚀\x01\n", JsonStyle.STANDARD) == b'"a\\/\\uD83D\\uDE80\\u0001\\n"'
    assert encode_json("a/🚀\x01\n\u2028", JsonStyle.FASTJSON) == '"a/🚀\\u0001\\n\\u2028"'.encode()
    assert encode_json({"a": None, "b": 1}) == b'{"b":1}'


def test_kv_table_and_topic_list() -> None:
    table = KVTable(table={"b": "2", "a": "1"})
    assert table.encode() == b'{"table":{"a":"1","b":"2"}}'
    assert KVTable.decode(table.encode()) == KVTable(table={"a": "1", "b": "2"})
    topics = TopicList.of(["B", "A", "A"])
    assert topics.encode() == b'{"topicList":["A","B"]}'
    assert TopicList.of(["X"], "h:1").encode() == b'{"brokerAddr":"h:1","topicList":["X"]}'
    assert TopicList.decode(b'{"topicList":["A","B"]}').topic_list == ("A", "B")


_names = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=12)


@given(
    brokers=st.dictionaries(
        _names, st.dictionaries(st.integers(0, 5), _names, min_size=1, max_size=3), max_size=4
    ),
    style=st.sampled_from(list(JsonStyle)),
)
def test_cluster_info_round_trips(brokers: dict[str, dict[int, str]], style: JsonStyle) -> None:
    info = ClusterInfo(
        broker_addr_table={
            name: BrokerData(cluster="c", broker_name=name, broker_addrs=addrs)
            for name, addrs in brokers.items()
        },
        cluster_addr_table={"c": frozenset(brokers)} if brokers else {},
    )
    assert ClusterInfo.decode(info.encode(style)) == info
    assert decode_json(info.encode(style)) == decode_json(info.encode(JsonStyle.STANDARD))


@given(text=st.text(), style=st.sampled_from(list(JsonStyle)))
def test_strings_round_trip_in_both_styles(text: str, style: JsonStyle) -> None:
    encoded = encode_json({"k": text}, style)
    assert decode_json(encoded) == {"k": text}
    if style is JsonStyle.STANDARD:
        assert encoded.isascii()
