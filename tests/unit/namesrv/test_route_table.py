"""RouteTable: registration, routes, cluster info, perms, topic deletion and expiry, on a FakeClock."""

from __future__ import annotations

from pocketmq.common.clock import FakeClock
from pocketmq.common.topic import TopicConfig
from pocketmq.namesrv.route_table import BROKER_CHANNEL_EXPIRED_MS, RouteTable
from pocketmq.protocol.bodies.route import (
    DataVersion,
    JsonStyle,
    RegisterBrokerResult,
    TopicConfigSerializeWrapper,
)

A_ADDR = "127.0.0.1:10911"
A_SLAVE_ADDR = "127.0.0.1:10921"
B_ADDR = "127.0.0.1:10912"


def wrapper(*topics: tuple[str, int, int, int], counter: int = 0) -> TopicConfigSerializeWrapper:
    return TopicConfigSerializeWrapper(
        topic_config_table={
            name: TopicConfig(topic_name=name, read_queue_nums=read, write_queue_nums=write, perm=perm)
            for name, read, write, perm in topics
        },
        data_version=DataVersion(timestamp_ms=1_000 + counter, counter=counter),
    )


def register(
    table: RouteTable,
    clock: FakeClock,
    *,
    name: str = "broker-a",
    addr: str = A_ADDR,
    broker_id: int = 0,
    cluster: str = "DefaultCluster",
    topics: TopicConfigSerializeWrapper | None = None,
    connection: object | None = None,
    filters: list[str] | None = None,
) -> RegisterBrokerResult:
    result = table.register_broker(
        cluster_name=cluster,
        broker_addr=addr,
        broker_name=name,
        broker_id=broker_id,
        ha_server_addr=addr.replace(":109", ":119"),
        topic_config_wrapper=topics if topics is not None else wrapper(("TopicA", 4, 4, 6)),
        filter_server_list=filters,
        connection=connection,
        now_ms=clock.now_ms(),
    )
    table.check_invariants()
    return result


def test_registered_topic_has_the_4_9_8_route() -> None:
    table, clock = RouteTable(), FakeClock()
    assert register(table, clock) == RegisterBrokerResult()
    route = table.route_of("TopicA")
    assert route is not None
    assert route.encode(JsonStyle.STANDARD) == (
        b'{"brokerDatas":[{"brokerAddrs":{"0":"127.0.0.1:10911"},"brokerName":"broker-a",'
        b'"cluster":"DefaultCluster"}],"filterServerTable":{},"queueDatas":[{"brokerName":"broker-a",'
        b'"perm":6,"readQueueNums":4,"topicSysFlag":0,"writeQueueNums":4}]}'
    )
    assert table.route_of("Unknown") is None


def test_slave_gets_master_addresses_and_does_not_register_topics() -> None:
    table, clock = RouteTable(), FakeClock()
    register(table, clock)
    result = register(table, clock, addr=A_SLAVE_ADDR, broker_id=1, topics=wrapper(("SlaveOnly", 1, 1, 6)))
    assert result == RegisterBrokerResult(ha_server_addr="127.0.0.1:11911", master_addr=A_ADDR)
    assert table.route_of("SlaveOnly") is None
    route = table.route_of("TopicA")
    assert route is not None
    assert route.broker_datas[0].broker_addrs == {0: A_ADDR, 1: A_SLAVE_ADDR}


def test_slave_without_a_live_master_gets_no_master() -> None:
    table, clock = RouteTable(), FakeClock()
    assert register(table, clock, addr=A_SLAVE_ADDR, broker_id=1) == RegisterBrokerResult()


def test_unchanged_data_version_keeps_the_queue_datas() -> None:
    table, clock = RouteTable(), FakeClock()
    register(table, clock, topics=wrapper(("TopicA", 4, 4, 6), counter=1))
    table.wipe_write_perm("broker-a")
    # Same data version: the table is not re-read, so the wiped perm stays.
    register(table, clock, topics=wrapper(("TopicA", 4, 4, 6), counter=1))
    route = table.route_of("TopicA")
    assert route is not None and route.queue_datas[0].perm == 4
    # A new data version re-reads the table.
    register(table, clock, topics=wrapper(("TopicA", 8, 8, 6), counter=2))
    route = table.route_of("TopicA")
    assert route is not None and route.queue_datas[0].perm == 6 and route.queue_datas[0].read_queue_nums == 8


def test_incremental_registration_adds_topics_and_never_removes_them() -> None:
    table, clock = RouteTable(), FakeClock()
    register(table, clock, topics=wrapper(("TopicA", 4, 4, 6), ("TBW102", 8, 8, 7), counter=1))
    register(table, clock, topics=wrapper(("TopicB", 2, 2, 6), counter=2))
    assert table.all_topics().topic_list == ("TBW102", "TopicA", "TopicB")


def test_slave_promoted_to_master_keeps_one_id_per_address() -> None:
    table, clock = RouteTable(), FakeClock()
    register(table, clock, addr=A_SLAVE_ADDR, broker_id=1)
    register(table, clock, addr=A_SLAVE_ADDR, broker_id=0)
    info = table.cluster_info()
    assert info.broker_addr_table["broker-a"].broker_addrs == {0: A_SLAVE_ADDR}


def test_cluster_info_topics_by_cluster_and_system_topics() -> None:
    table, clock = RouteTable(), FakeClock()
    register(table, clock)
    register(table, clock, name="broker-b", addr=B_ADDR, cluster="Other", topics=wrapper(("TopicB", 1, 1, 6)))
    info = table.cluster_info()
    assert info.cluster_addr_table == {
        "DefaultCluster": frozenset({"broker-a"}),
        "Other": frozenset({"broker-b"}),
    }
    assert info.encode() == (
        b'{"brokerAddrTable":{"broker-a":{"brokerAddrs":{0:"127.0.0.1:10911"},"brokerName":"broker-a",'
        b'"cluster":"DefaultCluster"},"broker-b":{"brokerAddrs":{0:"127.0.0.1:10912"},"brokerName":"broker-b",'
        b'"cluster":"Other"}},"clusterAddrTable":{"DefaultCluster":["broker-a"],"Other":["broker-b"]}}'
    )
    assert table.topics_by_cluster("Other").topic_list == ("TopicB",)
    assert table.topics_by_cluster("Nope").topic_list == ()
    system = table.system_topics()
    assert system.topic_list == ("DefaultCluster", "Other", "broker-a", "broker-b")
    assert system.broker_addr in {A_ADDR, B_ADDR}


def test_wipe_and_add_write_perm() -> None:
    table, clock = RouteTable(), FakeClock()
    register(table, clock, topics=wrapper(("TopicA", 4, 4, 6), ("TopicB", 4, 4, 7)))
    assert table.wipe_write_perm("broker-a") == 2
    perms = {topic: table.route_of(topic).queue_datas[0].perm for topic in ("TopicA", "TopicB")}  # type: ignore[union-attr]
    assert perms == {"TopicA": 4, "TopicB": 5}
    assert table.add_write_perm("broker-a") == 2
    perms = {topic: table.route_of(topic).queue_datas[0].perm for topic in ("TopicA", "TopicB")}  # type: ignore[union-attr]
    assert perms == {"TopicA": 6, "TopicB": 6}  # Java sets READ|WRITE
    assert table.wipe_write_perm("nobody") == 0


def test_delete_topic_everywhere_or_in_one_cluster() -> None:
    table, clock = RouteTable(), FakeClock()
    register(table, clock, topics=wrapper(("Shared", 4, 4, 6)))
    register(table, clock, name="broker-b", addr=B_ADDR, cluster="Other", topics=wrapper(("Shared", 2, 2, 6)))
    table.delete_topic("Shared", "Other")
    route = table.route_of("Shared")
    assert route is not None and [q.broker_name for q in route.queue_datas] == ["broker-a"]
    table.delete_topic("Shared", "DefaultCluster")
    assert table.route_of("Shared") is None
    register(table, clock, topics=wrapper(("Shared", 4, 4, 6), counter=5))
    table.delete_topic("Shared")
    assert table.route_of("Shared") is None
    table.check_invariants()


def test_unregister_removes_the_broker_and_its_topics() -> None:
    table, clock = RouteTable(), FakeClock()
    register(table, clock)
    register(table, clock, addr=A_SLAVE_ADDR, broker_id=1)
    assert table.unregister_broker(
        cluster_name="DefaultCluster", broker_addr=A_ADDR, broker_name="broker-a", broker_id=0
    )
    table.check_invariants()
    route = table.route_of("TopicA")  # the slave still serves it
    assert route is not None and route.broker_datas[0].broker_addrs == {1: A_SLAVE_ADDR}
    table.unregister_broker(
        cluster_name="DefaultCluster", broker_addr=A_SLAVE_ADDR, broker_name="broker-a", broker_id=1
    )
    table.check_invariants()
    assert table.route_of("TopicA") is None
    assert table.cluster_info().cluster_addr_table == {}
    assert not table.unregister_broker(
        cluster_name="X", broker_addr="nowhere:1", broker_name="none", broker_id=0
    )


def test_unregister_with_a_wrong_cluster_name_leaves_no_dangling_cluster() -> None:
    table, clock = RouteTable(), FakeClock()
    register(table, clock)
    table.unregister_broker(cluster_name="Wrong", broker_addr=A_ADDR, broker_name="broker-a", broker_id=0)
    table.check_invariants()
    assert table.cluster_info().cluster_addr_table == {}


def test_broker_expires_after_120_seconds_without_registration() -> None:
    table, clock = RouteTable(), FakeClock()
    connection = object()
    register(table, clock, connection=connection)
    clock.advance(BROKER_CHANNEL_EXPIRED_MS)
    assert table.scan_inactive(clock.now_ms()) == []  # exactly 120 s: not yet (Java uses <)
    clock.advance(1)
    expired = table.scan_inactive(clock.now_ms())
    assert [(e.broker_addr, e.connection) for e in expired] == [(A_ADDR, connection)]
    table.check_invariants()
    assert table.route_of("TopicA") is None
    assert table.cluster_info().broker_addr_table == {}


def test_reregistration_renews_the_lease() -> None:
    table, clock = RouteTable(), FakeClock()
    register(table, clock)
    for _ in range(10):
        clock.advance(30_000)
        register(table, clock)
        assert table.scan_inactive(clock.now_ms()) == []
    table.touch(A_ADDR, clock.now_ms() + 100_000)
    clock.advance(200_000)
    assert table.scan_inactive(clock.now_ms()) == []
    clock.advance(21_000)
    assert len(table.scan_inactive(clock.now_ms())) == 1


def test_connection_close_removes_the_broker_registered_over_it() -> None:
    table, clock = RouteTable(), FakeClock()
    connection_a, connection_b, client = object(), object(), object()
    register(table, clock, connection=connection_a)
    register(
        table,
        clock,
        name="broker-b",
        addr=B_ADDR,
        connection=connection_b,
        topics=wrapper(("TopicB", 1, 1, 6)),
    )
    assert table.on_connection_closed(client, "127.0.0.1:50000") is None  # a client, not a broker
    assert table.on_connection_closed(connection_a, "127.0.0.1:43210") == A_ADDR
    table.check_invariants()
    assert table.route_of("TopicA") is None
    assert table.route_of("TopicB") is not None
    # Falls back to the remote address when no registration used this connection (Java does too).
    assert table.on_connection_closed(object(), B_ADDR) == B_ADDR
    assert table.route_of("TopicB") is None


def test_filter_servers_appear_in_routes() -> None:
    table, clock = RouteTable(), FakeClock()
    register(table, clock, filters=["127.0.0.1:30000"])
    route = table.route_of("TopicA")
    assert route is not None and dict(route.filter_server_table) == {A_ADDR: ("127.0.0.1:30000",)}
    register(table, clock, filters=[])
    route = table.route_of("TopicA")
    assert route is not None and dict(route.filter_server_table) == {}


def test_bounds_refuse_new_brokers_and_topics() -> None:
    table, clock = RouteTable(brokers_max=1, topics_max=2), FakeClock()
    register(table, clock)
    assert table.refusal(A_ADDR, None) is None
    assert table.refusal(B_ADDR, None) is not None
    assert table.refusal(A_ADDR, wrapper(("T1", 1, 1, 6), ("T2", 1, 1, 6))) is not None
    assert table.refusal(A_ADDR, wrapper(("TopicA", 1, 1, 6), ("T2", 1, 1, 6))) is None


def test_unit_topic_flags() -> None:
    table, clock = RouteTable(), FakeClock()
    topics = TopicConfigSerializeWrapper(
        topic_config_table={
            "Unit": TopicConfig(topic_name="Unit", topic_sys_flag=1),
            "UnitSub": TopicConfig(topic_name="UnitSub", topic_sys_flag=2),
            "Plain": TopicConfig(topic_name="Plain"),
        }
    )
    register(table, clock, topics=topics)
    assert table.topics_with_sys_flag(unit=True).topic_list == ("Unit",)
    assert table.topics_with_sys_flag(unit_sub=True).topic_list == ("UnitSub",)
    assert table.topics_with_sys_flag(unit=False, unit_sub=True).topic_list == ("UnitSub",)
