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
    # Short delay levels and transaction timings keep retries, delays and check-backs quick.
    with running_cluster(
        tmp_path_factory.mktemp("cpp-cluster"),
        messageDelayLevel="1s 2s 1s 1s 1s 1s 1s 1s 1s 1s 1s 1s 1s 1s 1s 1s 1s 1s",
        transactionTimeOut="2000",
        transactionCheckInterval="3000",
    ) as running:
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
        outputs = [(*consumer.communicate(timeout=90), consumer.returncode) for consumer in consumers]
    finally:
        for consumer in consumers:
            if consumer.poll() is None:
                consumer.kill()
    for stdout, stderr, returncode in outputs:
        deliveries = list(read_json_lines(stdout.splitlines()))
        bodies = {str(d["body"]) for d in deliveries if "body" in d}
        assert {f"cpp-{i}" for i in range(15)} <= bodies, (
            returncode,
            stderr[-2000:],
            deliveries,
            cluster.logs(),
        )


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


# ---- issue 4: ordered, delayed, transactional and retried messages through the official client ----


def test_orderly_send_and_orderly_consume_keep_per_key_order(cluster: Cluster) -> None:
    results = _send(cluster, "CppOrderTopic", 40, "--mode", "orderly")
    # One sharding key always lands on one queue.
    queues_by_key: dict[str, set[int]] = {}
    deliveries = run_script(
        "cpp_push_consumer",
        [cluster.namesrv_address, "cpp_order_group", "CppOrderTopic", "40", "60", "--orderly"],
        timeout_s=90,
    )
    assert deliveries[-1].get("done") is True, (deliveries, cluster.logs())
    for delivery in deliveries:
        if "body" in delivery:
            key = f"order-{int(str(delivery['seq'])) % 4}"
            queues_by_key.setdefault(key, set()).add(int(str(delivery["queue_id"])))
    assert all(len(queues) == 1 for queues in queues_by_key.values()), queues_by_key
    seqs_by_key: dict[str, list[int]] = {}
    for delivery in deliveries:
        if "body" in delivery:
            seq = int(str(delivery["seq"]))
            seqs_by_key.setdefault(f"order-{seq % 4}", []).append(seq)
    for key, seqs in seqs_by_key.items():
        assert seqs == sorted(seqs), f"{key} consumed out of order: {seqs}"
    assert len(results) == 40


def test_delay_level_one_arrives_after_a_second(cluster: Cluster) -> None:
    # The topic exists before the consumer starts, so the consumer finds its route at once.
    _send(cluster, "CppDelayTopic", 1, "--prefix", "plain")
    consumer = start_script(
        "cpp_push_consumer", [cluster.namesrv_address, "cpp_delay_group", "CppDelayTopic", "4", "60"]
    )
    try:
        time.sleep(4)
        sent_ms = int(time.time() * 1000)
        _send(cluster, "CppDelayTopic", 3, "--delay-level", "1")
        output = consumer.communicate(timeout=90)[0]
    finally:
        if consumer.poll() is None:
            consumer.kill()
    deliveries = [d for d in read_json_lines(output.splitlines()) if "body" in d and d["body"] != "plain-0"]
    assert {d["body"] for d in deliveries} == {"cpp-0", "cpp-1", "cpp-2"}, cluster.logs()
    # Level 1 is 1 s: nothing may arrive before the level's time has passed since the send returned.
    assert all(int(str(d["t_ms"])) >= sent_ms + 1000 - 200 for d in deliveries), (sent_ms, deliveries)


def test_transactions_commit_rollback_and_check_back(cluster: Cluster) -> None:
    outcomes = ["commit", "rollback", "unknown-then-commit", "unknown-then-rollback"]
    lines = run_script(
        "cpp_transaction_producer",
        [cluster.namesrv_address, "CppTxTopic", "cpp_tx_group", *outcomes, "--linger", "20"],
        timeout_s=120,
    )
    assert [line["sent"] for line in lines if "sent" in line] == [
        f"tx-{i}:{o}" for i, o in enumerate(outcomes)
    ]
    checked = {str(line["check"]) for line in lines if "check" in line}
    assert {"tx-2:unknown-then-commit", "tx-3:unknown-then-rollback"} <= checked, (lines, cluster.logs())
    pulled = run_script("cpp_pull_consumer", [cluster.namesrv_address, "cpp_tx_reader", "CppTxTopic"])
    visible = sorted(str(line["body"]) for line in pulled if line.get("message"))
    assert visible == ["tx-0:commit", "tx-2:unknown-then-commit"], (pulled, cluster.logs())


def test_reconsume_later_redelivers_through_the_retry_topic(cluster: Cluster) -> None:
    _send(cluster, "CppRetryTopic", 1)
    deliveries = run_script(
        "cpp_push_consumer",
        [cluster.namesrv_address, "cpp_retry_group", "CppRetryTopic", "1", "90", "--fail-first", "2"],
        timeout_s=120,
    )
    attempts = [d for d in deliveries if "body" in d]
    assert [d["answer"] for d in attempts] == ["RECONSUME_LATER", "RECONSUME_LATER", "CONSUME_SUCCESS"], (
        attempts
    )
    assert [int(str(d["reconsume_times"])) for d in attempts] == [0, 1, 2], attempts
    assert all(d["body"] == "cpp-0" for d in attempts)
