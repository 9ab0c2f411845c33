"""The put path: the C accelerator (`_speedups.PutPath`) and its pure-Python twin write the same
bytes (every file of the store directory) and return the same results; and which one is active."""

from __future__ import annotations

import os
import shutil
import struct
import sysconfig
import tempfile
import zlib
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pocketmq.common.clock import FakeClock
from pocketmq.common.message import MessageExt, properties_to_string
from pocketmq.store import put_path
from pocketmq.store.message_store import MessageStore
from pocketmq.store.results import PutMessageResult
from tests.store.conftest import make_message, tiny_config

needs_c = pytest.mark.skipif(not put_path.accelerator_available(), reason="C put path not built")

_value = st.text(
    alphabet=st.characters(blacklist_characters="\x01\x02", blacklist_categories=("Cs",)), max_size=12
)
_keys = st.lists(st.sampled_from(["k1", "order-7", "键", "\U0001f680x", "", "a b"]), max_size=4).map(" ".join)


@st.composite
def messages(draw: st.DrawFn) -> tuple[MessageExt, bool, int]:
    """A message, whether to pass its properties string, and how far the clock moves first."""
    properties: dict[str, str] = {}
    if draw(st.booleans()):
        properties["TAGS"] = draw(st.sampled_from(["TagA", "", "标签", "\U0001f680"]))
    if draw(st.booleans()):
        properties["KEYS"] = draw(_keys)
    if draw(st.integers(0, 3)):
        properties["UNIQ_KEY"] = (
            "0A0000070C1A"
            + draw(st.sampled_from(["", "18B4AAC2"]))
            + draw(st.text(alphabet="0123456789ABCDEF", min_size=0, max_size=14))
        )
    if draw(st.integers(0, 9)) == 0:
        properties["DELAY"] = draw(st.sampled_from(["1", "3", "0", "x"]))
    if draw(st.booleans()):
        properties["extra"] = draw(_value)
    message = MessageExt(
        topic=draw(st.sampled_from(["TopicA", "TopicB", "主题", "T\U0001f680", "SCHEDULE_TOPIC_XXXX"])),
        body=draw(st.one_of(st.binary(max_size=300), st.binary(min_size=500, max_size=1200))),
        flag=draw(st.integers(-(2**31), 2**31 - 1)),
        queue_id=draw(st.integers(0, 3)),
        properties=properties,
        sys_flag=draw(st.sampled_from([0, 0, 0, 0x4, 0x8, 0xC, 0x1])),
        born_timestamp=draw(st.integers(0, 2**62)),
        born_host=draw(st.sampled_from([("10.0.0.7", 50000), ("10.0.0.8", 1), ("::1", 7)])),
        reconsume_times=draw(st.integers(0, 16)),
        prepared_transaction_offset=draw(st.integers(0, 2**40)),
    )
    return message, draw(st.booleans()), draw(st.sampled_from([0, 0, 1, 999, 1000, 250_000]))


def _run(root: Path, batch: list[tuple[MessageExt, bool, int]], *, accelerated: bool) -> list[str]:
    """Put `batch`; the results as text, and last the number of puts the general path took."""
    clock = FakeClock(1_800_000_000_000)
    config = tiny_config(root, commit_log_file_bytes=4096, index_hash_slot_count=7, index_entry_count=9)
    store = MessageStore(config, clock=clock, accelerated=accelerated)
    store.open()
    appender = store._appender
    general = appender.append_general
    general_puts = 0

    def counting(message: MessageExt, properties_string: str | None) -> PutMessageResult:
        nonlocal general_puts
        general_puts += 1
        return general(message, properties_string)

    appender.append_general = counting  # type: ignore[method-assign]
    outcomes = []
    for message, with_string, advance in batch:
        clock.advance(advance)
        text = properties_to_string(message.properties) if with_string else None
        result: PutMessageResult = store.append_message(message, properties_string=text)
        outcomes.append(f"{result!r} {result.store_timestamp} {result.msg_id}")
    store.flush_now()
    store.close()
    return [*outcomes, f"general path: {general_puts}"]


def _files(root: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(root)): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file() and path.name not in ("lock", "abort")
    }


@needs_c
@given(st.lists(messages(), min_size=1, max_size=60))
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_c_and_python_put_paths_write_identical_stores(batch: list[tuple[MessageExt, bool, int]]) -> None:
    scratch = Path(tempfile.mkdtemp(prefix="put-path-"))
    try:
        python_results = _run(scratch / "python", batch, accelerated=False)
        c_results = _run(scratch / "c", batch, accelerated=True)
        # (Which puts took the general path may differ: the host cache is shared by both runs.)
        assert c_results[:-1] == python_results[:-1]
        python_files = _files(scratch / "python")
        c_files = _files(scratch / "c")
        assert sorted(c_files) == sorted(python_files)
        for name, data in python_files.items():
            assert c_files[name] == data, name
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


@needs_c
def test_many_puts_identical_across_rolls(tmp_path: Path) -> None:
    """Hundreds of common messages: CommitLog segments, ConsumeQueue files and index files roll."""
    batch = []
    for i in range(600):
        properties = {"UNIQ_KEY": f"0A000007{i:024X}", "TAGS": f"Tag{i % 3}", "KEYS": f"k{i} o{i % 5}"}
        batch.append(
            (
                MessageExt(
                    topic=f"Topic{i % 2}",
                    body=bytes([i % 251]) * (i % 200 if i % 5 else 600 + i),
                    queue_id=i % 3,
                    properties=properties,
                    born_timestamp=i,
                    born_host=("10.0.0.7", 50000),
                ),
                i % 2 == 0,
                i % 7 * 400,
            )
        )
    c_results = _run(tmp_path / "c", batch, accelerated=True)
    assert c_results == _run(tmp_path / "p", batch, accelerated=False)
    assert c_results[-1] == "general path: 2"  # the first put of each topic; the rest took the fast path
    assert _files(tmp_path / "c") == _files(tmp_path / "p")


def _toolchain_present() -> bool:
    include = sysconfig.get_paths().get("include", "")
    return bool(shutil.which("cc") or shutil.which("gcc")) and (Path(include) / "Python.h").exists()


def test_which_put_path_is_active(tmp_path: Path) -> None:
    """Says which put path this installation uses; with a C compiler and the Python headers
    present, `pip install -e .` must have built the C one (an optional extension whose build
    failed would silently fall back)."""
    store = MessageStore(tiny_config(tmp_path))
    active = "c" if type(store._appender.put_path) is not put_path.PutPath else "python"
    print(f"put path: {active} (available: {', '.join(put_path.PUT_PATH_IMPLEMENTATIONS)})")
    forced_pure = os.environ.get("POCKETMQ_PURE_PYTHON") == "1"
    if _toolchain_present():
        assert put_path.accelerator_available(), "a C toolchain is present but _speedups was not built"
    assert active == ("c" if put_path.accelerator_available() and not forced_pure else "python")


@needs_c
def test_c_helpers_match_python() -> None:
    from pocketmq.common.java_hash import java_string_hash
    from pocketmq.store import _speedups

    for text in ["", "TagA", "主题#键", "\U0001f680", "a" * 1000]:
        assert _speedups.java_string_hash(text) == java_string_hash(text)
    for data in [b"", b"x", bytes(range(256)) * 9]:
        assert _speedups.crc32(data) == zlib.crc32(data)


@pytest.mark.parametrize("accelerated", [True, False])
def test_failed_encode_reserves_no_queue_offset(tmp_path: Path, accelerated: bool) -> None:
    """A record that cannot be encoded (a flag beyond int32) raises and leaves no gap in the queue."""
    store = MessageStore(tiny_config(tmp_path), accelerated=accelerated)
    store.open()
    assert store.append_message(make_message()).queue_offset == 0
    bad = make_message()
    bad.flag = 1 << 40
    with pytest.raises(struct.error):
        store.append_message(bad)
    assert store.append_message(make_message()).queue_offset == 1
    assert store.get_max_offset_in_queue("TopicT", 0) == 2
    store.close()


@needs_c
def test_keys_of_blanks_only_change_no_index_header(tmp_path: Path) -> None:
    """Found by the property test: KEYS of blanks only made the C path move the index file's end
    offset although no entry was written."""

    def message(properties: dict[str, str]) -> tuple[MessageExt, bool, int]:
        return (
            MessageExt(topic="TopicA", body=b"", properties=properties, born_host=("10.0.0.7", 50000)),
            False,
            0,
        )

    batch = [message({"UNIQ_KEY": "0A0000070C1A"}), message({"KEYS": " "}), message({"KEYS": "  "})]
    assert (
        _run(tmp_path / "c", batch, accelerated=True)[:-1]
        == _run(tmp_path / "py", batch, accelerated=False)[:-1]
    )
    assert _files(tmp_path / "c") == _files(tmp_path / "py")
