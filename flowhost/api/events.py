"""``/api/events``: the runtime's events live over a WebSocket, plus a ``counters`` event every second.

Each client has a bounded queue; a client that falls behind by more than ``queue_size`` events is dropped
(closed with code 1008) rather than slowing the runtime, which only ever does a ``put_nowait``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

import orjson
from aiohttp import WSCloseCode, web

from ..events import RuntimeEvent
from ..runtime import Runtime

log = logging.getLogger(__name__)

_OVERFLOW = object()


class EventClient:
    def __init__(self, queue_size: int) -> None:
        self.queue: asyncio.Queue[Any] = asyncio.Queue(queue_size + 1)  # one place kept for the overflow mark
        self.queue_size = queue_size
        self.overflowed = False

    def offer(self, item: dict[str, Any]) -> None:
        if self.overflowed:
            return
        if self.queue.qsize() >= self.queue_size:
            self.overflowed = True
            self.queue.put_nowait(_OVERFLOW)
            return
        self.queue.put_nowait(item)


class EventHub:
    """Fans the runtime's events out to the connected WebSocket clients."""

    def __init__(self, runtime: Runtime, queue_size: int = 1000, counters_interval: float = 1.0) -> None:
        self.runtime = runtime
        self.queue_size = queue_size
        self.counters_interval = counters_interval
        self.clients: set[EventClient] = set()
        self._ticker: asyncio.Task | None = None

    def start(self) -> None:
        self.runtime.add_listener(self._on_event)
        self._ticker = asyncio.create_task(self._tick(), name="api events: counters")

    async def stop(self) -> None:
        self.runtime.remove_listener(self._on_event)
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker

    def _on_event(self, event: RuntimeEvent) -> None:
        if self.clients:
            self._broadcast(event.as_json())

    def _broadcast(self, item: dict[str, Any]) -> None:
        for client in list(self.clients):
            client.offer(item)

    def counters(self) -> dict[str, Any]:
        return {
            "kind": "counters",
            "flow": None,
            "node": None,
            "connection": None,
            "time": time.time(),
            "data": {
                "connections": {
                    connection_id: runner.connection.snapshot()
                    for connection_id, runner in self.runtime.connections.items()
                },
                "nodes": {
                    flow_id: {node_id: runner.snapshot() for node_id, runner in flow.nodes.items()}
                    for flow_id, flow in self.runtime.flows.items()
                },
            },
        }

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(self.counters_interval)
            if self.clients:
                self._broadcast(self.counters())

    async def serve(self, request: web.Request) -> web.WebSocketResponse:
        socket = web.WebSocketResponse(heartbeat=30)
        await socket.prepare(request)
        client = EventClient(self.queue_size)
        self.clients.add(client)
        sender = asyncio.create_task(self._send(socket, client), name="api events: sender")
        try:
            async for _ in socket:  # the client says nothing we need; reading notices when it leaves
                pass
        finally:
            self.clients.discard(client)
            sender.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sender
        return socket

    async def _send(self, socket: web.WebSocketResponse, client: EventClient) -> None:
        try:
            while True:
                item = await client.queue.get()
                if item is _OVERFLOW:
                    log.warning("events client too slow: dropped after %d queued events", client.queue_size)
                    await socket.close(code=WSCloseCode.POLICY_VIOLATION, message=b"too slow: events dropped")
                    return
                await socket.send_str(orjson.dumps(item, default=str).decode())
        except (ConnectionResetError, RuntimeError):
            await socket.close()


EVENT_HUB: web.AppKey[EventHub] = web.AppKey("event_hub")


async def events(request: web.Request) -> web.StreamResponse:
    return await request.app[EVENT_HUB].serve(request)
