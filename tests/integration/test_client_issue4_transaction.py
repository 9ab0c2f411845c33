"""TransactionProducer against real `mqnamesrv` / `mqbroker` processes (issue 4, item 4): committed
messages become visible once, rolled-back ones never, open ones are resolved by the broker's check,
also when the producer that sent the half message was SIGKILLed and a new producer of the group
answers."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from pocketmq.client.api import SendStatus
from pocketmq.client.blocking_guarantees import BlockingOrderlyPushConsumer, BlockingTransactionProducer
from pocketmq.client.consumer.consume_orderly_service import ConsumeOrderlyContext, ConsumeOrderlyStatus
from pocketmq.client.producer.transaction_producer import (
    LocalTransactionState,
    TransactionProducer,
)
from pocketmq.common.message import Message, MessageConst, MessageExt
from tests.integration.client_issue4_support import client_config, create_topic, pull_all
from tests.support.cluster import Cluster, running_cluster

pytestmark = pytest.mark.timeout(120)

REPO = Path(__file__).resolve().parents[2]
COMMIT = LocalTransactionState.COMMIT_MESSAGE
ROLLBACK = LocalTransactionState.ROLLBACK_MESSAGE
UNKNOW = LocalTransactionState.UNKNOW


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    workdir = tmp_path_factory.mktemp("issue4-tx")
    with running_cluster(workdir, transactionTimeOut="1000", transactionCheckInterval="1000") as cluster:
        yield cluster


class Listener:
    """Answers by body: `execute` for the local transaction, `check` for the broker's checks."""

    def __init__(
        self, execute: dict[str, LocalTransactionState | None], check: dict[str, LocalTransactionState]
    ):
        self.execute = execute
        self.check = check
        self.executed: list[tuple[str, str | None, object]] = []
        self.checked: list[tuple[str, str | None]] = []

    def execute_local_transaction(self, message: Message, arg: object) -> LocalTransactionState | None:
        body = message.body.decode()
        self.executed.append((body, message.transaction_id, arg))
        if body.startswith("raises"):
            raise RuntimeError("the local transaction broke")
        return self.execute[body]

    async def check_local_transaction(self, message: MessageExt) -> LocalTransactionState:
        body = message.body.decode()
        self.checked.append((body, message.uniq_key))
        return self.check.get(body, UNKNOW)


async def visible_bodies(cluster: Cluster, topic: str) -> list[str]:
    return [m.body.decode() for m in await pull_all(cluster, topic)]


async def wait_visible(cluster: Cluster, topic: str, expected: set[str], timeout_s: float) -> list[str]:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while True:
        bodies = await visible_bodies(cluster, topic)
        if expected <= set(bodies) or loop.time() > deadline:
            return bodies
        await asyncio.sleep(0.2)


async def test_commit_rollback_and_checked_back_transactions(cluster: Cluster) -> None:
    topic, group = "TxTopic", "tx-group"
    await create_topic(cluster, topic, 1)
    listener = Listener(
        execute={"commit": COMMIT, "rollback": ROLLBACK, "unknown-commit": UNKNOW, "unknown-rollback": None},
        check={"unknown-commit": COMMIT, "unknown-rollback": ROLLBACK, "raises": COMMIT},
    )
    producer = TransactionProducer(group, listener=listener, client_config=client_config(cluster, "tx-p"))
    await producer.start()
    try:
        results = {}
        for body in ("commit", "rollback", "unknown-commit", "unknown-rollback", "raises"):
            result = await producer.send_message_in_transaction(Message(topic, body.encode()), arg=body)
            assert result.send_status is SendStatus.SEND_OK
            assert result.transaction_id == result.msg_id
            results[body] = result
        assert [state.local_transaction_state for state in results.values()] == [
            COMMIT, ROLLBACK, UNKNOW, UNKNOW, UNKNOW,
        ]  # fmt: skip
        assert [arg for _, _, arg in listener.executed] == list(results)
        bodies = await wait_visible(cluster, topic, {"commit", "unknown-commit", "raises"}, 20)
        await asyncio.sleep(2.5)  # two more check rounds: nothing else may show up
        bodies = await visible_bodies(cluster, topic)
    finally:
        await producer.shutdown()
    assert sorted(bodies) == ["commit", "raises", "unknown-commit"]
    checked = {body for body, _ in listener.checked}
    assert {"unknown-commit", "unknown-rollback", "raises"} <= checked
    assert not checked & {"commit", "rollback"}
    for body, uniq_key in listener.checked:
        assert uniq_key == results[body].msg_id
    committed = {m.body.decode(): m for m in await pull_all(cluster, topic)}
    assert committed["commit"].uniq_key == results["commit"].msg_id
    assert committed["commit"].properties.get(MessageConst.PRODUCER_GROUP) == group


def run_dying_producer(cluster: Cluster, group: str, topic: str, body: str) -> str:
    process = subprocess.run(
        [
            sys.executable,
            "-m",
            "tests.integration.client_issue4_tx_process",
            cluster.namesrv_address,
            group,
            topic,
            body,
        ],
        cwd=REPO,
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert process.returncode == -9, (process.returncode, process.stderr.decode()[-2000:])
    line = process.stdout.decode().strip()
    assert line.startswith("HALF "), line
    return line.split()[1]


async def test_a_new_producer_of_the_group_answers_for_one_killed_after_the_half_message(
    cluster: Cluster,
) -> None:
    topic, group = "TxKilled", "tx-killed"
    await create_topic(cluster, topic, 1)
    ids = {
        body: await asyncio.to_thread(run_dying_producer, cluster, group, topic, body)
        for body in ("kill-commit", "kill-rollback")
    }
    assert await visible_bodies(cluster, topic) == []
    listener = Listener(execute={}, check={"kill-commit": COMMIT, "kill-rollback": ROLLBACK})
    producer = TransactionProducer(group, listener=listener, client_config=client_config(cluster, "tx-new"))
    await producer.start()
    try:
        await wait_visible(cluster, topic, {"kill-commit"}, 20)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 10
        while {"kill-commit", "kill-rollback"} - {b for b, _ in listener.checked} and loop.time() < deadline:
            await asyncio.sleep(0.2)
        await asyncio.sleep(2.5)
        bodies = await visible_bodies(cluster, topic)
    finally:
        await producer.shutdown()
    assert bodies == ["kill-commit"]
    assert {body: uniq for body, uniq in listener.checked} == ids


class CommitAll:
    def execute_local_transaction(self, message: Message, arg: object) -> LocalTransactionState:
        return COMMIT

    def check_local_transaction(self, message: MessageExt) -> LocalTransactionState:
        return COMMIT


def test_blocking_facades_for_a_plain_script(cluster: Cluster) -> None:
    topic, group = "TxBlocking", "tx-blocking"
    asyncio.run(create_topic(cluster, topic, 2))
    seen: list[tuple[str, int]] = []
    done = threading.Event()

    def listener(messages: list[MessageExt], context: ConsumeOrderlyContext) -> ConsumeOrderlyStatus:
        seen.extend((m.body.decode(), context.message_queue.queue_id) for m in messages)
        if len(seen) == 5:
            done.set()
        return ConsumeOrderlyStatus.SUCCESS

    consumer = BlockingOrderlyPushConsumer(
        "tx-blocking-c", client_config=client_config(cluster, "txb-c"), listener=listener
    )
    consumer.subscribe(topic)
    consumer.start()
    try:
        with BlockingTransactionProducer(
            group, listener=CommitAll(), client_config=client_config(cluster, "txb-p")
        ) as producer:
            for i in range(5):
                result = producer.send_message_in_transaction(Message(topic, f"m{i}".encode()))
                assert result.local_transaction_state is COMMIT
        assert done.wait(20)
    finally:
        consumer.shutdown()
    assert sorted(body for body, _ in seen) == [f"m{i}" for i in range(5)]
    for queue_id in {q for _, q in seen}:
        in_queue = [body for body, q in seen if q == queue_id]
        assert in_queue == sorted(in_queue), "each queue is consumed in order"


async def test_a_checked_large_message_reaches_the_listener_inflated(cluster: Cluster) -> None:
    topic, group = "TxLarge", "tx-large"
    await create_topic(cluster, topic, 1)
    body = ("large " * 2000).encode()  # over 4 KiB: the producer compresses it
    listener = Listener(execute={"large": UNKNOW}, check={})
    checked_bodies: list[bytes] = []

    async def check(message: MessageExt) -> LocalTransactionState:
        checked_bodies.append(message.body)
        return COMMIT

    listener.check_local_transaction = check  # type: ignore[method-assign]
    listener.execute = {body.decode(): UNKNOW}
    producer = TransactionProducer(group, listener=listener, client_config=client_config(cluster, "txl-p"))
    await producer.start()
    try:
        await producer.send_message_in_transaction(Message(topic, body))
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 20
        while not checked_bodies and loop.time() < deadline:
            await asyncio.sleep(0.1)
    finally:
        await producer.shutdown()
    assert checked_bodies[:1] == [body]
