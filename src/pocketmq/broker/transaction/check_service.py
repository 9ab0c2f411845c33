"""TransactionCheckService: the driver that runs check rounds and asks producers about open
transactions (Java TransactionalMessageCheckService + AbstractTransactionalMessageCheckListener).

Each round (`TransactionalMessageService.check`) yields CHECK_TRANSACTION_STATE requests; each goes
oneway to one live connection of the message's producer group (as 4.9.8 sends it). A group with no
live producer gets nothing this time; the copy still counts as checked, as in Java, and after
transactionCheckMax rounds the message moves to TRANS_CHECK_MAX_TIME_TOPIC. The producer answers
with END_TRANSACTION (fromTransactionCheck=true). Rounds run when the next open transaction becomes
due, and at least every min(transactionTimeOut, transactionCheckInterval).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Hashable
from typing import Final

from pocketmq.broker.transaction.service import CheckRequest, CheckRound, TransactionalMessageService
from pocketmq.common.clock import Clock
from pocketmq.protocol.codes import RequestCode
from pocketmq.protocol.command import RemotingCommand, make_request
from pocketmq.remoting import Connection

__all__ = ["TransactionCheckService"]

log = logging.getLogger(__name__)

#: Shortest pause between two rounds (ms).
ROUND_INTERVAL_MIN_MS: Final = 200


class TransactionCheckService:
    def __init__(
        self,
        service: TransactionalMessageService,
        find_producer: Callable[[str], Hashable | None],
        clock: Clock,
    ) -> None:
        self._service = service
        self._find_producer = find_producer
        self._clock = clock
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._sending: set[asyncio.Task[None]] = set()
        #: CHECK_TRANSACTION_STATE requests sent (tests, stats).
        self.checks_sent = 0
        self.checks_without_producer = 0

    async def start(self) -> None:
        self._stopping = False
        self._task = asyncio.create_task(self._run(), name="broker-transaction-check")

    async def stop(self) -> None:
        self._stopping = True
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for sending in list(self._sending):
            sending.cancel()

    def run_round(self) -> CheckRound:
        """One check round now (sync); the requests are sent in the background."""
        outcome = self._service.check(self._clock.now_ms())
        for request in outcome.checks:
            self._send(request)
        return outcome

    def _send(self, request: CheckRequest) -> None:
        connection = self._find_producer(request.producer_group)
        if not isinstance(connection, Connection) or connection.closed:
            self.checks_without_producer += 1
            log.info(
                "no live producer of group %s to check transaction %s",
                request.producer_group,
                request.header.transaction_id,
            )
            return
        command = make_request(
            RequestCode.CHECK_TRANSACTION_STATE, request.header.to_ext_fields(), request.body, oneway=True
        )
        self.checks_sent += 1
        task = asyncio.get_running_loop().create_task(
            self._send_on(connection, command), name="broker-check-transaction-state"
        )
        self._sending.add(task)
        task.add_done_callback(self._sent)

    def _sent(self, task: asyncio.Task[None]) -> None:
        self._sending.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.info("sending CHECK_TRANSACTION_STATE failed: %s", task.exception())

    @staticmethod
    async def _send_on(connection: Connection, command: RemotingCommand) -> None:
        await connection.invoke_oneway(command)

    def _pause_ms(self, outcome: CheckRound) -> int:
        settings = self._service.settings
        pause = min(settings.timeout_ms, settings.check_interval_ms)
        if outcome.next_due_ms is not None:
            pause = min(pause, outcome.next_due_ms - self._clock.now_ms())
        return max(pause, ROUND_INTERVAL_MIN_MS)

    async def _run(self) -> None:
        while not self._stopping:
            pause_ms = 1000
            try:
                pause_ms = self._pause_ms(self.run_round())
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("transaction check round failed; retrying")
            await asyncio.sleep(pause_ms / 1000)
