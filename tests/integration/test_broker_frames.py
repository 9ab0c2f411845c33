"""Replay every broker-bound request of ../shared/compat/frames-4.9.8/curated.jsonl (real 4.9.8 Java
and C++ clients, JSON and ROCKETMQ headers) against a real `mqbroker`, and compare the answers with
what the real 4.9.8 broker answered: response code, remark and extFields keys (values that depend on
the store's history, such as offsets and timestamps, are compared only where they are fixed)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from pocketmq.protocol.codes import RequestCode, ResponseCode
from pocketmq.protocol.command import RemotingCommand
from pocketmq.protocol.frame import decode_frame
from pocketmq.remoting import RemotingClient
from tests.integration.test_broker_helpers import TIMEOUT_MS, cluster_fixture
from tests.support.cluster import Cluster
from tests.support.compat_data import CURATED_FRAMES

CURATED = CURATED_FRAMES

cluster = cluster_fixture("broker-frames")

#: Requests whose answers depend on state the replay cannot reproduce (held pulls woken by a later
#: send, a QUERY_NOT_FOUND seen only with accessMessageInMemoryMaxRatio=0), or that belong to later
#: issues (transactions, send-back, orderly locks): the broker must answer them and keep serving.
STATE_DEPENDENT = {
    RequestCode.PULL_MESSAGE,
    RequestCode.END_TRANSACTION,
    RequestCode.CONSUMER_SEND_MSG_BACK,
    RequestCode.LOCK_BATCH_MQ,
    RequestCode.UNLOCK_BATCH_MQ,
}
#: Captured with accessMessageInMemoryMaxRatio=0 (test_broker_restart.py covers that case).
STATE_DEPENDENT_CATEGORIES = {"QUERY_CONSUMER_OFFSET QUERY_NOT_FOUND"}
#: Remarks compared verbatim (the rest are free text in both brokers).
FIXED_REMARKS = {None, "not set any response code", "FOUND", "OFFSET_OVERFLOW_ONE", "NO_MATCHED_MESSAGE"}
#: A held pull would wait its full suspendTimeoutMillis (15-20 s): replay it with a short hold.
REPLAY_SUSPEND_MS = "300"


def _records() -> list[dict[str, Any]]:
    if not CURATED.exists():
        pytest.skip(f"{CURATED} is not available")
    return [json.loads(line) for line in CURATED.read_text().splitlines() if line.strip()]


def _requests_and_responses() -> list[tuple[dict[str, Any], dict[str, Any] | None]]:
    records = _records()
    by_seq = {record["seq"]: record for record in records}
    pairs = []
    for record in sorted(records, key=lambda r: r["seq"]):
        if record["direction"] != "client->broker" or record["kind"] != "request":
            continue
        response = by_seq.get(record.get("response_seq"))
        pairs.append((record, response))
    return pairs


def _prepare(record: dict[str, Any]) -> RemotingCommand:
    request = decode_frame(bytes.fromhex(record["frame_hex"]))
    if request.code == RequestCode.PULL_MESSAGE and "suspendTimeoutMillis" in request.ext_fields:
        request.ext_fields["suspendTimeoutMillis"] = REPLAY_SUSPEND_MS
    return request


async def test_replay_curated_broker_requests(cluster: Cluster) -> None:
    pairs = _requests_and_responses()
    assert len(pairs) > 40
    mismatches: list[str] = []
    compared = 0
    async with RemotingClient() as client:
        for record, recorded in pairs:
            request = _prepare(record)
            label = f"seq {record['seq']} {record['category']}"
            if request.is_oneway:
                await client.invoke_oneway(cluster.broker_address, request)
                continue
            response = await client.invoke(cluster.broker_address, request, TIMEOUT_MS + 1000)
            assert response.serialize_type == request.serialize_type, label
            if (
                recorded is None
                or request.code in STATE_DEPENDENT
                or record["category"] in STATE_DEPENDENT_CATEGORIES
            ):
                continue
            expected = decode_frame(bytes.fromhex(recorded["frame_hex"]))
            compared += 1
            if response.code != expected.code:
                mismatches.append(f"{label}: code {response.code} ({response.remark}), 4.9.8 {expected.code}")
                continue
            if expected.remark in FIXED_REMARKS and response.remark != expected.remark:
                mismatches.append(f"{label}: remark {response.remark!r}, 4.9.8 {expected.remark!r}")
            if set(response.ext_fields) != set(expected.ext_fields):
                mismatches.append(
                    f"{label}: extFields {sorted(response.ext_fields)}, 4.9.8 {sorted(expected.ext_fields)}"
                )
            if request.code == RequestCode.SEND_BATCH_MESSAGE:
                assert response.ext_fields["msgId"].count(",") == expected.ext_fields["msgId"].count(","), (
                    label
                )
            if request.code in (RequestCode.SEND_MESSAGE_V2, RequestCode.SEND_MESSAGE):
                assert response.ext_fields["queueId"] == expected.ext_fields["queueId"], label
        # After everything, the broker still serves.
        alive = await client.invoke(
            cluster.broker_address,
            _prepare(next(r for r, _ in pairs if r["code"] == RequestCode.GET_BROKER_RUNTIME_INFO)),
            TIMEOUT_MS,
        )
        assert alive.code == ResponseCode.SUCCESS
    assert compared >= 25, compared
    assert not mismatches, "\n".join(mismatches)


async def test_replayed_pulls_answer_with_4_9_8_fields(cluster: Cluster) -> None:
    pulls = [(record, recorded) for record, recorded in _requests_and_responses() if record["code"] == 11]
    assert pulls
    heartbeats = [
        record for record, _ in _requests_and_responses() if record["code"] == RequestCode.HEART_BEAT
    ]
    async with RemotingClient() as client:
        for record in heartbeats:  # pulls without a subscription need the group's heartbeat
            assert (await client.invoke(cluster.broker_address, _prepare(record), TIMEOUT_MS)).code == 0
        for record, _ in pulls:
            request = _prepare(record)
            # The curated heartbeat predates the pull's subscription version (the captured client
            # sent a newer heartbeat in between): replay the pull against the heartbeat's version.
            request.ext_fields["subVersion"] = "0"
            response = await client.invoke(cluster.broker_address, request, TIMEOUT_MS + 1000)
            label = f"seq {record['seq']} {record['category']}"
            assert response.code in (
                ResponseCode.SUCCESS,
                ResponseCode.PULL_NOT_FOUND,
                ResponseCode.PULL_RETRY_IMMEDIATELY,
                ResponseCode.PULL_OFFSET_MOVED,
            ), (label, response)
            assert set(response.ext_fields) == {
                "suggestWhichBrokerId",
                "nextBeginOffset",
                "minOffset",
                "maxOffset",
            }
            assert response.remark in {
                "FOUND",
                "NO_MATCHED_MESSAGE",
                "OFFSET_OVERFLOW_ONE",
                "OFFSET_OVERFLOW_BADLY",
                "NO_MESSAGE_IN_QUEUE",
                "OFFSET_TOO_SMALL",
            }, (label, response.remark)
