"""A real `mqnamesrv` process on a free 127.0.0.1 port, driven over the wire with RemotingClient the
way a 4.9.8 broker, client and mqadmin drive a name server."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from pocketmq.common.topic import TopicConfig
from pocketmq.protocol.bodies.route import (
    ClusterInfo,
    DataVersion,
    KVTable,
    RegisterBrokerBody,
    TopicConfigSerializeWrapper,
    TopicList,
    TopicRouteData,
)
from pocketmq.protocol.codes import RequestCode, ResponseCode
from pocketmq.protocol.command import RemotingCommand, SerializeType, make_request
from pocketmq.protocol.frame import encode
from pocketmq.protocol.headers.namesrv import (
    make_register_broker_request,
    make_unregister_broker_request,
    parse_register_broker_response,
)
from pocketmq.remoting import RemotingClient

BIN = Path(sys.executable).parent
TIMEOUT_MS = 3000
BROKER_ADDR = "127.0.0.1:10911"

# PROTOCOL.md: the GET_ROUTEINFO_BY_TOPIC body a 4.9.8 name server sends for this data.
PROTOCOL_MD_ROUTE = (
    b'{"brokerDatas":[{"brokerAddrs":{"0":"127.0.0.1:10911"},"brokerName":"broker-a",'
    b'"cluster":"DefaultCluster"}],"filterServerTable":{},"queueDatas":[{"brokerName":"broker-a",'
    b'"perm":6,"readQueueNums":4,"topicSysFlag":0,"writeQueueNums":4}]}'
)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class NamesrvProcess:
    conf: Path
    port: int
    kv_path: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> None:
        # Output goes to a file, not a pipe: nobody reads a pipe after boot, and a full pipe would
        # block the server.
        log_path = self.conf.with_name("namesrv.log")
        with open(log_path, "a", encoding="utf-8") as log:
            self.process = subprocess.Popen(
                [str(BIN / "mqnamesrv"), "-c", str(self.conf)], stdout=log, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and self.process.poll() is None:
            if "boot success" in log_path.read_text(encoding="utf-8").split("shut down.")[-1]:
                return
            time.sleep(0.02)
        self.stop()
        raise AssertionError("mqnamesrv did not start:\n" + log_path.read_text(encoding="utf-8"))

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None:
            return
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def make_namesrv(tmp_path: Path, **settings: str) -> NamesrvProcess:
    port = free_port()
    kv_path = tmp_path / "namesrv" / "kvConfig.json"
    lines = {
        "listenPort": str(port),
        "bindAddress": "127.0.0.1",
        "kvConfigPath": str(kv_path),
        "configStorePath": str(tmp_path / "namesrv" / "namesrv.properties"),
        **settings,
    }
    conf = tmp_path / "namesrv.conf"
    conf.write_text("".join(f"{key}={value}\n" for key, value in lines.items()), encoding="utf-8")
    return NamesrvProcess(conf, port, kv_path)


@pytest.fixture
def namesrv(tmp_path: Path) -> Iterator[NamesrvProcess]:
    server = make_namesrv(tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
async def client() -> AsyncIterator[RemotingClient]:
    remoting = RemotingClient()
    try:
        yield remoting
    finally:
        await remoting.close()


def register_request(
    *topics: TopicConfig, broker_name: str = "broker-a", addr: str = BROKER_ADDR, counter: int = 1
) -> RemotingCommand:
    body = RegisterBrokerBody(
        topic_config_serialize_wrapper=TopicConfigSerializeWrapper(
            topic_config_table={topic.topic_name: topic for topic in topics},
            data_version=DataVersion(timestamp_ms=1_795_590_305_994, counter=counter),
        )
    )
    return make_register_broker_request(
        cluster_name="DefaultCluster",
        broker_addr=addr,
        broker_name=broker_name,
        broker_id=0,
        ha_server_addr="127.0.0.1:10912",
        body=body,
    )


TOPIC_A = TopicConfig(topic_name="TopicA", read_queue_nums=4, write_queue_nums=4, perm=6)


async def route(client: RemotingClient, address: str, topic: str, *, version: int = 409) -> RemotingCommand:
    request = make_request(RequestCode.GET_ROUTEINFO_BY_TOPIC, {"topic": topic})
    request.version = version
    return await client.invoke(address, request, TIMEOUT_MS)


async def test_register_then_route_is_byte_identical_to_4_9_8(
    namesrv: NamesrvProcess, client: RemotingClient
) -> None:
    response = await client.invoke(namesrv.address, register_request(TOPIC_A), TIMEOUT_MS)
    assert response.code == ResponseCode.SUCCESS, response.remark
    result = parse_register_broker_response(response)
    assert result.master_addr is None and result.kv_table is None

    found = await route(client, namesrv.address, "TopicA")
    assert found.code == ResponseCode.SUCCESS
    assert found.body == PROTOCOL_MD_ROUTE
    # Clients older than 4.9.4 (the C++ client sends 333) get fastjson's bare integer keys.
    old = await route(client, namesrv.address, "TopicA", version=333)
    assert old.body == PROTOCOL_MD_ROUTE.replace(b'{"0":', b"{0:")
    assert TopicRouteData.decode(old.body) == TopicRouteData.decode(PROTOCOL_MD_ROUTE)

    missing = await route(client, namesrv.address, "NoSuchTopic")
    assert missing.code == ResponseCode.TOPIC_NOT_EXIST
    assert missing.remark == (
        "No topic route info in name server for the topic: NoSuchTopic\n"
        "See http://rocketmq.apache.org/docs/faq/ for further details."
    )


async def test_route_answers_in_the_serialize_type_of_the_request(
    namesrv: NamesrvProcess, client: RemotingClient
) -> None:
    await client.invoke(namesrv.address, register_request(TOPIC_A), TIMEOUT_MS)
    request = make_request(
        RequestCode.GET_ROUTEINFO_BY_TOPIC, {"topic": "TopicA"}, serialize_type=SerializeType.ROCKETMQ
    )
    response = await client.invoke(namesrv.address, request, TIMEOUT_MS)
    assert response.serialize_type is SerializeType.ROCKETMQ
    assert response.body == PROTOCOL_MD_ROUTE


async def test_cluster_info_and_topic_lists(namesrv: NamesrvProcess, client: RemotingClient) -> None:
    topic_b = TopicConfig(topic_name="TopicB", read_queue_nums=2, write_queue_nums=2, perm=6)
    await client.invoke(namesrv.address, register_request(TOPIC_A, topic_b), TIMEOUT_MS)
    info_response = await client.invoke(
        namesrv.address, make_request(RequestCode.GET_BROKER_CLUSTER_INFO), TIMEOUT_MS
    )
    assert info_response.body == (
        b'{"brokerAddrTable":{"broker-a":{"brokerAddrs":{0:"127.0.0.1:10911"},"brokerName":"broker-a",'
        b'"cluster":"DefaultCluster"}},"clusterAddrTable":{"DefaultCluster":["broker-a"]}}'
    )
    assert ClusterInfo.decode(info_response.body).broker_addrs_of_cluster("DefaultCluster") == [BROKER_ADDR]

    all_topics = await client.invoke(
        namesrv.address, make_request(RequestCode.GET_ALL_TOPIC_LIST_FROM_NAMESERVER), TIMEOUT_MS
    )
    assert all_topics.body is not None
    assert TopicList.decode(all_topics.body).topic_list == ("TopicA", "TopicB")
    by_cluster = await client.invoke(
        namesrv.address,
        make_request(RequestCode.GET_TOPICS_BY_CLUSTER, {"cluster": "DefaultCluster"}),
        TIMEOUT_MS,
    )
    assert by_cluster.body is not None
    assert TopicList.decode(by_cluster.body).topic_list == ("TopicA", "TopicB")
    system = await client.invoke(
        namesrv.address, make_request(RequestCode.GET_SYSTEM_TOPIC_LIST_FROM_NS), TIMEOUT_MS
    )
    assert system.body is not None
    assert TopicList.decode(system.body) == TopicList(
        topic_list=("DefaultCluster", "broker-a"), broker_addr=BROKER_ADDR
    )


async def test_wipe_and_add_write_perm_then_delete_topic(
    namesrv: NamesrvProcess, client: RemotingClient
) -> None:
    await client.invoke(namesrv.address, register_request(TOPIC_A), TIMEOUT_MS)
    wiped = await client.invoke(
        namesrv.address,
        make_request(RequestCode.WIPE_WRITE_PERM_OF_BROKER, {"brokerName": "broker-a"}),
        TIMEOUT_MS,
    )
    assert wiped.code == ResponseCode.SUCCESS and wiped.ext_fields["wipeTopicCount"] == "1"
    found = await route(client, namesrv.address, "TopicA")
    assert found.body is not None and TopicRouteData.decode(found.body).queue_datas[0].perm == 4
    added = await client.invoke(
        namesrv.address,
        make_request(RequestCode.ADD_WRITE_PERM_OF_BROKER, {"brokerName": "broker-a"}),
        TIMEOUT_MS,
    )
    assert added.code == ResponseCode.SUCCESS and added.ext_fields["addTopicCount"] == "1"
    found = await route(client, namesrv.address, "TopicA")
    assert found.body is not None and TopicRouteData.decode(found.body).queue_datas[0].perm == 6

    deleted = await client.invoke(
        namesrv.address, make_request(RequestCode.DELETE_TOPIC_IN_NAMESRV, {"topic": "TopicA"}), TIMEOUT_MS
    )
    assert deleted.code == ResponseCode.SUCCESS
    assert (await route(client, namesrv.address, "TopicA")).code == ResponseCode.TOPIC_NOT_EXIST


async def test_kv_config_is_served_and_survives_a_restart(
    namesrv: NamesrvProcess, client: RemotingClient
) -> None:
    put = make_request(
        RequestCode.PUT_KV_CONFIG, {"namespace": "ORDER_TOPIC_CONFIG", "key": "T", "value": "a:4"}
    )
    assert (await client.invoke(namesrv.address, put, TIMEOUT_MS)).code == ResponseCode.SUCCESS
    get = make_request(RequestCode.GET_KV_CONFIG, {"namespace": "ORDER_TOPIC_CONFIG", "key": "T"})
    got = await client.invoke(namesrv.address, get, TIMEOUT_MS)
    assert got.code == ResponseCode.SUCCESS and got.ext_fields["value"] == "a:4"
    listed = await client.invoke(
        namesrv.address,
        make_request(RequestCode.GET_KVLIST_BY_NAMESPACE, {"namespace": "ORDER_TOPIC_CONFIG"}),
        TIMEOUT_MS,
    )
    assert listed.body is not None and KVTable.decode(listed.body).table == {"T": "a:4"}
    # A registering broker gets the ORDER_TOPIC_CONFIG namespace back.
    registered = await client.invoke(namesrv.address, register_request(TOPIC_A), TIMEOUT_MS)
    kv_table = parse_register_broker_response(registered).kv_table
    assert kv_table is not None and kv_table.table == {"T": "a:4"}
    assert namesrv.kv_path.read_bytes() == b'{"configTable":{"ORDER_TOPIC_CONFIG":{"T":"a:4"}}}'

    await client.close()
    namesrv.stop()
    namesrv.start()
    restarted = RemotingClient()
    try:
        got = await restarted.invoke(namesrv.address, get, TIMEOUT_MS)
        assert got.code == ResponseCode.SUCCESS and got.ext_fields["value"] == "a:4"
        delete = make_request(RequestCode.DELETE_KV_CONFIG, {"namespace": "ORDER_TOPIC_CONFIG", "key": "T"})
        assert (await restarted.invoke(namesrv.address, delete, TIMEOUT_MS)).code == ResponseCode.SUCCESS
        gone = await restarted.invoke(namesrv.address, get, TIMEOUT_MS)
        assert gone.code == ResponseCode.QUERY_NOT_FOUND
        assert gone.remark == "No config item, Namespace: ORDER_TOPIC_CONFIG Key: T"
        missing_ns = await restarted.invoke(
            namesrv.address,
            make_request(RequestCode.GET_KVLIST_BY_NAMESPACE, {"namespace": "nope"}),
            TIMEOUT_MS,
        )
        assert missing_ns.code == ResponseCode.QUERY_NOT_FOUND
    finally:
        await restarted.close()


async def _wait_for_route_code(client: RemotingClient, address: str, topic: str, code: int) -> None:
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        if (await route(client, address, topic)).code == code:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"route of {topic} did not become {code}")


async def test_broker_disappears_when_its_connection_closes(
    namesrv: NamesrvProcess, client: RemotingClient
) -> None:
    broker = RemotingClient()
    try:
        response = await broker.invoke(namesrv.address, register_request(TOPIC_A), TIMEOUT_MS)
        assert response.code == ResponseCode.SUCCESS
        assert (await route(client, namesrv.address, "TopicA")).code == ResponseCode.SUCCESS
    finally:
        await broker.close()
    await _wait_for_route_code(client, namesrv.address, "TopicA", ResponseCode.TOPIC_NOT_EXIST)


async def test_unregister_removes_the_broker(namesrv: NamesrvProcess, client: RemotingClient) -> None:
    await client.invoke(namesrv.address, register_request(TOPIC_A), TIMEOUT_MS)
    request = make_unregister_broker_request(
        cluster_name="DefaultCluster", broker_addr=BROKER_ADDR, broker_name="broker-a", broker_id=0
    )
    assert (await client.invoke(namesrv.address, request, TIMEOUT_MS)).code == ResponseCode.SUCCESS
    assert (await route(client, namesrv.address, "TopicA")).code == ResponseCode.TOPIC_NOT_EXIST


async def test_silent_broker_expires(tmp_path: Path, client: RemotingClient) -> None:
    server = make_namesrv(tmp_path, brokerChannelExpiredTime="600", scanNotActiveBrokerInterval="100")
    server.start()
    try:
        # Oneway over a connection that stays open: only the scan can remove it.
        request = register_request(TOPIC_A)
        request.mark_oneway()
        await client.invoke_oneway(server.address, request)
        await _wait_for_route_code(client, server.address, "TopicA", ResponseCode.SUCCESS)
        await _wait_for_route_code(client, server.address, "TopicA", ResponseCode.TOPIC_NOT_EXIST)
    finally:
        server.stop()


async def test_bad_requests_never_take_the_name_server_down(
    namesrv: NamesrvProcess, client: RemotingClient
) -> None:
    address = namesrv.address
    unsupported = await client.invoke(address, make_request(RequestCode.GET_KV_CONFIG_BY_VALUE), TIMEOUT_MS)
    assert unsupported.code == ResponseCode.REQUEST_CODE_NOT_SUPPORTED
    assert (await client.invoke(address, make_request(9999), TIMEOUT_MS)).code == (
        ResponseCode.REQUEST_CODE_NOT_SUPPORTED
    )
    missing_field = await client.invoke(address, make_request(RequestCode.GET_ROUTEINFO_BY_TOPIC), TIMEOUT_MS)
    assert missing_field.code == ResponseCode.SYSTEM_ERROR and "topic" in (missing_field.remark or "")

    bad_crc = register_request(TOPIC_A)
    bad_crc.ext_fields["bodyCrc32"] = "12345"
    crc = await client.invoke(address, bad_crc, TIMEOUT_MS)
    assert crc.code == ResponseCode.SYSTEM_ERROR and crc.remark == "crc32 not match"

    for body in (b"{", b"[]", b'{"topicConfigSerializeWrapper":{"topicConfigTable":{"T":{"perm":"x"}}}}'):
        garbage = register_request(TOPIC_A)
        garbage.body = body
        garbage.ext_fields["bodyCrc32"] = "0"
        answer = await client.invoke(address, garbage, TIMEOUT_MS)
        assert answer.code == ResponseCode.SYSTEM_ERROR, body
    not_a_number = register_request(TOPIC_A)
    not_a_number.ext_fields["brokerId"] = "zero"
    assert (await client.invoke(address, not_a_number, TIMEOUT_MS)).code == ResponseCode.SYSTEM_ERROR

    # Raw garbage on another socket: that connection is closed, nobody else notices.
    reader, writer = await asyncio.open_connection("127.0.0.1", namesrv.port)
    writer.write(b"\x00\x00\x00\x08\xff\xff\xff\xffgarbage!" + os.urandom(64))
    await writer.drain()
    assert await asyncio.wait_for(reader.read(), 5) == b""
    writer.close()
    # A frame announcing more than 16 MiB is refused.
    reader, writer = await asyncio.open_connection("127.0.0.1", namesrv.port)
    writer.write((64 << 20).to_bytes(4, "big") + b"\x00\x00\x00\x10")
    await writer.drain()
    assert await asyncio.wait_for(reader.read(), 5) == b""
    writer.close()
    # A valid frame through a raw socket still works.
    reader, writer = await asyncio.open_connection("127.0.0.1", namesrv.port)
    writer.write(encode(make_request(RequestCode.GET_BROKER_CLUSTER_INFO)))
    await writer.drain()
    assert len(await asyncio.wait_for(reader.read(4), 5)) == 4
    writer.close()

    ok = await client.invoke(address, register_request(TOPIC_A), TIMEOUT_MS)
    assert ok.code == ResponseCode.SUCCESS
    assert (await route(client, address, "TopicA")).body == PROTOCOL_MD_ROUTE


def test_print_config_and_exit(tmp_path: Path) -> None:
    server = make_namesrv(tmp_path)
    done = subprocess.run(
        [str(BIN / "mqnamesrv"), "-c", str(server.conf), "-p"],
        check=False,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 0, done.stderr
    assert f"listenPort={server.port}\n" in done.stdout
    assert f"kvConfigPath={server.kv_path}\n" in done.stdout
    assert "scanNotActiveBrokerInterval=10000\n" in done.stdout
