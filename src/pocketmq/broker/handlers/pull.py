"""Pull handler: PULL_MESSAGE, with long polling and the 4.9.8 status mapping.

Java: PullMessageProcessor#processRequest. Checks in Java's order (broker perm, group, topic, perm,
queue id, subscription), then `MessageStore.get_message` through the broker's tag/SQL92 filter, then
GetMessageStatus -> response code; a pull that finds nothing and carries the SUSPEND flag is parked
in LongPolling and answered when a message arrives or its suspend time runs out. The handler is a
plain def: found messages are answered in the same loop iteration.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Final

from pocketmq.broker.consumers import MessageModel
from pocketmq.broker.filter import MessageFilter, Sql92Error, Sql92Filter, build_message_filter
from pocketmq.broker.filter.consumer_filters import compile_filter
from pocketmq.broker.handlers.context import FAQ_URL, BrokerContext
from pocketmq.broker.long_polling import HeldPull
from pocketmq.common.filter_expression import SubscriptionData, build_subscription_data, is_tag_type
from pocketmq.common.sysflag import PullSysFlag
from pocketmq.common.topic import is_readable
from pocketmq.protocol.codes import RequestCode, ResponseCode
from pocketmq.protocol.command import RemotingCommand, make_response
from pocketmq.protocol.headers.pull import PullMessageRequestHeader
from pocketmq.remoting import Connection, Handler
from pocketmq.store.results import GetMessageResult, GetMessageStatus

__all__ = ["PullHandlers", "GET_STATUS_TO_RESPONSE"]

#: Java PullMessageProcessor: store status -> response code (NO_MATCHED_LOGIC_QUEUE and
#: NO_MESSAGE_IN_QUEUE become PULL_OFFSET_MOVED when the requested offset is not 0).
GET_STATUS_TO_RESPONSE: Final[Mapping[GetMessageStatus, ResponseCode]] = {
    GetMessageStatus.FOUND: ResponseCode.SUCCESS,
    GetMessageStatus.MESSAGE_WAS_REMOVING: ResponseCode.PULL_RETRY_IMMEDIATELY,
    GetMessageStatus.NO_MATCHED_LOGIC_QUEUE: ResponseCode.PULL_NOT_FOUND,
    GetMessageStatus.NO_MESSAGE_IN_QUEUE: ResponseCode.PULL_NOT_FOUND,
    GetMessageStatus.NO_MATCHED_MESSAGE: ResponseCode.PULL_RETRY_IMMEDIATELY,
    GetMessageStatus.OFFSET_FOUND_NULL: ResponseCode.PULL_NOT_FOUND,
    GetMessageStatus.OFFSET_OVERFLOW_BADLY: ResponseCode.PULL_OFFSET_MOVED,
    GetMessageStatus.OFFSET_OVERFLOW_ONE: ResponseCode.PULL_NOT_FOUND,
    GetMessageStatus.OFFSET_TOO_SMALL: ResponseCode.PULL_OFFSET_MOVED,
}
_EMPTY_QUEUE_STATUSES = (GetMessageStatus.NO_MATCHED_LOGIC_QUEUE, GetMessageStatus.NO_MESSAGE_IN_QUEUE)
#: Largest batch a pull may ask for (Java clients ask 32; the store caps by bytes anyway).
MAX_MESSAGE_COUNT_CAP: Final = 1024


class _PullState:
    """What a parked pull needs when it wakes: its parsed header and filter."""

    __slots__ = ("filter", "header")

    def __init__(self, header: PullMessageRequestHeader, message_filter: MessageFilter | None) -> None:
        self.header = header
        self.filter = message_filter


class PullHandlers:
    def __init__(self, context: BrokerContext) -> None:
        self._context = context
        self._broker_id_text = "0" if context.config.is_master else str(context.config.broker_id)

    def routes(self) -> dict[int, Handler]:
        return {RequestCode.PULL_MESSAGE: self.pull_message}

    def pull_message(self, request: RemotingCommand, connection: Connection) -> RemotingCommand | None:
        header = PullMessageRequestHeader.from_ext_fields(request.ext_fields)
        checked = self._check(request, header)
        if type(checked) is RemotingCommand:
            return checked
        message_filter: MessageFilter | None = checked  # type: ignore[assignment]
        context = self._context
        if (
            header.sys_flag & PullSysFlag.COMMIT_OFFSET
            and context.config.is_master
            and 0 <= header.commit_offset < 2**63
        ):
            # Java commits after the lookup; doing it first changes nothing the client can see.
            context.offsets.commit_offset(
                header.consumer_group, header.topic, header.queue_id, header.commit_offset
            )
        return self._execute(request, connection, header, message_filter, allow_suspend=True)

    # -- checks (Java order) -----------------------------------------------------------------------
    def _check(
        self, request: RemotingCommand, header: PullMessageRequestHeader
    ) -> MessageFilter | RemotingCommand | None:
        context = self._context
        config = context.config
        if not is_readable(config.broker_permission):
            return make_response(
                request,
                ResponseCode.NO_PERMISSION,
                f"the broker[{context.broker_host}] pulling message is forbidden",
            )
        group = header.consumer_group
        group_config = context.groups.find_subscription_group_config(group, now_ms=context.clock.now_ms())
        if group_config is None:
            return make_response(
                request,
                ResponseCode.SUBSCRIPTION_GROUP_NOT_EXIST,
                f"subscription group [{group}] does not exist, {FAQ_URL}",
            )
        if not group_config.consume_enable:
            return make_response(
                request, ResponseCode.NO_PERMISSION, f"subscription group no permission, {group}"
            )
        topic = header.topic
        topic_config = context.topics.select_topic_config(topic)
        if topic_config is None:
            return make_response(
                request,
                ResponseCode.TOPIC_NOT_EXIST,
                f"topic[{topic}] not exist, apply first please! {FAQ_URL}",
            )
        if not is_readable(topic_config.perm):
            return make_response(
                request, ResponseCode.NO_PERMISSION, f"the topic[{topic}] pulling message is forbidden"
            )
        queue_id = header.queue_id
        if queue_id < 0 or queue_id >= topic_config.read_queue_nums:
            return make_response(
                request,
                ResponseCode.SYSTEM_ERROR,
                f"queueId[{queue_id}] is illegal, topic:[{topic}] "
                f"topicConfig.readQueueNums:[{topic_config.read_queue_nums}] consumer:[{group}]",
            )
        if header.queue_offset < 0:
            return make_response(
                request, ResponseCode.SYSTEM_ERROR, f"queueOffset[{header.queue_offset}] is negative"
            )
        if header.max_message_count <= 0:
            return make_response(
                request, ResponseCode.SYSTEM_ERROR, f"maxMsgNums[{header.max_message_count}] must be positive"
            )
        subscription: SubscriptionData | None
        sql_filter = None
        if header.sys_flag & PullSysFlag.SUBSCRIPTION:
            try:
                subscription = build_subscription_data(
                    topic, header.subscription, header.expression_type, sub_version=header.sub_version
                )
                if not is_tag_type(header.expression_type):
                    sql_filter = compile_filter(header.subscription, header.expression_type)
            except (ValueError, Sql92Error) as error:
                return make_response(
                    request,
                    ResponseCode.SUBSCRIPTION_PARSE_FAILED,
                    f"parse the consumer's subscription failed: {error}",
                )
        else:
            group_info = context.consumers.get(group)
            if group_info is None:
                return make_response(
                    request,
                    ResponseCode.SUBSCRIPTION_NOT_EXIST,
                    f"the consumer's group info not exist {FAQ_URL}",
                )
            if (
                not group_config.consume_broadcast_enable
                and group_info.message_model is MessageModel.BROADCASTING
            ):
                return make_response(
                    request,
                    ResponseCode.NO_PERMISSION,
                    f"the consumer group[{group}] can not consume by broadcast way",
                )
            subscription = group_info.subscriptions.get(topic)
            if subscription is None:
                return make_response(
                    request,
                    ResponseCode.SUBSCRIPTION_NOT_EXIST,
                    f"the consumer's subscription not exist {FAQ_URL}",
                )
            if subscription.sub_version < header.sub_version:
                return make_response(
                    request,
                    ResponseCode.SUBSCRIPTION_NOT_LATEST,
                    "the consumer's subscription not latest",
                )
            if not subscription.is_tag_type:
                filter_data = context.filters.get(topic, group)
                if filter_data is None or filter_data.compiled is None:
                    return make_response(
                        request,
                        ResponseCode.FILTER_DATA_NOT_EXIST,
                        "The broker's consumer filter data is not exist!Your expression may be wrong!",
                    )
                if filter_data.client_version < header.sub_version:
                    return make_response(
                        request,
                        ResponseCode.FILTER_DATA_NOT_LATEST,
                        f"the consumer's consumer filter data not latest: {filter_data.client_version} "
                        f"< {header.sub_version}",
                    )
                sql_filter = filter_data.compiled
        if subscription is not None and not subscription.is_tag_type and not config.enable_property_filter:
            return make_response(
                request,
                ResponseCode.SYSTEM_ERROR,
                f"The broker does not support consumer to filter message by {subscription.expression_type}",
            )
        message_filter = build_message_filter(
            subscription,
            sql_filter,
            filter_support_retry=config.filter_support_retry,
            retry_lookup=self._retry_lookup,
        )
        if (
            sql_filter is None
            and subscription is not None
            and subscription.subscribes_all
            and not message_filter.needs_properties
        ):
            return None  # everything matches: the store skips the per-unit calls
        return message_filter

    def _retry_lookup(self, topic: str, group: str) -> Sql92Filter | None:
        data = self._context.filters.get(topic, group)
        return None if data is None else data.compiled

    # -- lookup and answer --------------------------------------------------------------------------
    def _execute(
        self,
        request: RemotingCommand,
        connection: Connection,
        header: PullMessageRequestHeader,
        message_filter: MessageFilter | None,
        *,
        allow_suspend: bool,
        rehold: HeldPull | None = None,
    ) -> RemotingCommand | None:
        context = self._context
        result: GetMessageResult = context.store.get_message(
            header.consumer_group,
            header.topic,
            header.queue_id,
            header.queue_offset,
            min(header.max_message_count, MAX_MESSAGE_COUNT_CAP),
            message_filter,
        )
        status = result.status
        code = GET_STATUS_TO_RESPONSE[status]
        if status in _EMPTY_QUEUE_STATUSES and header.queue_offset != 0:
            code = ResponseCode.PULL_OFFSET_MOVED
        if (
            code is ResponseCode.PULL_NOT_FOUND
            and allow_suspend
            and header.sys_flag & PullSysFlag.SUSPEND
            and context.long_polling is not None
        ):
            timeout_ms = (
                header.suspend_timeout_ms
                if context.config.long_polling_enable
                else context.config.short_polling_time_ms
            )
            held = HeldPull((header.topic, header.queue_id), header.queue_offset, request, connection)
            held.state = _PullState(header, message_filter)
            held.deadline_ms = context.clock.monotonic_ms() + timeout_ms
            if context.long_polling.hold(held, timeout_ms):
                return None
        if (
            rehold is not None
            and status is GetMessageStatus.NO_MATCHED_MESSAGE
            and context.long_polling is not None
            and result.next_begin_offset > header.queue_offset
        ):
            # Woken by messages its filter rejects: keep holding from past them, for the rest of
            # its suspend time (Java checks the new unit's tags code before waking a held pull).
            remaining_ms = rehold.deadline_ms - context.clock.monotonic_ms()
            if remaining_ms > 0:
                header = dataclasses.replace(header, queue_offset=result.next_begin_offset)
                again = HeldPull(rehold.key, header.queue_offset, request, connection)
                again.state = _PullState(header, message_filter)
                again.deadline_ms = rehold.deadline_ms
                if context.long_polling.hold(again, remaining_ms):
                    return None
        if code is ResponseCode.SUCCESS:
            context.stats.get_found_count += result.message_count
        else:
            context.stats.get_miss_count += 1
        ext = {
            "suggestWhichBrokerId": self._suggest_broker_id(result),
            "nextBeginOffset": str(result.next_begin_offset),
            "minOffset": str(result.min_offset),
            "maxOffset": str(result.max_offset),
        }
        body = result.body() if code is ResponseCode.SUCCESS else None
        return make_response(request, code, status.value, ext, body)

    def _suggest_broker_id(self, result: GetMessageResult) -> str:
        # A master suggests itself (0): pocketmq has no slaves yet (Java would suggest
        # whichBrokerWhenConsumeSlowly when slaveReadEnable and the pull reached the disk).
        return self._broker_id_text

    def wake(self, held: HeldPull) -> None:
        """LongPolling callback: run a parked pull again (no suspending) and write its answer."""
        state: _PullState = held.state
        connection: Connection = held.connection
        response = self._execute(
            held.request,
            connection,
            state.header,
            state.filter,
            allow_suspend=False,
            rehold=None if held.timed_out else held,
        )
        if response is not None and not connection.closed:
            connection.send(response)
