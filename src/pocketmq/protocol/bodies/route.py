"""Name-server JSON bodies: routes, cluster info, broker registration, KV tables and topic lists.

Java: protocol.route.{TopicRouteData, BrokerData, QueueData}, protocol.body.{ClusterInfo,
TopicConfigSerializeWrapper, RegisterBrokerBody, KVTable, TopicList}, namesrv.RegisterBrokerResult,
DataVersion. Each class maps its Java JSON keys in one place (`to_json` / `from_json`).

Reading is lenient: older fastjson writes `Long` map keys unquoted (`{0:"127.0.0.1:10911"}`), the
C++ client may send numbers as strings, and unknown keys are ignored. Writing follows 4.9.8: bean
fields in alphabetical order, compact separators, null fields omitted. Two map styles exist:
`JsonStyle.FASTJSON` (RemotingSerializable.encode: integer keys unquoted, non-ASCII raw) and
`JsonStyle.STANDARD` (what the 4.9.8 name server sends clients of version >= V4_9_4: every key
quoted, maps sorted, non-ASCII escaped). We sort map keys in both styles so output is deterministic.
"""

from __future__ import annotations

import re
import struct
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Final

from pocketmq.common.errors import ProtocolError
from pocketmq.common.topic import TopicConfig, TopicFilterType
from pocketmq.protocol import fastjson

__all__ = [
    "MASTER_ID",
    "JsonStyle",
    "DataVersion",
    "QueueData",
    "BrokerData",
    "TopicRouteData",
    "ClusterInfo",
    "TopicConfigSerializeWrapper",
    "RegisterBrokerBody",
    "RegisterBrokerResult",
    "KVTable",
    "TopicList",
    "encode_json",
    "decode_json",
]

#: brokerId of a master (Java MixAll.MASTER_ID); slaves have ids >= 1.
MASTER_ID: Final = 0

# Compressed RegisterBrokerBody: every section is preceded by a big-endian int32 length (or count).
_INT32 = struct.Struct(">i")
assert _INT32.size == 4


class JsonStyle(Enum):
    #: fastjson defaults (RemotingSerializable.encode): `{0:"addr"}`, non-ASCII as raw UTF-8.
    FASTJSON = "fastjson"
    #: BrowserCompatible + QuoteFieldNames + MapSortField: `{"0":"addr"}`, non-ASCII as \\uXXXX.
    STANDARD = "standard"


# ----------------------------------------------------------------------------------------------
# JSON writing and lenient reading


# fastjson SerializeWriter#writeStringWithDoubleQuote. Default features: '"', backslash and the five
# short control escapes get a backslash, other control characters and U+2028/U+2029 become \uXXXX
# (uppercase hex), everything else is written raw. BrowserCompatible also escapes '/' and every char
# >= 127 (UTF-16 code units, so characters beyond the BMP become two escapes).
_SHORT_ESCAPES: Final = {
    '"': '\\"',
    "\\": "\\\\",
    "\b": "\\b",
    "\f": "\\f",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
}
_PLAIN_FASTJSON = re.compile(r'[^"\\\x00-\x1f\u2028\u2029]*')
_PLAIN_STANDARD = re.compile(r'[^"\\/\x00-\x1f\x7f-\U0010ffff]*')


def _escape_char(char: str) -> str:
    short = _SHORT_ESCAPES.get(char)
    if short is not None:
        return short
    if char == "/":
        return "\\/"
    code = ord(char)
    if code > 0xFFFF:
        code -= 0x10000
        return f"\\u{0xD800 + (code >> 10):04X}\\u{0xDC00 + (code & 0x3FF):04X}"
    return f"\\u{code:04X}"


def _write_string(text: str, style: JsonStyle) -> str:
    plain = _PLAIN_STANDARD if style is JsonStyle.STANDARD else _PLAIN_FASTJSON
    if plain.fullmatch(text):
        return f'"{text}"'
    out = ['"']
    position = 0
    while position < len(text):
        match = plain.match(text, position)
        assert match is not None  # the pattern matches the empty string
        out.append(match.group())
        position = match.end()
        if position < len(text):
            out.append(_escape_char(text[position]))
            position += 1
    out.append('"')
    return "".join(out)


def _write(value: Any, style: JsonStyle, out: list[str]) -> None:
    if value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, int):
        out.append(str(value))
    elif isinstance(value, str):
        out.append(_write_string(value, style))
    elif isinstance(value, Mapping):
        out.append("{")
        first = True
        for key, item in value.items():
            if item is None:
                continue  # fastjson omits null fields and null map values
            if not first:
                out.append(",")
            first = False
            if isinstance(key, int) and style is JsonStyle.FASTJSON:
                out.append(str(key))
            else:
                out.append(_write_string(str(key), style))
            out.append(":")
            _write(item, style, out)
        out.append("}")
    elif isinstance(value, (list, tuple, set, frozenset)):
        out.append("[")
        for index, item in enumerate(value):
            if index:
                out.append(",")
            _write(item, style, out)
        out.append("]")
    else:
        raise TypeError(f"cannot write {type(value).__name__} as JSON: {value!r}")


def encode_json(value: Any, style: JsonStyle = JsonStyle.FASTJSON) -> bytes:
    """`value` (dicts in the order to write, ints, strs, lists) as fastjson writes it, UTF-8."""
    out: list[str] = []
    _write(value, style, out)
    return "".join(out).encode("utf-8")


def decode_json(data: bytes | str) -> Any:
    """Parse a body written by fastjson, any version (bare integer keys included); raises
    ProtocolError on malformed input."""
    try:
        return fastjson.loads(data)
    except RecursionError as error:
        raise ProtocolError("JSON body nested too deeply") from error


def _object(data: Any, what: str) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise ProtocolError(f"{what}: expected a JSON object, got {type(data).__name__}")
    return data


def _int(data: Mapping[str, Any], key: str, default: int = 0) -> int:
    value = data.get(key, default)
    if value is None:
        return default
    try:
        return int(value)
    except (TypeError, ValueError) as error:
        raise ProtocolError(f"field {key!r} is not an integer: {value!r}") from error


def _str(data: Mapping[str, Any], key: str, default: str = "") -> str:
    value = data.get(key, default)
    return default if value is None else str(value)


def _str_list(value: Any, what: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise ProtocolError(f"{what}: expected a JSON array, got {type(value).__name__}")
    return [str(item) for item in value]


# ----------------------------------------------------------------------------------------------
# Route data


@dataclass(frozen=True, slots=True)
class DataVersion:
    """Version of a broker's topic configs; the name server compares it to skip unchanged ones."""

    timestamp_ms: int = 0  # "timestamp"
    counter: int = 0  # "counter"

    def to_json(self) -> dict[str, Any]:
        return {"counter": self.counter, "timestamp": self.timestamp_ms}

    @classmethod
    def from_json(cls, data: Any, *, default_timestamp_ms: int = 0) -> DataVersion:
        """Also reads topics.json / subscriptionGroup.json, where an absent version means a new table."""
        if not data:
            return cls(timestamp_ms=default_timestamp_ms)
        data = _object(data, "dataVersion")
        return cls(timestamp_ms=_int(data, "timestamp"), counter=_int(data, "counter"))

    def next_version(self, now_ms: int) -> DataVersion:
        """Java: DataVersion#nextVersion; every change of the versioned table bumps it."""
        return DataVersion(timestamp_ms=now_ms, counter=self.counter + 1)


@dataclass(frozen=True, slots=True, kw_only=True)
class QueueData:
    """The queues one broker (by name) serves for a topic."""

    broker_name: str  # "brokerName"
    read_queue_nums: int  # "readQueueNums"
    write_queue_nums: int  # "writeQueueNums"
    perm: int  # "perm"
    topic_sys_flag: int = 0  # "topicSysFlag"

    def to_json(self) -> dict[str, Any]:
        return {
            "brokerName": self.broker_name,
            "perm": self.perm,
            "readQueueNums": self.read_queue_nums,
            "topicSysFlag": self.topic_sys_flag,
            "writeQueueNums": self.write_queue_nums,
        }

    @classmethod
    def from_json(cls, data: Any) -> QueueData:
        data = _object(data, "queueData")
        return cls(
            broker_name=_str(data, "brokerName"),
            read_queue_nums=_int(data, "readQueueNums"),
            write_queue_nums=_int(data, "writeQueueNums"),
            perm=_int(data, "perm"),
            topic_sys_flag=_int(data, "topicSysFlag"),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class BrokerData:
    """One broker name (a master and its slaves) and its addresses by broker id (0 = master)."""

    cluster: str  # "cluster"
    broker_name: str  # "brokerName"
    broker_addrs: Mapping[int, str] = field(default_factory=dict)  # "brokerAddrs"

    def to_json(self) -> dict[str, Any]:
        return {
            "brokerAddrs": dict(sorted(self.broker_addrs.items())),
            "brokerName": self.broker_name,
            "cluster": self.cluster,
        }

    @classmethod
    def from_json(cls, data: Any) -> BrokerData:
        data = _object(data, "brokerData")
        addrs = _object(data.get("brokerAddrs") or {}, "brokerAddrs")
        try:
            broker_addrs = {int(broker_id): str(addr) for broker_id, addr in addrs.items()}
        except ValueError as error:
            raise ProtocolError(f"brokerAddrs has a key that is not a broker id: {error}") from error
        return cls(
            cluster=_str(data, "cluster"), broker_name=_str(data, "brokerName"), broker_addrs=broker_addrs
        )

    def select_broker_addr(self) -> str | None:
        """The master's address, else the lowest-id slave's (Java picks a random slave)."""
        if MASTER_ID in self.broker_addrs:
            return self.broker_addrs[MASTER_ID]
        return self.broker_addrs[min(self.broker_addrs)] if self.broker_addrs else None


@dataclass(frozen=True, slots=True, kw_only=True)
class TopicRouteData:
    """GET_ROUTEINFO_BY_TOPIC body: which brokers serve a topic, with how many queues."""

    queue_datas: tuple[QueueData, ...] = ()  # "queueDatas"
    broker_datas: tuple[BrokerData, ...] = ()  # "brokerDatas"
    filter_server_table: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # "filterServerTable"
    order_topic_conf: str | None = None  # "orderTopicConf"

    def to_json(self) -> dict[str, Any]:
        return {
            "brokerDatas": [broker.to_json() for broker in self.broker_datas],
            "filterServerTable": {
                addr: list(servers) for addr, servers in sorted(self.filter_server_table.items())
            },
            "orderTopicConf": self.order_topic_conf,
            "queueDatas": [queue.to_json() for queue in self.queue_datas],
        }

    def encode(self, style: JsonStyle = JsonStyle.STANDARD) -> bytes:
        return encode_json(self.to_json(), style)

    @classmethod
    def from_json(cls, data: Any) -> TopicRouteData:
        data = _object(data, "topicRouteData")
        filters = _object(data.get("filterServerTable") or {}, "filterServerTable")
        order_topic_conf = data.get("orderTopicConf")
        return cls(
            queue_datas=tuple(QueueData.from_json(item) for item in data.get("queueDatas") or []),
            broker_datas=tuple(BrokerData.from_json(item) for item in data.get("brokerDatas") or []),
            filter_server_table={
                str(addr): tuple(_str_list(servers, "filterServerTable")) for addr, servers in filters.items()
            },
            order_topic_conf=None if order_topic_conf is None else str(order_topic_conf),
        )

    @classmethod
    def decode(cls, body: bytes) -> TopicRouteData:
        return cls.from_json(decode_json(body))


@dataclass(frozen=True, slots=True, kw_only=True)
class ClusterInfo:
    """GET_BROKER_CLUSTER_INFO body: every broker name with its addresses, and the clusters."""

    broker_addr_table: Mapping[str, BrokerData] = field(default_factory=dict)  # "brokerAddrTable"
    cluster_addr_table: Mapping[str, frozenset[str]] = field(default_factory=dict)  # "clusterAddrTable"

    def to_json(self) -> dict[str, Any]:
        return {
            "brokerAddrTable": {
                name: data.to_json() for name, data in sorted(self.broker_addr_table.items())
            },
            "clusterAddrTable": {
                cluster: sorted(names) for cluster, names in sorted(self.cluster_addr_table.items())
            },
        }

    def encode(self, style: JsonStyle = JsonStyle.FASTJSON) -> bytes:
        return encode_json(self.to_json(), style)

    @classmethod
    def from_json(cls, data: Any) -> ClusterInfo:
        data = _object(data, "clusterInfo")
        brokers = _object(data.get("brokerAddrTable") or {}, "brokerAddrTable")
        clusters = _object(data.get("clusterAddrTable") or {}, "clusterAddrTable")
        return cls(
            broker_addr_table={str(name): BrokerData.from_json(item) for name, item in brokers.items()},
            cluster_addr_table={
                str(name): frozenset(_str_list(names, "clusterAddrTable")) for name, names in clusters.items()
            },
        )

    @classmethod
    def decode(cls, body: bytes) -> ClusterInfo:
        return cls.from_json(decode_json(body))

    def broker_addrs_of_cluster(self, cluster: str) -> list[str]:
        """Every address of every broker in `cluster` (Java retrieveAllAddrByCluster)."""
        return [
            addr
            for name in sorted(self.cluster_addr_table.get(cluster, ()))
            if (data := self.broker_addr_table.get(name)) is not None
            for _, addr in sorted(data.broker_addrs.items())
        ]


# ----------------------------------------------------------------------------------------------
# Broker registration


@dataclass(frozen=True, slots=True, kw_only=True)
class TopicConfigSerializeWrapper:
    """A broker's topic configs with their data version (also the shape of topics.json)."""

    topic_config_table: Mapping[str, TopicConfig] = field(default_factory=dict)  # "topicConfigTable"
    data_version: DataVersion = DataVersion()  # "dataVersion"

    def to_json(self) -> dict[str, Any]:
        return {
            "dataVersion": self.data_version.to_json(),
            "topicConfigTable": {name: config.to_json() for name, config in self.topic_config_table.items()},
        }

    @classmethod
    def from_json(cls, data: Any) -> TopicConfigSerializeWrapper:
        data = _object(data, "topicConfigSerializeWrapper")
        table = _object(data.get("topicConfigTable") or {}, "topicConfigTable")
        configs: dict[str, TopicConfig] = {}
        for name, item in table.items():
            try:
                config = TopicConfig.from_json({"topicName": name, **_object(item, "topicConfig")})
            except (TypeError, ValueError) as error:
                raise ProtocolError(f"topic config {name!r} is malformed: {error}") from error
            configs[config.topic_name] = config
        return cls(topic_config_table=configs, data_version=DataVersion.from_json(data.get("dataVersion")))


def _topic_config_line(config: TopicConfig) -> str:
    # Java TopicConfig#encode: five space-separated fields (topicSysFlag and order are not carried).
    return (
        f"{config.topic_name} {config.read_queue_nums} {config.write_queue_nums} "
        f"{config.perm} {config.topic_filter_type.value}"
    )


def _parse_topic_config_line(line: str) -> TopicConfig:
    fields = line.split(" ")
    if len(fields) != 5:
        raise ProtocolError(f"compressed topic config {line!r} does not have 5 fields")
    try:
        return TopicConfig(
            topic_name=fields[0],
            read_queue_nums=int(fields[1]),
            write_queue_nums=int(fields[2]),
            perm=int(fields[3]),
            topic_filter_type=TopicFilterType(fields[4]),
        )
    except ValueError as error:
        raise ProtocolError(f"compressed topic config {line!r} is malformed: {error}") from error


class _Reader:
    """Reads the length-prefixed sections of an inflated compressed RegisterBrokerBody."""

    def __init__(self, data: bytes) -> None:
        self._data = data
        self._position = 0

    def int32(self) -> int:
        if self._position + 4 > len(self._data):
            raise ProtocolError("compressed register body ends inside a length field")
        (value,) = _INT32.unpack_from(self._data, self._position)
        self._position += 4
        return int(value)

    def section(self) -> bytes:
        length = self.int32()
        if length < 0 or self._position + length > len(self._data):
            raise ProtocolError(f"compressed register body has a section of {length} bytes past its end")
        chunk = self._data[self._position : self._position + length]
        self._position += length
        return chunk


@dataclass(frozen=True, slots=True, kw_only=True)
class RegisterBrokerBody:
    """REGISTER_BROKER request body: the broker's topic configs and its filter servers."""

    topic_config_serialize_wrapper: TopicConfigSerializeWrapper = TopicConfigSerializeWrapper()
    filter_server_list: tuple[str, ...] = ()  # "filterServerList"

    def to_json(self) -> dict[str, Any]:
        return {
            "filterServerList": list(self.filter_server_list),
            "topicConfigSerializeWrapper": self.topic_config_serialize_wrapper.to_json(),
        }

    def encode(self, *, compressed: bool = False) -> bytes:
        """The body as a 4.9.8 broker sends it; `compressed` is Java's compressedRegister format."""
        if not compressed:
            return encode_json(self.to_json())
        wrapper = self.topic_config_serialize_wrapper
        parts: list[bytes] = []
        version = encode_json(wrapper.data_version.to_json())
        parts += [_INT32.pack(len(version)), version, _INT32.pack(len(wrapper.topic_config_table))]
        for config in wrapper.topic_config_table.values():
            line = _topic_config_line(config).encode("utf-8")
            parts += [_INT32.pack(len(line)), line]
        filters = encode_json(list(self.filter_server_list))
        parts += [_INT32.pack(len(filters)), filters]
        return zlib.compress(b"".join(parts), 9)

    @classmethod
    def from_json(cls, data: Any) -> RegisterBrokerBody:
        data = _object(data, "registerBrokerBody")
        wrapper = data.get("topicConfigSerializeWrapper")
        return cls(
            topic_config_serialize_wrapper=(
                TopicConfigSerializeWrapper()
                if wrapper is None
                else TopicConfigSerializeWrapper.from_json(wrapper)
            ),
            filter_server_list=tuple(_str_list(data.get("filterServerList"), "filterServerList")),
        )

    @classmethod
    def decode(
        cls, body: bytes, *, compressed: bool = False, inflated_bytes_max: int = 64 << 20
    ) -> RegisterBrokerBody:
        if not compressed:
            return cls.from_json(decode_json(body))
        inflater = zlib.decompressobj()
        try:
            data = inflater.decompress(body, inflated_bytes_max)
        except zlib.error as error:
            raise ProtocolError(f"compressed register body does not inflate: {error}") from error
        if inflater.unconsumed_tail:
            raise ProtocolError(f"compressed register body inflates past {inflated_bytes_max} bytes")
        reader = _Reader(data)
        data_version = DataVersion.from_json(decode_json(reader.section()))
        count = reader.int32()
        configs: dict[str, TopicConfig] = {}
        for _ in range(max(count, 0)):
            try:
                line = reader.section().decode("utf-8")
            except UnicodeDecodeError as error:
                raise ProtocolError(f"compressed topic config is not UTF-8: {error}") from error
            config = _parse_topic_config_line(line)
            configs[config.topic_name] = config
        filters = _str_list(decode_json(reader.section()), "filterServerList")
        return cls(
            topic_config_serialize_wrapper=TopicConfigSerializeWrapper(
                topic_config_table=configs, data_version=data_version
            ),
            filter_server_list=tuple(filters),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class KVTable:
    """A namespace of the name server's KV config (GET_KVLIST_BY_NAMESPACE body)."""

    table: Mapping[str, str] = field(default_factory=dict)  # "table"

    def to_json(self) -> dict[str, Any]:
        return {"table": dict(sorted(self.table.items()))}

    def encode(self) -> bytes:
        return encode_json(self.to_json())

    @classmethod
    def from_json(cls, data: Any) -> KVTable:
        data = _object(data, "kvTable")
        table = _object(data.get("table") or {}, "table")
        return cls(table={str(key): str(value) for key, value in table.items() if value is not None})

    @classmethod
    def decode(cls, body: bytes) -> KVTable:
        return cls.from_json(decode_json(body))


@dataclass(frozen=True, slots=True, kw_only=True)
class RegisterBrokerResult:
    """What a name server answers a registering broker: the master's HA address (for slaves) and the
    ORDER_TOPIC_CONFIG namespace (the REGISTER_BROKER response header + body)."""

    ha_server_addr: str | None = None  # "haServerAddr" (response extFields)
    master_addr: str | None = None  # "masterAddr" (response extFields)
    kv_table: KVTable | None = None  # the response body


@dataclass(frozen=True, slots=True, kw_only=True)
class TopicList:
    """GET_ALL_TOPIC_LIST_FROM_NAMESERVER / GET_TOPICS_BY_CLUSTER / system topics body."""

    topic_list: tuple[str, ...] = ()  # "topicList" (a Java Set)
    broker_addr: str | None = None  # "brokerAddr"

    def to_json(self) -> dict[str, Any]:
        return {"brokerAddr": self.broker_addr, "topicList": sorted(set(self.topic_list))}

    def encode(self) -> bytes:
        return encode_json(self.to_json())

    @classmethod
    def from_json(cls, data: Any) -> TopicList:
        data = _object(data, "topicList")
        broker_addr = data.get("brokerAddr")
        return cls(
            topic_list=tuple(_str_list(data.get("topicList"), "topicList")),
            broker_addr=None if broker_addr is None else str(broker_addr),
        )

    @classmethod
    def decode(cls, body: bytes) -> TopicList:
        return cls.from_json(decode_json(body))

    @classmethod
    def of(cls, topics: Iterable[str], broker_addr: str | None = None) -> TopicList:
        return cls(topic_list=tuple(sorted(set(topics))), broker_addr=broker_addr)
