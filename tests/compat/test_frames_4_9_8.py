"""Frames captured between real RocketMQ 4.9.8 processes (../shared/compat/frames-4.9.8): every frame
decodes, re-encodes byte for byte (JSON and ROCKETMQ headers, Java and C++), its typed header and JSON
body decode, and a whole connection's byte stream decodes the same when fed in arbitrary pieces."""

from __future__ import annotations

import json
import random
from collections import defaultdict
from collections.abc import Callable
from typing import Any

import pytest

from pocketmq.protocol import fastjson
from pocketmq.protocol.bodies.base import JsonBody
from pocketmq.protocol.bodies.consumer import (
    GetConsumerListByGroupResponseBody,
    LockBatchRequestBody,
    LockBatchResponseBody,
    UnlockBatchRequestBody,
)
from pocketmq.protocol.bodies.heartbeat import HeartbeatData
from pocketmq.protocol.codes import LanguageCode, RequestCode
from pocketmq.protocol.command import RemotingCommand, SerializeType
from pocketmq.protocol.frame import FrameDecoder, decode_frame, encode
from pocketmq.protocol.headers import WireHeader, consumer, pull, query, send, transaction
from pocketmq.store.commit_log.record import decode_records
from tests.support.compat_data import FRAMES_DIR

FILES = ["all-java.jsonl", "all-cpp.jsonl"]

pytestmark = pytest.mark.skipif(not FRAMES_DIR.is_dir(), reason=f"{FRAMES_DIR} is not there")


def _load(name: str) -> list[dict[str, Any]]:
    with (FRAMES_DIR / name).open() as lines:
        return [json.loads(line) for line in lines]


RECORDS = {name: _load(name) for name in FILES} if FRAMES_DIR.is_dir() else {name: [] for name in FILES}
ALL = [record for name in FILES for record in RECORDS[name]]


def _id(record: dict[str, Any]) -> str:
    return f"{record['session']}-{record['seq']}-{record['kind']}-{record.get('code_name') or record['code']}"


def test_the_capture_is_complete() -> None:
    assert len(RECORDS["all-java.jsonl"]) == 418
    assert len(RECORDS["all-cpp.jsonl"]) == 65
    assert {record["serialize_type"] for record in ALL} == {"JSON", "ROCKETMQ"}


@pytest.mark.parametrize("name", FILES)
def test_every_frame_decodes_and_re_encodes_byte_identically(name: str) -> None:
    mismatches = []
    for record in RECORDS[name]:
        frame = bytes.fromhex(record["frame_hex"])
        command = decode_frame(frame)
        header = record["header"]
        assert command.code == header["code"] == record["code"]
        assert command.opaque == header["opaque"] == record["opaque"]
        assert command.flag == header["flag"]
        assert command.is_response == (record["kind"] == "response")
        assert command.is_oneway == record["oneway"]
        assert command.serialize_type is SerializeType[record["serialize_type"]]
        assert command.ext_fields == (header.get("extFields") or {})
        if command.serialize_type is SerializeType.JSON:
            assert command.remark == header.get("remark")
        else:  # the binary header cannot tell an empty remark from none
            assert (command.remark or "") == (header.get("remark") or "")
        assert command.version == header["version"]
        language = header["language"]
        expected_language = LanguageCode(language) if isinstance(language, int) else LanguageCode[language]
        assert command.language is expected_language
        assert (command.body or b"") == bytes.fromhex(record["body_hex"])
        if encode(command) != frame:
            mismatches.append(_id(record))
    assert mismatches == []


def test_cpp_frames_keep_their_quirks() -> None:
    cpp_requests = [record for record in RECORDS["all-cpp.jsonl"] if record["direction"] == "client->broker"]
    send_v2 = next(record for record in cpp_requests if record["code"] == RequestCode.SEND_MESSAGE_V2)
    command = decode_frame(bytes.fromhex(send_v2["frame_hex"]))
    assert type(command.ext_fields["d"]) is int  # a JSON number, kept as such
    assert command.ext_str("d") == str(command.ext_fields["d"])
    frame = bytes.fromhex(send_v2["frame_hex"])
    header_length = int.from_bytes(frame[4:8], "big") & 0xFFFFFF
    assert frame[8 + header_length - 1 : 8 + header_length] == b"\n"


# Typed headers of every request (and response) code the capture holds.
REQUEST_HEADERS: dict[int, type[WireHeader] | Callable[[RemotingCommand], WireHeader]] = {
    RequestCode.SEND_MESSAGE_V2: send.send_request_header_of,
    RequestCode.SEND_BATCH_MESSAGE: send.send_request_header_of,
    RequestCode.PULL_MESSAGE: pull.PullMessageRequestHeader,
    RequestCode.QUERY_CONSUMER_OFFSET: consumer.QueryConsumerOffsetRequestHeader,
    RequestCode.UPDATE_CONSUMER_OFFSET: consumer.UpdateConsumerOffsetRequestHeader,
    RequestCode.GET_CONSUMER_LIST_BY_GROUP: consumer.GetConsumerListByGroupRequestHeader,
    RequestCode.NOTIFY_CONSUMER_IDS_CHANGED: consumer.NotifyConsumerIdsChangedRequestHeader,
    RequestCode.UNREGISTER_CLIENT: consumer.UnregisterClientRequestHeader,
    RequestCode.CONSUMER_SEND_MSG_BACK: send.ConsumerSendMsgBackRequestHeader,
    RequestCode.END_TRANSACTION: transaction.EndTransactionRequestHeader,
    RequestCode.CHECK_TRANSACTION_STATE: transaction.CheckTransactionStateRequestHeader,
    RequestCode.GET_MAX_OFFSET: query.GetMaxOffsetRequestHeader,
    RequestCode.GET_MIN_OFFSET: query.GetMinOffsetRequestHeader,
    RequestCode.SEARCH_OFFSET_BY_TIMESTAMP: query.SearchOffsetRequestHeader,
    RequestCode.GET_EARLIEST_MSG_STORETIME: query.GetEarliestMsgStoretimeRequestHeader,
    RequestCode.QUERY_MESSAGE: query.QueryMessageRequestHeader,
    RequestCode.VIEW_MESSAGE_BY_ID: query.ViewMessageRequestHeader,
}
SUCCESS_RESPONSE_HEADERS: dict[int, type[WireHeader]] = {
    RequestCode.SEND_MESSAGE_V2: send.SendMessageResponseHeader,
    RequestCode.SEND_BATCH_MESSAGE: send.SendMessageResponseHeader,
    RequestCode.QUERY_CONSUMER_OFFSET: consumer.QueryConsumerOffsetResponseHeader,
    RequestCode.GET_MAX_OFFSET: query.GetMaxOffsetResponseHeader,
    RequestCode.GET_MIN_OFFSET: query.GetMinOffsetResponseHeader,
    RequestCode.SEARCH_OFFSET_BY_TIMESTAMP: query.SearchOffsetResponseHeader,
    RequestCode.GET_EARLIEST_MSG_STORETIME: query.GetEarliestMsgStoretimeResponseHeader,
    RequestCode.QUERY_MESSAGE: query.QueryMessageResponseHeader,
}


def _typed(decoder: Any, command: RemotingCommand) -> WireHeader:
    if isinstance(decoder, type):
        return decoder.from_ext_fields(command.ext_fields)
    header: WireHeader = decoder(command)
    return header


def test_typed_headers_decode() -> None:
    decoded: defaultdict[str, int] = defaultdict(int)
    for record in ALL:
        command = decode_frame(bytes.fromhex(record["frame_hex"]))
        request_code = record.get("request_code")
        decoder: Any = None
        if record["kind"] == "request":
            decoder = REQUEST_HEADERS.get(command.code)
        elif request_code == RequestCode.PULL_MESSAGE and command.ext_fields:
            decoder = pull.PullMessageResponseHeader
        elif command.code == 0 and request_code is not None:
            decoder = SUCCESS_RESPONSE_HEADERS.get(request_code)
        if decoder is None:
            continue  # name-server headers are tested with the name server
        header = _typed(decoder, command)
        decoded[type(header).__name__] += 1
        # Every value decoded is the one on the wire: writing the header gives the same strings back.
        written = header.to_ext_fields()
        if isinstance(header, send.SendMessageRequestHeader):
            written = header.to_v2().to_ext_fields()
        on_wire = {key: command.ext_str(key) for key in command.ext_fields}
        for key, value in written.items():
            same = on_wire.get(key) == value
            cpp_boolean = on_wire.get(key) in ("0", "1") and value in ("false", "true")
            assert same or cpp_boolean or (key not in on_wire and value == "false"), (_id(record), key)
    assert len(decoded) >= 20, sorted(decoded)


BODIES: dict[tuple[str, int], type[JsonBody]] = {
    ("request", RequestCode.HEART_BEAT): HeartbeatData,
    ("request", RequestCode.LOCK_BATCH_MQ): LockBatchRequestBody,
    ("request", RequestCode.UNLOCK_BATCH_MQ): UnlockBatchRequestBody,
    ("response", RequestCode.LOCK_BATCH_MQ): LockBatchResponseBody,
    ("response", RequestCode.GET_CONSUMER_LIST_BY_GROUP): GetConsumerListByGroupResponseBody,
}
RECORD_BODIES = {
    ("response", RequestCode.PULL_MESSAGE),
    ("response", RequestCode.QUERY_MESSAGE),
    ("response", RequestCode.VIEW_MESSAGE_BY_ID),
    ("request", RequestCode.CHECK_TRANSACTION_STATE),
}


def test_bodies_decode() -> None:
    decoded: defaultdict[str, int] = defaultdict(int)
    for record in ALL:
        body = bytes.fromhex(record["body_hex"])
        if not body:
            continue
        code = record["code"] if record["kind"] == "request" else record.get("request_code")
        key = (record["kind"], code)
        if key in BODIES:
            typed = BODIES[key].decode(body)
            decoded[type(typed).__name__] += 1
            if record["session"] == "java" and key != ("request", RequestCode.HEART_BEAT):
                assert typed.encode() == body  # fastjson order, reproduced
        elif key in RECORD_BODIES and record["code"] in (0, RequestCode.CHECK_TRANSACTION_STATE):
            decoded["commit-log records"] += len(decode_records(body))
        elif record.get("body_json") is not None or body[:1] == b"{":
            # Any other JSON body (route, cluster, runtime info...) parses with the fastjson reader,
            # including the bare integer keys of 4.9.8's cluster info.
            assert fastjson.loads(body) is not None
            decoded["other JSON"] += 1
    assert decoded["HeartbeatData"] > 10
    assert decoded["LockBatchRequestBody"] and decoded["LockBatchResponseBody"]
    assert decoded["UnlockBatchRequestBody"] and decoded["GetConsumerListByGroupResponseBody"]
    assert decoded["commit-log records"] >= 26


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_each_connection_stream_decodes_in_arbitrary_pieces(seed: int) -> None:
    rng = random.Random(seed)
    streams: defaultdict[tuple[str, int, str], list[bytes]] = defaultdict(list)
    for record in ALL:
        streams[(record["session"], record["conn"], record["direction"])].append(
            bytes.fromhex(record["frame_hex"])
        )
    for key, frames in streams.items():
        data = b"".join(frames)
        decoder = FrameDecoder()
        commands = []
        position = 0
        while position < len(data):
            piece = rng.choice([1, 2, 3, 7, 64, 1000, 70000])
            decoder.feed(data[position : position + piece])
            position += piece
            while (command := decoder.next_command()) is not None:
                commands.append(command)
        assert [encode(command) for command in commands] == frames, (key, seed)
        assert decoder.buffered_bytes == 0
