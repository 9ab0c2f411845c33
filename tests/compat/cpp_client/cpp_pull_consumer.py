"""Pulls every queue of a topic from a given offset with the official client's C pull API (the Python
wrapper 2.0.0 exposes no pull consumer, so this calls librocketmq.so through ctypes).
Usage: cpp_pull_consumer.py NAMESRV GROUP TOPIC [--offset N] [--expression E]. Prints one JSON object
per message and one per pull result status."""

import argparse
import ctypes
import json
from ctypes import POINTER, Structure, c_char, c_char_p, c_int, c_longlong, c_void_p

from rocketmq.ffi import dll

parser = argparse.ArgumentParser()
parser.add_argument("namesrv")
parser.add_argument("group")
parser.add_argument("topic")
parser.add_argument("--offset", type=int, default=0)
parser.add_argument("--expression", default="*")
args = parser.parse_args()


class CMessageQueue(Structure):
    _fields_ = [("topic", c_char * 512), ("brokerName", c_char * 256), ("queueId", c_int)]


class CPullResult(Structure):
    _fields_ = [
        ("pullStatus", c_int),
        ("nextBeginOffset", c_longlong),
        ("minOffset", c_longlong),
        ("maxOffset", c_longlong),
        ("msgFoundList", POINTER(c_void_p)),
        ("size", c_int),
        ("pData", c_void_p),
    ]


STATUS = ["FOUND", "NO_NEW_MSG", "NO_MATCHED_MSG", "OFFSET_ILLEGAL", "BROKER_TIMEOUT"]

dll.CreatePullConsumer.argtypes = [c_char_p]
dll.CreatePullConsumer.restype = c_void_p
dll.SetPullConsumerNameServerAddress.argtypes = [c_void_p, c_char_p]
dll.StartPullConsumer.argtypes = [c_void_p]
dll.ShutdownPullConsumer.argtypes = [c_void_p]
dll.FetchSubscriptionMessageQueues.argtypes = [
    c_void_p,
    c_char_p,
    POINTER(POINTER(CMessageQueue)),
    POINTER(c_int),
]
dll.ReleaseSubscriptionMessageQueue.argtypes = [POINTER(CMessageQueue)]
dll.Pull.argtypes = [c_void_p, POINTER(CMessageQueue), c_char_p, c_longlong, c_int]
dll.Pull.restype = CPullResult
dll.ReleasePullResult.argtypes = [CPullResult]
dll.GetMessageBody.argtypes = [c_void_p]
dll.GetMessageBody.restype = c_char_p
dll.GetMessageId.argtypes = [c_void_p]
dll.GetMessageId.restype = c_char_p
dll.GetMessageTags.argtypes = [c_void_p]
dll.GetMessageTags.restype = c_char_p
dll.GetMessageQueueOffset.argtypes = [c_void_p]
dll.GetMessageQueueOffset.restype = c_longlong
dll.GetMessageQueueId.argtypes = [c_void_p]
dll.GetMessageQueueId.restype = c_int

consumer = dll.CreatePullConsumer(args.group.encode())
dll.SetPullConsumerNameServerAddress(consumer, args.namesrv.encode())
assert dll.StartPullConsumer(consumer) == 0, "StartPullConsumer failed"
queues = POINTER(CMessageQueue)()
size = c_int(0)
fetched = dll.FetchSubscriptionMessageQueues(
    consumer, args.topic.encode(), ctypes.byref(queues), ctypes.byref(size)
)
assert fetched == 0, f"FetchSubscriptionMessageQueues failed with {fetched}"
try:
    for index in range(size.value):
        queue = queues[index]
        offset = args.offset
        while True:
            result = dll.Pull(consumer, ctypes.byref(queue), args.expression.encode(), offset, 32)
            status = STATUS[result.pullStatus]
            print(
                json.dumps(
                    {
                        "queue_id": queue.queueId,
                        "status": status,
                        "offset": offset,
                        "next": result.nextBeginOffset,
                        "min": result.minOffset,
                        "max": result.maxOffset,
                        "count": result.size,
                    }
                ),
                flush=True,
            )
            for i in range(result.size if status == "FOUND" else 0):
                message = result.msgFoundList[i]
                print(
                    json.dumps(
                        {
                            "message": True,
                            "id": dll.GetMessageId(message).decode(),
                            "body": (dll.GetMessageBody(message) or b"").decode(errors="replace"),
                            "tags": (dll.GetMessageTags(message) or b"").decode(),
                            "queue_id": dll.GetMessageQueueId(message),
                            "queue_offset": dll.GetMessageQueueOffset(message),
                        }
                    ),
                    flush=True,
                )
            next_offset = result.nextBeginOffset
            dll.ReleasePullResult(result)
            if status != "FOUND" or next_offset <= offset:
                break
            offset = next_offset
finally:
    dll.ReleaseSubscriptionMessageQueue(queues)
    dll.ShutdownPullConsumer(consumer)
