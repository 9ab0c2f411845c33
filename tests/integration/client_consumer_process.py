"""A push consumer in its own process (for SIGKILL tests), on the blocking facade.

    python -m tests.integration.client_consumer_process NAMESRV GROUP TOPIC INSTANCE REBALANCE_MS

Prints `HELD <n>` whenever the number of held queues of TOPIC changes.
"""

from __future__ import annotations

import sys
import time

from pocketmq.client.blocking import BlockingPushConsumer
from pocketmq.client.consumer.push_consumer import ConsumeConcurrentlyContext, ConsumeConcurrentlyStatus
from pocketmq.client.instance import ClientConfig
from pocketmq.common.message import MessageExt


def main() -> None:
    namesrv, group, topic, instance, rebalance_ms = sys.argv[1:6]

    def listener(
        messages: list[MessageExt], context: ConsumeConcurrentlyContext
    ) -> ConsumeConcurrentlyStatus:
        return ConsumeConcurrentlyStatus.CONSUME_SUCCESS

    consumer = BlockingPushConsumer(
        group,
        client_config=ClientConfig(
            namesrv_addr=namesrv, instance_name=instance, rebalance_interval_ms=int(rebalance_ms)
        ),
        listener=listener,
    )
    consumer.subscribe(topic)
    consumer.start()
    held = -1
    while True:
        now = len({q for q in consumer.held_queues() if q.topic == topic})
        if now != held:
            held = now
            print(f"HELD {held}", flush=True)
        time.sleep(0.05)


if __name__ == "__main__":
    main()
