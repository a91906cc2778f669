"""The ``actility-mqtt-iot`` connection: one MQTT client per connection, shared by every node that names it.

It owns the reconnect loop (exponential back-off with jitter), the ordered outbox of uplinks, the downlink
subscription and the routing of inbound messages to ``mqtt-connector`` and ``mqtt-in`` nodes.
"""

from __future__ import annotations

import asyncio
import logging
import random
import ssl
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

import voluptuous as vol
from jinja2.sandbox import SandboxedEnvironment

from flowhost import Connection, Receipt
from flowhost.clock import Clock
from flowhost.mqtt import (
    BadCredentialsError,
    ConnectionFailedError,
    ConnectionLostError,
    ConnectRefusedError,
    ConnectTimeoutError,
    MQTTClient,
    MQTTError,
    NotAuthorizedError,
    NotConnectedError,
    PublishRefusedError,
    Settlement,
    SubscribeRefusedError,
    UnsupportedProtocolVersionError,
)
from flowhost.mqtt import Message as MqttMessage

from .alarm_monitor import AlarmChange, AlarmWatch
from .dead_letters import DeadLetter, DeadLetterStore, replay
from .mqtt_client_factory import client_for
from .mqtt_connection_config import (
    CONFIGURATION_SCHEMA,
    SECRET_FIELDS,
    MqttConnectionSettings,
    configuration_schema,
    settings_from_configuration,
)
from .thingpark import DocumentError, parse_downlink
from .topics import topic_matches
from .uplink_journal import JournalStore
from .uplink_outbox import Outbox, OutboxEntry, OutboxFull
from .uplink_preparation import PreparedUplink, UplinkPreparer, UplinkRejected
from .uplink_publisher import OutboxPublisher

log = logging.getLogger(__name__)

INITIAL_RECONNECT_DELAY = 1.0
ROUTE_CACHE_SIZE = 4096
OUTBOX_COMMIT_DELAY = 0.005
"""While connected, uplinks wait this long before being written: the broker's PUBACK usually comes first, and an
uplink acknowledged before its commit is never written at all."""
InboundHandler = Callable[[MqttMessage], "asyncio.Future | Settlement | None"]
Unsubscribe = Callable[[], None]
"""What `add_subscription` and the `add_*_listener` methods return (as Home Assistant's `async_subscribe`): a node
calls it when it closes, and cannot remove what another node added."""


class UplinkRefused(UplinkRejected):
    """The broker refused this uplink: sending it again would not help. Kept as a dead letter when there was
    room; the refusal (for good) of its receipt when the broker refused it before it was stored."""


@dataclass(frozen=True, slots=True)
class Downlink:
    kind: str  # "downlink" (a valid DevEUI_downlink) or "other" (any other JSON document)
    document: Any
    topic: str


class MqttIotConnection(Connection):
    connector_id = "actility-mqtt-iot"
    inactive_state = "DEACTIVATED"  # ThingPark's name for a connection configured active: false
    description = (
        "ThingPark's MQTT connector: publishes uplinks on a topic pattern and receives downlinks from "
        "AWS IoT Core, Amazon MQ, Mosquitto, EMQX... over SSL, WSS or TCP."
    )
    config_schema = CONFIGURATION_SCHEMA
    secret_fields = SECRET_FIELDS

    @classmethod
    def configuration_schema(cls, templates: SandboxedEnvironment) -> vol.Schema:
        return configuration_schema(templates)  # topic patterns may use the plugins' filters

    form_labels = {  # the names ThingPark's own form uses
        "uplinkTopicPattern": "Uplink Topic Pattern",
        "downlinkTopicPattern": "Downlink Topic Pattern",
        "hostName": "Host Name",
        "protocol": "Protocol",
        "username": "Username",
        "password": "Password",
        "trustedCaCertficate": "CA Certificate",
        "certificate": "Certificate",
        "privateKey": "Private Key",
        "description": "Description",
        "mqttVersion": "MQTT version",
        "qos": "QoS",
        "clientId": "Client id",
    }

    def __init__(self, connection_id, name, configuration, context) -> None:
        super().__init__(connection_id, name, configuration, context)
        self.settings: MqttConnectionSettings = settings_from_configuration(
            connection_id, configuration, context.templates
        )
        self.counters = dict.fromkeys(
            (
                "uplinksPublished",
                "uplinksExpired",
                "uplinksRejected",
                "uplinksDropped",
                "uplinksRefused",
                "uplinksRecovered",
                "uplinksDeadLettered",
                "deadLettersDropped",
                "deadLettersReplayed",
                "publishFailures",
                "downlinksReceived",
                "downlinksRejected",
                "inboundHandlerErrors",
                "inboundUnrouted",
                "downlinksRetainedIgnored",
                "downlinksEmptyIgnored",
                "reconnections",
                "alarmsRaised",
                "alarmsCleared",
            ),
            0,
        )
        self._downlink_topic = self.settings.downlink_topic
        self._preparer = UplinkPreparer(self.settings)
        store = None
        if self.settings.durable_outbox:
            store = JournalStore(context.data_dir / "outbox", sync=self.settings.outbox_sync)
        self._outbox = Outbox(
            self.settings.outbox_size, store, drop_oldest=self.settings.outbox_overflow == "dropOldest"
        )
        self._publisher = OutboxPublisher(connection_id, self._outbox, self.counters, context.log, self._dead_letter)
        self._dead_letters = DeadLetterStore(context.data_dir, self.settings.dead_letter_limit)
        self._downlink_listeners: list[Callable[[Downlink], None]] = []
        self._subscriptions: dict[str, tuple[int, list[InboundHandler]]] = {}
        self._routes: dict[str, tuple[InboundHandler, ...]] = {}  # topic -> handlers of the matching filters
        self._client: MQTTClient | None = None
        self._supervisor: asyncio.Task | None = None
        self._stopping = False
        self._nodes_ready = asyncio.Event()
        self._inbound_pausers: set[object] = set()
        self._unsubscribe_later: set[str] = set()
        alarms = self.settings.alarms
        self._alarms = AlarmWatch(alarms, connection_id, self.counters, context.log) if alarms else None

    # -- what nodes use ---------------------------------------------------------------------------------------
    def submit_uplink(
        self,
        document: Mapping[str, Any],
        arrival: float,
        stored: Receipt | None = None,
        *,
        source_bytes: bytes | None = None,
    ) -> None:
        """Queue one uplink for publishing. Raises UplinkRejected with the reason when it cannot be published,
        OutboxFull when there is no room now; the outbox holds ``stored`` until the uplink is on disk.
        ``source_bytes``: the JSON ``document`` was parsed from, published as they are when the document goes
        out unchanged."""
        self.queue_uplinks([(self.prepare_uplink(document, arrival, time.time(), source_bytes), stored)])

    def prepare_uplink(
        self, document: Mapping[str, Any], arrival: float, now: float, source_bytes: bytes | None = None
    ) -> PreparedUplink:
        """What :meth:`queue_uplinks` takes for ``document`` (arrived at ``arrival``, published from ``now``).
        Raises UplinkRejected with the reason, counted, when it cannot be published."""
        try:
            return self._preparer.prepare(document, arrival, now, source_bytes)
        except UplinkRejected as exc:
            self._count_rejected(exc)
            raise

    def prepare_uplink_bytes(self, data: bytes, arrival: float, now: float) -> PreparedUplink | None:
        """:meth:`prepare_uplink` for a document still in its JSON bytes, without parsing it whole when this
        connection does not need it (see ``UplinkPreparer.prepare_bytes``); None: parse it and call that."""
        try:
            return self._preparer.prepare_bytes(data, arrival, now)
        except UplinkRejected as exc:
            self._count_rejected(exc)
            raise

    def _count_rejected(self, rejection: UplinkRejected) -> None:
        self.counters["uplinksExpired" if rejection.expired else "uplinksRejected"] += 1

    def queue_uplinks(self, uplinks: Sequence[tuple[PreparedUplink, Receipt | None]]) -> None:
        """Queue prepared uplinks in order, as one submission to the outbox (one hand-off to its journal).
        Raises OutboxFull, queueing none, when there is no room for all of them (see :attr:`outbox_room_left`);
        the outbox holds each ``stored`` receipt until its uplink is on disk."""
        try:
            dropped = self._outbox.add_many(uplinks)
        except OutboxFull:
            self.counters["uplinksRefused"] += len(uplinks)
            raise
        if self._alarms is not None:
            for _ in uplinks:
                self._alarms.record_uplink()
        for entry in dropped:
            self.counters["uplinksDropped"] += 1
            self.context.log.warning(
                "connection %s: outbox full (%d uplinks), dropped the oldest one for %s",
                self.id,
                self._outbox.capacity,
                entry.topic,
            )
        if uplinks:
            self._publisher.ready.set()

    async def publish(self, topic: str, payload: bytes, qos: int = 0, retain: bool = False) -> None:
        """Publish one message on this connection's broker now, outside the uplink outbox (``mqtt-out``); at QoS
        1/2 return once the broker acknowledged it (PUBACK / PUBCOMP). Raises NotConnectedError while the
        connection is not open, PublishRefusedError when the broker refused it, PublishTimeoutError, or
        ConnectionLostError."""
        client = self._client
        if client is None or not client.is_connected:
            raise NotConnectedError(f"connection {self.id} is not open ({self.state})")
        await client.publish_and_wait(topic, payload, qos, retain)

    def add_downlink_listener(self, listener: Callable[[Downlink], None]) -> Unsubscribe:
        """Tell ``listener`` every downlink (and report) that arrives; returns its removal."""
        self._downlink_listeners.append(listener)
        return partial(self._remove_downlink_listener, listener)

    def _remove_downlink_listener(self, listener: Callable[[Downlink], None]) -> None:
        if listener in self._downlink_listeners:
            self._downlink_listeners.remove(listener)

    def add_alarm_listener(self, listener: Callable[[AlarmChange], None], clock: Clock) -> Unsubscribe:
        """Tell ``listener`` when one of the connection's ``alarms`` is raised or cleared; the first listener's
        clock (the runtime's) starts the watch. Returns its removal."""
        if self._alarms is not None and self._alarms.add_listener(listener, clock):
            self.context.create_task(self._alarms.run(), "alarms")
        return partial(self._remove_alarm_listener, listener)

    def _remove_alarm_listener(self, listener: Callable[[AlarmChange], None]) -> None:
        if self._alarms is not None:
            self._alarms.remove_listener(listener)

    def add_subscription(self, topic_filter: str, qos: int, handler: InboundHandler) -> Unsubscribe:
        """Route messages matching ``topic_filter`` to ``handler``; subscribed now and after every reconnect.
        Returns the unsubscribe: ``handler`` hears no more, and the filter is unsubscribed once no handler wants
        it."""
        qos_now, handlers = self._subscriptions.get(topic_filter, (qos, []))
        self._unsubscribe_later.discard(topic_filter)
        handlers.append(handler)
        self._routes.clear()
        self._subscriptions[topic_filter] = (max(qos_now, qos), handlers)
        client = self._client
        if client is not None and client.is_connected:
            self.context.create_task(self._subscribe(client, topic_filter), f"subscribe {topic_filter}")
        return partial(self._remove_subscription, topic_filter, handler)

    def _remove_subscription(self, topic_filter: str, handler: InboundHandler) -> None:
        entry = self._subscriptions.get(topic_filter)
        if entry is None or handler not in entry[1]:
            return
        entry[1].remove(handler)
        self._routes.clear()
        if not entry[1]:
            del self._subscriptions[topic_filter]
            # Unsubscribed once the deploy is over (nodes_started), or at the next connection when disconnected, if
            # no new node took the filter. When the connection stops instead, the filter stays in the persistent
            # session and what arrives meanwhile waits.
            self._unsubscribe_later.add(topic_filter)

    @property
    def queued(self) -> int:
        return len(self._outbox)

    @property
    def outbox_full(self) -> bool:
        return self._outbox.full

    @property
    def outbox_capacity(self) -> int:
        return self._outbox.capacity

    @property
    def outbox_room_left(self) -> int:
        """How many uplinks the outbox takes now without refusing (or dropping) one."""
        return max(self._outbox.capacity - len(self._outbox), 0)

    async def outbox_room(self, count: int = 1) -> None:
        """Return once the outbox can take ``count`` more uplinks, or as many as it holds (at once when it can
        now)."""
        await self._outbox.wait_for_room(count)

    def pause_inbound(self, pauser: object) -> None:
        """Stop handing on received messages (left unacknowledged at the broker) until every ``pauser`` that asked
        called :meth:`resume_inbound`: a receiver's back-pressure, in place of dropping or disconnecting."""
        if not self._inbound_pausers:
            self.context.log.info("connection %s: receiving paused (a receiver is full)", self.id)
        self._inbound_pausers.add(pauser)
        if self._client is not None:
            self._client.pause_inbound()

    def resume_inbound(self, pauser: object) -> None:
        if pauser not in self._inbound_pausers:
            return
        self._inbound_pausers.discard(pauser)
        if not self._inbound_pausers and self._client is not None:
            self.context.log.info("connection %s: receiving resumed", self.id)
            self._client.resume_inbound()

    def snapshot(self) -> dict[str, Any]:
        snapshot = super().snapshot()
        snapshot["counters"]["uplinksQueued"] = len(self._outbox)
        snapshot["counters"]["deadLetters"] = len(self._dead_letters)
        return snapshot

    # -- lifecycle ----------------------------------------------------------------------------------------------
    async def start(self) -> None:
        unreadable = await asyncio.to_thread(self._dead_letters.open)
        self.counters["deadLettersDropped"] += unreadable
        recovered = await self._outbox.open()
        if recovered:
            self.counters["uplinksRecovered"] = recovered
            self.context.log.info("connection %s: %d uplinks pending from the last run", self.id, recovered)
        if not self.context.active:
            return  # DEACTIVATED: uplinks wait in the outbox until the connection is activated
        if self.settings.downlink_subscription is not None:
            self._subscriptions[self.settings.downlink_subscription] = (1, [self._on_downlink_message])
        self._client = self._build_client()
        if self._inbound_pausers:
            self._client.pause_inbound()
        self._supervisor = self.context.create_task(self._supervise(), "reconnect loop")

    def nodes_started(self) -> None:
        self._nodes_ready.set()
        client = self._client
        self._unsubscribe_later -= set(self._subscriptions)
        if client is not None and client.is_connected:
            for topic_filter in sorted(self._unsubscribe_later):
                self.context.create_task(self._unsubscribe(client, topic_filter), f"unsubscribe {topic_filter}")
        # Disconnected: the filters stay in _unsubscribe_later until the next connection (the broker's session,
        # or the client's own resubscription, would bring their messages back with nobody to take them).

    async def stop(self) -> None:
        self._stopping = True
        if self._supervisor is not None:
            self._supervisor.cancel()
        client = self._client
        if client is not None and client.is_connected:
            try:
                await self._leave_shared_subscriptions(client)
                await client.disconnect()
            except MQTTError as exc:
                self.context.log.info("connection %s: disconnect: %s", self.id, exc)
        if self._outbox:
            kept = "kept on disk for the next start" if self.settings.durable_outbox else "lost"
            self.context.log.warning(
                "connection %s stopped with %d uplinks not yet published (%s)", self.id, len(self._outbox), kept
            )
        await self._outbox.close()
        self._dead_letters.close()
        if self.context.active:
            self.context.state_changed("CLOSED")

    async def _leave_shared_subscriptions(self, client: MQTTClient) -> None:
        """A stopping member of a shared subscription group leaves it, so that the broker hands the group's
        messages to the members still running instead of queueing a share for this one's kept session. Its other
        subscriptions stay in the session: what arrives while flowhost restarts waits for it."""
        shared = [topic_filter for topic_filter in client.subscriptions if topic_filter.startswith("$share/")]
        if shared:
            await client.unsubscribe(*shared)

    def _build_client(self) -> MQTTClient:
        # A persistent session (unless sessionExpiry is 0): what arrives while flowhost is away (stopped, crashed,
        # reconnecting) or unacknowledged when it went is delivered when it comes back.
        return client_for(
            self.settings,
            on_message=self._on_message,
            on_connect_sent=lambda: self.context.state_changed("AUTHENTICATING"),
        )

    async def _supervise(self) -> None:
        """Connect, publish and listen; on failure wait (exponential back-off with jitter) and connect again."""
        client = self._client
        delay = INITIAL_RECONNECT_DELAY
        cap = self.settings.reconnect_max_delay
        connected_before = False
        # Connect once the nodes listen: a resumed session's queued messages arrive right after CONNACK.
        await self._nodes_ready.wait()
        while not self._stopping:
            self.context.state_changed("OPENING")
            try:
                await client.connect()
                for topic_filter in self._subscriptions:
                    if topic_filter not in client.subscriptions:
                        await self._subscribe(client, topic_filter, raise_errors=True)
                for topic_filter in sorted(self._unsubscribe_later - set(self._subscriptions)):
                    await self._unsubscribe(client, topic_filter)
            except (BadCredentialsError, NotAuthorizedError) as exc:
                self.context.state_changed("AUTHENTICATION_FAILED", _describe(exc))
                delay = cap  # refused credentials will not get better by asking often
            except UnsupportedProtocolVersionError as exc:
                advice = ' (set mqttVersion: "3.1.1")' if self.settings.mqtt_version == "5" else ""
                self.context.state_changed("UNREACHABLE", _describe(exc) + advice)
                delay = cap  # nor will the broker's protocol version
            except (ConnectRefusedError, SubscribeRefusedError) as exc:
                self.context.state_changed("UNREACHABLE", _describe(exc))
                await _disconnect_quietly(client)
            except (
                ConnectTimeoutError,
                ConnectionFailedError,
                ConnectionLostError,
                OSError,
                ssl.SSLError,
            ) as exc:
                self.context.state_changed("UNREACHABLE", _describe(exc))
            else:
                if connected_before:
                    self.counters["reconnections"] += 1
                connected_before = True
                delay = INITIAL_RECONNECT_DELAY
                self.context.state_changed("OPENED")
                publishing = self._publisher.run(client, self.settings.qos, self.settings.retain)
                sender = self.context.create_task(publishing, "publish outbox")
                self._outbox.commit_delay = OUTBOX_COMMIT_DELAY
                reason = await client.wait_closed()
                self._outbox.commit_delay = 0.0
                sender.cancel()
                if self._stopping:
                    return
                self.context.state_changed("UNREACHABLE", _describe(reason) if reason else "disconnected")
            wait = delay * random.uniform(0.8, 1.2)
            await asyncio.sleep(wait)
            delay = min(delay * 2, cap)

    async def _subscribe(self, client: MQTTClient, topic_filter: str, raise_errors: bool = False) -> None:
        qos = self._subscriptions.get(topic_filter, (1, []))[0]
        try:
            await client.subscribe(topic_filter, qos)
        except MQTTError as exc:
            if raise_errors:
                raise
            self.context.log.warning("connection %s: subscribing to %s failed: %s", self.id, topic_filter, exc)

    async def _unsubscribe(self, client: MQTTClient, topic_filter: str) -> None:
        try:
            await client.unsubscribe(topic_filter)
        except MQTTError as exc:  # the connection is going away: tried again at the next one
            self.context.log.info("connection %s: unsubscribing from %s: %s", self.id, topic_filter, exc)
        else:
            self._unsubscribe_later.discard(topic_filter)

    # -- dead letters -----------------------------------------------------------------------------------------
    keeps_dead_letters = True

    def _dead_letter(self, entry: OutboxEntry, error: PublishRefusedError) -> None:
        """The broker refused the uplink: it would be refused again. Kept for an operator, if there is room."""
        letter = self._dead_letters.add(entry.topic, entry.payload, str(error), error.reason_code)
        if letter is None:
            self.counters["deadLettersDropped"] += 1
            outcome = f"dropped: no room for dead letters (deadLetterLimit {self._dead_letters.max_letters})"
        else:
            self.counters["uplinksDeadLettered"] += 1
            outcome = f"kept as dead letter {letter.id} of connection {self.id}"
        level = logging.WARNING if letter else logging.ERROR
        self.context.log.log(level, "connection %s: uplink on %s: %s; %s", self.id, entry.topic, error, outcome)
        self._outbox.refused(entry, UplinkRefused(f"{error}; {outcome}"))

    def dead_letters(self, limit: int, after: int | None) -> tuple[list[dict[str, Any]], int | None]:
        letters, next_after = self._dead_letters.page(limit, after)
        return [letter.as_json() for letter in letters], next_after

    async def replay_dead_letters(self, ids: Collection[int] | None) -> dict[str, Any]:
        def resubmit(letter: DeadLetter, stored: Receipt) -> bool:
            try:
                self._outbox.add(letter.topic, letter.payload, None, stored)  # replayed on purpose: no expiry
            except OutboxFull:
                return False
            self._publisher.ready.set()
            return True

        result = await replay(self._dead_letters, ids, resubmit)
        self.counters["deadLettersReplayed"] += result["replayed"]
        return result

    async def delete_dead_letters(self, ids: Collection[int] | None) -> int:
        return self._dead_letters.remove(ids)

    # -- inbound ------------------------------------------------------------------------------------------------
    def _on_message(self, message: MqttMessage) -> asyncio.Future | Settlement | None:
        """Hand a message to the handlers of its topic. What they return (a settlement or future, settled once the
        message is stored) tells the MQTT client when to acknowledge it."""
        handlers = self._routes.get(message.topic)
        if handlers is None:
            handlers = self._route(message.topic)
        if len(handlers) == 1:
            try:
                return handlers[0](message)
            except Exception as exc:
                return self._handler_failed(message, exc)
        if not handlers:
            self.counters["inboundUnrouted"] += 1  # no node subscribes to it (any more): acknowledged, dropped
            return None
        results = []
        for handler in handlers:  # one failing handler does not keep the message from the others
            try:
                result = handler(message)
            except Exception as exc:
                result = self._handler_failed(message, exc)
            if result is not None:
                results.append(result)
        if not results:
            return None
        return results[0] if len(results) == 1 else Settlement.all_of(results)

    def _handler_failed(self, message: MqttMessage, error: Exception) -> Settlement | None:
        """A handler raised: the message is not acknowledged (QoS 1/2), so the broker delivers it again."""
        self.counters["inboundHandlerErrors"] += 1
        self.context.log.error(
            "connection %s: a handler failed for a message on %s: %s", self.id, message.topic, error, exc_info=error
        )
        if not message.qos:
            return None
        failed = Settlement()
        failed.refuse(str(error), retryable=True)  # the connection drops, naming it
        failed.release()
        return failed

    def _route(self, topic: str) -> tuple[InboundHandler, ...]:
        """The handlers for a topic, remembered: matching every filter again for each message costs ~3%."""
        handlers = tuple(
            handler
            for topic_filter, (_, filter_handlers) in self._subscriptions.items()
            if topic_matches(topic_filter, topic)
            for handler in filter_handlers
        )
        if len(self._routes) >= ROUTE_CACHE_SIZE:
            self._routes.clear()
        self._routes[topic] = handlers
        return handlers

    def _on_downlink_message(self, message: MqttMessage) -> None:
        values = self._downlink_topic.match(message.topic)
        if values is None:
            return
        if not message.payload:  # clears a retained message: not a downlink, and not a broken one either
            self.counters["downlinksEmptyIgnored"] += 1
            return
        if message.retain and not self.settings.accept_retained_downlinks:
            # Sent again on every reconnect: the device would get the same command each time.
            self.counters["downlinksRetainedIgnored"] += 1
            self.context.log.info("connection %s: retained downlink on %s ignored", self.id, message.topic)
            return
        self.counters["downlinksReceived"] += 1
        try:
            result = parse_downlink(
                message.payload, values, self.settings.downlink_port, self.settings.downlink_application_server
            )
        except DocumentError as exc:
            self.counters["downlinksRejected"] += 1
            self.context.log.warning("connection %s: downlink on %s rejected: %s", self.id, message.topic, exc)
            return
        downlink = Downlink(result.kind, result.document, message.topic)
        for listener in list(self._downlink_listeners):
            listener(downlink)


def _describe(error: BaseException) -> str:
    text = str(error)
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


async def _disconnect_quietly(client: MQTTClient) -> None:
    try:
        await client.disconnect()
    except MQTTError:
        pass
