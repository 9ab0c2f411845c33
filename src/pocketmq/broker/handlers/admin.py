"""Admin handlers: topics, subscription groups, statistics, connections and the broker config.

Java: AdminBrokerProcessor (4.9.8): UPDATE_AND_CREATE_TOPIC, DELETE_TOPIC_IN_BROKER,
GET_ALL_TOPIC_CONFIG, UPDATE_AND_CREATE_SUBSCRIPTIONGROUP, GET_ALL_SUBSCRIPTIONGROUP_CONFIG,
DELETE_SUBSCRIPTIONGROUP, GET_BROKER_RUNTIME_INFO, GET_TOPIC_STATS_INFO, GET_CONSUME_STATS,
GET_CONSUMER_CONNECTION_LIST, GET_PRODUCER_CONNECTION_LIST, GET_BROKER_CONFIG, GET_ALL_CONSUMER_OFFSET.
Changes to topics persist topics.json soon and register with the name servers at once.
"""

from __future__ import annotations

import shutil
from typing import Final

from pocketmq.broker.handlers.context import BrokerContext
from pocketmq.broker.subscription_groups import SubscriptionGroupConfig
from pocketmq.common.errors import ConfigError
from pocketmq.common.message import MessageQueue
from pocketmq.common.properties import parse_java_properties
from pocketmq.common.topic import (
    PERM_INHERIT,
    PERM_PRIORITY,
    PERM_READ,
    PERM_WRITE,
    TopicConfig,
    TopicFilterType,
    validate_topic,
)
from pocketmq.protocol import fastjson
from pocketmq.protocol.bodies.admin import GroupList, TopicOffset, TopicStatsTable
from pocketmq.protocol.bodies.base import BodyError
from pocketmq.protocol.bodies.consumer import (
    ConsumerConnection,
    ConsumeStats,
    OffsetWrapper,
    ProducerConnection,
)
from pocketmq.protocol.codes import RequestCode, ResponseCode
from pocketmq.protocol.command import RemotingCommand, make_response
from pocketmq.protocol.headers.admin import (
    CreateTopicRequestHeader,
    DeleteSubscriptionGroupRequestHeader,
    DeleteTopicRequestHeader,
    GetProducerConnectionListRequestHeader,
    GetTopicStatsInfoRequestHeader,
)
from pocketmq.protocol.headers.consumer import (
    GetConsumerConnectionListRequestHeader,
    GetConsumeStatsRequestHeader,
    QueryTopicConsumeByWhoRequestHeader,
)
from pocketmq.remoting import Connection, Handler

__all__ = ["AdminHandlers", "QUEUE_NUMS_MAX"]

#: Most queues one topic may have (Java has no bound; each queue is a directory of files).
QUEUE_NUMS_MAX: Final = 1024
#: What 4.9.8 leaves in the remark of some successful admin answers (createResponseCommand(null)).
_NOT_SET_REMARK: Final = "not set any response code"
_BROKER_VERSION: Final = 409
_BROKER_VERSION_DESC: Final = "V4_9_8"


def _runtime_text(elapsed_ms: int) -> str:
    seconds = max(elapsed_ms, 0) // 1000
    days, seconds = divmod(seconds, 86_400)
    hours, seconds = divmod(seconds, 3600)
    minutes, seconds = divmod(seconds, 60)
    return f"[ {days} days, {hours} hours, {minutes} minutes, {seconds} seconds ]"


class AdminHandlers:
    def __init__(self, context: BrokerContext) -> None:
        self._context = context

    def routes(self) -> dict[int, Handler]:
        return {
            RequestCode.UPDATE_AND_CREATE_TOPIC: self.update_and_create_topic,
            RequestCode.DELETE_TOPIC_IN_BROKER: self.delete_topic_in_broker,
            RequestCode.GET_ALL_TOPIC_CONFIG: self.get_all_topic_config,
            RequestCode.UPDATE_AND_CREATE_SUBSCRIPTIONGROUP: self.update_and_create_subscription_group,
            RequestCode.GET_ALL_SUBSCRIPTIONGROUP_CONFIG: self.get_all_subscription_group_config,
            RequestCode.DELETE_SUBSCRIPTIONGROUP: self.delete_subscription_group,
            RequestCode.GET_BROKER_RUNTIME_INFO: self.get_broker_runtime_info,
            RequestCode.GET_TOPIC_STATS_INFO: self.get_topic_stats_info,
            RequestCode.GET_CONSUME_STATS: self.get_consume_stats,
            RequestCode.GET_CONSUMER_CONNECTION_LIST: self.get_consumer_connection_list,
            RequestCode.GET_PRODUCER_CONNECTION_LIST: self.get_producer_connection_list,
            RequestCode.GET_BROKER_CONFIG: self.get_broker_config,
            RequestCode.UPDATE_BROKER_CONFIG: self.update_broker_config,
            RequestCode.GET_ALL_CONSUMER_OFFSET: self.get_all_consumer_offset,
            RequestCode.GET_ALL_DELAY_OFFSET: self.get_all_delay_offset,
            RequestCode.QUERY_TOPIC_CONSUME_BY_WHO: self.query_topic_consume_by_who,
        }

    async def _persisted(self) -> None:
        """Java persists topics.json before answering an admin change; so do we (off the loop)."""
        if self._context.persist_now is not None:
            await self._context.persist_now()
        else:
            self._context.persist_soon()

    # -- topics -------------------------------------------------------------------------------------
    async def update_and_create_topic(
        self, request: RemotingCommand, connection: Connection
    ) -> RemotingCommand:
        header = CreateTopicRequestHeader.from_ext_fields(request.ext_fields)
        context = self._context
        topic = header.topic
        if topic == context.config.broker_cluster_name:
            return make_response(
                request,
                ResponseCode.SYSTEM_ERROR,
                f"the topic[{topic}] is conflict with system reserved words.",
            )
        problem = validate_topic(topic)
        if problem is not None:
            return make_response(request, ResponseCode.SYSTEM_ERROR, problem)
        for name, count in (
            ("readQueueNums", header.read_queue_count),
            ("writeQueueNums", header.write_queue_count),
        ):
            if not 0 < count <= QUEUE_NUMS_MAX:
                return make_response(
                    request, ResponseCode.SYSTEM_ERROR, f"{name}={count} is out of range 1..{QUEUE_NUMS_MAX}"
                )
        if header.perm & ~(PERM_READ | PERM_WRITE | PERM_INHERIT | PERM_PRIORITY):
            return make_response(
                request,
                ResponseCode.SYSTEM_ERROR,
                f"perm={header.perm}: use the bits read 4, write 2, inherit 1",
            )
        try:
            filter_type = TopicFilterType(header.topic_filter_type)
        except ValueError:
            return make_response(
                request,
                ResponseCode.SYSTEM_ERROR,
                f"topicFilterType={header.topic_filter_type!r}: use SINGLE_TAG or MULTI_TAG",
            )
        config = TopicConfig(
            topic_name=topic,
            read_queue_nums=header.read_queue_count,
            write_queue_nums=header.write_queue_count,
            perm=header.perm,
            topic_filter_type=filter_type,
            topic_sys_flag=header.topic_sys_flag or 0,
            order=header.order,
        )
        context.topics.update_topic_config(config, now_ms=context.clock.now_ms())
        await self._persisted()
        context.register_now(False)
        return make_response(request, ResponseCode.SUCCESS, _NOT_SET_REMARK)

    async def delete_topic_in_broker(
        self, request: RemotingCommand, connection: Connection
    ) -> RemotingCommand:
        header = DeleteTopicRequestHeader.from_ext_fields(request.ext_fields)
        context = self._context
        topic = header.topic
        if not topic or not topic.strip():
            return make_response(request, ResponseCode.SYSTEM_ERROR, "The specified topic is blank.")
        if context.topics.is_system_topic(topic):
            return make_response(
                request,
                ResponseCode.NO_PERMISSION,
                f"The topic[{topic}] is a system topic and cannot be deleted.",
            )
        context.topics.delete_topic_config(topic, now_ms=context.clock.now_ms())
        context.store.delete_topics({topic})
        context.offsets.remove_topic(topic)
        await self._persisted()
        context.register_now(False)
        return make_response(request, ResponseCode.SUCCESS, _NOT_SET_REMARK)

    def get_all_topic_config(self, request: RemotingCommand, connection: Connection) -> RemotingCommand:
        body = fastjson.dumps(self._context.topics.to_json())
        return make_response(request, ResponseCode.SUCCESS, None, None, body)

    # -- subscription groups ------------------------------------------------------------------------
    def update_and_create_subscription_group(
        self, request: RemotingCommand, connection: Connection
    ) -> RemotingCommand:
        context = self._context
        try:
            data = fastjson.loads(request.body or b"")
            if not isinstance(data, dict):
                raise BodyError("the body is not a JSON object")
            config = SubscriptionGroupConfig.from_json(data)
        except (BodyError, KeyError, TypeError, ValueError, RecursionError) as error:
            return make_response(
                request, ResponseCode.SYSTEM_ERROR, f"malformed subscription group config: {error!r}"
            )
        if not config.group_name or not 0 <= config.retry_queue_nums <= QUEUE_NUMS_MAX:
            return make_response(
                request,
                ResponseCode.SYSTEM_ERROR,
                f"illegal subscription group config: groupName={config.group_name!r} "
                f"retryQueueNums={config.retry_queue_nums}",
            )
        context.groups.update_subscription_group_config(config, now_ms=context.clock.now_ms())
        context.persist_soon()
        return make_response(request, ResponseCode.SUCCESS, _NOT_SET_REMARK)

    def get_all_subscription_group_config(
        self, request: RemotingCommand, connection: Connection
    ) -> RemotingCommand:
        body = fastjson.dumps(self._context.groups.to_json())
        return make_response(request, ResponseCode.SUCCESS, None, None, body)

    def delete_subscription_group(self, request: RemotingCommand, connection: Connection) -> RemotingCommand:
        header = DeleteSubscriptionGroupRequestHeader.from_ext_fields(request.ext_fields)
        context = self._context
        context.groups.delete_subscription_group_config(header.group_name, now_ms=context.clock.now_ms())
        if header.remove_offset:
            context.offsets.remove_offset(header.group_name)
        context.persist_soon()
        return make_response(request, ResponseCode.SUCCESS, _NOT_SET_REMARK)

    # -- statistics ----------------------------------------------------------------------------------
    def get_broker_runtime_info(self, request: RemotingCommand, connection: Connection) -> RemotingCommand:
        context = self._context
        store = context.store
        stats = context.stats
        now = context.clock.now_ms()
        commit_log_dir = context.store_config.commit_log_path
        try:
            usage = shutil.disk_usage(commit_log_dir)
            disk_ratio = f"{(usage.total - usage.free) / usage.total:.2f}" if usage.total else "0.00"
            capacity = f"Total : {usage.total / 2**30:.1f} GiB, Free : {usage.free / 2**30:.1f} GiB."
        except OSError:
            disk_ratio, capacity = "-1", "Total : 0, Free : 0."
        table: dict[str, str] = {
            "msgPutTotalTodayNow": str(stats.put_message_count),
            "msgGetTotalTodayNow": str(stats.get_found_count),
            "msgPutTotalTodayMorning": "0",
            "msgGetTotalTodayMorning": "0",
            "msgPutTotalYesterdayMorning": "0",
            "msgGetTotalYesterdayMorning": "0",
            "putMessageTimesTotal": str(stats.put_message_count),
            "putMessageSizeTotal": str(stats.put_message_bytes),
            "putMessageAverageSize": str(
                stats.put_message_bytes / stats.put_message_count if stats.put_message_count else 0.0
            ),
            "brokerVersion": str(_BROKER_VERSION),
            "brokerVersionDesc": _BROKER_VERSION_DESC,
            "bootTimestamp": str(stats.boot_timestamp_ms),
            "runtime": _runtime_text(now - stats.boot_timestamp_ms),
            "commitLogMinOffset": str(store.min_commit_log_offset),
            "commitLogMaxOffset": str(store.max_commit_log_offset),
            "earliestMessageTimeStamp": str(store.get_earliest_message_time()),
            "commitLogDiskRatio": disk_ratio,
            f"commitLogDiskRatio_{commit_log_dir}": disk_ratio,
            "consumeQueueDiskRatio": disk_ratio,
            "commitLogDirCapacity": capacity,
            "dispatchBehindBytes": "0",
            "pageCacheLockTimeMills": "0",
            "heldPullCount": str(context.long_polling.held_count if context.long_polling else 0),
            "putTps": stats.rates(1, now),
            "getFoundTps": stats.rates(2, now),
            "getMissTps": stats.rates(3, now),
            "getTransferedTps": stats.rates(2, now),
            "getTotalTps": " ".join(
                f"{float(a) + float(b):.1f}"
                for a, b in zip(stats.rates(2, now).split(), stats.rates(3, now).split(), strict=True)
            ),
            "putMessageFailedTimes": "0",
            "sendThreadPoolQueueSize": "0",
            "pullThreadPoolQueueSize": "0",
            "sendThreadPoolQueueHeadWaitTimeMills": "0",
            "pullThreadPoolQueueHeadWaitTimeMills": "0",
            "remainHowManyDataToFlush": "0 B",
            **context.schedule_stats(),
        }
        body = fastjson.dumps({"table": table})
        return make_response(request, ResponseCode.SUCCESS, None, None, body)

    def get_topic_stats_info(self, request: RemotingCommand, connection: Connection) -> RemotingCommand:
        header = GetTopicStatsInfoRequestHeader.from_ext_fields(request.ext_fields)
        context = self._context
        topic = header.topic
        topic_config = context.topics.select_topic_config(topic)
        if topic_config is None:
            return make_response(request, ResponseCode.TOPIC_NOT_EXIST, f"topic[{topic}] not exist")
        store = context.store
        broker_name = context.config.broker_name
        offsets: dict[MessageQueue, TopicOffset] = {}
        for queue_id in range(topic_config.write_queue_nums):
            max_offset = max(store.get_max_offset_in_queue(topic, queue_id), 0)
            min_offset = max(store.get_min_offset_in_queue(topic, queue_id), 0)
            last = store.get_message_store_timestamp(topic, queue_id, max_offset - 1) if max_offset else 0
            offsets[MessageQueue(topic, broker_name, queue_id)] = TopicOffset(
                min_offset=min_offset, max_offset=max_offset, last_update_timestamp=max(last, 0)
            )
        body = TopicStatsTable(offsets=offsets).encode()
        return make_response(request, ResponseCode.SUCCESS, None, None, body)

    def get_consume_stats(self, request: RemotingCommand, connection: Connection) -> RemotingCommand:
        header = GetConsumeStatsRequestHeader.from_ext_fields(request.ext_fields)
        context = self._context
        store = context.store
        group = header.consumer_group
        topics = [header.topic] if header.topic else sorted(context.offsets.which_topic_by_consumer(group))
        group_info = context.consumers.get(group)
        offsets: dict[MessageQueue, OffsetWrapper] = {}
        for topic in topics:
            topic_config = context.topics.select_topic_config(topic)
            if topic_config is None:
                continue
            if group_info is not None and group_info.subscriptions and topic not in group_info.subscriptions:
                continue
            for queue_id in range(topic_config.read_queue_nums):
                broker_offset = max(store.get_max_offset_in_queue(topic, queue_id), 0)
                consumer_offset = max(context.offsets.query_offset(group, topic, queue_id), 0)
                last = (
                    store.get_message_store_timestamp(topic, queue_id, consumer_offset - 1)
                    if consumer_offset > 0
                    else 0
                )
                offsets[MessageQueue(topic, context.config.broker_name, queue_id)] = OffsetWrapper(
                    broker_offset=broker_offset, consumer_offset=consumer_offset, last_timestamp=max(last, 0)
                )
        body = ConsumeStats(offsets=offsets, consume_tps=0.0).encode()
        return make_response(request, ResponseCode.SUCCESS, None, None, body)

    # -- connections --------------------------------------------------------------------------------
    def get_consumer_connection_list(
        self, request: RemotingCommand, connection: Connection
    ) -> RemotingCommand:
        header = GetConsumerConnectionListRequestHeader.from_ext_fields(request.ext_fields)
        group_info = self._context.consumers.get(header.consumer_group)
        if group_info is None or not group_info.channels:
            return make_response(
                request,
                ResponseCode.CONSUMER_NOT_ONLINE,
                f"the consumer group[{header.consumer_group}] not online",
            )
        body = ConsumerConnection(
            connections=tuple(info.to_connection() for info in group_info.channels.values()),
            subscriptions=dict(group_info.subscriptions),
            consume_type=group_info.consume_type,
            message_model=group_info.message_model,
            consume_from_where=group_info.consume_from_where,
        ).encode()
        return make_response(request, ResponseCode.SUCCESS, None, None, body)

    def get_producer_connection_list(
        self, request: RemotingCommand, connection: Connection
    ) -> RemotingCommand:
        header = GetProducerConnectionListRequestHeader.from_ext_fields(request.ext_fields)
        channels = self._context.producers.channels(header.producer_group)
        if not channels:
            return make_response(
                request, ResponseCode.SYSTEM_ERROR, f"the producer group[{header.producer_group}] not exist"
            )
        body = ProducerConnection(
            connections=tuple(info.to_connection() for info in channels.values())
        ).encode()
        return make_response(request, ResponseCode.SUCCESS, None, None, body)

    # -- configuration ------------------------------------------------------------------------------
    def get_broker_config(self, request: RemotingCommand, connection: Connection) -> RemotingCommand:
        context = self._context
        properties = {**context.config.to_java_properties(), **context.store_config.to_java_properties()}
        body = "".join(f"{key}={value}\n" for key, value in properties.items()).encode()
        version = fastjson.dumps(context.topics.data_version.to_json()).decode()
        return make_response(request, ResponseCode.SUCCESS, None, {"version": version}, body)

    def update_broker_config(self, request: RemotingCommand, connection: Connection) -> RemotingCommand:
        """Java AdminBrokerProcessor#updateBrokerConfig: Java-properties body. Broker keys take
        effect at once where the broker reads them per request (brokerPermission,
        longPollingEnable, enablePropertyFilter, ...); identity and port keys need a restart.
        Store keys are refused here: they belong to broker.conf."""
        context = self._context
        try:
            values = parse_java_properties((request.body or b"").decode("utf-8"))
            updated = context.config.updated(values)
        except (ConfigError, UnicodeDecodeError, ValueError) as error:
            return make_response(request, ResponseCode.SYSTEM_ERROR, f"update broker config failed: {error}")
        if values:
            context.config = updated
            context.config_changed(updated)
            context.register_now(False)
        return make_response(request, ResponseCode.SUCCESS)

    def get_all_delay_offset(self, request: RemotingCommand, connection: Connection) -> RemotingCommand:
        """Java AdminBrokerProcessor#getAllDelayOffset answers with delayOffset.json's text."""
        body = self._context.delay_offsets_json().encode()
        return make_response(request, ResponseCode.SUCCESS, None, None, body)

    def get_all_consumer_offset(self, request: RemotingCommand, connection: Connection) -> RemotingCommand:
        body = fastjson.dumps(self._context.offsets.to_json())
        return make_response(request, ResponseCode.SUCCESS, None, None, body)

    def query_topic_consume_by_who(self, request: RemotingCommand, connection: Connection) -> RemotingCommand:
        """Java AdminBrokerProcessor#queryTopicConsumeByWho: online groups subscribed to the topic
        and groups with stored offsets for it."""
        header = QueryTopicConsumeByWhoRequestHeader.from_ext_fields(request.ext_fields)
        context = self._context
        groups = set(context.consumers.groups_of_topic(header.topic))
        groups |= context.offsets.which_group_by_topic(header.topic)
        body = GroupList(groups=tuple(sorted(groups))).encode()
        return make_response(request, ResponseCode.SUCCESS, None, None, body)
