"""Producer: sends messages to brokers (Java DefaultMQProducer / DefaultMQProducerImpl).

Sync, async (awaitable task, optional callback) and oneway sends; to a chosen queue, through a
MessageQueueSelector or by sharding key; batches (encoded as Java's MessageBatch). A sync or async
send tries another queue (another broker first) after a transport error or a retryable response
code, up to `retry_times_when_send_failed` more times within `send_msg_timeout_ms`; latency fault
tolerance (MQFaultStrategy) steers sends away from slow brokers when enabled. Bodies over 4 KiB are
zlib-compressed; every message gets a UNIQ_KEY. Requests are SEND_MESSAGE_V2 / SEND_BATCH_MESSAGE
with the one-letter header names, as a 4.9.8 Java client sends them.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import struct
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any, Final

from pocketmq.client.api import RETRY_RESPONSE_CODES, SendResult, SendStatus, send_result_from_response
from pocketmq.client.instance import ClientConfig, ClientInstance, get_client_instance
from pocketmq.client.producer.queue_selection import (
    MessageQueueSelector,
    MQFaultStrategy,
    TopicPublishInfo,
    select_by_hash,
)
from pocketmq.client.trace import (
    MAX_MESSAGE_BYTES,
    TRACE_INSTANCE_NAME,
    MessageType,
    TraceDispatcher,
    encode_pub,
    trace_keys,
)
from pocketmq.common.clock import SYSTEM_CLOCK, Clock
from pocketmq.common.errors import ClientError, ConfigError, PocketMQError, RemotingError
from pocketmq.common.message import (
    Message,
    MessageConst,
    MessageExt,
    MessageQueue,
    properties_to_string,
)
from pocketmq.common.message_id import UniqIdGenerator
from pocketmq.common.sysflag import COMPRESSED, TRANSACTION_PREPARED_TYPE, CompressionType
from pocketmq.common.topic import SystemTopics, is_retry_topic, validate_topic
from pocketmq.protocol.codes import RequestCode
from pocketmq.protocol.headers.transaction import (
    CheckTransactionStateRequestHeader,
    EndTransactionRequestHeader,
)

__all__ = [
    "ProducerConfig",
    "Producer",
    "SendCallback",
    "SendFailedError",
    "LocalTransactionState",
    "encode_batch",
]

log = logging.getLogger(__name__)

MiB: Final = 1024 * 1024

#: Java MessageDecoder#encodeMessage entry head: totalSize, magic (0), bodyCRC (0), flag, bodyLength.
BATCH_ENTRY_HEAD = struct.Struct(
    ">i"  # total size of this entry
    "i"  # magic code (0 in a batch)
    "i"  # body CRC (0: the broker computes it)
    "i"  # flag
    "i"  # body length
)
assert BATCH_ENTRY_HEAD.size == 20
_PROPERTIES_LENGTH = struct.Struct(">h")

#: Called once with the result or the error of an async send.
SendCallback = Callable[[SendResult | None, BaseException | None], None]


class SendFailedError(PocketMQError):
    """Every attempt of a send failed (Java MQClientException "Send [N] times, still failed")."""


class LocalTransactionState(Enum):
    """Java LocalTransactionState, with the END_TRANSACTION commitOrRollback values."""

    COMMIT_MESSAGE = 8
    ROLLBACK_MESSAGE = 12
    UNKNOW = 0


class _Mode(Enum):
    SYNC = "SYNC"
    ASYNC = "ASYNC"
    ONEWAY = "ONEWAY"


@dataclass(frozen=True, slots=True, kw_only=True)
class ProducerConfig:
    """Java DefaultMQProducer settings."""

    #: Java: sendMsgTimeout (3 s), the budget of a whole send with its retries.
    send_msg_timeout_ms: int = 3_000
    #: Bodies of at least this many bytes are zlib-compressed. Java: compressMsgBodyOverHowmuch (4 KiB).
    compress_msg_body_over_howmuch: int = 4 * 1024
    #: Java: rocketmq.message.compressLevel (5).
    compress_level: int = 5
    #: Extra attempts of a sync send. Java: retryTimesWhenSendFailed (2).
    retry_times_when_send_failed: int = 2
    #: Extra attempts of an async send. Java: retryTimesWhenSendAsyncFailed (2).
    retry_times_when_send_async_failed: int = 2
    #: Retry when the broker stored the message but not as safely as asked.
    #: Java: retryAnotherBrokerWhenNotStoreOK.
    retry_another_broker_when_not_store_ok: bool = False
    #: Largest body (or batch). Java: maxMessageSize (4 MiB).
    max_message_size: int = 4 * MiB
    #: Queues of a topic auto-created through TBW102. Java: defaultTopicQueueNums (4).
    default_topic_queue_nums: int = 4
    #: Avoid brokers whose sends were slow or failed. Java: sendLatencyFaultEnable (false).
    send_latency_fault_enable: bool = False
    #: The topic new topics copy. Java: createTopicKey (TBW102).
    create_topic_key: str = SystemTopics.AUTO_CREATE_TOPIC_KEY
    #: Send a trace of every send to the trace topic. Java: enableMsgTrace (false).
    enable_msg_trace: bool = False
    #: The trace topic (None: RMQ_SYS_TRACE_TOPIC). Java: customizedTraceTopic.
    trace_topic: str | None = None

    def __post_init__(self) -> None:
        if self.send_msg_timeout_ms <= 0:
            raise ConfigError(f"send_msg_timeout_ms must be > 0, not {self.send_msg_timeout_ms}")
        if self.retry_times_when_send_failed < 0 or self.retry_times_when_send_async_failed < 0:
            raise ConfigError("retry counts must be >= 0")


def encode_batch(messages: Sequence[Message]) -> bytes:
    """The body of SEND_BATCH_MESSAGE: each message as Java MessageDecoder#encodeMessage writes it."""
    parts: list[bytes] = []
    for message in messages:
        properties = properties_to_string(message.properties).encode()
        body = message.body
        total = BATCH_ENTRY_HEAD.size + len(body) + 2 + len(properties)
        parts.append(BATCH_ENTRY_HEAD.pack(total, 0, 0, message.flag, len(body)))
        parts.append(body)
        parts.append(_PROPERTIES_LENGTH.pack(len(properties)))
        parts.append(properties)
    return b"".join(parts)


class Producer:
    """A producer of one group. `await start()` before sending; `await shutdown()` at the end (or use
    `async with`)."""

    def __init__(
        self,
        group: str = "DEFAULT_PRODUCER",
        *,
        namesrv_addr: str | None = None,
        client_config: ClientConfig | None = None,
        config: ProducerConfig | None = None,
        instance_name: str | None = None,
        clock: Clock = SYSTEM_CLOCK,
        transaction_checker: Callable[[MessageExt], LocalTransactionState] | None = None,
    ) -> None:
        if client_config is None:
            client_config = ClientConfig.of(namesrv_addr, instance_name)
        self._group = group
        self.client_config = client_config
        self.config = config or ProducerConfig()
        self.clock = clock
        self.transaction_checker = transaction_checker
        self._instance: ClientInstance | None = None
        self._publish_infos: dict[str, TopicPublishInfo | None] = {}
        self._fault: MQFaultStrategy | None = None
        self._uniq: UniqIdGenerator | None = None
        self._valid_topics: set[str] = set()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._trace: TraceDispatcher | None = None

    # -- lifecycle ------------------------------------------------------------------------------

    @property
    def group(self) -> str:
        return self._group

    @property
    def instance(self) -> ClientInstance:
        if self._instance is None:
            raise ClientError(-1, None, f"producer {self._group} is not started: await start() first")
        return self._instance

    async def start(self) -> None:
        if self._instance is not None:
            return
        instance = get_client_instance(self.client_config)
        instance.register_producer(self)
        self._instance = instance
        self._fault = MQFaultStrategy(
            rng=instance.rng, send_latency_fault_enable=self.config.send_latency_fault_enable
        )
        self._uniq = UniqIdGenerator(instance.client_id.partition("@")[0])
        await instance.start()
        self._publish_infos.setdefault(self.config.create_topic_key, None)
        if self.config.enable_msg_trace:
            self._trace = TraceDispatcher(
                group=self._group,
                kind="PRODUCE",
                make_sender=lambda group: trace_producer(group, self.client_config, self.clock),
                trace_topic=self.config.trace_topic,
            )
            await self._trace.start()

    async def shutdown(self) -> None:
        instance, self._instance = self._instance, None
        if instance is None:
            return
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._trace is not None:
            await self._trace.shutdown()
            self._trace = None
        await instance.unregister_producer(self._group)

    async def __aenter__(self) -> Producer:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.shutdown()

    # -- what the instance calls ----------------------------------------------------------------

    def published_topics(self) -> set[str]:
        return set(self._publish_infos)

    def update_topic_publish_info(self, topic: str, info: TopicPublishInfo) -> None:
        old = self._publish_infos.get(topic)
        if old is None or old.message_queues != info.message_queues or old.order_topic != info.order_topic:
            self._publish_infos[topic] = info

    def check_transaction_state(self, broker_addr: str, message: MessageExt, header: dict[str, Any]) -> None:
        checker = self.transaction_checker
        if checker is None:
            log.warning(
                "CHECK_TRANSACTION_STATE for %s but producer %s has no transaction_checker",
                message.msg_id,
                self._group,
            )
            return
        self._spawn(self._answer_check(checker, broker_addr, message, header))

    async def _answer_check(
        self,
        checker: Callable[[MessageExt], LocalTransactionState],
        broker_addr: str,
        message: MessageExt,
        ext_fields: dict[str, Any],
    ) -> None:
        """Java DefaultMQProducerImpl#checkTransactionState: ask the checker, answer END_TRANSACTION."""
        header = CheckTransactionStateRequestHeader.from_ext_fields(ext_fields)
        try:
            state = checker(message)
        except Exception:
            log.exception("transaction checker of %s failed", self._group)
            state = LocalTransactionState.UNKNOW
        uniq = message.properties.get(MessageConst.UNIQ_CLIENT_MESSAGE_ID_KEYIDX) or header.msg_id or ""
        answer = EndTransactionRequestHeader(
            producer_group=self._group,
            transaction_queue_offset=header.transaction_queue_offset,
            commit_log_offset=header.commit_log_offset,
            commit_or_rollback=state.value,
            from_transaction_check=True,
            msg_id=uniq,
            transaction_id=header.transaction_id or uniq,
        )
        await self.instance.api.end_transaction_oneway(broker_addr, answer)

    # -- sending --------------------------------------------------------------------------------

    async def send(
        self,
        message: Message | Sequence[Message],
        queue: MessageQueue | None = None,
        *,
        selector: MessageQueueSelector | None = None,
        arg: object = None,
        sharding_key: str | None = None,
        timeout_ms: int | None = None,
    ) -> SendResult:
        """Send and wait for the broker's answer. A list of messages is sent as one batch.

        `queue`: send to exactly that queue; `selector(queues, message, arg)` or `sharding_key`
        (hash of the key, as Java SelectMessageQueueByHash): ordered messages. Those three make one
        attempt only, as in Java; otherwise a failed send is retried on another queue."""
        return await self._send(
            message,
            _Mode.SYNC,
            queue=queue,
            selector=selector,
            arg=arg,
            sharding_key=sharding_key,
            timeout_ms=timeout_ms,
        )

    def send_async(
        self,
        message: Message | Sequence[Message],
        callback: SendCallback | None = None,
        queue: MessageQueue | None = None,
        *,
        selector: MessageQueueSelector | None = None,
        arg: object = None,
        sharding_key: str | None = None,
        timeout_ms: int | None = None,
    ) -> asyncio.Task[SendResult]:
        """Start a send and return its task (await it for the SendResult); `callback(result, error)`
        is called once when it ends. Must be called on the producer's event loop."""
        task = self._spawn(
            self._send(
                message,
                _Mode.ASYNC,
                queue=queue,
                selector=selector,
                arg=arg,
                sharding_key=sharding_key,
                timeout_ms=timeout_ms,
            )
        )
        if callback is not None:
            task.add_done_callback(lambda done: _call_back(callback, done))
        return task

    async def send_oneway(
        self,
        message: Message | Sequence[Message],
        queue: MessageQueue | None = None,
        *,
        selector: MessageQueueSelector | None = None,
        arg: object = None,
        sharding_key: str | None = None,
    ) -> None:
        """Send without waiting for any answer (one attempt)."""
        await self._send(
            message,
            _Mode.ONEWAY,
            queue=queue,
            selector=selector,
            arg=arg,
            sharding_key=sharding_key,
            timeout_ms=None,
        )

    def _spawn(self, coroutine: Any) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _send(
        self,
        message: Message | Sequence[Message],
        mode: _Mode,
        *,
        queue: MessageQueue | None,
        selector: MessageQueueSelector | None,
        arg: object,
        sharding_key: str | None,
        timeout_ms: int | None,
    ) -> SendResult:
        timeout = self.config.send_msg_timeout_ms if timeout_ms is None else timeout_ms
        begin = self.clock.monotonic_ms()
        batch = not isinstance(message, Message)
        if batch:
            single = self._prepare_batch(message)  # type: ignore[arg-type]
        else:
            single = message  # type: ignore[assignment]
            self._check_message(single)
        topic = single.topic
        info = self._publish_infos.get(topic)
        if info is None or not info.message_queues:
            info = await self._find_publish_info(topic)
        if sharding_key is not None and selector is None:
            selector, arg = select_by_hash, sharding_key
        if queue is not None or selector is not None:
            if queue is None:
                assert selector is not None
                queue = selector(info.message_queues, single, arg)
            elif queue.topic != topic:
                raise ClientError(-1, None, f"message queue {queue} is not of the message's topic {topic}")
            remaining = timeout - (self.clock.monotonic_ms() - begin)
            if remaining <= 0:
                raise SendFailedError(f"send to {topic} timed out before it started ({timeout} ms)")
            return await self._send_kernel(
                single,
                originals=messages_of(message),
                batch=batch,
                queue=queue,
                mode=mode,
                timeout_ms=remaining,
            )
        attempts = 1 + (
            self.config.retry_times_when_send_failed
            if mode is _Mode.SYNC
            else self.config.retry_times_when_send_async_failed
            if mode is _Mode.ASYNC
            else 0
        )
        fault = self._fault
        assert fault is not None
        clock = self.clock
        track_latency = fault.send_latency_fault_enable
        originals = messages_of(message)
        last_broker: str | None = None
        last_error: BaseException | None = None
        brokers_sent: list[str] = []
        for _ in range(attempts):
            queue = fault.select_one_message_queue(info, last_broker, clock.now_ms() if track_latency else 0)
            last_broker = queue.broker_name
            brokers_sent.append(last_broker)
            started = clock.monotonic_ms()
            remaining = timeout - (started - begin)
            if remaining <= 0:
                break
            try:
                result = await self._send_kernel(
                    single, originals=originals, batch=batch, queue=queue, mode=mode, timeout_ms=remaining
                )
            except (RemotingError, ClientError) as error:
                if track_latency:
                    latency = clock.monotonic_ms() - started
                    fault.update_fault_item(last_broker, latency, isolation=True, now_ms=clock.now_ms())
                if isinstance(error, ClientError) and error.code not in RETRY_RESPONSE_CODES:
                    raise
                last_error = error
                log.info(
                    "send to %s failed (%s); %s", queue, error, "retrying" if attempts > 1 else "giving up"
                )
                continue
            if track_latency:
                latency = clock.monotonic_ms() - started
                fault.update_fault_item(last_broker, latency, isolation=False, now_ms=clock.now_ms())
            if (
                mode is _Mode.SYNC
                and result.send_status is not SendStatus.SEND_OK
                and self.config.retry_another_broker_when_not_store_ok
            ):
                continue
            return result
        spent = self.clock.monotonic_ms() - begin
        raise SendFailedError(
            f"Send [{len(brokers_sent)}] times, still failed, cost [{spent}]ms, Topic: {topic}, "
            f"BrokersSent: {brokers_sent}: {last_error or 'timed out'}"
        ) from last_error

    async def _find_publish_info(self, topic: str) -> TopicPublishInfo:
        """Java tryToFindTopicPublishInfo: the known route, else the name servers', else TBW102's."""
        info = self._publish_infos.get(topic)
        if info is not None and info.ok():
            return info
        self._publish_infos.setdefault(topic, None)
        instance = self.instance
        await instance.update_topic_route(topic)
        info = self._publish_infos.get(topic)
        if info is None or not info.ok():
            await instance.update_topic_route(
                topic, default_topic_queue_nums=self.config.default_topic_queue_nums
            )
            info = self._publish_infos.get(topic)
        if info is None or not info.ok():
            raise ClientError(
                17, None, f"No route info of this topic: {topic}; is a broker up and the topic created "
                "(or autoCreateTopicEnable on)?",
            )  # fmt: skip
        return info

    def _check_message(self, message: Message) -> None:
        topic = message.topic
        if topic not in self._valid_topics:
            problem = validate_topic(topic)
            if problem is not None:
                raise ClientError(13, None, problem)
            if topic in SystemTopics.NOT_SENDABLE:
                raise ClientError(13, None, f"sending a message to topic {topic} is forbidden")
            self._valid_topics.add(topic)
        body = message.body
        if not body:
            raise ClientError(13, None, "the message body is empty")
        if len(body) > self.config.max_message_size:
            raise ClientError(
                13, None, f"the message body size over max value, MAX: {self.config.max_message_size}"
            )

    def _prepare_batch(self, messages: Sequence[Message]) -> Message:
        """Java DefaultMQProducer#batch: one topic, no delay, no retry topic; UNIQ_KEY on each."""
        if not messages:
            raise ClientError(13, None, "a batch needs at least one message")
        topic = messages[0].topic
        if is_retry_topic(topic):
            raise ClientError(13, None, "Retry Group is not supported for batching")
        uniq = self._uniq
        assert uniq is not None
        uniq_key, wait, delay = (
            MessageConst.UNIQ_CLIENT_MESSAGE_ID_KEYIDX,
            MessageConst.WAIT_STORE_MSG_OK,
            MessageConst.DELAY_TIME_LEVEL,
        )
        for message in messages:
            properties = message.properties
            if message.topic != topic:
                raise ClientError(13, None, "The topic of the messages in one batch should be the same")
            if delay in properties and message.delay_time_level > 0:
                raise ClientError(13, None, "TimeDelayLevel is not supported for batching")
            self._check_message(message)
            if uniq_key not in properties:
                properties[uniq_key] = uniq.next_id()
            if wait not in properties:
                properties[wait] = "true"
        batch = Message(topic)
        batch.body = encode_batch(messages)
        if len(batch.body) > self.config.max_message_size:
            raise ClientError(
                13,
                None,
                f"the batch is {len(batch.body)} bytes; at most {self.config.max_message_size} are allowed",
            )
        batch.properties[MessageConst.WAIT_STORE_MSG_OK] = "true"
        return batch

    async def _send_kernel(
        self,
        message: Message,
        *,
        originals: Sequence[Message],
        batch: bool,
        queue: MessageQueue,
        mode: _Mode,
        timeout_ms: int,
    ) -> SendResult:
        """Java sendKernelImpl: one request to the queue's master."""
        instance = self.instance
        addr = instance.find_broker_address_in_publish(queue.broker_name)
        if addr is None:
            await instance.update_topic_route(queue.topic)
            addr = instance.find_broker_address_in_publish(queue.broker_name)
            if addr is None:
                raise ClientError(14, None, f"The broker[{queue.broker_name}] not exist")
        properties = message.properties
        body = message.body
        sys_flag = 0
        uniq_id: str | None
        if batch:
            uniq_id = ",".join(
                m.properties.get(MessageConst.UNIQ_CLIENT_MESSAGE_ID_KEYIDX, "") for m in originals
            )
        else:
            uniq_id = properties.get(MessageConst.UNIQ_CLIENT_MESSAGE_ID_KEYIDX)
            if uniq_id is None:
                assert self._uniq is not None
                uniq_id = self._uniq.next_id()
                properties[MessageConst.UNIQ_CLIENT_MESSAGE_ID_KEYIDX] = uniq_id
            if MessageConst.WAIT_STORE_MSG_OK not in properties:
                properties[MessageConst.WAIT_STORE_MSG_OK] = "true"
            if len(body) >= self.config.compress_msg_body_over_howmuch:
                body = zlib.compress(body, self.config.compress_level)
                sys_flag |= COMPRESSED | CompressionType.ZLIB
            if properties.get(MessageConst.TRANSACTION_PREPARED) == "true":
                sys_flag |= TRANSACTION_PREPARED_TYPE
        fields: dict[str, Any] = {
            "a": self._group,
            "b": queue.topic,
            "c": self.config.create_topic_key,
            "d": str(self.config.default_topic_queue_nums),
            "e": str(queue.queue_id),
            "f": str(sys_flag),
            "g": str(self.clock.now_ms()),
            "h": str(message.flag),
            "i": properties_to_string(properties),
            "j": "0",
            "k": "false",
            "m": "true" if batch else "false",
            "n": queue.broker_name,
        }
        if is_retry_topic(queue.topic):
            reconsume = properties.get(MessageConst.RECONSUME_TIME)
            if reconsume is not None:
                fields["j"] = reconsume
            max_reconsume = properties.get(MessageConst.MAX_RECONSUME_TIMES)
            if max_reconsume is not None:
                fields["l"] = max_reconsume
        code = RequestCode.SEND_BATCH_MESSAGE if batch else RequestCode.SEND_MESSAGE_V2
        if mode is _Mode.ONEWAY:
            await instance.api.send_oneway(addr, code, fields, body)
            # A oneway send has no result; send_oneway() discards this one.
            return SendResult(
                send_status=SendStatus.SEND_OK,
                msg_id=uniq_id,
                offset_msg_id="",
                message_queue=queue,
                queue_offset=-1,
            )
        trace = self._trace
        if trace is None or queue.topic == trace.trace_topic:
            response = await instance.remoting.invoke(
                addr, instance.api.request(code, fields, body), timeout_ms
            )
            return send_result_from_response(response, queue, uniq_id)
        started_ms = self.clock.now_ms()
        response = await instance.remoting.invoke(addr, instance.api.request(code, fields, body), timeout_ms)
        result = send_result_from_response(response, queue, uniq_id)
        if result.trace_on:
            # Java SendMessageTraceHookImpl#sendMessageAfter.
            trace.append(
                encode_pub(
                    timestamp_ms=started_ms,
                    region_id=result.region_id,
                    group=self._group,
                    topic=queue.topic,
                    msg_id=result.msg_id,
                    tags=properties.get(MessageConst.TAGS),
                    keys=properties.get(MessageConst.KEYS),
                    store_host=addr,
                    body_length=len(body),
                    cost_ms=self.clock.now_ms() - started_ms,
                    message_type=_message_type(sys_flag, properties),
                    offset_msg_id=result.offset_msg_id,
                    success=result.send_status is SendStatus.SEND_OK,
                ),
                trace_keys(result.msg_id, properties.get(MessageConst.KEYS)),
            )
        return result


def _message_type(sys_flag: int, properties: dict[str, str]) -> MessageType:
    """Java DefaultMQProducerImpl#sendKernelImpl: what kind of send a trace records."""
    if sys_flag & TRANSACTION_PREPARED_TYPE:
        return MessageType.TRANS_MSG_HALF
    if properties.get(MessageConst.DELAY_TIME_LEVEL, "0") not in ("", "0"):
        return MessageType.DELAY_MSG
    return MessageType.NORMAL_MSG


def trace_producer(group: str, client_config: ClientConfig, clock: Clock) -> Producer:
    """The producer a trace dispatcher sends with (Java AsyncTraceDispatcher#getAndCreateTraceProducer):
    its own client instance, 5 s send timeout, 128,000-byte messages."""
    config = dataclasses.replace(
        client_config, instance_name=f"{TRACE_INSTANCE_NAME}_{client_config.namesrv_addr}"
    )
    return Producer(
        group,
        client_config=config,
        config=ProducerConfig(send_msg_timeout_ms=5_000, max_message_size=MAX_MESSAGE_BYTES),
        clock=clock,
    )


def messages_of(message: Message | Sequence[Message]) -> Sequence[Message]:
    return (message,) if isinstance(message, Message) else message


def _call_back(callback: SendCallback, task: asyncio.Task[SendResult]) -> None:
    try:
        if task.cancelled():
            callback(None, asyncio.CancelledError())
        elif (error := task.exception()) is not None:
            callback(None, error)
        else:
            callback(task.result(), None)
    except Exception:
        log.exception("send callback failed")
