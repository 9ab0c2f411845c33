"""FrameDecoder / encode: round trips (hypothesis), byte-at-a-time feeding, and refusal of bad frames."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pocketmq.common.errors import FrameTooLargeError, ProtocolError
from pocketmq.protocol.codes import LanguageCode
from pocketmq.protocol.command import (
    FLAG_ONEWAY,
    FLAG_RESPONSE,
    RemotingCommand,
    SerializeType,
    make_request,
    make_response,
)
from pocketmq.protocol.frame import FrameDecoder, decode_frame, encode, encode_parts

_text = st.text(max_size=30)
_ext_value = st.one_of(_text, st.integers(-(2**63), 2**63 - 1).map(str))


@st.composite
def commands(draw: st.DrawFn) -> RemotingCommand:
    serialize_type = draw(st.sampled_from(SerializeType))
    remark = draw(st.none() | _text)
    if serialize_type is SerializeType.ROCKETMQ and remark == "":
        remark = None  # the binary header cannot carry "" apart from None
    return RemotingCommand(
        draw(st.integers(-(2**15), 2**15 - 1)),
        language=draw(st.sampled_from(LanguageCode)),
        version=draw(st.integers(-(2**15), 2**15 - 1)),
        opaque=draw(st.integers(-(2**31), 2**31 - 1)),
        flag=draw(st.integers(0, 3)),
        remark=remark,
        ext_fields=draw(st.dictionaries(st.text(min_size=1, max_size=10), _ext_value, max_size=6)),
        body=draw(st.none() | st.binary(min_size=1, max_size=300)),
        serialize_type=serialize_type,
    )


@settings(max_examples=200, deadline=None)
@given(command=commands())
def test_round_trip(command: RemotingCommand) -> None:
    assert decode_frame(encode(command)) == command


@settings(max_examples=50, deadline=None)
@given(batch=st.lists(commands(), min_size=1, max_size=5), cuts=st.lists(st.integers(1, 50), min_size=1))
def test_arbitrary_pieces_give_the_same_commands(batch: list[RemotingCommand], cuts: list[int]) -> None:
    data = b"".join(encode(command) for command in batch)
    decoder = FrameDecoder()
    out = []
    position = 0
    index = 0
    while position < len(data):
        size = cuts[index % len(cuts)]
        index += 1
        decoder.feed(data[position : position + size])
        position += size
        while (command := decoder.next_command()) is not None:
            out.append(command)
    assert out == batch
    assert decoder.buffered_bytes == 0


def test_byte_at_a_time() -> None:
    batch = [
        make_request(10, {"topic": "TopicTest", "k": "é\x01"}, b"x" * 1000),
        make_request(11, serialize_type=SerializeType.ROCKETMQ, remark="r"),
    ]
    data = b"".join(encode(command) for command in batch)
    decoder = FrameDecoder()
    out = []
    for byte in data:
        decoder.feed(bytes([byte]))
        if (command := decoder.next_command()) is not None:
            out.append(command)
    assert out == batch


def test_response_keeps_opaque_and_serialize_type_of_the_request() -> None:
    request = make_request(30, {"topic": "T"}, serialize_type=SerializeType.ROCKETMQ)
    request.opaque = 77
    response = make_response(request, 0, ext_fields={"offset": "5"})
    assert response.opaque == 77 and response.serialize_type is SerializeType.ROCKETMQ
    assert response.flag == FLAG_RESPONSE and response.is_response and not response.is_oneway
    assert make_request(30, oneway=True).flag == FLAG_ONEWAY


def test_encode_parts_leaves_the_body_uncopied() -> None:
    body = b"b" * 10_000
    parts: list[bytes] = []
    encode_parts(make_request(10, body=body), parts)
    assert parts[-1] is body


def test_java_header_shape() -> None:
    command = make_request(105, {"topic": "TBW102"})
    frame = encode(command)
    assert frame[8:] == (
        b'{"code":105,"extFields":{"topic":"TBW102"},"flag":0,"language":"PYTHON","opaque":0,'
        b'"serializeTypeCurrentRPC":"JSON","version":409}'
    )


def test_oversize_frame_is_refused_on_its_first_four_bytes() -> None:
    decoder = FrameDecoder(frame_bytes_max=1024)
    decoder.feed(struct.pack(">i", 1025))
    with pytest.raises(FrameTooLargeError, match="1025 bytes exceeds the limit of 1024"):
        decoder.next_command()


def test_limit_counts_the_whole_frame() -> None:
    command = make_request(10, body=b"x" * 900)
    frame = encode(command)
    assert decode_frame(frame, frame_bytes_max=len(frame) - 4) == command
    with pytest.raises(FrameTooLargeError):
        decode_frame(frame, frame_bytes_max=len(frame) - 5)


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        (struct.pack(">ii", 2, 0), "smaller than"),
        (struct.pack(">i", -1), "exceeds the limit"),
        (struct.pack(">ii", 10, 20) + b"x" * 6, "header length 20 exceeds"),
        (struct.pack(">ii", 6, 2 << 24 | 2) + b"{}", "unknown serialize type 2"),
        (struct.pack(">ii", 7, 3) + b"{x}", "not valid JSON"),
        (struct.pack(">ii", 6, 2) + b"[]", "not a JSON object"),
        (struct.pack(">ii", 15, 11) + b'{"code":"a"}'[:11], "not valid JSON"),
        (struct.pack(">ii", 16, 12) + b'{"code":"a"}', "must be integers"),
        (struct.pack(">ii", 31, 27) + b'{"code":1,"extFields":[1]} ', "extFields is not an object"),
        (struct.pack(">ii", 9, 1 << 24 | 5) + b"\x00\x01\x00\x00\x00", "binary header truncated"),
        (
            struct.pack(">ii", 4 + 21, 1 << 24 | 21)
            + struct.pack(">hbhiii", 1, 0, 1, 0, 0, 999)
            + b"\x00" * 4,
            "remark length 999",
        ),
    ],
)
def test_malformed_frames_raise_protocol_error(frame: bytes, message: str) -> None:
    decoder = FrameDecoder()
    decoder.feed(frame)
    with pytest.raises(ProtocolError, match=message):
        decoder.next_command()


@settings(max_examples=300, deadline=None)
@given(data=st.binary(max_size=200))
def test_random_bytes_never_crash_the_decoder(data: bytes) -> None:
    decoder = FrameDecoder(frame_bytes_max=4096)
    decoder.feed(data)
    try:
        while decoder.next_command() is not None:
            pass
    except ProtocolError:
        pass


def test_json_numbers_and_booleans_in_ext_fields_are_kept() -> None:
    header = (
        b'{"code":310,"extFields":{"d":4,"k":false,"g":"1"},"flag":0,"language":"CPP","opaque":3,'
        b'"version":333}\n'
    )
    frame = struct.pack(">ii", 4 + len(header), len(header)) + header
    command = decode_frame(frame)
    assert command.ext_fields == {"d": 4, "k": False, "g": "1"}
    assert command.ext_str("d") == "4" and command.ext_str("k") == "false"
    assert command.language is LanguageCode.CPP
    assert encode(command) == frame


def test_our_commands_write_ext_values_as_strings_like_java() -> None:
    command = make_request(11, {"queueId": 3, "k": True, "s": "x"})
    assert b'"extFields":{"queueId":"3","k":"true","s":"x"}' in encode(command)
    assert command.ext_fields == {"queueId": 3, "k": True, "s": "x"}  # the command itself is untouched
    binary = make_request(11, {"queueId": 3}, serialize_type=SerializeType.ROCKETMQ)
    assert decode_frame(encode(binary)).ext_fields == {"queueId": "3"}
