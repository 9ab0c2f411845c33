"""An orderly push consumer in its own process (for join and SIGKILL tests).

    python -m tests.integration.client_issue4_orderly_process NAMESRV GROUP TOPIC INSTANCE JOURNAL

Appends one line per consumed message to JOURNAL: `start_ms end_ms queue_id key seq reconsume_times
instance` (wall-clock ms; each line is written after the listener finished that message), and
prints `HELD <queue ids>` whenever the held queues of TOPIC change.
"""

from __future__ import annotations

import asyncio
import os
import sys

from pocketmq.client.consumer.consume_orderly_service import (
    ConsumeOrderlyContext,
    ConsumeOrderlyStatus,
    OrderlyPushConsumer,
)
from pocketmq.client.instance import ClientConfig
from pocketmq.common.clock import SYSTEM_CLOCK
from pocketmq.common.message import MessageExt


async def main() -> None:
    namesrv, group, topic, instance, journal_path = sys.argv[1:6]
    journal = os.open(journal_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)

    async def listener(messages: list[MessageExt], context: ConsumeOrderlyContext) -> ConsumeOrderlyStatus:
        for message in messages:
            start = SYSTEM_CLOCK.now_ms()
            await asyncio.sleep(0.003)
            key, seq = message.body.decode().split(":")
            line = (
                f"{start} {SYSTEM_CLOCK.now_ms()} {context.message_queue.queue_id} {key} {seq} "
                f"{message.reconsume_times} {instance}\n"
            )
            os.write(journal, line.encode())
        return ConsumeOrderlyStatus.SUCCESS

    consumer = OrderlyPushConsumer(
        group,
        client_config=ClientConfig(namesrv_addr=namesrv, instance_name=instance, rebalance_interval_ms=1000),
        listener=listener,
    )
    consumer.subscribe(topic)
    await consumer.start()
    held: list[int] | None = None
    while True:
        now = sorted(q.queue_id for q in consumer.held_queues() if q.topic == topic)
        if now != held:
            held = now
            print("HELD " + ",".join(map(str, held)), flush=True)
        await asyncio.sleep(0.05)


if __name__ == "__main__":
    asyncio.run(main())
