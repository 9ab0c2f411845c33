"""A real pocketmq cluster for tests: one `mqnamesrv` and one `mqbroker` process on free 127.0.0.1
ports, with the store in a temporary directory. The broker can be SIGKILLed and restarted on the same
store."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.processes import BIN, ManagedProcess, free_port

__all__ = ["Cluster", "running_cluster"]


@dataclass
class Cluster:
    workdir: Path
    broker_settings: Mapping[str, str] = field(default_factory=dict)
    broker_name: str = "broker-a"
    cluster_name: str = "DefaultCluster"
    namesrv_port: int = field(default_factory=free_port)
    broker_port: int = field(default_factory=free_port)
    namesrv: ManagedProcess | None = None
    broker: ManagedProcess | None = None

    @property
    def namesrv_address(self) -> str:
        return f"127.0.0.1:{self.namesrv_port}"

    @property
    def broker_address(self) -> str:
        return f"127.0.0.1:{self.broker_port}"

    @property
    def store_dir(self) -> Path:
        return self.workdir / "store"

    def _write_configs(self) -> tuple[Path, Path]:
        self.workdir.mkdir(parents=True, exist_ok=True)
        namesrv_conf = self.workdir / "namesrv.conf"
        namesrv_conf.write_text(
            f"listenPort={self.namesrv_port}\nkvConfigPath={self.workdir / 'namesrv' / 'kvConfig.json'}\n"
        )
        settings = {
            "brokerClusterName": self.cluster_name,
            "brokerName": self.broker_name,
            "brokerId": "0",
            "brokerIP1": "127.0.0.1",
            "listenPort": str(self.broker_port),
            "namesrvAddr": self.namesrv_address,
            "storePathRootDir": str(self.store_dir),
            "autoCreateTopicEnable": "true",
            # Small segments keep the disk footprint of a test small.
            "mappedFileSizeCommitLog": str(64 * 1024 * 1024),
            "mappedFileSizeConsumeQueue": str(60_000),
            "maxHashSlotNum": "10000",
            "maxIndexNum": "40000",
            **self.broker_settings,
        }
        broker_conf = self.workdir / "broker.conf"
        broker_conf.write_text("".join(f"{key}={value}\n" for key, value in settings.items()))
        return namesrv_conf, broker_conf

    def start(self) -> Cluster:
        namesrv_conf, _ = self._write_configs()
        self.namesrv = ManagedProcess(
            [str(BIN / "mqnamesrv"), "-c", str(namesrv_conf)], self.namesrv_port, self.workdir / "namesrv.log"
        ).start()
        self.start_broker()
        return self

    def start_broker(self) -> ManagedProcess:
        _, broker_conf = self._write_configs()
        self.broker = ManagedProcess(
            [str(BIN / "mqbroker"), "-n", self.namesrv_address, "-c", str(broker_conf)],
            self.broker_port,
            self.workdir / "broker.log",
        ).start()
        return self.broker

    def kill_broker(self) -> None:
        assert self.broker is not None
        self.broker.kill()

    def stop(self) -> None:
        for process in (self.broker, self.namesrv):
            if process is not None:
                process.stop()

    def logs(self) -> str:
        return "\n".join(
            f"--- {name} ---\n{process.log()[-5000:]}"
            for name, process in (("namesrv", self.namesrv), ("broker", self.broker))
            if process is not None
        )


@contextlib.contextmanager
def running_cluster(workdir: Path, **broker_settings: str) -> Iterator[Cluster]:
    cluster = Cluster(workdir, broker_settings)
    try:
        yield cluster.start()
    finally:
        cluster.stop()
