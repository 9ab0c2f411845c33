"""ClientConfig: the settings shared by the producers and consumers of one client id (Java
ClientConfig), and how the client id is built (`ip@instance_name`).
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from typing import Final

from pocketmq.client.acl import SessionCredentials
from pocketmq.common.errors import ConfigError
from pocketmq.protocol.command import SerializeType

__all__ = ["ClientConfig", "local_ip", "NAMESRV_ADDR_ENV", "SERIALIZE_TYPE_ENV"]

#: The name servers when none are given (Java MixAll.NAMESRV_ADDR_ENV).
NAMESRV_ADDR_ENV: Final = "NAMESRV_ADDR"
#: Header encoding when not configured (Java RemotingCommand.SERIALIZE_TYPE_ENV).
SERIALIZE_TYPE_ENV: Final = "ROCKETMQ_SERIALIZE_TYPE"


@dataclass(frozen=True, slots=True, kw_only=True)
class ClientConfig:
    """Settings shared by the producers and consumers of one client id (Java ClientConfig)."""

    #: Name server addresses, "host:port;host:port". Java: namesrvAddr.
    namesrv_addr: str
    #: Second half of the client id. Java: instanceName ("DEFAULT" becomes the pid).
    instance_name: str | None = None
    #: First half of the client id; detected when None. Java: clientIP.
    client_ip: str | None = None
    #: Route refresh period. Java: pollNameServerInterval (30 s).
    poll_name_server_interval_ms: int = 30_000
    #: Heartbeat period. Java: heartbeatBrokerInterval (30 s).
    heartbeat_broker_interval_ms: int = 30_000
    #: Consumer offset commit period. Java: persistConsumerOffsetInterval (5 s).
    persist_consumer_offset_interval_ms: int = 5_000
    #: Rebalance period. Java: -Drocketmq.client.rebalance.waitInterval (20 s).
    rebalance_interval_ms: int = 20_000
    #: Timeout of name-server and admin-like calls. Java: mqClientApiTimeout (3 s).
    client_api_timeout_ms: int = 3_000
    #: Header encoding of requests. Java: -Drocketmq.serialize.type / $ROCKETMQ_SERIALIZE_TYPE (JSON).
    serialize_type: SerializeType = SerializeType.JSON
    #: Sign every request for ACL-enabled servers (Java: an AclClientRPCHook). None: no signing.
    credentials: SessionCredentials | None = None

    def __post_init__(self) -> None:
        if not self.namesrv_addrs:
            raise ConfigError("namesrv_addr is empty: give the name servers as host:port;host:port")
        for name in ("poll_name_server_interval_ms", "heartbeat_broker_interval_ms", "rebalance_interval_ms"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"{name} must be > 0, not {getattr(self, name)}")

    @classmethod
    def of(cls, namesrv_addr: str | None, instance_name: str | None = None) -> ClientConfig:
        """Defaults for the given name servers; without any, $NAMESRV_ADDR; the serialize type from
        $ROCKETMQ_SERIALIZE_TYPE (JSON or ROCKETMQ), as the Java client reads them."""
        addr = namesrv_addr or os.environ.get(NAMESRV_ADDR_ENV)
        if not addr:
            raise ConfigError(
                "no name server: give namesrv_addr (host:port;host:port), a client_config "
                f"or ${NAMESRV_ADDR_ENV}"
            )
        serialize = os.environ.get(SERIALIZE_TYPE_ENV, "JSON").upper()
        if serialize not in SerializeType.__members__:
            raise ConfigError(f"${SERIALIZE_TYPE_ENV}={serialize!r}: use JSON or ROCKETMQ")
        return cls(namesrv_addr=addr, instance_name=instance_name, serialize_type=SerializeType[serialize])

    @property
    def namesrv_addrs(self) -> list[str]:
        return [addr.strip() for addr in self.namesrv_addr.split(";") if addr.strip()]

    def client_id(self) -> str:
        """Java ClientConfig#buildMQClientId: ip@instanceName."""
        instance = self.instance_name if self.instance_name not in (None, "", "DEFAULT") else str(os.getpid())
        return f"{self.client_ip or local_ip()}@{instance}"


_local_ip: str | None = None


def local_ip() -> str:
    """This host's outward IPv4 address (no packet is sent), else 127.0.0.1.

    Java: RemotingUtil#getLocalAddress. Computed once per process."""
    global _local_ip
    if _local_ip is None:
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
                probe.connect(("10.255.255.255", 1))
                _local_ip = str(probe.getsockname()[0])
        except OSError:
            _local_ip = "127.0.0.1"
    return _local_ip
