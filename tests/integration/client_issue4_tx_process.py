"""A transactional producer that dies (SIGKILL, by itself) while its local transaction runs, after the
half message was stored: the broker must ask another producer of the group.

    python -m tests.integration.client_issue4_tx_process NAMESRV GROUP TOPIC BODY

Prints `HALF <msg_id>` just before it kills itself.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys

from pocketmq.client.instance import ClientConfig
from pocketmq.client.producer.transaction_producer import LocalTransactionState, TransactionProducer
from pocketmq.common.message import Message, MessageExt


class DieInTheMiddle:
    def execute_local_transaction(self, message: Message, arg: object) -> LocalTransactionState:
        print(f"HALF {message.transaction_id}", flush=True)
        os.kill(os.getpid(), signal.SIGKILL)
        raise AssertionError("unreachable")

    def check_local_transaction(self, message: MessageExt) -> LocalTransactionState:
        return LocalTransactionState.UNKNOW


async def main() -> None:
    namesrv, group, topic, body = sys.argv[1:5]
    producer = TransactionProducer(
        group,
        listener=DieInTheMiddle(),
        client_config=ClientConfig(namesrv_addr=namesrv, instance_name=f"dying-{os.getpid()}"),
    )
    await producer.start()
    await producer.send_message_in_transaction(Message(topic, body.encode(), keys=[body]))


if __name__ == "__main__":
    asyncio.run(main())
