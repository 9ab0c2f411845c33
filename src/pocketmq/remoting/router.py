"""Router: the table from request code to handler, shared by servers and clients.

Handlers are thin and routed by table, not by `switch` (STYLE R5). A handler takes the request and the
Connection it came on and returns the response, or None for no response (oneway requests never get one).
It may be a plain function (answered in the same loop iteration: the fast path) or a coroutine function
(run as a task; responses may then leave out of order, matched by opaque).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, TypeAlias

from pocketmq.protocol.codes import ResponseCode
from pocketmq.protocol.command import RemotingCommand, make_response

if TYPE_CHECKING:
    from pocketmq.remoting.connection import Connection

__all__ = ["Handler", "HandlerResult", "RequestHook", "Router", "not_supported_response"]

HandlerResult: TypeAlias = RemotingCommand | None
#: Runs before every routed request (Java: RPCHook#doBeforeRequest on the server, e.g. ACL checks).
#: Returning a response answers the request with it instead of calling the handler (NO_PERMISSION...);
#: raising answers SYSTEM_ERROR with the message.
RequestHook: TypeAlias = Callable[[RemotingCommand, "Connection"], RemotingCommand | None]
Handler: TypeAlias = Callable[[RemotingCommand, "Connection"], "HandlerResult | Awaitable[HandlerResult]"]


def not_supported_response(request: RemotingCommand) -> RemotingCommand:
    """REQUEST_CODE_NOT_SUPPORTED with a remark naming the code (Java: NettyRemotingAbstract)."""
    return make_response(
        request, ResponseCode.REQUEST_CODE_NOT_SUPPORTED, f" request type {request.code} not supported"
    )


class Router:
    """code -> handler. Unknown codes answer REQUEST_CODE_NOT_SUPPORTED unless a default handler is set."""

    __slots__ = ("_default", "_handlers", "hooks")

    def __init__(
        self, routes: Mapping[int, Handler] | None = None, *, default: Handler | None = None
    ) -> None:
        self._handlers: dict[int, Handler] = {}
        self._default = default
        self.hooks: list[RequestHook] = []
        if routes:
            for code, handler in routes.items():
                self.register(code, handler)

    def register(self, code: int, handler: Handler) -> None:
        """Route `code` to `handler`, replacing any previous handler of that code."""
        self._handlers[int(code)] = handler

    def add_hook(self, hook: RequestHook) -> None:
        """Run `hook(request, connection)` before every handler of this router, in the order added."""
        self.hooks.append(hook)

    def unregister(self, code: int) -> None:
        self._handlers.pop(int(code), None)

    def set_default(self, handler: Handler | None) -> None:
        """Handler for codes without a route (None: answer REQUEST_CODE_NOT_SUPPORTED)."""
        self._default = handler

    def lookup(self, code: int) -> Handler | None:
        handler = self._handlers.get(code)
        return self._default if handler is None else handler

    def __contains__(self, code: object) -> bool:
        return code in self._handlers

    def codes(self) -> list[int]:
        return sorted(self._handlers)
