"""OrderlyPushConsumer: a push consumer that hands each queue's messages to an orderly listener one
batch at a time, in queue order (Java DefaultMQPushConsumer with a MessageListenerOrderly, and
ConsumeMessageOrderlyService).

Three locks keep a queue's order (the seed's "顺序消息实现"):
- the broker lock (clustering only): LOCK_BATCH_MQ before a newly assigned queue is pulled
  (`Rebalancer.plan(...).lock_before_add`), renewed for every held queue every 20 s
  (`lock-renew-<group>`), released with UNLOCK_BATCH_MQ when rebalance drops the queue (20 s later
  when it still had cached messages, unless it was given back meanwhile:
  `Rebalancer.delayed_unlock_still_wanted`) and at shutdown. A queue whose lock is older than 30 s
  (`ProcessQueue.is_lock_expired`) is neither pulled nor consumed until locked again;
- the queue lock (local, Java MessageQueueLock + ProcessQueue consume lock): one `asyncio.Lock` per
  queue, held while a batch is taken, consumed and settled. Rebalance takes it (waiting at most 1 s)
  before it unlocks a dropped queue on the broker, so no other client can lock a queue while this
  one is in the middle of a batch of it;
- one consume task per ProcessQueue, so the batches of a queue never overlap.

The decisions are the pure cores of `orderly.py` (`orderly_gate`, `process_orderly_result`,
`retry_message_for`): SUSPEND_CURRENT_QUEUE_A_MOMENT (or an exception) puts the same messages back
and consumes them again after 1 s, without skipping; a message retried `max_reconsume_times` (default
unbounded, as Java) is sent to `%RETRY%<group>` with its reconsume count, so the broker stores it in
`%DLQ%<group>`, and the queue moves on. Sends of that kind go through the client's inner producer
(group CLIENT_INNER_PRODUCER, as Java's default producer).

Difference from Java: when rebalance could not lock a newly assigned queue (its old owner still holds
it), this consumer rebalances again 1 s later instead of waiting for the next 20 s round, so that a
new owner starts soon after the old lock is released.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any, Final, cast

from pocketmq.client.config import ClientConfig
from pocketmq.client.consumer.orderly import (
    RESUBMIT_AFTER_LOCK_MS,
    RESUBMIT_AFTER_LOCK_REFUSED_MS,
    SUSPEND_CURRENT_QUEUE_MS,
    TRY_LOCK_LATER_IN_LOOP_MS,
    ConsumeOrderlyStatus,
    OrderlyGate,
    effective_max_reconsume_times,
    orderly_gate,
    process_orderly_result,
    retry_message_for,
)
from pocketmq.client.consumer.process_queue import REBALANCE_LOCK_INTERVAL_MS, ProcessQueue
from pocketmq.client.consumer.push_consumer import PushConsumer, PushConsumerConfig
from pocketmq.client.consumer.rebalance import queues_by_broker
from pocketmq.common.clock import SYSTEM_CLOCK, Clock
from pocketmq.common.errors import ConfigError, PocketMQError
from pocketmq.common.message import MessageConst, MessageExt, MessageQueue
from pocketmq.common.topic import retry_topic
from pocketmq.protocol.bodies.consumer import (
    LockBatchRequestBody,
    LockBatchResponseBody,
    UnlockBatchRequestBody,
)
from pocketmq.protocol.codes import RequestCode, ResponseCode

__all__ = [
    "ConsumeOrderlyContext",
    "ConsumeOrderlyStatus",
    "MessageListenerOrderly",
    "OrderlyPushConsumer",
    "UNLOCK_DELAY_MS",
]

log = logging.getLogger(__name__)

#: Java RebalancePushImpl.UNLOCK_DELAY_TIME_MILLS: a dropped queue with cached messages is unlocked later.
UNLOCK_DELAY_MS: Final = 20_000
#: Java: the consume lock is awaited this long before a dropped queue is unlocked (else kept).
CONSUME_LOCK_WAIT_MS: Final = 1_000
#: Java: lock and unlock requests time out after 1 s.
LOCK_TIMEOUT_MS: Final = 1_000
#: Java ConsumeMessageOrderlyService: the first lockAll runs 1 s after start.
LOCK_RENEW_FIRST_DELAY_MS: Final = 1_000
#: Pauses of a consume task are cut into slices this long, so that shutdown does not wait for them.
PAUSE_SLICE_MS: Final = 100
#: pocketmq: rebalance again this soon after a lock was refused (Java waits for the next round).
REBALANCE_AFTER_LOCK_REFUSED_MS: Final = 1_000


@dataclass(slots=True)
class ConsumeOrderlyContext:
    """Java ConsumeOrderlyContext: `auto_commit` (False: SUCCESS keeps the batch until a COMMIT),
    `suspend_current_queue_time_ms` (-1: the consumer's setting) for SUSPEND_CURRENT_QUEUE_A_MOMENT."""

    message_queue: MessageQueue
    auto_commit: bool = True
    suspend_current_queue_time_ms: int = -1


#: An orderly listener: a plain function (run in the consume thread pool) or a coroutine function.
MessageListenerOrderly = Callable[
    [list[MessageExt], ConsumeOrderlyContext],
    "ConsumeOrderlyStatus | Awaitable[ConsumeOrderlyStatus | None] | None",
]


class OrderlyPushConsumer(PushConsumer):
    """A push consumer with an orderly listener: `subscribe`, then `await start()`.

    `config.max_reconsume_times` (-1: unbounded) bounds the local retries of a message before it is
    sent to the dead-letter queue; `suspend_current_queue_time_ms` is the pause after
    SUSPEND_CURRENT_QUEUE_A_MOMENT (Java suspendCurrentQueueTimeMillis, 1 s)."""

    _consume_orderly = True

    def __init__(
        self,
        group: str,
        *,
        namesrv_addr: str | None = None,
        client_config: ClientConfig | None = None,
        config: PushConsumerConfig | None = None,
        instance_name: str | None = None,
        listener: MessageListenerOrderly | None = None,
        clock: Clock = SYSTEM_CLOCK,
        suspend_current_queue_time_ms: int = SUSPEND_CURRENT_QUEUE_MS,
    ) -> None:
        if suspend_current_queue_time_ms < 0:
            raise ConfigError("suspend_current_queue_time_ms must be >= 0")
        super().__init__(
            group,
            namesrv_addr=namesrv_addr,
            client_config=client_config,
            config=config,
            instance_name=instance_name,
            listener=cast(Any, listener),
            clock=clock,
        )
        self.suspend_current_queue_time_ms = suspend_current_queue_time_ms
        #: One consume task per ProcessQueue (a queue dropped and re-added gets a new one).
        self._orderly_tasks: dict[ProcessQueue, asyncio.Task[None]] = {}
        #: The local queue lock (Java MessageQueueLock and ProcessQueue#consumeLock).
        self._queue_locks: dict[MessageQueue, asyncio.Lock] = {}
        self._delayed_unlocks: dict[MessageQueue, asyncio.Task[None]] = {}
        self._lock_renewal: asyncio.Task[None] | None = None
        self._rebalance_again: asyncio.Task[None] | None = None

    def register_message_listener(self, listener: MessageListenerOrderly) -> None:  # type: ignore[override]
        self._listener = cast(Any, listener)

    # -- lifecycle ------------------------------------------------------------------------------

    async def start(self) -> None:
        if self._instance is not None:
            return
        await super().start()
        if self.clustering:
            self._lock_renewal = asyncio.get_running_loop().create_task(
                self._renew_locks_forever(), name=f"lock-renew-{self.group}"
            )

    async def _release_queues(self, held: set[MessageQueue]) -> None:
        """At shutdown (offsets committed): stop the renewal, unlock every held queue and every
        queue waiting for a delayed unlock (Java ConsumeMessageOrderlyService#shutdown, unlockAll)."""
        for task in (self._lock_renewal, self._rebalance_again, *self._delayed_unlocks.values()):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._lock_renewal = self._rebalance_again = None
        pending = set(self._delayed_unlocks)
        self._delayed_unlocks.clear()
        if self.clustering:
            await self._unlock(held | pending, oneway=False)

    # -- broker locks ---------------------------------------------------------------------------

    async def _lock_batch(self, broker_name: str, queues: Iterable[MessageQueue]) -> set[MessageQueue]:
        """LOCK_BATCH_MQ to the broker's master; the queues it granted this client."""
        instance = self.instance
        # Only the master keeps locks (Java findBrokerAddressInSubscribe(name, MASTER_ID, true)).
        addr = instance.find_broker_address_in_publish(broker_name)
        if addr is None:
            raise PocketMQError(f"the master of broker {broker_name} is not known")
        body = LockBatchRequestBody(
            consumer_group=self.group, client_id=instance.client_id, queues=tuple(sorted(queues))
        ).encode()
        response = await instance.remoting.invoke(
            addr, instance.api.request(RequestCode.LOCK_BATCH_MQ, None, body), LOCK_TIMEOUT_MS
        )
        if response.code != ResponseCode.SUCCESS:
            raise PocketMQError(f"LOCK_BATCH_MQ refused by {addr}: {response.code} {response.remark}")
        return set(LockBatchResponseBody.decode(response.body).locked_queues)

    async def _unlock(self, queues: Iterable[MessageQueue], *, oneway: bool) -> None:
        """UNLOCK_BATCH_MQ, one request per broker; failures are logged (the lock expires anyway)."""
        instance = self.instance
        for broker_name, group in queues_by_broker(queues).items():
            addr = instance.find_broker_address_in_publish(broker_name)
            if addr is None:
                continue
            body = UnlockBatchRequestBody(
                consumer_group=self.group, client_id=instance.client_id, queues=tuple(sorted(group))
            ).encode()
            try:
                if oneway:
                    request = instance.api.request(RequestCode.UNLOCK_BATCH_MQ, None, body, oneway=True)
                    await instance.remoting.invoke_oneway(addr, request)
                else:
                    request = instance.api.request(RequestCode.UNLOCK_BATCH_MQ, None, body)
                    await instance.remoting.invoke(addr, request, LOCK_TIMEOUT_MS)
            except (PocketMQError, OSError) as error:
                log.warning("UNLOCK_BATCH_MQ of %d queue(s) on %s failed: %s", len(group), addr, error)
            else:
                log.info(
                    "%s (%s) unlocked %s",
                    self.group,
                    instance.client_id,
                    ", ".join(str(q) for q in sorted(group)),
                )

    async def lock_all(self) -> None:
        """Renew the broker lock of every held queue (Java RebalanceImpl#lockAll)."""
        rebalancer = self._rebalancer
        if rebalancer is None:
            return
        for broker_name, queues in queues_by_broker(rebalancer.process_queues).items():
            try:
                locked = await self._lock_batch(broker_name, queues)
            except (PocketMQError, OSError) as error:
                log.warning("lock renewal on %s failed: %s", broker_name, error)
                continue
            rebalancer.apply_lock_result(queues, locked, self.clock.now_ms())
            for queue in queues - locked:
                log.warning("%s lost the broker lock of %s", self.group, queue)

    async def _renew_locks_forever(self) -> None:
        await asyncio.sleep(LOCK_RENEW_FIRST_DELAY_MS / 1000)
        while True:
            try:
                await self.lock_all()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("lock renewal of %s failed", self.group)
            await asyncio.sleep(REBALANCE_LOCK_INTERVAL_MS / 1000)

    async def _lock_one(self, queue: MessageQueue) -> bool:
        """Lock one queue now (Java RebalanceImpl#lock); the held ProcessQueue records the answer."""
        if not self._running or self._instance is None:
            return False
        try:
            locked = await self._lock_batch(queue.broker_name, [queue])
        except (PocketMQError, OSError) as error:
            log.info("lock of %s failed: %s", queue, error)
            return False
        if self._rebalancer is not None:
            self._rebalancer.apply_lock_result([queue], locked, self.clock.now_ms())
        return queue in locked

    # -- rebalance ports (override the concurrent consumer's) -------------------------------------

    async def lock(self, queue: MessageQueue) -> bool:
        if await self._lock_one(queue):
            return True
        self._schedule_rebalance_again()
        return False

    def _schedule_rebalance_again(self) -> None:
        if self._rebalance_again is not None and not self._rebalance_again.done():
            return

        async def again() -> None:
            await asyncio.sleep(REBALANCE_AFTER_LOCK_REFUSED_MS / 1000)
            if self._running and self._instance is not None:
                self._instance.rebalance_immediately()

        self._rebalance_again = asyncio.get_running_loop().create_task(
            again(), name=f"rebalance-again-{self.group}"
        )

    async def remove_unnecessary_queue(self, queue: MessageQueue, process_queue: ProcessQueue) -> bool:
        """Java RebalancePushImpl#removeUnnecessaryMessageQueue for orderly consumers: commit the
        offset, then, holding the queue lock (a batch in progress finishes first; wait at most 1 s,
        else keep the queue for the next round), unlock it on the broker."""
        task = self._pull_tasks.pop(queue, None)
        if task is not None:
            task.cancel()
        await self.offset_store.persist(queue)
        self.offset_store.remove_offset(queue)
        if not self.clustering:
            return True
        lock = self._queue_lock(queue)
        try:
            async with asyncio.timeout(CONSUME_LOCK_WAIT_MS / 1000):
                await lock.acquire()
        except TimeoutError:
            process_queue.try_unlock_times += 1
            log.warning("%s: %s is being consumed; unlocking it next round", self.group, queue)
            return False
        try:
            if process_queue.has_temp_message():
                self._unlock_later(queue)
            else:
                await self._unlock([queue], oneway=True)
        finally:
            lock.release()
        return True

    def _unlock_later(self, queue: MessageQueue) -> None:
        """Java unlockDelay: unlock a dropped queue that still had cached messages 20 s later, but not
        if rebalance gave it back to this consumer meanwhile (it consumes under that lock)."""
        old = self._delayed_unlocks.pop(queue, None)
        if old is not None:
            old.cancel()

        async def later() -> None:
            await asyncio.sleep(UNLOCK_DELAY_MS / 1000)
            self._delayed_unlocks.pop(queue, None)
            rebalancer = self._rebalancer
            if rebalancer is not None and rebalancer.delayed_unlock_still_wanted(queue):
                await self._unlock([queue], oneway=True)

        self._delayed_unlocks[queue] = asyncio.get_running_loop().create_task(
            later(), name=f"unlock-later-{self.group}-{queue.topic}-{queue.queue_id}"
        )

    def _queue_lock(self, queue: MessageQueue) -> asyncio.Lock:
        lock = self._queue_locks.get(queue)
        if lock is None:
            lock = self._queue_locks[queue] = asyncio.Lock()
        return lock

    # -- consuming ------------------------------------------------------------------------------

    def _submit_consume(
        self, messages: list[MessageExt], process_queue: ProcessQueue, queue: MessageQueue
    ) -> None:
        """After a pull: start the queue's consume task unless one runs (Java submitConsumeRequest)."""
        task = self._orderly_tasks.get(process_queue)
        if task is not None and not task.done():
            return
        task = asyncio.get_running_loop().create_task(
            self._consume_queue(queue, process_queue),
            name=f"consume-orderly-{self.group}-{queue.topic}-{queue.queue_id}",
        )
        self._orderly_tasks[process_queue] = task
        self._consume_tasks.add(task)
        task.add_done_callback(self._consume_tasks.discard)

    async def _consume_queue(self, queue: MessageQueue, process_queue: ProcessQueue) -> None:
        """Java ConsumeMessageOrderlyService.ConsumeRequest#run: batches of one queue, in order,
        until the queue has nothing left (then a later pull starts a new task)."""
        try:
            began = self.clock.now_ms()
            while self._running:
                gate = orderly_gate(
                    process_queue, clustering=self.clustering, now_ms=self.clock.now_ms(), began_ms=began
                )
                if gate is OrderlyGate.STOP:
                    return
                if gate is OrderlyGate.TRY_LOCK_LATER:
                    # Java tryLockLaterAndReconsume: lock again shortly, then consume 10 ms after a
                    # granted lock or 3 s after a refused one.
                    await asyncio.sleep(TRY_LOCK_LATER_IN_LOOP_MS / 1000)
                    locked = not process_queue.dropped and await self._lock_one(queue)
                    wait = RESUBMIT_AFTER_LOCK_MS if locked else RESUBMIT_AFTER_LOCK_REFUSED_MS
                    await self._pause(wait)
                    began = self.clock.now_ms()
                    continue
                if gate is OrderlyGate.RESUBMIT_LATER:
                    await asyncio.sleep(gate.delay_ms / 1000)
                    began = self.clock.now_ms()
                    continue
                pause_ms = await self._consume_one_batch(queue, process_queue)
                if pause_ms is None:
                    return
                if pause_ms > 0:
                    await self._pause(pause_ms)
                    began = self.clock.now_ms()
        except asyncio.CancelledError:
            pass
        except Exception:
            log.exception("orderly consumption of %s stopped", queue)
        finally:
            # No await between the empty take and this: a pull arriving later starts a new task.
            if self._orderly_tasks.get(process_queue) is asyncio.current_task():
                del self._orderly_tasks[process_queue]

    async def _pause(self, ms: int) -> None:
        """Sleep `ms` before consuming a queue again, cut short when the consumer shuts down (its
        shutdown waits for the consume tasks)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + ms / 1000  # the loop's own clock, as asyncio.sleep
        while self._running and (left := deadline - loop.time()) > 0:
            await asyncio.sleep(min(left, PAUSE_SLICE_MS / 1000))

    async def _consume_one_batch(self, queue: MessageQueue, process_queue: ProcessQueue) -> int | None:
        """Take, consume and settle one batch under the queue lock. None: nothing left (or dropped);
        else how long to pause before the next batch."""
        async with self._queue_lock(queue):
            if process_queue.dropped:
                return None
            batch = process_queue.take_messages(
                self.config.consume_message_batch_max_size, self.clock.now_ms()
            )
            if not batch:
                return None
            retry = retry_topic(self.group)
            start = str(self.clock.now_ms())
            for message in batch:
                properties = message.properties
                original = properties.get(MessageConst.RETRY_TOPIC)
                if original is not None and message.topic == retry:
                    message.topic = original  # Java resetRetryAndNamespace
                properties[MessageConst.CONSUME_START_TIMESTAMP] = start
            context = ConsumeOrderlyContext(queue)
            status: ConsumeOrderlyStatus | None
            try:
                status = await self._call_orderly_listener(batch, context)
            except Exception:
                log.exception(
                    "orderly listener of %s failed on %d message(s) of %s", self.group, len(batch), queue
                )
                status = None
            suspend_ms = (
                context.suspend_current_queue_time_ms
                if context.suspend_current_queue_time_ms > 0
                else self.suspend_current_queue_time_ms
            )
            result = await process_orderly_result(
                process_queue,
                batch,
                status,
                send_back=self._send_back_for_dead_letter,
                max_reconsume_times=effective_max_reconsume_times(self.config.max_reconsume_times),
                auto_commit=context.auto_commit,
                suspend_ms=suspend_ms,
            )
            if result.commit_offset >= 0 and not process_queue.dropped:
                self.offset_store.update_offset(queue, result.commit_offset, increase_only=False)
            for message in result.sent_back:
                log.warning(
                    "%s: %s of %s failed %d times; sent to the dead-letter queue",
                    self.group,
                    message.msg_id,
                    queue,
                    message.reconsume_times,
                )
        if result.continue_consume:
            return 0
        return result.resubmit_after_ms or 0

    async def _call_orderly_listener(
        self, messages: list[MessageExt], context: ConsumeOrderlyContext
    ) -> ConsumeOrderlyStatus | None:
        status: ConsumeOrderlyStatus | None = await self._run_listener(messages, context)
        return status

    async def _send_back_for_dead_letter(self, message: MessageExt) -> bool:
        """Java ConsumeMessageOrderlyService#sendMessageBack: send the message to `%RETRY%<group>` with
        its reconsume count and limit (the broker stores it in `%DLQ%<group>`); False on failure."""
        retry = retry_message_for(
            message,
            consumer_group=self.group,
            max_reconsume_times=effective_max_reconsume_times(self.config.max_reconsume_times),
        )
        try:
            producer = await self._send_back_producer()  # the client's inner producer
            await producer.send(retry)
        except (PocketMQError, OSError) as error:
            log.warning("send-back of %s failed (%s); it is consumed again", message.msg_id, error)
            return False
        return True

    # -- what the instance calls ----------------------------------------------------------------

    async def consume_message_directly(self, message: MessageExt, broker_name: str | None) -> dict[str, Any]:
        """CONSUME_MESSAGE_DIRECTLY with the orderly listener (Java ConsumeMessageOrderlyService)."""
        queue = MessageQueue(message.topic, broker_name or "", message.queue_id)
        started = self.clock.monotonic_ms()
        remark = None
        try:
            status = await self._call_orderly_listener([message], ConsumeOrderlyContext(queue))
            if status in (ConsumeOrderlyStatus.SUCCESS, ConsumeOrderlyStatus.COMMIT):
                result = "CR_SUCCESS"
            elif status is None:
                result = "CR_RETURN_NULL"
            elif status is ConsumeOrderlyStatus.ROLLBACK:
                result = "CR_ROLLBACK"
            else:
                result = "CR_LATER"
        except Exception as error:
            result, remark = "CR_THROW_EXCEPTION", f"{type(error).__name__}: {error}"
        return {
            "autoCommit": True,
            "consumeResult": result,
            "order": True,
            "remark": remark,
            "spentTimeMills": self.clock.monotonic_ms() - started,
        }
