"""``catch`` and ``status``: the other nodes' errors and status changes as messages, bounded against loops."""

from __future__ import annotations

import pytest

from flowhost.flow_yaml import FlowValidationError

FAILING_CHANGE = "{changes: [{action: set, path: payload.x, from: payload.nope}]}"
"""A change node that fails on every message that has no payload.nope (what catch sends has none)."""

pytestmark = pytest.mark.expect_node_errors


async def test_catch_sends_each_error_with_the_node_the_error_and_the_message(harness):
    await harness.deploy(
        """
        flowhost: 1
        id: t
        nodes:
          - {id: decode, type: test-collect, config: {fail_on: bad}}
          - {id: other, type: test-collect, config: {fail_on: bad}}
          - {id: errors, type: catch, config: {nodes: [decode]}, wires: {out: [sink]}}
          - {id: sink, type: test-collect}
        """
    )
    failed = await harness.send("decode", "bad", topic="mqtt/up")
    await harness.send("decode", "good")
    await harness.send("other", "bad")  # not listed: not caught
    await harness.settle()
    [caught] = harness.received("sink")
    assert caught.payload == {
        "node": "decode",
        "type": "test-collect",
        "error": "ValueError: cannot handle 'bad'",
        "message": "bad",
        "messageId": failed.id,
    }
    assert caught.topic == "mqtt/up" and caught.meta["catchDepth"] == 1
    assert harness.counters("errors")["sent"] == 1


async def test_a_catch_that_feeds_a_failing_node_stops_at_max_depth(harness):
    await harness.deploy(
        f"""
        flowhost: 1
        id: t
        nodes:
          - {{id: boom, type: change, config: {FAILING_CHANGE}}}
          - {{id: errors, type: catch, config: {{maxDepth: 3}}, wires: {{out: [boom, sink]}}}}
          - {{id: sink, type: test-collect}}
        """
    )
    await harness.send("boom", {"n": 1})
    await harness.settle()
    await harness.settle()  # what catch sent on the way fails again, and is caught again, up to maxDepth
    assert [msg.meta["catchDepth"] for msg in harness.received("sink")] == [1, 2, 3]
    assert harness.counters("boom")["errors"] == 4
    assert harness.counters("errors")["loops"] == 1


async def test_catch_passes_at_most_max_per_second(harness):
    await harness.deploy(
        """
        flowhost: 1
        id: t
        nodes:
          - {id: decode, type: test-collect, config: {fail_on: bad}}
          - {id: errors, type: catch, config: {maxPerSecond: 2}, wires: {out: [sink]}}
          - {id: sink, type: test-collect}
        """
    )
    for _ in range(5):
        await harness.send("decode", "bad")
    await harness.settle()
    assert len(harness.received("sink")) == 2 and harness.counters("errors")["dropped"] == 3
    await harness.clock.advance(0.5)
    await harness.send("decode", "bad")
    await harness.settle()
    assert len(harness.received("sink")) == 3


async def test_catch_hears_of_a_node_that_failed_to_start(harness):
    await harness.deploy(
        """
        flowhost: 1
        id: t
        nodes:
          - {id: broken, type: test-unbuildable}
          - {id: errors, type: catch, wires: {out: [sink]}}
          - {id: sink, type: test-collect}
        """
    )
    await harness.settle()
    [caught] = harness.received("sink")
    assert caught.payload["node"] == "broken" and "missing calibration table" in caught.payload["error"]
    assert caught.payload["messageId"] is None and caught.payload["message"] is None


async def test_status_sends_each_status_change_of_the_other_nodes(harness):
    await harness.deploy(
        """
        flowhost: 1
        id: t
        nodes:
          - {id: tick, type: inject, config: {once: true}, wires: {out: [quiet]}}
          - {id: quiet, type: test-collect}
          - {id: watch, type: status, wires: {out: [sink]}}
          - {id: sink, type: test-collect}
        """
    )
    await harness.settle()
    harness.node("quiet").status("disk full", "error")
    harness.node("watch").status("own status: not sent back to it", "info")
    await harness.settle()
    payloads = harness.payloads("sink")
    assert payloads == [
        {"node": "tick", "type": "inject", "text": "once", "level": "ok", "messageId": None},
        {"node": "quiet", "type": "test-collect", "text": "disk full", "level": "error", "messageId": None},
    ]


async def test_listed_nodes_must_exist_in_the_flow(harness):
    with pytest.raises(FlowValidationError) as raised:
        await harness.deploy(
            """
            flowhost: 1
            id: t
            nodes:
              - {id: decode, type: test-collect}
              - {id: errors, type: catch, config: {nodes: [decode, decoder]}}
            """
        )
    [error] = raised.value.errors
    assert str(error).endswith(
        "flow.yaml:5:56: nodes[1].config.nodes[1]: unknown node 'decoder' (known: decode, errors)"
    )


async def test_a_status_change_while_handling_a_message_names_that_message(harness):
    await harness.deploy(
        """
        flowhost: 1
        id: t
        nodes:
          - {id: hold, type: delay, config: {delay: 1m, maxQueued: 1}}
          - {id: watch, type: status, config: {nodes: [hold]}, wires: {out: [sink]}}
          - {id: sink, type: test-collect}
        """
    )
    await harness.send("hold", 1)
    overflowing = await harness.send("hold", 2)  # the queue holds one: this one is dropped and the status says so
    await harness.settle()
    full = [p for p in harness.payloads("sink") if p["level"] == "warning"]
    assert full == [
        {
            "node": "hold",
            "type": "delay",
            "text": "queue full (1): dropping",
            "level": "warning",
            "messageId": overflowing.id,
        }
    ]
