"""ScheduleMessageService: delivers delayed messages from SCHEDULE_TOPIC_XXXX when their time comes.

Java: ScheduleMessageService (4.9.8). A message sent with the DELAY property (level 1..N of
`messageDelayLevel`, "1s 5s 10s 30s 1m ... 2h") or sent back by a consumer is parked (`park_delayed`,
called by the send path and the send-back handler, Java CommitLog#asyncPutMessage; the store's put
path does the same for other writers) in SCHEDULE_TOPIC_XXXX, queue level-1, with REAL_TOPIC /
REAL_QID; its ConsumeQueue unit carries the delivery time (store time + level delay) as tags code,
computed by the store at dispatch and again at recovery. This service walks each level's queue from
its progress offset (`config/delayOffset.json`) and, for every unit whose time has come, re-puts the
message to its real topic and queue.

What the delivered record looks like (checked against the 4.9.8 golden records delayA/schedule ->
delayA/delivered): same body, flag, sys flag, born time and host, reconsume times, and the same
property string, DELAY included (Java clears DELAY from the property map only after building the
string; the map is what stops the put path from parking it again, and so it is here).

Guarantees: a message is never delivered before its time (units are checked against the clock
before anything is read; the time is derived from the stored record, so it survives a crash); none
is lost (the offset advances only after the re-put succeeded, and is persisted only after the
delivered records were flushed); after a crash some may be delivered twice (at least once).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from dataclasses import dataclass
from typing import Final

from pocketmq.broker.schedule_offsets import (
    ScheduleOffsetTable,
    delay_level_to_queue_id,
)
from pocketmq.broker.transaction.records import java_hashmap_order
from pocketmq.common.clock import Clock
from pocketmq.common.errors import CorruptionError
from pocketmq.common.message import MessageConst, MessageExt, properties_to_string
from pocketmq.common.sysflag import TRANSACTION_COMMIT_TYPE, TRANSACTION_NOT_TYPE, transaction_value
from pocketmq.common.topic import SystemTopics
from pocketmq.store.commit_log.record import decode_record
from pocketmq.store.consume_queue.unit import BLANK_UNIT_SIZE
from pocketmq.store.message_store import MessageStore
from pocketmq.store.results import PutMessageStatus

__all__ = ["ScheduleMessageService", "DeliveryRound", "delivered_message", "park_delayed", "SCHEDULE_TOPIC"]

log = logging.getLogger(__name__)

SCHEDULE_TOPIC: Final = SystemTopics.SCHEDULE
#: Java DELAY_FOR_A_WHILE: how often a level with nothing due looks again (ms).
POLL_INTERVAL_MS: Final = 100
#: Java flushDelayOffsetInterval is 10 s; pocketmq writes delayOffset.json at most this often when it
#: changed (after flushing the delivered records), which keeps redeliveries after a crash to the last
#: fraction of a second's worth.
PERSIST_INTERVAL_MS: Final = 200
#: Units read per level and round (one CQ read).
UNITS_PER_READ: Final = 256
#: At most this many re-puts per round: a backlog is worked off without holding the event loop.
DELIVERIES_PER_ROUND: Final = 1000

_DELAY = MessageConst.DELAY_TIME_LEVEL
_REAL_TOPIC = MessageConst.REAL_TOPIC
_REAL_QUEUE_ID = MessageConst.REAL_QUEUE_ID
_WAIT = MessageConst.WAIT_STORE_MSG_OK


@dataclass(slots=True)
class DeliveryRound:
    """What one pass over every level did."""

    delivered: int = 0
    skipped: int = 0
    #: Earliest delivery time still pending (ms since the epoch), or None when every level is empty.
    next_due_ms: int | None = None
    #: End offset in the CommitLog of the last delivered record (to flush before persisting).
    last_end_offset: int = 0
    #: A put failed: the level stays where it is and is retried on the next round.
    blocked: bool = False


def park_delayed(
    message: MessageExt, properties_string: str, wait: str | None, store: MessageStore
) -> tuple[MessageExt, str]:
    """Java CommitLog#asyncPutMessage, before the append: a plain or committed message with a DELAY
    level > 0 goes to SCHEDULE_TOPIC_XXXX queue level-1 (the level capped at the last configured
    one) with REAL_TOPIC / REAL_QID, its property string rebuilt in Java HashMap order with WAIT kept
    (golden record delayA/schedule). Anything else is returned as it came."""
    text = message.properties.get(_DELAY)
    max_level = len(store.dispatcher.delay_levels_ms)
    if (
        not text
        or not text.isdigit()
        or int(text) <= 0
        or max_level == 0
        or message.topic == SCHEDULE_TOPIC
        or not store.config.schedule_delayed_messages
        or transaction_value(message.sys_flag) not in (TRANSACTION_NOT_TYPE, TRANSACTION_COMMIT_TYPE)
    ):
        return message, properties_string
    level = min(int(text), max_level)
    properties = dict(message.properties)
    if wait is not None:
        properties[_WAIT] = wait
    properties[_DELAY] = str(level)
    properties[_REAL_TOPIC] = message.topic
    properties[_REAL_QUEUE_ID] = str(message.queue_id)
    properties = java_hashmap_order(properties)
    parked = dataclasses.replace(
        message, topic=SCHEDULE_TOPIC, queue_id=delay_level_to_queue_id(level), properties=properties
    )
    return parked, properties_to_string(properties)


def delivered_message(parked: MessageExt) -> tuple[MessageExt, str] | None:
    """Java ScheduleMessageService#messageTimeup: the message to re-put for a parked one and its
    property string; None when it cannot be delivered (no real topic, or a transactional half
    message, which 4.9.8 drops here too)."""
    properties = dict(parked.properties)
    real_topic = properties.get(_REAL_TOPIC)
    real_queue = properties.get(_REAL_QUEUE_ID, "")
    if not real_topic or not real_queue.isdigit() or real_topic == SystemTopics.TRANS_HALF:
        return None
    properties_string = properties_to_string(properties)
    properties.pop(_DELAY, None)
    properties[_WAIT] = "false"
    message = MessageExt(
        topic=real_topic,
        body=parked.body,
        flag=parked.flag,
        properties=properties,
        queue_id=int(real_queue),
        sys_flag=parked.sys_flag,
        born_timestamp=parked.born_timestamp,
        born_host=parked.born_host,
        reconsume_times=parked.reconsume_times,
    )
    return message, properties_string


class ScheduleMessageService:
    """One per broker. `load()` then `await start()`; `await stop()` persists the progress."""

    def __init__(
        self,
        store: MessageStore,
        offsets: ScheduleOffsetTable,
        clock: Clock,
        *,
        delay_levels_ms: tuple[int, ...] | None = None,
        poll_interval_ms: int = POLL_INTERVAL_MS,
        persist_interval_ms: int = PERSIST_INTERVAL_MS,
        deliveries_per_round: int = DELIVERIES_PER_ROUND,
    ) -> None:
        self._store = store
        self.offsets = offsets
        self._clock = clock
        self.delay_levels_ms = (
            delay_levels_ms if delay_levels_ms is not None else store.dispatcher.delay_levels_ms
        )
        self._poll_s = poll_interval_ms / 1000
        self._persist_interval_ms = persist_interval_ms
        self._deliveries_per_round = deliveries_per_round
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._last_persist_ms = 0
        self._pending_end_offset = 0
        self._stopping = False

    @property
    def max_delay_level(self) -> int:
        return len(self.delay_levels_ms)

    # -- progress ---------------------------------------------------------------------------------
    def load(self) -> None:
        """Read delayOffset.json and clamp each level into its queue's range (Java
        #correctDelayOffset)."""
        self.offsets.load()
        for level in range(1, self.max_delay_level + 1):
            queue = self._store.find_consume_queue(SCHEDULE_TOPIC, delay_level_to_queue_id(level))
            if queue is None or level not in self.offsets.offsets:
                continue
            current = self.offsets.get(level)
            corrected = min(max(current, queue.min_offset), queue.max_offset)
            if corrected != current:
                log.warning("delay level %d: offset %d corrected to %d", level, current, corrected)
                self.offsets.update(level, corrected)

    def running_stats(self) -> dict[str, str]:
        """Java #buildRunningStats: scheduleMessageOffset_<level> -> "delivered,max"."""
        stats = {}
        for level, offset in sorted(self.offsets.offsets.items()):
            max_offset = self._store.get_max_offset_in_queue(SCHEDULE_TOPIC, delay_level_to_queue_id(level))
            stats[f"scheduleMessageOffset_{level}"] = f"{offset},{max_offset}"
        return stats

    # -- delivery (no await: runs between other requests on the loop) ------------------------------
    def deliver_due(self, now_ms: int | None = None) -> DeliveryRound:
        """Deliver every parked message whose time has come; returns what it did."""
        now = self._clock.now_ms() if now_ms is None else now_ms
        outcome = DeliveryRound()
        for level in range(1, self.max_delay_level + 1):
            self._deliver_level(level, now, outcome)
        return outcome

    def _level_delay_ms(self, level: int) -> int:
        levels = self.delay_levels_ms
        return levels[min(level, len(levels)) - 1] if levels else 1000

    def _deliver_level(self, level: int, now: int, outcome: DeliveryRound) -> None:
        store = self._store
        queue = store.find_consume_queue(SCHEDULE_TOPIC, delay_level_to_queue_id(level))
        if queue is None:
            return
        offset = self.offsets.get(level)
        offset = max(offset, queue.min_offset)
        max_offset = queue.max_offset
        # Java #correctDeliverTimestamp: a time further away than one full delay (the clock went
        # back, or the level was shortened) is delivered now.
        latest = now + self._level_delay_ms(level)
        while offset < max_offset:
            units = queue.read_units(offset, UNITS_PER_READ)
            if not units:
                offset = queue.roll_next_file(offset)
                continue
            for commit_log_offset, size, tags_code in units:
                deliver_at = tags_code if tags_code <= latest else now
                if deliver_at > now:
                    self._note_due(outcome, deliver_at)
                    self._set_offset(level, offset)
                    return
                if outcome.delivered + outcome.skipped >= self._deliveries_per_round:
                    # A backlog (after downtime): let other work run, come back at once.
                    self._note_due(outcome, now)
                    self._set_offset(level, offset)
                    return
                if size != BLANK_UNIT_SIZE and not self._deliver_one(commit_log_offset, size, level, outcome):
                    outcome.blocked = True
                    self._note_due(outcome, now + POLL_INTERVAL_MS)
                    self._set_offset(level, offset)
                    return
                offset += 1
        self._set_offset(level, offset)

    @staticmethod
    def _note_due(outcome: DeliveryRound, at_ms: int) -> None:
        if outcome.next_due_ms is None or at_ms < outcome.next_due_ms:
            outcome.next_due_ms = at_ms

    def _set_offset(self, level: int, offset: int) -> None:
        if self.offsets.get(level) != offset or level not in self.offsets.offsets:
            self.offsets.update(level, offset)

    def _deliver_one(self, commit_log_offset: int, size: int, level: int, outcome: DeliveryRound) -> bool:
        """Re-put one parked record; False when the store refused it (retry later)."""
        record = self._store.select_one_message_by_offset(commit_log_offset, size)
        if record is None:
            log.warning("delay level %d: record at %d is gone (retention); skipped", level, commit_log_offset)
            outcome.skipped += 1
            return True
        try:
            parked = decode_record(record)
        except CorruptionError as error:
            log.error(
                "delay level %d: record at %d is unreadable (%s); skipped", level, commit_log_offset, error
            )
            outcome.skipped += 1
            return True
        built = delivered_message(parked)
        if built is None:
            log.error(
                "delay level %d: message %s has no deliverable REAL_TOPIC/REAL_QID (%s/%s); skipped",
                level,
                parked.msg_id,
                parked.properties.get(_REAL_TOPIC),
                parked.properties.get(_REAL_QUEUE_ID),
            )
            outcome.skipped += 1
            return True
        message, properties_string = built
        result = self._store.append_message(message, properties_string=properties_string)
        if result.status is not PutMessageStatus.PUT_OK:
            log.warning("delay level %d: re-put of %s failed: %s", level, parked.msg_id, result)
            return False
        outcome.delivered += 1
        outcome.last_end_offset = max(outcome.last_end_offset, result.end_offset)
        return True

    # -- driver -----------------------------------------------------------------------------------
    async def start(self) -> None:
        self._stopping = False
        self._last_persist_ms = self._clock.monotonic_ms()
        self._task = asyncio.create_task(self._run(), name="broker-schedule-message-service")

    def wake(self) -> None:
        """Look again now (a message was parked; tests)."""
        self._wake.set()

    async def _run(self) -> None:
        while not self._stopping:
            try:
                outcome = self.deliver_due()
                if outcome.last_end_offset:
                    self._pending_end_offset = max(self._pending_end_offset, outcome.last_end_offset)
                await self._persist_if_due()
                delay_s = self._poll_s
                if outcome.next_due_ms is not None:
                    delay_s = min(delay_s, max(outcome.next_due_ms - self._clock.now_ms(), 0) / 1000)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("delivering delayed messages failed; retrying")
                delay_s = 1.0
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(delay_s):
                    await self._wake.wait()

    async def _persist_if_due(self, *, force: bool = False) -> None:
        if not self.offsets.dirty:
            return
        now = self._clock.monotonic_ms()
        if not force and now - self._last_persist_ms < self._persist_interval_ms:
            return
        self._last_persist_ms = now
        await self.persist()

    async def persist(self) -> None:
        """Flush the delivered records, then write delayOffset.json (off the loop): progress never
        runs ahead of what is durable."""
        if self._pending_end_offset:
            status = await self._store.wait_flushed(self._pending_end_offset)
            if status is not PutMessageStatus.PUT_OK:
                log.warning("delayOffset.json not written: the CommitLog flush did not finish (%s)", status)
                return
        text = self.offsets.encode()
        await asyncio.to_thread(self.offsets.config_file.save_text, text)

    async def stop(self) -> None:
        self._stopping = True
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        try:
            await self._persist_if_due(force=True)
        except Exception:
            log.exception("writing delayOffset.json at shutdown failed")
