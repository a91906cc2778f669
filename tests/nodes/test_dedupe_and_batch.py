"""``dedupe`` (repeats of DevEUI + FCntUp within a window) and ``batch`` (by count and/or time, per key) on the
manual clock, with their memory bounds."""

from __future__ import annotations

import pytest
import voluptuous as vol

from flowhost_builtins.batch_node import BatchNode
from flowhost_builtins.dedupe_node import DedupeNode

from .conftest import wait_for

A, B = "78AF580300000345", "0018B20000000B20"


def uplink(dev_eui: str, fcnt: str, lrr: str = "FF0101A0") -> dict:
    return {"DevEUI_uplink": {"DevEUI": dev_eui, "FCntUp": fcnt, "Lrrid": lrr}}


def flow(node_type: str, config: str, extra_wires: str = "") -> str:
    return f"""
    flowhost: 1
    id: t
    nodes:
      - {{id: node, type: {node_type}, config: {config}, wires: {{out: [sink]{extra_wires}}}}}
      - {{id: sink, type: test-collect}}
      - {{id: repeats, type: test-collect}}
    """


async def send_all(harness, *payloads) -> None:
    for payload in payloads:
        await harness.send("node", payload)
    await harness.settle()


def frames(harness, node_id: str = "sink") -> list[tuple[str, str]]:
    uplinks = [p["DevEUI_uplink"] for p in harness.payloads(node_id) if "DevEUI_uplink" in p]
    return [(fields["DevEUI"], fields["FCntUp"]) for fields in uplinks]


# ---- dedupe --------------------------------------------------------------------------------------------------


async def test_one_uplink_heard_through_two_network_servers_goes_on_once(harness):
    await harness.deploy(flow("dedupe", "{window: 30s}", ", duplicate: [repeats]"))
    await send_all(
        harness,
        uplink(A, "7", "FF0101A0"),
        uplink(A, "7", "FF0101B7"),  # the same frame through another gateway / network server
        uplink(B, "7"),
        uplink(A, "8"),
        {"not": "an uplink"},
    )
    assert frames(harness)[:3] == [(A, "7"), (B, "7"), (A, "8")]
    assert harness.payloads("sink")[3] == {"not": "an uplink"}
    assert frames(harness, "repeats") == [(A, "7")]
    assert harness.payloads("repeats")[0]["DevEUI_uplink"]["Lrrid"] == "FF0101B7"
    counters = harness.counters("node")
    assert (counters["passed"], counters["duplicates"], counters["unkeyed"]) == (3, 1, 1)


async def test_a_key_is_forgotten_after_the_window(harness):
    await harness.deploy(flow("dedupe", "{window: 30s}"))
    await send_all(harness, uplink(A, "7"))
    await harness.clock.advance(29.9)
    await send_all(harness, uplink(A, "7"))
    await harness.clock.advance(0.1)
    await send_all(harness, uplink(A, "7"))  # the window of the first one is over: a new frame counter cycle
    assert frames(harness) == [(A, "7"), (A, "7")]
    assert harness.counters("node")["duplicates"] == 1


async def test_memory_is_bounded_by_forgetting_the_oldest_key(harness):
    await harness.deploy(flow("dedupe", "{window: 1h, maxKeys: 2, key: payload.n}"))
    await send_all(harness, {"n": 1}, {"n": 2}, {"n": 3}, {"n": 1}, {"n": 3})
    assert harness.payloads("sink") == [{"n": 1}, {"n": 2}, {"n": 3}, {"n": 1}]
    assert harness.counters("node")["evicted"] == 2
    assert len(harness.node("node").node._seen) == 2


# ---- batch ---------------------------------------------------------------------------------------------------


async def test_a_batch_goes_when_count_messages_are_gathered(harness):
    await harness.deploy(flow("batch", "{count: 3}"))
    await send_all(harness, 1, 2, 3, 4, 5, 6, 7)
    [first, second] = harness.received("sink")
    assert (first.payload, second.payload) == ((1, 2, 3), (4, 5, 6))
    assert first.meta == {"batch": {"count": 3, "reason": "count"}}
    assert harness.counters("node")["batches by count"] == 2


async def test_a_batch_per_dev_eui_goes_on_count_or_at_its_timeout(harness):
    await harness.deploy(flow("batch", "{count: 2, timeout: 1m, key: uplink.DevEUI}"))
    await send_all(harness, uplink(A, "1"))
    await harness.clock.advance(30)
    await send_all(harness, uplink(B, "1"), uplink(A, "2"))  # A is complete; B waits
    assert [len(m.payload) for m in harness.received("sink")] == [2]
    await harness.advance(29.9)
    await harness.settle()
    assert len(harness.received("sink")) == 1
    await harness.advance(30.1)
    await wait_for(lambda: len(harness.received("sink")) == 2)
    by_count, by_timeout = harness.received("sink")
    assert by_count.meta["batch"] == {"count": 2, "reason": "count", "key": A}
    assert by_timeout.meta["batch"] == {"count": 1, "reason": "timeout", "key": B}
    assert [p["DevEUI_uplink"]["FCntUp"] for p in by_count.payload] == ["1", "2"]


async def test_batches_by_time_alone_go_one_timeout_after_their_first_message(harness):
    await harness.deploy(flow("batch", "{timeout: 10s}"))
    await send_all(harness, "a", "b")
    await harness.advance(5)
    await send_all(harness, "c")
    await harness.advance(5)
    await wait_for(lambda: len(harness.received("sink")) == 1)
    await send_all(harness, "d")
    await harness.advance(10)
    await wait_for(lambda: len(harness.received("sink")) == 2)
    assert harness.payloads("sink") == [("a", "b", "c"), ("d",)]


async def test_what_a_batch_may_hold_is_bounded_and_the_oldest_batch_goes_early(harness):
    await harness.deploy(flow("batch", "{timeout: 1h, key: payload.k, maxHeld: 3, maxKeys: 2}"))
    await send_all(harness, {"k": "a"}, {"k": "b"}, {"k": "c"})  # a third open batch: a goes early
    await send_all(harness, {"k": "b"}, {"k": "c"})  # four held: b goes early
    assert [m.meta["batch"] for m in harness.received("sink")] == [
        {"count": 1, "reason": "full", "key": "a"},
        {"count": 2, "reason": "full", "key": "b"},
    ]
    assert harness.node("node").node._held == 2


@pytest.mark.parametrize(
    ("node_class", "config", "path", "message"),
    [
        (BatchNode, {}, "count", "give count, timeout or both"),
        (BatchNode, {"count": 0}, "count", "at least 1"),
        (BatchNode, {"timeout": "0s"}, "timeout", "must be between"),
        (BatchNode, {"count": 2, "key": []}, "key", "a path or a list of 1 to 8 paths"),
        (DedupeNode, {"window": "forever"}, "window", "'forever' is not a duration"),
        (DedupeNode, {"key": "uplink.DevEUI[x"}, "key", "unexpected"),
        (DedupeNode, {"maxKeys": 0}, "maxKeys", "at least 1"),
    ],
)
def test_bad_configs_are_refused_naming_the_field(node_class, config, path, message):
    with pytest.raises(vol.Invalid) as caught:
        node_class.config_schema(config)
    assert ".".join(str(item) for item in caught.value.path) == path
    assert message in str(caught.value)


def test_dedupe_defaults_to_dev_eui_and_frame_counter():
    assert DedupeNode.config_schema({})["key"] == ["uplink.DevEUI", "uplink.FCntUp"]
