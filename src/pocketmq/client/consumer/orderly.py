"""Orderly consumption decisions: whether a queue may be consumed now, and what a listener's answer
does to the queue (Java ConsumeMessageOrderlyService: ConsumeRequest#run, processConsumeResult,
checkReconsumeTimes, sendMessageBack).

One consume task per queue takes a batch from the ProcessQueue head (`take_messages`), calls the
listener, then `process_orderly_result` commits, or puts the batch back to retry the same messages
after `suspend_ms` (SUSPEND_CURRENT_QUEUE_A_MOMENT), or, for messages already retried
`max_reconsume_times`, sends them back to `%RETRY%<group>` with their reconsume count, where the broker
moves them to `%DLQ%<group>`, and moves on. Decisions take `now_ms`; the one network call (the send
back) is injected.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Final

from pocketmq.client.consumer.process_queue import ProcessQueue
from pocketmq.common.message import Message, MessageConst, MessageExt
from pocketmq.common.topic import retry_topic

__all__ = [
    "ConsumeOrderlyStatus",
    "MAX_TIME_CONSUME_CONTINUOUSLY_MS",
    "OrderlyGate",
    "orderly_gate",
    "effective_max_reconsume_times",
    "OrderlyResult",
    "process_orderly_result",
    "retry_message_for",
]

#: A consume task yields after this long on one queue. Java: rocketmq.client.maxTimeConsumeContinuously.
MAX_TIME_CONSUME_CONTINUOUSLY_MS: Final = 60_000
#: Java ConsumeMessageOrderlyService: retry the lock 10 ms later from inside the loop, 100 ms from outside.
TRY_LOCK_LATER_IN_LOOP_MS: Final = 10
TRY_LOCK_LATER_MS: Final = 100
#: After tryLockLaterAndReconsume: consume again 10 ms after a granted lock, 3 s after a refused one.
RESUBMIT_AFTER_LOCK_MS: Final = 10
RESUBMIT_AFTER_LOCK_REFUSED_MS: Final = 3_000
#: Java DefaultMQPushConsumer.suspendCurrentQueueTimeMillis.
SUSPEND_CURRENT_QUEUE_MS: Final = 1_000
_INT_MAX: Final = 2**31 - 1


class ConsumeOrderlyStatus(Enum):
    """What an orderly listener answers (Java ConsumeOrderlyStatus). ROLLBACK and COMMIT are
    deprecated there; with auto-commit they count as SUCCESS."""

    SUCCESS = "SUCCESS"
    ROLLBACK = "ROLLBACK"
    COMMIT = "COMMIT"
    SUSPEND_CURRENT_QUEUE_A_MOMENT = "SUSPEND_CURRENT_QUEUE_A_MOMENT"


class OrderlyGate(Enum):
    """What a consume task does before taking the next batch (Java ConsumeRequest#run)."""

    CONSUME = "consume"
    STOP = "stop"  # the queue was dropped
    TRY_LOCK_LATER = "try_lock_later"  # no live broker lock: lock again after `delay_ms`, then resubmit
    RESUBMIT_LATER = "resubmit_later"  # consumed for 60 s straight: let other queues run

    @property
    def delay_ms(self) -> int:
        if self is OrderlyGate.TRY_LOCK_LATER:
            return TRY_LOCK_LATER_IN_LOOP_MS
        if self is OrderlyGate.RESUBMIT_LATER:
            return RESUBMIT_AFTER_LOCK_MS
        return 0


def orderly_gate(process_queue: ProcessQueue, *, clustering: bool, now_ms: int, began_ms: int) -> OrderlyGate:
    """The check at the top of each round of an orderly consume task that started at `began_ms`."""
    if process_queue.dropped:
        return OrderlyGate.STOP
    if clustering and (not process_queue.locked or process_queue.is_lock_expired(now_ms)):
        return OrderlyGate.TRY_LOCK_LATER
    if now_ms - began_ms > MAX_TIME_CONSUME_CONTINUOUSLY_MS:
        return OrderlyGate.RESUBMIT_LATER
    return OrderlyGate.CONSUME


def effective_max_reconsume_times(configured: int) -> int:
    """Orderly retries are unbounded unless configured (Java: -1 means Integer.MAX_VALUE here)."""
    return _INT_MAX if configured == -1 else configured


@dataclass(slots=True)
class OrderlyResult:
    #: Take the next batch now (False: the task ends; see `resubmit_after_ms`).
    continue_consume: bool
    #: The offset to store (`update_offset(..., increase_only=False)`), -1 for none.
    commit_offset: int = -1
    #: Consume this queue again after this many ms (the batch was put back).
    resubmit_after_ms: int | None = None
    #: Messages sent back for the dead-letter queue (past max_reconsume_times).
    sent_back: list[MessageExt] = field(default_factory=list)


def retry_message_for(message: MessageExt, *, consumer_group: str, max_reconsume_times: int) -> Message:
    """The message an orderly consumer sends to `%RETRY%<group>` for one that failed too often
    (Java ConsumeMessageOrderlyService#sendMessageBack): same body, flag and properties, the original
    id, the real topic, its reconsume count and limit (so the broker routes it to the DLQ), no
    transaction mark, delay level 3 + reconsume count."""
    properties = dict(message.properties)
    properties.pop(MessageConst.TRANSACTION_PREPARED, None)
    properties[MessageConst.ORIGIN_MESSAGE_ID] = (
        properties.get(MessageConst.ORIGIN_MESSAGE_ID) or message.msg_id
    )
    properties[MessageConst.RETRY_TOPIC] = message.topic
    properties[MessageConst.RECONSUME_TIME] = str(message.reconsume_times)
    properties[MessageConst.MAX_RECONSUME_TIMES] = str(max_reconsume_times)
    retry = Message(retry_topic(consumer_group), message.body, flag=message.flag, properties=properties)
    retry.delay_time_level = 3 + message.reconsume_times
    return retry


async def process_orderly_result(
    process_queue: ProcessQueue,
    messages: Sequence[MessageExt],
    status: ConsumeOrderlyStatus | None,
    *,
    send_back: Callable[[MessageExt], Awaitable[bool]],
    max_reconsume_times: int,
    auto_commit: bool = True,
    suspend_ms: int = SUSPEND_CURRENT_QUEUE_MS,
) -> OrderlyResult:
    """Apply a listener's answer for `messages` (the batch just taken). `status` None means the
    listener raised or returned nothing: SUSPEND_CURRENT_QUEUE_A_MOMENT. `send_back` sends
    `retry_message_for(message)` and answers whether it was stored. `max_reconsume_times` is
    already effective (see `effective_max_reconsume_times`)."""
    if status is None:
        status = ConsumeOrderlyStatus.SUSPEND_CURRENT_QUEUE_A_MOMENT
    result = OrderlyResult(continue_consume=True)
    if status is ConsumeOrderlyStatus.SUSPEND_CURRENT_QUEUE_A_MOMENT:
        if await _check_reconsume_times(messages, send_back, max_reconsume_times, result):
            process_queue.make_messages_to_consume_again(messages)
            result.continue_consume = False
            result.resubmit_after_ms = suspend_ms
        elif auto_commit:
            result.commit_offset = process_queue.commit()
    elif auto_commit or status is ConsumeOrderlyStatus.COMMIT:
        result.commit_offset = process_queue.commit()
    elif status is ConsumeOrderlyStatus.ROLLBACK:
        process_queue.rollback()
        result.continue_consume = False
        result.resubmit_after_ms = suspend_ms
    # Without auto-commit, SUCCESS keeps the batch uncommitted until a later COMMIT (Java).
    if process_queue.dropped:
        result.commit_offset = -1
    return result


async def _check_reconsume_times(
    messages: Sequence[MessageExt],
    send_back: Callable[[MessageExt], Awaitable[bool]],
    max_reconsume_times: int,
    result: OrderlyResult,
) -> bool:
    # Java checkReconsumeTimes: True (suspend) when any message is retried locally.
    suspend = False
    for message in messages:
        if message.reconsume_times >= max_reconsume_times:
            message.properties[MessageConst.RECONSUME_TIME] = str(message.reconsume_times)
            if await send_back(message):
                result.sent_back.append(message)
                continue
        suspend = True
        message.reconsume_times += 1
    return suspend
