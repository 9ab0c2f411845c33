"""Seeded simulation of the route table: brokers register, re-register, unregister, crash and lose
connections while the clock moves and the scanner runs every 10 s. After every step the table's
invariants hold and it agrees with a simple model of which broker addresses are alive."""

from __future__ import annotations

import os
import random
from dataclasses import dataclass, field

import pytest

from pocketmq.common.clock import FakeClock
from pocketmq.common.topic import TopicConfig
from pocketmq.namesrv.route_table import BROKER_CHANNEL_EXPIRED_MS, RouteTable
from pocketmq.protocol.bodies.route import DataVersion, TopicConfigSerializeWrapper

SCAN_INTERVAL_MS = 10_000
TOPICS = [f"Topic{i}" for i in range(6)]


@dataclass
class SimBroker:
    name: str
    broker_id: int
    addr: str
    cluster: str
    topics: set[str] = field(default_factory=set)
    counter: int = 0
    connection: object | None = None
    last_registered_ms: int | None = None  # None: not registered (never, or removed)


def _brokers() -> list[SimBroker]:
    brokers = []
    for index, name in enumerate(["broker-a", "broker-b", "broker-c"]):
        cluster = "ClusterX" if name == "broker-c" else "DefaultCluster"
        for broker_id in (0, 1):
            brokers.append(SimBroker(name, broker_id, f"10.0.0.{index}:{10911 + broker_id}", cluster))
    return brokers


def _seeds() -> list[int]:
    if "NAMESRV_SIM_SEED" in os.environ:
        return [int(os.environ["NAMESRV_SIM_SEED"])]
    return list(range(20))


@pytest.mark.parametrize("seed", _seeds())
def test_route_table_agrees_with_the_model(seed: int) -> None:
    rng = random.Random(seed)
    clock = FakeClock()
    table = RouteTable()
    brokers = _brokers()
    next_scan_ms = clock.now_ms() + SCAN_INTERVAL_MS
    for step in range(400):
        broker = rng.choice(brokers)
        action = rng.choices(["register", "unregister", "close", "crash", "wait"], weights=[8, 1, 1, 1, 4])[0]
        context = (
            f"seed={seed} step={step} action={action} broker={broker.addr} (rerun: NAMESRV_SIM_SEED={seed})"
        )
        if action == "register":
            if rng.random() < 0.3:
                broker.topics.add(rng.choice(TOPICS))
                broker.counter += 1
            if broker.connection is None:
                broker.connection = object()
            table.register_broker(
                cluster_name=broker.cluster,
                broker_addr=broker.addr,
                broker_name=broker.name,
                broker_id=broker.broker_id,
                ha_server_addr=broker.addr,
                topic_config_wrapper=TopicConfigSerializeWrapper(
                    topic_config_table={t: TopicConfig(topic_name=t) for t in sorted(broker.topics)},
                    data_version=DataVersion(timestamp_ms=broker.counter, counter=broker.counter),
                ),
                filter_server_list=None,
                connection=broker.connection,
                now_ms=clock.now_ms(),
            )
            broker.last_registered_ms = clock.now_ms()
        elif action == "unregister" and broker.last_registered_ms is not None:
            table.unregister_broker(
                cluster_name=broker.cluster,
                broker_addr=broker.addr,
                broker_name=broker.name,
                broker_id=broker.broker_id,
            )
            broker.last_registered_ms = None
        elif action == "close" and broker.connection is not None:
            table.on_connection_closed(broker.connection, "192.168.0.1:55555")
            broker.connection = None
            broker.last_registered_ms = None
        elif action == "crash":
            broker.connection = None  # silent: no close seen, only expiry removes it
        clock.advance(rng.choice([0, 1_000, 5_000, 15_000, 40_000]))
        while next_scan_ms <= clock.now_ms():
            for expired in table.scan_inactive(next_scan_ms):
                owner = next(b for b in brokers if b.addr == expired.broker_addr)
                assert owner.last_registered_ms is not None, context
                assert owner.last_registered_ms + BROKER_CHANNEL_EXPIRED_MS < next_scan_ms, context
                owner.last_registered_ms = None
            next_scan_ms += SCAN_INTERVAL_MS

        table.check_invariants()
        live = {b.addr for b in brokers if b.last_registered_ms is not None}
        assert {addr for addr, _ in table.live_brokers()} == live, context
        registered = {
            addr
            for data in table.cluster_info().broker_addr_table.values()
            for addr in data.broker_addrs.values()
        }
        assert registered == live, context
        for live_broker in brokers:
            if live_broker.last_registered_ms is not None:
                assert (
                    clock.now_ms() - live_broker.last_registered_ms
                    <= BROKER_CHANNEL_EXPIRED_MS + SCAN_INTERVAL_MS
                )
        for topic in TOPICS:
            route = table.route_of(topic)
            if route is None:
                continue
            served_by = {q.broker_name for q in route.queue_datas}
            assert served_by <= {b.name for b in brokers if b.addr in live}, context
            assert served_by == {d.broker_name for d in route.broker_datas}, context

    # Silence: every broker expires within 120 s + one scan interval, and the table empties.
    clock.advance(BROKER_CHANNEL_EXPIRED_MS + SCAN_INTERVAL_MS)
    table.scan_inactive(clock.now_ms())
    table.check_invariants()
    assert list(table.live_brokers()) == []
    assert table.all_topics().topic_list == ()
    assert table.cluster_info().cluster_addr_table == {}
