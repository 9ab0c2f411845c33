"""Orderly consume decisions, as ConsumeMessageOrderlyService."""

from __future__ import annotations

import pytest

from pocketmq.client.consumer.orderly import (
    MAX_TIME_CONSUME_CONTINUOUSLY_MS,
    ConsumeOrderlyStatus,
    OrderlyGate,
    effective_max_reconsume_times,
    orderly_gate,
    process_orderly_result,
    retry_message_for,
)
from pocketmq.client.consumer.process_queue import REBALANCE_LOCK_MAX_LIVE_TIME_MS, ProcessQueue
from pocketmq.common.message import MessageConst, MessageExt

NOW = 1_700_000_000_000


def message(offset: int, reconsume_times: int = 0) -> MessageExt:
    return MessageExt(
        topic="Orders",
        body=b"b",
        queue_offset=offset,
        reconsume_times=reconsume_times,
        msg_id=f"ID{offset}",
        properties={MessageConst.TRANSACTION_PREPARED: "true", "k": "v"},
    )


def queue_with(*messages: MessageExt) -> ProcessQueue:
    pq = ProcessQueue(now_ms=NOW)
    pq.put_messages(list(messages))
    pq.mark_locked(NOW)
    return pq


class SendBack:
    def __init__(self, ok: bool = True) -> None:
        self.ok = ok
        self.sent: list[int] = []

    async def __call__(self, message: MessageExt) -> bool:
        self.sent.append(message.queue_offset)
        return self.ok


def test_gate() -> None:
    pq = queue_with(message(0))
    assert orderly_gate(pq, clustering=True, now_ms=NOW, began_ms=NOW) is OrderlyGate.CONSUME
    late = NOW + REBALANCE_LOCK_MAX_LIVE_TIME_MS + 1
    assert orderly_gate(pq, clustering=True, now_ms=late, began_ms=late) is OrderlyGate.TRY_LOCK_LATER
    assert orderly_gate(pq, clustering=False, now_ms=late, began_ms=late) is OrderlyGate.CONSUME
    long_run = NOW + MAX_TIME_CONSUME_CONTINUOUSLY_MS + 1
    pq.mark_locked(long_run)
    assert orderly_gate(pq, clustering=True, now_ms=long_run, began_ms=NOW) is OrderlyGate.RESUBMIT_LATER
    pq.locked = False
    assert orderly_gate(pq, clustering=True, now_ms=NOW, began_ms=NOW) is OrderlyGate.TRY_LOCK_LATER
    assert OrderlyGate.TRY_LOCK_LATER.delay_ms == 10
    pq.dropped = True
    assert orderly_gate(pq, clustering=False, now_ms=NOW, began_ms=NOW) is OrderlyGate.STOP


def test_effective_max_reconsume_times() -> None:
    assert effective_max_reconsume_times(-1) == 2**31 - 1
    assert effective_max_reconsume_times(3) == 3


@pytest.mark.parametrize(
    "status", [ConsumeOrderlyStatus.SUCCESS, ConsumeOrderlyStatus.COMMIT, ConsumeOrderlyStatus.ROLLBACK]
)
async def test_auto_commit_commits(status: ConsumeOrderlyStatus) -> None:
    pq = queue_with(message(5), message(6))
    batch = pq.take_messages(1, NOW)
    result = await process_orderly_result(pq, batch, status, send_back=SendBack(), max_reconsume_times=16)
    assert (result.continue_consume, result.commit_offset, result.resubmit_after_ms) == (True, 6, None)


async def test_suspend_retries_the_same_messages_locally() -> None:
    pq = queue_with(message(5), message(6))
    batch = pq.take_messages(1, NOW)
    send_back = SendBack()
    result = await process_orderly_result(pq, batch, None, send_back=send_back, max_reconsume_times=16)
    assert (result.continue_consume, result.commit_offset, result.resubmit_after_ms) == (False, -1, 1000)
    assert send_back.sent == []
    again = pq.take_messages(1, NOW)
    assert [m.queue_offset for m in again] == [5] and again[0].reconsume_times == 1


async def test_past_max_goes_back_for_the_dlq_and_the_queue_moves_on() -> None:
    pq = queue_with(message(5, reconsume_times=3), message(6))
    batch = pq.take_messages(1, NOW)
    send_back = SendBack()
    result = await process_orderly_result(
        pq,
        batch,
        ConsumeOrderlyStatus.SUSPEND_CURRENT_QUEUE_A_MOMENT,
        send_back=send_back,
        max_reconsume_times=3,
    )
    assert (result.continue_consume, result.commit_offset) == (True, 6)
    assert [m.queue_offset for m in result.sent_back] == [5]
    assert batch[0].properties[MessageConst.RECONSUME_TIME] == "3"


async def test_failed_send_back_retries_locally() -> None:
    pq = queue_with(message(5, reconsume_times=3))
    batch = pq.take_messages(1, NOW)
    result = await process_orderly_result(
        pq, batch, None, send_back=SendBack(ok=False), max_reconsume_times=3
    )
    assert (result.continue_consume, result.resubmit_after_ms, result.sent_back) == (False, 1000, [])
    assert batch[0].reconsume_times == 4


async def test_manual_commit() -> None:
    pq = queue_with(message(1), message(2), message(3))

    async def answer(status: ConsumeOrderlyStatus) -> tuple[bool, int, int | None]:
        batch = pq.take_messages(1, NOW)
        result = await process_orderly_result(
            pq, batch, status, send_back=SendBack(), max_reconsume_times=16, auto_commit=False
        )
        return result.continue_consume, result.commit_offset, result.resubmit_after_ms

    assert await answer(ConsumeOrderlyStatus.SUCCESS) == (True, -1, None)
    # COMMIT commits both batches: SUCCESS left the first one uncommitted.
    assert await answer(ConsumeOrderlyStatus.COMMIT) == (True, 3, None)
    assert await answer(ConsumeOrderlyStatus.ROLLBACK) == (False, -1, 1000)
    assert [m.queue_offset for m in pq.take_messages(5, NOW)] == [3]


async def test_dropped_queue_commits_nothing() -> None:
    pq = queue_with(message(1))
    batch = pq.take_messages(1, NOW)
    pq.dropped = True
    result = await process_orderly_result(
        pq, batch, ConsumeOrderlyStatus.SUCCESS, send_back=SendBack(), max_reconsume_times=16
    )
    assert result.commit_offset == -1


def test_retry_message_for() -> None:
    original = message(9, reconsume_times=4)
    retry = retry_message_for(original, consumer_group="g", max_reconsume_times=16)
    assert retry.topic == "%RETRY%g"
    assert retry.delay_time_level == 7
    assert retry.properties[MessageConst.ORIGIN_MESSAGE_ID] == "ID9"
    assert retry.properties[MessageConst.RETRY_TOPIC] == "Orders"
    assert retry.properties[MessageConst.RECONSUME_TIME] == "4"
    assert retry.properties[MessageConst.MAX_RECONSUME_TIMES] == "16"
    assert MessageConst.TRANSACTION_PREPARED not in retry.properties
    assert retry.properties["k"] == "v"
    original.properties[MessageConst.ORIGIN_MESSAGE_ID] = "FIRST"
    assert (
        retry_message_for(original, consumer_group="g", max_reconsume_times=16).properties[
            MessageConst.ORIGIN_MESSAGE_ID
        ]
        == "FIRST"
    )
