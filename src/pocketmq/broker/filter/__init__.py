"""Message filters of the broker: tag hash codes and SQL92 expressions, and their persistence.

`MessageFilter` is what a pull applies: `matches_consume_queue(tags_code)` on each ConsumeQueue
unit, then `matches_properties(properties)` on the records that passed (SQL92 only).
"""

from pocketmq.broker.filter.consumer_filters import ConsumerFilterData, ConsumerFilterManager
from pocketmq.broker.filter.message_filter import MessageFilter, build_message_filter
from pocketmq.broker.filter.sql92 import Sql92Error, Sql92Filter, compile_sql92

__all__ = [
    "ConsumerFilterData",
    "ConsumerFilterManager",
    "MessageFilter",
    "build_message_filter",
    "Sql92Error",
    "Sql92Filter",
    "compile_sql92",
]
