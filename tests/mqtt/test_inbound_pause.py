"""MQTTClient.pause_inbound(): received messages wait unhandled and unacknowledged while the client's own
publishes are still acknowledged (real Mosquitto)."""

from __future__ import annotations

import asyncio

from flowhost.mqtt import MQTT_5, MQTT_311, MQTTClient, TcpEndpoint
from tests.support.mqtt_helpers import wait_until


async def test_paused_messages_wait_in_order_while_own_publishes_are_acknowledged(mosquitto):
    received = []
    client = MQTTClient(
        TcpEndpoint(mosquitto.host, mosquitto.tcp_port),
        "paused-client",
        protocol_version=MQTT_5,
        on_message=lambda message: received.append(message.payload),
    )
    sender = MQTTClient(TcpEndpoint(mosquitto.host, mosquitto.tcp_port), "sender", protocol_version=MQTT_311)
    await client.connect()
    await sender.connect()
    try:
        await client.subscribe("paused/in", 1)
        client.pause_inbound()
        await asyncio.gather(*[await sender.publish("paused/in", f"{n}", 1) for n in range(50)])
        # The paused client's own publish is acknowledged although 50 messages wait before the PUBACK.
        assert await asyncio.wait_for(await client.publish("paused/out", "mine", 1), 5) == 0x10  # no subscribers
        assert received == []
        client.resume_inbound()
        await wait_until(lambda: len(received) == 50, 5, "the held messages handed on")
        assert received == [f"{n}".encode() for n in range(50)]
    finally:
        await sender.disconnect()
        await client.disconnect()


async def test_a_connection_made_while_paused_starts_paused(mosquitto):
    received = []
    endpoint = TcpEndpoint(mosquitto.host, mosquitto.tcp_port)
    client = MQTTClient(
        endpoint,
        "paused-session",
        protocol_version=MQTT_311,
        clean_start=False,
        on_message=lambda message: received.append(message.payload),
    )
    await client.connect()
    await client.subscribe("queued/in", 1)
    await client.disconnect()
    sender = MQTTClient(endpoint, "queued-sender", protocol_version=MQTT_311)
    await sender.connect()
    await asyncio.gather(*[await sender.publish("queued/in", f"{n}", 1) for n in range(20)])
    await sender.disconnect()
    client.pause_inbound()
    result = await client.connect()  # the broker sends the 20 queued messages right after CONNACK
    try:
        assert result.session_present
        await asyncio.sleep(0.2)  # the behaviour under test: nothing is handed on while inbound is paused
        assert received == []
        client.resume_inbound()
        await wait_until(lambda: len(received) == 20, 5, "the queued messages handed on")
        assert received == [f"{n}".encode() for n in range(20)]
    finally:
        await client.disconnect()
