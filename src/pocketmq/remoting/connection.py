"""Connection: one socket of the remoting protocol, as an asyncio Protocol (server and client side alike).

It feeds received bytes to the sans-IO FrameDecoder, dispatches requests to a Router, matches responses
to pending calls by opaque, and batches everything written in one loop iteration into one
`transport.write`. Either side can invoke requests on the other: the broker sends
NOTIFY_CONSUMER_IDS_CHANGED or CHECK_TRANSACTION_STATE on the connection a client opened.
Java: NettyRemotingAbstract (processRequestCommand, processResponseCommand, invokeSyncImpl).
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Final, cast

from pocketmq.common.errors import ConnectionClosedError, ProtocolError, RemotingError, RequestTimeoutError
from pocketmq.protocol.codes import ResponseCode
from pocketmq.protocol.command import FLAG_ONEWAY, FLAG_RESPONSE, RemotingCommand, make_response
from pocketmq.protocol.frame import FRAME_BYTES_MAX_DEFAULT, FrameDecoder, encode_parts
from pocketmq.remoting.router import HandlerResult, Router, not_supported_response

__all__ = ["Connection", "CloseCallback", "PENDING_REQUESTS_MAX_DEFAULT", "HANDLER_TASKS_MAX_DEFAULT"]

log = logging.getLogger(__name__)

CloseCallback = Callable[["Connection"], None]

#: Calls awaiting a response on one connection (Java: semaphoreAsync/semaphoreOneway permits, 65535).
PENDING_REQUESTS_MAX_DEFAULT: Final = 65536
#: Async handlers running at once for one connection; beyond it requests are answered SYSTEM_BUSY.
HANDLER_TASKS_MAX_DEFAULT: Final = 16384
_OPAQUE_WRAP: Final = 0x7FFFFFFF
_NO_RESPONSE_BITS: Final = ~(FLAG_RESPONSE | FLAG_ONEWAY)
#: Bodies larger than this are written without joining them into the batch buffer.
_JOIN_BYTES_MAX: Final = 64 * 1024
#: Granularity of call timeouts: a call fails at most this much after its timeout.
TIMEOUT_TICK_MS: Final = 10


class Connection(asyncio.Protocol):
    """One remoting connection. `peer_address` is "ip:port" of the other side.

    `attributes` is free for the owner (the broker keeps a client id there, for example).
    """

    def __init__(
        self,
        router: Router,
        *,
        frame_bytes_max: int = FRAME_BYTES_MAX_DEFAULT,
        pending_requests_max: int = PENDING_REQUESTS_MAX_DEFAULT,
        handler_tasks_max: int = HANDLER_TASKS_MAX_DEFAULT,
        on_open: Callable[[Connection], None] | None = None,
        on_close: CloseCallback | None = None,
        pause_reading_when_backed_up: bool = False,
    ) -> None:
        self._router = router
        # Servers stop reading requests from a peer that does not read its responses. A client must
        # never stop reading responses (both sides waiting on each other would deadlock).
        self._pause_reading_when_backed_up = pause_reading_when_backed_up
        self._decoder = FrameDecoder(frame_bytes_max=frame_bytes_max)
        self._pending_requests_max = pending_requests_max
        self._handler_tasks_max = handler_tasks_max
        self._on_open = on_open
        self._close_callbacks: list[CloseCallback] = [on_close] if on_close is not None else []
        self._loop = asyncio.get_running_loop()
        self._transport: asyncio.Transport | None = None
        self._out: list[bytes] = []
        self._out_has_large_body = False
        self._receiving = False
        self._flush_scheduled = False
        self._write_paused = False
        self._drain_waiters: list[asyncio.Future[None]] = []
        # opaque -> (future, timeout bucket, request code, timeout_ms)
        self._pending: dict[int, tuple[asyncio.Future[RemotingCommand], int, int, int]] = {}
        # Timeouts share one loop timer per TIMEOUT_TICK_MS bucket: a timer per call costs more than
        # decoding a frame (2 us with uvloop). bucket (ms of loop time) -> opaques expiring in it.
        self._timeout_buckets: dict[int, set[int]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._next_opaque = 0
        self._closed = False
        self._closed_future: asyncio.Future[None] = self._loop.create_future()
        self.close_reason: str | None = None
        self.peer_address = "?"
        self.local_address = "?"
        self.attributes: dict[str, Any] = {}
        #: Loop time (s) of the last bytes received or written: servers close idle connections.
        self.last_activity = self._loop.time()

    # ----------------------------------------------------------------------------------- properties

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def write_paused(self) -> bool:
        """True while the transport's write buffer is above its high-water mark."""
        return self._write_paused

    @property
    def pending_count(self) -> int:
        return len(self._pending)

    def add_close_callback(self, callback: CloseCallback) -> None:
        """Call `callback(connection)` once when the connection closes (at once if already closed)."""
        if self._closed:
            self._loop.call_soon(callback, self)
        else:
            self._close_callbacks.append(callback)

    async def wait_closed(self) -> None:
        await asyncio.shield(self._closed_future)

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return f"Connection({self.local_address} <-> {self.peer_address}, {state})"

    # ----------------------------------------------------------------------------- asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop transports implement asyncio.Transport without subclassing it.
        self._transport = cast(asyncio.Transport, transport)
        self.peer_address = _format_address(transport.get_extra_info("peername"))
        self.local_address = _format_address(transport.get_extra_info("sockname"))
        if self._on_open is not None:
            try:
                self._on_open(self)
            except Exception:
                log.exception("connection-opened callback failed for %s", self)

    def data_received(self, data: bytes) -> None:
        decoder = self._decoder
        self.last_activity = self._loop.time()
        self._receiving = True
        try:
            decoder.feed(data)
            while not self._closed and (command := decoder.next_command()) is not None:
                if command.flag & FLAG_RESPONSE:
                    self._on_response(command)
                else:
                    self._on_request(command)
        except ProtocolError as error:
            log.warning("closing %s: %s", self, error)
            self._receiving = False
            self._flush()
            self.close(f"protocol error: {error}")
            return
        except Exception as error:  # a bug of ours: this connection cannot go on, the process can
            log.exception("closing %s after an internal error", self)
            self._receiving = False
            self.close(f"internal error: {error!r}")
            return
        self._receiving = False
        if self._out:
            self._flush()

    def eof_received(self) -> bool | None:
        return None  # close our side too

    def connection_lost(self, exc: Exception | None) -> None:
        reason = self.close_reason or (f"connection lost: {exc}" if exc else "closed by peer")
        self._shutdown(reason)

    def pause_writing(self) -> None:
        # The peer reads slower than we write: stop reading its requests until our buffer drains.
        self._write_paused = True
        if self._pause_reading_when_backed_up and self._transport is not None and not self._closed:
            self._transport.pause_reading()

    def resume_writing(self) -> None:
        self._write_paused = False
        if self._pause_reading_when_backed_up and self._transport is not None and not self._closed:
            self._transport.resume_reading()
        waiters, self._drain_waiters = self._drain_waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    # -------------------------------------------------------------------------------------- sending

    def send(self, command: RemotingCommand) -> None:
        """Write one command (no flow control). Writes of one loop iteration leave as one buffer."""
        if self._closed:
            raise ConnectionClosedError(f"{self} is closed: {self.close_reason}")
        encode_parts(command, self._out)
        body = command.body
        if body is not None and len(body) > _JOIN_BYTES_MAX:
            self._out_has_large_body = True
        if not self._receiving and not self._flush_scheduled:
            self._flush_scheduled = True
            self._loop.call_soon(self._flush)

    def _flush(self) -> None:
        self._flush_scheduled = False
        out = self._out
        if not out or self._transport is None or self._closed:
            out.clear()
            return
        self.last_activity = self._loop.time()
        if len(out) == 1:
            self._transport.write(out[0])
        elif self._out_has_large_body:
            # Big bodies (pull results, up to MiBs) go out as they are, without a copy into one buffer.
            self._transport.writelines(out)
        else:
            self._transport.write(b"".join(out))
        self._out_has_large_body = False
        out.clear()

    async def drain(self) -> None:
        """Wait until the transport accepts more writes."""
        if self._write_paused and not self._closed:
            waiter: asyncio.Future[None] = self._loop.create_future()
            self._drain_waiters.append(waiter)
            await waiter

    async def invoke(self, request: RemotingCommand, timeout_ms: int) -> RemotingCommand:
        """Send `request` and wait for its response (matched by opaque, which this assigns).

        Raises RequestTimeoutError after `timeout_ms`, ConnectionClosedError if the connection closes first.
        """
        if self._closed:
            raise ConnectionClosedError(f"{self} is closed: {self.close_reason}")
        if self._write_paused:
            await self.drain()
            if self._closed:
                raise ConnectionClosedError(f"{self} is closed: {self.close_reason}")
        pending = self._pending
        if len(pending) >= self._pending_requests_max:
            raise RemotingError(f"{len(pending)} calls already pending on {self}; refusing more")
        opaque = self._next_opaque
        self._next_opaque = 0 if opaque >= _OPAQUE_WRAP else opaque + 1
        request.opaque = opaque
        request.flag &= _NO_RESPONSE_BITS
        future: asyncio.Future[RemotingCommand] = self._loop.create_future()
        bucket = (
            int(self._loop.time() * 1000) + timeout_ms
        ) // TIMEOUT_TICK_MS * TIMEOUT_TICK_MS + TIMEOUT_TICK_MS
        members = self._timeout_buckets.get(bucket)
        if members is None:
            members = self._timeout_buckets[bucket] = set()
            self._loop.call_at(bucket / 1000, self._expire_bucket, bucket)
        members.add(opaque)
        pending[opaque] = (future, bucket, request.code, timeout_ms)
        self.send(request)
        try:
            return await future
        except asyncio.CancelledError:
            self._forget_call(opaque)
            raise

    async def invoke_oneway(self, request: RemotingCommand) -> None:
        """Send `request` flagged oneway; nothing comes back. Waits only if the socket is backed up."""
        if self._write_paused:
            await self.drain()
        opaque = self._next_opaque
        self._next_opaque = 0 if opaque >= _OPAQUE_WRAP else opaque + 1
        request.opaque = opaque
        request.flag = (request.flag & _NO_RESPONSE_BITS) | FLAG_ONEWAY
        self.send(request)

    def _forget_call(self, opaque: int) -> asyncio.Future[RemotingCommand] | None:
        entry = self._pending.pop(opaque, None)
        if entry is None:
            return None
        members = self._timeout_buckets.get(entry[1])
        if members is not None:
            members.discard(opaque)
        return entry[0]

    def _expire_bucket(self, bucket: int) -> None:
        for opaque in self._timeout_buckets.pop(bucket, ()):
            entry = self._pending.pop(opaque, None)
            if entry is not None and not entry[0].done():
                future, _, code, timeout_ms = entry
                future.set_exception(
                    RequestTimeoutError(
                        f"no response to request code {code} (opaque {opaque}) from {self.peer_address} "
                        f"within {timeout_ms} ms"
                    )
                )

    # ------------------------------------------------------------------------------------ receiving

    def _on_response(self, response: RemotingCommand) -> None:
        future = self._forget_call(response.opaque)
        if future is None:
            log.debug("%s: response for unknown or expired opaque %d dropped", self, response.opaque)
            return
        if not future.done():
            future.set_result(response)

    def _on_request(self, request: RemotingCommand) -> None:
        handler = self._router.lookup(request.code)
        if handler is None:
            if not request.flag & FLAG_ONEWAY and not self._closed:
                self.send(not_supported_response(request))
            return
        try:
            if self._router.hooks:
                for hook in self._router.hooks:
                    refusal = hook(request, self)
                    if refusal is not None:
                        self._answer(request, refusal)
                        return
            result = handler(request, self)
        except Exception as error:
            self._answer_error(request, error)
            return
        if result is None:
            return
        if result.__class__ is RemotingCommand or isinstance(result, RemotingCommand):
            self._answer(request, result)
            return
        if not inspect.isawaitable(result):
            self._answer_error(request, TypeError(f"handler returned {type(result).__name__}, not a command"))
            return
        if len(self._tasks) >= self._handler_tasks_max:
            if inspect.iscoroutine(result):
                result.close()
            if not request.flag & FLAG_ONEWAY and not self._closed:
                self.send(make_response(request, ResponseCode.SYSTEM_BUSY, "too many requests in flight"))
            return
        task = self._loop.create_task(self._run_handler(request, result))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run_handler(self, request: RemotingCommand, pending: Awaitable[HandlerResult | Any]) -> None:
        try:
            response = await pending
        except asyncio.CancelledError:
            raise
        except Exception as error:
            if not self._closed:
                self._answer_error(request, error)
            return
        if response is None or self._closed:
            return
        if not isinstance(response, RemotingCommand):
            self._answer_error(
                request, TypeError(f"handler returned {type(response).__name__}, not a command")
            )
            return
        self._answer(request, response)

    def _answer(self, request: RemotingCommand, response: RemotingCommand) -> None:
        if request.flag & FLAG_ONEWAY or self._closed:
            return
        response.opaque = request.opaque
        response.flag |= FLAG_RESPONSE
        response.serialize_type = request.serialize_type
        self.send(response)

    def _answer_error(self, request: RemotingCommand, error: Exception) -> None:
        if isinstance(error, ProtocolError):
            # Bad input from the peer inside a well-formed frame (a missing header field...): answer it.
            log.info("%s: request code %d refused: %s", self, request.code, error)
            remark = str(error)
        else:
            log.error("%s: handler of request code %d failed", self, request.code, exc_info=error)
            remark = f"{type(error).__name__}: {error}"
        if not request.flag & FLAG_ONEWAY and not self._closed:
            self.send(make_response(request, ResponseCode.SYSTEM_ERROR, remark))

    # -------------------------------------------------------------------------------------- closing

    def close(self, reason: str | None = None) -> None:
        """Close the connection: pending calls fail with ConnectionClosedError(reason) at once."""
        if self.close_reason is None:
            self.close_reason = reason or "closed locally"
        if self._transport is not None and not self._transport.is_closing():
            self._flush()
            self._transport.close()
        self._shutdown(self.close_reason)

    def abort(self, reason: str) -> None:
        """Close without flushing what is still buffered."""
        if self.close_reason is None:
            self.close_reason = reason
        if self._transport is not None:
            self._transport.abort()
        self._shutdown(reason)

    def _shutdown(self, reason: str) -> None:
        if self._closed:
            return
        self._closed = True
        self._out.clear()
        pending, self._pending = self._pending, {}
        self._timeout_buckets.clear()
        for future, _, _, _ in pending.values():
            if not future.done():
                future.set_exception(
                    ConnectionClosedError(f"connection to {self.peer_address} closed: {reason}")
                )
        for task in list(self._tasks):
            task.cancel()
        for waiter in self._drain_waiters:
            if not waiter.done():
                waiter.set_result(None)
        self._drain_waiters.clear()
        if not self._closed_future.done():
            self._closed_future.set_result(None)
        callbacks, self._close_callbacks = self._close_callbacks, []
        for callback in callbacks:
            try:
                callback(self)
            except Exception:
                log.exception("connection-closed callback failed for %s", self)


def _format_address(address: Any) -> str:
    if isinstance(address, tuple) and len(address) >= 2:
        return f"{address[0]}:{address[1]}"
    return str(address) if address else "?"
