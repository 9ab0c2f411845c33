"""TransactionProducer: sends half messages, runs the local transaction and ends it on the broker;
answers the broker's checks (Java TransactionMQProducer, DefaultMQProducerImpl#sendMessageInTransaction,
#endTransaction, #checkTransactionState).

`send_message_in_transaction(message, arg)`:
1. sends the message as a half message (properties TRAN_MSG=true and PGROUP=<group>; sysFlag
   TRANSACTION_PREPARED), a plain synchronous send with its retries; the broker parks it in
   RMQ_SYS_TRANS_HALF_TOPIC, invisible to consumers;
2. runs `listener.execute_local_transaction(message, arg)` (only when the half message was stored
   with SEND_OK; the other store statuses roll back). An exception or no answer means UNKNOW;
3. sends END_TRANSACTION oneway to the broker that stored the half message: commitOrRollback
   COMMIT 8 / ROLLBACK 12 / UNKNOW 0, tranStateTableOffset (the half message's queue offset),
   commitLogOffset (read from the offset msgId), msgId (the client id, UNIQ_KEY), transactionId when
   the broker gave one, and a remark naming the listener's exception. A lost END_TRANSACTION is
   harmless: the broker checks back.

CHECK_TRANSACTION_STATE (oneway, broker -> producer) reaches this producer through the ClientInstance
(by the message's PGROUP). `listener.check_local_transaction(message)` answers, and the producer sends
END_TRANSACTION oneway with fromTransactionCheck=true back on the asking broker's address. Any producer
of the group may answer, for example a new process after the one that sent the half message died.

Listeners may be plain methods (run in a worker thread, as Java runs them outside the I/O threads) or
coroutine functions (run on the loop).
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import zlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Final, Protocol

from pocketmq.client.api import SendResult, SendStatus
from pocketmq.client.config import ClientConfig
from pocketmq.client.producer.producer import LocalTransactionState, Producer, ProducerConfig
from pocketmq.common.clock import SYSTEM_CLOCK, Clock
from pocketmq.common.errors import ClientError, ConfigError, PocketMQError
from pocketmq.common.message import Message, MessageConst, MessageExt
from pocketmq.common.message_id import decode_offset_msg_id
from pocketmq.common.sysflag import COMPRESSED, CompressionType, compression_type
from pocketmq.protocol.codes import RequestCode

__all__ = [
    "LocalTransactionState",
    "TransactionListener",
    "TransactionProducer",
    "TransactionSendResult",
    "end_transaction_fields",
    "check_answer_fields",
    "inflate_body",
]

log = logging.getLogger(__name__)

#: Java TransactionMQProducer#checkRequestHoldMax (2000): checks waiting beyond this are dropped
#: (the broker asks again later).
CHECK_REQUEST_HOLD_MAX: Final = 2000
#: Java: the check executor has one thread (checkThreadPoolMinSize = checkThreadPoolMaxSize = 1).
CHECKS_AT_ONCE: Final = 1
#: The message property Java sets when the broker returned a transaction id.
TRANSACTION_ID_PROPERTY: Final = "__transactionId__"


class TransactionListener(Protocol):
    """Java TransactionListener. Either method may be a coroutine function. Answer None (or raise)
    for UNKNOW: the broker will check back later."""

    def execute_local_transaction(
        self, message: Message, arg: Any
    ) -> LocalTransactionState | Awaitable[LocalTransactionState | None] | None: ...

    def check_local_transaction(
        self, message: MessageExt
    ) -> LocalTransactionState | Awaitable[LocalTransactionState | None] | None: ...


@dataclass(slots=True)
class TransactionSendResult(SendResult):
    """Java TransactionSendResult: the half message's SendResult plus what the local transaction said."""

    local_transaction_state: LocalTransactionState = LocalTransactionState.UNKNOW


def end_transaction_fields(*, group: str, result: SendResult, state: LocalTransactionState) -> dict[str, str]:
    """END_TRANSACTION extFields after a send, as a 4.9.8 Java client writes them (see
    ../shared/compat frames, phase `tx`)."""
    offset_id = decode_offset_msg_id(result.offset_msg_id or result.msg_id or "")
    fields = {
        "producerGroup": group,
        "bname": result.message_queue.broker_name,
        "commitLogOffset": str(offset_id.commit_log_offset),
        "msgId": result.msg_id or "",
        "tranStateTableOffset": str(result.queue_offset),
        "commitOrRollback": str(state.value),
        "fromTransactionCheck": "false",
    }
    if result.transaction_id:
        fields["transactionId"] = result.transaction_id
    return fields


def check_answer_fields(
    *, group: str, message: MessageExt, header: dict[str, Any], state: LocalTransactionState
) -> dict[str, str]:
    """END_TRANSACTION extFields answering CHECK_TRANSACTION_STATE (Java checkTransactionState):
    offsets and transaction id from the check, msgId = the message's UNIQ_KEY (else its id)."""
    uniq = message.properties.get(MessageConst.UNIQ_CLIENT_MESSAGE_ID_KEYIDX) or message.msg_id
    fields = {
        "producerGroup": group,
        "commitLogOffset": str(header.get("commitLogOffset", message.commit_log_offset)),
        "msgId": uniq,
        "tranStateTableOffset": str(header.get("tranStateTableOffset", message.queue_offset)),
        "commitOrRollback": str(state.value),
    }
    transaction_id = header.get("transactionId")
    if transaction_id:
        fields["transactionId"] = str(transaction_id)
    fields["fromTransactionCheck"] = "true"
    return fields


def inflate_body(message: MessageExt) -> None:
    """A checked half message comes as stored: a body the producer compressed (over 4 KiB) is
    inflated for the listener, as Java's MessageDecoder does."""
    if compression_type(message.sys_flag) is not CompressionType.ZLIB:
        return
    try:
        message.body = zlib.decompress(message.body)
    except zlib.error as error:
        log.warning("cannot inflate the body of %s: %s", message.msg_id, error)
        return
    message.sys_flag &= ~COMPRESSED


async def _call(function: Callable[..., Any], *args: Any) -> LocalTransactionState | None:
    if inspect.iscoroutinefunction(function):
        answer = await function(*args)
    else:
        answer = await asyncio.to_thread(function, *args)
        if inspect.isawaitable(answer):
            answer = await answer
    if answer is not None and not isinstance(answer, LocalTransactionState):
        raise TypeError(f"a transaction listener answered {answer!r}, not a LocalTransactionState")
    return answer


class TransactionProducer(Producer):
    """A producer of transactional messages for one group (Java TransactionMQProducer)."""

    def __init__(
        self,
        group: str,
        *,
        listener: TransactionListener | None = None,
        namesrv_addr: str | None = None,
        client_config: ClientConfig | None = None,
        config: ProducerConfig | None = None,
        instance_name: str | None = None,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        super().__init__(
            group,
            namesrv_addr=namesrv_addr,
            client_config=client_config,
            config=config,
            instance_name=instance_name,
            clock=clock,
        )
        self.transaction_listener = listener
        self._check_slots = asyncio.Semaphore(CHECKS_AT_ONCE)
        self._checks_waiting = 0

    async def send_message_in_transaction(self, message: Message, arg: Any = None) -> TransactionSendResult:
        """Send `message` as a half message, run the local transaction, end it on the broker."""
        listener = self.transaction_listener
        if listener is None:
            raise ConfigError("TransactionListener is null: give TransactionProducer a listener")
        if message.delay_time_level:
            # Java clears the delay: a transactional message cannot be delayed.
            message.properties.pop(MessageConst.DELAY_TIME_LEVEL, None)
        properties = message.properties
        properties[MessageConst.TRANSACTION_PREPARED] = "true"
        properties[MessageConst.PRODUCER_GROUP] = self.group
        try:
            result = await self.send(message)
        except PocketMQError as error:
            raise ClientError(-1, None, f"send message Exception: {error}") from error
        state = LocalTransactionState.UNKNOW
        local_error: BaseException | None = None
        if result.send_status is SendStatus.SEND_OK:
            if result.transaction_id:
                properties[TRANSACTION_ID_PROPERTY] = result.transaction_id
            uniq = properties.get(MessageConst.UNIQ_CLIENT_MESSAGE_ID_KEYIDX)
            if uniq:
                message.transaction_id = uniq
            try:
                state = await _call(listener.execute_local_transaction, message, arg) or state
            except Exception as error:
                log.warning("local transaction of %s failed: %r; left UNKNOW", result.msg_id, error)
                local_error = error
            if state is not LocalTransactionState.COMMIT_MESSAGE:
                log.info("local transaction of %s answered %s", result.msg_id, state.name)
        else:
            state = LocalTransactionState.ROLLBACK_MESSAGE
        try:
            await self._end_transaction(result, state, local_error)
        except (PocketMQError, OSError, ValueError) as error:
            log.warning("END_TRANSACTION of %s failed (%s); the broker will check back", result.msg_id, error)
        return TransactionSendResult(
            send_status=result.send_status,
            msg_id=result.msg_id,
            offset_msg_id=result.offset_msg_id,
            message_queue=result.message_queue,
            queue_offset=result.queue_offset,
            transaction_id=message.transaction_id,
            region_id=result.region_id,
            trace_on=result.trace_on,
            local_transaction_state=state,
        )

    async def _end_transaction(
        self, result: SendResult, state: LocalTransactionState, local_error: BaseException | None
    ) -> None:
        instance = self.instance
        broker_name = result.message_queue.broker_name
        addr = instance.find_broker_address_in_publish(broker_name)
        if addr is None:
            raise ClientError(14, None, f"The broker[{broker_name}] not exist")
        remark = f"executeLocalTransactionBranch exception: {local_error!r}" if local_error else None
        fields = end_transaction_fields(group=self.group, result=result, state=state)
        await self._send_end_transaction(addr, fields, remark)

    async def _send_end_transaction(self, addr: str, fields: dict[str, str], remark: str | None) -> None:
        """END_TRANSACTION, oneway as the Java client sends it (built here: the remark and the exact
        Java field set matter, see `end_transaction_fields`)."""
        request = self.instance.api.request(RequestCode.END_TRANSACTION, fields, oneway=True)
        request.remark = remark  # not signed (ACL signs the extFields), so set after signing
        await self.instance.remoting.invoke_oneway(addr, request)

    # -- what the instance calls ----------------------------------------------------------------

    def check_transaction_state(self, broker_addr: str, message: MessageExt, header: dict[str, Any]) -> None:
        """CHECK_TRANSACTION_STATE for a half message of this group (called on the loop)."""
        listener = self.transaction_listener
        if listener is None:
            log.warning("CHECK_TRANSACTION_STATE for %s but %s has no listener", message.msg_id, self.group)
            return
        inflate_body(message)
        if self._checks_waiting >= CHECK_REQUEST_HOLD_MAX:
            log.warning("too many transaction checks waiting; %s is asked again later", message.msg_id)
            return
        self._checks_waiting += 1
        self._spawn(self._answer_transaction_check(listener, broker_addr, message, header))

    async def _answer_transaction_check(
        self, listener: TransactionListener, broker_addr: str, message: MessageExt, header: dict[str, Any]
    ) -> None:
        try:
            async with self._check_slots:
                state = LocalTransactionState.UNKNOW
                remark = None
                try:
                    state = await _call(listener.check_local_transaction, message) or state
                except Exception as error:
                    log.warning("check_local_transaction of %s failed: %r", message.msg_id, error)
                    remark = f"checkLocalTransactionState Exception: {error!r}"
        finally:
            self._checks_waiting -= 1
        fields = check_answer_fields(group=self.group, message=message, header=header, state=state)
        try:
            await self._send_end_transaction(broker_addr, fields, remark)
        except (PocketMQError, OSError) as error:
            log.warning("END_TRANSACTION answering the check of %s failed: %s", message.msg_id, error)
