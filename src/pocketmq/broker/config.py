"""BrokerConfig: the broker's own settings, and the loading of a whole `broker.conf`.

A RocketMQ `broker.conf` mixes keys of four Java objects (BrokerConfig, NettyServerConfig,
NettyClientConfig, MessageStoreConfig; BrokerStartup applies the same properties to all of them).
`load_broker_config` splits one file the same way: broker keys to `BrokerConfig` through
`JAVA_KEYS` (the one table of Java names), store keys to the store's `StoreConfig` through its own
table, known RocketMQ keys that pocketmq has no use for (thread pools, Netty buffers) to `ignored`,
and everything else to `unknown`, each with the line it came from and a spelling suggestion. RocketMQ
drops unknown keys silently; pocketmq reports them (and refuses them with `strict=True`).

Values are checked: an integer key must hold an integer and a boolean key `true` or `false` (Java
`Boolean.parseBoolean` reads any other word as false; pocketmq refuses it with a clear error).
"""

from __future__ import annotations

import dataclasses
import difflib
import platform
import re
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

from pocketmq.common.errors import ConfigError, NotBuiltError
from pocketmq.common.properties import parse_java_properties
from pocketmq.common.topic import PERM_READ, PERM_WRITE, SystemTopics
from pocketmq.store.config import JAVA_KEYS as STORE_JAVA_KEYS
from pocketmq.store.config import StoreConfig

__all__ = [
    "BrokerRole",
    "BrokerConfig",
    "JAVA_KEYS",
    "UNUSED_JAVA_KEYS",
    "ConfigKeyProblem",
    "LoadedBrokerConfig",
    "load_broker_config",
    "load_broker_config_file",
    "format_effective_config",
    "local_ipv4_address",
    "namesrv_addr_problem",
]


class BrokerRole(Enum):
    """Java: BrokerRole (a MessageStoreConfig key in Java, `brokerRole`)."""

    ASYNC_MASTER = "ASYNC_MASTER"
    SYNC_MASTER = "SYNC_MASTER"
    SLAVE = "SLAVE"


@dataclass(frozen=True, slots=True, kw_only=True)
class BrokerConfig:
    """Every field: meaning, unit, Java name and default. Times in milliseconds unless named."""

    # -- identity and addresses ------------------------------------------------------------------
    #: Cluster this broker belongs to; also the name of a system topic. Java: brokerClusterName
    #: ("DefaultCluster").
    broker_cluster_name: str = "DefaultCluster"
    #: Name of the master/slave set; also a system topic. Java: brokerName (the host name).
    broker_name: str = field(default_factory=lambda: platform.node() or "DEFAULT_BROKER")
    #: 0 for the master, > 0 for slaves. Java: brokerId (0).
    broker_id: int = 0
    #: Name servers, "host:port;host:port". Java: namesrvAddr (env NAMESRV_ADDR; none).
    namesrv_addr: str | None = None
    #: Address advertised to clients. Java: brokerIP1 (first non-loopback IPv4; `load_broker_config`
    #: fills it in when the file does not say).
    broker_ip1: str | None = None
    #: Address slaves use for HA. Java: brokerIP2 (same as brokerIP1).
    broker_ip2: str | None = None
    #: TCP port of the remoting server. Java: listenPort (NettyServerConfig; 10911 for the broker).
    listen_port: int = 10911
    #: Role: ASYNC_MASTER, SYNC_MASTER or SLAVE. Java: brokerRole (ASYNC_MASTER).
    broker_role: BrokerRole = BrokerRole.ASYNC_MASTER

    # -- topics and groups -----------------------------------------------------------------------
    #: Broker-wide permission bits (read 4, write 2). Java: brokerPermission (6).
    broker_permission: int = PERM_READ | PERM_WRITE
    #: Queues of TBW102, the template of auto-created topics. Java: defaultTopicQueueNums (8).
    default_topic_queue_nums: int = 8
    #: Create unknown topics on first send through TBW102. Java: autoCreateTopicEnable (true).
    auto_create_topic_enable: bool = True
    #: Make the cluster-name topic readable and writable. Java: clusterTopicEnable (true).
    cluster_topic_enable: bool = True
    #: Make the broker-name topic readable and writable. Java: brokerTopicEnable (true).
    broker_topic_enable: bool = True
    #: Create unknown consumer groups on first use. Java: autoCreateSubscriptionGroup (true).
    auto_create_subscription_group: bool = True
    #: Create the message-trace topic at startup. Java: traceTopicEnable (false).
    trace_topic_enable: bool = False
    #: Name of the message-trace topic. Java: msgTraceTopicName ("RMQ_SYS_TRACE_TOPIC").
    msg_trace_topic_name: str = SystemTopics.TRACE
    #: Answer sends with TRACE_ON. Java: traceOn (true).
    trace_on: bool = True
    #: Region written into sends (MSG_REGION). Java: regionId ("DefaultRegion").
    region_id: str = "DefaultRegion"

    # -- consumers, offsets and pulls -------------------------------------------------------------
    #: Interval of consumerOffset.json writes. Java: flushConsumerOffsetInterval (5000 ms).
    flush_consumer_offset_interval_ms: int = 5000
    #: Hold pulls that find nothing until a message arrives. Java: longPollingEnable (true).
    long_polling_enable: bool = True
    #: How long a pull is held when long polling is off. Java: shortPollingTimeMills (1000 ms).
    short_polling_time_ms: int = 1000
    #: Send NOTIFY_CONSUMER_IDS_CHANGED when a group changes. Java: notifyConsumerIdsChangedEnable
    #: (true).
    notify_consumer_ids_changed_enable: bool = True
    #: Let consumers read from a slave when the master lags. Java: slaveReadEnable (false).
    slave_read_enable: bool = False
    #: Stop a group that falls too far behind. Java: disableConsumeIfConsumerReadSlowly (false).
    disable_consume_if_consumer_read_slowly: bool = False
    #: "Too far behind", in bytes. Java: consumerFallbehindThreshold (16 GiB).
    consumer_fallbehind_threshold_bytes: int = 16 * 1024**3

    # -- filters ---------------------------------------------------------------------------------
    #: Accept SQL92 subscriptions. Java: enablePropertyFilter (false).
    enable_property_filter: bool = False
    #: Compute bloom-filter bitmaps at dispatch (not implemented; accepted for compatibility).
    #: Java: enableCalcFilterBitMap (false).
    enable_calc_filter_bit_map: bool = False
    #: Bloom filter sizing. Java: expectConsumerNumUseFilter (32).
    expect_consumer_num_use_filter: int = 32
    #: Bloom filter error rate, percent 1..100. Java: maxErrorRateOfBloomFilter (20).
    max_error_rate_of_bloom_filter: int = 20
    #: Drop the filter of a group this long after its last consumer left. Java:
    #: filterDataCleanTimeSpan (24 h = 86,400,000 ms).
    filter_data_clean_time_span_ms: int = 24 * 3600 * 1000
    #: Apply SQL92 filters to retried messages too. Java: filterSupportRetry (false).
    filter_support_retry: bool = False

    # -- name server registration ----------------------------------------------------------------
    #: Interval of REGISTER_BROKER. Java: registerNameServerPeriod (30000 ms).
    register_name_server_period_ms: int = 30_000
    #: Timeout of one REGISTER_BROKER call. Java: registerBrokerTimeoutMills (6000 ms).
    register_broker_timeout_ms: int = 6000
    #: Register even when the topic table did not change. Java: forceRegister (true).
    force_register: bool = True
    #: zlib-compress the REGISTER_BROKER body. Java: compressedRegister (false).
    compressed_register: bool = False

    # -- transactions ----------------------------------------------------------------------------
    #: Refuse half messages. Java: rejectTransactionMessage (false).
    reject_transaction_message: bool = False
    #: Age of a half message before its first check. Java: transactionTimeOut (6000 ms).
    transaction_timeout_ms: int = 6000
    #: Checks before a half message goes to TRANS_CHECK_MAX_TIME_TOPIC. Java: transactionCheckMax
    #: (15).
    transaction_check_max: int = 15
    #: Interval of the check service. Java: transactionCheckInterval (60000 ms).
    transaction_check_interval_ms: int = 60_000

    # -- other -----------------------------------------------------------------------------------
    #: Check requests against plain_acl.yml. Java: aclEnable (false).
    acl_enable: bool = False
    #: Store request-reply replies. Java: storeReplyMessageEnable (true).
    store_reply_message_enable: bool = True
    #: Answer SYSTEM_BUSY early when the put queue is congested. Java: brokerFastFailureEnable
    #: (true).
    broker_fast_failure_enable: bool = True
    #: Sends waiting longer than this are answered SYSTEM_BUSY. Java: waitTimeMillsInSendQueue
    #: (200 ms).
    wait_time_ms_in_send_queue: int = 200

    def __post_init__(self) -> None:
        if self.broker_id < 0:
            raise ConfigError(f"brokerId={self.broker_id}: 0 for a master, a positive number for a slave")
        if not 0 < self.listen_port < 65536:
            raise ConfigError(f"listenPort={self.listen_port} is not a TCP port (1..65535)")
        if self.broker_permission & ~(PERM_READ | PERM_WRITE | 0x1 | 0x8):
            raise ConfigError(f"brokerPermission={self.broker_permission}: use the bits read 4, write 2")
        if self.default_topic_queue_nums <= 0:
            raise ConfigError(f"defaultTopicQueueNums={self.default_topic_queue_nums} must be positive")
        if not 1 <= self.max_error_rate_of_bloom_filter <= 100:
            raise ConfigError("maxErrorRateOfBloomFilter must be within 1..100")
        for name in ("broker_cluster_name", "broker_name"):
            if not getattr(self, name):
                raise ConfigError(f"{_PYTHON_TO_JAVA[name]} must not be empty")
        if self.namesrv_addr is not None and (problem := namesrv_addr_problem(self.namesrv_addr)):
            raise ConfigError(f"namesrvAddr={self.namesrv_addr!r}: {problem}")

    # -- derived -----------------------------------------------------------------------------------
    @property
    def is_master(self) -> bool:
        return self.broker_role is not BrokerRole.SLAVE

    @property
    def namesrv_addresses(self) -> tuple[str, ...]:
        """The name servers of `namesrv_addr`, in order ("a:9876;b:9876")."""
        if not self.namesrv_addr:
            return ()
        return tuple(part.strip() for part in self.namesrv_addr.split(";") if part.strip())

    @property
    def broker_address(self) -> str:
        """`brokerIP1:listenPort`, what the broker registers and clients connect to."""
        return f"{self.broker_ip1 or '127.0.0.1'}:{self.listen_port}"

    def to_java_properties(self) -> dict[str, str]:
        """The effective values under their Java names (for `-p` and GET_BROKER_CONFIG)."""
        return {java: _to_text(getattr(self, name)) for java, name in JAVA_KEYS.items()}

    def updated(self, values: Mapping[str, str]) -> BrokerConfig:
        """A copy with `values` (Java names, as UPDATE_BROKER_CONFIG sends them) applied.
        Raises ConfigError for an unknown key or a bad value."""
        changes: dict[str, Any] = {}
        for java_name, raw in values.items():
            name = JAVA_KEYS.get(java_name)
            if name is None:
                raise ConfigError(f"{java_name!r} is not a broker setting{_suggestion(java_name)}")
            changes[name] = _convert(_FIELD_TYPES[name], raw, java_name)
        return dataclasses.replace(self, **changes)


#: Java key -> BrokerConfig field. The one place where the broker's Java names are translated.
JAVA_KEYS: Mapping[str, str] = {
    "brokerClusterName": "broker_cluster_name",
    "brokerName": "broker_name",
    "brokerId": "broker_id",
    "namesrvAddr": "namesrv_addr",
    "brokerIP1": "broker_ip1",
    "brokerIP2": "broker_ip2",
    "listenPort": "listen_port",
    "brokerRole": "broker_role",
    "brokerPermission": "broker_permission",
    "defaultTopicQueueNums": "default_topic_queue_nums",
    "autoCreateTopicEnable": "auto_create_topic_enable",
    "clusterTopicEnable": "cluster_topic_enable",
    "brokerTopicEnable": "broker_topic_enable",
    "autoCreateSubscriptionGroup": "auto_create_subscription_group",
    "traceTopicEnable": "trace_topic_enable",
    "msgTraceTopicName": "msg_trace_topic_name",
    "traceOn": "trace_on",
    "regionId": "region_id",
    "flushConsumerOffsetInterval": "flush_consumer_offset_interval_ms",
    "longPollingEnable": "long_polling_enable",
    "shortPollingTimeMills": "short_polling_time_ms",
    "notifyConsumerIdsChangedEnable": "notify_consumer_ids_changed_enable",
    "slaveReadEnable": "slave_read_enable",
    "disableConsumeIfConsumerReadSlowly": "disable_consume_if_consumer_read_slowly",
    "consumerFallbehindThreshold": "consumer_fallbehind_threshold_bytes",
    "enablePropertyFilter": "enable_property_filter",
    "enableCalcFilterBitMap": "enable_calc_filter_bit_map",
    "expectConsumerNumUseFilter": "expect_consumer_num_use_filter",
    "maxErrorRateOfBloomFilter": "max_error_rate_of_bloom_filter",
    "filterDataCleanTimeSpan": "filter_data_clean_time_span_ms",
    "filterSupportRetry": "filter_support_retry",
    "registerNameServerPeriod": "register_name_server_period_ms",
    "registerBrokerTimeoutMills": "register_broker_timeout_ms",
    "forceRegister": "force_register",
    "compressedRegister": "compressed_register",
    "rejectTransactionMessage": "reject_transaction_message",
    "transactionTimeOut": "transaction_timeout_ms",
    "transactionCheckMax": "transaction_check_max",
    "transactionCheckInterval": "transaction_check_interval_ms",
    "aclEnable": "acl_enable",
    "storeReplyMessageEnable": "store_reply_message_enable",
    "brokerFastFailureEnable": "broker_fast_failure_enable",
    "waitTimeMillsInSendQueue": "wait_time_ms_in_send_queue",
}
_PYTHON_TO_JAVA = {name: java for java, name in JAVA_KEYS.items()}
_FIELD_TYPES: dict[str, str] = {
    f.name: f.type if isinstance(f.type, str) else str(f.type) for f in dataclasses.fields(BrokerConfig)
}
assert set(_PYTHON_TO_JAVA) == set(_FIELD_TYPES), set(_FIELD_TYPES) ^ set(_PYTHON_TO_JAVA)

#: Keys of RocketMQ 4.9.8's BrokerConfig, NettyServerConfig, NettyClientConfig and MessageStoreConfig
#: that pocketmq accepts and does not use (thread pools, Netty buffers, features not built).
_UNUSED_JAVA_KEYS_TEXT = """
    rocketmqHome messageStorePlugIn sendMessageThreadPoolNums putMessageFutureThreadPoolNums
    pullMessageThreadPoolNums processReplyMessageThreadPoolNums queryMessageThreadPoolNums
    adminBrokerThreadPoolNums clientManageThreadPoolNums consumerManageThreadPoolNums
    heartbeatThreadPoolNums endTransactionThreadPoolNums flushConsumerOffsetHistoryInterval
    fetchNamesrvAddrByAddressServer sendThreadPoolQueueCapacity putThreadPoolQueueCapacity
    pullThreadPoolQueueCapacity replyThreadPoolQueueCapacity queryThreadPoolQueueCapacity
    clientManagerThreadPoolQueueCapacity consumerManagerThreadPoolQueueCapacity
    heartbeatThreadPoolQueueCapacity endTransactionPoolQueueCapacity filterServerNums highSpeedMode
    commercialEnable commercialTimerCount commercialTransCount commercialBigCount commercialBaseCount
    transferMsgByHeap maxDelayTime waitTimeMillsInPullQueue waitTimeMillsInHeartbeatQueue
    waitTimeMillsInTransactionQueue startAcceptSendRequestTimeStamp enableDetailStat
    autoDeleteUnusedStats isolateLogEnable configBlackList
    serverWorkerThreads serverCallbackExecutorThreads serverSelectorThreads serverOnewaySemaphoreValue
    serverAsyncSemaphoreValue serverChannelMaxIdleTimeSeconds serverSocketSndBufSize
    serverSocketRcvBufSize writeBufferHighWaterMark writeBufferLowWaterMark serverSocketBacklog
    serverPooledByteBufAllocatorEnable useEpollNativeSelector clientWorkerThreads
    clientCallbackExecutorThreads clientOnewaySemaphoreValue clientAsyncSemaphoreValue
    connectTimeoutMillis channelNotActiveInterval clientChannelMaxIdleTimeSeconds
    clientSocketSndBufSize clientSocketRcvBufSize clientPooledByteBufAllocatorEnable
    clientCloseSocketIfTimeout useTLS
    storePathDLedgerCommitLog readOnlyCommitLogStorePaths enableConsumeQueueExt
    mappedFileSizeConsumeQueueExt bitMapLengthConsumeQueueExt commitIntervalCommitLog
    useReentrantLockWhenPutMessage flushCommitLogTimed deleteCommitLogFilesInterval
    deleteConsumeQueueFilesInterval destroyMapedFileIntervalForcibly redeleteHangedFileInterval
    putMsgIndexHightWater checkCRCOnRecover flushCommitLogLeastPages commitCommitLogLeastPages
    flushLeastPagesWhenWarmMapedFile flushConsumeQueueLeastPages flushCommitLogThoroughInterval
    commitCommitLogThoroughInterval flushConsumeQueueThoroughInterval maxMsgsNumBatch
    messageIndexSafe haListenPort haSendHeartbeatInterval haHousekeepingInterval haTransferBatchSize
    haMasterAddress haSlaveFallbehindMax slaveTimeout flushDelayOffsetInterval cleanFileForciblyEnable
    warmMapedFileEnable offsetCheckInSlave debugLockEnable duplicationEnable diskFallRecorded
    osPageCacheBusyTimeOutMills defaultQueryMaxNum transientStorePoolEnable transientStorePoolSize
    fastFailIfNoBufferInStorePool enableDLegerCommitLog dLegerGroup dLegerPeers dLegerSelfId
    preferredLeaderId isEnableBatchPush enableScheduleMessageStats enableLmq enableMultiDispatch
    maxLmqConsumeQueueNum enableScheduleAsyncDeliver scheduleAsyncDeliverMaxPendingLimit
    scheduleAsyncDeliverMaxResendNum2Blocked
"""
UNUSED_JAVA_KEYS: frozenset[str] = frozenset(_UNUSED_JAVA_KEYS_TEXT.split())

_INTEGER = re.compile(r"[+-]?[0-9]+")


def _convert(kind: str, raw: str, java_name: str) -> Any:
    text = raw.strip()
    if kind == "int":
        if not _INTEGER.fullmatch(text):
            raise ConfigError(f"{java_name}={raw!r}: expected an integer")
        return int(text)
    if kind == "bool":
        if text.lower() not in ("true", "false"):
            raise ConfigError(f"{java_name}={raw!r}: expected true or false")
        return text.lower() == "true"
    if kind == "BrokerRole":
        try:
            return BrokerRole(text.upper())
        except ValueError:
            choices = ", ".join(role.value for role in BrokerRole)
            raise ConfigError(f"{java_name}={raw!r}: expected one of {choices}") from None
    if kind == "str | None":
        return text or None
    return text


def _to_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Enum):
        return str(value.value)
    if value is None:
        return ""
    return str(value)


_ALL_KNOWN_KEYS = sorted(set(JAVA_KEYS) | set(STORE_JAVA_KEYS) | UNUSED_JAVA_KEYS)


def _suggestion(key: str) -> str:
    close = difflib.get_close_matches(key, _ALL_KNOWN_KEYS, n=1, cutoff=0.75)
    return f"; did you mean {close[0]!r}?" if close else ""


@dataclass(frozen=True, slots=True)
class ConfigKeyProblem:
    """A key of broker.conf that no component uses."""

    key: str
    value: str
    line: int | None
    explanation: str

    def __str__(self) -> str:
        where = f"line {self.line}: " if self.line is not None else ""
        return f"{where}{self.key}={self.value}: {self.explanation}"


@dataclass(frozen=True, slots=True)
class LoadedBrokerConfig:
    """What one broker.conf (plus command-line overrides) says, split per component."""

    broker: BrokerConfig
    store: StoreConfig
    #: Known RocketMQ keys that pocketmq accepts and does not use.
    ignored: tuple[ConfigKeyProblem, ...] = ()
    #: Keys no component knows (typos, or settings of another RocketMQ version).
    unknown: tuple[ConfigKeyProblem, ...] = ()
    #: The file it came from, if any.
    source: Path | None = None

    def warnings(self) -> list[str]:
        return [str(problem) for problem in self.unknown]


_NAMESRV_ADDR_EXAMPLE = "127.0.0.1:9876;192.168.0.1:9876"


def namesrv_addr_problem(namesrv_addr: str) -> str | None:
    """None when `namesrv_addr` is a legal name server list ("host:port;host:port"), else a sentence
    naming the bad entry and saying what to write instead.

    Java: BrokerStartup checks every `;`-separated entry with RemotingUtil#string2SocketAddress and
    refuses to start ("The Name Server Address[...] illegal"); an address that cannot be parsed must
    not boot a broker that then only logs a warning at each registration. Empty entries (a trailing
    `;`) are skipped, as Java's String#split drops trailing ones."""
    entries = [entry.strip() for entry in namesrv_addr.split(";")]
    if not any(entries):
        return f"no name server address; give them as {_NAMESRV_ADDR_EXAMPLE}"
    for entry in entries:
        if not entry:
            continue
        host, separator, port_text = entry.rpartition(":")
        if not separator or not host or any(char.isspace() for char in host):
            return f"{entry!r} is not host:port; give the name servers as {_NAMESRV_ADDR_EXAMPLE}"
        if not (port_text.isascii() and port_text.isdigit()) or not 0 < int(port_text) < 65536:
            return f"{entry!r}: the port {port_text!r} is not a TCP port (1..65535)"
    return None


def local_ipv4_address() -> str:
    """The address Java's RemotingUtil#getLocalAddress would pick, approximately: the source address
    of a route to a public host (no packet is sent), else 127.0.0.1."""
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        probe.connect(("192.0.2.1", 9))  # TEST-NET-1: nothing is sent by a UDP connect
        address = str(probe.getsockname()[0])
    except OSError:
        address = "127.0.0.1"
    finally:
        probe.close()
    return address


def _line_numbers(text: str) -> dict[str, int]:
    numbers: dict[str, int] = {}
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if not stripped or stripped[0] in "#!":
            continue
        key = re.split(r"[=:\s]", stripped, maxsplit=1)[0]
        numbers.setdefault(key, number)
    return numbers


def load_broker_config(
    text: str = "",
    *,
    overrides: Mapping[str, str] | None = None,
    environ: Mapping[str, str] | None = None,
    strict: bool = False,
    detect_address: bool = True,
    source: Path | None = None,
) -> LoadedBrokerConfig:
    """Read broker.conf text (Java properties, Java key names), then `overrides` (Java names, e.g.
    from `-n`), like BrokerStartup. `environ` supplies NAMESRV_ADDR when neither says. Unknown keys
    are reported in the result, or raise ConfigError with `strict=True`."""
    values = parse_java_properties(text)
    lines = _line_numbers(text)
    if overrides:
        values.update(overrides)
    broker_kwargs: dict[str, Any] = {}
    store_values: dict[str, str] = {}
    ignored: list[ConfigKeyProblem] = []
    unknown: list[ConfigKeyProblem] = []
    for key, raw in values.items():
        known = False
        if key in JAVA_KEYS:
            name = JAVA_KEYS[key]
            broker_kwargs[name] = _convert(_FIELD_TYPES[name], raw, key)
            known = True
        if key in STORE_JAVA_KEYS:
            store_values[key] = raw
            known = True
        if known:
            continue
        if key in UNUSED_JAVA_KEYS:
            ignored.append(
                ConfigKeyProblem(key, raw, lines.get(key), "a RocketMQ setting pocketmq does not use")
            )
        else:
            unknown.append(
                ConfigKeyProblem(key, raw, lines.get(key), f"unknown key, ignored{_suggestion(key)}")
            )
    if strict and unknown:
        raise ConfigError("unknown keys in broker.conf: " + "; ".join(str(problem) for problem in unknown))
    if "namesrv_addr" not in broker_kwargs and environ is not None and environ.get("NAMESRV_ADDR"):
        if problem := namesrv_addr_problem(environ["NAMESRV_ADDR"]):
            raise ConfigError(f"NAMESRV_ADDR={environ['NAMESRV_ADDR']!r} (environment): {problem}")
        broker_kwargs["namesrv_addr"] = environ["NAMESRV_ADDR"]
    if broker_kwargs.get("broker_ip1") is None and detect_address:
        broker_kwargs["broker_ip1"] = local_ipv4_address()
    if broker_kwargs.get("broker_ip2") is None and broker_kwargs.get("broker_ip1") is not None:
        broker_kwargs["broker_ip2"] = broker_kwargs["broker_ip1"]
    broker = BrokerConfig(**broker_kwargs)
    _refuse_unbuilt(broker, values)
    store = StoreConfig.from_mapping(store_values, store_host=broker.broker_address)
    return LoadedBrokerConfig(broker, store, tuple(ignored), tuple(unknown), source)


def _refuse_unbuilt(broker: BrokerConfig, values: Mapping[str, str]) -> None:
    """Settings that ask for a feature pocketmq does not have yet fail loudly: a broker that quietly
    ran without the replication or access control it was configured for would mislead its users."""
    if broker.broker_role is not BrokerRole.ASYNC_MASTER:
        raise NotBuiltError(
            f"brokerRole={broker.broker_role.value}: master-slave replication is not built in pocketmq yet; "
            "run brokers as ASYNC_MASTER (the default) or remove the setting"
        )
    if values.get("enableDLegerCommitLog", "false").strip().lower() == "true":
        raise NotBuiltError(
            "enableDLegerCommitLog=true: DLedger (Raft) replication is not built in pocketmq yet; "
            "remove the setting to run a single-copy broker"
        )
    if broker.acl_enable:
        raise NotBuiltError(
            "aclEnable=true: access control is not enforced by the pocketmq broker yet; "
            "remove the setting (or set it to false) to run without ACL"
        )


def load_broker_config_file(
    path: Path | str,
    *,
    overrides: Mapping[str, str] | None = None,
    environ: Mapping[str, str] | None = None,
    strict: bool = False,
    detect_address: bool = True,
) -> LoadedBrokerConfig:
    """`load_broker_config` on a file (UTF-8; Java reads ISO-8859-1, which agrees on ASCII)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise ConfigError(f"cannot read broker config {path}: {error.strerror or error}") from None
    return load_broker_config(
        text, overrides=overrides, environ=environ, strict=strict, detect_address=detect_address, source=path
    )


def format_effective_config(loaded: LoadedBrokerConfig) -> str:
    """What `mqbroker -p` prints: every effective setting as `javaName=value`, broker then store,
    followed by the keys that were ignored or unknown."""
    lines = ["# broker"]
    lines += [f"{key}={value}" for key, value in loaded.broker.to_java_properties().items()]
    lines.append("# store")
    lines += [f"{key}={value}" for key, value in loaded.store.to_java_properties().items()]
    if loaded.ignored:
        lines.append("# accepted, not used by pocketmq")
        lines += [f"# {problem}" for problem in loaded.ignored]
    if loaded.unknown:
        lines.append("# unknown keys (ignored)")
        lines += [f"# {problem}" for problem in loaded.unknown]
    return "\n".join(lines) + "\n"
