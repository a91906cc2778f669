"""examples/flows/uplink-pipeline.yaml, every node of docs/nodes.md together, over two simulated hours."""

from __future__ import annotations

from pathlib import Path

from flowhost.flowfile import load_flow_file

from .conftest import wait_for

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "flows" / "uplink-pipeline.yaml"


async def test_the_example_pipeline_runs_on_the_manual_clock(harness):
    spec = load_flow_file(EXAMPLE, harness.runtime.registry)
    await harness.runtime.deploy(spec)
    harness.flow_id = spec.id
    for _ in range(120):  # two hours, a minute at a time: both servers send, one of each pair goes on
        await harness.advance(60, sleepers=2)
    await wait_for(lambda: harness.counters("hourly").get("batches by timeout") == 1)  # an hour after the first
    once, limit = harness.counters("once"), harness.counters("per-device")
    assert once["passed"] == 120 and once["duplicates"] == 120
    assert harness.counters("route")["to measurements"] == 120
    # A burst of 10 at minutes 1 to 10, then a token every 6 minutes: minutes 7, 13, ... 115.
    assert (limit["passed"], limit["dropped"]) == (29, 91)
    assert harness.counters("repeats")["seen"] == 120
    assert harness.counters("log")["seen"] == 1  # the first hour's batch: what the rate let through by minute 61
