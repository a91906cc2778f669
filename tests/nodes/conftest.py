"""A runtime on a manual clock, and a flow harness: put messages into a node's inbox, read what collectors got."""

from __future__ import annotations

import asyncio
import textwrap
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from flowhost.app import create_runtime
from flowhost.clock import ManualClock
from flowhost.flowfile import load_flow_file
from flowhost.message import Message
from flowhost.plugins import PluginHost
from flowhost.runtime import Runtime
from tests.support.sample_nodes import Collector

WALL_START = 1767225600.0
"""2026-01-01T00:00:00Z: the manual clock's wall time at zero."""


async def wait_for(condition: Callable[[], Any], timeout: float = 5.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.005)


class Harness:
    def __init__(self, runtime: Runtime, clock: ManualClock, tmp_path: Path) -> None:
        self.runtime, self.clock, self._tmp_path = runtime, clock, tmp_path
        self.flow_id = "t"

    async def deploy(self, text: str) -> None:
        path = self._tmp_path / "flow.yaml"
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
        spec = load_flow_file(path, self.runtime.registry)
        self.flow_id = spec.id
        await self.runtime.deploy(spec)

    def node(self, node_id: str):
        return self.runtime.node(self.flow_id, node_id)

    async def send(self, node_id: str, payload: Any, topic: str | None = None) -> Message:
        msg = Message.create(payload, topic=topic)
        await self.node(node_id).inbox.put(msg)
        return msg

    async def settle(self) -> None:
        """Wait until every inbox of the flow is empty and handled."""
        for runner in self.runtime.flows[self.flow_id].nodes.values():
            if runner.inbox is not None:
                async with asyncio.timeout(5):
                    await runner.inbox.join()

    @staticmethod
    def received(node_id: str) -> list[Message]:
        return Collector.received[node_id]

    @staticmethod
    def payloads(node_id: str) -> list[Any]:
        return [msg.payload for msg in Collector.received[node_id]]

    async def advance(self, seconds: float, *, sleepers: int = 1) -> None:
        """Advance the clock once at least ``sleepers`` waits are pending (the nodes' tasks reached them)."""
        await wait_for(lambda: self.clock.sleepers >= sleepers)
        await self.clock.advance(seconds)

    def counters(self, node_id: str) -> dict[str, int]:
        return dict(self.node(node_id).counters)


@pytest.fixture(autouse=True)
def _clean_collectors():
    Collector.received.clear()
    yield
    Collector.received.clear()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(wall_start=WALL_START)


@pytest.fixture
async def harness(plugins: PluginHost, tmp_path: Path, clock: ManualClock) -> AsyncIterator[Harness]:
    runtime = create_runtime(tmp_path / "data", plugins, clock=clock)
    await runtime.start()
    yield Harness(runtime, clock, tmp_path)
    await runtime.stop()
