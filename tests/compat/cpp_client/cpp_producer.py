"""Sends messages with the official client.
Usage: cpp_producer.py NAMESRV TOPIC COUNT [--mode sync|oneway|orderly] [--tags T]
[--delay-level N] [--group G] [--body-size N]. Prints one JSON object per sent message."""

import argparse
import json
import sys

from rocketmq.client import Message, Producer

parser = argparse.ArgumentParser()
parser.add_argument("namesrv")
parser.add_argument("topic")
parser.add_argument("count", type=int)
parser.add_argument("--mode", default="sync", choices=["sync", "oneway", "orderly"])
parser.add_argument("--tags", default="TagA")
parser.add_argument("--delay-level", type=int, default=0)
parser.add_argument("--group", default="cpp_producer_group")
parser.add_argument("--body-size", type=int, default=0)
parser.add_argument("--prefix", default="cpp")
args = parser.parse_args()

producer = Producer(args.group, orderly=args.mode == "orderly")
producer.set_name_server_address(args.namesrv)
producer.start()
try:
    for i in range(args.count):
        message = Message(args.topic)
        message.set_tags(args.tags)
        message.set_keys(f"key-{i} shared-{i % 3}")
        message.set_property("seq", str(i))
        body = f"{args.prefix}-{i}".encode()
        if args.body_size:
            body = (body * (args.body_size // len(body) + 1))[: args.body_size]
        message.set_body(body)
        if args.delay_level:
            message.set_delay_time_level(args.delay_level)
        if args.mode == "sync":
            result = producer.send_sync(message)
            print(
                json.dumps(
                    {"seq": i, "status": int(result.status), "msg_id": result.msg_id, "offset": result.offset}
                ),
                flush=True,
            )
        elif args.mode == "orderly":
            result = producer.send_orderly_with_sharding_key(message, f"order-{i % 4}")
            print(
                json.dumps(
                    {
                        "seq": i,
                        "status": int(result.status),
                        "msg_id": result.msg_id,
                        "offset": result.offset,
                        "sharding_key": f"order-{i % 4}",
                    }
                ),
                flush=True,
            )
        else:
            producer.send_oneway(message)
            print(json.dumps({"seq": i, "status": 0}), flush=True)
finally:
    producer.shutdown()
sys.exit(0)
