"""CONSUMER_SEND_MSG_BACK (36): a consumer hands back a message it failed to consume.

Java: SendMessageProcessor#asyncConsumerSendMsgBack (4.9.8). The broker looks the message up by its
commit-log offset and re-puts a copy:
- to `%RETRY%<group>` (created on demand with the subscription group's retryQueueNums queues, read
  and write), delayed by level 3 + reconsume times unless the client names a level: the store parks
  it in SCHEDULE_TOPIC_XXXX and the schedule service delivers it to the retry topic, which the
  group's consumers subscribe to automatically;
- to `%DLQ%<group>` (one queue; created read-write, as 4.9.8 does) once the message was reconsumed
  maxReconsumeTimes times (the subscription group's retryMaxTimes, 16, or the request's
  maxReconsumeTimes), or when the client asks for it with a negative delay level.
The copy keeps body, flag, sys flag, born time and host; reconsume times + 1; RETRY_TOPIC = the
original topic (kept from the first send-back), ORIGIN_MESSAGE_ID = the original offset msgId (kept
likewise), WAIT=false, DELAY = the level (0 for the DLQ), as the golden record retryMeB shows.
"""

from __future__ import annotations

import logging
import random

from pocketmq.broker.handlers.context import FAQ_URL, BrokerContext
from pocketmq.broker.schedule import park_delayed
from pocketmq.broker.transaction.records import java_hashmap_order
from pocketmq.common.message import MessageConst, MessageExt, properties_to_string
from pocketmq.common.topic import PERM_READ, PERM_WRITE, dlq_topic, is_writeable, retry_topic
from pocketmq.protocol.codes import RequestCode, ResponseCode
from pocketmq.protocol.command import RemotingCommand, make_response
from pocketmq.protocol.headers.send import ConsumerSendMsgBackRequestHeader
from pocketmq.remoting import Connection, Handler
from pocketmq.store.results import PutMessageStatus

__all__ = ["SendBackHandlers", "RETRY_DELAY_LEVEL_BASE", "send_back_message"]

log = logging.getLogger(__name__)

#: Java: delayLevel = 3 + reconsumeTimes when the client leaves the level to the broker.
RETRY_DELAY_LEVEL_BASE = 3
#: Java MixAll/SendMessageProcessor DLQ_NUMS_PER_GROUP.
DLQ_QUEUE_NUMS = 1
#: Java TopicSysFlag.buildSysFlag(false, true): the unit-sub flag of a unit-mode retry topic.
_UNIT_SUB_FLAG = 0x2


def send_back_message(original: MessageExt, topic: str, queue_id: int, delay_level: int) -> MessageExt:
    """The copy re-put for a sent-back message (pure)."""
    properties = dict(original.properties)
    properties.setdefault(MessageConst.RETRY_TOPIC, original.topic)
    properties[MessageConst.WAIT_STORE_MSG_OK] = "false"
    properties[MessageConst.DELAY_TIME_LEVEL] = str(delay_level)
    properties.setdefault(MessageConst.ORIGIN_MESSAGE_ID, original.msg_id)
    if not properties[MessageConst.ORIGIN_MESSAGE_ID]:
        properties[MessageConst.ORIGIN_MESSAGE_ID] = original.msg_id
    properties = java_hashmap_order(properties)
    return MessageExt(
        topic=topic,
        body=original.body,
        flag=original.flag,
        properties=properties,
        queue_id=queue_id,
        sys_flag=original.sys_flag,
        born_timestamp=original.born_timestamp,
        born_host=original.born_host,
        reconsume_times=original.reconsume_times + 1,
    )


class SendBackHandlers:
    def __init__(self, context: BrokerContext, *, rng: random.Random | None = None) -> None:
        self._context = context
        self._random = rng or random.Random()

    def routes(self) -> dict[int, Handler]:
        return {RequestCode.CONSUMER_SEND_MSG_BACK: self.consumer_send_msg_back}

    def consumer_send_msg_back(self, request: RemotingCommand, connection: Connection) -> RemotingCommand:
        context = self._context
        header = ConsumerSendMsgBackRequestHeader.from_ext_fields(request.ext_fields)
        now = context.clock.now_ms()
        group = header.group
        group_config = context.groups.find_subscription_group_config(group, now_ms=now)
        if group_config is None:
            return make_response(
                request,
                ResponseCode.SUBSCRIPTION_GROUP_NOT_EXIST,
                f"subscription group not exist, {group} {FAQ_URL}",
            )
        if not is_writeable(context.config.broker_permission):
            return make_response(
                request,
                ResponseCode.NO_PERMISSION,
                f"the broker[{context.broker_host}] sending message is forbidden",
            )
        if group_config.retry_queue_nums <= 0:
            return make_response(request, ResponseCode.SUCCESS)
        topics_created = False
        topic = retry_topic(group)
        queue_id = self._random.randrange(group_config.retry_queue_nums)
        created = context.topics.create_topic_in_send_message_back_method(
            topic,
            group_config.retry_queue_nums,
            PERM_READ | PERM_WRITE,
            _UNIT_SUB_FLAG if header.unit_mode else 0,
            now_ms=now,
        )
        topics_created |= created.created
        try:
            if created.topic_config is None:
                return make_response(request, ResponseCode.SYSTEM_ERROR, f"topic[{topic}] not exist")
            if not is_writeable(created.topic_config.perm):
                return make_response(
                    request, ResponseCode.NO_PERMISSION, f"the topic[{topic}] sending message is forbidden"
                )
            original = context.store.look_message_by_offset(header.commit_log_offset)
            if original is None:
                return make_response(
                    request,
                    ResponseCode.SYSTEM_ERROR,
                    f"look message by offset failed, {header.commit_log_offset}",
                )
            max_reconsume = group_config.retry_max_times
            if header.max_reconsume_times is not None:
                max_reconsume = header.max_reconsume_times
            delay_level = header.delay_level
            if original.reconsume_times >= max_reconsume or delay_level < 0:
                topic = dlq_topic(group)
                queue_id = self._random.randrange(DLQ_QUEUE_NUMS)
                created = context.topics.create_topic_in_send_message_back_method(
                    topic, DLQ_QUEUE_NUMS, PERM_READ | PERM_WRITE, 0, now_ms=now
                )
                topics_created |= created.created
                if created.topic_config is None:
                    return make_response(request, ResponseCode.SYSTEM_ERROR, f"topic[{topic}] not exist")
                delay_level = 0
                log.info(
                    "message %s of group %s reconsumed %d times: to %s",
                    original.msg_id,
                    group,
                    original.reconsume_times,
                    topic,
                )
            elif delay_level == 0:
                delay_level = RETRY_DELAY_LEVEL_BASE + original.reconsume_times
            message = send_back_message(original, topic, queue_id, delay_level)
            message, properties_string = park_delayed(
                message, properties_to_string(message.properties), None, context.store
            )
            result = context.store.append_message(message, properties_string=properties_string)
            if result.status is not PutMessageStatus.PUT_OK:
                return make_response(request, ResponseCode.SYSTEM_ERROR, result.status.name)
            context.stats.put_message_count += 1
            context.stats.put_message_bytes += result.wrote_bytes
            return make_response(request, ResponseCode.SUCCESS)
        finally:
            if topics_created:
                context.persist_soon()
                context.register_now(True)
