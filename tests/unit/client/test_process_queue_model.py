"""ProcessQueue against a plain model, driven by hypothesis: counts, sizes and committed offsets stay
consistent whatever the order of puts, removals, orderly takes, commits and rollbacks."""

from __future__ import annotations

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from pocketmq.client.consumer.process_queue import ProcessQueue
from pocketmq.common.message import MessageExt

NOW = 1_700_000_000_000


def message(offset: int) -> MessageExt:
    return MessageExt(topic="t", body=b"x" * (offset % 7 + 1), queue_offset=offset)


class ProcessQueueModel(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.pq = ProcessQueue(now_ms=NOW)
        self.waiting: dict[int, MessageExt] = {}  # model of the sorted map
        self.consuming: dict[int, MessageExt] = {}  # model of the orderly batch
        self.next_offset = 0
        self.largest = -1

    @rule(count=st.integers(1, 5), skip=st.integers(0, 2))
    def pull(self, count: int, skip: int) -> None:
        self.next_offset += skip  # filtered messages leave gaps
        batch = [message(self.next_offset + i) for i in range(count)]
        self.next_offset += count
        self.pq.put_messages(batch)
        for m in batch:
            self.waiting[m.queue_offset] = m
        self.largest = max(self.largest, self.next_offset - 1)

    @precondition(lambda self: bool(self.waiting))
    @rule(data=st.data())
    def consume_concurrently(self, data: st.DataObject) -> None:
        offsets = data.draw(
            st.lists(st.sampled_from(sorted(self.waiting)), min_size=1, max_size=4, unique=True)
        )
        result = self.pq.remove_messages([self.waiting[o] for o in offsets], NOW)
        for o in offsets:
            del self.waiting[o]
        # The smallest offset still waiting, or the largest ever pulled + 1 once none waits.
        assert result == (min(self.waiting) if self.waiting else self.largest + 1), result

    @rule(batch=st.integers(1, 4))
    def take(self, batch: int) -> None:
        taken = self.pq.take_messages(batch, NOW)
        expected = sorted(self.waiting)[:batch]
        assert [m.queue_offset for m in taken] == expected
        for o in expected:
            self.consuming[o] = self.waiting.pop(o)

    @rule()
    def commit(self) -> None:
        result = self.pq.commit()
        assert result == (max(self.consuming) + 1 if self.consuming else -1)
        self.consuming.clear()

    @rule()
    def rollback(self) -> None:
        self.pq.rollback()
        self.waiting.update(self.consuming)
        self.consuming.clear()

    @precondition(lambda self: bool(self.consuming))
    @rule(data=st.data())
    def consume_again(self, data: st.DataObject) -> None:
        offsets = data.draw(st.lists(st.sampled_from(sorted(self.consuming)), min_size=1, unique=True))
        self.pq.make_messages_to_consume_again([self.consuming[o] for o in offsets])
        for o in offsets:
            self.waiting[o] = self.consuming.pop(o)

    @invariant()
    def counts_match(self) -> None:
        held = {**self.waiting, **self.consuming}
        assert self.pq.message_count == len(held)
        assert self.pq.message_bytes == sum(len(m.body) for m in held.values())
        assert self.pq.first_offset() == (min(self.waiting) if self.waiting else None)
        assert self.pq.has_temp_message() == bool(self.waiting)
        assert [m.queue_offset for m in self.pq.consuming_batch()] == sorted(self.consuming)


ProcessQueueModel.TestCase.settings = settings(max_examples=150, stateful_step_count=40, deadline=None)
TestProcessQueueModel = ProcessQueueModel.TestCase
