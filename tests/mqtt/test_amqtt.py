"""The client against amqtt (in-process, MQTT 3.1.1), over TCP and WebSockets."""

from __future__ import annotations

import asyncio

import pytest

from flowhost.mqtt import MQTT_5, MQTT_311, MQTTClient, TcpEndpoint, UnsupportedProtocolVersionError, WebSocketEndpoint

from .helpers import Inbox, connected


@pytest.mark.parametrize("transport", ["tcp", "ws"])
async def test_publish_and_receive_at_every_qos(amqtt_broker, transport: str) -> None:
    if transport == "tcp":
        endpoint = TcpEndpoint(amqtt_broker.host, amqtt_broker.port)
    else:
        endpoint = WebSocketEndpoint(amqtt_broker.ws_url)
    inbox = Inbox()
    async with connected(endpoint, protocol_version=MQTT_311, on_message=inbox) as client:
        for qos in (0, 1, 2):
            assert await client.subscribe(f"amqtt/{qos}", qos) == qos
        for qos in (0, 1, 2):
            await client.publish_and_wait(f"amqtt/{qos}", b"qos %d" % qos, qos=qos)
        futures = [await client.publish("amqtt/1", b"%d" % i, qos=1) for i in range(100)]
        await asyncio.wait_for(asyncio.gather(*futures), 20)
        await inbox.wait_for(103)
    assert sorted(inbox.payloads[:3]) == [b"qos 0", b"qos 1", b"qos 2"]
    assert inbox.payloads[3:] == [b"%d" % i for i in range(100)]


async def test_mqtt_5_against_a_broker_that_speaks_only_3_1_1_says_so(amqtt_broker) -> None:
    client = MQTTClient(TcpEndpoint(amqtt_broker.host, amqtt_broker.port), "v5-client", protocol_version=MQTT_5)
    with pytest.raises(UnsupportedProtocolVersionError) as refused:
        await client.connect()
    assert "does not speak MQTT 5" in str(refused.value) and "granted" not in str(refused.value)
