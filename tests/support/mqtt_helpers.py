"""A test-side MQTT subscriber and publisher built on flowhost's own client, polling helpers, and mosquitto_sub
with a readiness probe (no sleep before publishing)."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable

import orjson

from flowhost.mqtt import MQTT_311, MQTTClient, TcpEndpoint
from flowhost.mqtt import Message as MqttMessage

FIRST_POLLS = (0.001, 0.002, 0.004, 0.008)
"""The first checks of a wait come soon (most conditions hold within milliseconds: a fixed 20 ms cost ~10 ms a
wait, and the fast tier waits hundreds of times), then every POLL_INTERVAL."""
POLL_INTERVAL = 0.02


async def wait_until(condition: Callable[[], bool], timeout: float = 10.0, message: str = "") -> None:
    intervals = itertools.chain(FIRST_POLLS, itertools.repeat(POLL_INTERVAL))
    try:
        async with asyncio.timeout(timeout):
            while not condition():
                await asyncio.sleep(next(intervals))
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
        await wait_until(lambda: len(self.messages) >= count, timeout, f"{count} messages (have {len(self.messages)})")
        return self.messages


async def publish(host: str, port: int, topic: str, payload: bytes | str, qos: int = 1) -> None:
    client = MQTTClient(TcpEndpoint(host, port), "", protocol_version=MQTT_311)
    await client.connect()
    try:
        await client.publish_and_wait(topic, payload, qos)
    finally:
        await client.disconnect()


PROBE = "flowhost-test-probe"
"""Marks the probe messages of :class:`MosquittoSub`: a line holding it is a probe, not a test's message."""


class MosquittoSub:
    """``mosquitto_sub`` (the Mosquitto project's client) in a child process, its output kept line by line.

    ``start()`` returns once the subscription is in place, without a sleep: it publishes probe messages on
    ``probe_topic`` (a topic that ``topic_filter`` matches) until one comes back, which the broker can only
    deliver after it sent the SUBACK. Probe lines go to ``probes``, every other line (decoded, newline kept) to
    ``lines``, so a test counts only its own messages. ``options`` go to mosquitto_sub (``-i ID -c -q 1 -v``)."""

    def __init__(self, host: str, port: int, topic_filter: str, probe_topic: str, *options: str) -> None:
        self.host, self.port, self.probe_topic = host, port, probe_topic
        self.command = ["mosquitto_sub", "-h", host, "-p", str(port), "-t", topic_filter, *options]
        self.lines: list[str] = []
        self.probes: list[str] = []
        self.process: asyncio.subprocess.Process | None = None
        self._reader: asyncio.Task | None = None

    async def start(self, timeout: float = 10.0) -> MosquittoSub:
        self.process = await asyncio.create_subprocess_exec(*self.command, stdout=asyncio.subprocess.PIPE)
        self._reader = asyncio.create_task(self._read())
        await self.wait_subscribed(timeout)
        return self

    async def _read(self) -> None:
        async for line in self.process.stdout:
            text = line.decode()
            (self.probes if PROBE in text else self.lines).append(text)

    async def wait_subscribed(self, timeout: float = 10.0) -> None:
        """Publish a probe every half second (a probe sent before the SUBACK is lost) until one arrives."""
        try:
            async with asyncio.timeout(timeout):
                for number in itertools.count():
                    await publish(self.host, self.port, self.probe_topic, f"{PROBE} {number}")
                    for _ in range(25):
                        if self.probes:
                            return
                        if self.process.returncode is not None:
                            raise AssertionError(f"mosquitto_sub exited with {self.process.returncode}")
                        await asyncio.sleep(0.02)
        except TimeoutError:
            raise AssertionError(f"mosquitto_sub not subscribed within {timeout} s: no probe came back") from None

    async def stop(self) -> None:
        if self.process is None:
            return  # never started
        if self.process.returncode is None:
            self.process.terminate()
        await self.process.wait()
        self._reader.cancel()
        await asyncio.gather(self._reader, return_exceptions=True)
