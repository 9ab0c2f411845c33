"""Client handlers: HEART_BEAT and UNREGISTER_CLIENT.

Java: ClientManageProcessor. A heartbeat registers the client's connection in each of its producer
and consumer groups (creating the subscription group and its `%RETRY%<group>` topic on first sight);
a change of a consumer group's members or topics triggers NOTIFY_CONSUMER_IDS_CHANGED to the group.
Java clients send the enums by name, the C++ client by ordinal: the body codec accepts both.
"""

from __future__ import annotations

from collections.abc import Hashable

from pocketmq.broker.consumers import ClientChannelInfo
from pocketmq.broker.filter import Sql92Error
from pocketmq.broker.filter.consumer_filters import compile_filter
from pocketmq.broker.handlers.context import BrokerContext
from pocketmq.common.filter_expression import is_tag_type
from pocketmq.common.topic import PERM_READ, PERM_WRITE, retry_topic
from pocketmq.protocol import fastjson
from pocketmq.protocol.bodies.base import BodyError
from pocketmq.protocol.bodies.heartbeat import HeartbeatData
from pocketmq.protocol.codes import LanguageCode, RequestCode, ResponseCode
from pocketmq.protocol.command import RemotingCommand, make_response
from pocketmq.protocol.headers.consumer import UnregisterClientRequestHeader
from pocketmq.remoting import Connection, Handler

__all__ = ["ClientManageHandlers", "channel_info_of"]

#: Largest heartbeat body accepted (a client with hundreds of groups sends a few hundred KiB).
HEARTBEAT_BODY_BYTES_MAX = 4 * 1024 * 1024


def _language_name(language: object) -> str:
    if isinstance(language, LanguageCode):
        return language.name
    try:
        return LanguageCode(int(language)).name  # type: ignore[call-overload]
    except (ValueError, TypeError):
        return str(language)


def channel_info_of(
    request: RemotingCommand, connection: Connection, client_id: str, now_ms: int
) -> ClientChannelInfo:
    return ClientChannelInfo(
        client_id=client_id,
        client_addr=connection.peer_address,
        language=_language_name(request.language),
        version=request.version,
        last_update_ms=now_ms,
    )


class ClientManageHandlers:
    def __init__(self, context: BrokerContext) -> None:
        self._context = context

    def routes(self) -> dict[int, Handler]:
        return {
            RequestCode.HEART_BEAT: self.heart_beat,
            RequestCode.UNREGISTER_CLIENT: self.unregister_client,
            RequestCode.CHECK_CLIENT_CONFIG: self.check_client_config,
        }

    def heart_beat(self, request: RemotingCommand, connection: Connection) -> RemotingCommand:
        context = self._context
        body = request.body
        if not body:
            return make_response(request, ResponseCode.SYSTEM_ERROR, "the heartbeat has no body")
        if len(body) > HEARTBEAT_BODY_BYTES_MAX:
            return make_response(
                request, ResponseCode.SYSTEM_ERROR, f"heartbeat body of {len(body)} bytes is too large"
            )
        try:
            heartbeat = HeartbeatData.decode(body)
        except (BodyError, ValueError, RecursionError) as error:
            return make_response(request, ResponseCode.SYSTEM_ERROR, f"malformed heartbeat body: {error}")
        now = context.clock.now_ms()
        client_id = heartbeat.client_id
        connection.attributes["client_id"] = client_id
        topics_created = False
        try:
            for consumer in heartbeat.consumers:
                group = consumer.group_name
                if not group:
                    continue
                group_config = context.groups.find_subscription_group_config(group, now_ms=now)
                notify = True
                if group_config is not None:
                    notify = group_config.notify_consumer_ids_changed_enable
                    created = context.topics.create_topic_in_send_message_back_method(
                        retry_topic(group),
                        group_config.retry_queue_nums,
                        PERM_READ | PERM_WRITE,
                        1 if consumer.unit_mode else 0,
                        now_ms=now,
                    )
                    topics_created |= created.created
                to_notify = context.consumers.register(
                    group,
                    connection,
                    channel_info_of(request, connection, client_id, now),
                    consume_type=consumer.consume_type,
                    message_model=consumer.message_model,
                    consume_from_where=consumer.consume_from_where,
                    subscriptions=list(consumer.subscriptions),
                    now_ms=now,
                )
                context.filters.register_subscriptions(group, consumer.subscriptions, now)
                if to_notify and notify and context.config.notify_consumer_ids_changed_enable:
                    context.notify_consumers(group, to_notify)
            for producer in heartbeat.producers:
                if producer.group_name:
                    context.producers.register(
                        producer.group_name,
                        connection,
                        channel_info_of(request, connection, client_id, now),
                        now,
                    )
        except ValueError as error:
            return make_response(request, ResponseCode.SYSTEM_ERROR, str(error))
        finally:
            if topics_created:
                context.persist_soon()
                context.register_now(False)
        return make_response(request, ResponseCode.SUCCESS)

    def unregister_client(self, request: RemotingCommand, connection: Connection) -> RemotingCommand:
        header = UnregisterClientRequestHeader.from_ext_fields(request.ext_fields)
        context = self._context
        if header.producer_group:
            context.producers.unregister(header.producer_group, connection)
        if header.consumer_group:
            group = header.consumer_group
            remaining = context.consumers.unregister(group, connection)
            if remaining is not None:
                self._after_consumer_left(group, remaining)
        return make_response(request, ResponseCode.SUCCESS, None, {})

    def check_client_config(self, request: RemotingCommand, connection: Connection) -> RemotingCommand:
        """Java ClientManageProcessor#checkClientConfig: a consumer with an SQL92 subscription asks
        whether this broker accepts it before it starts."""
        try:
            data = fastjson.loads(request.body or b"{}")
        except (ValueError, RecursionError) as error:
            return make_response(request, ResponseCode.SYSTEM_ERROR, f"malformed body: {error}")
        subscription = data.get("subscriptionData") if isinstance(data, dict) else None
        if not isinstance(subscription, dict):
            return make_response(request, ResponseCode.SUCCESS)
        expression_type = subscription.get("expressionType")
        if is_tag_type(expression_type):
            return make_response(request, ResponseCode.SUCCESS)
        if not self._context.config.enable_property_filter:
            return make_response(
                request,
                ResponseCode.SYSTEM_ERROR,
                f"The broker does not support consumer to filter message by {expression_type}",
            )
        try:
            compile_filter(subscription.get("subString"), expression_type)
        except Sql92Error as error:
            return make_response(request, ResponseCode.SUBSCRIPTION_PARSE_FAILED, str(error))
        return make_response(request, ResponseCode.SUCCESS)

    def _after_consumer_left(self, group: str, remaining: list[Hashable]) -> None:
        context = self._context
        if not remaining:
            context.filters.unregister(group, context.clock.now_ms())
            return
        group_config = context.groups.get(group)
        notify = group_config.notify_consumer_ids_changed_enable if group_config is not None else True
        if notify and context.config.notify_consumer_ids_changed_enable:
            context.notify_consumers(group, remaining)

    def connection_closed(self, connection: Connection) -> None:
        """Java ClientHousekeepingService#onChannelClose: drop the connection from every group."""
        context = self._context
        context.producers.connection_closed(connection)
        for group, remaining in context.consumers.connection_closed(connection).items():
            self._after_consumer_left(group, remaining)
