"""Name-server request handlers: thin, routed by table (R5). Each parses its header, asks the route
table or the KV config, and builds the response the way a 4.9.8 name server answers.

Java: DefaultRequestProcessor. Bad input (a missing header field, a malformed body) raises
ProtocolError; the connection answers SYSTEM_ERROR with the message and keeps serving. Unknown codes
(GET_KV_CONFIG_BY_VALUE, ...) are not routed, so the router answers REQUEST_CODE_NOT_SUPPORTED.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Final

from pocketmq.common.clock import Clock
from pocketmq.common.errors import ConfigError, ProtocolError
from pocketmq.common.properties import format_properties, parse_java_properties
from pocketmq.namesrv.config import NamesrvConfig
from pocketmq.namesrv.kv_config import NAMESPACE_ORDER_TOPIC_CONFIG, KVConfig
from pocketmq.namesrv.route_table import RouteTable
from pocketmq.protocol.bodies.route import (
    DataVersion,
    JsonStyle,
    RegisterBrokerBody,
    TopicConfigSerializeWrapper,
    TopicList,
    decode_json,
    encode_json,
)
from pocketmq.protocol.codes import RequestCode, ResponseCode
from pocketmq.protocol.command import STYLE_EMPTY_EXT_FIELDS, RemotingCommand, make_response
from pocketmq.protocol.headers.namesrv import (
    AddWritePermOfBrokerRequestHeader,
    AddWritePermOfBrokerResponseHeader,
    DeleteKVConfigRequestHeader,
    DeleteTopicFromNamesrvRequestHeader,
    GetKVConfigRequestHeader,
    GetKVConfigResponseHeader,
    GetKVListByNamespaceRequestHeader,
    GetRouteInfoRequestHeader,
    GetTopicsByClusterRequestHeader,
    PutKVConfigRequestHeader,
    QueryDataVersionRequestHeader,
    QueryDataVersionResponseHeader,
    RegisterBrokerRequestHeader,
    RegisterBrokerResponseHeader,
    UnregisterBrokerRequestHeader,
    WipeWritePermOfBrokerRequestHeader,
    WipeWritePermOfBrokerResponseHeader,
    body_crc32,
)
from pocketmq.remoting import Connection, Handler

__all__ = ["NamesrvContext", "NamesrvHandlers", "STANDARD_JSON_MIN_VERSION"]

log = logging.getLogger(__name__)

#: Clients of this version or newer get routes in standard JSON (Java MQVersion.Version.V4_9_4).
STANDARD_JSON_MIN_VERSION: Final = 401
#: REGISTER_BROKER bodies carry filter servers from this version on (Java V3_0_11).
REGISTER_BODY_MIN_VERSION: Final = 37

_FAQ_APPLY_TOPIC: Final = "\nSee http://rocketmq.apache.org/docs/faq/ for further details."


@dataclass(slots=True, kw_only=True)
class NamesrvContext:
    """What the handlers may touch: narrow on purpose."""

    route_table: RouteTable
    kv_config: KVConfig
    config: NamesrvConfig
    clock: Clock
    #: Writes the KV config to kvConfigPath (the server serialises the writes, off the loop).
    persist_kv_config: Callable[[], Awaitable[None]]
    #: Writes the effective config to configStorePath.
    persist_config: Callable[[], Awaitable[None]]


def _ok(
    request: RemotingCommand, body: bytes | None = None, ext_fields: dict[str, str] | None = None
) -> RemotingCommand:
    """SUCCESS. With `ext_fields` (even empty) the response has a custom header, and Java writes
    `"extFields":{}` for it when every field is null (a master's REGISTER_BROKER answer)."""
    response = make_response(request, ResponseCode.SUCCESS, None, ext_fields, body)
    if ext_fields is not None:
        response.json_style |= STYLE_EMPTY_EXT_FIELDS
    return response


class NamesrvHandlers:
    """One method per request code; `routes()` is the table the server's Router uses."""

    def __init__(self, context: NamesrvContext) -> None:
        self._context = context

    def routes(self) -> Mapping[int, Handler]:
        return {
            RequestCode.PUT_KV_CONFIG: self.put_kv_config,
            RequestCode.GET_KV_CONFIG: self.get_kv_config,
            RequestCode.DELETE_KV_CONFIG: self.delete_kv_config,
            RequestCode.QUERY_DATA_VERSION: self.query_data_version,
            RequestCode.REGISTER_BROKER: self.register_broker,
            RequestCode.UNREGISTER_BROKER: self.unregister_broker,
            RequestCode.GET_ROUTEINFO_BY_TOPIC: self.get_route_info_by_topic,
            RequestCode.GET_BROKER_CLUSTER_INFO: self.get_broker_cluster_info,
            RequestCode.WIPE_WRITE_PERM_OF_BROKER: self.wipe_write_perm_of_broker,
            RequestCode.ADD_WRITE_PERM_OF_BROKER: self.add_write_perm_of_broker,
            RequestCode.GET_ALL_TOPIC_LIST_FROM_NAMESERVER: self.get_all_topic_list,
            RequestCode.DELETE_TOPIC_IN_NAMESRV: self.delete_topic_in_namesrv,
            RequestCode.GET_KVLIST_BY_NAMESPACE: self.get_kv_list_by_namespace,
            RequestCode.GET_TOPICS_BY_CLUSTER: self.get_topics_by_cluster,
            RequestCode.GET_SYSTEM_TOPIC_LIST_FROM_NS: self.get_system_topic_list,
            RequestCode.GET_UNIT_TOPIC_LIST: self.get_unit_topic_list,
            RequestCode.GET_HAS_UNIT_SUB_TOPIC_LIST: self.get_has_unit_sub_topic_list,
            RequestCode.GET_HAS_UNIT_SUB_UNUNIT_TOPIC_LIST: self.get_has_unit_sub_ununit_topic_list,
            RequestCode.UPDATE_NAMESRV_CONFIG: self.update_namesrv_config,
            RequestCode.GET_NAMESRV_CONFIG: self.get_namesrv_config,
        }

    # ------------------------------------------------------------------------------------------
    # brokers

    def register_broker(self, request: RemotingCommand, connection: Connection) -> RemotingCommand:
        header = RegisterBrokerRequestHeader.from_ext_fields(request.ext_fields)
        if header.body_crc32 != 0 and body_crc32(request.body) != header.body_crc32:
            log.warning("REGISTER_BROKER from %s: body crc32 does not match", connection.peer_address)
            return make_response(request, ResponseCode.SYSTEM_ERROR, "crc32 not match")
        filter_servers: tuple[str, ...] | None = None
        if not request.body:
            wrapper = TopicConfigSerializeWrapper(data_version=DataVersion())
            filter_servers = () if request.version >= REGISTER_BODY_MIN_VERSION else None
        elif request.version >= REGISTER_BODY_MIN_VERSION:
            body = RegisterBrokerBody.decode(request.body, compressed=header.compressed)
            wrapper, filter_servers = body.topic_config_serialize_wrapper, body.filter_server_list
        else:
            wrapper = TopicConfigSerializeWrapper.from_json(decode_json(request.body))
        table = self._context.route_table
        refusal = table.refusal(header.broker_addr, wrapper)
        if refusal is not None:
            return make_response(request, ResponseCode.SYSTEM_ERROR, refusal)
        first = table.data_version_of(header.broker_addr) is None
        result = table.register_broker(
            cluster_name=header.cluster_name,
            broker_addr=header.broker_addr,
            broker_name=header.broker_name,
            broker_id=header.broker_id,
            ha_server_addr=header.ha_server_addr,
            topic_config_wrapper=wrapper,
            filter_server_list=filter_servers,
            connection=connection,
            now_ms=self._context.clock.now_ms(),
        )
        if first:
            log.info(
                "broker registered: %s %s id=%d at %s (%d topics)",
                header.cluster_name,
                header.broker_name,
                header.broker_id,
                header.broker_addr,
                len(wrapper.topic_config_table),
            )
        response_header = RegisterBrokerResponseHeader(
            ha_server_addr=result.ha_server_addr, master_addr=result.master_addr
        )
        order_topics = self._context.kv_config.namespace(NAMESPACE_ORDER_TOPIC_CONFIG)
        body_out = order_topics.encode() if order_topics is not None else None
        return _ok(request, body_out, response_header.to_ext_fields())

    def unregister_broker(self, request: RemotingCommand, connection: Connection) -> RemotingCommand:
        header = UnregisterBrokerRequestHeader.from_ext_fields(request.ext_fields)
        removed = self._context.route_table.unregister_broker(
            cluster_name=header.cluster_name,
            broker_addr=header.broker_addr,
            broker_name=header.broker_name,
            broker_id=header.broker_id,
        )
        log.info("broker unregistered: %s at %s (%s)", header.broker_name, header.broker_addr, removed)
        return _ok(request)

    def query_data_version(self, request: RemotingCommand, connection: Connection) -> RemotingCommand:
        header = QueryDataVersionRequestHeader.from_ext_fields(request.ext_fields)
        if not request.body:
            raise ProtocolError("QUERY_DATA_VERSION needs the broker's data version as the body")
        data_version = DataVersion.from_json(decode_json(request.body))
        table = self._context.route_table
        changed = table.is_topic_config_changed(header.broker_addr, data_version)
        if not changed:
            table.touch(header.broker_addr, self._context.clock.now_ms())
        known = table.data_version_of(header.broker_addr)
        body = encode_json(known.to_json()) if known is not None else None
        return _ok(request, body, QueryDataVersionResponseHeader(changed=changed).to_ext_fields())

    def wipe_write_perm_of_broker(self, request: RemotingCommand, connection: Connection) -> RemotingCommand:
        header = WipeWritePermOfBrokerRequestHeader.from_ext_fields(request.ext_fields)
        count = self._context.route_table.wipe_write_perm(header.broker_name)
        log.info(
            "wiped write perm of %s (%d topics) for %s", header.broker_name, count, connection.peer_address
        )
        return _ok(request, None, WipeWritePermOfBrokerResponseHeader(wipe_topic_count=count).to_ext_fields())

    def add_write_perm_of_broker(self, request: RemotingCommand, connection: Connection) -> RemotingCommand:
        header = AddWritePermOfBrokerRequestHeader.from_ext_fields(request.ext_fields)
        count = self._context.route_table.add_write_perm(header.broker_name)
        log.info(
            "added write perm of %s (%d topics) for %s", header.broker_name, count, connection.peer_address
        )
        return _ok(request, None, AddWritePermOfBrokerResponseHeader(add_topic_count=count).to_ext_fields())

    # ------------------------------------------------------------------------------------------
    # routes and topics

    def get_route_info_by_topic(self, request: RemotingCommand, connection: Connection) -> RemotingCommand:
        header = GetRouteInfoRequestHeader.from_ext_fields(request.ext_fields)
        route = self._context.route_table.route_of(header.topic)
        if route is None:
            return make_response(
                request,
                ResponseCode.TOPIC_NOT_EXIST,
                f"No topic route info in name server for the topic: {header.topic}{_FAQ_APPLY_TOPIC}",
            )
        if self._context.config.order_message_enable:
            order_conf = self._context.kv_config.get(NAMESPACE_ORDER_TOPIC_CONFIG, header.topic)
            route = dataclasses.replace(route, order_topic_conf=order_conf)
        standard = request.version >= STANDARD_JSON_MIN_VERSION or bool(header.accept_standard_json_only)
        return _ok(request, route.encode(JsonStyle.STANDARD if standard else JsonStyle.FASTJSON))

    def get_broker_cluster_info(self, request: RemotingCommand, connection: Connection) -> RemotingCommand:
        return _ok(request, self._context.route_table.cluster_info().encode())

    def get_all_topic_list(self, request: RemotingCommand, connection: Connection) -> RemotingCommand:
        return _ok(request, self._context.route_table.all_topics().encode())

    def get_topics_by_cluster(self, request: RemotingCommand, connection: Connection) -> RemotingCommand:
        header = GetTopicsByClusterRequestHeader.from_ext_fields(request.ext_fields)
        return _ok(request, self._context.route_table.topics_by_cluster(header.cluster).encode())

    def get_system_topic_list(self, request: RemotingCommand, connection: Connection) -> RemotingCommand:
        return _ok(request, self._context.route_table.system_topics().encode())

    def get_unit_topic_list(self, request: RemotingCommand, connection: Connection) -> RemotingCommand:
        return self._topic_list(request, self._context.route_table.topics_with_sys_flag(unit=True))

    def get_has_unit_sub_topic_list(
        self, request: RemotingCommand, connection: Connection
    ) -> RemotingCommand:
        return self._topic_list(request, self._context.route_table.topics_with_sys_flag(unit_sub=True))

    def get_has_unit_sub_ununit_topic_list(
        self, request: RemotingCommand, connection: Connection
    ) -> RemotingCommand:
        topics = self._context.route_table.topics_with_sys_flag(unit=False, unit_sub=True)
        return self._topic_list(request, topics)

    @staticmethod
    def _topic_list(request: RemotingCommand, topics: TopicList) -> RemotingCommand:
        return _ok(request, topics.encode())

    def delete_topic_in_namesrv(self, request: RemotingCommand, connection: Connection) -> RemotingCommand:
        header = DeleteTopicFromNamesrvRequestHeader.from_ext_fields(request.ext_fields)
        self._context.route_table.delete_topic(header.topic, header.cluster_name or None)
        log.info(
            "topic %s deleted (cluster %s) for %s", header.topic, header.cluster_name, connection.peer_address
        )
        return _ok(request)

    # ------------------------------------------------------------------------------------------
    # KV config

    async def put_kv_config(self, request: RemotingCommand, connection: Connection) -> RemotingCommand:
        header = PutKVConfigRequestHeader.from_ext_fields(request.ext_fields)
        kv = self._context.kv_config
        refusal = kv.refusal(header.namespace, header.key, header.value)
        if refusal is not None:
            return make_response(request, ResponseCode.SYSTEM_ERROR, refusal)
        kv.put(header.namespace, header.key, header.value)
        return await self._persisted(request)

    def get_kv_config(self, request: RemotingCommand, connection: Connection) -> RemotingCommand:
        header = GetKVConfigRequestHeader.from_ext_fields(request.ext_fields)
        value = self._context.kv_config.get(header.namespace, header.key)
        if value is None:
            return make_response(
                request,
                ResponseCode.QUERY_NOT_FOUND,
                f"No config item, Namespace: {header.namespace} Key: {header.key}",
            )
        return _ok(request, None, GetKVConfigResponseHeader(value=value).to_ext_fields())

    async def delete_kv_config(self, request: RemotingCommand, connection: Connection) -> RemotingCommand:
        header = DeleteKVConfigRequestHeader.from_ext_fields(request.ext_fields)
        self._context.kv_config.delete(header.namespace, header.key)
        return await self._persisted(request)

    def get_kv_list_by_namespace(self, request: RemotingCommand, connection: Connection) -> RemotingCommand:
        header = GetKVListByNamespaceRequestHeader.from_ext_fields(request.ext_fields)
        table = self._context.kv_config.namespace(header.namespace)
        if table is None:
            return make_response(
                request, ResponseCode.QUERY_NOT_FOUND, f"No config item, Namespace: {header.namespace}"
            )
        return _ok(request, table.encode())

    async def _persisted(self, request: RemotingCommand) -> RemotingCommand:
        try:
            await self._context.persist_kv_config()
        except OSError as error:
            path = self._context.config.kv_config_path
            log.error("cannot persist the KV config to %s: %s", path, error)
            return make_response(
                request, ResponseCode.SYSTEM_ERROR, f"applied in memory but not persisted to {path}: {error}"
            )
        return _ok(request)

    # ------------------------------------------------------------------------------------------
    # the name server's own config

    def get_namesrv_config(self, request: RemotingCommand, connection: Connection) -> RemotingCommand:
        text = format_properties(self._context.config.to_java_properties())
        return _ok(request, text.encode("utf-8"))

    async def update_namesrv_config(
        self, request: RemotingCommand, connection: Connection
    ) -> RemotingCommand:
        if not request.body:
            return _ok(request)
        try:
            values = parse_java_properties(request.body.decode("utf-8"))
        except UnicodeDecodeError as error:
            return make_response(request, ResponseCode.SYSTEM_ERROR, f"the body is not UTF-8: {error}")
        if self._context.config.black_listed() & values.keys():
            return make_response(request, ResponseCode.NO_PERMISSION, "Can not update config in black list.")
        try:
            self._context.config = self._context.config.updated(values)
        except ConfigError as error:
            return make_response(request, ResponseCode.SYSTEM_ERROR, str(error))
        log.info("config updated by %s: %s", connection.peer_address, sorted(values))
        try:
            await self._context.persist_config()
        except OSError as error:
            path = self._context.config.config_store_path
            return make_response(
                request, ResponseCode.SYSTEM_ERROR, f"applied in memory but not persisted to {path}: {error}"
            )
        return _ok(request)
