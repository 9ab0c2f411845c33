"""Blocking facades of the orderly push consumer and the transaction producer, for plain scripts
(on the process's background loop, as `client.blocking`).

```python
from pocketmq.client.blocking_guarantees import BlockingTransactionProducer
with BlockingTransactionProducer("tx-group", listener=MyListener(), namesrv_addr="127.0.0.1:9876") as p:
    result = p.send_message_in_transaction(Message("TopicA", b"order 42"), arg=42)
```
Plain-function listeners run in worker threads (the orderly consumer's thread pool; a thread per
transaction call), as in Java.
"""

from __future__ import annotations

from typing import Any

from pocketmq.client.blocking import BlockingProducer, BlockingPushConsumer, background_loop
from pocketmq.client.consumer.consume_orderly_service import MessageListenerOrderly, OrderlyPushConsumer
from pocketmq.client.producer.transaction_producer import TransactionProducer, TransactionSendResult
from pocketmq.common.message import Message

__all__ = ["BlockingOrderlyPushConsumer", "BlockingTransactionProducer"]


class BlockingOrderlyPushConsumer(BlockingPushConsumer):
    """`OrderlyPushConsumer` with blocking start/shutdown. Takes the same arguments."""

    def __init__(self, group: str, **kwargs: Any) -> None:
        self._loop = background_loop()
        self.consumer: OrderlyPushConsumer = self._loop.call(lambda: OrderlyPushConsumer(group, **kwargs))

    def register_message_listener(self, listener: MessageListenerOrderly) -> None:  # type: ignore[override]
        self.consumer.register_message_listener(listener)


class BlockingTransactionProducer(BlockingProducer):
    """`TransactionProducer` with blocking calls. Takes the same arguments."""

    def __init__(self, group: str, **kwargs: Any) -> None:
        self._loop = background_loop()
        self.producer: TransactionProducer = self._loop.call(lambda: TransactionProducer(group, **kwargs))

    def send_message_in_transaction(self, message: Message, arg: Any = None) -> TransactionSendResult:
        return self._loop.run(self.producer.send_message_in_transaction(message, arg))
