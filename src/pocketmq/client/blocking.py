"""Blocking facade for plain scripts: the asyncio client runs on one background event-loop thread
(uvloop) shared by the whole process, and every call here waits for its result.

```python
from pocketmq.client.blocking import BlockingProducer
with BlockingProducer("my-group", namesrv_addr="127.0.0.1:9876") as producer:
    result = producer.send(Message("TopicA", b"hello", tags="TagA"))
```
A push consumer's plain-function listener runs in the consumer's thread pool, as in Java.
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import threading
from collections.abc import Coroutine, Iterable, Sequence
from typing import Any, TypeVar

import uvloop

from pocketmq.client.api import PullResult, SendResult
from pocketmq.client.consumer.lite_pull_consumer import LitePullConsumer
from pocketmq.client.consumer.pull_consumer import PullConsumer
from pocketmq.client.consumer.push_consumer import MessageListener, PushConsumer
from pocketmq.client.producer.producer import Producer, SendCallback
from pocketmq.client.producer.queue_selection import MessageQueueSelector
from pocketmq.common.message import Message, MessageExt, MessageQueue

__all__ = [
    "BackgroundLoop",
    "background_loop",
    "BlockingProducer",
    "BlockingPushConsumer",
    "BlockingPullConsumer",
    "BlockingLitePullConsumer",
]

_T = TypeVar("_T")


class BackgroundLoop:
    """An event loop running forever in a daemon thread; `run` waits for a coroutine's result."""

    def __init__(self) -> None:
        self.loop = uvloop.new_event_loop()
        self._thread = threading.Thread(target=self._run, name="pocketmq-client-loop", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    def submit(self, coroutine: Coroutine[Any, Any, _T]) -> concurrent.futures.Future[_T]:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop)

    def run(self, coroutine: Coroutine[Any, Any, _T], timeout_s: float | None = None) -> _T:
        if threading.current_thread() is self._thread:
            raise RuntimeError(
                "a blocking call was made on the client's own loop thread; use the async API there"
            )
        return self.submit(coroutine).result(timeout_s)

    def call(self, function: Any, *args: Any) -> Any:
        """Run a plain function on the loop thread and wait for it."""

        async def wrapper() -> Any:
            return function(*args)

        return self.run(wrapper())

    def stop(self) -> None:
        if self.loop.is_running():
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(5)


_shared: BackgroundLoop | None = None
_shared_lock = threading.Lock()


def background_loop() -> BackgroundLoop:
    """The process's background loop, started on first use."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = BackgroundLoop()
            atexit.register(_shared.stop)
        return _shared


class BlockingProducer:
    """`Producer` with blocking calls. Takes the same arguments."""

    def __init__(self, group: str = "DEFAULT_PRODUCER", **kwargs: Any) -> None:
        self._loop = background_loop()
        self.producer: Producer = self._loop.call(lambda: Producer(group, **kwargs))

    def start(self) -> None:
        self._loop.run(self.producer.start())

    def shutdown(self) -> None:
        self._loop.run(self.producer.shutdown())

    def __enter__(self) -> BlockingProducer:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.shutdown()

    def send(
        self,
        message: Message | Sequence[Message],
        queue: MessageQueue | None = None,
        *,
        selector: MessageQueueSelector | None = None,
        arg: object = None,
        sharding_key: str | None = None,
        timeout_ms: int | None = None,
    ) -> SendResult:
        return self._loop.run(
            self.producer.send(
                message, queue, selector=selector, arg=arg, sharding_key=sharding_key, timeout_ms=timeout_ms
            )
        )

    def send_oneway(self, message: Message | Sequence[Message], queue: MessageQueue | None = None) -> None:
        self._loop.run(self.producer.send_oneway(message, queue))

    def send_async(
        self, message: Message | Sequence[Message], callback: SendCallback | None = None
    ) -> concurrent.futures.Future[SendResult]:
        """Start a send; the returned future completes with the SendResult. `callback` runs on the
        loop thread."""

        async def send() -> SendResult:
            return await self.producer.send_async(message, callback)

        return self._loop.submit(send())


class BlockingPushConsumer:
    """`PushConsumer` with blocking start/shutdown. Takes the same arguments."""

    def __init__(self, group: str, **kwargs: Any) -> None:
        self._loop = background_loop()
        self.consumer: PushConsumer = self._loop.call(lambda: PushConsumer(group, **kwargs))

    def subscribe(self, topic: str, expression: str = "*") -> None:
        self._loop.call(self.consumer.subscribe, topic, expression)

    def register_message_listener(self, listener: MessageListener) -> None:
        self.consumer.register_message_listener(listener)

    def start(self) -> None:
        self._loop.run(self.consumer.start())

    def shutdown(self) -> None:
        self._loop.run(self.consumer.shutdown())

    def held_queues(self) -> set[MessageQueue]:
        result: set[MessageQueue] = self._loop.call(self.consumer.held_queues)
        return result

    def __enter__(self) -> BlockingPushConsumer:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.shutdown()


class BlockingPullConsumer:
    """`PullConsumer` with blocking calls."""

    def __init__(self, group: str, **kwargs: Any) -> None:
        self._loop = background_loop()
        self.consumer: PullConsumer = self._loop.call(lambda: PullConsumer(group, **kwargs))

    def start(self) -> None:
        self._loop.run(self.consumer.start())

    def shutdown(self) -> None:
        self._loop.run(self.consumer.shutdown())

    def fetch_message_queues(self, topic: str) -> list[MessageQueue]:
        return self._loop.run(self.consumer.fetch_message_queues(topic))

    def pull(self, queue: MessageQueue, expression: str, offset: int, max_count: int = 32) -> PullResult:
        return self._loop.run(self.consumer.pull(queue, expression, offset, max_count))

    def update_consume_offset(self, queue: MessageQueue, offset: int) -> None:
        self._loop.run(self.consumer.update_consume_offset(queue, offset))

    def fetch_consume_offset(self, queue: MessageQueue) -> int:
        return self._loop.run(self.consumer.fetch_consume_offset(queue))

    def __enter__(self) -> BlockingPullConsumer:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.shutdown()


class BlockingLitePullConsumer:
    """`LitePullConsumer` with blocking calls."""

    def __init__(self, group: str, **kwargs: Any) -> None:
        self._loop = background_loop()
        self.consumer: LitePullConsumer = self._loop.call(lambda: LitePullConsumer(group, **kwargs))

    def subscribe(self, topic: str, expression: str = "*") -> None:
        self._loop.call(self.consumer.subscribe, topic, expression)

    def assign(self, queues: Iterable[MessageQueue]) -> None:
        self._loop.run(self.consumer.assign(list(queues)))

    def start(self) -> None:
        self._loop.run(self.consumer.start())

    def shutdown(self) -> None:
        self._loop.run(self.consumer.shutdown())

    def poll(self, timeout_ms: int | None = None) -> list[MessageExt]:
        return self._loop.run(self.consumer.poll(timeout_ms))

    def seek(self, queue: MessageQueue, offset: int) -> None:
        self._loop.run(self.consumer.seek(queue, offset))

    def commit(self) -> None:
        self._loop.run(self.consumer.commit())

    def fetch_message_queues(self, topic: str) -> list[MessageQueue]:
        return self._loop.run(self.consumer.fetch_message_queues(topic))

    def __enter__(self) -> BlockingLitePullConsumer:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.shutdown()
