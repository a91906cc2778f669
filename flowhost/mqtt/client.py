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
  When `on_message` returns an `asyncio.Future` (or a `Settlement`, its cheaper stand-in), the
  acknowledgement (PUBACK, or PUBREC at QoS 2) waits until that is done: a caller that must store a message first
  acknowledges it only once stored.
  Acknowledgements still leave in the order the messages came (MQTT requires it); a future that fails, or a
  settlement refused as retryable, drops the connection without acknowledging, so that a persistent session gets
  the message again. A settlement refused for good (not retryable) is acknowledged: delivering it again would not
  help.
  `on_message` may run before `connect()` returns: a resumed session's queued messages follow CONNACK at once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from . import packets as p
from .acknowledgement import Handled, fail_quietly
from .errors import (
    ConnectionFailedError,
    ConnectionLostError,
    ConnectTimeoutError,
    MQTTError,
    ProtocolError,
    ServerDisconnectedError,
    connect_refused,
)
from .inbound import Inbound
from .outbound import Outbound, _ServerLimits
from .packets import MQTT_5, Message, Properties, Will
from .protocol import MQTTProtocol, PacketHandler
from .subscriptions import Subscriptions

__all__ = ["ConnectResult", "Endpoint", "MQTTClient"]

# MQTT 3.1.1 has no Receive Maximum; Mosquitto's default window is 20 and Mosquitto 2.0.11 acknowledges but
# silently drops inbound QoS 2 messages beyond it (seen in tests here), so 3.1.1 stays within 20 by default.
MQTT_311_DEFAULT_INFLIGHT = 20
# Leaves packet identifiers free for SUBSCRIBE/UNSUBSCRIBE while the publish window is full.
MAX_INFLIGHT_LIMIT = 65_000


def _publish_window(protocol_version: int, max_inflight: int | None) -> int:
    if protocol_version not in (p.MQTT_311, MQTT_5):
        raise ValueError("protocol_version must be 4 (MQTT 3.1.1) or 5")
    if max_inflight is None:
        return MAX_INFLIGHT_LIMIT if protocol_version >= MQTT_5 else MQTT_311_DEFAULT_INFLIGHT
    if not 1 <= max_inflight <= MAX_INFLIGHT_LIMIT:
        raise ValueError(f"max_inflight must be between 1 and {MAX_INFLIGHT_LIMIT}")
    return max_inflight


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


class MQTTClient(Outbound, Inbound, Subscriptions):
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
        self.connect_timeout = connect_timeout
        self.action_timeout = action_timeout
        self.on_connection_lost = on_connection_lost
        self.on_connect_sent = on_connect_sent
        """Called when the transport is up (TCP, TLS, WebSocket) and CONNECT was sent: the broker now decides."""
        self.disconnect_reason: BaseException | None = None
        """Why the last connection ended: None after `disconnect()` (or before any), else a
        `ConnectionLostError` (or its subclass `KeepAliveTimeoutError`, `ProtocolError`,
        `ServerDisconnectedError`)."""
        self._loop: asyncio.AbstractEventLoop | None = None
        self._connection: MQTTProtocol | None = None
        self._connecting: MQTTProtocol | None = None
        self._connack: asyncio.Future[ConnectResult] | None = None
        self._closed: asyncio.Future[BaseException | None] | None = None
        self._disconnecting = False
        self._init_outbound(_publish_window(protocol_version, max_inflight), protocol_version)
        self._init_inbound(on_message)
        self._init_subscriptions()
        self._handlers = self._build_handlers()

    @property
    def is_connected(self) -> bool:
        return self._connection is not None

    def awaiting_acknowledgements(self) -> bool:
        return bool(self._inflight or self._requests)

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
                fail_quietly(self._connack, failure)
            return
        if connection is not self._connection:
            return
        self._connection = None
        if self._disconnecting:
            reason = None
        elif reason is None:
            reason = ConnectionLostError("connection closed by the broker")
        self.disconnect_reason = reason
        lost = ConnectionLostError(f"connection lost: {reason or 'disconnected by the client'}")
        lost.__cause__ = reason
        self._outbound_connection_lost(lost)
        for future in self._requests.values():
            fail_quietly(future, lost)
        self._requests.clear()
        self._closed.set_result(reason)
        if reason is not None and self.on_connection_lost is not None:
            self.on_connection_lost(reason)

    def packet_handlers(self) -> Sequence[PacketHandler]:
        return self._handlers

    def _build_handlers(self) -> list[PacketHandler]:
        handlers: list[PacketHandler] = [self._on_unexpected] * 16
        handlers[p.CONNACK] = self._on_connack
        handlers[p.PUBLISH] = self._on_publish
        handlers[p.PUBACK] = self._on_final_ack
        handlers[p.PUBREC] = self._on_pubrec
        handlers[p.PUBREL] = self._on_pubrel
        handlers[p.PUBCOMP] = self._on_final_ack
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
            fail_quietly(self._connack, connect_refused(connack.reason_code, self.protocol_version, reason))
            return
        self._connack.set_result(self._start_session(connack))

    def _on_pingresp(self, first: int, buf: bytes, start: int, end: int) -> None:
        if first != 0xD0 or end != start:
            raise ProtocolError("malformed PINGRESP")

    def _on_disconnect(self, first: int, buf: bytes, start: int, end: int) -> None:
        packet = p.decode_packet(first, buf, start, end, self.protocol_version)
        connection = self._connection or self._connecting
        connection.fail(ServerDisconnectedError(packet.reason_code, packet.properties.get("reason_string")))
