"""Output ports from a node's config (``Node.output_ports``), in the core: flow validation, send and status."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import voluptuous as vol

from flowhost import Message, Node, hookimpl
from flowhost.app import create_runtime
from flowhost.flowfile import FlowValidationError, validate_flow
from flowhost.plugins import load_plugins
from tests.support import sample_nodes
from tests.support.sample_nodes import Collector


class Fork(Node):
    """Sends each message to the port its payload names; its ports are listed in its config."""

    type = "test-fork"
    outputs = ()
    config_schema = vol.Schema({vol.Required("ports"): [str]})

    @classmethod
    def output_ports(cls, config):
        return tuple(config["ports"])

    async def on_input(self, msg: Message) -> None:
        await self.context.send(msg, msg.payload)


@hookimpl
def flowhost_register_node_types(register):
    register(Fork)


@pytest.fixture
async def fork_runtime(tmp_path: Path):
    runtime = create_runtime(
        tmp_path, load_plugins(extra=[("test-nodes", sample_nodes), ("fork", sys.modules[__name__])])
    )
    await runtime.start()
    yield runtime
    await runtime.stop()
    Collector.received.clear()


def flow(ports: list, wires: dict) -> dict:
    return {
        "flowhost": 1,
        "id": "f",
        "nodes": [
            {"id": "fork", "type": "test-fork", "config": {"ports": ports}, "wires": wires},
            {"id": "sink", "type": "test-collect"},
        ],
    }


async def test_wires_are_checked_against_the_ports_of_the_config(fork_runtime):
    with pytest.raises(FlowValidationError) as caught:
        validate_flow(flow(["left"], {"right": ["sink"]}), fork_runtime.registry)
    assert "has no output 'right' (outputs: left)" in str(caught.value)
    with pytest.raises(FlowValidationError) as caught:
        validate_flow(flow(["a", "a"], {}), fork_runtime.registry)
    assert "the output ports must be distinct names" in str(caught.value)
    with pytest.raises(FlowValidationError) as caught:  # an invalid config: its error alone, no port errors
        validate_flow(flow("left", {"left": ["sink"]}), fork_runtime.registry)
    assert "has no output" not in str(caught.value) and "nodes[0].config.ports" in str(caught.value)


@pytest.mark.expect_node_errors
async def test_a_node_sends_on_its_config_ports_only(fork_runtime):
    await fork_runtime.deploy(validate_flow(flow(["left", "right"], {"left": ["sink"]}), fork_runtime.registry))
    runner = fork_runtime.node("f", "fork")
    assert runner.snapshot()["outputs"] == ["left", "right"]
    for payload in ("left", "right", "up", "left"):
        await runner.inbox.put(Message.create(payload))
    await runner.inbox.join()
    assert [msg.payload for msg in Collector.received["sink"]] == ["left", "left"]  # right is not wired
    assert runner.counters["errors"] == 1  # "up" is no port of this node
    assert Fork.has_config_outputs() and not Collector.has_config_outputs()
