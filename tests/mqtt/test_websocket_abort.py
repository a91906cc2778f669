"""MQTTClient.abort() over a WebSocket releases aiohttp's connection (real Mosquitto, ws:// listener)."""

from __future__ import annotations

import asyncio
import gc

from flowhost.mqtt import MQTT_311, MQTTClient, WebSocketEndpoint


async def test_abort_over_websocket_leaves_no_unclosed_connection(mosquitto):
    loop = asyncio.get_running_loop()
    reported: list[str] = []
    previous = loop.get_exception_handler()
    loop.set_exception_handler(lambda loop, context: reported.append(context.get("message", "")))
    try:
        for _ in range(3):
            client = MQTTClient(WebSocketEndpoint(mosquitto.ws_url), "ws-abort", protocol_version=MQTT_311)
            await client.connect()
            client.abort()
            await client.wait_closed()
            del client
        gc.collect()
        await asyncio.sleep(0.05)
    finally:
        loop.set_exception_handler(previous)
    assert not [message for message in reported if "Unclosed" in message], reported
