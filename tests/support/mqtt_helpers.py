"""A test-side MQTT subscriber and publisher built on flowhost's own client, and polling helpers."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import orjson

from flowhost.mqtt import MQTT_311, MQTTClient, TcpEndpoint
from flowhost.mqtt import Message as MqttMessage


async def wait_until(condition: Callable[[], bool], timeout: float = 10.0, message: str = "") -> None:
    try:
        async with asyncio.timeout(timeout):
            while not condition():
                await asyncio.sleep(0.02)
    except TimeoutError:
        raise AssertionError(f"not true within {timeout} s: {message or condition}") from None


class Subscriber:
    """Collects what a broker delivers on some topic filters."""

    def __init__(
        self, host: str, port: int, *topic_filters: str, client_id: str = "test-subscriber", persistent: bool = False
    ) -> None:
        """``persistent``: a session the broker keeps while the subscriber is away (clean session 0)."""
        self.messages: list[MqttMessage] = []
        self.topic_filters = topic_filters
        self.client = MQTTClient(
            TcpEndpoint(host, port),
            client_id,
            protocol_version=MQTT_311,
            clean_start=not persistent,
            on_message=self.messages.append,
        )

    async def __aenter__(self) -> Subscriber:
        await self.client.connect()
        for topic_filter in self.topic_filters:
            await self.client.subscribe(topic_filter, 1)
        return self

    async def __aexit__(self, *exc_info) -> None:
        if self.client.is_connected:
            await self.client.disconnect()

    def documents(self) -> list[dict]:
        return [orjson.loads(message.payload) for message in self.messages]

    async def wait_for(self, count: int, timeout: float = 10.0) -> list[MqttMessage]:
        await wait_until(
            lambda: len(self.messages) >= count, timeout, f"{count} messages (have {len(self.messages)})"
        )
        return self.messages


async def publish(host: str, port: int, topic: str, payload: bytes | str, qos: int = 1) -> None:
    client = MQTTClient(TcpEndpoint(host, port), "", protocol_version=MQTT_311)
    await client.connect()
    try:
        await client.publish_and_wait(topic, payload, qos)
    finally:
        await client.disconnect()
