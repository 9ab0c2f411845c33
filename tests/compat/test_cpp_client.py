"""The official Apache RocketMQ Python client (C++ core 2.1.0) against real pocketmq processes:
send, push-consume (clustering and broadcasting) and pull, as a RocketMQ user would."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator

import pytest

from tests.compat.cpp_client import read_json_lines, run_script, start_script
from tests.support.cluster import Cluster, running_cluster

pytestmark = pytest.mark.compat_client


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    with running_cluster(tmp_path_factory.mktemp("cpp-cluster")) as running:
        yield running


def _send(cluster: Cluster, topic: str, count: int, *extra: str) -> list[dict[str, object]]:
    results = run_script("cpp_producer", [cluster.namesrv_address, topic, str(count), *extra])
    assert len(results) == count, cluster.logs()
    return results


def test_sync_send_returns_offset_message_ids(cluster: Cluster) -> None:
    results = _send(cluster, "CppSendTopic", 20)
    assert all(result["status"] == 0 for result in results)  # SEND_OK
    assert len({result["msg_id"] for result in results}) == 20
    offsets = sorted(int(str(result["offset"])) for result in results)
    assert offsets[0] >= 0


def test_push_consumer_clustering_receives_everything_once(cluster: Cluster) -> None:
    _send(cluster, "CppPushTopic", 40)
    deliveries = run_script(
        "cpp_push_consumer",
        [cluster.namesrv_address, "cpp_push_group", "CppPushTopic", "40", "60"],
        timeout_s=90,
    )
    done = deliveries[-1]
    assert done.get("done") is True, (deliveries, cluster.logs())
    bodies = Counter(str(d["body"]) for d in deliveries if "body" in d)
    assert set(bodies) == {f"cpp-{i}" for i in range(40)}
    duplicates = {body: n for body, n in bodies.items() if n > 1}
    assert not duplicates, f"duplicates without any failure or rebalance: {duplicates}"


def test_push_consumer_broadcasting_delivers_to_every_consumer(cluster: Cluster) -> None:
    args = [cluster.namesrv_address, "cpp_broadcast_group", "CppBroadcastTopic", "15", "60", "--broadcasting"]
    # Create the topic first, so that both consumers find its route at start.
    _send(cluster, "CppBroadcastTopic", 1, "--body-size", "0")
    consumers = [start_script("cpp_push_consumer", args) for _ in range(2)]
    try:
        time.sleep(6)  # let both consumers start and take every queue
        _send(cluster, "CppBroadcastTopic", 15)
        outputs = [consumer.communicate(timeout=90)[0] for consumer in consumers]
    finally:
        for consumer in consumers:
            if consumer.poll() is None:
                consumer.kill()
    for output in outputs:
        deliveries = list(read_json_lines(output.splitlines()))
        bodies = {str(d["body"]) for d in deliveries if "body" in d}
        assert {f"cpp-{i}" for i in range(15)} <= bodies, (deliveries, cluster.logs())


def test_pull_consumer_reads_every_queue_from_an_offset(cluster: Cluster) -> None:
    _send(cluster, "CppPullTopic", 24)
    lines = run_script("cpp_pull_consumer", [cluster.namesrv_address, "cpp_pull_group", "CppPullTopic"])
    bodies = [str(line["body"]) for line in lines if line.get("message")]
    assert sorted(bodies) == sorted(f"cpp-{i}" for i in range(24)), (lines, cluster.logs())
    statuses = [line for line in lines if "status" in line and not line.get("message")]
    assert all(s["status"] in {"FOUND", "NO_NEW_MSG"} for s in statuses), statuses
    # Re-read from offset 1: every queue gives its messages but the first.
    again = run_script(
        "cpp_pull_consumer", [cluster.namesrv_address, "cpp_pull_group", "CppPullTopic", "--offset", "1"]
    )
    assert len([line for line in again if line.get("message")]) == 24 - sum(
        1 for s in statuses if s["status"] == "FOUND" and s["offset"] == 0
    )
