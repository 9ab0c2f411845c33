"""TransactionalMessageService: ends transactions and finds the half messages left open.

Java: TransactionalMessageServiceImpl + EndTransactionProcessor (4.9.8). State lives in the store:
half records in RMQ_SYS_TRANS_HALF_TOPIC, op records (tag "d", body = half queue offset) in
RMQ_SYS_TRANS_OP_HALF_TOPIC, and how far the check got in both queues as the offsets of group
CID_RMQ_SYS_TRANS in consumerOffset.json. So everything survives a restart: on `load` the service
re-reads the recent op records to know which half messages are resolved.

Every method is a plain def (no await): END_TRANSACTION and a check round never interleave.

Exactly once: a transaction is "resolved" once an op names its first half copy (the origin); a
COMMIT or ROLLBACK for an already resolved transaction (a duplicate END_TRANSACTION, or the answer
to a check that crossed the producer's own END_TRANSACTION) writes nothing to the real topic. 4.9.8
would store a second committed copy in that race.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum

from pocketmq.broker.config import BrokerConfig
from pocketmq.broker.consumer_offsets import ConsumerOffsetManager
from pocketmq.broker.transaction.records import (
    HALF_TOPIC,
    OP_PROPERTIES,
    OP_TOPIC,
    REMOVE_TAG,
    TRANSACTION_CONSUMER_GROUP,
    check_max_message,
    check_message,
    check_times,
    committed_message,
    op_message,
    origin_queue_offset,
    renewed_half_message,
)
from pocketmq.common.errors import CorruptionError
from pocketmq.common.message import MessageConst, MessageExt
from pocketmq.common.sysflag import TRANSACTION_COMMIT_TYPE, TRANSACTION_ROLLBACK_TYPE, transaction_value
from pocketmq.protocol.codes import ResponseCode
from pocketmq.protocol.headers.transaction import (
    CheckTransactionStateRequestHeader,
    EndTransactionRequestHeader,
)
from pocketmq.store.commit_log.record import decode_record, encode_record
from pocketmq.store.config import StoreConfig
from pocketmq.store.consume_queue.unit import BLANK_UNIT_SIZE
from pocketmq.store.message_store import MessageStore
from pocketmq.store.results import PutMessageResult, PutMessageStatus

__all__ = ["TransactionalMessageService", "TransactionSettings", "CheckRequest", "CheckRound", "EndOutcome"]

log = logging.getLogger(__name__)

_STORED = frozenset(
    {
        PutMessageStatus.PUT_OK,
        PutMessageStatus.FLUSH_DISK_TIMEOUT,
        PutMessageStatus.FLUSH_SLAVE_TIMEOUT,
        PutMessageStatus.SLAVE_NOT_AVAILABLE,
    }
)
#: Op records re-read at load, counted back from the op queue's check offset.
OPS_RELOAD_MARGIN = 100_000
#: At most this many half messages are looked at per queue and round (Java: a 60 s time limit).
HALF_MESSAGES_PER_ROUND = 2000
#: Index hits looked at when checking for an earlier committed copy.
COMMITTED_LOOKUP_MAX = 32
_END_OF_TIME = 2**62
#: Bound of the resolved-offset memory per half queue; the oldest half are forgotten beyond it.
RESOLVED_MAX = 2_000_000


class _Step(Enum):
    DONE = "done"  # checked, discarded: move on
    WAIT = "wait"  # not due yet: step over it, the check offset stays
    STOP = "stop"  # nothing behind it is due (or the store refused): end the round


@dataclass(frozen=True, slots=True, kw_only=True)
class TransactionSettings:
    #: Java transactionTimeOut (6000 ms): age of a half message before its first check.
    timeout_ms: int = 6000
    #: Java transactionCheckMax (15): checks before a half message goes to TRANS_CHECK_MAX_TIME_TOPIC.
    check_max: int = 15
    #: Java transactionCheckInterval (60000 ms): time between two checks of one transaction.
    check_interval_ms: int = 60_000
    #: Java fileReservedTime (72 h): half messages older than that are given up.
    file_reserved_ms: int = 72 * 3600 * 1000

    @classmethod
    def from_config(cls, broker: BrokerConfig, store: StoreConfig) -> TransactionSettings:
        return cls(
            timeout_ms=broker.transaction_timeout_ms,
            check_max=broker.transaction_check_max,
            check_interval_ms=broker.transaction_check_interval_ms,
            file_reserved_ms=store.file_reserved_hours * 3600 * 1000,
        )


@dataclass(frozen=True, slots=True)
class CheckRequest:
    """A CHECK_TRANSACTION_STATE to send to a live producer of `producer_group`."""

    producer_group: str
    header: CheckTransactionStateRequestHeader
    body: bytes


@dataclass(slots=True)
class CheckRound:
    checks: list[CheckRequest] = field(default_factory=list)
    #: Half messages moved to TRANS_CHECK_MAX_TIME_TOPIC (checked too often or too old).
    discarded: int = 0
    #: When a pending half message becomes due next (ms since the epoch), None if none is pending.
    next_due_ms: int | None = None


@dataclass(frozen=True, slots=True)
class EndOutcome:
    code: ResponseCode
    remark: str | None = None
    #: The committed record's put result (COMMIT that stored a real-topic copy).
    committed: PutMessageResult | None = None


class TransactionalMessageService:
    def __init__(
        self,
        store: MessageStore,
        offsets: ConsumerOffsetManager,
        settings: TransactionSettings,
        *,
        broker_host: tuple[str, int],
        on_topic_needed: Callable[[str], None] = lambda topic: None,
    ) -> None:
        self._store = store
        self._offsets = offsets
        self.settings = settings
        self._broker_host = broker_host
        self._on_topic_needed = on_topic_needed
        #: Per half queue: queue offsets (copies and origins) that an op record resolves.
        self._resolved: dict[int, set[int]] = {}
        #: Per half queue: copies already re-appended for a check but not yet passed by the check
        #: offset (memory only: after a restart such a copy is checked once more, harmlessly).
        self._superseded: dict[int, set[int]] = {}

    # -- resolved set -------------------------------------------------------------------------------
    def load(self) -> int:
        """Re-read the recent op records of every op queue; returns how many."""
        count = 0
        for queue_id in self._store.queue_ids(OP_TOPIC):
            max_offset = self._store.get_max_offset_in_queue(OP_TOPIC, queue_id)
            checked = self._offsets.query_offset(TRANSACTION_CONSUMER_GROUP, OP_TOPIC, queue_id)
            # From a margin before where the checks got (or before the end, if they never ran).
            start = max(
                self._store.get_min_offset_in_queue(OP_TOPIC, queue_id),
                (checked if checked >= 0 else max_offset) - OPS_RELOAD_MARGIN,
            )
            for _, half_offset in self._read_ops(queue_id, start, max_offset):
                self._resolved.setdefault(queue_id, set()).add(half_offset)
                count += 1
        return count

    def _read_ops(self, queue_id: int, start: int, end: int) -> list[tuple[int, int]]:
        """(op queue offset, half queue offset) of the op records in [start, end)."""
        queue = self._store.find_consume_queue(OP_TOPIC, queue_id)
        found: list[tuple[int, int]] = []
        if queue is None:
            return found
        offset = max(start, queue.min_offset)
        while offset < end:
            units = queue.read_units(offset, min(end - offset, 1024))
            if not units:
                offset = queue.roll_next_file(offset)
                continue
            for commit_log_offset, size, _ in units:
                record = (
                    None
                    if size == BLANK_UNIT_SIZE
                    else self._store.select_one_message_by_offset(commit_log_offset, size)
                )
                if record is not None:
                    try:
                        op = decode_record(record)
                    except CorruptionError:
                        op = None
                    if op is not None and op.tags == REMOVE_TAG and op.body.isdigit():
                        found.append((offset, int(op.body)))
                offset += 1
        return found

    def is_resolved(self, half: MessageExt) -> bool:
        resolved = self._resolved.get(half.queue_id)
        if not resolved:
            return False
        return half.queue_offset in resolved or origin_queue_offset(half) in resolved

    def _mark_resolved(self, half: MessageExt, now_ms: int) -> bool:
        """Write the op record(s) of `half` (its own offset, and the origin's when it is a renewed
        copy); False when the store refused."""
        resolved = self._resolved.setdefault(half.queue_id, set())
        for queue_offset in dict.fromkeys((half.queue_offset, origin_queue_offset(half))):
            if queue_offset in resolved and queue_offset != half.queue_offset:
                continue
            op = op_message(half.queue_id, queue_offset, self._broker_host, now_ms)
            result = self._store.append_message(op, properties_string=OP_PROPERTIES)
            if result.status is not PutMessageStatus.PUT_OK:
                log.error("writing the op record of half offset %d failed: %s", queue_offset, result)
                return False
            resolved.add(queue_offset)
        if len(resolved) > RESOLVED_MAX:
            keep = sorted(resolved)[len(resolved) // 2 :]
            self._resolved[half.queue_id] = set(keep)
        return True

    def _committed_before(self, half: MessageExt) -> bool:
        """True when the real topic already holds the committed copy of this transaction (found
        through the index by UNIQ_KEY): the op record that should have followed it is missing."""
        uniq_key = half.uniq_key
        topic = half.properties.get(MessageConst.REAL_TOPIC)
        if not uniq_key or not topic:
            return False
        found = self._store.query_message(topic, uniq_key, COMMITTED_LOOKUP_MAX, 0, _END_OF_TIME)
        for record in found.messages:
            try:
                message = decode_record(record)
            except CorruptionError:
                continue
            if (
                message.topic == topic
                and message.uniq_key == uniq_key
                and transaction_value(message.sys_flag) == TRANSACTION_COMMIT_TYPE
            ):
                return True
        return False

    # -- END_TRANSACTION ----------------------------------------------------------------------------
    def end_transaction(self, header: EndTransactionRequestHeader, now_ms: int) -> EndOutcome:
        """COMMIT: re-put the half message to its real topic (sysFlag COMMIT), then write the op;
        ROLLBACK: write the op only. Java EndTransactionProcessor#processRequest + #checkPrepareMessage."""
        action = header.commit_or_rollback
        if action not in (TRANSACTION_COMMIT_TYPE, TRANSACTION_ROLLBACK_TYPE):
            return EndOutcome(ResponseCode.SUCCESS)
        half = self._store.look_message_by_offset(header.commit_log_offset)
        if half is None or half.topic != HALF_TOPIC:
            return EndOutcome(ResponseCode.SYSTEM_ERROR, "Find prepared transaction message failed")
        if half.properties.get(MessageConst.PRODUCER_GROUP) != header.producer_group:
            return EndOutcome(ResponseCode.SYSTEM_ERROR, "The producer group wrong")
        if half.queue_offset != header.transaction_queue_offset:
            return EndOutcome(ResponseCode.SYSTEM_ERROR, "The transaction state table offset wrong")
        if half.commit_log_offset != header.commit_log_offset:
            return EndOutcome(ResponseCode.SYSTEM_ERROR, "The commit log offset wrong")
        if self.is_resolved(half):
            # Already committed or rolled back (through this copy or another one): nothing to do.
            self._mark_resolved(half, now_ms)
            return EndOutcome(ResponseCode.SUCCESS)
        committed = None
        if action == TRANSACTION_COMMIT_TYPE and self._committed_before(half):
            # The op record was lost (a crash right after the re-put): just write it now.
            log.warning("transaction %s was already committed; its op record is rewritten", half.uniq_key)
        elif action == TRANSACTION_COMMIT_TYPE:
            built = committed_message(half)
            if built is None:
                return EndOutcome(ResponseCode.SYSTEM_ERROR, "the half message has no REAL_TOPIC / REAL_QID")
            message, properties_string = built
            committed = self._store.append_message(message, properties_string=properties_string)
            if committed.status not in _STORED:
                return EndOutcome(_put_failure_code(committed.status), committed.status.name)
        if not self._mark_resolved(half, now_ms):
            return EndOutcome(ResponseCode.SYSTEM_ERROR, "writing the transaction op record failed")
        return EndOutcome(ResponseCode.SUCCESS, None, committed)

    # -- checks -------------------------------------------------------------------------------------
    def _half_check_offset(self, queue_id: int) -> int:
        offset = self._offsets.query_offset(TRANSACTION_CONSUMER_GROUP, HALF_TOPIC, queue_id)
        return offset if offset >= 0 else self._store.get_min_offset_in_queue(HALF_TOPIC, queue_id)

    def _op_check_offset(self, queue_id: int) -> int:
        offset = self._offsets.query_offset(TRANSACTION_CONSUMER_GROUP, OP_TOPIC, queue_id)
        return offset if offset >= 0 else self._store.get_min_offset_in_queue(OP_TOPIC, queue_id)

    def check(self, now_ms: int) -> CheckRound:
        """One round (Java TransactionalMessageServiceImpl#check): walk each half queue from its
        check offset; skip resolved copies; stop at the first one not yet due; a due one is
        re-appended with one more TRANSACTION_CHECK_TIMES and yields a CheckRequest; one checked
        `check_max` times (or older than the file retention) moves to TRANS_CHECK_MAX_TIME_TOPIC."""
        outcome = CheckRound()
        queue_ids = self._store.queue_ids(HALF_TOPIC)
        if queue_ids:
            self._on_topic_needed(HALF_TOPIC)
        for queue_id in queue_ids:
            new_offset = self._check_queue(queue_id, now_ms, outcome)
            if new_offset != self._offsets.query_offset(TRANSACTION_CONSUMER_GROUP, HALF_TOPIC, queue_id):
                # Only on change: consumerOffset.json is written when something is dirty.
                self._offsets.commit_offset(TRANSACTION_CONSUMER_GROUP, HALF_TOPIC, queue_id, new_offset)
            self._advance_op_offset(queue_id, new_offset)
        return outcome

    def _due_at(self, half: MessageExt) -> int:
        """When this copy may be checked: its first check `timeout` (or CHECK_IMMUNITY_TIME_IN_SECONDS)
        after it was born, later ones `check_interval` after the previous check (the copy's store
        time)."""
        settings = self.settings
        if check_times(half) > 0:
            return half.store_timestamp + settings.check_interval_ms
        immunity = settings.timeout_ms
        text = half.properties.get(MessageConst.CHECK_IMMUNITY_TIME_IN_SECONDS)
        if text is not None:
            try:
                seconds = int(text)
            except ValueError:
                seconds = -1
            if seconds >= 0:
                immunity = seconds * 1000
        return half.born_timestamp + immunity

    def _check_queue(self, queue_id: int, now_ms: int, outcome: CheckRound) -> int:
        """Walk one half queue; returns the new check offset (the first copy still open). Copies not
        yet due are stepped over (the offset stays on them) so that younger transactions behind a
        renewed copy still get their first check on time."""
        store = self._store
        queue = store.find_consume_queue(HALF_TOPIC, queue_id)
        start = self._half_check_offset(queue_id)
        if queue is None:
            return start
        offset = new_offset = max(start, queue.min_offset)
        end = min(queue.max_offset, offset + HALF_MESSAGES_PER_ROUND)
        resolved = self._resolved.get(queue_id, set())
        superseded = self._superseded.setdefault(queue_id, set())
        frozen = False
        while offset < end:
            if offset not in resolved and offset not in superseded:
                unit = queue.unit_at(offset)
                if unit is None:
                    offset = queue.roll_next_file(offset)
                    if not frozen:
                        new_offset = offset
                    continue
                half = self._read_half(unit[0], unit[1])
                if half is not None and not self.is_resolved(half):
                    state = self._check_one(half, now_ms, outcome)
                    if state is _Step.STOP:
                        break
                    if state is _Step.WAIT:
                        frozen = True
                        offset += 1
                        continue
                    superseded.add(offset)
            offset += 1
            if not frozen:
                new_offset = offset
        for passed in [o for o in superseded if o < new_offset]:
            superseded.discard(passed)
        return new_offset

    def _read_half(self, commit_log_offset: int, size: int) -> MessageExt | None:
        if size == BLANK_UNIT_SIZE:
            return None
        record = self._store.select_one_message_by_offset(commit_log_offset, size)
        if record is None:
            return None
        try:
            return decode_record(record)
        except CorruptionError as error:
            log.error("half record at %d is unreadable (%s); skipped", commit_log_offset, error)
            return None

    def _check_one(self, half: MessageExt, now_ms: int, outcome: CheckRound) -> _Step:
        settings = self.settings
        if (
            check_times(half) >= settings.check_max
            or now_ms - half.born_timestamp > settings.file_reserved_ms
        ):
            if not self._discard(half):
                return _Step.STOP
            outcome.discarded += 1
            return _Step.DONE
        due = self._due_at(half)
        if due > now_ms:
            outcome.next_due_ms = due if outcome.next_due_ms is None else min(outcome.next_due_ms, due)
            # A first-timer not yet due: everything behind it is younger still.
            first = (
                check_times(half) == 0 and MessageConst.CHECK_IMMUNITY_TIME_IN_SECONDS not in half.properties
            )
            return _Step.STOP if first else _Step.WAIT
        if self._committed_before(half):
            # Committed, but the op record was lost in a crash: resolve it instead of asking.
            return _Step.DONE if self._mark_resolved(half, now_ms) else _Step.STOP
        request = self._renew_and_check(half)
        if request is None:
            return _Step.STOP
        outcome.checks.append(request)
        return _Step.DONE

    def _renew_and_check(self, half: MessageExt) -> CheckRequest | None:
        renewed, properties_string = renewed_half_message(half, check_times(half) + 1)
        result = self._store.append_message(renewed, properties_string=properties_string)
        if result.status is not PutMessageStatus.PUT_OK:
            log.error("re-appending half message %s for a check failed: %s", half.msg_id, result)
            return None
        renewed.queue_offset = result.queue_offset
        renewed.commit_log_offset = result.commit_log_offset
        renewed.store_timestamp = half.store_timestamp
        renewed.store_host = self._store.store_host
        uniq_key = half.uniq_key
        header = CheckTransactionStateRequestHeader(
            transaction_queue_offset=result.queue_offset,
            commit_log_offset=result.commit_log_offset,
            msg_id=uniq_key,
            transaction_id=uniq_key,
            offset_msg_id=result.msg_id,
        )
        body = encode_record(check_message(renewed), properties_string=properties_string)
        return CheckRequest(half.properties.get(MessageConst.PRODUCER_GROUP, ""), header, body)

    def _discard(self, half: MessageExt) -> bool:
        message, properties_string = check_max_message(half)
        self._on_topic_needed(message.topic)
        result = self._store.append_message(message, properties_string=properties_string)
        if result.status is not PutMessageStatus.PUT_OK:
            log.error("moving half message %s to TRANS_CHECK_MAX_TIME_TOPIC failed: %s", half.msg_id, result)
            return False
        log.warning(
            "half message %s (transaction %s) was checked %d times; moved to TRANS_CHECK_MAX_TIME_TOPIC",
            half.msg_id,
            half.uniq_key,
            check_times(half),
        )
        return True

    def _advance_op_offset(self, queue_id: int, half_offset: int) -> None:
        """Java #calculateOpOffset: the op check offset moves over op records of half messages the
        check has passed."""
        if self._store.find_consume_queue(OP_TOPIC, queue_id) is None:
            return
        start = self._op_check_offset(queue_id)
        end = self._store.get_max_offset_in_queue(OP_TOPIC, queue_id)
        new = start
        for op_offset, half_queue_offset in self._read_ops(queue_id, start, min(end, start + 1024)):
            if op_offset != new or half_queue_offset >= half_offset:
                break
            new += 1
        if new != start or self._offsets.query_offset(TRANSACTION_CONSUMER_GROUP, OP_TOPIC, queue_id) < 0:
            self._offsets.commit_offset(TRANSACTION_CONSUMER_GROUP, OP_TOPIC, queue_id, new)


def _put_failure_code(status: PutMessageStatus) -> ResponseCode:
    if status in (PutMessageStatus.MESSAGE_ILLEGAL, PutMessageStatus.PROPERTIES_SIZE_EXCEEDED):
        return ResponseCode.MESSAGE_ILLEGAL
    if status is PutMessageStatus.SERVICE_NOT_AVAILABLE:
        return ResponseCode.SERVICE_NOT_AVAILABLE
    return ResponseCode.SYSTEM_ERROR
