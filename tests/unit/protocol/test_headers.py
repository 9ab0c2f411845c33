"""Typed headers <-> extFields: every header class round-trips, accepts Java strings and JSON numbers,
and names the field it refuses."""

from __future__ import annotations

import dataclasses
import typing
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pocketmq.protocol.codes import RequestCode
from pocketmq.protocol.command import make_request
from pocketmq.protocol.headers import (
    HeaderError,
    WireHeader,
    admin,
    consumer,
    parse_bool,
    pull,
    query,
    send,
    transaction,
)

MODULES = [admin, consumer, pull, query, send, transaction]
HEADER_CLASSES = [
    getattr(module, name)
    for module in MODULES
    for name in module.__all__
    if isinstance(getattr(module, name), type) and issubclass(getattr(module, name), WireHeader)
]


def _strategy_for(annotation: Any) -> st.SearchStrategy[Any]:
    args = typing.get_args(annotation)
    if args:
        inner = next(arg for arg in args if arg is not type(None))
        return st.none() | _strategy_for(inner)
    if annotation is str:
        return st.text(max_size=20)
    if annotation is bool:
        return st.booleans()
    return st.integers(min_value=-(2**63), max_value=2**63 - 1)


def _header_strategy(cls: type[WireHeader]) -> st.SearchStrategy[WireHeader]:
    hints = typing.get_type_hints(cls)
    fields = {field.name: _strategy_for(hints[field.name]) for field in dataclasses.fields(cls)}  # type: ignore[arg-type]
    return st.builds(cls, **fields)


def test_every_family_has_headers() -> None:
    assert len(HEADER_CLASSES) >= 40


@pytest.mark.parametrize("cls", HEADER_CLASSES, ids=lambda cls: cls.__name__)
@settings(max_examples=15, deadline=None)
@given(data=st.data())
def test_round_trip_through_ext_fields(cls: type[WireHeader], data: st.DataObject) -> None:
    header = data.draw(_header_strategy(cls))
    ext_fields = header.to_ext_fields()
    assert all(type(value) is str for value in ext_fields.values())
    assert cls.from_ext_fields(ext_fields) == header


def test_send_v2_short_names_and_json_numbers() -> None:
    # As the C++ client sends it: numbers mixed with strings.
    ext = {
        "a": "G",
        "b": "T",
        "c": "TBW102",
        "d": 4,
        "e": 0,
        "f": 4,
        "g": "1795590428232",
        "h": 0,
        "i": "UNIQ_KEY\x01X",
        "j": "0",
        "k": False,
        "l": 16,
        "m": False,
    }
    header = send.SendMessageRequestHeaderV2.from_ext_fields(ext)
    assert header.default_topic_queue_count == 4
    assert header.born_timestamp == 1795590428232
    assert header.max_reconsume_times == 16
    assert header.unit_mode is False and header.batch is False
    long_form = send.send_request_header_of(make_request(RequestCode.SEND_MESSAGE_V2, ext))
    assert long_form.producer_group == "G" and long_form.properties == "UNIQ_KEY\x01X"
    assert long_form.to_v2() == header
    assert set(long_form.to_ext_fields()) >= {"producerGroup", "defaultTopicQueueNums", "bornTimestamp"}


def test_send_request_header_of_reads_the_long_form() -> None:
    header = send.SendMessageRequestHeader(
        producer_group="G",
        topic="T",
        default_topic="TBW102",
        default_topic_queue_count=4,
        queue_id=1,
        sys_flag=0,
        born_timestamp=1,
        flag=0,
    )
    for code in (RequestCode.SEND_MESSAGE, RequestCode.SEND_BATCH_MESSAGE):
        assert send.send_request_header_of(make_request(code, header.to_ext_fields())) == header
    v2 = header.to_v2().to_ext_fields()
    assert send.send_request_header_of(make_request(RequestCode.SEND_BATCH_MESSAGE, v2)) == header


def test_missing_required_field_names_it() -> None:
    with pytest.raises(HeaderError, match=r"<queueOffset> is null"):
        pull.PullMessageRequestHeader.from_ext_fields(
            {
                "consumerGroup": "G",
                "topic": "T",
                "queueId": "0",
                "maxMsgNums": "32",
                "sysFlag": "2",
                "commitOffset": "0",
                "suspendTimeoutMillis": "15000",
                "subVersion": "0",
            }
        )


@pytest.mark.parametrize("bad", ["x", "", "1.5", None])
def test_bad_integer_names_the_field(bad: Any) -> None:
    ext = {"topic": "T", "queueId": bad}
    expected = "is null" if bad is None else "is not an integer"
    with pytest.raises(HeaderError, match=rf"<queueId> {expected}"):
        query.GetMaxOffsetRequestHeader.from_ext_fields(ext)


def test_booleans_as_java_parses_them_plus_json_and_cpp_digits() -> None:
    assert [parse_bool(v) for v in ("true", "TRUE", "false", "yes", "1", "0", True, False, 1, 0)] == [
        True,
        True,
        False,
        False,
        True,
        False,
        True,
        False,
        True,
        False,
    ]
    header = transaction.EndTransactionRequestHeader.from_ext_fields(
        {
            "producerGroup": "G",
            "tranStateTableOffset": "3",
            "commitLogOffset": "7963",
            "commitOrRollback": "8",
            "fromTransactionCheck": "0",
            "msgId": "M",
        }
    )
    assert header.from_transaction_check is False and header.commit_or_rollback == 8


def test_optional_fields_are_left_out_when_none() -> None:
    header = consumer.UnregisterClientRequestHeader(client_id="c", producer_group="P")
    assert header.to_ext_fields() == {"clientID": "c", "producerGroup": "P"}


def test_headers_are_frozen() -> None:
    header = query.ViewMessageRequestHeader(commit_log_offset=5)
    with pytest.raises(dataclasses.FrozenInstanceError):
        header.commit_log_offset = 6  # type: ignore[misc]


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=4), children, max_size=3)
    ),
    max_leaves=6,
)


@pytest.mark.parametrize("cls", HEADER_CLASSES, ids=lambda cls: cls.__name__)
@settings(max_examples=12, deadline=None)
@given(data=st.data())
def test_any_ext_fields_decode_or_raise_header_error(cls: type[WireHeader], data: st.DataObject) -> None:
    keys = [field.metadata["java"] for field in dataclasses.fields(cls)]  # type: ignore[arg-type]
    ext = data.draw(st.dictionaries(st.sampled_from(keys), _json_values, max_size=len(keys)))
    try:
        cls.from_ext_fields(ext)
    except HeaderError:
        pass
