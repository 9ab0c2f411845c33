"""RemotingServer / RemotingClient / Connection / Router over real sockets on 127.0.0.1."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from pocketmq.common.errors import ConnectionClosedError, ProtocolError, RemotingError, RequestTimeoutError
from pocketmq.protocol.codes import RequestCode, ResponseCode
from pocketmq.protocol.command import RemotingCommand, SerializeType, make_request, make_response
from pocketmq.remoting import Connection, RemotingClient, RemotingServer, Router

ECHO = 9001
SLOW = 9002
BOOM = 9003
BAD_INPUT = 9004
NEVER = 9005


def echo(request: RemotingCommand, connection: Connection) -> RemotingCommand:
    return make_response(request, ResponseCode.SUCCESS, remark=connection.peer_address, body=request.body)


async def slow(request: RemotingCommand, connection: Connection) -> RemotingCommand:
    await asyncio.sleep(float(request.ext_fields.get("sleep", "0.05")))
    return make_response(request, ResponseCode.SUCCESS, ext_fields={"slept": "true"})


def boom(request: RemotingCommand, connection: Connection) -> RemotingCommand:
    raise RuntimeError("kaboom")


def bad_input(request: RemotingCommand, connection: Connection) -> RemotingCommand:
    raise ProtocolError("the custom field <topic> is null")


async def never(request: RemotingCommand, connection: Connection) -> RemotingCommand:
    await asyncio.Event().wait()
    raise AssertionError


@pytest.fixture
async def server() -> AsyncIterator[RemotingServer]:
    router = Router({ECHO: echo, SLOW: slow, BOOM: boom, BAD_INPUT: bad_input, NEVER: never})
    server = RemotingServer("127.0.0.1", 0, router)
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def client() -> AsyncIterator[RemotingClient]:
    client = RemotingClient()
    yield client
    await client.close()


async def test_invoke_echo_keeps_body_and_reports_peer_address(
    server: RemotingServer, client: RemotingClient
) -> None:
    response = await client.invoke(server.address, make_request(ECHO, {"k": "v"}, b"payload"), 3000)
    assert response.code == ResponseCode.SUCCESS
    assert response.body == b"payload"
    assert response.is_response
    assert response.remark is not None and response.remark.startswith("127.0.0.1:")


async def test_response_uses_the_serialize_type_of_the_request(
    server: RemotingServer, client: RemotingClient
) -> None:
    request = make_request(ECHO, {"topic": "T"}, serialize_type=SerializeType.ROCKETMQ)
    response = await client.invoke(server.address, request, 3000)
    assert response.serialize_type is SerializeType.ROCKETMQ
    assert response.opaque == request.opaque


async def test_pipelined_calls_are_matched_by_opaque(server: RemotingServer, client: RemotingClient) -> None:
    requests = [make_request(ECHO, body=str(i).encode()) for i in range(500)]
    responses = await asyncio.gather(*(client.invoke(server.address, r, 3000) for r in requests))
    assert [r.body for r in responses] == [str(i).encode() for i in range(500)]


async def test_slow_async_handler_answers_out_of_order(
    server: RemotingServer, client: RemotingClient
) -> None:
    slow_call = asyncio.ensure_future(
        client.invoke(server.address, make_request(SLOW, {"sleep": "0.2"}), 3000)
    )
    fast = await client.invoke(server.address, make_request(ECHO, body=b"x"), 3000)
    assert fast.body == b"x"
    assert not slow_call.done()
    assert (await slow_call).ext_fields == {"slept": "true"}


async def test_unknown_code_answers_not_supported_naming_the_code(
    server: RemotingServer, client: RemotingClient
) -> None:
    request = make_request(RequestCode.GET_KV_CONFIG_BY_VALUE)
    response = await client.invoke(server.address, request, 3000)
    assert response.code == ResponseCode.REQUEST_CODE_NOT_SUPPORTED
    assert response.remark is not None and "217" in response.remark


async def test_handler_exceptions_answer_system_error_and_keep_the_connection(
    server: RemotingServer, client: RemotingClient
) -> None:
    response = await client.invoke(server.address, make_request(BOOM), 3000)
    assert response.code == ResponseCode.SYSTEM_ERROR
    assert response.remark is not None and "kaboom" in response.remark
    response = await client.invoke(server.address, make_request(BAD_INPUT), 3000)
    assert response.code == ResponseCode.SYSTEM_ERROR
    assert response.remark == "the custom field <topic> is null"
    assert (await client.invoke(server.address, make_request(ECHO), 3000)).code == ResponseCode.SUCCESS


async def test_timeout_raises_and_forgets_the_call(server: RemotingServer, client: RemotingClient) -> None:
    with pytest.raises(RequestTimeoutError, match="within 50 ms"):
        await client.invoke(server.address, make_request(NEVER), 50)
    connection = await client.connection(server.address)
    assert connection.pending_count == 0


async def test_close_fails_pending_calls(server: RemotingServer, client: RemotingClient) -> None:
    call = asyncio.ensure_future(client.invoke(server.address, make_request(NEVER), 10_000))
    await asyncio.sleep(0.05)
    await client.close()
    with pytest.raises(ConnectionClosedError):
        await call


async def test_server_stop_fails_pending_calls_and_client_reconnects() -> None:
    router = Router({ECHO: echo, NEVER: never})
    first = RemotingServer("127.0.0.1", 0, router)
    await first.start()
    port = first.port
    async with RemotingClient() as client:
        address = f"127.0.0.1:{port}"
        call = asyncio.ensure_future(client.invoke(address, make_request(NEVER), 10_000))
        await asyncio.sleep(0.05)
        await first.stop()
        with pytest.raises(ConnectionClosedError):
            await call
        second = RemotingServer("127.0.0.1", port, router)
        await second.start()
        try:
            response = await client.invoke(address, make_request(ECHO, body=b"again"), 3000)
            assert response.body == b"again"
        finally:
            await second.stop()


async def test_connect_refused_is_a_remoting_error(client: RemotingClient) -> None:
    probe = RemotingServer("127.0.0.1", 0, Router())
    await probe.start()
    port = probe.port
    await probe.stop()
    with pytest.raises(RemotingError):
        await client.invoke(f"127.0.0.1:{port}", make_request(ECHO), 1000)


async def test_oneway_gets_no_response_and_reaches_the_handler(client: RemotingClient) -> None:
    seen: list[RemotingCommand] = []

    def record(request: RemotingCommand, connection: Connection) -> RemotingCommand:
        seen.append(request)
        return make_response(request, ResponseCode.SUCCESS)

    async with RemotingServer("127.0.0.1", 0, Router({ECHO: record})) as server:
        await client.invoke_oneway(server.address, make_request(ECHO, {"a": "1"}))
        await client.invoke_oneway(server.address, make_request(NEVER))  # unknown code, oneway: silent
        response = await client.invoke(server.address, make_request(ECHO), 3000)
        assert response.code == ResponseCode.SUCCESS
        assert [r.is_oneway for r in seen] == [True, False]


async def test_server_invokes_a_request_on_the_client_connection() -> None:
    opened: list[Connection] = []
    closed: list[Connection] = []
    client_router = Router()

    def on_check(request: RemotingCommand, connection: Connection) -> RemotingCommand:
        return make_response(request, ResponseCode.SUCCESS, ext_fields={"seen": request.ext_fields["topic"]})

    client_router.register(RequestCode.CHECK_TRANSACTION_STATE, on_check)
    server = RemotingServer(
        "127.0.0.1",
        0,
        Router({ECHO: echo}),
        on_connection_opened=opened.append,
        on_connection_closed=closed.append,
    )
    await server.start()
    try:
        client = RemotingClient(client_router)
        await client.invoke(server.address, make_request(ECHO), 3000)
        assert len(opened) == 1 and server.connections == {opened[0]}
        request = make_request(RequestCode.CHECK_TRANSACTION_STATE, {"topic": "T"})
        response = await opened[0].invoke(request, 3000)
        assert response.ext_fields == {"seen": "T"}
        await client.close()
        await opened[0].wait_closed()
        assert closed == opened
        assert server.connections == frozenset()
    finally:
        await server.stop()


async def test_runs_on_uvloop() -> None:
    import uvloop

    assert isinstance(asyncio.get_running_loop(), uvloop.Loop)


async def test_server_hooks_can_refuse_and_client_hooks_see_every_call() -> None:
    router = Router({ECHO: echo})

    def acl(request: RemotingCommand, connection: Connection) -> RemotingCommand | None:
        if request.ext_fields.get("AccessKey") != "rocketmq2":
            return make_response(request, ResponseCode.NO_PERMISSION, "no AccessKey")
        return None

    router.add_hook(acl)
    seen: list[tuple[str, int, int | None]] = []

    class Signer:
        def before_request(self, address: str, request: RemotingCommand) -> None:
            request.ext_fields["AccessKey"] = "rocketmq2"
            seen.append((address, request.code, None))

        def after_response(self, address: str, request: RemotingCommand, response: RemotingCommand) -> None:
            seen.append((address, request.code, response.code))

    async with RemotingServer("127.0.0.1", 0, router) as server:
        async with RemotingClient() as plain:
            refused = await plain.invoke(server.address, make_request(ECHO), 3000)
            assert refused.code == ResponseCode.NO_PERMISSION
        async with RemotingClient(rpc_hooks=[Signer()]) as signing:
            assert (
                await signing.invoke(server.address, make_request(ECHO), 3000)
            ).code == ResponseCode.SUCCESS
        assert seen == [(server.address, ECHO, None), (server.address, ECHO, ResponseCode.SUCCESS)]


async def test_large_bodies_round_trip(server: RemotingServer, client: RemotingClient) -> None:
    bodies = [bytes([i]) * (300_000 + i) for i in range(4)]
    responses = await asyncio.gather(
        *(client.invoke(server.address, make_request(ECHO, body=b), 5000) for b in bodies)
    )
    assert [r.body for r in responses] == bodies


async def test_handlers_returning_junk_answer_system_error(client: RemotingClient) -> None:
    def sync_junk(request: RemotingCommand, connection: Connection) -> RemotingCommand:
        return {"not": "a command"}  # type: ignore[return-value]

    async def async_junk(request: RemotingCommand, connection: Connection) -> RemotingCommand:
        return 42  # type: ignore[return-value]

    async with RemotingServer("127.0.0.1", 0, Router({1: sync_junk, 2: async_junk, ECHO: echo})) as server:
        for code in (1, 2):
            response = await client.invoke(server.address, make_request(code), 3000)
            assert response.code == ResponseCode.SYSTEM_ERROR
            assert response.remark is not None and "not a command" in response.remark
        assert (await client.invoke(server.address, make_request(ECHO), 3000)).code == ResponseCode.SUCCESS


async def test_handler_tasks_are_bounded(client: RemotingClient) -> None:
    router = Router({NEVER: never, ECHO: echo})
    async with RemotingServer("127.0.0.1", 0, router) as server:
        connection = await client.connection(server.address)
        (server_side,) = server.connections
        server_side._handler_tasks_max = 3
        held = [asyncio.ensure_future(connection.invoke(make_request(NEVER), 5000)) for _ in range(3)]
        await asyncio.sleep(0.05)
        busy = await connection.invoke(make_request(NEVER), 3000)
        assert busy.code == ResponseCode.SYSTEM_BUSY
        assert (await connection.invoke(make_request(ECHO), 3000)).code == ResponseCode.SUCCESS
        for call in held:
            call.cancel()


async def test_concurrent_first_calls_share_one_connection(
    server: RemotingServer, client: RemotingClient
) -> None:
    responses = await asyncio.gather(
        *(client.invoke(server.address, make_request(ECHO), 3000) for _ in range(20))
    )
    assert all(response.code == ResponseCode.SUCCESS for response in responses)
    assert len(server.connections) == 1
    assert client.addresses == [server.address]
    await client.close()
    with pytest.raises(ConnectionClosedError, match="client is closed"):
        await client.invoke(server.address, make_request(ECHO), 3000)
