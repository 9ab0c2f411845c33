"""The handlers, in process: every name-server request a real 4.9.8 broker, client and mqadmin sent is
replayed in capture order, and our answers are compared with what the 4.9.8 name server answered."""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any, cast

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pocketmq.common.clock import FakeClock
from pocketmq.common.errors import ProtocolError
from pocketmq.common.topic import TopicConfig
from pocketmq.namesrv.config import NamesrvConfig
from pocketmq.namesrv.handlers import NamesrvContext, NamesrvHandlers
from pocketmq.namesrv.kv_config import NAMESPACE_ORDER_TOPIC_CONFIG, KVConfig
from pocketmq.namesrv.route_table import RouteTable
from pocketmq.protocol.bodies.route import (
    DataVersion,
    RegisterBrokerBody,
    TopicConfigSerializeWrapper,
    TopicRouteData,
    encode_json,
)
from pocketmq.protocol.codes import LanguageCode, RequestCode, ResponseCode
from pocketmq.protocol.command import RemotingCommand, make_request
from pocketmq.protocol.frame import decode_frame, encode
from pocketmq.protocol.headers.namesrv import make_register_broker_request
from pocketmq.remoting import Connection, Router


class StubConnection:
    def __init__(self, peer_address: str = "127.0.0.1:50000") -> None:
        self.peer_address = peer_address


class Harness:
    def __init__(self, tmp_path: Path, **config: Any) -> None:
        self.clock = FakeClock()
        self.persisted: list[str] = []
        self.context = NamesrvContext(
            route_table=RouteTable(),
            kv_config=KVConfig(),
            config=NamesrvConfig(
                kv_config_path=tmp_path / "kv.json", config_store_path=tmp_path / "ns.properties", **config
            ),
            clock=self.clock,
            persist_kv_config=self._persist_kv,
            persist_config=self._persist_config,
        )
        self.router = Router(NamesrvHandlers(self.context).routes())

    async def _persist_kv(self) -> None:
        self.persisted.append("kv")

    async def _persist_config(self) -> None:
        self.persisted.append("config")

    async def call(
        self, request: RemotingCommand, connection: object | None = None
    ) -> RemotingCommand | None:
        handler = self.router.lookup(request.code)
        assert handler is not None, request.code
        result = handler(request, cast(Connection, connection or StubConnection()))
        if inspect.isawaitable(result):
            result = await result
        return result


async def test_replay_of_the_4_9_8_namesrv_traffic(tmp_path: Path, java_frames: list[dict[str, Any]]) -> None:
    harness = Harness(tmp_path)
    responses = {frame["request_seq"]: frame for frame in java_frames if frame["kind"] == "response"}
    connections: dict[int, StubConnection] = {}
    compared_bodies = 0
    for frame in java_frames:
        if frame["kind"] != "request" or not frame["direction"].endswith("->namesrv"):
            continue
        harness.clock.advance(max(0, int(frame["t_ms"]) - harness.clock.now_ms()))
        request = decode_frame(bytes.fromhex(frame["frame_hex"]))
        connection = connections.setdefault(frame["conn"], StubConnection())
        ours = await harness.call(request, connection)
        assert ours is not None
        recorded = responses.get(frame["seq"])
        if recorded is None:
            continue  # oneway
        assert ours.code == recorded["code"], (frame["seq"], frame["label"], ours.remark)
        assert ours.remark == recorded["header"].get("remark"), frame["seq"]
        # The whole frame, as the connection would send it (it sets opaque; Java says JAVA).
        ours.opaque = request.opaque
        ours.language = LanguageCode.JAVA
        assert encode(ours) == bytes.fromhex(recorded["frame_hex"]), (frame["seq"], frame["label"])
        if recorded["body_len"] and request.code in (
            RequestCode.GET_ROUTEINFO_BY_TOPIC,
            RequestCode.GET_BROKER_CLUSTER_INFO,
        ):
            assert ours.body == bytes.fromhex(recorded["body_hex"]), (frame["seq"], frame["label"])
            compared_bodies += 1
    assert compared_bodies >= 30


async def test_replay_of_the_cpp_client_route_requests(
    tmp_path: Path, java_frames: list[dict[str, Any]], cpp_frames: list[dict[str, Any]]
) -> None:
    harness = Harness(tmp_path)
    for frame in java_frames:  # the broker registrations of the whole run
        if frame["kind"] == "request" and frame["code"] == RequestCode.REGISTER_BROKER:
            await harness.call(decode_frame(bytes.fromhex(frame["frame_hex"])))
    responses = {frame["request_seq"]: frame for frame in cpp_frames if frame["kind"] == "response"}
    checked = 0
    for frame in cpp_frames:
        if frame["kind"] == "request" and frame["code"] == RequestCode.GET_ROUTEINFO_BY_TOPIC:
            recorded = responses[frame["seq"]]
            if recorded["code"] != ResponseCode.SUCCESS:
                continue  # the retry topic was created later in the Java run's order
            ours = await harness.call(decode_frame(bytes.fromhex(frame["frame_hex"])))
            assert ours is not None and ours.code == ResponseCode.SUCCESS
            recorded_route = TopicRouteData.decode(bytes.fromhex(recorded["body_hex"]))
            assert ours.body is not None and b'{0:"' in ours.body  # version 333: fastjson keys
            assert TopicRouteData.decode(ours.body).broker_datas == recorded_route.broker_datas
            checked += 1
    assert checked >= 4


async def test_order_topic_conf_is_added_when_enabled(tmp_path: Path) -> None:
    harness = Harness(tmp_path, order_message_enable=True)
    body = RegisterBrokerBody(
        topic_config_serialize_wrapper=TopicConfigSerializeWrapper(
            topic_config_table={"T": TopicConfig(topic_name="T", read_queue_nums=4, write_queue_nums=4)}
        )
    )
    request = make_register_broker_request(
        cluster_name="c", broker_addr="h:1", broker_name="b", broker_id=0, ha_server_addr="h:2", body=body
    )
    assert (await harness.call(request)) is not None
    put = make_request(
        RequestCode.PUT_KV_CONFIG, {"namespace": NAMESPACE_ORDER_TOPIC_CONFIG, "key": "T", "value": "b:4"}
    )
    response = await harness.call(put)
    assert response is not None and response.code == ResponseCode.SUCCESS
    assert harness.persisted == ["kv"]
    route = await harness.call(make_request(RequestCode.GET_ROUTEINFO_BY_TOPIC, {"topic": "T"}))
    assert route is not None and route.body is not None
    assert b'"orderTopicConf":"b:4"' in route.body


async def test_compressed_registration_and_query_data_version(tmp_path: Path) -> None:
    harness = Harness(tmp_path)
    version = DataVersion(timestamp_ms=5, counter=2)
    body = RegisterBrokerBody(
        topic_config_serialize_wrapper=TopicConfigSerializeWrapper(
            topic_config_table={"T": TopicConfig(topic_name="T")}, data_version=version
        )
    )
    request = make_register_broker_request(
        cluster_name="c",
        broker_addr="h:1",
        broker_name="b",
        broker_id=0,
        ha_server_addr="h:2",
        body=body,
        compressed=True,
    )
    response = await harness.call(request)
    assert response is not None and response.code == ResponseCode.SUCCESS, response
    fields = {"brokerName": "b", "brokerAddr": "h:1", "clusterName": "c", "brokerId": "0"}
    same = make_request(RequestCode.QUERY_DATA_VERSION, fields, encode_json(version.to_json()))
    answer = await harness.call(same)
    assert answer is not None and answer.ext_fields == {"changed": "false"}
    assert answer.body == b'{"counter":2,"timestamp":5}'
    newer = make_request(RequestCode.QUERY_DATA_VERSION, fields, b'{"counter":3,"timestamp":6}')
    answer = await harness.call(newer)
    assert answer is not None and answer.ext_fields == {"changed": "true"}


async def test_namesrv_config_get_and_update(tmp_path: Path) -> None:
    harness = Harness(tmp_path)
    got = await harness.call(make_request(RequestCode.GET_NAMESRV_CONFIG))
    assert got is not None and got.body is not None and b"orderMessageEnable=false\n" in got.body
    update = make_request(RequestCode.UPDATE_NAMESRV_CONFIG, body=b"orderMessageEnable=true\n")
    answer = await harness.call(update)
    assert answer is not None and answer.code == ResponseCode.SUCCESS
    assert harness.context.config.order_message_enable
    assert harness.persisted == ["config"]
    black = make_request(RequestCode.UPDATE_NAMESRV_CONFIG, body=b"kvConfigPath=/etc/passwd\n")
    answer = await harness.call(black)
    assert answer is not None and answer.code == ResponseCode.NO_PERMISSION
    bad = make_request(RequestCode.UPDATE_NAMESRV_CONFIG, body=b"listenPort=many\n")
    answer = await harness.call(bad)
    assert answer is not None and answer.code == ResponseCode.SYSTEM_ERROR


@pytest.mark.parametrize(
    "code", [RequestCode.PUT_KV_CONFIG, RequestCode.REGISTER_BROKER, RequestCode.WIPE_WRITE_PERM_OF_BROKER]
)
async def test_missing_header_fields_raise_protocol_error(tmp_path: Path, code: int) -> None:
    harness = Harness(tmp_path)
    with pytest.raises(ProtocolError, match="is null"):
        await harness.call(make_request(code, {}))


async def test_kv_limits_are_answered(tmp_path: Path) -> None:
    harness = Harness(tmp_path)
    big = make_request(RequestCode.PUT_KV_CONFIG, {"namespace": "n", "key": "k", "value": "x" * (2 << 20)})
    answer = await harness.call(big)
    assert answer is not None and answer.code == ResponseCode.SYSTEM_ERROR
    assert harness.persisted == []


_NAMESRV_CODES = sorted(
    {
        RequestCode.REGISTER_BROKER,
        RequestCode.UNREGISTER_BROKER,
        RequestCode.GET_ROUTEINFO_BY_TOPIC,
        RequestCode.PUT_KV_CONFIG,
        RequestCode.GET_KV_CONFIG,
        RequestCode.DELETE_KV_CONFIG,
        RequestCode.GET_KVLIST_BY_NAMESPACE,
        RequestCode.WIPE_WRITE_PERM_OF_BROKER,
        RequestCode.ADD_WRITE_PERM_OF_BROKER,
        RequestCode.DELETE_TOPIC_IN_NAMESRV,
        RequestCode.GET_TOPICS_BY_CLUSTER,
        RequestCode.QUERY_DATA_VERSION,
        RequestCode.UPDATE_NAMESRV_CONFIG,
    }
)
_KEYS = [
    "brokerName",
    "brokerAddr",
    "clusterName",
    "haServerAddr",
    "brokerId",
    "compressed",
    "bodyCrc32",
    "topic",
    "namespace",
    "key",
    "value",
    "cluster",
    "clusterName",
    "acceptStandardJsonOnly",
]
_VALUES = st.one_of(
    st.text(max_size=20),
    st.integers(-(2**63), 2**63),
    st.booleans(),
    st.sampled_from(["0", "true", "-1", ""]),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    code=st.sampled_from(_NAMESRV_CODES),
    ext=st.dictionaries(st.sampled_from(_KEYS), _VALUES, max_size=8),
    body=st.one_of(
        st.none(),
        st.binary(max_size=64),
        st.sampled_from(
            [
                b"{}",
                b"[]",
                b'{"filterServerList":null,"topicConfigSerializeWrapper":{"topicConfigTable":{"T":{}}}}',
                b'{"topicConfigSerializeWrapper":{"dataVersion":"x"}}',
                b'{"counter":"a","timestamp":[]}',
                b"a=b\nlistenPort=x",
            ]
        ),
    ),
    version=st.sampled_from([0, 36, 333, 409]),
)
async def test_fuzzed_requests_answer_or_raise_protocol_error(
    tmp_path: Path, code: int, ext: dict[str, Any], body: bytes | None, version: int
) -> None:
    harness = Harness(tmp_path)
    request = make_request(code, dict(ext), body)
    request.version = version
    try:
        response = await harness.call(request)
    except ProtocolError:
        return
    assert response is not None
    harness.context.route_table.check_invariants()
