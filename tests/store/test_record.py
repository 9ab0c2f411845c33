"""CommitLog record layout: round trips, byte-by-byte prefixes, hosts, blank records, checks."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pocketmq.common.errors import CorruptionError
from pocketmq.common.message import MessageExt, properties_to_string
from pocketmq.common.sysflag import BORNHOST_V6, STOREHOSTADDRESS_V6
from pocketmq.store.commit_log.record import (
    BLANK_MAGIC,
    BLANK_RECORD,
    RECORD_FIXED_V4,
    RECORD_HEAD,
    body_crc,
    check_record,
    decode_record,
    decode_records,
    encode_record,
    read_store_timestamp,
    record_properties,
    record_size,
)

prop_text = st.text(
    alphabet=st.characters(blacklist_characters="\x01\x02", blacklist_categories=("Cs",)), max_size=12
)
hosts = st.sampled_from([("127.0.0.1", 10911), ("10.0.0.2", 1), ("fd00::2", 65535), ("::1", 8080)])


def sample(**overrides: object) -> MessageExt:
    values: dict[str, object] = {
        "topic": "TopicA",
        "body": b"body bytes",
        "flag": 7,
        "properties": {"TAGS": "TagA", "KEYS": "k1 k2", "city": "Zürich"},
        "queue_id": 3,
        "queue_offset": 42,
        "commit_log_offset": 4096,
        "sys_flag": 0,
        "born_timestamp": 1_795_589_846_896,
        "born_host": ("127.0.0.1", 35434),
        "store_timestamp": 1_795_589_846_927,
        "store_host": ("127.0.0.1", 10911),
        "reconsume_times": 2,
        "prepared_transaction_offset": 99,
    }
    values.update(overrides)
    return MessageExt(**values)  # type: ignore[arg-type]


def test_layout_sizes() -> None:
    assert RECORD_HEAD.size == 48
    assert RECORD_FIXED_V4.size == 88
    assert record_size(0, 0, 0) == 91
    assert record_size(0, 0, 0, BORNHOST_V6 | STOREHOSTADDRESS_V6) == 115


def test_round_trip_fields() -> None:
    message = sample()
    record = encode_record(message)
    assert len(record) == record_size(
        len(message.body), 6, len(properties_to_string(message.properties).encode())
    )
    decoded = decode_record(record)
    assert decoded.body_crc == body_crc(message.body)
    assert decoded.store_size == len(record)
    for name in ("topic", "body", "flag", "properties", "queue_id", "queue_offset", "commit_log_offset"):
        assert getattr(decoded, name) == getattr(message, name)
    assert decoded.born_host == message.born_host and decoded.store_host == message.store_host
    assert decoded.msg_id == "7F00000100002A9F0000000000001000"
    assert read_store_timestamp(record, 0) == message.store_timestamp
    assert record_properties(record) == message.properties


@given(
    topic=st.text(alphabet="abcXYZ%_-|0123456789", min_size=1, max_size=127),
    body=st.binary(max_size=300),
    properties=st.dictionaries(prop_text.filter(bool), prop_text, max_size=5),
    born=hosts,
    store=hosts,
    numbers=st.tuples(
        st.integers(0, 2**31 - 1), st.integers(0, 2**62), st.integers(0, 2**62), st.integers(0, 2**31 - 1)
    ),
)
@settings(max_examples=150, deadline=None)
def test_round_trip_property(  # noqa: PLR0917
    topic: str,
    body: bytes,
    properties: dict[str, str],
    born: tuple[str, int],
    store: tuple[str, int],
    numbers: tuple[int, int, int, int],
) -> None:
    queue_id, queue_offset, commit_log_offset, flag = numbers
    message = sample(
        topic=topic,
        body=body,
        properties=properties,
        born_host=born,
        store_host=store,
        queue_id=queue_id,
        queue_offset=queue_offset,
        commit_log_offset=commit_log_offset,
        flag=flag,
    )
    record = encode_record(message)
    decoded = decode_record(record)
    assert (decoded.topic, decoded.body, decoded.properties) == (topic, body, properties)
    assert (decoded.born_host, decoded.store_host) == (born, store)
    assert (decoded.queue_id, decoded.queue_offset, decoded.commit_log_offset) == numbers[:3]
    assert bool(decoded.sys_flag & BORNHOST_V6) == (":" in born[0])
    info = check_record(record, 0, len(record))
    assert info.size == len(record) and info.topic == topic


def test_every_prefix_is_refused_and_the_whole_decodes() -> None:
    record = encode_record(sample(born_host=("fd00::2", 1)))
    for cut in range(len(record)):
        with pytest.raises(CorruptionError):
            decode_record(record[:cut])
        assert check_record(record[:cut], 0, cut).size <= 0
    assert decode_record(record).born_host == ("fd00::2", 1)


def test_decode_records_skips_blank_and_refuses_a_torn_one() -> None:
    first = encode_record(sample())
    second = encode_record(sample(commit_log_offset=4096 + len(first), body=b"x" * 100))
    blank = BLANK_RECORD.pack(16, BLANK_MAGIC) + bytes(8)
    messages = decode_records(first + second + blank)
    assert [m.body for m in messages] == [b"body bytes", b"x" * 100]
    with pytest.raises(CorruptionError):
        decode_records(first + second[:50])
    assert decode_records(memoryview(first)) and decode_records(bytearray(first))


def test_check_record_catches_flips() -> None:
    record = bytearray(encode_record(sample()))
    assert check_record(bytes(record), 0, len(record)).size == len(record)
    flipped = bytearray(record)
    flipped[90] ^= 0x01  # inside the body: CRC
    info = check_record(bytes(flipped), 0, len(flipped))
    assert info.size == -1 and "CRC" in info.error
    assert check_record(bytes(flipped), 0, len(flipped), check_crc=False).size == len(record)
    flipped = bytearray(record)
    flipped[5] ^= 0xFF  # magic
    assert check_record(bytes(flipped), 0, len(flipped)).size == -1
    flipped = bytearray(record)
    flipped[3] ^= 0x40  # total size
    assert check_record(bytes(flipped), 0, len(flipped)).size == -1
    assert check_record(bytes(64), 0, 64).size == 0  # zeros: end of data
    blank = BLANK_RECORD.pack(40, BLANK_MAGIC) + bytes(32)
    assert check_record(blank, 0, 40).blank
    assert check_record(blank, 0, 48).size == -1  # blank must fill the rest of the segment
