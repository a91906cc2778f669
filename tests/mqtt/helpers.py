"""Helpers for the MQTT client tests: message inboxes, endpoints for each listener, and raw fake brokers."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import AsyncIterator, Awaitable, Callable

from aiohttp import web

from flowhost.mqtt import MQTTClient, TcpEndpoint, WebSocketEndpoint
from flowhost.mqtt.packets import MQTT_5, Packet, PacketReader
from tests.support.brokers import MosquittoBroker
from tests.support.certs import PKI

_ids = itertools.count()


def client_id(prefix: str = "test") -> str:
    return f"{prefix}-{next(_ids)}"


class Inbox:
    """An `on_message` callback that keeps the messages and lets a test wait for them."""

    def __init__(self) -> None:
        self.messages: list = []
        self._changed = asyncio.Event()

    def __call__(self, message) -> None:
        self.messages.append(message)
        self._changed.set()

    @property
    def payloads(self) -> list[bytes]:
        return [message.payload for message in self.messages]

    async def wait_for(self, count: int, seconds: float = 10.0) -> list:
        """Wait until at least `count` messages arrived; fail with what did arrive."""
        try:
            async with asyncio.timeout(seconds):
                while len(self.messages) < count:
                    self._changed.clear()
                    await self._changed.wait()
        except TimeoutError:
            raise AssertionError(f"{len(self.messages)} of {count} messages within {seconds} s") from None
        return self.messages


def endpoints(broker: MosquittoBroker, pki: PKI) -> dict[str, TcpEndpoint | WebSocketEndpoint]:
    """One endpoint per Mosquitto listener; `mtls` presents the test client certificate."""
    return {
        "tcp": TcpEndpoint(broker.host, broker.tcp_port),
        "tls": TcpEndpoint(broker.host, broker.tls_port, ssl=pki.client_context()),
        "mtls": TcpEndpoint(broker.host, broker.mtls_port, ssl=pki.client_context(pki.client)),
        "ws": WebSocketEndpoint(broker.ws_url),
        "wss": WebSocketEndpoint(broker.wss_url, ssl=pki.client_context()),
    }


@contextlib.asynccontextmanager
async def connected(endpoint, client_id_: str | None = None, **options) -> AsyncIterator[MQTTClient]:
    """A connected client, disconnected (or left alone if already closed) at the end."""
    client = MQTTClient(endpoint, client_id_ or client_id(), **options)
    await client.connect()
    try:
        yield client
    finally:
        await client.disconnect()


class FakeConnection:
    """The server side of one connection to a `fake_broker`: read decoded packets, write raw bytes."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, version: int) -> None:
        self.reader = reader
        self.writer = writer
        self._packets = PacketReader(version)
        self._queue: list[Packet] = []

    async def receive(self, seconds: float = 5.0) -> Packet:
        async with asyncio.timeout(seconds):
            while not self._queue:
                data = await self.reader.read(65536)
                if not data:
                    raise ConnectionError("client closed the connection")
                self._queue += self._packets.feed(data)
        return self._queue.pop(0)

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()


@contextlib.asynccontextmanager
async def fake_broker(
    script: Callable[[FakeConnection], Awaitable[None]], version: int = MQTT_5
) -> AsyncIterator[TcpEndpoint]:
    """A TCP server on a free loopback port that runs `script` for each connection; yields the endpoint.
    Scripts still running at the end are cancelled; a script that failed (other than by the client leaving)
    fails the test when the block ends."""
    tasks: set[asyncio.Task] = set()
    failures: list[BaseException] = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        tasks.add(task)
        try:
            await script(FakeConnection(reader, writer, version))
        except (ConnectionError, asyncio.CancelledError):
            pass
        except BaseException as exc:
            failures.append(exc)
        finally:
            tasks.discard(task)
            writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    try:
        yield TcpEndpoint("127.0.0.1", server.sockets[0].getsockname()[1])
    finally:
        server.close()
        for task in list(tasks):
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await server.wait_closed()
    if failures:
        raise failures[0]


@contextlib.asynccontextmanager
async def websocket_server(
    handler: Callable[[web.Request], Awaitable[web.StreamResponse]],
) -> AsyncIterator[str]:
    """An aiohttp server on a free loopback port with `handler` at /mqtt; yields the ws:// URL. Exceptions
    that the handler kept in a `failures` attribute are raised at the end."""
    app = web.Application()
    app.router.add_get("/mqtt", handler)
    runner = web.AppRunner(app, shutdown_timeout=1.0)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"ws://127.0.0.1:{port}/mqtt"
    finally:
        await runner.cleanup()
    failures = getattr(handler, "failures", [])
    if failures:
        raise failures[0]
