"""The client's inbound side: delivering received messages to `on_message`, acknowledging them in arrival order
once handled (QoS 1 PUBACK, QoS 2 PUBREC/PUBCOMP), and pausing inbound publishes for back-pressure."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable

from . import packets as p
from .acknowledgement import Handled
from .errors import ConnectionLostError, ProtocolError
from .packets import Message
from .protocol import MQTTProtocol
from .settlement import Settlement


class Inbound:
    """The receiving half of `MQTTClient` (a mixin: the client owns the connection and calls these)."""

    _connection: MQTTProtocol | None
    _loop: asyncio.AbstractEventLoop | None
    protocol_version: int

    def _init_inbound(self, on_message: Callable[[Message], Handled] | None) -> None:
        self.on_message = on_message or (lambda message: None)
        self._inbound_qos2: set[int] = set()
        self._pending_acks: deque[tuple[int, int, Handled]] = deque()
        self._acks_ready: tuple[MQTTProtocol, Callable[[object], None]] | None = None
        self._inbound_paused = False

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
        return handled if isinstance(handled, asyncio.Future | Settlement) else None

    def _acknowledge(self, connection: MQTTProtocol, packet_type: int, packet_id: int, handled: Handled) -> None:
        pending = self._pending_acks
        if handled is None and not pending:
            connection.write(p.encode_ack(packet_type, packet_id))
            return
        pending.append((packet_type, packet_id, handled))
        if isinstance(handled, Settlement):
            if not handled.settled:
                handled.when_settled(self._acks_ready_callback(connection))
                return
        elif handled is not None and not handled.done():
            handled.add_done_callback(self._acks_ready_callback(connection))
            return
        self._send_ready_acks(connection)

    def _acks_ready_callback(self, connection: MQTTProtocol) -> Callable[[object], None]:
        """What a handled message calls to send the acknowledgements that are ready: one per connection, not a
        closure per message (each would live, and be scanned by the garbage collector, until its message is
        handled)."""
        made = self._acks_ready
        if made is None or made[0] is not connection:
            made = self._acks_ready = (connection, lambda _: self._send_ready_acks(connection))
        return made[1]

    def _send_ready_acks(self, connection: MQTTProtocol) -> None:
        """Write the acknowledgements at the head of the line whose messages are handled, in arrival order."""
        if connection is not self._connection:
            return  # that connection is gone; the broker redelivers what it did not get acknowledged
        pending = self._pending_acks
        while pending:
            packet_type, packet_id, handled = pending[0]
            if handled is not None:
                if isinstance(handled, Settlement):
                    if not handled.settled:
                        return
                    refusal = handled.refusal  # refused for good: acknowledged, delivering it again cannot help
                    error: BaseException | str | None = refusal.reason if refusal and refusal.retryable else None
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

    def _on_pubrel(self, first: int, buf: bytes, start: int, end: int) -> None:
        packet_id, _ = self._ack_fields(first, buf, start, end)
        self._inbound_qos2.discard(packet_id)
        self._connection.write(p.encode_ack(p.PUBCOMP, packet_id))
