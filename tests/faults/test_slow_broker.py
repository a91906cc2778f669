"""A slow broker (a proxy that delays every byte it returns): actionTimeout is enforced and nothing is lost."""

from __future__ import annotations

import asyncio
import contextlib

import orjson

from flowhost.flowfile import validate_flow
from tests.connector.conftest import connector_flow
from tests.support.mqtt_helpers import Subscriber, wait_until


class DelayingProxy:
    """Forwards TCP to a broker; what the broker sends back is held for ``delay`` seconds, in order."""

    def __init__(self, target_port: int, delay: float) -> None:
        self.target_port = target_port
        self.delay = delay
        self.server: asyncio.Server | None = None
        self.tasks: set[asyncio.Task] = set()

    async def start(self) -> int:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return self.server.sockets[0].getsockname()[1]

    async def _serve(self, client_reader, client_writer) -> None:
        broker_reader, broker_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        upstream = asyncio.create_task(self._pipe(client_reader, broker_writer, delayed=False))
        downstream = asyncio.create_task(self._pipe(broker_reader, client_writer, delayed=True))
        self.tasks |= {upstream, downstream}
        await asyncio.wait({upstream, downstream}, return_when=asyncio.FIRST_COMPLETED)
        for task in (upstream, downstream):
            task.cancel()
        for writer in (client_writer, broker_writer):
            writer.close()

    async def _pipe(self, reader, writer, delayed: bool) -> None:
        while data := await reader.read(65536):
            if delayed and self.delay:
                await asyncio.sleep(self.delay)
            writer.write(data)
            await writer.drain()

    async def close(self) -> None:
        self.server.close()
        for task in self.tasks:
            task.cancel()
        with contextlib.suppress(Exception):
            await self.server.wait_closed()


async def test_action_timeout_is_enforced_and_nothing_is_lost(mosquitto, runtime):
    proxy = DelayingProxy(mosquitto.tcp_port, delay=1.5)
    port = await proxy.start()
    configuration = {
        "uplinkTopicPattern": "slow/{DevEUI}/{FCntUp}",
        "hostName": f"127.0.0.1:{port}",
        "protocol": "TCP",
        "actionTimeout": 500,
    }
    uplinks = [{"DevEUI_uplink": {"DevEUI": "78AF580300000345", "FCntUp": n}} for n in range(30)]
    source = {"type": "test-emit", "config": {"payloads": uplinks}}
    try:
        async with Subscriber(mosquitto.host, mosquitto.tcp_port, "slow/#", client_id="slow-sub") as subscriber:
            await runtime.deploy(validate_flow(connector_flow(configuration, source=source), runtime.registry))
            connection = runtime.connections["broker"].connection
            await wait_until(lambda: connection.counters["publishFailures"] > 0, timeout=10)
            assert connection.counters["uplinksPublished"] == 0  # no acknowledgement within actionTimeout yet
            proxy.delay = 0
            await wait_until(lambda: connection.counters["uplinksPublished"] == 30, timeout=20)
            await wait_until(lambda: len({m.topic for m in subscriber.messages}) == 30, timeout=10)
        received = {orjson.loads(message.payload)["DevEUI_uplink"]["FCntUp"] for message in subscriber.messages}
        assert received == set(range(30))
        assert connection.queued == 0
    finally:
        await proxy.close()
