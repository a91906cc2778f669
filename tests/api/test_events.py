"""``/api/events``: runtime events and counters over a WebSocket; a slow client is dropped, not waited for."""

from __future__ import annotations

import asyncio

import orjson
import pytest
from aiohttp import WSMsgType

from flowhost import keys
from flowhost.api.events import EVENT_HUB, EventClient
from flowhost.events import RuntimeEvent
from tests.api.conftest import TOKEN


async def receive_until(socket, predicate, timeout: float = 5.0) -> list[dict]:
    seen = []
    async with asyncio.timeout(timeout):
        while True:
            message = await socket.receive()
            assert message.type == WSMsgType.TEXT, message
            event = orjson.loads(message.data)
            seen.append(event)
            if predicate(event):
                return seen


DEBUG_FLOW = {
    "flowhost": 1,
    "id": "watched",
    "nodes": [
        {"id": "source", "type": "test-emit", "config": {"payloads": [{"t": 21.5}]}, "wires": {"out": ["console"]}},
        {"id": "console", "type": "debug"},
    ],
}


@pytest.fixture
def frequent_counters(app):
    """A counters event every 50 ms instead of every second (set before the client starts the hub's ticker):
    when the first one comes is not the matter of the test that waits for it."""
    app[EVENT_HUB].counters_interval = 0.05


async def test_deployments_debug_messages_and_counters_arrive_with_timestamps(frequent_counters, api):
    socket = await api.ws_connect("/api/events")
    assert (await api.post("/api/flows", json=DEBUG_FLOW)).status == 201
    seen = await receive_until(socket, lambda event: event["kind"] == "debug")
    deployed = next(event for event in seen if event["kind"] == "deployed")
    assert deployed["flow"] == "watched" and set(deployed["data"]["changed"]) == {"source", "console"}
    debug = seen[-1]
    assert debug["node"] == "console" and orjson.loads(debug["data"]["payload"]) == {"t": 21.5}
    assert all(isinstance(event["time"], float) for event in seen)
    counters = (await receive_until(socket, lambda event: event["kind"] == "counters"))[-1]
    assert counters["data"]["nodes"]["watched"]["console"]["counters"] == {"seen": 1, "processed": 1}
    await socket.close()


async def test_connection_state_changes_are_events(api, mosquitto):
    from tests.api.conftest import thingpark_body

    socket = await api.ws_connect("/api/events")
    assert (await api.post("/api/connections", json=thingpark_body(mosquitto))).status == 201
    seen = await receive_until(
        socket, lambda event: event["kind"] == "connection_state" and event["data"]["state"] == "OPENED"
    )
    assert seen[-1]["connection"] == "test-aws-mq-mqtt-ssl-connection"
    await socket.close()


async def test_a_slow_client_is_dropped_and_the_others_keep_receiving(app, api):
    hub = app[EVENT_HUB]
    slow = await api.ws_connect("/api/events")
    fast = await api.ws_connect(f"/api/events?token={TOKEN}")
    while len(hub.clients) < 2:
        await asyncio.sleep(0.01)
    runtime = app[keys.RUNTIME]
    for number in range(hub.queue_size * 3):  # far more than a queue holds, without yielding to the senders
        runtime.emit(RuntimeEvent("status", "f", "n", data={"text": str(number), "level": "info"}))
    # the runtime was never blocked; both queues are bounded; both clients were marked dropped...
    assert all(client.queue.qsize() <= hub.queue_size + 1 for client in hub.clients)
    message = await slow.receive()
    while message.type == WSMsgType.TEXT:
        message = await slow.receive()
    assert message.type in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED)
    assert slow.close_code == 1008
    # ... and a new client that keeps up gets the next events
    fresh = await api.ws_connect("/api/events")
    while len(hub.clients) < 1 or all(client.overflowed for client in hub.clients):
        await asyncio.sleep(0.01)
    runtime.emit(RuntimeEvent("status", "f", "n", data={"text": "after", "level": "info"}))
    seen = await receive_until(fresh, lambda event: event["kind"] == "status")
    assert seen[-1]["data"]["text"] == "after"
    for socket in (slow, fast, fresh):
        await socket.close()


def test_a_client_queue_never_grows_beyond_its_bound():
    client = EventClient(queue_size=3)
    for number in range(10):
        client.offer({"n": number})
    assert client.overflowed and client.queue.qsize() == 4  # three events and the overflow mark
