"""Issue 4 on a real `mqbroker`: transactional messages over the wire, as the Java client sends them
(half message, END_TRANSACTION oneway, CHECK_TRANSACTION_STATE oneway from the broker), including a
producer that dies after the half message and a broker SIGKILLed with transactions open."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from pocketmq.common.message import MessageExt, properties_to_string
from pocketmq.common.message_id import decode_offset_msg_id
from pocketmq.protocol.codes import RequestCode, ResponseCode
from pocketmq.protocol.command import RemotingCommand, make_request
from pocketmq.protocol.headers.send import SendMessageRequestHeaderV2
from pocketmq.protocol.headers.transaction import (
    CheckTransactionStateRequestHeader,
    EndTransactionRequestHeader,
)
from pocketmq.remoting import Connection, RemotingClient, Router
from pocketmq.store.commit_log.record import decode_record
from tests.integration.test_broker_helpers import TIMEOUT_MS, create_topic, decode, heartbeat, pull
from tests.support.cluster import Cluster, running_cluster

GROUP = "TxProducerGroup"
COMMIT, ROLLBACK, UNKNOWN = 8, 12, 0


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    # One broker for the module; the crash test runs last (it kills and restarts it).
    with running_cluster(
        tmp_path_factory.mktemp("broker-issue4-tx"),
        transactionTimeOut="1000",
        transactionCheckInterval="1000",
        transactionCheckMax="5",
    ) as running:
        yield running


@dataclass
class Producer:
    """A transactional producer on the wire; answers checks with `answers[transaction id]`."""

    address: str
    answers: dict[str, int] = field(default_factory=dict)
    checks: list[tuple[float, CheckTransactionStateRequestHeader, MessageExt]] = field(default_factory=list)
    client: RemotingClient = field(init=False)

    def __post_init__(self) -> None:
        self.client = RemotingClient(Router({RequestCode.CHECK_TRANSACTION_STATE: self._on_check}))

    def _on_check(self, request: RemotingCommand, connection: Connection) -> None:
        header = CheckTransactionStateRequestHeader.from_ext_fields(request.ext_fields)
        assert request.body is not None
        message = decode_record(request.body)
        self.checks.append((time.time(), header, message))
        answer = self.answers.get(message.properties["UNIQ_KEY"])
        if answer is not None:
            asyncio.get_running_loop().create_task(
                self.end(header.commit_log_offset, header.transaction_queue_offset, answer, from_check=True)
            )

    async def register(self) -> None:
        response = await heartbeat(
            self.client, self.address, f"10.0.0.2@{id(self)}", None, producer_group=GROUP
        )
        assert response.code == ResponseCode.SUCCESS

    async def send_half(self, topic: str, body: bytes, uniq_key: str, queue_id: int = 0) -> RemotingCommand:
        properties = {"TRAN_MSG": "true", "PGROUP": GROUP, "UNIQ_KEY": uniq_key, "WAIT": "true", "TAGS": "T"}
        header = SendMessageRequestHeaderV2(
            producer_group=GROUP,
            topic=topic,
            default_topic="TBW102",
            default_topic_queue_count=4,
            queue_id=queue_id,
            sys_flag=4,
            born_timestamp=int(time.time() * 1000),
            flag=0,
            properties=properties_to_string(properties),
            reconsume_times=0,
            unit_mode=False,
            batch=False,
        )
        request = make_request(RequestCode.SEND_MESSAGE_V2, header.to_ext_fields(), body)
        response = await self.client.invoke(self.address, request, TIMEOUT_MS)
        assert response.code == ResponseCode.SUCCESS, response
        return response

    async def end(
        self, commit_log_offset: int, queue_offset: int, action: int, *, from_check: bool = False
    ) -> None:
        header = EndTransactionRequestHeader(
            producer_group=GROUP,
            transaction_queue_offset=queue_offset,
            commit_log_offset=commit_log_offset,
            commit_or_rollback=action,
            from_transaction_check=from_check,
            msg_id="",
        )
        # Oneway, as the Java client sends it.
        await self.client.invoke_oneway(
            self.address, make_request(RequestCode.END_TRANSACTION, header.to_ext_fields(), oneway=True)
        )

    async def end_sent(self, response: RemotingCommand, action: int) -> None:
        offset = decode_offset_msg_id(response.ext_fields["msgId"]).commit_log_offset
        await self.end(offset, int(response.ext_fields["queueOffset"]), action)


async def visible(client: RemotingClient, address: str, topic: str, queue_id: int = 0) -> list[MessageExt]:
    response = await pull(client, address, topic, queue_id, 0)
    return decode(response) if response.code == ResponseCode.SUCCESS else []


async def eventually(predicate, timeout_s: float = 15.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while not await predicate():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.05)


async def test_commit_and_rollback_from_the_producer(cluster: Cluster) -> None:
    address = cluster.broker_address
    producer = Producer(address)
    async with producer.client as client:
        await create_topic(client, address, "TxTopic", queues=1)
        await producer.register()
        committed = await producer.send_half("TxTopic", b"commit me", "A" * 32)
        rolled_back = await producer.send_half("TxTopic", b"roll me back", "B" * 32)
        # The half messages are invisible; the answer names the real queue, the half queue offset.
        assert committed.ext_fields["queueId"] == "0"
        assert await visible(client, address, "TxTopic") == []
        await producer.end_sent(committed, COMMIT)
        await producer.end_sent(rolled_back, ROLLBACK)

        async def one_visible() -> bool:
            return len(await visible(client, address, "TxTopic")) == 1

        await eventually(one_visible)
        [message] = await visible(client, address, "TxTopic")
        assert message.body == b"commit me"
        assert message.sys_flag & 0xC == 8
        half_offset = decode_offset_msg_id(committed.ext_fields["msgId"]).commit_log_offset
        assert message.prepared_transaction_offset == half_offset
        # A repeated END_TRANSACTION does not show it twice; nobody is asked about either.
        await producer.end_sent(committed, COMMIT)
        await asyncio.sleep(1.5)
        assert len(await visible(client, address, "TxTopic")) == 1
        assert producer.checks == []


async def test_producer_dies_after_the_half_message_and_another_answers_the_check(cluster: Cluster) -> None:
    address = cluster.broker_address
    first = Producer(address)
    async with first.client as client:
        await create_topic(client, address, "TxCheckTopic", queues=1)
        await first.register()
        # Whole milliseconds, as the born timestamp and the broker's clock count: the check is due
        # when broker_ms >= born_ms + 1000, and born_ms is never below this.
        sent_at = int(time.time() * 1000) / 1000
        await first.send_half("TxCheckTopic", b"decided later", "C" * 32)
        await first.send_half("TxCheckTopic", b"never", "D" * 32)
    # The first producer is gone (its connection closed). A new one of the same group answers.
    second = Producer(address, answers={"C" * 32: COMMIT, "D" * 32: ROLLBACK})
    async with second.client as client:
        await second.register()

        async def committed() -> bool:
            return len(await visible(client, address, "TxCheckTopic")) == 1

        async def both_checked() -> bool:
            return {m.properties["UNIQ_KEY"] for _, _, m in second.checks} == {"C" * 32, "D" * 32}

        await eventually(committed)
        await eventually(both_checked)  # D's first check may come a round (200 ms) after C's
        [message] = await visible(client, address, "TxCheckTopic")
        assert message.body == b"decided later"
        checked = {m.properties["UNIQ_KEY"]: (t, h, m) for t, h, m in second.checks}
        assert set(checked) == {"C" * 32, "D" * 32}
        at, header, checked_message = checked["C" * 32]
        assert at - sent_at >= 1.0  # transactionTimeOut
        print(f"first check {at - sent_at:.3f} s after the half message (transactionTimeOut 1 s)")
        assert checked_message.topic == "TxCheckTopic"
        assert checked_message.properties["TRANSACTION_CHECK_TIMES"] == "1"
        assert header.transaction_id == "C" * 32
        await asyncio.sleep(1.5)
        assert len(await visible(client, address, "TxCheckTopic")) == 1
        # Each was asked about once: answered, it is never checked again.
        assert sorted(m.properties["UNIQ_KEY"] for _, _, m in second.checks) == ["C" * 32, "D" * 32]


@pytest.mark.long
async def test_a_transaction_nobody_decides_is_checked_max_times_then_parked(cluster: Cluster) -> None:
    address = cluster.broker_address
    producer = Producer(address)  # answers no check
    async with producer.client as client:
        await create_topic(client, address, "TxUndecidedTopic", queues=1)
        await producer.register()
        await producer.send_half("TxUndecidedTopic", b"undecided", "G" * 32)

        async def parked() -> bool:
            return len(await visible(client, address, "TRANS_CHECK_MAX_TIME_TOPIC")) == 1

        await eventually(parked, timeout_s=20)
        [message] = await visible(client, address, "TRANS_CHECK_MAX_TIME_TOPIC")
        assert message.body == b"undecided"
        times = [m.properties["TRANSACTION_CHECK_TIMES"] for _, _, m in producer.checks]
        assert times == ["1", "2", "3", "4", "5"]  # transactionCheckMax=5
        gaps = [b[0] - a[0] for a, b in zip(producer.checks, producer.checks[1:], strict=False)]
        assert all(gap >= 0.95 for gap in gaps), gaps  # transactionCheckInterval=1 s
        assert await visible(client, address, "TxUndecidedTopic") == []


async def test_open_transactions_survive_a_broker_crash(cluster: Cluster) -> None:
    address = cluster.broker_address
    producer = Producer(address)
    async with producer.client as client:
        await create_topic(client, address, "TxCrashTopic", queues=1)
        await producer.register()
        done = await producer.send_half("TxCrashTopic", b"committed before", "E" * 32)
        await producer.end_sent(done, COMMIT)
        await producer.send_half("TxCrashTopic", b"open at the crash", "F" * 32)

        async def first_visible() -> bool:
            return len(await visible(client, address, "TxCrashTopic")) == 1

        await eventually(first_visible)
    cluster.kill_broker()
    cluster.start_broker()
    answering = Producer(address, answers={"F" * 32: COMMIT, "E" * 32: COMMIT})
    async with answering.client as client:
        await answering.register()

        async def both_visible() -> bool:
            return len(await visible(client, address, "TxCrashTopic")) == 2

        await eventually(both_visible, timeout_s=20)
        await asyncio.sleep(1.5)
        bodies = [m.body for m in await visible(client, address, "TxCrashTopic")]
        assert bodies == [b"committed before", b"open at the crash"]
        assert {m.properties["UNIQ_KEY"] for _, _, m in answering.checks} == {"F" * 32}
