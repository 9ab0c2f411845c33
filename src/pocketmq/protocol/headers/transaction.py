"""Headers of transactions: END_TRANSACTION (37, producer -> broker) and CHECK_TRANSACTION_STATE (39,
broker -> producer, oneway).

Java: EndTransactionRequestHeader, CheckTransactionStateRequestHeader. The Java client sends
END_TRANSACTION oneway; the C++ client waits for a response. commitOrRollback takes the message
sysFlag transaction values (pocketmq.common.sysflag): NOT_TYPE 0, PREPARED 4, COMMIT 8, ROLLBACK 12.
"""

from __future__ import annotations

from pocketmq.protocol.headers.base import WireHeader, java, wire_header

__all__ = ["EndTransactionRequestHeader", "CheckTransactionStateRequestHeader"]


@wire_header
class EndTransactionRequestHeader(WireHeader):
    producer_group: str = java("producerGroup")
    #: Queue offset of the half message in RMQ_SYS_TRANS_HALF_TOPIC.
    transaction_queue_offset: int = java("tranStateTableOffset")
    #: Commit-log offset of the half message.
    commit_log_offset: int = java("commitLogOffset")
    #: 8 commit, 12 rollback, 0 unknown.
    commit_or_rollback: int = java("commitOrRollback")
    #: True when answering a CHECK_TRANSACTION_STATE (the C++ client writes "0"/"1").
    from_transaction_check: bool = java("fromTransactionCheck", default=False)
    msg_id: str = java("msgId")
    transaction_id: str | None = java("transactionId", default=None)
    broker_name: str | None = java("bname", default=None)


@wire_header
class CheckTransactionStateRequestHeader(WireHeader):
    transaction_queue_offset: int = java("tranStateTableOffset")
    commit_log_offset: int = java("commitLogOffset")
    #: The client (UNIQ_KEY) message id.
    msg_id: str | None = java("msgId", default=None)
    transaction_id: str | None = java("transactionId", default=None)
    offset_msg_id: str | None = java("offsetMsgId", default=None)
    broker_name: str | None = java("bname", default=None)
