"""One MQTT connection as an `asyncio.Protocol`: stream framing, coalesced writes and keep-alive.

What the packets mean is the client's business; this module only moves bytes. It calls one handler per packet
type with `(first_byte, buffer, body_start, body_end)` so that bodies are not copied before they are decoded.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Sequence
from typing import Protocol

from .errors import ConnectionLostError, KeepAliveTimeoutError, ProtocolError
from .packets import PINGREQ_BYTES, frame_at

PacketHandler = Callable[[int, bytes, int, int], None]

FLUSH_SIZE = 65536
HELD_PUBLISHES_LIMIT = 4 * 1024 * 1024
"""Bytes of received PUBLISH packets kept while publishes are paused, beyond which reading stops altogether, unless
the broker owes us acknowledgements: those come behind the held messages, and a client that waited for them
without reading would wait on itself. (A broker should send no more than its in-flight window of unacknowledged
messages, but Mosquitto 2.0.11 was seen sending thousands.)"""
_PUBLISH = 3


class ConnectionOwner(Protocol):
    """What `MQTTProtocol` needs from the object that owns the session (the client)."""

    def packet_handlers(self) -> Sequence[PacketHandler]: ...

    def connection_ended(self, connection: MQTTProtocol, reason: BaseException | None) -> None: ...

    def awaiting_acknowledgements(self) -> bool:
        """Whether the broker owes answers (PUBACK, SUBACK...) to what was sent on this connection."""
        ...


class MQTTProtocol(asyncio.Protocol):
    __slots__ = (
        "_closed",
        "_drain_waiter",
        "_handlers",
        "_held",
        "_held_size",
        "_inbuf",
        "_keep_alive",
        "_keep_alive_timer",
        "_loop",
        "_owner",
        "_pending",
        "_pending_size",
        "_publishes_paused",
        "_reason",
        "last_received",
        "last_sent",
        "transport",
    )

    def __init__(self, owner: ConnectionOwner, loop: asyncio.AbstractEventLoop) -> None:
        self._owner = owner
        self._loop = loop
        self._handlers = owner.packet_handlers()
        self.transport: asyncio.BaseTransport | None = None
        # Outbound packets of this event-loop iteration, written together by _flush.
        self._pending: list[bytes] = []
        self._pending_size = 0
        self._inbuf = bytearray()
        self._reason: BaseException | None = None
        self._closed: asyncio.Future[None] = loop.create_future()
        self._drain_waiter: asyncio.Future[None] | None = None
        self._keep_alive = 0.0
        self._keep_alive_timer: asyncio.TimerHandle | None = None
        self._publishes_paused = False
        self._held: deque[bytes] = deque()  # PUBLISH packets received while paused, in order
        self._held_size = 0
        self.last_received = self.last_sent = loop.time()

    # --- asyncio.Protocol -------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.last_received = self._loop.time()
        inbuf = self._inbuf
        if inbuf:
            inbuf += data
            buf: bytes | bytearray = inbuf
        else:
            buf = data
        pos, end = 0, len(buf)
        handlers = self._handlers
        try:
            while (frame := frame_at(buf, pos, end)) is not None:
                first, start, frame_end = frame
                if self._publishes_paused and first >> 4 == _PUBLISH:
                    self._hold(bytes(buf[pos:frame_end]))
                else:
                    handlers[first >> 4](first, buf, start, frame_end)
                pos = frame_end
                if self._reason is not None:
                    return
        except ProtocolError as exc:
            self.fail(exc)
            return
        except (IndexError, ValueError) as exc:
            self.fail(ProtocolError(f"malformed packet: {exc}"))
            return
        if inbuf:
            del inbuf[:pos]
        elif pos < end:
            inbuf += buf[pos:]

    # --- inbound flow control ---------------------------------------------------------------------

    def pause_publishes(self) -> None:
        """Keep received PUBLISH packets unhandled (so unacknowledged) until `resume_publishes()`; every other
        packet (acknowledgements of our own publishes, PINGRESP) is still handled, so a client that publishes
        where it receives does not wait on itself. Past HELD_PUBLISHES_LIMIT bytes held, reading stops: the rest
        waits in the socket and at the broker."""
        self._publishes_paused = True

    def resume_publishes(self) -> None:
        if not self._publishes_paused:
            return
        self._publishes_paused = False
        transport = self.transport
        if transport is not None and not transport.is_closing() and not transport.is_reading():
            transport.resume_reading()
            self.last_received = self._loop.time()
        if self._held:
            self._loop.call_soon(self._handle_held)

    @property
    def publishes_paused(self) -> bool:
        return self._publishes_paused

    def expect_acknowledgements(self) -> None:
        """Something was sent that the broker will answer: read again if reading stopped (too much held), since
        the answer comes behind what the broker sends meanwhile."""
        transport = self.transport
        if transport is not None and not transport.is_closing() and not transport.is_reading():
            transport.resume_reading()
            self.last_received = self._loop.time()

    def _hold(self, packet: bytes) -> None:
        self._held.append(packet)
        self._held_size += len(packet)
        transport = self.transport
        if (
            self._held_size > HELD_PUBLISHES_LIMIT
            and transport is not None
            and transport.is_reading()
            and not self._owner.awaiting_acknowledgements()
        ):
            transport.pause_reading()

    def _handle_held(self) -> None:
        """Hand on the PUBLISH packets held while paused, in order, until paused again."""
        held, handler = self._held, self._handlers[_PUBLISH]
        try:
            while held and not self._publishes_paused and self._reason is None:
                packet = held.popleft()
                self._held_size -= len(packet)
                first, start, end = frame_at(packet, 0, len(packet))
                handler(first, packet, start, end)
        except ProtocolError as exc:
            self.fail(exc)
        except (IndexError, ValueError) as exc:
            self.fail(ProtocolError(f"malformed packet: {exc}"))

    def pause_writing(self) -> None:
        if self._drain_waiter is None:
            self._drain_waiter = self._loop.create_future()

    def resume_writing(self) -> None:
        waiter, self._drain_waiter = self._drain_waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._keep_alive_timer is not None:
            self._keep_alive_timer.cancel()
        self._pending.clear()
        self._pending_size = 0
        self._held.clear()  # never acknowledged: the broker delivers them again
        self._held_size = 0
        reason = self._reason
        if reason is None and isinstance(exc, ConnectionLostError):
            reason = exc
        elif reason is None and exc is not None:
            reason = ConnectionLostError(f"connection lost: {exc}")
            reason.__cause__ = exc
        self.resume_writing()
        if not self._closed.done():
            self._closed.set_result(None)
        self._owner.connection_ended(self, reason)

    # --- writing ----------------------------------------------------------------------------------

    def write(self, packet: bytes) -> None:
        """Queue a packet; the packets queued in one loop iteration go out in one transport write, or in
        several of about FLUSH_SIZE bytes during a burst, so that the bytes flow while the burst lasts and the
        transport's flow control (pause_writing) can hold the publisher back."""
        pending = self._pending
        if not pending:
            self._loop.call_soon(self._flush)
        pending.append(packet)
        self._pending_size += len(packet)
        if self._pending_size >= FLUSH_SIZE:
            self._flush()

    def _flush(self) -> None:
        pending = self._pending
        if not pending:
            return
        self._pending = []
        self._pending_size = 0
        transport = self.transport
        if transport is not None and not transport.is_closing():
            transport.writelines(pending)
            self.last_sent = self._loop.time()

    @property
    def writing_paused(self) -> bool:
        """The transport's write buffer is above its high-water mark: writers should wait (`drain`)."""
        return self._drain_waiter is not None

    async def drain(self) -> None:
        """Wait while the transport's write buffer is above its high-water mark."""
        if self._drain_waiter is not None:
            await self._drain_waiter

    # --- life -------------------------------------------------------------------------------------

    def start_keep_alive(self, seconds: float) -> None:
        """PINGREQ when either direction was quiet for half the interval; a connection that received nothing
        for the whole interval is dead. Four checks per interval detect that within 1.25 x keep-alive."""
        self._keep_alive = seconds
        if seconds > 0:
            self._keep_alive_timer = self._loop.call_later(seconds / 4, self._keep_alive_tick)

    def _keep_alive_tick(self) -> None:
        now = self._loop.time()
        interval = self._keep_alive
        transport = self.transport
        if transport is not None and not transport.is_closing() and not transport.is_reading():
            self.last_received = now  # reading stopped by us (too much held): silence proves nothing
        if now - self.last_received >= interval:
            self.fail(KeepAliveTimeoutError(f"no packet from the broker for {now - self.last_received:.1f} s"))
            return
        if now - self.last_received >= interval / 2 or now - self.last_sent >= interval / 2:
            self.write(PINGREQ_BYTES)
        self._keep_alive_timer = self._loop.call_later(interval / 4, self._keep_alive_tick)

    def close(self) -> None:
        """Send what is queued, then close."""
        self._flush()
        if self.transport is not None:
            self.transport.close()

    def fail(self, reason: BaseException) -> None:
        """Drop the connection at once because of `reason` (reported to the owner as the cause)."""
        if self._reason is None:
            self._reason = reason
        self._pending.clear()
        self._pending_size = 0
        if self.transport is not None:
            self.transport.abort()

    async def wait_closed(self) -> None:
        await asyncio.shield(self._closed)
