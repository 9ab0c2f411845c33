"""Consumes with the official push consumer until COUNT messages arrived or TIMEOUT seconds passed.
Usage: cpp_push_consumer.py NAMESRV GROUP TOPIC COUNT TIMEOUT [--expression E] [--broadcasting]
[--orderly] [--fail-first N]. Prints one JSON object per delivery, then {"done": ...}."""

import argparse
import json
import os
import threading
import time

from rocketmq.client import ConsumeStatus, PushConsumer
from rocketmq.ffi import MessageModel

parser = argparse.ArgumentParser()
parser.add_argument("namesrv")
parser.add_argument("group")
parser.add_argument("topic")
parser.add_argument("count", type=int)
parser.add_argument("timeout", type=float)
parser.add_argument("--expression", default="*")
parser.add_argument("--broadcasting", action="store_true")
parser.add_argument("--orderly", action="store_true")
parser.add_argument("--fail-first", type=int, default=0, help="RECONSUME_LATER for this many deliveries")
args = parser.parse_args()

lock = threading.Lock()
seen: dict[str, int] = {}
failures_left = [args.fail_first]
done = threading.Event()


def on_message(message):  # type: ignore[no-untyped-def]
    with lock:
        record = {
            "id": message.id,
            "topic": message.topic,
            "tags": message.tags.decode() if isinstance(message.tags, bytes) else message.tags,
            "keys": message.keys.decode() if isinstance(message.keys, bytes) else message.keys,
            "body": message.body.decode(errors="replace"),
            "queue_id": message.queue_id,
            "queue_offset": message.queue_offset,
            "reconsume_times": message.reconsume_times,
            "seq": (message.get_property("seq") or b"").decode(),
            "thread": threading.get_ident(),
            "t_ms": int(time.time() * 1000),
        }
        if failures_left[0] > 0:
            failures_left[0] -= 1
            record["answer"] = "RECONSUME_LATER"
            print(json.dumps(record), flush=True)
            return ConsumeStatus.RECONSUME_LATER
        record["answer"] = "CONSUME_SUCCESS"
        print(json.dumps(record), flush=True)
        seen[record["body"]] = seen.get(record["body"], 0) + 1
        if len(seen) >= args.count:
            done.set()
        return ConsumeStatus.CONSUME_SUCCESS


model = MessageModel.BROADCASTING if args.broadcasting else MessageModel.CLUSTERING
consumer = PushConsumer(args.group, orderly=args.orderly, message_model=model)
consumer.set_name_server_address(args.namesrv)
consumer.subscribe(args.topic, on_message, args.expression)
consumer.start()
done.wait(args.timeout)
print(json.dumps({"done": len(seen) >= args.count, "distinct": len(seen)}), flush=True)
time.sleep(1)  # let in-flight callbacks return before the C++ core tears down
if os.environ.get("CPP_TRY_SHUTDOWN"):
    consumer.shutdown()
else:
    # librocketmq 2.1.0's ShutdownPushConsumer dereferences the message-trace producer, which the
    # 2.0.0 wrapper never creates (SIGSEGV in shutdownMessageTraceInnerProducer, client-side and
    # independent of the broker). Leave without it: the broker sees the connection close.
    os._exit(0)
