"""NameServer in process, on a FakeClock: expiry closes the broker's connection, KV changes reach the
file, stop() ends the scan task and every connection."""

from __future__ import annotations

import asyncio
from pathlib import Path

from pocketmq.common.clock import FakeClock
from pocketmq.common.topic import TopicConfig
from pocketmq.namesrv.config import NamesrvConfig
from pocketmq.namesrv.server import NameServer
from pocketmq.protocol.bodies.route import RegisterBrokerBody, TopicConfigSerializeWrapper
from pocketmq.protocol.codes import RequestCode, ResponseCode
from pocketmq.protocol.command import RemotingCommand, make_request
from pocketmq.protocol.headers.namesrv import make_register_broker_request
from pocketmq.remoting import RemotingClient


def make_server(tmp_path: Path, clock: FakeClock) -> NameServer:
    config = NamesrvConfig(
        listen_port=0,
        bind_address="127.0.0.1",
        kv_config_path=tmp_path / "kvConfig.json",
        config_store_path=tmp_path / "namesrv.properties",
    )
    return NameServer(config, clock=clock)


def register_request() -> RemotingCommand:
    body = RegisterBrokerBody(
        topic_config_serialize_wrapper=TopicConfigSerializeWrapper(
            topic_config_table={"T": TopicConfig(topic_name="T", read_queue_nums=2, write_queue_nums=2)}
        )
    )
    return make_register_broker_request(
        cluster_name="c",
        broker_addr="127.0.0.1:10911",
        broker_name="b",
        broker_id=0,
        ha_server_addr="x",
        body=body,
    )


async def test_expired_broker_is_removed_and_its_connection_closed(tmp_path: Path) -> None:
    clock = FakeClock()
    async with make_server(tmp_path, clock) as server, RemotingClient() as broker:
        response = await broker.invoke(server.address, register_request(), 3000)
        assert response.code == ResponseCode.SUCCESS
        connection = await broker.connection(server.address)
        clock.advance(server.config.broker_channel_expired_ms)
        assert server.scan_once() == 0
        clock.advance(1)
        assert server.scan_once() == 1
        await asyncio.wait_for(connection.wait_closed(), 5)
        assert server.route_table.route_of("T") is None


async def test_kv_changes_are_persisted_and_reloaded(tmp_path: Path) -> None:
    clock = FakeClock()
    async with make_server(tmp_path, clock) as server, RemotingClient() as client:
        put = make_request(RequestCode.PUT_KV_CONFIG, {"namespace": "ns", "key": "k", "value": "v"})
        assert (await client.invoke(server.address, put, 3000)).code == ResponseCode.SUCCESS
    assert (tmp_path / "kvConfig.json").read_bytes() == b'{"configTable":{"ns":{"k":"v"}}}'
    async with make_server(tmp_path, clock) as server:
        assert server.kv_config.get("ns", "k") == "v"


async def test_stop_ends_the_scan_task_and_connections(tmp_path: Path) -> None:
    server = make_server(tmp_path, FakeClock())
    await server.start()
    names = {task.get_name() for task in asyncio.all_tasks()}
    assert "namesrv-scan-not-active-broker" in names
    client = RemotingClient()
    connection = await client.connection(server.address)
    await server.stop()
    await asyncio.wait_for(connection.wait_closed(), 5)
    await client.close()
    assert "namesrv-scan-not-active-broker" not in {task.get_name() for task in asyncio.all_tasks()}
