"""Where a client connects to: TCP, TLS, or MQTT over WebSockets (ws:// and wss://).

An endpoint opens a transport and attaches an `asyncio.Protocol` to it. Every failure to open becomes
`ConnectionFailedError` (with the original exception as `__cause__`) so that a caller's reconnect policy has
one error to catch.
"""

from __future__ import annotations

import asyncio
import ssl as ssl_module
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import aiohttp

from .errors import ConnectionFailedError, ProtocolError

ProtocolFactory = Callable[[], asyncio.Protocol]
ABORT_CLOSE_TIMEOUT = 0.2


READ_SIZE = 32 * 1024
"""Bytes read from a TCP socket at a time (asyncio's own loop reads up to 256 KiB). A read is parsed and handed on
in one go; during a flood of inbound messages a smaller read keeps each event-loop iteration short, so that the
acknowledgements of our own publishes, queued behind them in the same stream, are read and free the publish
window sooner, and the publishers waiting for it run more often. Measured on the QoS 1 relay (bench/RESULTS.md)."""


def _bound_reads(transport: asyncio.BaseTransport) -> None:
    # `max_size` is the per-read size of asyncio's selector socket transport; other loops' (uvloop) and TLS
    # transports have none and keep their own.
    if isinstance(getattr(transport, "max_size", None), int):
        transport.max_size = READ_SIZE


class TcpEndpoint:
    """MQTT over TCP, or over TLS when `ssl` is given. `server_hostname` overrides the name used for SNI and
    certificate checking (Python sends SNI for DNS names only, not for IP addresses)."""

    __slots__ = ("host", "port", "server_hostname", "ssl")

    def __init__(
        self,
        host: str,
        port: int | None = None,
        *,
        ssl: ssl_module.SSLContext | None = None,
        server_hostname: str | None = None,
    ) -> None:
        self.host = host
        self.port = port if port is not None else (8883 if ssl else 1883)
        self.ssl = ssl
        self.server_hostname = server_hostname

    def __repr__(self) -> str:
        scheme = "mqtts" if self.ssl else "mqtt"
        return f"<TcpEndpoint {scheme}://{self.host}:{self.port}>"

    async def open(self, protocol_factory: ProtocolFactory) -> asyncio.Protocol:
        loop = asyncio.get_running_loop()
        try:
            transport, protocol = await loop.create_connection(
                protocol_factory,
                self.host,
                self.port,
                ssl=self.ssl,
                server_hostname=self.server_hostname if self.ssl else None,
            )
        except OSError as exc:
            raise ConnectionFailedError(f"cannot connect to {self!r}: {exc}") from exc
        _bound_reads(transport)
        return protocol


class WebSocketEndpoint:
    """MQTT over WebSockets through aiohttp. `url` is ws://... or wss://...; `ssl` is the context for wss.

    Outbound packets written in one event-loop iteration share one BINARY frame unless `one_packet_per_frame`
    (for gateways that expect frame and packet boundaries to match). Inbound frames are one byte stream,
    however the server splits packets.
    """

    __slots__ = ("headers", "one_packet_per_frame", "ssl", "url")

    def __init__(
        self,
        url: str,
        *,
        ssl: ssl_module.SSLContext | None = None,
        headers: Mapping[str, str] | None = None,
        one_packet_per_frame: bool = False,
    ) -> None:
        self.url = url
        self.ssl = ssl
        self.headers = dict(headers or {})
        self.one_packet_per_frame = one_packet_per_frame

    def __repr__(self) -> str:
        return f"<WebSocketEndpoint {self.url}>"

    async def open(self, protocol_factory: ProtocolFactory) -> asyncio.Protocol:
        session = aiohttp.ClientSession()
        try:
            ws = await session.ws_connect(
                self.url,
                protocols=("mqtt",),
                ssl=self.ssl if self.ssl is not None else True,
                headers=self.headers,
                autoping=True,
                max_msg_size=0,
                timeout=aiohttp.ClientWSTimeout(ws_close=2.0),
            )
        except (aiohttp.ClientError, OSError) as exc:
            await session.close()
            raise ConnectionFailedError(f"cannot connect to {self!r}: {exc}") from exc
        except BaseException:
            await session.close()
            raise
        if ws.protocol != "mqtt":
            await ws.close()
            await session.close()
            raise ConnectionFailedError(f"{self!r} did not accept the 'mqtt' WebSocket subprotocol")
        protocol = protocol_factory()
        transport = WebSocketTransport(session, ws, protocol, one_packet_per_frame=self.one_packet_per_frame)
        protocol.connection_made(transport)
        transport.start()
        return protocol


class WebSocketTransport(asyncio.Transport):
    """An asyncio transport over an aiohttp WebSocket: BINARY frames carry the MQTT byte stream.

    One task owns the connection: it reads frames and, beside it, a writer task sends queued frames in order.
    A TEXT frame closes the connection with `ProtocolError` (MQTT spec 6.0.0-1). `connection_lost` is called
    exactly once, after the WebSocket and its HTTP session are closed.
    """

    HIGH_WATER = 1 << 20
    LOW_WATER = 1 << 18

    def __init__(
        self,
        session: aiohttp.ClientSession,
        ws: aiohttp.ClientWebSocketResponse,
        protocol: asyncio.Protocol,
        *,
        one_packet_per_frame: bool = False,
    ) -> None:
        super().__init__()
        self._loop = asyncio.get_running_loop()
        self._session = session
        self._ws = ws
        self._protocol = protocol
        self._one_packet_per_frame = one_packet_per_frame
        self._frames: deque[bytes] = deque()
        self._buffered = 0
        self._writer_wakeup: asyncio.Future[None] | None = None
        self._writing_paused = False
        self._reading_resumed = asyncio.Event()
        self._reading_resumed.set()
        self._closing = False
        self._cleaning_up = False
        self._error: BaseException | None = None
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = self._loop.create_task(self._run())

    # --- asyncio.Transport ------------------------------------------------------------------------

    def write(self, data: bytes) -> None:
        self.writelines((data,))

    def writelines(self, list_of_data: Iterable[bytes]) -> None:
        if self._closing:
            return
        if self._one_packet_per_frame:
            frames = [bytes(data) for data in list_of_data]
        else:
            frames = [b"".join(list_of_data)]
        for frame in frames:
            self._frames.append(frame)
            self._buffered += len(frame)
        self._wake_writer()
        if not self._writing_paused and self._buffered > self.HIGH_WATER:
            self._writing_paused = True
            self._protocol.pause_writing()

    def can_write_eof(self) -> bool:
        return False

    def is_closing(self) -> bool:
        return self._closing

    def close(self) -> None:
        """Send what is queued, then close the WebSocket."""
        if not self._closing:
            self._closing = True
            self._wake_writer()

    def abort(self) -> None:
        self._closing = True
        if self._task is not None and not self._cleaning_up:
            self._task.cancel()

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self._ws.get_extra_info(name, default)

    def pause_reading(self) -> None:
        self._reading_resumed.clear()

    def resume_reading(self) -> None:
        self._reading_resumed.set()

    def is_reading(self) -> bool:
        return self._reading_resumed.is_set()

    def get_write_buffer_size(self) -> int:
        return self._buffered

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        raise NotImplementedError("the MQTT protocol of a WebSocket transport cannot be replaced")

    def get_protocol(self) -> asyncio.BaseProtocol:
        return self._protocol

    # --- the connection's task --------------------------------------------------------------------

    def _wake_writer(self) -> None:
        wakeup = self._writer_wakeup
        if wakeup is not None and not wakeup.done():
            wakeup.set_result(None)

    async def _run(self) -> None:
        writer = self._loop.create_task(self._write_frames())
        aborted = False
        try:
            await self._read_frames()
        except asyncio.CancelledError:
            aborted = True
        except Exception as exc:
            self._error = self._error or exc
        self._closing = self._cleaning_up = True
        writer.cancel()
        try:
            await asyncio.gather(writer, return_exceptions=True)
            if not aborted:
                await self._ws.close()
            else:
                await self._close_aborted()
        finally:
            # Closing the session also drops the TCP connection when an abort skipped the closing handshake.
            try:
                await self._session.close()
            finally:
                self._protocol.connection_lost(self._error)

    async def _close_aborted(self) -> None:
        """aiohttp has no abort for a client WebSocket: a close cut short still releases its HTTP response (which
        would otherwise be reported as an 'Unclosed connection' when collected); the MQTT side is already gone."""
        try:
            async with asyncio.timeout(ABORT_CLOSE_TIMEOUT):
                await self._ws.close(code=aiohttp.WSCloseCode.GOING_AWAY)
        except (TimeoutError, ConnectionError, aiohttp.ClientError):
            pass

    async def _read_frames(self) -> None:
        async for msg in self._ws:
            if msg.type is aiohttp.WSMsgType.BINARY:
                if not self._reading_resumed.is_set():
                    await self._reading_resumed.wait()
                self._protocol.data_received(msg.data)
            elif msg.type is aiohttp.WSMsgType.TEXT:
                raise ProtocolError("the server sent a TEXT WebSocket frame; MQTT uses BINARY frames only")
            elif msg.type is aiohttp.WSMsgType.ERROR:
                raise ConnectionResetError(f"WebSocket error: {msg.data}")
        if not self._closing:
            self._error = ConnectionResetError(f"WebSocket closed by the server (code {self._ws.close_code})")

    async def _write_frames(self) -> None:
        try:
            while True:
                while self._frames:
                    frame = self._frames.popleft()
                    await self._ws.send_bytes(frame)
                    self._buffered -= len(frame)
                    if self._writing_paused and self._buffered <= self.LOW_WATER:
                        self._writing_paused = False
                        self._protocol.resume_writing()
                if self._closing:
                    # A graceful close: everything queued was sent; closing the WebSocket ends the reader.
                    await self._ws.close()
                    return
                self._writer_wakeup = self._loop.create_future()
                await self._writer_wakeup
        except (ConnectionError, aiohttp.ClientError) as exc:
            self._error = self._error or exc
            if self._task is not None:
                self._task.cancel()
