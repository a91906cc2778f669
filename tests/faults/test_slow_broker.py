"""A slow broker (a proxy that delays every byte it returns): actionTimeout is enforced and nothing is lost."""

from __future__ import annotations

import asyncio
import contextlib

import aiohttp
import orjson

from tests.faults.test_process_faults import HTTP_SOURCE, write_flow
from tests.support.flowhost_fixtures import free_port
from tests.support.mqtt_helpers import Subscriber, wait_until

TOKEN = "slow-broker-test-token-0123456789"


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


async def test_action_timeout_is_enforced_and_nothing_is_lost(flowhost_process, mosquitto, tmp_path):
    proxy = DelayingProxy(mosquitto.tcp_port, delay=1.5)
    proxy_port = await proxy.start()
    flow = write_flow(
        tmp_path / "slow.yaml",
        f"127.0.0.1:{proxy_port}",
        HTTP_SOURCE,
        uplinkTopicPattern="slow/{DevEUI}/{FCntUp}",
        actionTimeout=500,
    )
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    process = await flowhost_process(
        str(flow),
        "--no-broker",
        "--port",
        str(port),
        "--data-dir",
        str(tmp_path / "data"),
        env={"FLOWHOST_TOKEN": TOKEN},
    )
    await process.wait_for_line("connection broker: OPENED", timeout=30)
    counters: dict = {}
    try:
        async with (
            Subscriber(mosquitto.host, mosquitto.tcp_port, "slow/#", client_id="slow-sub") as subscriber,
            aiohttp.ClientSession(headers={"Authorization": f"Bearer {TOKEN}"}) as http,
        ):
            for counter in range(30):
                uplink = {"DevEUI_uplink": {"DevEUI": "78AF580300000345", "FCntUp": counter}}
                async with http.post(f"{base}/uplinks", json=uplink) as response:
                    assert response.status == 202

            async def read_counters() -> dict:
                async with http.get(f"{base}/api/connections/broker") as response:
                    counters.update((await response.json())["counters"])
                return counters

            # No acknowledgement within actionTimeout, nor anything else, nor a PINGREQ answer: the broker counts
            # as stalled and the connection is dropped; the kept session resends the uplinks on reconnecting.
            await process.wait_for_line("BrokerStalledError", timeout=10)
            assert (await read_counters())["uplinksPublished"] == 0
            proxy.delay = 0
            async with asyncio.timeout(20):
                while (await read_counters())["uplinksPublished"] < 30:
                    await asyncio.sleep(0.2)
            await wait_until(lambda: len({m.topic for m in subscriber.messages}) == 30, timeout=10)
        received = {orjson.loads(message.payload)["DevEUI_uplink"]["FCntUp"] for message in subscriber.messages}
        assert received == set(range(30))
        assert counters["uplinksQueued"] == 0
    finally:
        await proxy.close()
