"""Types of the optional C extension (see _speedups.c and put_path.py)."""

from collections.abc import Callable
from typing import Any

from pocketmq.common.message import MessageExt
from pocketmq.store.results import PutMessageResult

class PutPath:
    open: bool
    def __init__(
        self,
        commit_log: Any,
        consume_queues: Any,
        index: Any,
        dispatcher: Any,
        topic_tails: dict[str, bytes],
        host_cache: dict[str, bytes],
        store_host: tuple[str, int],
        store_ip: bytes,
        max_body_bytes: int,
        max_record_bytes: int,
        schedule_delayed: bool,
        now_ms: Callable[[], int],
        /,
    ) -> None: ...
    def append(self, message: MessageExt, properties_string: str | None, /) -> PutMessageResult | None: ...

def java_string_hash(text: str, /) -> int: ...
def crc32(data: bytes | bytearray | memoryview, /) -> int: ...
