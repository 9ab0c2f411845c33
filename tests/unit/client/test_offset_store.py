"""Offset stores: the offsets.json format of the Java client, atomic writes, ReadOffsetType."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pocketmq.client.consumer.offset_file import decode_offset_table, encode_offset_table
from pocketmq.client.consumer.offset_store import (
    OFFSET_NOT_FOUND,
    OFFSET_READ_FAILED,
    LocalFileOffsetStore,
    ReadOffsetType,
    RemoteBrokerOffsetStore,
    local_offset_file,
)
from pocketmq.common.errors import ClientError, RequestTimeoutError
from pocketmq.common.message import MessageQueue

Q0 = MessageQueue("TopicTest", "broker-a", 0)
Q1 = MessageQueue("TopicTest", "broker-a", 1)
Q2 = MessageQueue("Other", "broker-b", 2)

# What Java 4.x's LocalFileOffsetStore writes (fastjson PrettyFormat: tabs, inline object keys).
JAVA_FILE = (
    "{\n"
    '\t"offsetTable":{{\n'
    '\t\t\t"brokerName":"broker-a",\n'
    '\t\t\t"queueId":3,\n'
    '\t\t\t"topic":"TopicTest"\n'
    "\t\t}:1470,{\n"
    '\t\t\t"brokerName":"broker-a",\n'
    '\t\t\t"queueId":2,\n'
    '\t\t\t"topic":"TopicTest"\n'
    "\t\t}:1471\n"
    "\t}\n"
    "}"
)


def test_encode_matches_the_java_file() -> None:
    table = {MessageQueue("TopicTest", "broker-a", 3): 1470, MessageQueue("TopicTest", "broker-a", 2): 1471}
    assert encode_offset_table(table) == JAVA_FILE
    assert decode_offset_table(JAVA_FILE) == table


def test_decode_is_lenient() -> None:
    compact = '{"offsetTable":{{"brokerName":"b","queueId":1,"topic":"t"}:9,},"other":[1,{2:"x"},null,true]}'
    assert decode_offset_table(compact) == {MessageQueue("t", "b", 1): 9}
    assert decode_offset_table('{"offsetTable":{}}') == {}
    assert decode_offset_table(encode_offset_table({})) == {}
    with pytest.raises(ValueError, match="character"):
        decode_offset_table('{"offsetTable":{{"brokerName":"b"')
    with pytest.raises(ValueError):
        decode_offset_table("[1, 2]")


@given(
    st.dictionaries(
        st.builds(MessageQueue, st.text(max_size=10), st.text(max_size=10), st.integers(0, 1 << 20)),
        st.integers(0, (1 << 63) - 1),
        max_size=20,
    )
)
def test_encode_decode_round_trip(table: dict[MessageQueue, int]) -> None:
    assert decode_offset_table(encode_offset_table(table)) == table


# --- LocalFileOffsetStore ---------------------------------------------------------------------


def store(tmp_path: Path) -> LocalFileOffsetStore:
    return LocalFileOffsetStore(client_id="127.0.0.1@DEFAULT", consumer_group="g", store_dir=tmp_path)


def test_local_layout_is_javas(tmp_path: Path) -> None:
    assert store(tmp_path).path == tmp_path / "127.0.0.1@DEFAULT" / "g" / "offsets.json"
    assert local_offset_file(tmp_path, "c", "g").name == "offsets.json"


async def test_local_persist_load_and_read_types(tmp_path: Path) -> None:
    first = store(tmp_path)
    first.update_offset(Q0, 10, increase_only=False)
    first.update_offset(Q1, 20, increase_only=False)
    await first.persist_all({Q0})
    assert decode_offset_table(first.path.read_text()) == {Q0: 10}
    await first.persist(Q1)
    assert decode_offset_table(first.path.read_text()) == {Q0: 10, Q1: 20}
    assert first.path.with_name("offsets.json.bak").exists()
    assert not first.path.with_name("offsets.json.tmp").exists()

    second = store(tmp_path)
    assert await second.read_offset(Q0, ReadOffsetType.READ_FROM_MEMORY) == OFFSET_NOT_FOUND
    assert await second.read_offset(Q0, ReadOffsetType.MEMORY_FIRST_THEN_STORE) == 10
    assert await second.read_offset(Q0, ReadOffsetType.READ_FROM_MEMORY) == 10  # cached by the read
    assert await second.read_offset(Q2, ReadOffsetType.READ_FROM_STORE) == OFFSET_NOT_FOUND
    await second.load()
    assert second.clone_offset_table() == {Q0: 10, Q1: 20}
    assert second.clone_offset_table("Other") == {}


async def test_local_persist_keeps_offsets_of_queues_not_held(tmp_path: Path) -> None:
    first = store(tmp_path)
    first.update_offset(Q0, 5, increase_only=False)
    first.update_offset(Q2, 7, increase_only=False)
    await first.persist_all({Q0, Q2})
    second = store(tmp_path)
    second.update_offset(Q0, 6, increase_only=False)
    await second.persist_all({Q0})
    assert decode_offset_table(second.path.read_text()) == {Q0: 6, Q2: 7}


async def test_local_overlapping_persists_keep_a_whole_file(tmp_path: Path) -> None:
    local = store(tmp_path)
    queues = [MessageQueue("T", "b", i) for i in range(8)]
    for i, queue in enumerate(queues):
        local.update_offset(queue, i * 10, increase_only=False)
    await asyncio.gather(*(local.persist(q) for q in queues), local.persist_all(set(queues)))
    assert decode_offset_table(local.path.read_text()) == {q: i * 10 for i, q in enumerate(queues)}


async def test_local_corrupt_file_falls_back_to_bak(tmp_path: Path) -> None:
    first = store(tmp_path)
    first.update_offset(Q0, 1, increase_only=False)
    await first.persist(Q0)
    first.update_offset(Q0, 2, increase_only=False)
    await first.persist(Q0)  # .bak now holds offset 1
    first.path.write_text("{garbage")
    assert await store(tmp_path).read_offset(Q0, ReadOffsetType.READ_FROM_STORE) == 1
    first.path.with_name("offsets.json.bak").write_text("{garbage")
    assert await store(tmp_path).read_offset(Q0, ReadOffsetType.READ_FROM_STORE) == OFFSET_NOT_FOUND


async def test_local_never_talks_to_a_broker(tmp_path: Path) -> None:
    """Broadcasting offsets stay on this machine: the broker-facing call changes nothing."""
    local = store(tmp_path)
    local.update_offset(Q0, 3, increase_only=False)
    await local.update_consume_offset_to_broker(Q0, 1, oneway=False)
    assert local.clone_offset_table() == {Q0: 3}
    assert not local.path.exists()  # nor does it write the file: persist() does


def test_increase_only(tmp_path: Path) -> None:
    local = store(tmp_path)
    local.update_offset(Q0, 10, increase_only=True)
    local.update_offset(Q0, 5, increase_only=True)
    assert local.clone_offset_table() == {Q0: 10}
    local.update_offset(Q0, 5, increase_only=False)
    assert local.clone_offset_table() == {Q0: 5}
    local.remove_offset(Q0)
    assert local.clone_offset_table() == {}


# --- RemoteBrokerOffsetStore ------------------------------------------------------------------


class FakeBroker:
    def __init__(self) -> None:
        self.offsets: dict[MessageQueue, int] = {}
        self.commits: list[tuple[MessageQueue, int, bool]] = []
        self.down = False

    async def query(self, queue: MessageQueue) -> int:
        if self.down:
            raise RequestTimeoutError("no answer in 5000 ms")
        if queue not in self.offsets:
            raise ClientError(22, "Not found, V3_0_6_SNAPSHOT maybe this group consumer boot first")
        return self.offsets[queue]

    async def commit(self, queue: MessageQueue, offset: int, oneway: bool) -> None:
        if self.down:
            raise RequestTimeoutError("no answer in 5000 ms")
        self.commits.append((queue, offset, oneway))
        self.offsets[queue] = offset


def remote(broker: FakeBroker) -> RemoteBrokerOffsetStore:
    return RemoteBrokerOffsetStore(consumer_group="g", query_offset=broker.query, commit_offset=broker.commit)


async def test_remote_read_offset_types() -> None:
    broker = FakeBroker()
    broker.offsets[Q0] = 42
    offsets = remote(broker)
    assert await offsets.read_offset(Q0, ReadOffsetType.READ_FROM_MEMORY) == OFFSET_NOT_FOUND
    assert await offsets.read_offset(Q0, ReadOffsetType.MEMORY_FIRST_THEN_STORE) == 42
    offsets.update_offset(Q0, 50, increase_only=True)
    assert await offsets.read_offset(Q0, ReadOffsetType.MEMORY_FIRST_THEN_STORE) == 50
    assert await offsets.read_offset(Q0, ReadOffsetType.READ_FROM_STORE) == 42  # the store wins
    assert await offsets.read_offset(Q1, ReadOffsetType.READ_FROM_STORE) == OFFSET_NOT_FOUND
    broker.down = True
    assert await offsets.read_offset(Q1, ReadOffsetType.READ_FROM_STORE) == OFFSET_READ_FAILED


async def test_remote_persist_all_commits_oneway_and_forgets_unused() -> None:
    broker = FakeBroker()
    offsets = remote(broker)
    offsets.update_offset(Q0, 3, increase_only=False)
    offsets.update_offset(Q1, 4, increase_only=False)
    await offsets.persist_all({Q0})
    assert broker.commits == [(Q0, 3, True)]
    assert offsets.clone_offset_table() == {Q0: 3}
    await offsets.persist(Q0)
    await offsets.update_consume_offset_to_broker(Q0, 9, oneway=False)
    assert broker.commits[-1] == (Q0, 9, False)
    broker.down = True
    await offsets.persist(Q0)  # logged, not raised
    with pytest.raises(RequestTimeoutError):
        await offsets.update_consume_offset_to_broker(Q0, 9, oneway=False)
