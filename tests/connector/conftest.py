"""Flows around one ``actility-mqtt-iot`` connection, deployed on the test runtime."""

from __future__ import annotations

import pytest

from flowhost.flowfile import validate_flow
from tests.support.sample_nodes import Collector

DEVICES = ["78AF580300000345", "78AF580300000346"]


def connector_flow(configuration: dict, *, source: dict | None = None, flow_id: str = "c") -> dict:
    """source -> mqtt-connector (connection 'broker') -> test-collect nodes 'downlinks' and 'others'."""
    source = source or {
        "type": "lorawan-simulator",
        "config": {"devEUIs": DEVICES, "interval": "50ms", "limit": 4},
    }
    return {
        "flowhost": 1,
        "id": flow_id,
        "connections": [{"id": "broker", "connectorId": "actility-mqtt-iot", "configuration": configuration}],
        "nodes": [
            {"id": "source", **source, "wires": {"out": ["connector"]}},
            {
                "id": "connector",
                "type": "mqtt-connector",
                "config": {"connection": "broker"},
                "wires": {"downlink": ["downlinks"], "other": ["others"]},
            },
            {"id": "downlinks", "type": "test-collect"},
            {"id": "others", "type": "test-collect"},
        ],
    }


@pytest.fixture
def deploy(runtime):
    async def deploy(document: dict):
        spec = validate_flow(document, runtime.registry)
        await runtime.deploy(spec)
        return runtime.connections["broker"].connection if "broker" in runtime.connections else None

    return deploy


@pytest.fixture(autouse=True)
def _clean_collectors():
    Collector.received.clear()
    yield
    Collector.received.clear()


@pytest.fixture
def states(runtime):
    """Connection states in the order they were announced: [(state, error), ...]."""
    seen: list[tuple[str, str | None]] = []
    runtime.add_listener(
        lambda event: (
            seen.append((event.data["state"], event.data["error"])) if event.kind == "connection_state" else None
        )
    )
    return seen
