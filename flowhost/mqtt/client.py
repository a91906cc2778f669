"""The MQTT client: session state (in-flight messages, subscriptions) that outlives each connection.

Reconnecting is the caller's policy: call `connect()` again on the same object. What the client guarantees:

- Every QoS 1/2 publish returns a future: its result is the broker's reason code (0 unless MQTT 5 said
  otherwise); it fails with `PublishTimeoutError`, `PublishRefusedError` or `ConnectionLostError`.
- A QoS 1/2 message that was not acknowledged when the connection dropped is kept. On the next `connect()`:
  if the broker resumed the session (CONNACK session present) it is resent in order with DUP=1; if not, it is
  handed back in `ConnectResult.undelivered` (in publish order) so that the caller can publish it again.
  With `clean_start=True` its future fails with `ConnectionLostError` when the connection drops, which therefore
  means "outcome unknown yet", not "lost". With a kept session (`clean_start=False`) the outcome waits for the
  next connection instead: the PUBACK of the resent message settles it, or, when the broker did not resume the
  session, it fails with `ConnectionLostError` (publish it again), so that a caller that republishes what fails
  does not send it twice.
- Subscriptions are remembered and sent again by `connect()` when the broker did not resume the session
  (a resumed session keeps them on the broker; resubscribing would replay retained messages).
- Inbound QoS 1: PUBACK is queued after `on_message` returns (still in the same write as other packets), so a
  message whose handler was interrupted by a crash is redelivered. Inbound QoS 2 is delivered exactly once.
  When `on_message` returns an `asyncio.Future` (or an `Acknowledgement`, its cheaper stand-in), the
  acknowledgement (PUBACK, or PUBREC at QoS 2) waits until that is done: a caller that must store a message first
  acknowledges it only once stored.
  Acknowledgements still leave in the order the messages came (MQTT requires it); a future that fails drops
  the connection without acknowledging, so that a persistent session gets the message again.
  `on_message` may run before `connect()` returns: a resumed session's queued messages follow CONNACK at once.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from . import packets as p
from .errors import (
    AckTimeoutError,
    BrokerStalledError,
    ConnectionFailedError,
    ConnectionLostError,
    ConnectTimeoutError,
    MQTTError,
    NotConnectedError,
    ProtocolError,
    PublishRefusedError,
    PublishTimeoutError,
    ServerDisconnectedError,
    SubscribeRefusedError,
    UnsubscribeRefusedError,
    connect_refused,
)
from .packets import MQTT_5, Message, Properties, Subscription, Will
from .protocol import MQTTProtocol, PacketHandler

# MQTT 3.1.1 has no Receive Maximum; Mosquitto's default window is 20 and Mosquitto 2.0.11 acknowledges but
# silently drops inbound QoS 2 messages beyond it (seen in tests here), so 3.1.1 stays within 20 by default.
MQTT_311_DEFAULT_INFLIGHT = 20
# Leaves packet identifiers free for SUBSCRIBE/UNSUBSCRIBE while the publish window is full.
MAX_INFLIGHT_LIMIT = 65_000
_TOPIC_CACHE_SIZE = 4096
# Fixed-header first bytes of PUBLISH by [qos][retain].
_PUBLISH_FIRST = [[0x30 | qos << 1 | retain for retain in (0, 1)] for qos in range(3)]


class Endpoint(Protocol):
    """Where to connect: `TcpEndpoint` or `WebSocketEndpoint` (flowhost.mqtt.transports)."""

    async def open(self, protocol_factory: Callable[[], asyncio.Protocol]) -> asyncio.Protocol: ...


@dataclass(slots=True)
class ConnectResult:
    session_present: bool
    reason_code: int
    properties: Properties
    receive_maximum: int
    """The broker's Receive Maximum (65535 when it did not announce one); the publish window is the smaller of
    this and the client's `max_inflight`."""
    undelivered: list[Message] = field(default_factory=list)
    """QoS 1/2 messages not acknowledged when the broker lost the session; publish them again if needed."""


class _Outgoing:
    """A QoS 1/2 publish from the moment it is accepted until it is acknowledged or handed back."""

    __slots__ = (
        "deadline",
        "future",
        "packet",
        "packet_id",
        "payload",
        "properties",
        "properties_field",
        "qos",
        "released",
        "retain",
        "topic",
        "topic_field",
    )

    def __init__(
        self,
        topic: str,
        topic_field: bytes,
        payload: bytes,
        qos: int,
        retain: bool,
        properties: Properties | None,
        properties_field: bytes,
        future: asyncio.Future[int] | _Notify,
    ) -> None:
        self.topic = topic
        self.topic_field = topic_field
        self.payload = payload
        self.qos = qos
        self.retain = retain
        self.properties = properties
        self.properties_field = properties_field
        self.future = future
        self.packet = b""
        self.packet_id = 0
        self.deadline = 0.0
        # QoS 2: PUBREC received and PUBREL sent; only PUBCOMP is missing.
        self.released = False

    def as_message(self) -> Message:
        return Message(self.topic, self.payload, self.qos, self.retain, False, None, dict(self.properties or {}))


PublishCallback = Callable[[int | None, BaseException | None], None]
"""``on_done(reason_code, error)`` of `MQTTClient.publish_nowait`: one of the two is None."""


class _Notify:
    """Stands in for a publish's future when the caller gave `on_done`; settled once, like a future."""

    __slots__ = ("_on_done", "_settled")

    def __init__(self, on_done: PublishCallback) -> None:
        self._on_done = on_done
        self._settled = False

    def done(self) -> bool:
        return self._settled

    def set_result(self, reason_code: int) -> None:
        self._settled = True
        self._on_done(reason_code, None)

    def set_exception(self, error: BaseException) -> None:
        self._settled = True
        self._on_done(None, error)

    def exception(self) -> None:
        return None


class Acknowledgement:
    """What `on_message` may return instead of an `asyncio.Future` to acknowledge its message later, at a lower
    cost per message (no future, no event-loop callback): call `done()` once the message is handled (stored), or
    `fail(error)` to leave it unacknowledged (the connection drops, so that the broker delivers it again). Only
    the first call counts; the acknowledgements still leave in arrival order."""

    __slots__ = ("_on_settled", "error", "settled")

    def __init__(self) -> None:
        self.settled = False
        self.error: BaseException | None = None
        self._on_settled: Callable[[BaseException | None], None] | None = None

    def done(self) -> None:
        self._settle(None)

    def fail(self, error: BaseException) -> None:
        self._settle(error)

    def on_settled(self, callback: Callable[[BaseException | None], None]) -> None:
        """Call ``callback(error)`` when settled (now, if it is): one callback, the last one given."""
        if self.settled:
            callback(self.error)
        else:
            self._on_settled = callback

    def _settle(self, error: BaseException | None) -> None:
        if self.settled:
            return
        self.settled, self.error = True, error
        if self._on_settled is not None:
            self._on_settled(error)

    @classmethod
    def all_of(cls, parts: Sequence[Acknowledgement | asyncio.Future]) -> Acknowledgement:
        """Done when every part is done; failed with the first part that fails."""
        combined = cls()
        waiting = len(parts)

        def part_settled(error: BaseException | None) -> None:
            nonlocal waiting
            waiting -= 1
            if error is not None:
                combined.fail(error)
            elif not waiting:
                combined.done()

        for part in parts:
            if isinstance(part, Acknowledgement):
                part.on_settled(part_settled)
            else:
                part.add_done_callback(
                    lambda future: part_settled(
                        asyncio.CancelledError() if future.cancelled() else future.exception()
                    )
                )
        return combined


Handled = asyncio.Future | Acknowledgement | None


@dataclass(slots=True, frozen=True)
class _ServerLimits:
    """What an MQTT 5 broker announced in CONNACK that it will not accept in a PUBLISH."""

    maximum_qos: int
    retain_available: bool
    maximum_packet_size: int

    @classmethod
    def from_connack(cls, properties: Properties) -> _ServerLimits | None:
        if not {"maximum_qos", "retain_available", "maximum_packet_size"} & properties.keys():
            return None
        return cls(
            properties.get("maximum_qos", 2),
            bool(properties.get("retain_available", 1)),
            properties.get("maximum_packet_size", 0),
        )

    def refusal(self, qos: int, retain: bool, remaining_length: int) -> int:
        """The reason code the broker would answer with, or 0 when the PUBLISH is acceptable."""
        if qos > self.maximum_qos:
            return 0x9B
        if retain and not self.retain_available:
            return 0x9A
        size = 1 + len(p.encode_remaining_length(remaining_length)) + remaining_length
        if self.maximum_packet_size and size > self.maximum_packet_size:
            return 0x95
        return 0


def _fail(future: asyncio.Future, exc: BaseException) -> None:
    """Fail a future that the caller may never await, without 'exception was never retrieved' noise: the
    failure is also reported through `ConnectResult.undelivered` or `disconnect_reason`."""
    if not future.done():
        future.set_exception(exc)
        future.exception()


class MQTTClient:
    """An asyncio MQTT 3.1.1 / 5 client. See the module docstring for the delivery guarantees.

    Callbacks run on the event loop and must not block: `on_message(message)` for each inbound message,
    `on_connection_lost(exc)` when a connection ends without `disconnect()` being called.

    The QoS 1/2 publish window is min(`max_inflight`, the broker's Receive Maximum). `max_inflight` defaults
    to no client-side limit on MQTT 5 and to 20 on MQTT 3.1.1, which cannot learn the broker's limit.
    """

    def __init__(
        self,
        endpoint: Endpoint,
        client_id: str = "",
        *,
        protocol_version: int = MQTT_5,
        username: str | None = None,
        password: str | bytes | None = None,
        keep_alive: int = 60,
        clean_start: bool = True,
        session_expiry_interval: int = 0,
        will: Will | None = None,
        connect_properties: Properties | None = None,
        max_inflight: int | None = None,
        connect_timeout: float = 10.0,
        action_timeout: float = 30.0,
        on_message: Callable[[Message], Handled] | None = None,
        on_connection_lost: Callable[[BaseException], None] | None = None,
        on_connect_sent: Callable[[], None] | None = None,
    ) -> None:
        if protocol_version not in (p.MQTT_311, MQTT_5):
            raise ValueError("protocol_version must be 4 (MQTT 3.1.1) or 5")
        if max_inflight is None:
            max_inflight = MAX_INFLIGHT_LIMIT if protocol_version >= MQTT_5 else MQTT_311_DEFAULT_INFLIGHT
        if not 1 <= max_inflight <= MAX_INFLIGHT_LIMIT:
            raise ValueError(f"max_inflight must be between 1 and {MAX_INFLIGHT_LIMIT}")
        self.endpoint = endpoint
        self.client_id = client_id
        self.protocol_version = protocol_version
        self.username = username
        self.password = password.encode() if isinstance(password, str) else password
        self.keep_alive = keep_alive
        self.clean_start = clean_start
        self.session_expiry_interval = session_expiry_interval
        self.will = will
        self.connect_properties = dict(connect_properties or {})
        self.max_inflight = max_inflight
        self.connect_timeout = connect_timeout
        self.action_timeout = action_timeout
        self.on_message = on_message or (lambda message: None)
        self.on_connection_lost = on_connection_lost
        self.on_connect_sent = on_connect_sent
        """Called when the transport is up (TCP, TLS, WebSocket) and CONNECT was sent: the broker now decides."""
        self.disconnect_reason: BaseException | None = None
        """Why the last connection ended: None after `disconnect()` (or before any), else a
        `ConnectionLostError` (or its subclass `KeepAliveTimeoutError`, `ProtocolError`,
        `ServerDisconnectedError`)."""
        self.receive_maximum = 65535
        self._server_limits: _ServerLimits | None = None
        self.subscriptions: dict[str, Subscription] = {}

        self._v5 = protocol_version >= MQTT_5
        self._loop: asyncio.AbstractEventLoop | None = None
        self._connection: MQTTProtocol | None = None
        self._connecting: MQTTProtocol | None = None
        self._connack: asyncio.Future[ConnectResult] | None = None
        self._closed: asyncio.Future[BaseException | None] | None = None
        self._disconnecting = False
        self._window = max_inflight
        self._inflight: dict[int, _Outgoing] = {}
        self._backlog: deque[_Outgoing] = deque()
        self._window_waiters: deque[asyncio.Future[None]] = deque()
        self._requests: dict[int, asyncio.Future] = {}
        self._inbound_qos2: set[int] = set()
        self._pending_acks: deque[tuple[int, int, Handled]] = deque()
        self._last_packet_id = 0
        self._topic_fields: dict[str, bytes] = {}
        self._timeout_timer: asyncio.TimerHandle | None = None
        self._probe_sent_at: float | None = None  # when an overdue acknowledgement made us PINGREQ the broker
        self._inbound_paused = False
        self._handlers = self._build_handlers()

    # --- state ------------------------------------------------------------------------------------

    @property
    def is_connected(self) -> bool:
        return self._connection is not None

    @property
    def inflight_count(self) -> int:
        """QoS 1/2 messages sent and not yet acknowledged."""
        return len(self._inflight)

    @property
    def backlog_count(self) -> int:
        """QoS 1/2 messages accepted by `publish_nowait` while the window was full, not yet sent."""
        return len(self._backlog)

    # --- connecting -------------------------------------------------------------------------------

    async def connect(self) -> ConnectResult:
        """Open the transport, send CONNECT, wait for CONNACK and restore the session, all within
        `connect_timeout`. Raises `ConnectTimeoutError`, `ConnectionFailedError`, a `ConnectRefusedError`
        subclass, or `SubscribeRefusedError` when a remembered subscription is now refused (the connection is
        then closed)."""
        if self._connection is not None or self._connecting is not None:
            raise MQTTError("already connected or connecting")
        loop = self._loop = asyncio.get_running_loop()
        self._connack = loop.create_future()
        try:
            async with asyncio.timeout(self.connect_timeout):
                self._connecting = await self.endpoint.open(lambda: MQTTProtocol(self, loop))
                self._connecting.write(self._connect_packet())
                if self.on_connect_sent is not None:
                    self.on_connect_sent()
                result = await self._connack
                if not result.session_present and self.subscriptions:
                    await self._resubscribe()
        except TimeoutError as exc:
            self._abort_connecting(exc)
            raise ConnectTimeoutError(f"no connection to {self.endpoint!r} within {self.connect_timeout} s") from exc
        except BaseException as exc:
            self._abort_connecting(exc)
            raise
        return result

    def _connect_packet(self) -> bytes:
        properties = dict(self.connect_properties)
        if self._v5 and self.session_expiry_interval:
            properties["session_expiry_interval"] = self.session_expiry_interval
        packet = p.Connect(
            self.client_id,
            self.protocol_version,
            self.clean_start,
            self.keep_alive,
            self.username,
            self.password,
            self.will,
            properties,
        )
        return packet.encode()

    def _abort_connecting(self, exc: BaseException) -> None:
        connection = self._connecting or self._connection
        self._connecting = None
        self._disconnecting = True
        if connection is not None:
            connection.fail(exc)

    def _start_session(self, connack: p.Connack) -> ConnectResult:
        """CONNACK accepted: the connection is live. Runs synchronously inside the CONNACK handler so that
        packets arriving in the same read (queued messages of a resumed session) find the session ready."""
        connection = self._connecting
        assert connection is not None
        self._connecting = None
        self._connection = connection
        self._disconnecting = False
        self.disconnect_reason = None
        self._pending_acks.clear()  # the last connection's: the broker redelivers those messages
        self._closed = self._loop.create_future()
        properties = connack.properties
        self.receive_maximum = properties.get("receive_maximum", 65535)
        self._server_limits = _ServerLimits.from_connack(properties)
        self._window = min(self.max_inflight, self.receive_maximum)
        if "assigned_client_identifier" in properties:
            self.client_id = properties["assigned_client_identifier"]
        connection.start_keep_alive(properties.get("server_keep_alive", self.keep_alive))
        result = ConnectResult(connack.session_present, connack.reason_code, properties, self.receive_maximum)
        if connack.session_present:
            self._resend_session(connection)
        else:
            result.undelivered = self._hand_back_session()
        self._probe_sent_at = None
        self._schedule_timeout_check()
        if self._inbound_paused:
            connection.pause_publishes()  # what a resumed session queued for us waits until resume_inbound()
        return result

    def _resend_session(self, connection: MQTTProtocol) -> None:
        """Resend unacknowledged messages in their original order, with DUP=1 (PUBREL for released QoS 2)."""
        now = self._loop.time()
        pending = list(self._inflight.values())
        self._inflight.clear()
        for out in pending:
            out.deadline = now + self.action_timeout
            self._inflight[out.packet_id] = out
            if out.released:
                connection.write(p.encode_ack(p.PUBREL, out.packet_id))
            else:
                packet = out.packet
                connection.write(bytes((packet[0] | 0x08,)) + packet[1:])
        self._send_backlog()

    def _hand_back_session(self) -> list[Message]:
        self._inbound_qos2.clear()
        undelivered = [out.as_message() for out in self._inflight.values()]
        undelivered += (out.as_message() for out in self._backlog)
        lost = ConnectionLostError("the broker did not resume the session: publish again")
        for out in (*self._inflight.values(), *self._backlog):
            if not out.future.done():
                _fail(out.future, lost)
        self._inflight.clear()
        self._backlog.clear()
        return undelivered

    async def _resubscribe(self) -> None:
        subscriptions = list(self.subscriptions.values())
        try:
            await self._subscribe(subscriptions, ack_timeout=None)
        except SubscribeRefusedError:
            await self.disconnect()
            raise

    # --- inbound flow control ---------------------------------------------------------------------

    def pause_inbound(self) -> None:
        """Stop taking packets from the broker (now and on later connections) until `resume_inbound()`.

        For a receiver that cannot keep up: received PUBLISH packets stay unhandled and unacknowledged, so the
        broker stops sending once its in-flight window is full and keeps the rest queued in the session. Other
        packets (acknowledgements of our own publishes) are still handled. See `MQTTProtocol.pause_publishes`.
        """
        self._inbound_paused = True
        if self._connection is not None:
            self._connection.pause_publishes()

    def resume_inbound(self) -> None:
        self._inbound_paused = False
        if self._connection is not None:
            self._connection.resume_publishes()

    @property
    def inbound_paused(self) -> bool:
        return self._inbound_paused

    def awaiting_acknowledgements(self) -> bool:
        return bool(self._inflight or self._requests)

    # --- disconnecting ----------------------------------------------------------------------------

    async def disconnect(self, reason_code: int = 0, properties: Properties | None = None) -> None:
        """Send DISCONNECT and close. On MQTT 5, reason code 0x04 asks the broker to publish the will."""
        connection = self._connection
        if connection is None:
            return
        self._disconnecting = True
        connection.write(p.Disconnect(reason_code, properties or {}).encode(self.protocol_version))
        connection.close()
        try:
            async with asyncio.timeout(self.action_timeout):
                await connection.wait_closed()
        except TimeoutError:
            connection.fail(ConnectionLostError("DISCONNECT was not followed by a close"))
            await connection.wait_closed()

    def abort(self) -> None:
        """Drop the connection without DISCONNECT, as a crash would: the broker publishes the will. In-flight
        messages are kept as after any connection loss; `on_connection_lost` is not called."""
        connection = self._connection
        if connection is not None:
            self._disconnecting = True
            connection.fail(ConnectionLostError("aborted by the client"))

    async def wait_closed(self) -> BaseException | None:
        """Wait until the current connection ends; return `disconnect_reason` (None after `disconnect()`)."""
        if self._closed is None:
            return self.disconnect_reason
        return await asyncio.shield(self._closed)

    def connection_ended(self, connection: MQTTProtocol, reason: BaseException | None) -> None:
        """Called by the protocol exactly once per connection."""
        if connection is self._connecting:
            self._connecting = None
            if not self._connack.done():
                failure = ConnectionFailedError(f"connection closed before CONNACK: {reason or 'closed by peer'}")
                failure.__cause__ = reason
                _fail(self._connack, failure)
            return
        if connection is not self._connection:
            return
        self._connection = None
        if self._timeout_timer is not None:
            self._timeout_timer.cancel()
        if self._disconnecting:
            reason = None
        elif reason is None:
            reason = ConnectionLostError("connection closed by the broker")
        self.disconnect_reason = reason
        lost = ConnectionLostError(f"connection lost: {reason or 'disconnected by the client'}")
        lost.__cause__ = reason
        if self.clean_start:
            for out in self._inflight.values():
                _fail(out.future, lost)
            for out in self._backlog:
                _fail(out.future, lost)
        # else the broker keeps the session: the outcome of these publishes waits for the next connection
        # (resent and acknowledged if the broker resumed the session, failed if it did not).
        for future in self._requests.values():
            _fail(future, lost)
        self._requests.clear()
        while self._window_waiters:
            _fail(self._window_waiters.popleft(), lost)
        self._closed.set_result(reason)
        if reason is not None and self.on_connection_lost is not None:
            self.on_connection_lost(reason)

    # --- publishing -------------------------------------------------------------------------------

    def publish_nowait(
        self,
        topic: str,
        payload: bytes | str = b"",
        qos: int = 0,
        retain: bool = False,
        properties: Properties | None = None,
        *,
        on_done: PublishCallback | None = None,
    ) -> asyncio.Future[int] | None:
        """Queue a publish without waiting. QoS 0 returns None; QoS 1/2 a future of the acknowledgement, or, when
        `on_done` is given, None and `on_done(reason_code, None)` / `on_done(None, error)` is called instead of
        settling a future: synchronously, from the client's own callbacks (no future, no event-loop callback per
        message, for callers that publish many); at QoS 0 once the message is written to the connection.

        A message the broker announced it cannot take (MQTT 5 CONNACK Maximum QoS, Retain Available, Maximum
        Packet Size) is not sent: the returned future (also for QoS 0) fails with `PublishRefusedError`
        (0x9B, 0x9A or 0x95), as the broker would have disconnected the client for it.

        When the in-flight window is full the message waits in the client's backlog (no limit: use
        `publish()` for back-pressure) and goes out as acknowledgements free the window.
        """
        connection = self._connection
        if connection is None:
            raise NotConnectedError("not connected")
        if type(payload) is str:
            payload = payload.encode()
        topic_field = self._topic_fields.get(topic)
        if topic_field is None:
            topic_field = self._cache_topic(topic)
        if self._v5:
            properties_field = p.encode_properties(properties) if properties else p.EMPTY_PROPERTIES
        else:
            properties_field = b""
        if self._server_limits is not None:
            remaining = len(topic_field) + (2 if qos else 0) + len(properties_field) + len(payload)
            refusal = self._server_limits.refusal(qos, retain, remaining)
            if refusal:
                if on_done is not None:
                    on_done(None, PublishRefusedError(refusal, topic))
                    return None
                future = self._loop.create_future()
                _fail(future, PublishRefusedError(refusal, topic))
                return future
        if not qos:
            connection.write(p.encode_publish(_PUBLISH_FIRST[0][retain], topic_field, 0, properties_field, payload))
            if on_done is not None:
                on_done(0, None)
            return None
        if qos not in (1, 2):
            raise ValueError(f"qos must be 0, 1 or 2, not {qos!r}")
        future = self._loop.create_future() if on_done is None else _Notify(on_done)
        out = _Outgoing(topic, topic_field, payload, qos, retain, properties, properties_field, future)
        if len(self._inflight) < self._window and not self._backlog:
            self._send(out, connection)
        else:
            self._backlog.append(out)
        return future if on_done is None else None

    async def publish(
        self,
        topic: str,
        payload: bytes | str = b"",
        qos: int = 0,
        retain: bool = False,
        properties: Properties | None = None,
        *,
        on_done: PublishCallback | None = None,
    ) -> asyncio.Future[int] | None:
        """Like `publish_nowait`, but first wait for room in the in-flight window (QoS 1/2) and for the
        transport's write buffer to drain. Never raises because the window is full."""
        connection = self._connection
        if connection is None:
            raise NotConnectedError("not connected")
        await connection.drain()
        if qos and (len(self._inflight) >= self._window or self._backlog):
            waiter = self._loop.create_future()
            self._window_waiters.append(waiter)
            await waiter
        return self.publish_nowait(topic, payload, qos, retain, properties, on_done=on_done)

    def publish_would_wait(self, qos: int) -> bool:
        """Whether `publish()` would wait now (window full, backlog, transport paused): a loop that publishes
        many messages calls `publish_nowait` directly when it would not, and saves a coroutine per message."""
        connection = self._connection
        if connection is None or connection.writing_paused:
            return True
        return bool(qos) and (len(self._inflight) >= self._window or bool(self._backlog))

    async def publish_and_wait(
        self,
        topic: str,
        payload: bytes | str = b"",
        qos: int = 1,
        retain: bool = False,
        properties: Properties | None = None,
    ) -> int:
        """Publish and wait for PUBACK (QoS 1) / PUBCOMP (QoS 2); return the broker's reason code."""
        future = await self.publish(topic, payload, qos, retain, properties)
        return 0 if future is None else await future

    def _cache_topic(self, topic: str) -> bytes:
        if len(self._topic_fields) >= _TOPIC_CACHE_SIZE:
            self._topic_fields.clear()
        field_ = self._topic_fields[topic] = p.encode_string(topic)
        return field_

    def _next_packet_id(self) -> int:
        packet_id = self._last_packet_id
        inflight, requests = self._inflight, self._requests
        while True:
            packet_id = packet_id + 1 if packet_id < 65535 else 1
            if packet_id not in inflight and packet_id not in requests:
                self._last_packet_id = packet_id
                return packet_id

    def _send(self, out: _Outgoing, connection: MQTTProtocol) -> None:
        packet_id = out.packet_id = self._next_packet_id()
        out.packet = p.encode_publish(
            _PUBLISH_FIRST[out.qos][out.retain], out.topic_field, packet_id, out.properties_field, out.payload
        )
        out.deadline = self._loop.time() + self.action_timeout
        self._inflight[packet_id] = out
        connection.write(out.packet)
        if connection.publishes_paused:
            connection.expect_acknowledgements()

    def _window_freed(self) -> None:
        if self._backlog:
            self._send_backlog()
        while self._window_waiters and len(self._inflight) < self._window:
            waiter = self._window_waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return

    def _send_backlog(self) -> None:
        connection = self._connection
        backlog, inflight, window = self._backlog, self._inflight, self._window
        while backlog and len(inflight) < window:
            self._send(backlog.popleft(), connection)

    def _schedule_timeout_check(self) -> None:
        interval = min(max(self.action_timeout / 4, 0.05), 1.0)
        self._timeout_timer = self._loop.call_later(interval, self._check_timeouts)

    def _check_timeouts(self) -> None:
        """Fail the publishes unacknowledged for `action_timeout` once the broker is found stalled.

        An acknowledgement travels behind everything the broker is already sending to this client (a flood of
        inbound messages can hold it back for seconds), and a broker may be slow to acknowledge while it works
        (a throttled account): a broker that keeps talking, or answers a PINGREQ, is busy, not stalled, and
        sending the message again would only duplicate it. So when an acknowledgement is overdue and nothing came
        for `action_timeout`, a PINGREQ goes out; when nothing comes for another `action_timeout` either, the
        futures of the overdue publishes fail with `PublishTimeoutError` and the connection is dropped
        (`BrokerStalledError`); the messages stay in the session (resent on a resumed session, or handed back by
        the next `connect()`)."""
        connection = self._connection
        now = self._loop.time()
        silent_for = now - connection.last_received if connection is not None else 0.0
        if silent_for < self.action_timeout:
            self._probe_sent_at = None
        else:
            overdue = []
            for out in self._inflight.values():
                if out.deadline > now:
                    break
                overdue.append(out)
            if overdue and self._probe_sent_at is None:
                self._probe_sent_at = now
                connection.write(p.PINGREQ_BYTES)
            elif overdue and now - self._probe_sent_at >= self.action_timeout:
                for out in overdue if self.clean_start else ():  # a kept session settles them on reconnecting
                    if not out.future.done():
                        _fail(
                            out.future,
                            PublishTimeoutError(f"no acknowledgement for {out.topic!r} within {self.action_timeout} s"),
                        )
                connection.fail(
                    BrokerStalledError(
                        f"no acknowledgement for {len(overdue)} message(s), and nothing from the broker for "
                        f"{silent_for:.1f} s, not even an answer to PINGREQ"
                    )
                )
                return
        self._schedule_timeout_check()

    # --- subscribing ------------------------------------------------------------------------------

    async def subscribe(
        self,
        topic_filter: str,
        qos: int = 0,
        *,
        no_local: bool = False,
        retain_as_published: bool = False,
        retain_handling: int = 0,
    ) -> int:
        """Subscribe and return the granted QoS; raises `SubscribeRefusedError`. `$share/<group>/<filter>`
        makes a shared subscription (MQTT 5)."""
        subscription = Subscription(topic_filter, qos, no_local, retain_as_published, retain_handling)
        return (await self.subscribe_many([subscription]))[0]

    async def subscribe_many(self, subscriptions: Sequence[Subscription]) -> list[int]:
        """One SUBSCRIBE for several filters; returns the granted QoS of each. Accepted filters are
        remembered even if another one is refused (then `SubscribeRefusedError` names the first refused)."""
        return await self._subscribe(list(subscriptions), ack_timeout=self.action_timeout)

    async def _subscribe(self, subscriptions: list[Subscription], ack_timeout: float | None) -> list[int]:
        packet_id = self._next_packet_id()
        packet = p.Subscribe(packet_id, subscriptions).encode(self.protocol_version)
        suback: p.Suback = await self._request(packet_id, packet, ack_timeout)
        if len(suback.reason_codes) != len(subscriptions):
            raise ProtocolError("SUBACK does not answer every topic filter")
        refused = None
        for subscription, code in zip(subscriptions, suback.reason_codes, strict=True):
            if code >= 0x80:
                self.subscriptions.pop(subscription.topic_filter, None)
                refused = refused or SubscribeRefusedError(subscription.topic_filter, code)
            else:
                self.subscriptions[subscription.topic_filter] = subscription
        if refused is not None:
            raise refused
        return suback.reason_codes

    async def unsubscribe(self, *topic_filters: str) -> None:
        """Unsubscribe and forget the filters; raises `UnsubscribeRefusedError` (MQTT 5 failure codes)."""
        for topic_filter in topic_filters:
            self.subscriptions.pop(topic_filter, None)
        packet_id = self._next_packet_id()
        packet = p.Unsubscribe(packet_id, list(topic_filters)).encode(self.protocol_version)
        unsuback: p.Unsuback = await self._request(packet_id, packet, self.action_timeout)
        for topic_filter, code in zip(topic_filters, unsuback.reason_codes, strict=False):
            if code >= 0x80:
                raise UnsubscribeRefusedError(topic_filter, code)

    async def _request(self, packet_id: int, packet: bytes, ack_timeout: float | None) -> p.Packet:
        connection = self._connection
        if connection is None:
            raise NotConnectedError("not connected")
        future = self._requests[packet_id] = self._loop.create_future()
        connection.write(packet)
        connection.expect_acknowledgements()
        try:
            async with asyncio.timeout(ack_timeout):
                return await future
        except TimeoutError:
            raise AckTimeoutError(f"packet {packet_id} not acknowledged within {ack_timeout} s") from None
        finally:
            self._requests.pop(packet_id, None)

    # --- inbound packets --------------------------------------------------------------------------

    def packet_handlers(self) -> Sequence[PacketHandler]:
        return self._handlers

    def _build_handlers(self) -> list[PacketHandler]:
        handlers: list[PacketHandler] = [self._on_unexpected] * 16
        handlers[p.CONNACK] = self._on_connack
        handlers[p.PUBLISH] = self._on_publish
        handlers[p.PUBACK] = self._on_puback
        handlers[p.PUBREC] = self._on_pubrec
        handlers[p.PUBREL] = self._on_pubrel
        handlers[p.PUBCOMP] = self._on_pubcomp
        handlers[p.SUBACK] = self._on_request_ack
        handlers[p.UNSUBACK] = self._on_request_ack
        handlers[p.PINGRESP] = self._on_pingresp
        handlers[p.DISCONNECT] = self._on_disconnect
        return handlers

    def _on_unexpected(self, first: int, buf: bytes, start: int, end: int) -> None:
        raise ProtocolError(f"unexpected packet type {first >> 4} from the broker")

    def _on_connack(self, first: int, buf: bytes, start: int, end: int) -> None:
        if self._connecting is None or self._connack.done():
            raise ProtocolError("unexpected CONNACK")
        connack = p.decode_packet(first, buf, start, end, self.protocol_version)
        if connack.reason_code:
            reason = connack.properties.get("reason_string")
            _fail(self._connack, connect_refused(connack.reason_code, self.protocol_version, reason))
            return
        self._connack.set_result(self._start_session(connack))

    def _on_publish(self, first: int, buf: bytes, start: int, end: int) -> None:
        message = Message.decode(first, buf, start, end, self.protocol_version)
        qos = message.qos
        connection = self._connection
        if connection is None:
            raise ProtocolError("PUBLISH before CONNACK")
        if qos == 2:
            packet_id = message.packet_id
            handled = None
            if packet_id not in self._inbound_qos2:
                self._inbound_qos2.add(packet_id)
                handled = self._deliver(message)
            self._acknowledge(connection, p.PUBREC, packet_id, handled)
            return
        handled = self._deliver(message)
        if qos:
            self._acknowledge(connection, p.PUBACK, message.packet_id, handled)

    def _deliver(self, message: Message) -> Handled:
        try:
            handled = self.on_message(message)
        except Exception as exc:
            self._loop.call_exception_handler(
                {"message": f"on_message failed for a message on {message.topic!r}", "exception": exc}
            )
            return None
        return handled if isinstance(handled, asyncio.Future | Acknowledgement) else None

    def _acknowledge(self, connection: MQTTProtocol, packet_type: int, packet_id: int, handled: Handled) -> None:
        pending = self._pending_acks
        if handled is None and not pending:
            connection.write(p.encode_ack(packet_type, packet_id))
            return
        pending.append((packet_type, packet_id, handled))
        if type(handled) is Acknowledgement:
            if not handled.settled:
                handled.on_settled(lambda _: self._send_ready_acks(connection))
                return
        elif handled is not None and not handled.done():
            handled.add_done_callback(lambda _: self._send_ready_acks(connection))
            return
        self._send_ready_acks(connection)

    def _send_ready_acks(self, connection: MQTTProtocol) -> None:
        """Write the acknowledgements at the head of the line whose messages are handled, in arrival order."""
        if connection is not self._connection:
            return  # that connection is gone; the broker redelivers what it did not get acknowledged
        pending = self._pending_acks
        while pending:
            packet_type, packet_id, handled = pending[0]
            if handled is not None:
                if type(handled) is Acknowledgement:
                    if not handled.settled:
                        return
                    error: BaseException | str | None = handled.error
                elif not handled.done():
                    return
                else:
                    error = "cancelled" if handled.cancelled() else handled.exception()
                if error is not None:
                    pending.clear()
                    connection.fail(ConnectionLostError(f"a received message could not be handled: {error}"))
                    return
            pending.popleft()
            connection.write(p.encode_ack(packet_type, packet_id))

    def _ack_fields(self, first: int, buf: bytes, start: int, end: int) -> tuple[int, int]:
        if first & 0x0F != (0x02 if first >> 4 == p.PUBREL else 0) or end - start < 2:
            raise ProtocolError(f"malformed acknowledgement 0x{first:02X}")
        return buf[start] << 8 | buf[start + 1], buf[start + 2] if end - start > 2 else 0

    def _on_puback(self, first: int, buf: bytes, start: int, end: int) -> None:
        packet_id, reason_code = self._ack_fields(first, buf, start, end)
        out = self._inflight.get(packet_id)
        if out is None or out.qos != 1:
            return
        self._finish(packet_id, out, reason_code)

    def _on_pubrec(self, first: int, buf: bytes, start: int, end: int) -> None:
        packet_id, reason_code = self._ack_fields(first, buf, start, end)
        out = self._inflight.get(packet_id)
        if out is None or out.qos != 2:
            # Answering an unknown PUBREC with PUBREL lets the broker finish the exchange.
            self._connection.write(p.encode_ack(p.PUBREL, packet_id))
            return
        if reason_code >= 0x80:
            self._finish(packet_id, out, reason_code)
            return
        out.released = True
        self._connection.write(p.encode_ack(p.PUBREL, packet_id))

    def _on_pubcomp(self, first: int, buf: bytes, start: int, end: int) -> None:
        packet_id, reason_code = self._ack_fields(first, buf, start, end)
        out = self._inflight.get(packet_id)
        if out is None or out.qos != 2:
            return
        self._finish(packet_id, out, reason_code)

    def _finish(self, packet_id: int, out: _Outgoing, reason_code: int) -> None:
        """The broker answered for good: free the packet id, settle the future, let the next publish go."""
        del self._inflight[packet_id]
        self._complete(out, reason_code)
        self._window_freed()

    def _on_pubrel(self, first: int, buf: bytes, start: int, end: int) -> None:
        packet_id, _ = self._ack_fields(first, buf, start, end)
        self._inbound_qos2.discard(packet_id)
        self._connection.write(p.encode_ack(p.PUBCOMP, packet_id))

    def _complete(self, out: _Outgoing, reason_code: int) -> None:
        future = out.future
        if future.done():
            return
        if reason_code >= 0x80:
            _fail(future, PublishRefusedError(reason_code, out.topic))
        else:
            future.set_result(reason_code)

    def _on_request_ack(self, first: int, buf: bytes, start: int, end: int) -> None:
        packet = p.decode_packet(first, buf, start, end, self.protocol_version)
        future = self._requests.get(packet.packet_id)
        if future is not None and not future.done():
            future.set_result(packet)

    def _on_pingresp(self, first: int, buf: bytes, start: int, end: int) -> None:
        if first != 0xD0 or end != start:
            raise ProtocolError("malformed PINGRESP")

    def _on_disconnect(self, first: int, buf: bytes, start: int, end: int) -> None:
        packet = p.decode_packet(first, buf, start, end, self.protocol_version)
        connection = self._connection or self._connecting
        connection.fail(ServerDisconnectedError(packet.reason_code, packet.properties.get("reason_string")))
