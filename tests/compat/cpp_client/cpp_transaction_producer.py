"""Sends transactional messages with the official client. Usage: cpp_transaction_producer.py NAMESRV TOPIC
GROUP OUTCOME... where each OUTCOME is commit, rollback or unknown-then-commit / unknown-then-rollback (the
local transaction answers UNKNOW and the broker's check-back gets the final answer). Stays up
--linger seconds to answer checks. Prints one JSON object per send and per check."""

import argparse
import json
import os
import threading
import time

from rocketmq.client import Message, TransactionMQProducer, TransactionStatus

parser = argparse.ArgumentParser()
parser.add_argument("namesrv")
parser.add_argument("topic")
parser.add_argument("group")
parser.add_argument("outcomes", nargs="+")
parser.add_argument("--linger", type=float, default=0)
args = parser.parse_args()

lock = threading.Lock()
final_answers: dict[str, TransactionStatus] = {}
answered: set[str] = set()
all_answered = threading.Event()
LOCAL = {"commit": TransactionStatus.COMMIT, "rollback": TransactionStatus.ROLLBACK}


def check(message):  # type: ignore[no-untyped-def]
    body = message.body.decode()
    answer = final_answers.get(body, TransactionStatus.UNKNOWN)
    with lock:
        print(json.dumps({"check": body, "answer": answer.name}), flush=True)
        if answer is not TransactionStatus.UNKNOWN:
            answered.add(body)
            if answered >= set(final_answers):
                all_answered.set()
    return answer


def local_execute(message, user_args):  # type: ignore[no-untyped-def]
    body = message.body.decode()
    outcome = body.split(":", 1)[1]
    if outcome in LOCAL:
        return LOCAL[outcome]
    final_answers[body] = LOCAL[outcome.split("-then-")[1]]
    return TransactionStatus.UNKNOWN


producer = TransactionMQProducer(args.group, check)
producer.set_name_server_address(args.namesrv)
producer.start()
for i, outcome in enumerate(args.outcomes):
    message = Message(args.topic)
    message.set_tags("TagTx")
    message.set_keys(f"tx-{i}")
    message.set_body(f"tx-{i}:{outcome}".encode())
    result = producer.send_message_in_transaction(message, local_execute)
    with lock:
        print(
            json.dumps({"sent": f"tx-{i}:{outcome}", "status": int(result.status), "msg_id": result.msg_id}),
            flush=True,
        )
if final_answers:
    # Stay up until every open transaction was checked back and answered, at most --linger seconds.
    all_answered.wait(args.linger)
    time.sleep(1)  # let the END_TRANSACTION answers leave
else:
    time.sleep(args.linger)
os._exit(0)
