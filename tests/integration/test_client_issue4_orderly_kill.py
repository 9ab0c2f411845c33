"""Orderly consumers in their own processes while messages flow (issue 4 acceptance): a third consumer
joins, then one is SIGKILLed. Per-key order holds throughout, no queue is consumed by two processes at
once, and the killed consumer's queues are taken over once its broker locks expire (60 s)."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import pytest

from pocketmq.client.producer.producer import Producer
from pocketmq.common.clock import SYSTEM_CLOCK
from pocketmq.common.message import Message
from tests.integration.client_issue4_support import client_config, create_topic
from tests.support.cluster import Cluster, running_cluster

pytestmark = [pytest.mark.long, pytest.mark.timeout(300)]

REPO = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Record:
    start_ms: int
    end_ms: int
    queue_id: int
    key: str
    seq: int
    reconsume_times: int
    instance: str


class ConsumerProcess:
    def __init__(self, cluster: Cluster, group: str, topic: str, instance: str, journal: Path) -> None:
        self.instance = instance
        self.journal = journal
        self.held: list[str] = []
        self.process = subprocess.Popen(
            [
                sys.executable, "-m", "tests.integration.client_issue4_orderly_process",
                cluster.namesrv_address, group, topic, instance, str(journal),
            ],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.held.append(line.decode().strip())

    def holds_queues(self) -> bool:
        return bool(self.held) and self.held[-1] != "HELD "

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(10)
        if self.process.stdout is not None:
            self.process.stdout.close()


def read_journals(paths: list[Path]) -> list[Record]:
    records = []
    for path in paths:
        if not path.exists():
            continue
        for line in path.read_text().splitlines():
            parts = line.split()
            if len(parts) == 7:  # a line cut by SIGKILL is ignored
                start, end, queue_id, key, seq, times, instance = parts
                records.append(
                    Record(int(start), int(end), int(queue_id), key, int(seq), int(times), instance)
                )
    return sorted(records, key=lambda r: (r.start_ms, r.end_ms))


async def wait_for(condition: object, timeout_s: float) -> None:
    deadline = SYSTEM_CLOCK.monotonic_ms() + timeout_s * 1000
    while not condition():  # type: ignore[operator]
        assert SYSTEM_CLOCK.monotonic_ms() < deadline, "timed out"
        await asyncio.sleep(0.1)


async def test_order_holds_while_a_consumer_joins_and_one_is_killed(tmp_path: Path) -> None:
    topic, group = "OrderlyKill", "orderly-kill"
    keys, rounds = [f"k{i}" for i in range(16)], 150
    journals = {name: tmp_path / f"{name}.journal" for name in ("c1", "c2", "c3")}
    with running_cluster(tmp_path / "cluster") as cluster:
        await create_topic(cluster, topic, 4)
        processes: dict[str, ConsumerProcess] = {}
        try:
            for name in ("c1", "c2"):
                processes[name] = ConsumerProcess(cluster, group, topic, name, journals[name])
            await wait_for(lambda: all(p.holds_queues() for p in processes.values()), 30)
            killed_at = 0
            async with Producer("orderly-kill-p", client_config=client_config(cluster, "ok-p")) as producer:
                for seq in range(rounds):
                    await asyncio.gather(
                        *(
                            producer.send(Message(topic, f"{key}:{seq}".encode()), sharding_key=key)
                            for key in keys
                        )
                    )
                    if seq == rounds // 3:
                        processes["c3"] = ConsumerProcess(cluster, group, topic, "c3", journals["c3"])
                    if seq == 2 * rounds // 3:
                        processes["c1"].process.kill()
                        killed_at = SYSTEM_CLOCK.now_ms()
                    await asyncio.sleep(0.03)
            expected = {(key, seq) for key in keys for seq in range(rounds)}

            def all_consumed() -> bool:
                return expected <= {(r.key, r.seq) for r in read_journals(list(journals.values()))}

            await wait_for(all_consumed, 150)
            await asyncio.sleep(1)
        finally:
            for process in processes.values():
                process.stop()
    records = read_journals(list(journals.values()))
    by_instance = {name: [r for r in records if r.instance == name] for name in journals}
    assert all(by_instance.values()), {name: len(found) for name, found in by_instance.items()}
    # The killed consumer's queues were consumed by the others after it died.
    killed_queues = {r.queue_id for r in by_instance["c1"] if r.start_ms >= killed_at - 2000}
    takeover_ms = []
    for queue_id in killed_queues:
        after = [
            r.start_ms
            for r in records
            if r.queue_id == queue_id and r.instance != "c1" and r.start_ms > killed_at
        ]
        assert after, f"queue {queue_id} of the killed consumer was never taken over"
        takeover_ms.append(min(after) - killed_at)
    # No queue was consumed by two processes at once.
    last_end: dict[int, dict[str, int]] = defaultdict(dict)
    for record in records:
        for instance, end_ms in last_end[record.queue_id].items():
            assert instance == record.instance or end_ms <= record.start_ms, (record, instance, end_ms)
        last_end[record.queue_id][record.instance] = record.end_ms
    # Per key: never a message before its predecessor (a takeover may deliver some again).
    highest: dict[str, int] = defaultdict(lambda: -1)
    redelivered = 0
    for record in records:
        assert record.seq <= highest[record.key] + 1, (record, highest[record.key])
        redelivered += record.seq <= highest[record.key]
        highest[record.key] = max(highest[record.key], record.seq)
    assert all(highest[key] == rounds - 1 for key in keys)
    print(
        f"consumed {len(records)} records for {len(keys) * rounds} messages ({redelivered} again after "
        f"the takeover); per consumer: {', '.join(f'{n}={len(v)}' for n, v in by_instance.items())}; "
        f"queues {sorted(killed_queues)} of the killed one taken over after {sorted(takeover_ms)} ms"
    )
