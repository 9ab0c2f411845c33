"""Transactional messages: half and op records, END_TRANSACTION and the check-back service.

Java: org.apache.rocketmq.broker.transaction (4.9.8). `records` builds the records (pure),
`service` ends transactions and runs check rounds over the store, `check_service` is the async
driver that sends CHECK_TRANSACTION_STATE to producers.
"""

from pocketmq.broker.transaction.check_service import TransactionCheckService
from pocketmq.broker.transaction.records import half_message, is_half_message_request
from pocketmq.broker.transaction.service import (
    CheckRequest,
    CheckRound,
    EndOutcome,
    TransactionalMessageService,
    TransactionSettings,
)

__all__ = [
    "CheckRequest",
    "CheckRound",
    "EndOutcome",
    "TransactionCheckService",
    "TransactionSettings",
    "TransactionalMessageService",
    "half_message",
    "is_half_message_request",
]
