"""Acceptance audit, issue 3, the command lines run for real:

- `pocketmq standalone` without --store keeps its store in ./data, prints both addresses and stops
  cleanly on Ctrl-C (SIGINT); without a config it listens on 9876 and 10911;
- bad input on the command line is refused at once with a message naming the value (not a traceback,
  not a broker that boots and only logs a warning);
- an idle `mqbroker` stays within the 64 MB RSS target."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.cluster import running_cluster
from tests.support.processes import BIN, free_port, wait_for_port

pytestmark = pytest.mark.timeout(60)


@contextlib.contextmanager
def standalone(cwd: Path, *args: str) -> Iterator[subprocess.Popen[str]]:
    process = subprocess.Popen(
        [str(BIN / "pocketmq"), "standalone", *args],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        yield process
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)


def first_line(process: subprocess.Popen[str], prefix: str, timeout_s: float = 20) -> str:
    assert process.stdout is not None
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            raise AssertionError(f"exited with {process.poll()} before printing {prefix!r}")
        if line.startswith(prefix):
            return line.strip()
    raise AssertionError(f"no {prefix!r} line after {timeout_s} s")


def port_is_free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("0.0.0.0", port))
        except OSError:
            return False
        return True


def test_standalone_defaults_to_data_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    namesrv_port, broker_port = free_port(), free_port()
    conf = tmp_path / "broker.conf"
    conf.write_text(
        f"listenPort={broker_port}\nnamesrvAddr=127.0.0.1:{namesrv_port}\nbrokerIP1=127.0.0.1\n"
        "mappedFileSizeCommitLog=1048576\n"
    )
    with standalone(tmp_path, "-c", str(conf)) as process:
        line = first_line(process, "pocketmq standalone:")
        assert f"127.0.0.1:{namesrv_port}" in line and f"127.0.0.1:{broker_port}" in line, line
        assert str(tmp_path / "data") in line, line
        wait_for_port(broker_port, 5)
        wait_for_port(namesrv_port, 5)
        assert (tmp_path / "data" / "lock").exists() and (tmp_path / "data" / "abort").exists()
        os.killpg(process.pid, signal.SIGINT)
        assert process.wait(15) == 0
    assert not (tmp_path / "data" / "abort").exists(), "Ctrl-C left the abort file: not a clean stop"


def test_standalone_without_config_listens_on_9876_and_10911(tmp_path: Path) -> None:
    if not (port_is_free(9876) and port_is_free(10911)):
        pytest.skip("9876 or 10911 is in use on this machine")
    with standalone(tmp_path) as process:
        line = first_line(process, "pocketmq standalone:")
        assert ":9876" in line and ":10911" in line, line
        wait_for_port(9876, 5)
        wait_for_port(10911, 5)
        os.killpg(process.pid, signal.SIGTERM)
        assert process.wait(15) == 0


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / args[0]), *args[1:]], capture_output=True, text=True, timeout=30, check=False
    )


def test_broker_config_errors_name_the_key_and_value(tmp_path: Path) -> None:
    for line, expected in (
        ("listenPort=70000", "70000"),
        ("flushDiskType=FAST", "'FAST' is not a valid FlushDiskType: expected ASYNC_FLUSH or SYNC_FLUSH"),
        ("mappedFileSizeCommitLog=1x", "1x"),
    ):
        conf = tmp_path / "bad.conf"
        conf.write_text(line + "\n")
        result = run("mqbroker", "-c", str(conf), "-p")
        assert result.returncode != 0, line
        assert expected in result.stderr and "Traceback" not in result.stderr, result.stderr


def test_broker_refuses_a_malformed_name_server_address(tmp_path: Path) -> None:
    conf = tmp_path / "broker.conf"
    conf.write_text(f"listenPort={free_port()}\nstorePathRootDir={tmp_path / 'store'}\n")
    process = subprocess.Popen(
        [str(BIN / "mqbroker"), "-n", "notanaddr", "-c", str(conf)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        code = process.wait(5)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)
        raise AssertionError("the broker started with name server address 'notanaddr'") from None
    assert process.stdout is not None
    output = process.stdout.read()
    assert code != 0 and "notanaddr" in output, output


@pytest.mark.parametrize(
    "options", [["-s", "0"], ["-w", "0"], ["-s", "5000000"], ["-t", "bad topic!"], ["-n", "bogus"]]
)
def test_bench_refuses_bad_options_with_a_usage_error(options: list[str]) -> None:
    result = run("pocketmq", "bench", "producer", "-n", f"127.0.0.1:{free_port()}", "--count", "1", *options)
    assert result.returncode == 2, (result.returncode, result.stdout[-500:], result.stderr[-500:])
    assert "Traceback" not in result.stderr and options[0] in result.stderr, result.stderr[-500:]


def test_standalone_refuses_a_malformed_name_server_address(tmp_path: Path) -> None:
    conf = tmp_path / "broker.conf"
    conf.write_text("namesrvAddr=127.0.0.1:9876;notanaddr\n")
    result = subprocess.run(
        [str(BIN / "pocketmq"), "standalone", "-c", str(conf)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert "'notanaddr' is not host:port" in result.stderr and "Traceback" not in result.stderr, result.stderr
    assert not (tmp_path / "data").exists(), "refused, yet a store was created"


@pytest.mark.parametrize("tool", ["producer", "consumer"])
def test_bench_says_when_the_name_server_cannot_be_reached(tool: str) -> None:
    port = free_port()  # nothing listens on it
    result = run("pocketmq", "bench", tool, "-n", f"127.0.0.1:{port}", "--count", "1")
    assert result.returncode == 1, (result.returncode, result.stdout[-500:], result.stderr[-500:])
    expected = f"name server cannot be reached (cannot connect to 127.0.0.1:{port}"
    assert expected in result.stderr, result.stderr
    assert "Traceback" not in result.stderr and "TPS" not in result.stdout, result.stdout


def test_an_idle_broker_stays_under_64_mb_rss(tmp_path: Path) -> None:
    with running_cluster(tmp_path) as cluster:
        assert cluster.broker is not None
        time.sleep(1.0)  # started, registered, idle
        status = Path(f"/proc/{cluster.broker.process.pid}/status").read_text()
    [rss_kib] = [int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:")]
    print(f"idle mqbroker RSS: {rss_kib / 1024:.1f} MiB")
    assert rss_kib <= 64 * 1024, f"idle mqbroker RSS {rss_kib} KiB is over 64 MiB"
