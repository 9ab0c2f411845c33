"""Acceptance audit, issue 4, with real `mqnamesrv` / `mqbroker` processes and the pocketmq client:

- delay level 2 with the DEFAULT `messageDelayLevel` (5 s) arrives no earlier than 5 s (the other
  delay tests shorten the levels);
- committed and rolled-back transactions keep their outcome across a broker SIGKILL and restart:
  the committed one visible exactly once, the rolled-back one never, and neither is checked again."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from pocketmq.client.api import SendStatus
from pocketmq.client.consumer.pull_consumer import PullConsumer
from pocketmq.client.producer.producer import Producer
from pocketmq.client.producer.transaction_producer import LocalTransactionState, TransactionProducer
from pocketmq.common.errors import PocketMQError
from pocketmq.common.message import Message, MessageExt, MessageQueue
from tests.integration.client_issue4_support import client_config, create_topic, pull_all
from tests.support.cluster import Cluster, running_cluster

pytestmark = pytest.mark.timeout(120)

COMMIT = LocalTransactionState.COMMIT_MESSAGE
ROLLBACK = LocalTransactionState.ROLLBACK_MESSAGE
UNKNOW = LocalTransactionState.UNKNOW


@pytest.mark.long
async def test_delay_level_two_with_default_levels_arrives_after_five_seconds(tmp_path: Path) -> None:
    with running_cluster(tmp_path) as cluster:  # default messageDelayLevel: level 2 = 5 s
        topic = "AuditDelayDefault"
        await create_topic(cluster, topic, 1)
        queue = MessageQueue(topic, cluster.broker_name, 0)
        async with Producer("audit-delay-p", client_config=client_config(cluster, "ad-p")) as producer:
            result = await producer.send(Message(topic, b"five seconds later", delay_time_level=2), queue)
            sent_at = time.monotonic()
        assert result.send_status is SendStatus.SEND_OK
        arrived: list[MessageExt] = []
        async with PullConsumer("audit-delay-c", client_config=client_config(cluster, "ad-c")) as puller:
            while not arrived:
                assert time.monotonic() - sent_at < 8, "not delivered within 3 s after its time"
                pulled = await puller.pull(queue, "*", 0, 32)
                arrived = list(pulled.messages)
                if not arrived:
                    await asyncio.sleep(0.05)
        waited = time.monotonic() - sent_at
        print(f"delay level 2 (default levels): visible {waited:.3f} s after the send answered")
        [message] = arrived
        assert message.body == b"five seconds later"
        assert waited >= 4.95, f"delivered early: {waited:.3f} s"
        assert message.store_timestamp - message.born_timestamp >= 5000


class Listener:
    def __init__(self, decisions: dict[str, LocalTransactionState]) -> None:
        self.decisions = decisions
        self.checked: list[str] = []

    def execute_local_transaction(self, message: Message, arg: object) -> LocalTransactionState:
        return self.decisions[message.body.decode()]

    def check_local_transaction(self, message: MessageExt) -> LocalTransactionState:
        body = message.body.decode()
        self.checked.append(body)
        return {"open-then-commit": COMMIT}.get(body, UNKNOW)


@pytest.fixture
def tx_cluster(tmp_path: Path) -> Iterator[Cluster]:
    settings = {"transactionTimeOut": "1000", "transactionCheckInterval": "1000"}
    with running_cluster(tmp_path, **settings) as cluster:
        yield cluster


async def test_resolved_transactions_keep_their_outcome_across_a_broker_kill(tx_cluster: Cluster) -> None:
    cluster, topic, group = tx_cluster, "AuditTxRestart", "audit-tx-restart"
    await create_topic(cluster, topic, 1)
    listener = Listener({"committed": COMMIT, "rolled-back": ROLLBACK})
    producer = TransactionProducer(group, listener=listener, client_config=client_config(cluster, "atx-p"))
    await producer.start()
    try:
        for body in ("committed", "rolled-back"):
            result = await producer.send_message_in_transaction(Message(topic, body.encode()))
            assert result.local_transaction_state is listener.decisions[body]
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 10
        while [m.body for m in await pull_all(cluster, topic)] != [b"committed"]:
            assert loop.time() < deadline, "the committed message never became visible"
            await asyncio.sleep(0.1)
    finally:
        await producer.shutdown()

    await asyncio.to_thread(cluster.kill_broker)
    await asyncio.to_thread(cluster.start_broker)

    # A live producer of the group after the restart: the broker would ask it about anything open.
    after = Listener({"open-then-commit": UNKNOW})
    producer = TransactionProducer(group, listener=after, client_config=client_config(cluster, "atx-p2"))
    await producer.start()
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 15
        while True:
            try:
                await producer.send_message_in_transaction(Message(topic, b"open-then-commit"))
                break
            except PocketMQError:  # the restarted broker may not be routed yet
                assert loop.time() < deadline
                await asyncio.sleep(0.2)
        deadline = loop.time() + 15
        while b"open-then-commit" not in [m.body for m in await pull_all(cluster, topic)]:
            assert loop.time() < deadline, "the open transaction was never checked and committed"
            await asyncio.sleep(0.2)
        await asyncio.sleep(3)  # several more check rounds (1 s each)
        bodies = [m.body.decode() for m in await pull_all(cluster, topic)]
    finally:
        await producer.shutdown()
    assert bodies == ["committed", "open-then-commit"], bodies
    assert "committed" not in after.checked and "rolled-back" not in after.checked, after.checked
    assert "open-then-commit" in after.checked
