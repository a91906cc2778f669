"""``disabled: true``: a node kept in its flow file but never run (Node-RED's disabled nodes), so that a flow
deploys while one node is unfinished."""

from __future__ import annotations

import asyncio

from tests.support.sample_nodes import Collector

FLOW = """
flowhost: 1
id: partly
nodes:
  - id: source
    type: test-emit
    config: {payloads: [a, b]}
    wires: {out: [unfinished, sink]}
  - id: unfinished
    type: filter
    disabled: true
  - id: sink
    type: test-collect
"""


async def test_a_disabled_node_is_not_validated_nor_run_and_its_wires_carry_nothing(runtime, load_flow):
    Collector.received.clear()
    spec = load_flow(FLOW)
    assert [node.id for node in spec.nodes] == ["source", "sink"]
    await runtime.deploy(spec)
    async with asyncio.timeout(5):
        while len(Collector.received["sink"]) < 2:
            await asyncio.sleep(0.01)
    assert set(runtime.flows["partly"].nodes) == {"source", "sink"}
    Collector.received.clear()


async def test_a_disabled_node_still_needs_a_known_type_and_a_boolean(load_flow):
    from tests.test_flowfile import errors_of

    text = FLOW.replace("type: filter\n    disabled: true", "type: filterr\n    disabled: yes please")
    errors = errors_of(load_flow, text)
    assert any("nodes[1].disabled" in error for error in errors), errors
    errors = errors_of(load_flow, FLOW.replace("type: filter\n", "type: filterr\n"))
    assert any("unknown node type 'filterr' (did you mean 'filter'?)" in error for error in errors), errors
