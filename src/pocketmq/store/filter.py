"""MessageFilter: how the broker plugs tag and SQL92 filters into `get_message` (Java MessageFilter).

The store asks the cheap question first (the ConsumeQueue unit's tags code) and, only when
`needs_properties` says the second stage can reject anything, decodes the record's properties and
asks again. `pocketmq.broker.filter.MessageFilter` has this shape.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

__all__ = ["MessageFilter", "TagsCodeFilter"]


class MessageFilter(Protocol):
    @property
    def needs_properties(self) -> bool:
        """Whether `is_matched_by_commit_log` can say no (else the store skips decoding)."""
        ...

    def is_matched_by_consume_queue(self, tags_code: int | None) -> bool:
        """Decide from the unit's tags code (a hash; collisions pass)."""
        ...

    def is_matched_by_commit_log(self, properties: Mapping[str, str] | None) -> bool:
        """Decide from the properties of the stored record."""
        ...


class TagsCodeFilter:
    """Matches units whose tags code is in a set; an empty set matches everything (for tests and
    tools; the broker's filter also handles retry topics and SQL92)."""

    needs_properties = False

    def __init__(self, tags_codes: set[int] | frozenset[int]) -> None:
        self.tags_codes = frozenset(tags_codes)

    def is_matched_by_consume_queue(self, tags_code: int | None) -> bool:
        return not self.tags_codes or tags_code is None or tags_code in self.tags_codes

    def is_matched_by_commit_log(self, properties: Mapping[str, str] | None) -> bool:
        return True
