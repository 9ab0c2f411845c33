"""PullReader: answers pulls and time look-ups from one ConsumeQueue and the CommitLog (Java
DefaultMessageStore#getMessage and ConsumeQueue#getOffsetInQueueByTime). Reads only; records
are handed out as copies."""

from __future__ import annotations

from pocketmq.store.commit_log.commit_log import CommitLog
from pocketmq.store.commit_log.record import read_store_timestamp, record_properties
from pocketmq.store.config import StoreConfig
from pocketmq.store.consume_queue.consume_queue import ConsumeQueue
from pocketmq.store.consume_queue.unit import BLANK_UNIT_SIZE, CQ_UNIT_BYTES
from pocketmq.store.filter import MessageFilter
from pocketmq.store.results import GetMessageResult, GetMessageStatus

__all__ = ["PullReader"]


class PullReader:
    def __init__(self, commit_log: CommitLog, config: StoreConfig, memory_bytes: int) -> None:
        self.commit_log = commit_log
        self.config = config
        #: Bytes behind the CommitLog end that still count as "in memory".
        self._memory_bytes = memory_bytes

    def in_disk(self, commit_log_offset: int, max_commit_log_offset: int) -> bool:
        """Java checkInDiskByCommitOffset: further behind the end than the in-memory share."""
        return max_commit_log_offset - commit_log_offset > self._memory_bytes

    def get_message(
        self,
        queue: ConsumeQueue | None,
        queue_offset: int,
        max_count: int,
        message_filter: MessageFilter | None = None,
    ) -> GetMessageResult:
        """Messages of one queue from `queue_offset` (Java DefaultMessageStore#getMessage, on a
        master: next_begin_offset is corrected to the valid range)."""
        config = self.config
        max_commit_log_offset = self.commit_log.max_offset
        if queue is None:
            # Java's findConsumeQueue creates a queue on first sight, so a queue nobody wrote to is
            # an empty queue, not a missing one (nothing is created here: files come with writes).
            return GetMessageResult(GetMessageStatus.NO_MESSAGE_IN_QUEUE, 0, 0, 0)
        min_offset = queue.min_offset
        max_offset = queue.max_offset
        result = GetMessageResult(GetMessageStatus.NO_MESSAGE_IN_QUEUE, queue_offset, min_offset, max_offset)
        if max_offset == 0:
            result.next_begin_offset = 0
            return result
        if queue_offset < min_offset:
            result.status = GetMessageStatus.OFFSET_TOO_SMALL
            result.next_begin_offset = min_offset
            return result
        if queue_offset == max_offset:
            result.status = GetMessageStatus.OFFSET_OVERFLOW_ONE
            return result
        if queue_offset > max_offset:
            result.status = GetMessageStatus.OFFSET_OVERFLOW_BADLY
            result.next_begin_offset = min_offset if min_offset == 0 else max_offset
            return result
        max_filter_count = max(16000, max_count * 20)
        # Java reads the rest of the ConsumeQueue file (up to max_filter_count units) at once;
        # reading it in chunks avoids unpacking 16,000 units for a pull of 32.
        chunk = max(max_count, 32) if message_filter is None else 1024
        requested = min(chunk, max_filter_count)
        units = queue.read_units(queue_offset, requested)
        if not units:
            result.status = GetMessageStatus.OFFSET_FOUND_NULL
            result.next_begin_offset = queue.roll_next_file(queue_offset)
            return result
        result.status = GetMessageStatus.NO_MATCHED_MESSAGE
        next_file_start = -1
        max_pulled_offset = 0
        total = 0
        count = 0
        consumed = 0
        stopped_at = -1
        messages = result.messages
        get_data = self.commit_log.get_data
        while stopped_at < 0:
            for j, (commit_log_offset, size, tags_code) in enumerate(units):
                max_pulled_offset = commit_log_offset
                if size == BLANK_UNIT_SIZE:
                    continue
                if next_file_start >= 0 and commit_log_offset < next_file_start:
                    continue
                if total and count:
                    if max_count <= count:
                        stopped_at = consumed + j
                        break
                    if self.in_disk(commit_log_offset, max_commit_log_offset):
                        if (
                            total + size > config.max_transfer_bytes_on_disk
                            or count > config.max_transfer_count_on_disk - 1
                        ):
                            stopped_at = consumed + j
                            break
                    elif (
                        total + size > config.max_transfer_bytes_in_memory
                        or count > config.max_transfer_count_in_memory - 1
                    ):
                        stopped_at = consumed + j
                        break
                if message_filter is not None and not message_filter.is_matched_by_consume_queue(tags_code):
                    continue
                record = get_data(commit_log_offset, size)
                if record is None:
                    if not total:
                        result.status = GetMessageStatus.MESSAGE_WAS_REMOVING
                    next_file_start = self.commit_log.roll_next_file(commit_log_offset)
                    continue
                if (
                    message_filter is not None
                    and message_filter.needs_properties
                    and not message_filter.is_matched_by_commit_log(record_properties(record))
                ):
                    continue
                messages.append(record)
                result.commit_log_offsets.append(commit_log_offset)
                result.queue_offsets.append(queue_offset + consumed + j)
                total += size
                count += 1
                result.status = GetMessageStatus.FOUND
                next_file_start = -1
            else:
                consumed += len(units)
                if len(units) < requested or consumed >= max_filter_count:
                    stopped_at = consumed
                    break
                requested = min(chunk, max_filter_count - consumed)
                units = queue.read_units(queue_offset + consumed, requested)
                if not units:
                    stopped_at = consumed
        i = stopped_at
        result.buffer_total_bytes = total
        result.next_begin_offset = queue_offset + i
        result.suggest_pulling_from_slave = max_commit_log_offset - max_pulled_offset > self._memory_bytes
        return result

    def store_timestamp_at(self, commit_log_offset: int, size: int) -> int:
        record = self.commit_log.get_data(commit_log_offset, size)
        if record is None or len(record) < 72:
            return -1
        return read_store_timestamp(record, 0)

    def offset_by_time(self, queue: ConsumeQueue | None, timestamp: int) -> int:
        """Queue offset of the message stored closest to `timestamp` (Java
        ConsumeQueue#getOffsetInQueueByTime: binary search in one ConsumeQueue file, here the first
        file whose last message was stored at or after `timestamp`, else the last file)."""
        if queue is None or not queue.files.files:
            return 0
        min_commit_log_offset = self.commit_log.min_offset
        chosen = queue.files.files[-1]
        for mapped in queue.files.files:
            if mapped.wrote_position < CQ_UNIT_BYTES:
                continue
            last = queue.read_units((mapped.file_from_offset + mapped.wrote_position) // CQ_UNIT_BYTES - 1, 1)
            if (
                last
                and last[0][1] != BLANK_UNIT_SIZE
                and self.store_timestamp_at(last[0][0], last[0][1]) >= timestamp
            ):
                chosen = mapped
                break
        low = max(queue.min_logic_offset - chosen.file_from_offset, 0)
        high = chosen.wrote_position - CQ_UNIT_BYTES
        left_offset = right_offset = target = -1
        left_value = right_value = -1
        base = chosen.file_from_offset // CQ_UNIT_BYTES
        while high >= low:
            middle = (low + high) // (2 * CQ_UNIT_BYTES) * CQ_UNIT_BYTES
            unit = queue.read_units(base + middle // CQ_UNIT_BYTES, 1)
            if not unit:
                break
            commit_log_offset, size, _ = unit[0]
            if commit_log_offset < min_commit_log_offset or size == BLANK_UNIT_SIZE:
                low = middle + CQ_UNIT_BYTES
                left_offset = middle
                continue
            stored = self.store_timestamp_at(commit_log_offset, size)
            if stored < 0:
                return 0
            if stored == timestamp:
                target = middle
                break
            if stored > timestamp:
                high = middle - CQ_UNIT_BYTES
                right_offset, right_value = middle, stored
            else:
                low = middle + CQ_UNIT_BYTES
                left_offset, left_value = middle, stored
        if target != -1:
            offset = target
        elif left_value == -1:
            offset = right_offset
        elif right_value == -1:
            offset = left_offset
        else:
            offset = (
                right_offset if abs(timestamp - left_value) > abs(timestamp - right_value) else left_offset
            )
        return (chosen.file_from_offset + offset) // CQ_UNIT_BYTES
