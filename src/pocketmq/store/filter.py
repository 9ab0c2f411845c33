"""MessageFilter: how the broker plugs tag and SQL92 filters into `get_message` (Java MessageFilter).

The store asks the cheap question first (the ConsumeQueue unit's tags code) and the expensive one
(the whole record, e.g. for SQL92 on properties) only for units that pass.
"""

from __future__ import annotations

from typing import Protocol

__all__ = ["MessageFilter", "TagsCodeFilter"]


class MessageFilter(Protocol):
    def is_matched_by_consume_queue(self, tags_code: int | None, cq_ext: object | None) -> bool:
        """Decide from the unit's tags code (None when unknown); `cq_ext` is reserved (ConsumeQueue
        extension, not written by pocketmq)."""
        ...

    def is_matched_by_commit_log(self, record: bytes | None, properties: dict[str, str] | None) -> bool:
        """Decide from the raw stored record (or from properties when the caller has them)."""
        ...


class TagsCodeFilter:
    """Matches units whose tags code is in a set (Java ExpressionMessageFilter for TAG, without
    the retry-topic and class-filter cases); an empty set matches everything."""

    def __init__(self, tags_codes: set[int] | frozenset[int]) -> None:
        self.tags_codes = frozenset(tags_codes)

    def is_matched_by_consume_queue(self, tags_code: int | None, cq_ext: object | None) -> bool:
        return not self.tags_codes or tags_code is None or tags_code in self.tags_codes

    def is_matched_by_commit_log(self, record: bytes | None, properties: dict[str, str] | None) -> bool:
        return True
