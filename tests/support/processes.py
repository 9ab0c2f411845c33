"""Real pocketmq processes for tests: free ports on 127.0.0.1, start, wait until the port answers,
SIGKILL or stop, and always clean up."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

BIN = Path(sys.executable).parent

__all__ = ["free_port", "ManagedProcess", "start_process", "wait_for_port", "BIN"]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, timeout_s: float = 20.0, process: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise AssertionError(f"process exited with {process.returncode} before port {port} opened")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return
        time.sleep(0.05)
    raise AssertionError(f"nothing listens on 127.0.0.1:{port} after {timeout_s} s")


@dataclass
class ManagedProcess:
    args: list[str]
    port: int
    log_path: Path
    process: subprocess.Popen[bytes] = field(init=False)

    def start(self, timeout_s: float = 20.0) -> ManagedProcess:
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            self.args, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        log.close()
        wait_for_port(self.port, timeout_s, self.process)
        return self

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def kill(self) -> None:
        """SIGKILL: the process gets no chance to flush or clean up."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)

    def stop(self, timeout_s: float = 15.0) -> int:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.kill()
        return self.process.returncode

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


@contextlib.contextmanager
def start_process(
    args: Sequence[str], port: int, log_path: Path, timeout_s: float = 20.0
) -> Iterator[ManagedProcess]:
    managed = ManagedProcess(list(args), port, log_path)
    managed.start(timeout_s)
    try:
        yield managed
    finally:
        managed.stop()
