"""The client's outbound QoS 1/2 session: the in-flight window, the backlog, packet identifiers, the publish
calls, the acknowledgements of our publishes (PUBACK, PUBREC, PUBCOMP) and the overdue-acknowledgement check."""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass
from typing import Any

from . import packets as p
from .acknowledgement import Notify, PublishCallback, fail_quietly
from .errors import (
    BrokerStalledError,
    ConnectionLostError,
    NotConnectedError,
    ProtocolError,
    PublishRefusedError,
    PublishTimeoutError,
)
from .packets import Message, Properties
from .protocol import MQTTProtocol

_TOPIC_CACHE_SIZE = 4096
# Fixed-header first bytes of PUBLISH by [qos][retain].
_PUBLISH_FIRST = [[0x30 | qos << 1 | retain for retain in (0, 1)] for qos in range(3)]


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
        future: asyncio.Future[int] | Notify,
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


class Outbound:
    """The publishing half of `MQTTClient` (a mixin: the client owns the connection and calls these)."""

    _connection: MQTTProtocol | None
    _loop: asyncio.AbstractEventLoop | None
    _requests: dict[int, asyncio.Future]
    action_timeout: float
    clean_start: bool

    def _init_outbound(self, max_inflight: int, protocol_version: int) -> None:
        self.max_inflight = max_inflight
        self.receive_maximum = 65535
        self._v5 = protocol_version >= p.MQTT_5
        self._server_limits: _ServerLimits | None = None
        self._window = max_inflight
        self._inflight: dict[int, _Outgoing] = {}
        self._backlog: deque[_Outgoing] = deque()
        self._window_waiters: deque[asyncio.Future[None]] = deque()
        self._last_packet_id = 0
        self._topic_fields: dict[str, bytes] = {}
        self._timeout_timer: asyncio.TimerHandle | None = None
        self._probe_sent_at: float | None = None  # when an overdue acknowledgement made us PINGREQ the broker

    @property
    def inflight_count(self) -> int:
        """QoS 1/2 messages sent and not yet acknowledged."""
        return len(self._inflight)

    @property
    def backlog_count(self) -> int:
        """QoS 1/2 messages accepted by `publish_nowait` while the window was full, not yet sent."""
        return len(self._backlog)

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
                fail_quietly(future, PublishRefusedError(refusal, topic))
                return future
        if not qos:
            connection.write(p.encode_publish(_PUBLISH_FIRST[0][retain], topic_field, 0, properties_field, payload))
            if on_done is not None:
                on_done(0, None)
            return None
        if qos not in (1, 2):
            raise ValueError(f"qos must be 0, 1 or 2, not {qos!r}")
        future = self._loop.create_future() if on_done is None else Notify(on_done)
        out = _Outgoing(topic, topic_field, payload, qos, retain, properties, properties_field, future)
        if len(self._inflight) < self._window and not self._backlog:
            self._send(out, connection)
        else:
            self._backlog.append(out)
        return future if on_done is None else None

    async def publish(
        self, topic: str, payload: bytes | str = b"", qos: int = 0, *args: Any, **kwargs: Any
    ) -> asyncio.Future[int] | None:
        """`publish_nowait(topic, payload, qos, retain, properties, *, on_done)`, but first wait for room in the
        in-flight window (QoS 1/2) and for the transport's write buffer to drain. Never raises because the window
        is full."""
        await self._wait_for_room(qos)
        return self.publish_nowait(topic, payload, qos, *args, **kwargs)

    async def _wait_for_room(self, qos: int) -> None:
        connection = self._connection
        if connection is None:
            raise NotConnectedError("not connected")
        await connection.drain()
        if qos and (len(self._inflight) >= self._window or self._backlog):
            waiter = self._loop.create_future()
            self._window_waiters.append(waiter)
            await waiter

    def publish_would_wait(self, qos: int) -> bool:
        """Whether `publish()` would wait now (window full, backlog, transport paused): a loop that publishes
        many messages calls `publish_nowait` directly when it would not, and saves a coroutine per message."""
        connection = self._connection
        if connection is None or connection.writing_paused:
            return True
        return bool(qos) and (len(self._inflight) >= self._window or bool(self._backlog))

    async def publish_and_wait(
        self, topic: str, payload: bytes | str = b"", qos: int = 1, *args: Any, **kwargs: Any
    ) -> int:
        """`publish(topic, payload, qos, retain, properties)` and wait for PUBACK (QoS 1) / PUBCOMP (QoS 2);
        return the broker's reason code."""
        future = await self.publish(topic, payload, qos, *args, **kwargs)
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
        self._fail_outgoing(ConnectionLostError("the broker did not resume the session: publish again"))
        self._inflight.clear()
        self._backlog.clear()
        return undelivered

    def _fail_outgoing(self, error: BaseException) -> None:
        for out in (*self._inflight.values(), *self._backlog):
            fail_quietly(out.future, error)

    def _outbound_connection_lost(self, lost: ConnectionLostError) -> None:
        if self._timeout_timer is not None:
            self._timeout_timer.cancel()
        if self.clean_start:
            self._fail_outgoing(lost)
        # else the broker keeps the session: the outcome of these publishes waits for the next connection
        # (resent and acknowledged if the broker resumed the session, failed if it did not).
        while self._window_waiters:
            fail_quietly(self._window_waiters.popleft(), lost)

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
                        fail_quietly(
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

    def _ack_fields(self, first: int, buf: bytes, start: int, end: int) -> tuple[int, int]:
        if first & 0x0F != (0x02 if first >> 4 == p.PUBREL else 0) or end - start < 2:
            raise ProtocolError(f"malformed acknowledgement 0x{first:02X}")
        return buf[start] << 8 | buf[start + 1], buf[start + 2] if end - start > 2 else 0

    def _on_final_ack(self, first: int, buf: bytes, start: int, end: int) -> None:
        """PUBACK of a QoS 1 publish or PUBCOMP of a QoS 2 one: the broker answered for good."""
        packet_id, reason_code = self._ack_fields(first, buf, start, end)
        out = self._inflight.get(packet_id)
        if out is not None and out.qos == (1 if first == 0x40 else 2):
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

    def _finish(self, packet_id: int, out: _Outgoing, reason_code: int) -> None:
        """The broker answered for good: free the packet id, settle the future, let the next publish go."""
        del self._inflight[packet_id]
        self._complete(out, reason_code)
        self._window_freed()

    def _complete(self, out: _Outgoing, reason_code: int) -> None:
        future = out.future
        if future.done():
            return
        if reason_code >= 0x80:
            fail_quietly(future, PublishRefusedError(reason_code, out.topic))
        else:
            future.set_result(reason_code)
