"""Acceptance audit, issue 2 (message store):

- fsync runs off the event loop: with a slow fsync, SYNC_FLUSH puts still wait for it while the loop
  keeps running other work;
- a corrupt record in the middle of the CommitLog of a real `mqbroker`: the broker restarts (no crash
  loop), serves every other message, and `pocketmq store verify` names the file and the offset;
- a pull of an existing but empty queue answers the store status 4.9.8 answers (NO_MESSAGE_IN_QUEUE)."""

from __future__ import annotations

import asyncio
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from pocketmq.protocol.codes import ResponseCode
from pocketmq.remoting import RemotingClient
from pocketmq.store.config import FlushDiskType
from pocketmq.store.message_store import MessageStore
from pocketmq.store.results import PutMessageStatus
from pocketmq.store.services import flush as flush_module
from tests.integration.test_broker_helpers import create_topic, decode, pull, send
from tests.store.conftest import make_message, tiny_config
from tests.support.cluster import running_cluster
from tests.support.processes import BIN

pytestmark = pytest.mark.timeout(60)


async def test_fsync_runs_off_the_event_loop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real_flush = flush_module.flush_commit_log_files
    fsyncs: list[float] = []

    def slow_flush(*args: Any, **kwargs: Any) -> Any:
        time.sleep(0.3)  # a slow disk: blocks whatever thread runs it
        fsyncs.append(time.monotonic())
        return real_flush(*args, **kwargs)

    monkeypatch.setattr(flush_module, "flush_commit_log_files", slow_flush)
    store = MessageStore(tiny_config(tmp_path, flush_disk_type=FlushDiskType.SYNC_FLUSH))
    store.open()
    await store.start()
    try:
        loop = asyncio.get_running_loop()
        worst_lag = 0.0
        stop = asyncio.Event()

        async def ticker() -> None:
            nonlocal worst_lag
            while not stop.is_set():
                before = loop.time()
                await asyncio.sleep(0.01)
                worst_lag = max(worst_lag, loop.time() - before - 0.01)

        ticking = asyncio.ensure_future(ticker())
        started = time.monotonic()
        results = await asyncio.gather(*(store.put_message(make_message(queue_id=i % 2)) for i in range(8)))
        waited = time.monotonic() - started
        stop.set()
        await ticking
        assert all(r.status is PutMessageStatus.PUT_OK for r in results), results
        assert fsyncs, "SYNC_FLUSH puts were answered without an fsync"
        assert waited >= 0.29, f"SYNC_FLUSH puts answered after {waited:.3f} s, before their fsync finished"
        assert worst_lag < 0.15, f"the event loop stalled {worst_lag:.3f} s during an fsync"
    finally:
        await store.shutdown()


async def test_a_broker_with_a_corrupt_record_mid_log_restarts_and_serves_the_rest(tmp_path: Path) -> None:
    with running_cluster(tmp_path) as cluster:
        async with RemotingClient() as client:
            await create_topic(client, cluster.broker_address, "AuditCorrupt", queues=1)
            offsets = []
            for index in range(10):
                answer = await send(
                    client, cluster.broker_address, "AuditCorrupt", f"body-{index:02d}".encode()
                )
                assert answer.code == ResponseCode.SUCCESS, answer
                offsets.append(int(answer.ext_fields["msgId"][-16:], 16))
        assert cluster.broker is not None
        assert cluster.broker.stop() == 0
        segment = cluster.store_dir / "commitlog" / f"{0:020d}"
        victim = offsets[4]
        data = bytearray(segment.read_bytes()[victim : victim + 400])
        body_at = data.index(b"body-04")
        with segment.open("r+b") as handle:
            handle.seek(victim + body_at)
            handle.write(b"BODY-04")  # same length: only the body CRC can tell
        (cluster.store_dir / "abort").touch()  # as after a crash: the tail is checked

        verify = subprocess.run(
            [str(BIN / "pocketmq"), "store", "verify", str(cluster.store_dir)],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert verify.returncode == 1, verify.stdout + verify.stderr
        [first_line] = [line for line in verify.stderr.splitlines() if line.startswith("INCONSISTENT")]
        assert str(segment) in first_line and str(victim) in first_line, first_line

        cluster.start_broker()  # must come up, not crash-loop
        async with RemotingClient() as client:
            answer = await pull(client, cluster.broker_address, "AuditCorrupt", 0, 0)
            assert answer.code == ResponseCode.SUCCESS, answer
            bodies = [m.body for m in decode(answer)]
            assert (await send(client, cluster.broker_address, "AuditCorrupt", b"after")).code == 0
        assert b"BODY-04" not in bodies
        assert [b for b in bodies if b != b"body-04"] == [
            f"body-{i:02d}".encode() for i in range(10) if i != 4
        ]
        assert "body CRC" in cluster.broker.log() or "corrupt" in cluster.broker.log()


async def test_a_pull_of_an_empty_queue_answers_no_message_in_queue(tmp_path: Path) -> None:
    with running_cluster(tmp_path) as cluster:
        async with RemotingClient() as client:
            await create_topic(client, cluster.broker_address, "AuditEmpty", queues=2)
            answer = await pull(client, cluster.broker_address, "AuditEmpty", 1, 0)
    assert answer.code == ResponseCode.PULL_NOT_FOUND
    assert answer.remark == "NO_MESSAGE_IN_QUEUE"
