"""ConfigFile: fastjson-compatible text, lenient parsing, .bak fallback and crash-safe replacement."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pocketmq.store.config_file import ConfigFile, dumps_fastjson_pretty, loads_lenient

from .conftest import GOLDEN_CONFIG

ROOT = Path(__file__).resolve().parents[3]


def _int_keys(value: object) -> object:
    if isinstance(value, dict):
        return {(int(k) if k.lstrip("-").isdigit() else k): _int_keys(v) for k, v in value.items()}
    return value


@pytest.mark.parametrize(
    "name", sorted(p.name for p in GOLDEN_CONFIG.iterdir()) if GOLDEN_CONFIG.is_dir() else []
)
def test_golden_files_parse_and_rewrite_byte_identically(name: str) -> None:
    text = (GOLDEN_CONFIG / name).read_text(encoding="utf-8")
    document = loads_lenient(text)
    assert dumps_fastjson_pretty(_int_keys(document)) == text  # type: ignore[arg-type]


def test_lenient_parse_quotes_bare_integer_keys_only_outside_strings() -> None:
    text = '{"offsetTable":{"a,1:b@g":{0:3, 12 :4,-1:5}},"s":"{7:8}"}'
    assert loads_lenient(text) == {"offsetTable": {"a,1:b@g": {"0": 3, "12": 4, "-1": 5}}, "s": "{7:8}"}


def test_lenient_parse_keeps_escaped_quotes_in_strings() -> None:
    text = r'{"k\"{1:2}":{3:4}}'
    assert loads_lenient(text) == {'k"{1:2}': {"3": 4}}


def test_writer_leaves_out_nulls_and_writes_empty_maps_inline() -> None:
    assert dumps_fastjson_pretty({"a": None, "b": {}, "c": [1, 2], "d": "ü\n"}) == (
        '{\n\t"b":{},\n\t"c":[1,2],\n\t"d":"ü\\n"\n}'
    )


json_keys = st.one_of(st.text(max_size=8), st.integers(min_value=-(2**31), max_value=2**31 - 1))
json_scalars = st.one_of(st.booleans(), st.integers(), st.text(max_size=12))
json_documents = st.recursive(
    json_scalars,
    lambda children: st.dictionaries(json_keys, children, max_size=4),
    max_leaves=12,
)


@given(st.dictionaries(st.text(max_size=8), json_documents, max_size=4))
def test_written_documents_read_back(document: dict[str, object]) -> None:
    def stringify(value: object) -> object:
        if isinstance(value, dict):
            return {str(k): stringify(v) for k, v in value.items()}
        return value

    text = dumps_fastjson_pretty(document)
    assert loads_lenient(text) == stringify(document)
    assert json.loads(json.dumps(loads_lenient(text))) == stringify(document)


def test_save_keeps_the_previous_version_as_bak(tmp_path: Path) -> None:
    config = ConfigFile(tmp_path / "config" / "topics.json")
    assert config.load() is None and config.loaded_from is None
    config.save({"v": 1})
    assert not config.backup_path.exists()
    config.save({"v": 2})
    config.save({"v": 3})
    assert config.load() == {"v": 3} and config.loaded_from == config.path
    assert loads_lenient(config.backup_path.read_text()) == {"v": 2}
    assert not config.temp_path.exists()


@pytest.mark.parametrize("damage", ["missing", "empty", "torn", "garbage"])
def test_load_falls_back_to_bak(tmp_path: Path, damage: str) -> None:
    config = ConfigFile(tmp_path / "consumerOffset.json")
    config.save({"offsetTable": {"t@g": {0: 1}}})
    config.save({"offsetTable": {"t@g": {0: 2}}})
    text = config.path.read_text()
    if damage == "missing":
        config.path.unlink()
    elif damage == "empty":
        config.path.write_text("")
    elif damage == "torn":
        config.path.write_text(text[: len(text) // 2])
    else:
        config.path.write_bytes(b"\xff\x00not json")
    assert config.load() == {"offsetTable": {"t@g": {"0": 1}}}
    assert config.loaded_from == config.backup_path
    assert config.load_problem is not None and str(config.path) in config.load_problem


def test_a_damaged_main_file_does_not_overwrite_a_good_backup(tmp_path: Path) -> None:
    config = ConfigFile(tmp_path / "topics.json")
    config.save({"v": 1})
    config.save({"v": 2})
    config.path.write_text('{"v": 2, "tor')
    config.save({"v": 3})
    assert loads_lenient(config.backup_path.read_text()) == {"v": 1}
    assert config.load() == {"v": 3}


_CRASHER = textwrap.dedent(
    """
    import os, sys, time
    from pocketmq.store import config_file

    stage = sys.argv[2]
    real_replace = os.replace

    def replace(source, target):
        if (stage == "before_backup_rename" and str(target).endswith(".bak")) or (
            stage == "before_main_rename" and not str(target).endswith(".bak")
        ):
            print("READY", flush=True)
            time.sleep(60)
        real_replace(source, target)

    config_file.os.replace = replace
    config_file.ConfigFile(sys.argv[1]).save({"version": 2, "pad": "x" * 100000})
    """
)


@pytest.mark.parametrize("stage", ["before_backup_rename", "before_main_rename"])
def test_a_process_killed_mid_save_leaves_a_loadable_file(tmp_path: Path, stage: str) -> None:
    path = tmp_path / "subscriptionGroup.json"
    config = ConfigFile(path)
    config.save({"version": 0})
    config.save({"version": 1})
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    process = subprocess.Popen(
        [sys.executable, "-c", _CRASHER, str(path), stage], stdout=subprocess.PIPE, env=env, text=True
    )
    try:
        assert process.stdout is not None
        assert process.stdout.readline().strip() == "READY"
        os.kill(process.pid, signal.SIGKILL)
    finally:
        process.wait(timeout=10)
    assert process.returncode == -signal.SIGKILL
    # The scratch file holds the complete new version, but the switch never happened.
    assert loads_lenient(config.temp_path.read_text())["version"] == 2
    assert ConfigFile(path).load() == {"version": 1}
    # The next save completes normally over the leftovers.
    config.save({"version": 3})
    assert ConfigFile(path).load() == {"version": 3}
    assert loads_lenient(config.backup_path.read_text()) == {"version": 1}
