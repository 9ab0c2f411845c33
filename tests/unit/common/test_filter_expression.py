"""Tag expressions and SubscriptionData: parsing, hash-code matching and the exact client check."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pocketmq.common.filter_expression import (
    SUB_ALL,
    ExpressionType,
    SubscriptionData,
    build_subscription_data,
    is_tag_type,
    parse_tag_expression,
)
from pocketmq.common.java_hash import java_string_hash


@pytest.mark.parametrize(
    ("expression", "tags"),
    [
        (None, None),
        ("", None),
        ("*", None),
        ("TagA", ("TagA",)),
        ("TagA || TagB", ("TagA", "TagB")),
        ("  TagA||TagB  ||   TagC ", ("TagA", "TagB", "TagC")),
        ("TagA || || TagA", ("TagA",)),
        ("A || *", ("A", "*")),
        ("tagA || TagA", ("tagA", "TagA")),
        ("   ", ()),
    ],
)
def test_parse_tag_expression(expression: str | None, tags: tuple[str, ...] | None) -> None:
    assert parse_tag_expression(expression) == tags


def test_tag_type() -> None:
    assert is_tag_type(None) and is_tag_type("") and is_tag_type("TAG")
    assert not is_tag_type("SQL92")


def test_build_keeps_hash_codes_of_the_tags() -> None:
    data = build_subscription_data("T", "TagA || TagB", sub_version=7)
    assert data.tags_set == {"TagA", "TagB"}
    assert data.code_set == {java_string_hash("TagA"), java_string_hash("TagB")}
    assert data.sub_version == 7 and data.expression_type == ExpressionType.TAG
    everything = build_subscription_data("T", None)
    assert everything.sub_string == SUB_ALL and everything.subscribes_all


def test_sql92_subscription_keeps_the_text() -> None:
    data = build_subscription_data("T", "a > 1", ExpressionType.SQL92)
    assert data.sub_string == "a > 1" and not data.tags_set and not data.is_tag_type
    assert data.matches_tags_code(123) and data.matches_tag("anything")
    with pytest.raises(ValueError, match="needs an expression"):
        build_subscription_data("T", "", ExpressionType.SQL92)


def test_broker_and_client_checks() -> None:
    data = build_subscription_data("T", "TagA || TagB")
    assert data.matches_tags_code(java_string_hash("TagA"))
    assert not data.matches_tags_code(java_string_hash("TagC"))
    assert data.matches_tags_code(None)  # no tags code known: pass, as Java
    assert data.matches_tag("TagB")
    assert not data.matches_tag("tagb")  # case-sensitive
    assert not data.matches_tag(None)  # a message without a tag is not delivered
    everything = build_subscription_data("T", "*")
    assert everything.matches_tags_code(42) and everything.matches_tag(None)


def test_tags_code_is_compared_as_java_int() -> None:
    data = build_subscription_data("T", "TagA")
    code = java_string_hash("TagA")
    assert data.matches_tags_code(code & 0xFFFFFFFF)  # an int64 unit holding the same 32 bits


def _colliding_pair() -> tuple[str, str]:
    """Two different tags with the same Java hash, found by search rather than taken on faith."""
    seen: dict[int, str] = {}
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
    for first in alphabet:
        for second in alphabet:
            tag = first + second
            code = java_string_hash(tag)
            if code in seen:
                return seen[code], tag
            seen[code] = tag
    raise AssertionError("no collision among two-letter tags")


def test_hash_collision_passes_the_broker_and_is_stopped_by_the_client() -> None:
    subscribed, other = _colliding_pair()
    assert subscribed != other and java_string_hash(subscribed) == java_string_hash(other)
    data = build_subscription_data("T", subscribed)
    # The ConsumeQueue only has the hash: the broker lets the colliding message through...
    assert data.matches_tags_code(java_string_hash(other))
    # ...and the exact check on the client stops it.
    assert data.matches_tag(subscribed) and not data.matches_tag(other)


tag_text = st.text(
    alphabet=st.characters(blacklist_characters="|", blacklist_categories=("Cs",)), min_size=1, max_size=8
).filter(lambda tag: tag.strip() == tag and tag != "*")


@given(st.lists(tag_text, min_size=1, max_size=5))
def test_any_list_of_tags_round_trips(tags: list[str]) -> None:
    data = build_subscription_data("T", " || ".join(tags))
    assert data.tags_set == set(tags)
    for tag in tags:
        assert data.matches_tag(tag) and data.matches_tags_code(java_string_hash(tag))


def test_heartbeat_json_round_trip() -> None:
    data = build_subscription_data("T", "B || A", sub_version=1700000000000)
    assert SubscriptionData.from_json(data.to_json()) == data
    cpp_style = {"topic": "T", "subString": "*", "tagsSet": [], "codeSet": [], "subVersion": "5"}
    parsed = SubscriptionData.from_json(cpp_style)
    assert parsed.subscribes_all and parsed.sub_version == 5 and parsed.expression_type == "TAG"
