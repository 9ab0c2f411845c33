"""Broker: wires the store, the metadata managers, the request handlers and the remoting server.

Java: BrokerController. Start order: store (open + recover) -> topics, groups, offsets, filters
(load) -> handlers and long polling -> store services -> remoting server -> background tasks
(offset persistence every flushConsumerOffsetInterval, client housekeeping every 10 s, config
persistence on change) -> name server registration. `stop()` runs it in reverse: unregister, answer
held pulls, close the server, stop the tasks, persist offsets and configs, shut the store cleanly.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import Coroutine, Hashable
from pathlib import Path
from typing import Any, Final

from pocketmq.broker.config import BrokerConfig, BrokerRole
from pocketmq.broker.consumer_offsets import ConsumerOffsetManager
from pocketmq.broker.consumers import ConsumerManager
from pocketmq.broker.filter import ConsumerFilterManager
from pocketmq.broker.handlers.admin import AdminHandlers
from pocketmq.broker.handlers.client_manage import ClientManageHandlers
from pocketmq.broker.handlers.consumer_manage import ConsumerManageHandlers
from pocketmq.broker.handlers.context import BrokerContext
from pocketmq.broker.handlers.forward import ForwardHandlers
from pocketmq.broker.handlers.pull import PullHandlers
from pocketmq.broker.handlers.query import QueryHandlers
from pocketmq.broker.handlers.send import SendHandlers
from pocketmq.broker.handlers.send_back import SendBackHandlers  # issue 4
from pocketmq.broker.handlers.transaction import TransactionHandlers  # issue 4
from pocketmq.broker.long_polling import LongPolling
from pocketmq.broker.namesrv_registration import NamesrvRegistration
from pocketmq.broker.producers import ProducerManager
from pocketmq.broker.schedule import ScheduleMessageService  # issue 4
from pocketmq.broker.schedule_offsets import ScheduleOffsetTable  # issue 4
from pocketmq.broker.subscription_groups import SubscriptionGroupManager
from pocketmq.broker.topics import TopicConfigManager
from pocketmq.broker.transaction import (  # issue 4
    TransactionalMessageService,
    TransactionCheckService,
    TransactionSettings,
)
from pocketmq.common.clock import SYSTEM_CLOCK, Clock
from pocketmq.protocol.bodies.route import RegisterBrokerBody, TopicConfigSerializeWrapper
from pocketmq.protocol.codes import RequestCode
from pocketmq.protocol.command import make_request
from pocketmq.protocol.headers.consumer import NotifyConsumerIdsChangedRequestHeader
from pocketmq.remoting import Connection, RemotingClient, RemotingServer, Router
from pocketmq.store.config import StoreConfig
from pocketmq.store.config_file import dumps_fastjson_pretty
from pocketmq.store.message_store import MessageStore

__all__ = ["Broker"]

log = logging.getLogger(__name__)

#: Java ClientHousekeepingService: scan for silent client connections every 10 s.
HOUSEKEEPING_INTERVAL_MS: Final = 10_000
#: Coalesce config writes requested within this window.
PERSIST_DEBOUNCE_MS: Final = 100


class Broker:
    """One broker process. `await start()`, serve, `await stop()`."""

    def __init__(
        self,
        config: BrokerConfig,
        store_config: StoreConfig,
        *,
        clock: Clock = SYSTEM_CLOCK,
        bind_host: str = "0.0.0.0",
    ) -> None:
        self.config = config
        self.broker_address = config.broker_address
        self.store_config = dataclasses.replace(store_config, store_host=self.broker_address)
        self.clock = clock
        self._bind_host = bind_host
        self.config_dir = Path(self.store_config.store_root_dir) / "config"
        self.store: MessageStore | None = None
        self.context: BrokerContext | None = None
        self.server: RemotingServer | None = None
        self.registration: NamesrvRegistration | None = None
        # issue 4: delay levels and transaction check-backs (built in start)
        self.schedule: ScheduleMessageService | None = None
        self.transaction_check: TransactionCheckService | None = None
        self._client: RemotingClient | None = None
        self._long_polling: LongPolling | None = None
        self._client_handlers: ClientManageHandlers | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._side_tasks: set[asyncio.Task[Any]] = set()
        self._persist_wanted = asyncio.Event()
        self._persist_lock = asyncio.Lock()
        self._started = False

    # -- lifecycle --------------------------------------------------------------------------------
    async def start(self) -> None:
        config = self.config
        now = self.clock.now_ms()
        store = MessageStore(self.store_config, clock=self.clock)
        store.open()
        self.store = store
        try:
            await self._start_after_store(store, now)
        except BaseException:
            await self._abort_start()
            raise
        self._started = True
        log.info(
            "broker %s (%s, cluster %s) serving on %s, name servers %s",
            config.broker_name,
            self.broker_address,
            config.broker_cluster_name,
            self.server.address if self.server else "?",
            ";".join(config.namesrv_addresses) or "none",
        )

    async def _start_after_store(self, store: MessageStore, now: int) -> None:
        config = self.config
        self.config_dir.mkdir(parents=True, exist_ok=True)
        topics = TopicConfigManager(config, self.config_dir, now_ms=now)
        groups = SubscriptionGroupManager(
            self.config_dir, auto_create_subscription_group=config.auto_create_subscription_group, now_ms=now
        )
        offsets = ConsumerOffsetManager(self.config_dir)
        filters = ConsumerFilterManager(
            self.config_dir, clean_time_span_ms=config.filter_data_clean_time_span_ms
        )
        topics.load()
        groups.load()
        offsets.load()
        filters.load(now)
        context = BrokerContext(
            config=config,
            store_config=self.store_config,
            store=store,
            topics=topics,
            groups=groups,
            offsets=offsets,
            consumers=ConsumerManager(),
            producers=ProducerManager(),
            filters=filters,
            clock=self.clock,
            broker_address=self.broker_address,
        )
        context.stats.boot_timestamp_ms = now
        context.stats.sample(now)
        context.register_now = self._register_now
        context.notify_consumers = self._notify_consumers
        context.persist_soon = self._persist_wanted.set
        context.persist_now = self._persist_now
        context.config_changed = self._config_changed
        self.context = context
        pull = PullHandlers(context)
        self._long_polling = LongPolling(pull.wake)
        context.long_polling = self._long_polling
        self._client_handlers = ClientManageHandlers(context)
        router = Router()
        for handlers in (
            SendHandlers(context),
            pull,
            QueryHandlers(context),
            self._client_handlers,
            ConsumerManageHandlers(context),
            AdminHandlers(context),
            ForwardHandlers(context),
        ):
            for code, handler in handlers.routes().items():
                router.register(code, handler)
        # -- issue 4: send-back / retry / DLQ, delay levels, transactional messages ------------
        self.schedule = ScheduleMessageService(store, ScheduleOffsetTable(self.config_dir), self.clock)
        self.schedule.load()
        schedule = self.schedule
        context.delay_offsets_json = lambda: dumps_fastjson_pretty(schedule.offsets.to_json())
        context.schedule_stats = schedule.running_stats
        transactions = TransactionalMessageService(
            store,
            offsets,
            TransactionSettings.from_config(config, self.store_config),
            broker_host=store.store_host,
            on_topic_needed=lambda topic: TransactionHandlers.ensure_topic(context, topic),
        )
        transactions.load()
        self.transaction_check = TransactionCheckService(
            transactions, context.producers.any_channel, self.clock
        )
        for issue4 in (SendBackHandlers(context), TransactionHandlers(context, transactions)):
            for code, handler in issue4.routes().items():
                router.register(code, handler)
        # -- end issue 4 ----------------------------------------------------------------------
        self.router = router
        self._long_polling.start()
        store.register_arrival_listener(self._long_polling.notify_message_arriving)
        await store.start()
        if config.broker_role is not BrokerRole.SLAVE:  # issue 4: a master delivers and checks (Java)
            await self.schedule.start()
            await self.transaction_check.start()
        self.server = RemotingServer(
            self._bind_host, config.listen_port, router, on_connection_closed=self._on_connection_closed
        )
        await self.server.start()
        self._tasks = [
            asyncio.create_task(self._persist_offsets_forever(), name="broker-persist-consumer-offsets"),
            asyncio.create_task(self._housekeeping_forever(), name="broker-client-housekeeping"),
            asyncio.create_task(self._persist_configs_forever(), name="broker-persist-configs"),
        ]
        self._client = RemotingClient()
        host = (config.broker_ip2 or config.broker_ip1 or "127.0.0.1").strip()
        self.registration = NamesrvRegistration(
            config,
            self._client,
            self._register_body,
            broker_address=self.broker_address,
            ha_server_address=f"{host}:{config.listen_port + 1}",
        )
        await self.registration.start()

    async def _abort_start(self) -> None:
        # The start error is what the caller sees; a failed cleanup after it is only logged.
        try:
            await self.stop()
        except Exception:
            log.exception("broker: cleanup after a failed start failed")

    async def stop(self) -> None:
        """Reverse of start; safe to call twice and after a failed start."""
        self._started = False
        registration, self.registration = self.registration, None
        if registration is not None:
            try:
                await registration.stop()
            except Exception:
                # Stopping goes on whatever happens here: the store must still be closed cleanly.
                log.exception("broker: stopping the name server registration failed")
        if self._long_polling is not None:
            self._long_polling.stop()
        server, self.server = self.server, None
        if server is not None:
            await server.stop()
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for task in list(self._side_tasks):
            task.cancel()
        # issue 4: stop the check-backs and deliveries; the schedule service persists delayOffset.json
        for service in (self.transaction_check, self.schedule):
            if service is not None:
                await service.stop()
        if self.context is not None:
            try:
                await self._persist_offsets()
                await self._persist_configs()
            except Exception:
                log.exception("persisting broker metadata at shutdown failed")
        client, self._client = self._client, None
        if client is not None:
            await client.close()
        store, self.store = self.store, None
        if store is not None:
            await store.shutdown()
        log.info("broker %s stopped", self.config.broker_name)

    async def __aenter__(self) -> Broker:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    @property
    def port(self) -> int:
        assert self.server is not None, "start() the broker first"
        return self.server.port

    # -- wiring callbacks -------------------------------------------------------------------------
    def _register_body(self) -> RegisterBrokerBody:
        assert self.context is not None
        topics = self.context.topics
        version = topics.data_version
        table = dict(topics.topics)
        broker_perm = self.config.broker_permission
        if broker_perm != 6:
            # Java: a broker without read or write permission advertises it on every topic.
            table = {
                name: dataclasses.replace(config, perm=config.perm & broker_perm)
                for name, config in table.items()
            }
        return RegisterBrokerBody(
            topic_config_serialize_wrapper=TopicConfigSerializeWrapper(
                topic_config_table=table,
                data_version=version,
            )
        )

    def _config_changed(self, config: BrokerConfig) -> None:
        self.config = config
        if self.registration is not None:
            self.registration.config = config

    def _register_now(self, oneway: bool) -> None:
        if self.registration is not None:
            self.registration.trigger(oneway)

    def _spawn(self, coroutine: Coroutine[Any, Any, Any], name: str) -> None:
        task = asyncio.get_running_loop().create_task(coroutine, name=name)
        self._side_tasks.add(task)
        task.add_done_callback(self._side_tasks.discard)

    def _notify_consumers(self, group: str, connections: list[Hashable]) -> None:
        """NOTIFY_CONSUMER_IDS_CHANGED (oneway) to each connection; clients that ignore it are fine."""
        live = [c for c in connections if isinstance(c, Connection) and not c.closed]
        if live:
            self._spawn(self._notify(group, live), f"notify-consumer-ids-changed-{group}")

    async def _notify(self, group: str, connections: list[Connection]) -> None:
        ext = NotifyConsumerIdsChangedRequestHeader(consumer_group=group).to_ext_fields()
        for connection in connections:
            if connection.closed:
                continue
            try:
                await connection.invoke_oneway(
                    make_request(RequestCode.NOTIFY_CONSUMER_IDS_CHANGED, dict(ext))
                )
            except Exception as error:  # a client that went away: nothing to tell
                log.debug("notifying %s of group %s failed: %s", connection, group, error)

    def _on_connection_closed(self, connection: Connection) -> None:
        if self._client_handlers is not None:
            self._client_handlers.connection_closed(connection)

    # -- background tasks -------------------------------------------------------------------------
    async def _persist_offsets(self) -> None:
        assert self.context is not None
        offsets = self.context.offsets
        if not offsets.dirty and offsets.config_file.path.exists():
            return
        text = offsets.encode()
        await asyncio.to_thread(offsets.config_file.save_text, text)

    async def _persist_offsets_forever(self) -> None:
        interval_s = max(self.config.flush_consumer_offset_interval_ms, 100) / 1000
        while True:
            await asyncio.sleep(interval_s)
            try:
                await self._persist_offsets()
                context = self.context
                if context is not None and (
                    context.groups.dirty or context.topics.dirty or context.filters.dirty
                ):
                    # Groups auto-created by pulls and heartbeats, filters changed by heartbeats.
                    await self._persist_configs()
            except Exception:
                log.exception("writing consumerOffset.json failed")

    def _persist_now(self) -> asyncio.Future[None]:
        """Write every changed config file now; the task ends once they are durable."""
        task = asyncio.get_running_loop().create_task(
            self._persist_configs(), name="broker-persist-configs-now"
        )
        self._side_tasks.add(task)
        task.add_done_callback(self._side_tasks.discard)
        return task

    async def _persist_configs(self) -> None:
        async with self._persist_lock:
            await self._persist_configs_unlocked()

    async def _persist_configs_unlocked(self) -> None:
        assert self.context is not None
        context = self.context
        now = self.clock.now_ms()
        writes = []
        if context.topics.dirty:
            writes.append((context.topics.config_file, context.topics.encode()))
        if context.groups.dirty:
            writes.append((context.groups.config_file, context.groups.encode()))
        if context.filters.dirty:
            writes.append((context.filters.config_file, context.filters.encode(now)))
        for config_file, text in writes:
            await asyncio.to_thread(config_file.save_text, text)

    async def _persist_configs_forever(self) -> None:
        while True:
            await self._persist_wanted.wait()
            await asyncio.sleep(PERSIST_DEBOUNCE_MS / 1000)
            self._persist_wanted.clear()
            try:
                await self._persist_configs()
            except Exception:
                log.exception("writing topics.json / subscriptionGroup.json failed")

    async def _housekeeping_forever(self) -> None:
        while True:
            await asyncio.sleep(HOUSEKEEPING_INTERVAL_MS / 1000)
            try:
                self.housekeeping_once()
            except Exception:
                log.exception("client housekeeping failed")

    def housekeeping_once(self) -> None:
        """Drop client connections silent for 120 s (Java ClientHousekeepingService)."""
        assert self.context is not None
        context = self.context
        now = self.clock.now_ms()
        context.stats.sample(now)
        expired, changed = context.consumers.scan_inactive(now)
        expired += context.producers.scan_inactive(now)
        for group, remaining in changed.items():
            if remaining:
                context.notify_consumers(group, remaining)
            else:
                context.filters.unregister(group, now)
        for connection in expired:
            if isinstance(connection, Connection) and not connection.closed:
                connection.close("no heartbeat for 120 s")
        if context.filters.dirty:
            self._persist_wanted.set()
