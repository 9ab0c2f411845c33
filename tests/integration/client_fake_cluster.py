"""An in-memory name server + broker on one RemotingServer, for the client tests while the real
processes are not there (and for fast, deterministic client tests afterwards).

It speaks the 4.9.8 wire protocol for what a client uses: routes (with the TBW102 fallback and
auto-created topics), SEND_MESSAGE_V2 / SEND_BATCH_MESSAGE (records encoded with the store's record
codec), PULL_MESSAGE with long polling and the tag-hash filter, heartbeats with consumer groups and
NOTIFY_CONSUMER_IDS_CHANGED on membership changes, offsets, send-back to the retry topic.
"""

from __future__ import annotations

import asyncio
import struct
from dataclasses import dataclass, field
from typing import Any

from pocketmq.common.clock import now_ms
from pocketmq.common.filter_expression import SubscriptionData, build_subscription_data
from pocketmq.common.java_hash import java_string_hash
from pocketmq.common.message import MessageConst, MessageExt, string_to_properties
from pocketmq.common.message_id import create_offset_msg_id
from pocketmq.common.sysflag import PullSysFlag
from pocketmq.common.topic import retry_topic
from pocketmq.protocol import fastjson
from pocketmq.protocol.bodies.route import BrokerData, QueueData, TopicRouteData
from pocketmq.protocol.codes import RequestCode, ResponseCode
from pocketmq.protocol.command import RemotingCommand, make_request, make_response
from pocketmq.remoting import Connection, RemotingServer, Router
from pocketmq.store.commit_log.record import encode_record

_BATCH_HEAD = struct.Struct(">iiiii")


@dataclass
class _Queue:
    records: list[bytes] = field(default_factory=list)
    tags_codes: list[int | None] = field(default_factory=list)
    waiters: list[asyncio.Future[None]] = field(default_factory=list)

    def wake(self) -> None:
        waiters, self.waiters = self.waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)


@dataclass
class _Client:
    connection: Connection
    subscriptions: dict[str, SubscriptionData]


class FakeCluster:
    def __init__(self, *, broker_name: str = "broker-a", default_queue_nums: int = 4) -> None:
        self.broker_name = broker_name
        #: Other fake brokers this one's name server lists in every route.
        self.peers: list[FakeCluster] = []
        #: Answer sends with this code (e.g. SYSTEM_ERROR) instead of storing them.
        self.fail_sends_with: int | None = None
        #: Refuse CONSUMER_SEND_MSG_BACK (SYSTEM_ERROR), as a broker that cannot take it back.
        self.fail_send_backs = False
        self.default_queue_nums = default_queue_nums
        self.topics: dict[str, list[_Queue]] = {}
        self.groups: dict[str, dict[str, _Client]] = {}
        self.offsets: dict[tuple[str, str, int], int] = {}
        self.records_by_offset: dict[int, bytes] = {}
        self.next_commit_log_offset = 0
        self.requests: list[RemotingCommand] = []
        self.clients: dict[str, Connection] = {}
        routes = {
            RequestCode.GET_ROUTEINFO_BY_TOPIC: self._route,
            RequestCode.SEND_MESSAGE_V2: self._send,
            RequestCode.SEND_BATCH_MESSAGE: self._send,
            RequestCode.PULL_MESSAGE: self._pull,
            RequestCode.HEART_BEAT: self._heartbeat,
            RequestCode.UNREGISTER_CLIENT: self._unregister,
            RequestCode.GET_CONSUMER_LIST_BY_GROUP: self._consumer_list,
            RequestCode.QUERY_CONSUMER_OFFSET: self._query_offset,
            RequestCode.UPDATE_CONSUMER_OFFSET: self._update_offset,
            RequestCode.GET_MAX_OFFSET: self._max_offset,
            RequestCode.GET_MIN_OFFSET: self._min_offset,
            RequestCode.SEARCH_OFFSET_BY_TIMESTAMP: self._min_offset,
            RequestCode.CONSUMER_SEND_MSG_BACK: self._send_back,
            RequestCode.END_TRANSACTION: self._end_transaction,
        }
        router = Router({code: self._recorded(handler) for code, handler in routes.items()})
        self.server = RemotingServer("127.0.0.1", 0, router, on_connection_closed=self._closed)

    def _recorded(self, handler: Any) -> Any:
        def record(request: RemotingCommand, connection: Connection) -> Any:
            self.requests.append(request)
            return handler(request, connection)

        return record

    def requests_of(self, code: int) -> list[RemotingCommand]:
        return [r for r in self.requests if r.code == code]

    def connection_of(self, client_id: str) -> Connection:
        return self.clients[client_id]

    def _end_transaction(self, request: RemotingCommand, connection: Connection) -> None:
        return None

    async def start(self) -> FakeCluster:
        await self.server.start()
        self.create_topic("TBW102", 8)
        return self

    async def stop(self) -> None:
        await self.server.stop()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.server.port}"

    @property
    def namesrv_address(self) -> str:
        """The fake answers name-server requests too (tests.support.client.client_config)."""
        return self.address

    def create_topic(self, topic: str, queue_nums: int = 4) -> None:
        self.topics.setdefault(topic, [_Queue() for _ in range(queue_nums)])

    def message_count(self, topic: str) -> int:
        return sum(len(q.records) for q in self.topics.get(topic, []))

    # -- name server ------------------------------------------------------------------------------

    def _route(self, request: RemotingCommand, connection: Connection) -> RemotingCommand:
        topic = request.ext_str("topic") or ""
        queues = self.topics.get(topic)
        if queues is None:
            return make_response(request, ResponseCode.TOPIC_NOT_EXIST, f"No topic route info for {topic}")
        brokers = [self, *self.peers]
        route = TopicRouteData(
            queue_datas=tuple(
                QueueData(
                    broker_name=broker.broker_name,
                    read_queue_nums=len(queues),
                    write_queue_nums=len(queues),
                    perm=7 if topic == "TBW102" else 6,
                )
                for broker in brokers
            ),
            broker_datas=tuple(
                BrokerData(
                    cluster="DefaultCluster", broker_name=broker.broker_name, broker_addrs={0: broker.address}
                )
                for broker in brokers
            ),
        )
        return make_response(request, ResponseCode.SUCCESS, body=route.encode())

    # -- sending --------------------------------------------------------------------------------

    def _append(self, message: MessageExt) -> tuple[str, int]:
        queue = self.topics[message.topic][message.queue_id]
        message.queue_offset = len(queue.records)
        message.commit_log_offset = self.next_commit_log_offset
        message.store_timestamp = now_ms()
        message.store_host = ("127.0.0.1", self.server.port)
        record = encode_record(message)
        self.next_commit_log_offset += len(record)
        queue.records.append(record)
        tags = message.properties.get(MessageConst.TAGS)
        queue.tags_codes.append(java_string_hash(tags) if tags else None)
        self.records_by_offset[message.commit_log_offset] = record
        queue.wake()
        return create_offset_msg_id(
            "127.0.0.1", self.server.port, message.commit_log_offset
        ), message.queue_offset

    def _send(self, request: RemotingCommand, connection: Connection) -> RemotingCommand:
        if self.fail_sends_with is not None:
            return make_response(request, self.fail_sends_with, "failing on purpose")
        ext = request.ext_fields
        topic = str(ext["b"])
        self.create_topic(topic, int(ext["d"]))
        queue_id = int(ext["e"])
        base = {
            "flag": int(ext["h"]),
            "sys_flag": int(ext["f"]),
            "born_timestamp": int(ext["g"]),
            "born_host": ("127.0.0.1", 1),
            "reconsume_times": int(ext.get("j") or 0),
        }
        body = request.body or b""
        results = []
        if request.code == RequestCode.SEND_BATCH_MESSAGE:
            position = 0
            while position < len(body):
                total, _, _, flag, body_len = _BATCH_HEAD.unpack_from(body, position)
                inner_body = body[position + 20 : position + 20 + body_len]
                (props_len,) = struct.unpack_from(">h", body, position + 20 + body_len)
                start = position + 22 + body_len
                props = string_to_properties(body[start : start + props_len].decode())
                message = MessageExt(
                    topic=topic,
                    body=inner_body,
                    queue_id=queue_id,
                    properties=props,
                    **{**base, "flag": flag},
                )
                results.append(self._append(message))
                position += total
        else:
            props = string_to_properties(str(ext.get("i") or ""))
            props.pop(MessageConst.WAIT_STORE_MSG_OK, None)
            results.append(
                self._append(MessageExt(topic=topic, body=body, queue_id=queue_id, properties=props, **base))
            )
        return make_response(
            request,
            ResponseCode.SUCCESS,
            ext_fields={
                "msgId": ",".join(r[0] for r in results),
                "queueId": str(queue_id),
                "queueOffset": str(results[0][1]),
                "MSG_REGION": "DefaultRegion",
                "TRACE_ON": "true",
            },
        )

    # -- pulling --------------------------------------------------------------------------------

    def _subscription(self, group: str, topic: str, request: RemotingCommand) -> SubscriptionData | None:
        if int(request.ext_fields["sysFlag"]) & PullSysFlag.SUBSCRIPTION:
            return build_subscription_data(topic, request.ext_str("subscription") or "*")
        for client in self.groups.get(group, {}).values():
            if topic in client.subscriptions:
                return client.subscriptions[topic]
        return None

    async def _pull(self, request: RemotingCommand, connection: Connection) -> RemotingCommand:
        ext = request.ext_fields
        group, topic, queue_id = str(ext["consumerGroup"]), str(ext["topic"]), int(ext["queueId"])
        offset, max_count, sys_flag = int(ext["queueOffset"]), int(ext["maxMsgNums"]), int(ext["sysFlag"])
        if sys_flag & PullSysFlag.COMMIT_OFFSET:
            self.offsets[(group, topic, queue_id)] = int(ext["commitOffset"])
        subscription = self._subscription(group, topic, request)
        if subscription is None:
            return make_response(request, ResponseCode.SUBSCRIPTION_NOT_EXIST, "no subscription")
        queues = self.topics.get(topic)
        if queues is None or queue_id >= len(queues):
            return make_response(request, ResponseCode.TOPIC_NOT_EXIST, f"topic {topic} not exist")
        queue = queues[queue_id]
        deadline = asyncio.get_running_loop().time() + int(ext["suspendTimeoutMillis"]) / 1000
        while True:
            max_offset = len(queue.records)
            fields = {"suggestWhichBrokerId": "0", "minOffset": "0", "maxOffset": str(max_offset)}
            if offset > max_offset:
                fields["nextBeginOffset"] = str(max_offset)
                return make_response(request, ResponseCode.PULL_OFFSET_MOVED, "OFFSET_OVERFLOW_BADLY", fields)
            if offset < max_offset:
                break
            remaining = deadline - asyncio.get_running_loop().time()
            if not sys_flag & PullSysFlag.SUSPEND or remaining <= 0:
                fields["nextBeginOffset"] = str(offset)
                return make_response(request, ResponseCode.PULL_NOT_FOUND, "OFFSET_OVERFLOW_ONE", fields)
            waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            queue.waiters.append(waiter)
            try:
                async with asyncio.timeout(remaining):
                    await waiter
            except TimeoutError:
                pass
        found: list[bytes] = []
        position = offset
        while position < len(queue.records) and len(found) < max_count and position - offset < 800:
            if subscription.matches_tags_code(queue.tags_codes[position]):
                found.append(queue.records[position])
            position += 1
        fields["nextBeginOffset"] = str(position)
        if not found:
            return make_response(request, ResponseCode.PULL_RETRY_IMMEDIATELY, "NO_MATCHED_MESSAGE", fields)
        return make_response(request, ResponseCode.SUCCESS, "FOUND", fields, b"".join(found))

    # -- consumers ------------------------------------------------------------------------------

    def _notify(self, group: str) -> None:
        for client in self.groups.get(group, {}).values():
            if not client.connection.closed:
                request = make_request(
                    RequestCode.NOTIFY_CONSUMER_IDS_CHANGED, {"consumerGroup": group}, oneway=True
                )
                asyncio.get_running_loop().create_task(client.connection.invoke_oneway(request))

    def _heartbeat(self, request: RemotingCommand, connection: Connection) -> RemotingCommand:
        data = fastjson.loads(request.body or b"{}")
        client_id = str(data["clientID"])
        connection.attributes["client_id"] = client_id
        self.clients[client_id] = connection
        for consumer in data.get("consumerDataSet") or []:
            group = str(consumer["groupName"])
            subscriptions = {
                str(item["topic"]): SubscriptionData.from_json(item)
                for item in consumer.get("subscriptionDataSet") or []
            }
            members = self.groups.setdefault(group, {})
            new = client_id not in members
            members[client_id] = _Client(connection, subscriptions)
            for topic in subscriptions:
                self.create_topic(topic, 1 if topic.startswith("%RETRY%") else self.default_queue_nums)
            if new:
                self._notify(group)
        return make_response(request, ResponseCode.SUCCESS)

    def _unregister(self, request: RemotingCommand, connection: Connection) -> RemotingCommand:
        group = request.ext_str("consumerGroup")
        if group and self.groups.get(group, {}).pop(request.ext_str("clientID") or "", None) is not None:
            self._notify(group)
        return make_response(request, ResponseCode.SUCCESS)

    def _closed(self, connection: Connection) -> None:
        for group, members in self.groups.items():
            gone = [client_id for client_id, client in members.items() if client.connection is connection]
            for client_id in gone:
                del members[client_id]
            if gone:
                self._notify(group)

    def _consumer_list(self, request: RemotingCommand, connection: Connection) -> RemotingCommand:
        members = self.groups.get(request.ext_str("consumerGroup") or "", {})
        if not members:
            return make_response(request, ResponseCode.SYSTEM_ERROR, "no consumer")
        return make_response(
            request, ResponseCode.SUCCESS, body=fastjson.dumps({"consumerIdList": list(members)})
        )

    def _key(self, request: RemotingCommand) -> tuple[str, str, int]:
        return (
            request.ext_str("consumerGroup") or "",
            request.ext_str("topic") or "",
            int(request.ext_fields["queueId"]),
        )

    def _query_offset(self, request: RemotingCommand, connection: Connection) -> RemotingCommand:
        offset = self.offsets.get(self._key(request))
        if offset is None:
            offset = 0  # the new-group rule: min offset 0 still in memory
        return make_response(request, ResponseCode.SUCCESS, ext_fields={"offset": str(offset)})

    def _update_offset(self, request: RemotingCommand, connection: Connection) -> RemotingCommand:
        self.offsets[self._key(request)] = int(request.ext_fields["commitOffset"])
        return make_response(request, ResponseCode.SUCCESS)

    def _max_offset(self, request: RemotingCommand, connection: Connection) -> RemotingCommand:
        queues = self.topics.get(request.ext_str("topic") or "", [])
        queue_id = int(request.ext_fields["queueId"])
        count = len(queues[queue_id].records) if queue_id < len(queues) else 0
        return make_response(request, ResponseCode.SUCCESS, ext_fields={"offset": str(count)})

    def _min_offset(self, request: RemotingCommand, connection: Connection) -> RemotingCommand:
        return make_response(request, ResponseCode.SUCCESS, ext_fields={"offset": "0"})

    def _send_back(self, request: RemotingCommand, connection: Connection) -> RemotingCommand:
        if self.fail_send_backs:
            return make_response(request, ResponseCode.SYSTEM_ERROR, "send-back refused on purpose")
        from pocketmq.store.commit_log.record import decode_record

        record = self.records_by_offset.get(int(request.ext_fields["offset"]))
        if record is None:
            return make_response(request, ResponseCode.SYSTEM_ERROR, "no such message")
        original = decode_record(record)
        group = request.ext_str("group") or ""
        topic = retry_topic(group)
        self.create_topic(topic, 1)
        properties: dict[str, Any] = dict(original.properties)
        properties.setdefault(MessageConst.RETRY_TOPIC, original.topic)
        message = MessageExt(
            topic=topic,
            body=original.body,
            flag=original.flag,
            properties=properties,
            queue_id=0,
            sys_flag=original.sys_flag,
            born_timestamp=original.born_timestamp,
            born_host=original.born_host,
            reconsume_times=original.reconsume_times + 1,
        )
        self._append(message)
        return make_response(request, ResponseCode.SUCCESS)
