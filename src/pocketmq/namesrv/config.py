"""NamesrvConfig: the name server's settings, read from a RocketMQ `namesrv.conf`.

Java: NamesrvConfig plus the NettyServerConfig keys (NamesrvStartup applies one properties file to
both). `JAVA_KEYS` is the one table of Java names; `-p` prints the effective values with them, and
GET_NAMESRV_CONFIG / UPDATE_NAMESRV_CONFIG use the same table. Keys that RocketMQ knows but pocketmq
has no use for (thread pools, Netty buffers) are accepted and ignored; other keys are reported as
unknown (RocketMQ ignores them silently).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from pocketmq.common.errors import ConfigError
from pocketmq.common.properties import parse_java_properties

__all__ = [
    "NamesrvConfig",
    "JAVA_KEYS",
    "IGNORED_JAVA_KEYS",
    "CONFIG_BLACK_LIST",
    "LoadedNamesrvConfig",
    "load_namesrv_config",
]


def _home() -> Path:
    return Path(os.path.expanduser("~"))


@dataclass(frozen=True, slots=True, kw_only=True)
class NamesrvConfig:
    """Every field: meaning, unit, Java name and default."""

    #: TCP port the name server listens on. Java: listenPort (NettyServerConfig; 9876 for mqnamesrv).
    listen_port: int = 9876
    #: Address to bind. Java 5.x: bindAddress ("0.0.0.0"; 4.9.8 always binds every interface).
    bind_address: str = "0.0.0.0"
    #: Where the KV config is persisted. Java: kvConfigPath (~/namesrv/kvConfig.json).
    kv_config_path: Path = field(default_factory=lambda: _home() / "namesrv" / "kvConfig.json")
    #: Where UPDATE_NAMESRV_CONFIG persists the settings. Java: configStorePath
    #: (~/namesrv/namesrv.properties).
    config_store_path: Path = field(default_factory=lambda: _home() / "namesrv" / "namesrv.properties")
    #: Java: rocketmqHome (the ROCKETMQ_HOME environment variable). Informational only.
    rocketmq_home: str = field(default_factory=lambda: os.environ.get("ROCKETMQ_HOME", ""))
    #: Java: productEnvName ("center"). Informational only.
    product_env_name: str = "center"
    #: Java: clusterTest (false). The cluster-test processor is not built; must stay false.
    cluster_test: bool = False
    #: Add the ORDER_TOPIC_CONFIG KV entry of a topic to its route as orderTopicConf.
    #: Java: orderMessageEnable (false).
    order_message_enable: bool = False
    #: Keys UPDATE_NAMESRV_CONFIG may not change, ';'-separated. Java: configBlackList.
    config_black_list: str = "configBlackList;configStorePath;kvConfigPath"
    #: How often brokers that stopped registering are looked for, in ms. Java 5.x:
    #: scanNotActiveBrokerInterval (4.9.8: fixed at 10 s).
    scan_not_active_broker_interval_ms: int = 10_000
    #: A broker silent for this long is removed, in ms. pocketmq key brokerChannelExpiredTime
    #: (Java 4.9.8: the constant RouteInfoManager.BROKER_CHANNEL_EXPIRED_TIME, 120 s).
    broker_channel_expired_ms: int = 120_000
    #: Largest frame accepted, in bytes (16 MiB). pocketmq key frameBytesMax.
    frame_bytes_max: int = 16 << 20

    def __post_init__(self) -> None:
        if not 0 <= self.listen_port <= 65535:
            raise ConfigError(f"listenPort must be 0..65535, got {self.listen_port}")
        if self.scan_not_active_broker_interval_ms <= 0:
            interval = self.scan_not_active_broker_interval_ms
            raise ConfigError(f"scanNotActiveBrokerInterval must be positive (ms), got {interval}")
        if self.broker_channel_expired_ms <= 0:
            raise ConfigError(
                f"brokerChannelExpiredTime must be positive (ms), got {self.broker_channel_expired_ms}"
            )
        if self.frame_bytes_max < 1024:
            raise ConfigError(f"frameBytesMax must be at least 1024, got {self.frame_bytes_max}")
        if self.cluster_test:
            raise ConfigError("clusterTest=true is not supported by pocketmq; remove it from the config")

    def to_java_properties(self) -> dict[str, str]:
        """Every setting by its Java name, as text (what `-p` and GET_NAMESRV_CONFIG show)."""
        return {java: _to_text(getattr(self, name)) for java, (name, _kind) in JAVA_KEYS.items()}

    def updated(self, values: Mapping[str, str]) -> NamesrvConfig:
        """A copy with `values` (Java names) applied; raises ConfigError for unknown or bad values."""
        changes: dict[str, Any] = {}
        for java, raw in values.items():
            if java in IGNORED_JAVA_KEYS:
                continue
            if java not in JAVA_KEYS:
                raise ConfigError(f"unknown name server config key {java!r}")
            name, kind = JAVA_KEYS[java]
            changes[name] = _convert(kind, raw, java)
        return dataclasses.replace(self, **changes)

    def black_listed(self) -> frozenset[str]:
        return frozenset(CONFIG_BLACK_LIST | {k for k in self.config_black_list.split(";") if k})


#: Java name -> (field, kind).
JAVA_KEYS: Final[Mapping[str, tuple[str, str]]] = {
    "listenPort": ("listen_port", "int"),
    "bindAddress": ("bind_address", "str"),
    "kvConfigPath": ("kv_config_path", "path"),
    "configStorePath": ("config_store_path", "path"),
    "rocketmqHome": ("rocketmq_home", "str"),
    "productEnvName": ("product_env_name", "str"),
    "clusterTest": ("cluster_test", "bool"),
    "orderMessageEnable": ("order_message_enable", "bool"),
    "configBlackList": ("config_black_list", "str"),
    "scanNotActiveBrokerInterval": ("scan_not_active_broker_interval_ms", "int"),
    "brokerChannelExpiredTime": ("broker_channel_expired_ms", "int"),
    "frameBytesMax": ("frame_bytes_max", "int"),
}

#: RocketMQ keys accepted and ignored (Netty threads and buffers, TLS files, ...).
IGNORED_JAVA_KEYS: Final = frozenset(
    {
        "serverWorkerThreads",
        "serverCallbackExecutorThreads",
        "serverSelectorThreads",
        "serverOnewaySemaphoreValue",
        "serverAsyncSemaphoreValue",
        "serverChannelMaxIdleTimeSeconds",
        "serverSocketSndBufSize",
        "serverSocketRcvBufSize",
        "writeBufferHighWaterMark",
        "writeBufferLowWaterMark",
        "serverSocketBacklog",
        "serverPooledByteBufAllocatorEnable",
        "useEpollNativeSelector",
    }
)

#: Never changed by UPDATE_NAMESRV_CONFIG (Java DefaultRequestProcessor#initConfigBlackList).
CONFIG_BLACK_LIST: Final = frozenset({"configBlackList", "configStorePath", "kvConfigPath", "rocketmqHome"})


def _convert(kind: str, raw: str, java: str) -> Any:
    text = raw.strip()
    if kind == "int":
        try:
            return int(text)
        except ValueError:
            raise ConfigError(f"{java} must be an integer, got {raw!r}") from None
    if kind == "bool":
        if text.lower() not in ("true", "false"):
            raise ConfigError(f"{java} must be true or false, got {raw!r}")
        return text.lower() == "true"
    if kind == "path":
        if not text:
            raise ConfigError(f"{java} must be a path, got an empty value")
        return Path(os.path.expanduser(text))
    return text


def _to_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


@dataclass(frozen=True, slots=True)
class LoadedNamesrvConfig:
    config: NamesrvConfig
    #: Keys RocketMQ knows that pocketmq ignores.
    ignored: tuple[str, ...] = ()
    #: Keys nobody knows (a typo?).
    unknown: tuple[str, ...] = ()

    @property
    def warnings(self) -> list[str]:
        return [f"unknown config key {key!r} ignored (a typo?)" for key in self.unknown]


def load_namesrv_config(text: str = "", overrides: Mapping[str, str] | None = None) -> LoadedNamesrvConfig:
    """The effective config from a namesrv.conf text, then `overrides` (Java names)."""
    values = parse_java_properties(text)
    values.update(overrides or {})
    known = {key: value for key, value in values.items() if key in JAVA_KEYS}
    ignored = tuple(key for key in values if key in IGNORED_JAVA_KEYS)
    unknown = tuple(key for key in values if key not in JAVA_KEYS and key not in IGNORED_JAVA_KEYS)
    return LoadedNamesrvConfig(NamesrvConfig().updated(known), ignored, unknown)
