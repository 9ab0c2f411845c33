"""Headers of PULL_MESSAGE (11): the request and the response.

Java: PullMessageRequestHeader, PullMessageResponseHeader. The request's sysFlag bits are
pocketmq.common.sysflag.PullSysFlag (COMMIT_OFFSET 0x1, SUSPEND 0x2, SUBSCRIPTION 0x4, CLASS_FILTER 0x8,
LITE_PULL 0x10).
"""

from __future__ import annotations

from pocketmq.protocol.headers.base import WireHeader, java, wire_header

__all__ = ["PullMessageRequestHeader", "PullMessageResponseHeader"]


@wire_header
class PullMessageRequestHeader(WireHeader):
    consumer_group: str = java("consumerGroup")
    topic: str = java("topic")
    queue_id: int = java("queueId")
    #: Index of the first ConsumeQueue unit wanted.
    queue_offset: int = java("queueOffset")
    max_message_count: int = java("maxMsgNums")
    sys_flag: int = java("sysFlag")
    #: The consumer's committed offset for this queue (stored when sysFlag has COMMIT_OFFSET).
    commit_offset: int = java("commitOffset")
    #: How long the broker may hold the pull when there is no message (long polling).
    suspend_timeout_ms: int = java("suspendTimeoutMillis")
    #: The subscription expression ("TagA || TagB", "*", or SQL92), sent when sysFlag has SUBSCRIPTION.
    subscription: str | None = java("subscription", default=None)
    sub_version: int = java("subVersion")
    #: "TAG" or "SQL92"; None means TAG.
    expression_type: str | None = java("expressionType", default=None)
    broker_name: str | None = java("bname", default=None)


@wire_header
class PullMessageResponseHeader(WireHeader):
    #: 0 = master; the broker may redirect the next pull to a slave.
    suggest_which_broker_id: int = java("suggestWhichBrokerId")
    next_begin_offset: int = java("nextBeginOffset")
    min_offset: int = java("minOffset")
    max_offset: int = java("maxOffset")
