"""offsets.json: the broadcasting consumer's local offset file (Java OffsetSerializeWrapper written
by fastjson with PrettyFormat), encoded and decoded byte-compatibly with the Java client.

fastjson writes a map keyed by objects with each key inlined as a JSON object, which is not valid
JSON, and indents with tabs:

    {
    \t"offsetTable":{{
    \t\t\t"brokerName":"broker-a",
    \t\t\t"queueId":3,
    \t\t\t"topic":"TopicTest"
    \t\t}:1470
    \t}
    }

Decoding goes through `protocol.fastjson` (lenient: inline-object keys, unquoted number keys,
trailing commas); a table keyed by strings is skipped; text that does not parse raises `ValueError`
naming the position.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from pocketmq.common.errors import ProtocolError
from pocketmq.common.message import MessageQueue
from pocketmq.protocol import fastjson

__all__ = ["encode_offset_table", "decode_offset_table"]


def encode_offset_table(table: Mapping[MessageQueue, int]) -> str:
    """The file text Java's LocalFileOffsetStore writes (`OffsetSerializeWrapper.toJson(true)`)."""
    if not table:
        return '{\n\t"offsetTable":{}\n}'
    entries = []
    for queue, offset in table.items():
        entries.append(
            "{\n"
            f'\t\t\t"brokerName":{_string(queue.broker_name)},\n'
            f'\t\t\t"queueId":{queue.queue_id},\n'
            f'\t\t\t"topic":{_string(queue.topic)}\n'
            f"\t\t}}:{offset}"
        )
    return '{\n\t"offsetTable":{' + ",".join(entries) + "\n\t}\n}"


def _string(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


def decode_offset_table(text: str) -> dict[MessageQueue, int]:
    """The offset table of an offsets.json text; `ValueError` when it does not parse."""
    try:
        root = fastjson.loads(text)
    except ProtocolError as error:
        raise ValueError(f"offsets.json: {error}") from None
    if not isinstance(root, dict):
        raise ValueError("offsets.json: the top level is not an object")
    offsets = root.get("offsetTable")
    table: dict[MessageQueue, int] = {}
    if not isinstance(offsets, dict):
        return table
    for key, offset in offsets.items():
        if not isinstance(key, fastjson.ObjectKey) or isinstance(offset, bool) or not isinstance(offset, int):
            continue  # a table keyed by strings is not the Java layout: skip it
        fields = key.as_dict()
        topic, broker_name, queue_id = fields.get("topic"), fields.get("brokerName"), fields.get("queueId")
        if isinstance(topic, str) and isinstance(broker_name, str) and type(queue_id) is int:
            table[MessageQueue(topic, broker_name, queue_id)] = offset
    return table
