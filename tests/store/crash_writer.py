"""Writer process for the crash tests: puts messages as fast as it can and reports each
acknowledged put on stdout ("seq commit_log_offset end_offset queue_id queue_offset") AFTER the
store acknowledged it.

Usage: crash_writer.py STORE_DIR SYNC_FLUSH|ASYNC_FLUSH CONCURRENCY FIRST_SEQ [PAUSE_MS]
(PAUSE_MS: sleep that long every 50 puts, to keep the store small)"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from pocketmq.common.message import MessageExt
from pocketmq.store.config import FlushDiskType, StoreConfig
from pocketmq.store.message_store import MessageStore


def crash_config(root: Path, flush: str) -> StoreConfig:
    return StoreConfig(
        store_root_dir=root,
        commit_log_file_bytes=64 * 1024,
        consume_queue_file_bytes=20 * 1000,
        index_hash_slot_count=64,
        index_entry_count=256,
        flush_disk_type=FlushDiskType(flush),
        flush_interval_ms=10,
        flush_consume_queue_interval_ms=20,
    )


def body_of(seq: int) -> bytes:
    return (f"message-{seq:08d}-".encode() * (1 + seq % 7))[: 40 + seq % 300]


async def main() -> None:
    root, flush, concurrency = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    store = MessageStore(crash_config(root, flush))
    store.open()
    await store.start()
    out = sys.stdout
    counter = iter(range(int(sys.argv[4]), 10**9))
    pause_s = int(sys.argv[5]) / 1000 if len(sys.argv) > 5 else 0.0

    async def worker() -> None:
        while True:
            seq = next(counter)
            message = MessageExt(
                topic="Crash",
                body=body_of(seq),
                queue_id=seq % 3,
                properties={"KEYS": f"seq-{seq}", "UNIQ_KEY": f"U{seq:08d}"},
            )
            result = await store.put_message(message)
            if result.ok:
                out.write(
                    f"{seq} {result.commit_log_offset} {result.end_offset} {seq % 3} {result.queue_offset}\n"
                )
                out.flush()
            if pause_s and seq % 50 == 0:
                await asyncio.sleep(pause_s)

    print("ready", flush=True)
    await asyncio.gather(*(worker() for _ in range(concurrency)))


if __name__ == "__main__":
    asyncio.run(main())
