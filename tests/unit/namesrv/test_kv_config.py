"""KVConfig: namespaced settings, the kvConfig.json format and the atomic write."""

from __future__ import annotations

from pathlib import Path

import pytest

from pocketmq.common.errors import CorruptionError
from pocketmq.namesrv.kv_config import KVConfig, KVLimits, load_kv_config, write_file_atomically
from pocketmq.protocol.bodies.route import KVTable


def test_put_get_delete_and_namespaces() -> None:
    kv = KVConfig()
    assert kv.get("ns", "k") is None
    assert kv.namespace("ns") is None
    kv.put("ns", "k", "v1")
    kv.put("ns", "k", "v2")
    kv.put("ns", "other", "x")
    assert kv.get("ns", "k") == "v2"
    assert kv.namespace("ns") == KVTable(table={"k": "v2", "other": "x"})
    assert kv.delete("ns", "k")
    assert not kv.delete("ns", "k")
    assert not kv.delete("nothing", "k")
    kv.delete("ns", "other")
    assert kv.namespace("ns") == KVTable(table={})  # Java keeps the emptied namespace
    assert kv.namespaces() == ["ns"]


def test_render_is_the_java_file_format_and_parses_back() -> None:
    kv = KVConfig()
    kv.put("ORDER_TOPIC_CONFIG", "TopicOrder", "broker-a:4;broker-b:4")
    kv.put("ns", "ключ", "значение")
    content = kv.render()
    assert (
        content
        == (
            '{"configTable":{"ORDER_TOPIC_CONFIG":{"TopicOrder":"broker-a:4;broker-b:4"},'
            '"ns":{"ключ":"значение"}}}'
        ).encode()
    )
    assert KVConfig.parse(content).render() == content


def test_load_reads_a_java_written_file(tmp_path: Path) -> None:
    path = tmp_path / "kvConfig.json"
    path.write_text('{\n\t"configTable":{\n\t\t"ns":{\n\t\t\t"a":"1"\n\t\t}\n\t}\n}', encoding="utf-8")
    assert load_kv_config(path).get("ns", "a") == "1"


def test_missing_file_is_empty_and_malformed_file_is_refused(tmp_path: Path) -> None:
    assert load_kv_config(tmp_path / "absent.json").namespaces() == []
    (tmp_path / "empty.json").write_bytes(b"")
    assert load_kv_config(tmp_path / "empty.json").namespaces() == []
    for index, junk in enumerate([b"{", b"[]", b'{"configTable":[]}', b'{"configTable":{"ns":3}}']):
        path = tmp_path / f"bad{index}.json"
        path.write_bytes(junk)
        with pytest.raises(CorruptionError, match=str(path)):
            load_kv_config(path)


def test_atomic_write_keeps_the_previous_content_as_bak(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "kvConfig.json"
    write_file_atomically(path, b"first")
    assert path.read_bytes() == b"first"
    assert not path.with_name("kvConfig.json.bak").exists()
    write_file_atomically(path, b"second")
    assert path.read_bytes() == b"second"
    assert path.with_name("kvConfig.json.bak").read_bytes() == b"first"
    assert not path.with_name("kvConfig.json.tmp").exists()


def test_limits() -> None:
    kv = KVConfig(
        limits=KVLimits(namespaces_max=1, entries_per_namespace_max=1, key_chars_max=3, value_chars_max=3)
    )
    assert kv.refusal("ns", "k", "v") is None
    kv.put("ns", "k", "v")
    assert kv.refusal("ns", "k", "new") is None  # replacing is fine
    assert kv.refusal("ns", "k2", "v") is not None
    assert kv.refusal("ns2", "k", "v") is not None
    assert kv.refusal("ns", "long", "v") is not None
    assert kv.refusal("ns", "k", "long") is not None
