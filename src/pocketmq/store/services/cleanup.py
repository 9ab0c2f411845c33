"""CleanupService: runs the retention policy every cleanResourceInterval (Java
CleanCommitLogService + CleanConsumeQueueService); the decisions are in store/retention.py."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

__all__ = ["CleanupService"]

log = logging.getLogger(__name__)


class CleanupService:
    def __init__(self, run_once: Callable[[], object], interval_ms: int) -> None:
        self._run_once = run_once
        self._interval_s = interval_ms / 1000
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="store-cleanup")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._interval_s)
            try:
                self._run_once()
            except Exception:
                log.exception("store retention run failed")
