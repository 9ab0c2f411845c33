"""AllocateService: prepares the next CommitLog segment in a worker thread before it is needed
(Java AllocateMappedFileService): an fdatasync into a pre-allocated file costs half as much."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from pocketmq.store.mapped_file_queue import MappedFileQueue

__all__ = ["AllocateService"]

log = logging.getLogger(__name__)


class AllocateService:
    def __init__(self, files: MappedFileQueue) -> None:
        self._files = files
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def request(self) -> None:
        """A segment was taken into use: prepare the one after it (safe to call from sync code)."""
        self._wake.set()

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="store-allocate-segment")
        self._wake.set()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            if self._files.needs_prepare:
                try:
                    await asyncio.to_thread(self._files.prepare_next)
                except OSError:
                    log.exception("could not pre-allocate the next CommitLog segment; the put path will")
