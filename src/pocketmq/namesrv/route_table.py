"""RouteTable: the name server's view of clusters, brokers, topics and live registrations.

Pure: no I/O and no clock. Every decision that depends on time takes `now_ms`, so expiry is tested
by stepping a FakeClock (R8). A broker's connection is an opaque key (`connection`): the server
passes its connection object, the table only compares it by identity and hands it back when the
broker expires so that the driver can close it.

Java: RouteInfoManager (4.9.8). Behaviours kept on purpose:
- only a master (brokerId 0) registers topic configs, and only when its data version changed or it
  registered for the first time; re-registering never removes topics (DELETE_TOPIC_IN_NAMESRV does);
- one address has one broker id: a slave promoted to master drops its old <id, addr> entry;
- a broker name disappears with its last address, and takes its queue datas with it;
- ADD_WRITE_PERM sets perm to READ|WRITE (not `|= WRITE`), as Java does.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Final

from pocketmq.common.topic import PERM_READ, PERM_WRITE, TopicConfig
from pocketmq.protocol.bodies.route import (
    MASTER_ID,
    BrokerData,
    ClusterInfo,
    DataVersion,
    QueueData,
    RegisterBrokerResult,
    TopicConfigSerializeWrapper,
    TopicList,
    TopicRouteData,
)

__all__ = [
    "BROKER_CHANNEL_EXPIRED_MS",
    "TOPIC_SYS_FLAG_UNIT",
    "TOPIC_SYS_FLAG_UNIT_SUB",
    "BrokerLiveInfo",
    "ExpiredBroker",
    "RouteTable",
]

#: A broker that has not registered for this long is removed (Java BROKER_CHANNEL_EXPIRED_TIME).
BROKER_CHANNEL_EXPIRED_MS: Final = 120_000

#: Java TopicSysFlag bits.
TOPIC_SYS_FLAG_UNIT: Final = 0x1
TOPIC_SYS_FLAG_UNIT_SUB: Final = 0x2


@dataclass(slots=True, kw_only=True)
class BrokerLiveInfo:
    """The last registration of one broker address."""

    last_update_ms: int
    data_version: DataVersion
    connection: object | None
    ha_server_addr: str | None


@dataclass(frozen=True, slots=True)
class ExpiredBroker:
    """A broker removed by `scan_inactive`; the driver closes `connection` if it is still open."""

    broker_addr: str
    connection: object | None
    last_update_ms: int


@dataclass(slots=True)
class _BrokerEntry:
    cluster: str
    broker_name: str
    broker_addrs: dict[int, str]

    def freeze(self) -> BrokerData:
        return BrokerData(
            cluster=self.cluster,
            broker_name=self.broker_name,
            broker_addrs=dict(sorted(self.broker_addrs.items())),
        )


class RouteTable:
    """Clusters -> broker names -> addresses, topics -> queue datas, and live registrations."""

    def __init__(
        self,
        *,
        broker_expired_ms: int = BROKER_CHANNEL_EXPIRED_MS,
        brokers_max: int = 4096,
        topics_max: int = 1_000_000,
    ) -> None:
        if broker_expired_ms <= 0:
            raise ValueError(f"broker_expired_ms must be positive, got {broker_expired_ms}")
        self._broker_expired_ms = broker_expired_ms
        self._brokers_max = brokers_max
        self._topics_max = topics_max
        self._topic_queue_table: dict[str, dict[str, QueueData]] = {}
        self._broker_addr_table: dict[str, _BrokerEntry] = {}
        self._cluster_addr_table: dict[str, set[str]] = {}
        self._broker_live_table: dict[str, BrokerLiveInfo] = {}
        self._filter_server_table: dict[str, tuple[str, ...]] = {}

    # ------------------------------------------------------------------------------------------
    # registration

    def refusal(self, broker_addr: str, wrapper: TopicConfigSerializeWrapper | None) -> str | None:
        """None when a registration from `broker_addr` fits the table's bounds, else why not."""
        if broker_addr not in self._broker_live_table and len(self._broker_live_table) >= self._brokers_max:
            return f"the name server already tracks {self._brokers_max} brokers (brokers_max)"
        if wrapper is not None:
            new_topics = sum(1 for name in wrapper.topic_config_table if name not in self._topic_queue_table)
            if len(self._topic_queue_table) + new_topics > self._topics_max:
                return f"registering {new_topics} new topics would exceed topics_max={self._topics_max}"
        return None

    def register_broker(
        self,
        *,
        cluster_name: str,
        broker_addr: str,
        broker_name: str,
        broker_id: int,
        ha_server_addr: str | None,
        topic_config_wrapper: TopicConfigSerializeWrapper | None,
        filter_server_list: Sequence[str] | None,
        connection: object | None,
        now_ms: int,
    ) -> RegisterBrokerResult:
        """Record a registration (Java RouteInfoManager#registerBroker). Slaves get their master's
        address and HA address back."""
        self._cluster_addr_table.setdefault(cluster_name, set()).add(broker_name)

        entry = self._broker_addr_table.get(broker_name)
        register_first = entry is None
        if entry is None:
            entry = _BrokerEntry(cluster_name, broker_name, {})
            self._broker_addr_table[broker_name] = entry
        # The same address keeps one broker id: a slave switched to master drops <1, addr> first.
        for stale_id in [
            bid for bid, addr in entry.broker_addrs.items() if addr == broker_addr and bid != broker_id
        ]:
            del entry.broker_addrs[stale_id]
        old_addr = entry.broker_addrs.get(broker_id)
        entry.broker_addrs[broker_id] = broker_addr
        register_first = register_first or old_addr is None

        data_version = (
            topic_config_wrapper.data_version if topic_config_wrapper is not None else DataVersion()
        )
        if (
            topic_config_wrapper is not None
            and broker_id == MASTER_ID
            and (register_first or self.is_topic_config_changed(broker_addr, data_version))
        ):
            for config in topic_config_wrapper.topic_config_table.values():
                self._create_or_update_queue_data(broker_name, config)

        self._broker_live_table[broker_addr] = BrokerLiveInfo(
            last_update_ms=now_ms,
            data_version=data_version,
            connection=connection,
            ha_server_addr=ha_server_addr,
        )
        if filter_server_list is not None:
            if filter_server_list:
                self._filter_server_table[broker_addr] = tuple(filter_server_list)
            else:
                self._filter_server_table.pop(broker_addr, None)

        if broker_id != MASTER_ID:
            master_addr = entry.broker_addrs.get(MASTER_ID)
            if master_addr is not None and (master := self._broker_live_table.get(master_addr)) is not None:
                return RegisterBrokerResult(ha_server_addr=master.ha_server_addr, master_addr=master_addr)
        return RegisterBrokerResult()

    def _create_or_update_queue_data(self, broker_name: str, config: TopicConfig) -> None:
        queue_data = QueueData(
            broker_name=broker_name,
            read_queue_nums=config.read_queue_nums,
            write_queue_nums=config.write_queue_nums,
            perm=config.perm,
            topic_sys_flag=config.topic_sys_flag,
        )
        self._topic_queue_table.setdefault(config.topic_name, {})[broker_name] = queue_data

    def is_topic_config_changed(self, broker_addr: str, data_version: DataVersion) -> bool:
        live = self._broker_live_table.get(broker_addr)
        return live is None or live.data_version != data_version

    def data_version_of(self, broker_addr: str) -> DataVersion | None:
        live = self._broker_live_table.get(broker_addr)
        return None if live is None else live.data_version

    def touch(self, broker_addr: str, now_ms: int) -> None:
        """Renew a registration without new topic configs (QUERY_DATA_VERSION with no change)."""
        live = self._broker_live_table.get(broker_addr)
        if live is not None:
            live.last_update_ms = now_ms

    def unregister_broker(
        self, *, cluster_name: str, broker_addr: str, broker_name: str, broker_id: int
    ) -> bool:
        """Remove one <broker id, address> (Java RouteInfoManager#unregisterBroker); True if it was live."""
        was_live = self._broker_live_table.pop(broker_addr, None) is not None
        self._filter_server_table.pop(broker_addr, None)
        entry = self._broker_addr_table.get(broker_name)
        if entry is None:
            return was_live
        entry.broker_addrs.pop(broker_id, None)
        if entry.broker_addrs:
            return was_live
        self._forget_broker_name(broker_name)
        return was_live

    def _forget_broker_name(self, broker_name: str) -> None:
        # Java removes the name from the cluster the request names (unregister) or from the first
        # cluster holding it (channel destroyed); we remove it from every cluster so that a wrong
        # cluster name from a peer cannot leave a cluster pointing at a vanished broker.
        del self._broker_addr_table[broker_name]
        for cluster, names in list(self._cluster_addr_table.items()):
            names.discard(broker_name)
            if not names:
                del self._cluster_addr_table[cluster]
        self._remove_topics_of_broker(broker_name)

    def _remove_topics_of_broker(self, broker_name: str) -> None:
        for topic in list(self._topic_queue_table):
            queue_datas = self._topic_queue_table[topic]
            queue_datas.pop(broker_name, None)
            if not queue_datas:
                del self._topic_queue_table[topic]

    # ------------------------------------------------------------------------------------------
    # expiry

    def scan_inactive(self, now_ms: int) -> list[ExpiredBroker]:
        """Remove every broker not registered for `broker_expired_ms` (Java scanNotActiveBroker)."""
        expired = [
            ExpiredBroker(addr, live.connection, live.last_update_ms)
            for addr, live in self._broker_live_table.items()
            if live.last_update_ms + self._broker_expired_ms < now_ms
        ]
        for broker in expired:
            self._destroy(broker.broker_addr)
        return expired

    def on_connection_closed(self, connection: object, remote_addr: str | None = None) -> str | None:
        """A connection closed: remove the broker that registered over it (or, failing that, the
        broker at `remote_addr`). Returns the removed broker address. Java: onChannelDestroy."""
        found = next(
            (addr for addr, live in self._broker_live_table.items() if live.connection is connection),
            None,
        )
        broker_addr = found if found is not None else remote_addr
        if not broker_addr:
            return None
        return broker_addr if self._destroy(broker_addr) else None

    def _destroy(self, broker_addr: str) -> bool:
        removed = self._broker_live_table.pop(broker_addr, None) is not None
        self._filter_server_table.pop(broker_addr, None)
        for name, entry in list(self._broker_addr_table.items()):
            ids = [bid for bid, addr in entry.broker_addrs.items() if addr == broker_addr]
            if not ids:
                continue
            del entry.broker_addrs[ids[0]]
            removed = True
            if not entry.broker_addrs:
                self._forget_broker_name(name)
            break
        return removed

    # ------------------------------------------------------------------------------------------
    # queries

    def route_of(self, topic: str) -> TopicRouteData | None:
        """The route of `topic`, or None when no live broker serves it (Java pickupTopicRouteData)."""
        queue_datas = self._topic_queue_table.get(topic)
        if not queue_datas:
            return None
        broker_datas = [
            entry.freeze()
            for name in sorted(queue_datas)
            if (entry := self._broker_addr_table.get(name)) is not None
        ]
        if not broker_datas:
            return None
        filter_servers: dict[str, tuple[str, ...]] = {}
        if self._filter_server_table:
            for broker in broker_datas:
                for addr in broker.broker_addrs.values():
                    if (servers := self._filter_server_table.get(addr)) is not None:
                        filter_servers[addr] = servers
        return TopicRouteData(
            queue_datas=tuple(queue_datas[name] for name in sorted(queue_datas)),
            broker_datas=tuple(broker_datas),
            filter_server_table=filter_servers,
        )

    def cluster_info(self) -> ClusterInfo:
        return ClusterInfo(
            broker_addr_table={name: entry.freeze() for name, entry in self._broker_addr_table.items()},
            cluster_addr_table={
                cluster: frozenset(names) for cluster, names in self._cluster_addr_table.items()
            },
        )

    def all_topics(self) -> TopicList:
        return TopicList.of(self._topic_queue_table)

    def topics_by_cluster(self, cluster_name: str) -> TopicList:
        names = self._cluster_addr_table.get(cluster_name, set())
        return TopicList.of(
            topic
            for topic, queue_datas in self._topic_queue_table.items()
            if not names.isdisjoint(queue_datas)
        )

    def system_topics(self) -> TopicList:
        """Cluster names and broker names (each is a topic a broker creates), plus one broker address."""
        topics = [name for cluster, names in self._cluster_addr_table.items() for name in (cluster, *names)]
        broker_addr = next(
            (
                entry.broker_addrs[min(entry.broker_addrs)]
                for entry in self._broker_addr_table.values()
                if entry.broker_addrs
            ),
            None,
        )
        return TopicList.of(topics, broker_addr)

    def topics_with_sys_flag(self, *, unit: bool | None = None, unit_sub: bool | None = None) -> TopicList:
        """Topics whose first queue data has (or lacks) the unit / unit-sub flags (Java getUnitTopics...)."""

        def matches(flag: int) -> bool:
            return (unit is None or bool(flag & TOPIC_SYS_FLAG_UNIT) == unit) and (
                unit_sub is None or bool(flag & TOPIC_SYS_FLAG_UNIT_SUB) == unit_sub
            )

        return TopicList.of(
            topic
            for topic, queue_datas in self._topic_queue_table.items()
            if queue_datas and matches(next(iter(queue_datas.values())).topic_sys_flag)
        )

    def live_brokers(self) -> Iterator[tuple[str, BrokerLiveInfo]]:
        return iter(self._broker_live_table.items())

    # ------------------------------------------------------------------------------------------
    # admin operations

    def wipe_write_perm(self, broker_name: str) -> int:
        """Clear the write bit of every queue data of `broker_name`; returns how many topics changed."""
        return self._set_perm(broker_name, lambda perm: perm & ~PERM_WRITE)

    def add_write_perm(self, broker_name: str) -> int:
        """Give every queue data of `broker_name` READ|WRITE (Java sets, not ors); returns the count."""
        return self._set_perm(broker_name, lambda _perm: PERM_READ | PERM_WRITE)

    def _set_perm(self, broker_name: str, change: Callable[[int], int]) -> int:
        count = 0
        for queue_datas in self._topic_queue_table.values():
            queue_data = queue_datas.get(broker_name)
            if queue_data is not None:
                queue_datas[broker_name] = dataclasses.replace(queue_data, perm=change(queue_data.perm))
                count += 1
        return count

    def delete_topic(self, topic: str, cluster_name: str | None = None) -> None:
        """Forget `topic`, everywhere or only on the brokers of `cluster_name`."""
        if not cluster_name:
            self._topic_queue_table.pop(topic, None)
            return
        queue_datas = self._topic_queue_table.get(topic)
        if queue_datas is None:
            return
        for name in self._cluster_addr_table.get(cluster_name, ()):
            queue_datas.pop(name, None)
        if not queue_datas:
            del self._topic_queue_table[topic]

    # ------------------------------------------------------------------------------------------
    # invariants (tests and simulations call this after every step)

    def check_invariants(self) -> None:
        for cluster, names in self._cluster_addr_table.items():
            assert names, f"cluster {cluster} has no broker names"
            for name in names:
                assert name in self._broker_addr_table, (cluster, name)
        for name, entry in self._broker_addr_table.items():
            assert entry.broker_addrs, f"broker name {name} has no address"
            assert len(set(entry.broker_addrs.values())) == len(entry.broker_addrs), entry
            assert any(name in names for names in self._cluster_addr_table.values()), name
        for topic, queue_datas in self._topic_queue_table.items():
            assert queue_datas, f"topic {topic} has no queue data"
        for addr in self._filter_server_table:
            assert addr in self._broker_live_table, addr
