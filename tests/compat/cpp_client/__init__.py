"""Drives the official Apache RocketMQ Python client (C++ core) against pocketmq.

`rocketmq-client-python` 2.0.0 wraps `librocketmq.so`, which ships in the PyPI package
`rocketmq-python-cvs` 2.1.0.3. `ensure_cpp_client()` builds a separate virtual environment,
`.venv-cpp/` at the repository root, installs the former and copies the library from the latter
into it. The scripts beside this file run inside that environment and print one JSON object per
line, so the tests read what the official client saw.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[3]
VENV = ROOT / ".venv-cpp"
SCRIPTS = Path(__file__).resolve().parent
CLIENT_PACKAGE = "rocketmq-client-python==2.0.0"
LIBRARY_PACKAGE = "rocketmq-python-cvs==2.1.0.3"

__all__ = ["CppClientUnavailableError", "ensure_cpp_client", "run_script", "start_script", "read_json_lines"]


class CppClientUnavailableError(RuntimeError):
    """The official client could not be installed (no registry access, or an unsupported platform)."""


def _python() -> Path:
    return VENV / "bin" / "python"


def ensure_cpp_client() -> Path:
    """Return the interpreter of the environment holding the official client, building it once."""
    stamp = VENV / ".ready"
    if stamp.exists():
        return _python()
    if VENV.exists():
        shutil.rmtree(VENV)
    try:
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True, capture_output=True)
        pip = [str(_python()), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
        subprocess.run([*pip, "--no-deps", CLIENT_PACKAGE], check=True, capture_output=True, timeout=300)
        with tempfile.TemporaryDirectory() as download_dir:
            subprocess.run(
                [
                    str(_python()),
                    "-m",
                    "pip",
                    "download",
                    "--quiet",
                    "--no-deps",
                    "-d",
                    download_dir,
                    LIBRARY_PACKAGE,
                ],
                check=True,
                capture_output=True,
                timeout=300,
            )
            archive = next(Path(download_dir).glob("rocketmq*python*cvs*"))
            package_dir = Path(
                subprocess.run(
                    [
                        str(_python()),
                        "-c",
                        "import os, importlib.util as u;"
                        "print(os.path.dirname(u.find_spec('rocketmq').origin))",
                    ],
                    check=True,
                    capture_output=True,
                    text=True,
                ).stdout.strip()
            )
            with tarfile.open(archive) as tar:
                member = next(m for m in tar.getmembers() if m.name.endswith("rocketmq/librocketmq.so"))
                source = tar.extractfile(member)
                assert source is not None
                (package_dir / "librocketmq.so").write_bytes(source.read())
        subprocess.run([str(_python()), "-c", "import rocketmq.client"], check=True, capture_output=True)
    except (subprocess.SubprocessError, StopIteration, OSError) as error:
        detail = getattr(error, "stderr", b"") or b""
        raise CppClientUnavailableError(
            f"could not install the official RocketMQ Python client into {VENV}: {error} "
            f"{detail.decode(errors='replace')[-2000:]}"
        ) from error
    stamp.write_text("ok\n")
    return _python()


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    # The C++ core writes its logs (and a broadcasting consumer its offsets) under $HOME. Each
    # process gets a HOME of its own: two cores starting at once in one HOME can trip over each
    # other's log files, and nothing belongs in the user's home.
    home = Path(tempfile.mkdtemp(prefix="home-", dir=VENV))
    env["HOME"] = str(home)
    return env


def run_script(name: str, args: Sequence[str], timeout_s: float = 120) -> list[dict[str, Any]]:
    """Run `<name>.py` under the official client and return the JSON objects it printed."""
    result = subprocess.run(
        [str(ensure_cpp_client()), str(SCRIPTS / f"{name}.py"), *args],
        capture_output=True,
        text=True,
        timeout=timeout_s,
        env=_env(),
        check=False,
    )
    if result.returncode != 0:
        raise AssertionError(
            f"{name}.py exited {result.returncode}\n"
            f"stdout:\n{result.stdout[-4000:]}\nstderr:\n{result.stderr[-4000:]}"
        )
    return list(read_json_lines(result.stdout.splitlines()))


def start_script(name: str, args: Sequence[str]) -> subprocess.Popen[str]:
    """Start `<name>.py` under the official client in the background (stdout: JSON lines)."""
    return subprocess.Popen(
        [str(ensure_cpp_client()), str(SCRIPTS / f"{name}.py"), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(),
    )


def read_json_lines(lines: Sequence[str]) -> Iterator[dict[str, Any]]:
    for raw in lines:
        line = raw.strip()
        if line.startswith("{"):
            yield json.loads(line)
