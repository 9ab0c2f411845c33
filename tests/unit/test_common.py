"""common/: properties strings, Java hashes, message ids, topic names."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pocketmq.common.java_hash import index_key_hash, java_string_hash
from pocketmq.common.message import (
    Message,
    MessageConst,
    MessageQueue,
    properties_to_string,
    string_to_properties,
)
from pocketmq.common.message_id import (
    UniqIdGenerator,
    create_offset_msg_id,
    decode_offset_msg_id,
)
from pocketmq.common.topic import validate_topic

_names = st.text(
    alphabet=st.characters(blacklist_characters="\x01\x02", blacklist_categories=("Cs",)), min_size=1
)
_values = st.text(alphabet=st.characters(blacklist_characters="\x01\x02", blacklist_categories=("Cs",)))


@given(st.dictionaries(_names, _values))
def test_properties_round_trip(properties: dict[str, str]) -> None:
    assert string_to_properties(properties_to_string(properties)) == properties


def test_properties_accept_a_trailing_separator() -> None:
    assert string_to_properties("TAGS\x01a\x02KEYS\x01k1 k2\x02") == {"TAGS": "a", "KEYS": "k1 k2"}
    assert properties_to_string({"TAGS": "a", "KEYS": "k"}) == "TAGS\x01a\x02KEYS\x01k"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", 0),
        ("TagA", 2598919),
        ("hello", 99162322),
        ("ü", 252),
        ("🚀", 0xD83D * 31 + 0xDE80),  # one non-BMP character counts as two UTF-16 units
        ("polygenelubricants", -(2**31)),
    ],
)
def test_java_string_hash_matches_java(text: str, expected: int) -> None:
    assert java_string_hash(text) == expected


def test_index_key_hash_is_non_negative() -> None:
    assert index_key_hash("polygenelubricants") == 0  # Java hashCode is Integer.MIN_VALUE
    assert index_key_hash("hello") == 99162322


def test_offset_msg_id_matches_the_golden_example() -> None:
    assert create_offset_msg_id("127.0.0.1", 10911, 0) == "7F00000100002A9F0000000000000000"
    decoded = decode_offset_msg_id("7F00000100002A9F00000000000002B0")
    assert (decoded.host, decoded.port, decoded.commit_log_offset) == ("127.0.0.1", 10911, 0x2B0)


def test_offset_msg_id_ipv6_and_bad_input() -> None:
    msg_id = create_offset_msg_id("fd00::2", 10911, 1234)
    assert len(msg_id) == 56
    assert decode_offset_msg_id(msg_id).commit_log_offset == 1234
    with pytest.raises(ValueError, match="32"):
        decode_offset_msg_id("ABC")


def test_uniq_ids_are_unique_and_32_chars() -> None:
    generator = UniqIdGenerator("127.0.0.1")
    ids = {generator.next_id() for _ in range(10_000)}
    assert len(ids) == 10_000
    assert all(len(i) == 32 and i.startswith("7F000001") for i in ids)


def test_message_helpers() -> None:
    message = Message("T", b"x", tags="TagA", keys=["k1", "k2"], delay_time_level=3)
    assert message.properties == {"TAGS": "TagA", "KEYS": "k1 k2", MessageConst.DELAY_TIME_LEVEL: "3"}
    assert MessageQueue("T", "b", 1) < MessageQueue("T", "b", 2)


@pytest.mark.parametrize(
    ("topic", "ok"),
    [("GoldenTopicA", True), ("%RETRY%g-1", True), ("a b", False), ("", False), ("x" * 128, False)],
)
def test_validate_topic(topic: str, ok: bool) -> None:
    assert (validate_topic(topic) is None) is ok
