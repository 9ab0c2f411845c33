"""fastjson quirks: lenient reading of what Java writes, compact order-keeping writing."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pocketmq.common.errors import ProtocolError
from pocketmq.protocol import fastjson


def test_strict_json_keeps_key_order() -> None:
    assert list(fastjson.loads(b'{"b":1,"a":2}')) == ["b", "a"]


def test_unquoted_integer_keys() -> None:
    body = b'{"brokerAddrTable":{"broker-a":{"brokerAddrs":{0:"127.0.0.1:10911",1:"127.0.0.1:10921"}}}}'
    addrs = fastjson.loads(body)["brokerAddrTable"]["broker-a"]["brokerAddrs"]
    assert addrs == {"0": "127.0.0.1:10911", "1": "127.0.0.1:10921"}


def test_consumer_offset_file_shape() -> None:
    text = '{\n\t"offsetTable":{\n\t\t"T@G":{0:3,1:4\n\t\t}\n\t}\n}'
    assert fastjson.loads(text) == {"offsetTable": {"T@G": {"0": 3, "1": 4}}}


def test_object_keys() -> None:
    parsed = fastjson.loads(b'{{"brokerName":"b","queueId":0,"topic":"T"}:{"brokerOffset":2}}')
    ((key, value),) = parsed.items()
    assert isinstance(key, fastjson.ObjectKey)
    assert key.as_dict() == {"brokerName": "b", "queueId": 0, "topic": "T"}
    assert value == {"brokerOffset": 2}


def test_lenient_extras() -> None:
    assert fastjson.loads("{'a':'x\\'y',b:[1,2,],}") == {"a": "x'y", "b": [1, 2]}
    assert fastjson.loads('{"u":"\\u00e9\\n", 1: -2.5e3, x: null, t: true}') == {
        "u": "é\n",
        "1": -2500.0,
        "x": None,
        "t": True,
    }


@pytest.mark.parametrize(
    "text", ["{", '{"a" 1}', "{a:}", "[1 2]", '"abc', "{} x", '{"a":"\\q"}', "{{[1]:2}:3}"]
)
def test_errors_name_the_position(text: str) -> None:
    with pytest.raises(ProtocolError, match="invalid JSON at character"):
        fastjson.loads(text)


def test_writer_is_compact_ordered_raw_utf8() -> None:
    value = {"z": 1, "a": ["é", "\x01", True, None], 3: 4.5}
    assert fastjson.dumps(value) == '{"z":1,"a":["é","\\u0001",true,null],"3":4.5}'.encode()
    assert fastjson.dumps({0: 3, 1: {2: "x"}}, unquoted_int_keys=True) == b'{0:3,1:{2:"x"}}'


_json = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.text(max_size=10),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=5), children, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=200, deadline=None)
@given(value=_json)
def test_writers_round_trip_through_both_readers(value: object) -> None:
    encoded = fastjson.dumps(value)
    assert fastjson.loads(encoded) == value
    assert fastjson._LenientParser(encoded.decode()).parse() == value
    assert fastjson.loads(fastjson.dumps(value, unquoted_int_keys=True)) == value
