"""OrderlyPushConsumer without a network: the drop/unlock rules, lock renewal and the per-queue
consume loop (SUSPEND, dead letters, order), with the broker calls replaced by recorders."""

from __future__ import annotations

import asyncio

import pytest

from pocketmq.client.consumer import consume_orderly_service as service
from pocketmq.client.consumer.allocation import Averagely
from pocketmq.client.consumer.consume_orderly_service import (
    ConsumeOrderlyContext,
    ConsumeOrderlyStatus,
    OrderlyPushConsumer,
)
from pocketmq.client.consumer.offset_store import ReadOffsetType, RemoteBrokerOffsetStore
from pocketmq.client.consumer.process_queue import ProcessQueue
from pocketmq.client.consumer.push_consumer import PushConsumerConfig
from pocketmq.client.consumer.rebalance import ConsumeType, MessageModel, Rebalancer
from pocketmq.common.clock import FakeClock
from pocketmq.common.message import MessageConst, MessageExt, MessageQueue
from pocketmq.common.topic import retry_topic

QUEUE = MessageQueue("T", "broker-a", 0)
OTHER = MessageQueue("T", "broker-a", 1)


async def _no_offset(queue: MessageQueue) -> int:
    return -1


async def _commit(queue: MessageQueue, offset: int, oneway: bool) -> None:
    return None


def make_consumer(
    listener: object = None,
    *,
    model: MessageModel = MessageModel.CLUSTERING,
    clock: FakeClock | None = None,
    **config: int,
) -> tuple[OrderlyPushConsumer, list[tuple[set[MessageQueue], bool]]]:
    """A consumer wired as start() would, without an instance; UNLOCK_BATCH_MQ calls are recorded."""
    consumer = OrderlyPushConsumer(
        "g",
        namesrv_addr="127.0.0.1:9876",
        config=PushConsumerConfig(message_model=model, **config),  # type: ignore[arg-type]
        listener=listener,  # type: ignore[arg-type]
        clock=clock or FakeClock(),
        suspend_current_queue_time_ms=1,
    )
    consumer._offset_store = RemoteBrokerOffsetStore(
        consumer_group="g", query_offset=_no_offset, commit_offset=_commit
    )
    consumer._rebalancer = Rebalancer(
        consumer_group="g",
        client_id="me",
        message_model=model,
        consume_type=ConsumeType.CONSUME_PASSIVELY,
        strategy=Averagely(),
        orderly=True,
    )
    consumer._running = True
    unlocks: list[tuple[set[MessageQueue], bool]] = []

    async def unlock(queues: object, *, oneway: bool) -> None:
        unlocks.append((set(queues), oneway))  # type: ignore[call-overload]

    consumer._unlock = unlock  # type: ignore[method-assign]
    return consumer, unlocks


def message(offset: int, body: str, *, topic: str = "T", times: int = 0) -> MessageExt:
    return MessageExt(
        topic=topic, body=body.encode(), queue_offset=offset, reconsume_times=times, msg_id=f"id{offset}"
    )


async def test_a_dropped_queue_without_cached_messages_is_unlocked_at_once() -> None:
    consumer, unlocks = make_consumer()
    process_queue = ProcessQueue(now_ms=0)
    process_queue.dropped = True
    assert await consumer.remove_unnecessary_queue(QUEUE, process_queue)
    assert unlocks == [({QUEUE}, True)]


async def test_a_dropped_queue_with_cached_messages_is_unlocked_later_unless_held_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(service, "UNLOCK_DELAY_MS", 20)
    consumer, unlocks = make_consumer()
    assert consumer._rebalancer is not None
    for queue in (QUEUE, OTHER):
        process_queue = ProcessQueue(now_ms=0)
        process_queue.put_messages([message(5, "cached")])
        process_queue.dropped = True
        assert await consumer.remove_unnecessary_queue(queue, process_queue)
    assert unlocks == []
    # OTHER is given back to this consumer before the delayed unlock: it is consuming under that lock.
    consumer._rebalancer.add_process_queue(OTHER, ProcessQueue(now_ms=0))
    await asyncio.sleep(0.1)
    assert unlocks == [({QUEUE}, True)]


async def test_a_queue_in_the_middle_of_a_batch_is_not_unlocked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(service, "CONSUME_LOCK_WAIT_MS", 50)
    consumer, unlocks = make_consumer()
    process_queue = ProcessQueue(now_ms=0)
    async with consumer._queue_lock(QUEUE):  # a listener is running
        process_queue.dropped = True
        assert not await consumer.remove_unnecessary_queue(QUEUE, process_queue)
    assert unlocks == []
    assert process_queue.try_unlock_times == 1
    assert await consumer.remove_unnecessary_queue(QUEUE, process_queue)  # next round
    assert unlocks == [({QUEUE}, True)]


async def test_broadcasting_drops_without_unlocking() -> None:
    consumer, unlocks = make_consumer(model=MessageModel.BROADCASTING)
    assert await consumer.remove_unnecessary_queue(QUEUE, ProcessQueue(now_ms=0))
    assert unlocks == []


async def test_lock_renewal_records_granted_and_refused_queues() -> None:
    clock = FakeClock(start_ms=1_000)
    consumer, _ = make_consumer(clock=clock)
    assert consumer._rebalancer is not None
    queues = {QUEUE: ProcessQueue(now_ms=0), OTHER: ProcessQueue(now_ms=0)}
    for queue, process_queue in queues.items():
        process_queue.locked = True
        consumer._rebalancer.add_process_queue(queue, process_queue)
    asked: list[set[MessageQueue]] = []

    async def lock_batch(broker_name: str, requested: object) -> set[MessageQueue]:
        asked.append(set(requested))  # type: ignore[call-overload]
        return {QUEUE}

    consumer._lock_batch = lock_batch  # type: ignore[method-assign]
    clock.advance(5_000)
    await consumer.lock_all()
    assert asked == [{QUEUE, OTHER}]
    assert queues[QUEUE].locked and queues[QUEUE].last_lock_timestamp_ms == clock.now_ms()
    assert not queues[OTHER].locked


async def test_consume_loop_retries_a_suspended_batch_then_moves_on_in_order() -> None:
    calls: list[tuple[str, int, str]] = []

    async def listener(messages: list[MessageExt], context: ConsumeOrderlyContext) -> ConsumeOrderlyStatus:
        body = messages[0].body.decode()
        calls.append((body, messages[0].reconsume_times, messages[0].topic))
        if body == "b" and messages[0].reconsume_times < 2:
            return ConsumeOrderlyStatus.SUSPEND_CURRENT_QUEUE_A_MOMENT
        return ConsumeOrderlyStatus.SUCCESS

    consumer, _ = make_consumer(listener, model=MessageModel.BROADCASTING)
    process_queue = ProcessQueue(now_ms=0)
    process_queue.locked = True
    retried = message(12, "c", topic=retry_topic("g"))
    retried.properties[MessageConst.RETRY_TOPIC] = "T"
    process_queue.put_messages([message(10, "a"), message(11, "b"), retried])
    await consumer._consume_queue(QUEUE, process_queue)
    assert calls == [("a", 0, "T"), ("b", 0, "T"), ("b", 1, "T"), ("b", 2, "T"), ("c", 0, "T")]
    assert await consumer.offset_store.read_offset(QUEUE, ReadOffsetType.READ_FROM_MEMORY) == 13
    assert process_queue.message_count == 0


async def test_consume_loop_sends_a_message_past_max_to_the_dlq_and_continues() -> None:
    calls: list[str] = []

    def listener(messages: list[MessageExt], context: ConsumeOrderlyContext) -> ConsumeOrderlyStatus | None:
        calls.append(messages[0].body.decode())
        if messages[0].body == b"poison":
            raise RuntimeError("never works")
        return ConsumeOrderlyStatus.SUCCESS

    consumer, _ = make_consumer(listener, model=MessageModel.BROADCASTING, max_reconsume_times=1)
    consumer._executor = None  # call the plain function on the loop through an awaitable wrapper

    async def call(messages: list[MessageExt], context: ConsumeOrderlyContext) -> ConsumeOrderlyStatus | None:
        return listener(messages, context)

    consumer._listener = call  # type: ignore[assignment]
    sent_back: list[tuple[str, int]] = []

    async def send_back(failed: MessageExt) -> bool:
        sent_back.append((failed.body.decode(), failed.reconsume_times))
        return True

    consumer._send_back_for_dead_letter = send_back  # type: ignore[method-assign]
    process_queue = ProcessQueue(now_ms=0)
    process_queue.locked = True
    process_queue.put_messages([message(0, "poison"), message(1, "next")])
    await consumer._consume_queue(QUEUE, process_queue)
    assert calls == ["poison", "poison", "next"]
    assert sent_back == [("poison", 1)]
    assert await consumer.offset_store.read_offset(QUEUE, ReadOffsetType.READ_FROM_MEMORY) == 2


async def test_clustering_consumption_waits_for_the_broker_lock(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []

    async def listener(messages: list[MessageExt], context: ConsumeOrderlyContext) -> ConsumeOrderlyStatus:
        calls.append(messages[0].body.decode())
        return ConsumeOrderlyStatus.SUCCESS

    consumer, _ = make_consumer(listener)
    assert consumer._rebalancer is not None
    process_queue = ProcessQueue(now_ms=0)  # not locked
    consumer._rebalancer.add_process_queue(QUEUE, process_queue)
    process_queue.put_messages([message(0, "a")])
    attempts: list[int] = []

    async def lock_batch(broker_name: str, requested: object) -> set[MessageQueue]:
        attempts.append(1)
        return set() if len(attempts) == 1 else {QUEUE}

    consumer._lock_batch = lock_batch  # type: ignore[method-assign]
    consumer._instance = object()  # type: ignore[assignment]
    monkeypatch.setattr(service, "RESUBMIT_AFTER_LOCK_REFUSED_MS", 10)
    await asyncio.wait_for(consumer._consume_queue(QUEUE, process_queue), 5)
    assert len(attempts) == 2
    assert calls == ["a"]
