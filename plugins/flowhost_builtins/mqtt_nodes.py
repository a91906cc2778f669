"""``mqtt-connector`` (uplinks out, downlinks in, through an ``actility-mqtt-iot`` connection) and ``mqtt-in``
(any topic of a broker into a flow, e.g. a network server's own broker)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import Any

import orjson
import voluptuous as vol

from flowhost import Message, Node, Receipt, hookimpl
from flowhost.message import FrozenDict
from flowhost.mqtt import Message as MqttMessage
from flowhost.validation import identifier, subscribe_filter

from .alarm_monitor import AlarmChange
from .mqtt_connection import Downlink, MqttIotConnection, UplinkRejected
from .uplink_outbox import OutboxFull
from .uplink_preparation import PreparedUplink

INBOUND_QUEUE_SIZE = 10_000
# The meta of received messages, frozen once rather than per message.
_META = {(qos, retain): FrozenDict(qos=qos, retain=retain) for qos in (0, 1, 2) for retain in (False, True)}


def connection_of(node: Node) -> MqttIotConnection:
    """The ``actility-mqtt-iot`` connection a node's ``connection`` names; TypeError for another type's."""
    connection = node.context.connection(node.config["connection"])
    if not isinstance(connection, MqttIotConnection):
        raise TypeError(
            f"connection '{node.config['connection']}' is a {type(connection).connector_id} connection; "
            f"{node.type} needs an {MqttIotConnection.connector_id} connection"
        )
    return connection


def _document_of(msg: Message) -> tuple[Any, bytes | None]:
    """The uplink document of a message, and the bytes it was parsed from (None when it came parsed)."""
    data = msg.source_bytes
    if data is not None:
        # Parsed here into a private copy, not frozen: the connector only reads it, and an unchanged document is
        # published as the very bytes that came in.
        try:
            return orjson.loads(data), data
        except orjson.JSONDecodeError:
            pass
    return msg.payload, None


def _patient(msg: Message) -> bool:
    """Whether the source of ``msg`` can wait for room (``mqtt-in``, or a node that awaits nothing)."""
    return msg.receipt is None or msg.receipt.patient


def _refuse_as_stopped(messages: Sequence[Message], node_id: str) -> None:
    """Refuse (retryable) and let go of messages a stopping node never handed on."""
    for msg in messages:
        if msg.receipt is not None:
            msg.receipt.refuse("the node stopped", retryable=True, node_id=node_id)
            msg.receipt.release()


class _InboundPump:
    """Moves messages from the connection's callbacks (synchronous) into the flow (which may make us wait).

    Nothing is dropped: when INBOUND_QUEUE_SIZE messages wait, the connection stops handing on what it receives
    (left unacknowledged at the broker) until half of them went on. A message's receipt keeps its source's hold
    until the message is in its receivers' inboxes: released here, by ``offer`` or later by ``run``."""

    def __init__(self, node: Node, connection: MqttIotConnection) -> None:
        self.node = node
        self.connection = connection
        self.queue: asyncio.Queue[tuple[Message, str]] = asyncio.Queue()
        self._sending = False
        self._paused = False

    def offer(self, msg: Message, port: str) -> None:
        # Straight into the receivers' inboxes when nothing is queued before it (order) and they have room.
        if not self._sending and self.queue.empty() and self.node.context.send_nowait(msg, port):
            if msg.receipt is not None:
                msg.receipt.release()
            return
        self.queue.put_nowait((msg, port))
        self._pause_when_full()

    def offer_many(self, msgs: Sequence[Message], port: str) -> None:
        """:meth:`offer` for messages received together: one hand-off for as many as the receivers have room."""
        sent = 0
        if not self._sending and self.queue.empty():
            sent = self.node.context.send_many_nowait(msgs, port)
            for index in range(sent):
                receipt = msgs[index].receipt
                if receipt is not None:
                    receipt.release()
        if sent < len(msgs):
            put = self.queue.put_nowait
            for index in range(sent, len(msgs)):
                put((msgs[index], port))
            self._pause_when_full()

    def _pause_when_full(self) -> None:
        if not self._paused and self.queue.qsize() >= INBOUND_QUEUE_SIZE:
            self._paused = True
            self.node.context.count("pauses")
            self.connection.pause_inbound(self)

    async def run(self) -> None:
        queue, send = self.queue, self.node.context.send
        sending: Message | None = None
        try:
            while True:
                sending, port = await queue.get()
                self._sending = True
                await send(sending, port)
                self._sending = not queue.empty()
                if sending.receipt is not None:
                    sending.receipt.release()  # the source's own hold: the receivers now hold it
                sending = None
                if self._paused and queue.qsize() <= INBOUND_QUEUE_SIZE // 2:
                    self._paused = False
                    self.connection.resume_inbound(self)
        finally:
            self.connection.resume_inbound(self)
            self._refuse_waiting(sending)

    def _refuse_waiting(self, sending: Message | None) -> None:
        """The node stopped: what it had not handed on is refused (retryable), so that its source learns it was
        not taken (mqtt-in leaves it unacknowledged and the broker delivers it again) instead of waiting for it
        for ever, and every acknowledgement behind it with it."""
        waiting = [] if sending is None else [sending]
        while not self.queue.empty():
            waiting.append(self.queue.get_nowait()[0])
        _refuse_as_stopped(waiting, self.node.id)


class MqttConnector(Node):
    type = "mqtt-connector"
    category = "network"
    description = (
        "ThingPark's MQTT connector: each uplink in is published on the connection's uplinkTopicPattern; "
        "downlinks received on its downlinkTopicPattern come out on 'downlink', other JSON on 'other', the "
        "connection's low-rate alarms (raised and cleared) on 'alarm'."
    )
    outputs = ("downlink", "other", "alarm")
    connection_fields = ("connection",)
    config_schema = vol.Schema({vol.Required("connection"): identifier})
    batch_size = 500
    """Uplinks that waited in the inbox are queued together: one outbox submission, one journal hand-off."""

    async def start(self) -> None:
        self._connection = connection_of(self)
        self._pump = _InboundPump(self, self._connection)
        self._raised: set[int] = set()
        self._stop_listening = (
            self._connection.add_downlink_listener(self._on_downlink),
            self._connection.add_alarm_listener(self._on_alarm, self.context.clock),
        )
        self.context.create_task(self._pump.run(), "downlinks")

    def _on_downlink(self, downlink: Downlink) -> None:
        self.context.count("downlinks" if downlink.kind == "downlink" else "other")
        self._pump.offer(Message.create(downlink.document, topic=downlink.topic), downlink.kind)

    def _on_alarm(self, change: AlarmChange) -> None:
        """A message on 'alarm', an ``alarm`` runtime event, a counter, and the node's status."""
        if change.state == "raised":
            self._raised.add(change.alarm.index)
            self.context.count("alarms")
        else:
            self._raised.discard(change.alarm.index)
            self.context.count("alarmsCleared")
        if self._raised:
            names = ", ".join(str(index) for index in sorted(self._raised))
            self.context.status(f"low uplink rate: alarm {names} raised", "warning")
        else:
            self.context.status("uplink rate back above the alarms' minimum", "ok")
        described = change.as_json(self._connection.id)
        self.context.alarm(change.state, described)
        self._pump.offer(Message.create(described, topic="alarm"), "alarm")

    async def on_input(self, msg: Message) -> None:
        await self.on_input_batch((msg,))

    async def on_input_batch(self, messages: Sequence[Message]) -> None:
        """Parse and prepare what waited in the inbox, then queue it in one outbox submission (one hand-off to the
        journal). An uplink that cannot be published is refused alone. When the outbox has no room for all of
        them, a source that can wait (mqtt-in) waits for room for the whole batch before any of it is queued (its
        inbox fills, then mqtt-in stops taking messages from its broker, leaving them unacknowledged there); one
        that must answer now (http-uplink) is refused, or with dropOldest makes room."""
        connection = self._connection
        now = time.time()
        prepared: list[tuple[Message, PreparedUplink]] = []
        for msg in messages:
            try:
                data = msg.source_bytes
                uplink = None if data is None else connection.prepare_uplink_bytes(data, now, now)
                if uplink is None:
                    document, data = _document_of(msg)
                    uplink = connection.prepare_uplink(document, now, now, data)
                prepared.append((msg, uplink))
            except UplinkRejected as exc:
                self._refuse(msg, str(exc), retryable=False)
            except Exception as exc:  # a failure of this uplink alone: the others of the batch go on
                self.context.report_error(exc, msg)
                if msg.receipt is not None:
                    msg.receipt.refuse(f"node {self.id} failed: {exc}", retryable=True, node_id=self.id)
        all_patient = all(_patient(msg) for msg, _ in prepared)
        while prepared:
            room = connection.outbox_room_left
            if room < len(prepared) and _patient(prepared[room][0]):
                wanted = min(len(prepared) if all_patient else room + 1, connection.outbox_capacity)
                if room < wanted:
                    self.context.count("waitedForRoom")
                    await connection.outbox_room(wanted)
                    continue
            taken, prepared = prepared[:room], prepared[room:]
            self._queue(taken)
            if prepared and not _patient(prepared[0][0]):
                self._queue(prepared[:1])  # no room: refused, or with dropOldest queued in place of the oldest
                prepared = prepared[1:]

    def _queue(self, prepared: Sequence[tuple[Message, PreparedUplink]]) -> None:
        if not prepared:
            return
        try:
            # The outbox holds each receipt until its uplink is on disk: the source may then say "accepted".
            self._connection.queue_uplinks([(uplink, msg.receipt) for msg, uplink in prepared])
        except OutboxFull as exc:
            for msg, _ in prepared:
                self._refuse(msg, str(exc), retryable=True)
        else:
            self.context.count("uplinks", len(prepared))

    def _refuse(self, msg: Message, reason: str, *, retryable: bool) -> None:
        self.context.count("rejected" if not retryable else "refused")
        self.context.log.warning("node %s: uplink %s not taken: %s", self.id, msg.id, reason)
        if msg.receipt is not None:
            msg.receipt.refuse(reason, retryable=retryable, node_id=self.id)

    async def close(self) -> None:
        for stop in getattr(self, "_stop_listening", ()):
            stop()


class MqttIn(Node):
    type = "mqtt-in"
    category = "input"
    description = (
        "Subscribes to a topic filter on a connection's broker and emits each message (JSON parsed when it is "
        "JSON). For bridging a network server's broker: ChirpStack application/+/device/+/event/up, "
        "The Things Stack v3/+/devices/+/up."
    )
    has_input = False
    outputs = ("out",)
    connection_fields = ("connection",)
    config_schema = vol.Schema(
        {
            vol.Required("connection"): identifier,
            vol.Required("topic"): subscribe_filter,
            vol.Optional("qos", default=1): vol.In([0, 1, 2]),
            vol.Optional("acknowledge", default="stored"): vol.In(
                ["stored", "received"], msg="acknowledge must be 'stored' or 'received'"
            ),
        }
    )

    async def start(self) -> None:
        self._store_first = self.config["acknowledge"] == "stored"
        self._connection = connection_of(self)
        self._pump = _InboundPump(self, self._connection)
        self._received: list[Message] = []  # what arrived since the last hand-off to the flow
        self._loop = asyncio.get_running_loop()
        self._unsubscribe = self._connection.add_subscription(
            self.config["topic"], self.config["qos"], self._on_message
        )
        self.context.create_task(self._pump.run(), "messages")

    def _on_message(self, message: MqttMessage) -> Receipt | None:
        """Emit the message; at QoS 1/2 with ``acknowledge: stored``, return its receipt, which the MQTT client
        waits for: the PUBACK leaves once the flow took the message (a connector stored it on disk), or refused it
        for good (sending it again would not help); one refused as retryable (a full outbox) is left
        unacknowledged, so that the broker delivers it again."""
        if message.dup:
            self.context.count("redelivered")  # sent again by the broker: the flow may have seen it before
        received = self._received
        if not received:
            # What one read from the socket brings goes on in one hand-off, once the client has handled the read.
            self._loop.call_soon(self._hand_on)
        meta = _META[message.qos, bool(message.retain)]
        if not (message.qos and self._store_first):
            received.append(Message.from_bytes(message.payload, topic=message.topic, meta=meta))
            return None
        receipt = Receipt(patient=True)  # unacknowledged meanwhile: nodes may wait for room rather than refuse
        received.append(Message.from_bytes(message.payload, topic=message.topic, meta=meta, receipt=receipt))
        return receipt

    def _hand_on(self) -> None:
        received, self._received = self._received, []
        if received:
            self.context.count("received", len(received))
            self._pump.offer_many(received, "out")

    async def close(self) -> None:
        unsubscribe = getattr(self, "_unsubscribe", None)
        if unsubscribe is not None:
            unsubscribe()
        received, self._received = getattr(self, "_received", []), []
        _refuse_as_stopped(received, self.id)  # not handed on: unacknowledged, the broker delivers them again


@hookimpl
def flowhost_register_node_types(register):
    register(MqttConnector)
    register(MqttIn)


@hookimpl
def flowhost_register_connection_types(register):
    register(MqttIotConnection)
