"""END_TRANSACTION (37): a producer commits or rolls back a half message.

Java: EndTransactionProcessor (4.9.8). The Java client sends it oneway; the C++ client waits for the
response. COMMIT (8) stores the message in its real topic and marks the half message resolved;
ROLLBACK (12) only marks it; UNKNOW (0) leaves it to the check service. 4.9.8 sends no response for
UNKNOW; pocketmq answers SUCCESS to a two-way request so that a waiting client is not left to time
out. The work is TransactionalMessageService's.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable

from pocketmq.broker.config import BrokerRole
from pocketmq.broker.handlers.context import BrokerContext
from pocketmq.broker.transaction.service import EndOutcome, TransactionalMessageService
from pocketmq.common.sysflag import TRANSACTION_COMMIT_TYPE, TRANSACTION_ROLLBACK_TYPE
from pocketmq.common.topic import SystemTopics
from pocketmq.protocol.codes import RequestCode, ResponseCode
from pocketmq.protocol.command import RemotingCommand, make_response
from pocketmq.protocol.headers.transaction import EndTransactionRequestHeader
from pocketmq.remoting import Connection, Handler, HandlerResult
from pocketmq.store.config import FlushDiskType
from pocketmq.store.results import PutMessageStatus

__all__ = ["TransactionHandlers"]

log = logging.getLogger(__name__)

_ACTIONS = {TRANSACTION_COMMIT_TYPE: "commit", TRANSACTION_ROLLBACK_TYPE: "rollback"}


class TransactionHandlers:
    def __init__(self, context: BrokerContext, service: TransactionalMessageService) -> None:
        self._context = context
        self._service = service
        self._sync_flush = context.store_config.flush_disk_type is FlushDiskType.SYNC_FLUSH

    def routes(self) -> dict[int, Handler]:
        return {RequestCode.END_TRANSACTION: self.end_transaction}

    def end_transaction(
        self, request: RemotingCommand, connection: Connection
    ) -> HandlerResult | Awaitable[HandlerResult]:
        context = self._context
        if context.config.broker_role is BrokerRole.SLAVE:
            return make_response(
                request, ResponseCode.SLAVE_NOT_AVAILABLE, "end transaction is forbidden on a slave"
            )
        header = EndTransactionRequestHeader.from_ext_fields(request.ext_fields)
        action = _ACTIONS.get(header.commit_or_rollback)
        if action is None:
            # UNKNOW (or a value Java ignores too): the check service will ask later.
            log.info(
                "producer %s left transaction %s open (%s)",
                connection.peer_address,
                header.transaction_id or header.msg_id,
                "answering a check" if header.from_transaction_check else "after sending",
            )
            return make_response(request, ResponseCode.SUCCESS)
        outcome = self._service.end_transaction(header, context.clock.now_ms())
        if outcome.code is not ResponseCode.SUCCESS:
            log.warning(
                "%s of transaction %s (half at %d) from %s refused: %s",
                action,
                header.transaction_id or header.msg_id,
                header.commit_log_offset,
                connection.peer_address,
                outcome.remark,
            )
        committed = outcome.committed
        if self._sync_flush and committed is not None and committed.status is PutMessageStatus.PUT_OK:
            return self._wait_flushed(request, outcome)
        return make_response(request, outcome.code, outcome.remark)

    async def _wait_flushed(self, request: RemotingCommand, outcome: EndOutcome) -> RemotingCommand:
        assert outcome.committed is not None
        status = await self._context.store.wait_flushed(outcome.committed.end_offset)
        if status is not PutMessageStatus.PUT_OK:
            # Java: FLUSH_DISK_TIMEOUT still counts as stored for END_TRANSACTION.
            log.warning("committed message flush: %s", status.name)
        return make_response(request, outcome.code, outcome.remark)

    @staticmethod
    def ensure_topic(context: BrokerContext, topic: str) -> None:
        """The topic configs Java creates for transactions: RMQ_SYS_TRANS_HALF_TOPIC once half
        messages exist (TransactionalMessageBridge#selectTopicConfig, when the check service first
        looks) and TRANS_CHECK_MAX_TIME_TOPIC on the first discard (#createTopicOfTranCheckMaxTime).
        The op topic gets none, as in 4.9.8."""
        now = context.clock.now_ms()
        if topic == SystemTopics.TRANS_HALF:
            created = context.topics.create_trans_half_topic(now_ms=now)
        elif topic == SystemTopics.TRANS_CHECK_MAX_TIME:
            created = context.topics.create_trans_check_max_time_topic(now_ms=now)
        else:
            return
        if created.created:
            context.persist_soon()
            context.register_now(True)
